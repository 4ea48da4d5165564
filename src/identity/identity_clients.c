#include "base/common.h"
#include "identity/identity.h"
#include "identity/identity_internal.h"
#include "base/log.h"

#include <sodium.h>

/*
 * API clients: an account of kind "client" with roles and no password, and its API
 * key, shown once. Only callers holding users.write everywhere create them.
 */

/* --- API clients ------------------------------------------------------------------ */

void identity_h_client_create(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  identity_new_account_t acc;
  identity_problem_t prob;
  char key[IDENTITY_TOKEN_MAX] = "";
  int64_t id = 0, key_id = 0, expires_at = 0;
  json_int_t exp_in = 0;
  bool dberr = false;

  memset(&acc, 0, sizeof acc);
  json_t *body = http_body_object(req);
  if (!body) goto done;
  if (!identity_can(app, req->principal, "users.write", 0)) {
    http_reply_error(req, ERR_FORBIDDEN, "Only administrators for every unit create API clients");
    goto done;
  }
  identity_role_ref_t *refs;
  if (identity_body_str(req, body, "username", &acc.username) ||
      identity_body_str(req, body, "name", &acc.full_name) ||
      identity_parse_roles(req, json_object_get(body, "roles"), &refs, &acc.nroles))
    goto done;
  acc.roles = refs;
  acc.kind = "client";
  json_t *exp = json_object_get(body, "expires_at");
  if (exp && !json_is_null(exp)) {
    if (!json_is_integer(exp) || (exp_in = json_integer_value(exp)) <= clock_now_ms()) {
      identity_reply_field(req, "expires_at", "expires_at must be a future time in ms since the epoch");
      goto done;
    }
  }
  if (identity_account_validate(req->arena, &acc, &prob)) {
    if (prob.field && strcmp(prob.field, "full_name") == 0) prob.field = "name";
    identity_reply_problem(req, &prob);
    goto done;
  }
  db = identity_req_db(req);
  if (!db) goto done;
  if (!identity_check_assign(req, db, acc.roles, acc.nroles)) goto done;
  audit_entry_t ctx = audit_entry_from_req(req, NULL, NULL, NULL);
  if (db_begin(db)) goto db_fail;
  if (identity_account_insert(req->arena, db, &acc, NULL, &ctx, &id, &prob)) {
    db_rollback(db);
    identity_reply_problem(req, &prob);
    goto done;
  }
  if (identity_token_issue(app, db, id, IDENTITY_TOKEN_APIKEY, (int64_t)exp_in, req->client_ip, key,
                           &key_id, &expires_at))
    goto db_fail;
  audit_entry_t e = audit_entry_from_req(req, "apikey.create", "token",
                                         arena_printf(req->arena, "%" PRId64, key_id));
  e.detail = audit_detail(req->arena, json_pack("{s:I}", "account", (json_int_t)id));
  if (audit_append(db, &e) || db_commit(db)) goto db_fail;
  json_t *u = identity_user_json(app, db, id, NULL, &dberr);
  if (!u) {
    /* The client exists; its key must not be lost, so answer with the essentials. */
    u = json_pack("{s:I}", "id", (json_int_t)id);
  }
  json_object_set_new(u, "api_key", json_string(key));
  json_object_set_new(u, "api_key_expires_at", expires_at ? json_integer(expires_at) : json_null());
  http_reply_json(req, 201, u);
  goto done;

db_fail:
  identity_reply_db_error(req, db);
done:
  sodium_memzero(key, sizeof key);
  if (db) db_pool_release(app->db, db);
}
