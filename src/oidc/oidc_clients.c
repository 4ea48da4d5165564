#include "base/common.h"
#include "oidc/oidc_internal.h"
#include "audit/audit.h"
#include "base/log.h"

/*
 * The client registry, managed by administrators (permission oidc.clients):
 * confidential clients get a secret (shown once, stored as SHA-256 hex: it is 32
 * random bytes, so a slow hash adds nothing); public clients have none and must use
 * PKCE. Redirect URIs are compared byte for byte.
 */

#define CLIENT_MAX_URIS 10
#define CLIENT_URI_MAX 512

static void field_error(http_req_t *req, const char *field, const char *msg)
{
  http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", field), "%s", msg);
}

static bool uri_ok(const char *u)
{
  size_t n = strlen(u);
  if (n == 0 || n > CLIENT_URI_MAX || strchr(u, '#') || strchr(u, ' ')) return false;
  if (strncmp(u, "https://", 8) == 0) return n > 8;
  /* plain http only for this machine (development, tests, native apps) */
  return strncmp(u, "http://localhost", 16) == 0 || strncmp(u, "http://127.0.0.1", 16) == 0 ||
         strncmp(u, "http://[::1]", 12) == 0;
}

static int uri_list(http_req_t *req, json_t *body, const char *key, bool required, json_t **out)
{
  json_t *v = json_object_get(body, key);
  *out = NULL;
  if (!v || json_is_null(v)) {
    if (required) {
      field_error(req, key, "at least one redirect URI is required");
      return -1;
    }
    *out = json_array();
    return 0;
  }
  if (!json_is_array(v) || json_array_size(v) > CLIENT_MAX_URIS || (required && json_array_size(v) == 0)) {
    field_error(req, key, "an array of 1 to 10 URIs is expected");
    return -1;
  }
  size_t i;
  json_t *it;
  json_array_foreach(v, i, it)
  {
    if (!json_is_string(it) || !uri_ok(json_string_value(it))) {
      field_error(req, key, "each URI must be absolute https:// (http:// only for localhost), without a fragment");
      return -1;
    }
  }
  *out = json_incref(v);
  return 0;
}

static json_t *client_json(db_stmt_t *st)
{
  json_t *ru = json_loads(db_col_text(st, 4), 0, NULL), *pl = json_loads(db_col_text(st, 5), 0, NULL);
  return json_pack("{s:s,s:s,s:s,s:o,s:o,s:s,s:s?,s:b,s:s,s:I}", "client_id", db_col_text(st, 0), "name",
                   db_col_text(st, 1), "type", db_col_text(st, 2), "redirect_uris", ru ? ru : json_array(),
                   "post_logout_redirect_uris", pl ? pl : json_array(), "scope", db_col_text(st, 6),
                   "backchannel_logout_uri", db_col_text(st, 7), "first_party", (int)db_col_int64(st, 8),
                   "id_token_signed_response_alg", db_col_text(st, 9), "created_at",
                   (json_int_t)db_col_int64(st, 10));
}

#define CLIENT_COLS                                                                                      \
  "client_id, name, type, secret_hash, redirect_uris, post_logout_redirect_uris, scope,"               \
  " backchannel_logout_uri, first_party, id_token_alg, created_at"

int oidc_client_load(arena_t *a, db_t *db, const char *client_id, oidc_client_t *c)
{
  memset(c, 0, sizeof *c);
  if (!client_id) return 0;
  db_stmt_t *st = db_prepare(db, "SELECT " CLIENT_COLS " FROM oidc_clients WHERE client_id = $1 AND disabled_at IS NULL");
  if (!st) return -1;
  db_bind_text(st, 1, client_id);
  int r = db_step(st);
  if (r == DB_ROW) {
    c->client_id = arena_strdup(a, db_col_text(st, 0));
    c->name = arena_strdup(a, db_col_text(st, 1));
    c->confidential = strcmp(db_col_text(st, 2), "confidential") == 0;
    c->secret_hash = db_col_is_null(st, 3) ? NULL : arena_strdup(a, db_col_text(st, 3));
    c->redirect_uris = json_loads(db_col_text(st, 4), 0, NULL);
    c->post_logout_redirect_uris = json_loads(db_col_text(st, 5), 0, NULL);
    arena_on_free(a, (arena_cleanup_fn)json_decref, c->redirect_uris);
    arena_on_free(a, (arena_cleanup_fn)json_decref, c->post_logout_redirect_uris);
    c->scopes = arena_strdup(a, db_col_text(st, 6));
    c->backchannel_logout_uri = db_col_is_null(st, 7) ? NULL : arena_strdup(a, db_col_text(st, 7));
    c->first_party = db_col_int64(st, 8) == 1;
    c->id_token_alg = arena_strdup(a, db_col_text(st, 9));
  }
  db_stmt_done(st);
  return r < 0 ? -1 : r == DB_ROW ? 1 : 0;
}

void oidc_h_clients_create(http_req_t *req)
{
  app_t *app = req->app;
  json_t *body = http_body_object(req), *ru = NULL, *pl = NULL;
  db_t *db = NULL;
  if (!body) return;
  const char *name = json_string_value(json_object_get(body, "name"));
  const char *type = json_string_value(json_object_get(body, "type"));
  const char *bcl = json_string_value(json_object_get(body, "backchannel_logout_uri"));
  const char *alg = json_string_value(json_object_get(body, "id_token_signed_response_alg"));
  json_t *scopes = json_object_get(body, "scope");
  json_t *fp = json_object_get(body, "first_party");
  if (!name || !*name || strlen(name) > 200) {
    field_error(req, "name", "name must be 1-200 bytes");
    goto done;
  }
  if (!type || (strcmp(type, "public") != 0 && strcmp(type, "confidential") != 0)) {
    field_error(req, "type", "type must be public or confidential");
    goto done;
  }
  if (uri_list(req, body, "redirect_uris", true, &ru) < 0 ||
      uri_list(req, body, "post_logout_redirect_uris", false, &pl) < 0)
    goto done;
  const char *scope = scopes ? json_string_value(scopes) : "openid profile";
  if (!scope || !oidc_scope_has(scope, "openid") || !oidc_scope_subset(scope, OIDC_SCOPES) || strlen(scope) > 200) {
    field_error(req, "scope", "scope must be a space-separated subset of '" OIDC_SCOPES "' with openid");
    goto done;
  }
  if (json_object_get(body, "backchannel_logout_uri") && !json_is_null(json_object_get(body, "backchannel_logout_uri")) &&
      (!bcl || !uri_ok(bcl))) {
    field_error(req, "backchannel_logout_uri", "backchannel_logout_uri must be an absolute URI");
    goto done;
  }
  if (fp && !json_is_boolean(fp)) {
    field_error(req, "first_party", "first_party must be true or false");
    goto done;
  }
  if (!alg) alg = "RS256";
  if (strcmp(alg, "RS256") != 0 && strcmp(alg, "ES256") != 0) {
    field_error(req, "id_token_signed_response_alg", "RS256 or ES256");
    goto done;
  }
  char idhex[17], hash[65];
  random_hex(idhex, 8);
  const char *client_id = arena_printf(req->arena, "c_%s", idhex);
  const char *secret = strcmp(type, "confidential") == 0 ? oidc_random_token(req->arena) : NULL;
  if (secret) oidc_hash(secret, hash);
  char *rus = json_dumps(ru, JSON_COMPACT), *pls = json_dumps(pl, JSON_COMPACT);
  db = db_pool_acquire(app->db);
  if (!db) {
    free(rus);
    free(pls);
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    goto done;
  }
  int r = -1;
  db_stmt_t *st = NULL;
  if (db_begin(db) == 0 &&
      (st = db_prepare(db, "INSERT INTO oidc_clients (client_id, name, type, secret_hash, redirect_uris,"
                           " post_logout_redirect_uris, scope, backchannel_logout_uri, first_party, id_token_alg,"
                           " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"))) {
    db_bind_text(st, 1, client_id);
    db_bind_text(st, 2, name);
    db_bind_text(st, 3, type);
    db_bind_text(st, 4, secret ? hash : NULL);
    db_bind_text(st, 5, rus);
    db_bind_text(st, 6, pls);
    db_bind_text(st, 7, scope);
    db_bind_text(st, 8, bcl);
    db_bind_int64(st, 9, json_is_true(fp) ? 1 : 0);
    db_bind_text(st, 10, alg);
    db_bind_int64(st, 11, clock_now_ms());
    r = db_step(st);
    db_stmt_done(st);
  }
  free(rus);
  free(pls);
  audit_entry_t e = audit_entry_from_req(req, "oidc.client_create", "oidc_client", client_id);
  e.detail = audit_detail(req->arena, json_pack("{s:s,s:s}", "name", name, "type", type));
  if (r < 0 || audit_append(db, &e) < 0 || db_commit(db) < 0) {
    log_error(req->request_id, "msg=\"client create failed\" err=\"%s\"", db_errmsg(db));
    db_rollback(db);
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  http_reply_json(req, 201, json_pack("{s:s,s:s?,s:s,s:s,s:O,s:O,s:s,s:s?,s:b,s:s}", "client_id", client_id,
                                      "client_secret", secret, "name", name, "type", type, "redirect_uris", ru,
                                      "post_logout_redirect_uris", pl, "scope", scope, "backchannel_logout_uri", bcl,
                                      "first_party", json_is_true(fp), "id_token_signed_response_alg", alg));
done:
  json_decref(ru);
  json_decref(pl);
  if (db) db_pool_release(app->db, db);
}

void oidc_h_clients_list(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  json_t *items = json_array();
  db_stmt_t *st = db_prepare(db, "SELECT " CLIENT_COLS " FROM oidc_clients WHERE disabled_at IS NULL ORDER BY created_at, client_id");
  int r = -1;
  if (st) {
    while ((r = db_step(st)) == DB_ROW) json_array_append_new(items, client_json(st));
    db_stmt_done(st);
  }
  db_pool_release(app->db, db);
  if (r < 0) {
    json_decref(items);
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  http_reply_json(req, 200, json_pack("{s:o}", "items", items));
}

void oidc_h_client_get(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  json_t *c = NULL;
  db_stmt_t *st = db_prepare(db, "SELECT " CLIENT_COLS " FROM oidc_clients WHERE client_id = $1 AND disabled_at IS NULL");
  int r = -1;
  if (st) {
    db_bind_text(st, 1, http_param(req, "id"));
    r = db_step(st);
    if (r == DB_ROW) c = client_json(st);
    db_stmt_done(st);
  }
  db_pool_release(app->db, db);
  if (r < 0)
    http_reply_error(req, ERR_INTERNAL, NULL);
  else if (!c)
    http_reply_error(req, ERR_NOT_FOUND, "No such client");
  else
    http_reply_json(req, 200, c);
}

void oidc_h_client_delete(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  const char *id = http_param(req, "id");
  int64_t changed = 0;
  db_stmt_t *st = NULL;
  if (db_begin(db) < 0) goto fail;
  st = db_prepare(db, "UPDATE oidc_clients SET disabled_at = $2 WHERE client_id = $1 AND disabled_at IS NULL");
  if (!st) goto fail;
  db_bind_text(st, 1, id);
  db_bind_int64(st, 2, clock_now_ms());
  int r = db_step(st);
  changed = db_changes(st);
  db_stmt_done(st);
  if (r < 0) goto fail;
  if (changed == 0) {
    db_rollback(db);
    db_pool_release(app->db, db);
    http_reply_error(req, ERR_NOT_FOUND, "No such client");
    return;
  }
  /* Its refresh tokens stop working at once. */
  st = db_prepare(db, "UPDATE oidc_refresh SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL");
  if (!st) goto fail;
  db_bind_text(st, 1, id);
  db_bind_int64(st, 2, clock_now_ms());
  r = db_step(st);
  db_stmt_done(st);
  audit_entry_t e = audit_entry_from_req(req, "oidc.client_disable", "oidc_client", id);
  if (r < 0 || audit_append(db, &e) < 0 || db_commit(db) < 0) goto fail;
  db_pool_release(app->db, db);
  http_reply_json(req, 200, json_pack("{s:s,s:b}", "client_id", id, "disabled", 1));
  return;
fail:
  log_error(req->request_id, "msg=\"client disable failed\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  db_pool_release(app->db, db);
  http_reply_error(req, ERR_INTERNAL, NULL);
}

/* --- cityos' own screens --------------------------------------------------------------------- */

/*
 * The three first-party public clients of the web client's entry screens. Their redirect
 * and post-logout URIs are paths (see oidc_uri_registered): they follow the issuer's
 * origin, so they need no set-up and work on any host and port. Upserted at every start
 * (several nodes may start at once); an administrator's disabling (disabled_at) stays.
 */
static const struct {
  const char *id, *name, *uri, *scope;
} BUILTIN[] = {
  {"cityos-portal", "Cổng dịch vụ công cityos (citizen portal)", "/portal/", "openid profile offline_access"},
  {"cityos-console", "Bàn làm việc cán bộ cityos (officer console)", "/console/",
   "openid profile unit roles offline_access"},
  {"cityos-ops", "Trung tâm điều hành cityos (operations center)", "/ops/",
   "openid profile unit roles offline_access"},
};

int oidc_builtin_clients(db_t *db)
{
  if (db_begin(db) < 0) return -1;
  for (size_t i = 0; i < ARRAY_LEN(BUILTIN); i++) {
    char uris[64];
    snprintf(uris, sizeof uris, "[\"%s\"]", BUILTIN[i].uri);
    db_stmt_t *st = db_prepare(
        db, "INSERT INTO oidc_clients (client_id, name, type, secret_hash, redirect_uris, post_logout_redirect_uris,"
            " scope, backchannel_logout_uri, first_party, id_token_alg, created_at)"
            " VALUES ($1, $2, 'public', NULL, $3, $3, $4, NULL, 1, 'RS256', $5)"
            " ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, type = 'public', secret_hash = NULL,"
            " redirect_uris = excluded.redirect_uris, post_logout_redirect_uris = excluded.post_logout_redirect_uris,"
            " scope = excluded.scope, first_party = 1");
    if (!st) goto fail;
    db_bind_text(st, 1, BUILTIN[i].id);
    db_bind_text(st, 2, BUILTIN[i].name);
    db_bind_text(st, 3, uris);
    db_bind_text(st, 4, BUILTIN[i].scope);
    db_bind_int64(st, 5, clock_now_ms());
    int r = db_step(st);
    db_stmt_done(st);
    if (r < 0) goto fail;
  }
  if (db_commit(db) < 0) goto fail;
  return 0;
fail:
  db_rollback(db);
  return -1;
}
