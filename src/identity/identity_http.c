#include "base/common.h"
#include "identity/identity.h"
#include "identity/identity_internal.h"
#include "base/log.h"
#include "units/units.h"

#include <sodium.h>

/*
 * The identity routes that concern the caller (sign-in, sign-out, /me, roles), the
 * route table, and the HTTP helpers shared with identity_users.c.
 */

#define IDENTITY_BODY_SMALL 4096
#define IDENTITY_BODY_USER 16384

/* --- helpers ---------------------------------------------------------------------- */

void identity_reply_problem(http_req_t *req, const identity_problem_t *prob)
{
  if (prob->field)
    http_reply_error_detail(req, prob->err, json_pack("{s:s}", "field", prob->field), "%s",
                            prob->message);
  else
    http_reply_error(req, prob->err, "%s", prob->message[0] ? prob->message : err_message(prob->err));
}

void identity_reply_field(http_req_t *req, const char *field, const char *fmt, ...)
{
  identity_problem_t prob;
  va_list ap;
  prob.err = ERR_VALIDATION;
  prob.field = field;
  va_start(ap, fmt);
  vsnprintf(prob.message, sizeof prob.message, fmt, ap);
  va_end(ap);
  identity_reply_problem(req, &prob);
}

db_t *identity_req_db(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  if (!db) http_reply_error(req, ERR_UNAVAILABLE, NULL);
  return db;
}

void identity_reply_db_error(http_req_t *req, db_t *db)
{
  db_error_t e = db_last_error(db);
  log_error(req->request_id, "msg=\"database error\" path=\"%s\" err=\"%s\"", req->path,
            db_errmsg(db));
  db_rollback(db);
  if (e == DB_ERR_CONSTRAINT)
    http_reply_error(req, ERR_CONFLICT, NULL);
  else if (e == DB_ERR_BUSY || e == DB_ERR_CONNECTION)
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
  else
    http_reply_error(req, ERR_INTERNAL, NULL);
}

int identity_body_str(http_req_t *req, const json_t *body, const char *key, const char **out)
{
  json_t *v = json_object_get(body, key);
  *out = NULL;
  if (!v || json_is_null(v)) return 0;
  if (!json_is_string(v)) {
    identity_reply_field(req, key, "%s must be a string", key);
    return -1;
  }
  *out = json_string_value(v);
  return 0;
}

int identity_unit_by_code(const app_t *app, const char *code, int64_t *id)
{
  if (!app->units || !code) return -1;
  const unit_t *u = units_by_code(app->units, units_active_era(app->units), code);
  if (!u) return -1;
  *id = u->id;
  return 0;
}

void identity_retry_after(http_req_t *req, int64_t seconds)
{
  char v[24];
  snprintf(v, sizeof v, "%" PRId64, seconds > 0 ? seconds : 1);
  http_add_header(req, "Retry-After", v);
}

/* Secure when the client reached us over TLS (directly or through the proxy). */
static const char *identity_cookie_secure(http_req_t *req)
{
  const char *proto = http_header(req, "X-Forwarded-Proto");
  return proto && strcasecmp(proto, "https") == 0 ? "; Secure" : "";
}

/* --- sign-in and sign-out ----------------------------------------------------------- */

static void identity_h_login(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  identity_login_result_t res;
  const char *username = NULL, *password = NULL;
  bool dberr = false;

  memset(&res, 0, sizeof res);
  json_t *body = http_body_object(req);
  if (!body) goto done;
  if (identity_body_str(req, body, "username", &username) ||
      identity_body_str(req, body, "password", &password))
    goto done;
  if (!username || !*username) {
    identity_reply_field(req, "username", "username is required");
    goto done;
  }
  if (!password || !*password) {
    identity_reply_field(req, "password", "password is required");
    goto done;
  }
  db = identity_req_db(req);
  if (!db) goto done;

  audit_entry_t ctx = audit_entry_from_req(req, NULL, NULL, NULL);
  if (identity_login(app, db, username, password, &ctx, &res) != 0 || res.err == ERR_INTERNAL) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  if (res.err == ERR_RATE_LIMITED || res.err == ERR_LOCKED) {
    identity_retry_after(req, res.retry_after_s);
    http_reply_error(req, res.err, NULL);
    goto done;
  }
  if (res.err != ERR_OK) {
    http_reply_error(req, res.err, NULL);
    goto done;
  }
  principal_t *p = identity_principal_load(req->arena, db, res.account_id, NULL, &dberr);
  if (!p) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  p->session_id = res.session_id;
  int64_t max_age = (res.expires_at - clock_now_ms()) / 1000;
  char *cookie = arena_printf(req->arena, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%" PRId64 "%s",
                              IDENTITY_SESSION_COOKIE, res.token, max_age > 0 ? max_age : 0,
                              identity_cookie_secure(req));
  http_add_header(req, "Set-Cookie", cookie);
  sodium_memzero(cookie, strlen(cookie));
  http_reply_json(req, 200, json_pack("{s:s, s:I, s:o}", "token", res.token, "expires_at",
                                      (json_int_t)res.expires_at, "principal",
                                      identity_principal_json(app, p)));
done:
  sodium_memzero(res.token, sizeof res.token);
  if (db) db_pool_release(app->db, db);
}

static void identity_clear_cookie(http_req_t *req)
{
  http_add_header(req, "Set-Cookie",
                  arena_printf(req->arena, "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
                               IDENTITY_SESSION_COOKIE, identity_cookie_secure(req)));
}

static identity_logout_hook_fn identity_logout_hook;   /* set once at start; NULL: none */

void identity_set_logout_hook(identity_logout_hook_fn fn) { identity_logout_hook = fn; }

static void identity_h_logout(http_req_t *req)
{
  app_t *app = req->app;
  principal_t *p = req->principal;
  db_t *db = NULL;
  db_stmt_t *st = NULL;

  /* No body is needed; one that is sent must still be a JSON object, so a garbled
   * request is refused instead of signing out. */
  if (req->body_len > 0 && !http_body_object(req)) goto done;
  db = identity_req_db(req);
  if (!db) goto done;
  if (db_begin(db)) goto db_fail;
  st = db_prepare(db, "UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL");
  if (!st || db_bind_int64(st, 1, p->session_id) || db_bind_int64(st, 2, clock_now_ms()) ||
      db_step(st) != DB_DONE)
    goto db_fail;
  db_stmt_done(st);
  st = NULL;
  if (identity_logout_hook && identity_logout_hook(req, db) < 0) goto db_fail;
  audit_entry_t e = audit_entry_from_req(req, "auth.logout", "token",
                                         arena_printf(req->arena, "%" PRId64, p->session_id));
  e.unit_id = p->unit_id;
  if (audit_append(db, &e) || db_commit(db)) goto db_fail;
  identity_clear_cookie(req);
  http_reply_json(req, 200, json_pack("{s:b}", "ok", true));
  goto done;

db_fail:
  if (st) db_stmt_done(st);
  st = NULL;
  identity_reply_db_error(req, db);
done:
  if (db) db_pool_release(app->db, db);
}

/* --- me --------------------------------------------------------------------------- */

static void identity_h_me(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = identity_req_db(req);
  if (!db) return;
  json_t *me = identity_principal_json(app, req->principal);
  json_t *roles = identity_roles_json(app, db, req->principal->account_id);
  if (!roles) {
    json_decref(me);
    identity_reply_db_error(req, db);
  } else {
    json_object_set_new(me, "roles", roles);
    json_object_set_new(me, "session_id", json_integer(req->principal->session_id));
    http_reply_json(req, 200, me);
  }
  db_pool_release(app->db, db);
}

static void identity_h_password(http_req_t *req)
{
  app_t *app = req->app;
  principal_t *p = req->principal;
  db_t *db = NULL;
  const char *current = NULL, *next = NULL;
  char hash[IDENTITY_HASH_MAX] = "";

  json_t *body = http_body_object(req);
  if (!body) goto done;
  if (identity_body_str(req, body, "current_password", &current) ||
      identity_body_str(req, body, "new_password", &next))
    goto done;
  if (!current) {
    identity_reply_field(req, "current_password", "current_password is required");
    goto done;
  }
  identity_pw_status_t ps = identity_password_check(next, p->username);
  if (!next || ps != IDENTITY_PW_OK) {
    identity_reply_field(req, "new_password", "%s",
                         next ? identity_password_problem(ps) : "new_password is required");
    goto done;
  }
  db = identity_req_db(req);
  if (!db) goto done;
  /* Under the sign-in throttle: a stolen session must not become a fast password oracle. */
  audit_entry_t ctx = audit_entry_from_req(req, NULL, NULL, NULL);
  identity_login_result_t chk;
  if (identity_password_recheck(app, db, p->account_id, current, &ctx, &chk) != 0 ||
      chk.err == ERR_INTERNAL) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  if (chk.err == ERR_VALIDATION) {
    identity_reply_field(req, "current_password", "This account signs in without a password");
    goto done;
  }
  if (chk.err == ERR_RATE_LIMITED || chk.err == ERR_LOCKED) {
    identity_retry_after(req, chk.retry_after_s);
    http_reply_error(req, chk.err, NULL);
    goto done;
  }
  if (chk.err != ERR_OK) {
    identity_reply_field(req, "current_password", "The current password is wrong");
    goto done;
  }
  if (identity_password_hash(app->cfg, next, hash) != 0) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  if (db_begin(db) || identity_account_set_password(db, p->account_id, hash, p->session_id))
    goto db_fail;
  audit_entry_t e = audit_entry_from_req(req, "auth.password_change", "account",
                                         arena_printf(req->arena, "%" PRId64, p->account_id));
  e.unit_id = p->unit_id;
  if (audit_append(db, &e) || db_commit(db)) goto db_fail;
  http_reply_json(req, 200, json_pack("{s:b}", "ok", true));
  goto done;

db_fail:
  identity_reply_db_error(req, db);
done:
  sodium_memzero(hash, sizeof hash);
  if (db) db_pool_release(app->db, db);
}

/* --- roles ------------------------------------------------------------------------ */

static void identity_h_roles(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = identity_req_db(req);
  db_stmt_t *st = NULL;
  json_t *items = json_array(), *cur = NULL;
  const char *cur_name = NULL;
  int s;

  if (!db) goto done;
  st = db_prepare(db, "SELECT r.name, r.description, rp.permission FROM roles r"
                      " LEFT JOIN role_permissions rp ON rp.role = r.name"
                      " ORDER BY r.name, rp.permission");
  if (!st) goto db_fail;
  while ((s = db_step(st)) == DB_ROW) {
    const char *name = db_col_text(st, 0);
    if (!cur_name || strcmp(cur_name, name) != 0) {
      cur = json_pack("{s:s, s:s, s:[]}", "name", name, "description", db_col_text(st, 1),
                      "permissions");
      json_array_append_new(items, cur);
      cur_name = arena_strdup(req->arena, name);
    }
    if (!db_col_is_null(st, 2))
      json_array_append_new(json_object_get(cur, "permissions"), json_string(db_col_text(st, 2)));
  }
  if (s < 0) goto db_fail;
  http_reply_json(req, 200, json_pack("{s:O}", "items", items));
  goto done;

db_fail:
  if (st) db_stmt_done(st);
  st = NULL;
  identity_reply_db_error(req, db);
done:
  if (st) db_stmt_done(st);
  json_decref(items);
  if (db) db_pool_release(app->db, db);
}

/* --- the table -------------------------------------------------------------------- */

static const http_route_t IDENTITY_ROUTES[] = {
  {"POST", "/api/v1/auth/login", identity_h_login, HTTP_PUBLIC, IDENTITY_BODY_SMALL,
   "Sign in with user name and password; returns a session token and sets the cookie"},
  {"POST", "/api/v1/auth/logout", identity_h_logout, HTTP_SIGNED_IN, 256,
   "Sign out: revokes the token, clears the cookie, ends the OIDC provider session"},
  {"GET", "/api/v1/me", identity_h_me, HTTP_SIGNED_IN, 0, "The signed-in account, its roles and grants"},
  {"POST", "/api/v1/me/password", identity_h_password, HTTP_SIGNED_IN, IDENTITY_BODY_SMALL,
   "Change your password; signs out your other sessions"},
  {"GET", "/api/v1/users", identity_h_users_list, "users.read", 0,
   "Accounts within your units (?kind=&unit=&q=&limit=&offset=)"},
  {"POST", "/api/v1/users", identity_h_user_create, "users.write", IDENTITY_BODY_USER,
   "Create a citizen or official account"},
  {"GET", "/api/v1/users/{id}", identity_h_user_get, "users.read", 0, "One account"},
  {"PATCH", "/api/v1/users/{id}", identity_h_user_patch, "users.write", IDENTITY_BODY_USER,
   "Change an account's name, status, unit or roles"},
  {"GET", "/api/v1/roles", identity_h_roles, "roles.read", 0, "Roles and their permissions"},
  {"POST", "/api/v1/clients", identity_h_client_create, "users.write", IDENTITY_BODY_USER,
   "Create an API client with roles; returns its API key once"},
};

const http_route_t *identity_routes(size_t *n)
{
  *n = ARRAY_LEN(IDENTITY_ROUTES);
  return IDENTITY_ROUTES;
}
