#include "base/common.h"
#include "oidc/oidc_internal.h"
#include "audit/audit.h"
#include "base/log.h"
#include "base/text.h"
#include "identity/identity.h"
#include "units/units.h"

#include <sodium.h>

/*
 * The token endpoint (authorization_code with PKCE, refresh_token with rotation and
 * reuse detection) and userinfo.
 *
 * Access tokens are identity session tokens ("cs_...") that live OIDC_ACCESS_TTL_S and
 * are listed in oidc_access: the second-factor gate lets a third-party client's access
 * token reach only userinfo, while a first-party client (cityos' own screens) may call
 * the API as the person. Refresh tokens are opaque, stored hashed, in families: using
 * one marks it used and issues the next of the family; presenting a used or revoked
 * one revokes the whole family (and its access tokens). A code is single-use: a second
 * presentation revokes what the first produced (RFC 6749 4.1.2).
 */

typedef struct grant_ctx {
  http_req_t *req;
  db_t *db;
  oidc_client_t client;
  int64_t account_id, session_id, auth_time;
  const char *scope, *nonce, *family, *code_hash;
} grant_ctx_t;

/* --- client authentication ---------------------------------------------------------------- */

static const char *param(json_t *p, const char *k)
{
  const char *v = json_string_value(json_object_get(p, k));
  return v && *v ? v : NULL;
}

/* 1 authenticated (c filled), 0 answered with an error, -1 database error. */
static int client_auth(http_req_t *req, db_t *db, json_t *p, oidc_client_t *c)
{
  const char *authz = http_header(req, "Authorization");
  const char *id = param(p, "client_id"), *secret = param(p, "client_secret");
  char *bid = NULL, *bsecret = NULL;
  if (authz && strncasecmp(authz, "Basic ", 6) == 0) {
    uint8_t dec[512];
    const char *b = authz + 6;
    while (*b == ' ') b++;
    size_t n = 0;
    if (sodium_base642bin(dec, sizeof dec - 1, b, strlen(b), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
      oidc_reply_oauth_error(req, 401, "invalid_client", "malformed Basic credentials");
      return 0;
    }
    dec[n] = '\0';
    char *colon = strchr((char *)dec, ':');
    if (!colon) {
      oidc_reply_oauth_error(req, 401, "invalid_client", "malformed Basic credentials");
      return 0;
    }
    *colon = '\0';
    bid = arena_strdup(req->arena, (const char *)dec);
    bsecret = arena_strdup(req->arena, colon + 1);
    if (secret || (id && strcmp(id, bid) != 0)) {
      oidc_reply_oauth_error(req, 400, "invalid_request", "use one client authentication method");
      return 0;
    }
    id = bid;
    secret = bsecret;
  }
  int r = oidc_client_load(req->arena, db, id, c);
  if (r < 0) return -1;
  if (r == 0) {
    oidc_reply_oauth_error(req, 401, "invalid_client", "unknown client");
    return 0;
  }
  if (c->confidential) {
    char h[65];
    if (!secret || !c->secret_hash) {
      oidc_reply_oauth_error(req, 401, "invalid_client", "client authentication required");
      return 0;
    }
    oidc_hash(secret, h);
    if (strlen(c->secret_hash) != 64 || !text_ct_equal(h, c->secret_hash, 64)) {
      oidc_reply_oauth_error(req, 401, "invalid_client", "wrong client secret");
      return 0;
    }
  } else if (secret) {
    oidc_reply_oauth_error(req, 401, "invalid_client", "a public client has no secret");
    return 0;
  }
  return 1;
}

/* --- issuing -------------------------------------------------------------------------------- */

static int exec_ti(db_t *db, const char *sql, const char *t, int64_t a)
{
  db_stmt_t *st = db_prepare(db, sql);
  if (!st) return -1;
  db_bind_text(st, 1, t);
  db_bind_int64(st, 2, a);
  int r = db_step(st);
  db_stmt_done(st);
  return r < 0 ? -1 : 0;
}

static int exec_ii(db_t *db, const char *sql, int64_t a, int64_t b)
{
  db_stmt_t *st = db_prepare(db, sql);
  if (!st) return -1;
  db_bind_int64(st, 1, a);
  db_bind_int64(st, 2, b);
  int r = db_step(st);
  db_stmt_done(st);
  return r < 0 ? -1 : 0;
}

/* Revokes a refresh family (or the tokens of a code) and their access tokens. */
static int revoke_family(db_t *db, const char *family, int64_t now)
{
  if (exec_ti(db, "UPDATE oidc_refresh SET revoked_at = $2 WHERE family = $1 AND revoked_at IS NULL", family, now) < 0)
    return -1;
  return exec_ti(db, "UPDATE tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND id IN"
                     " (SELECT token_id FROM oidc_access WHERE family = $1)", family, now);
}

static json_t *issue(grant_ctx_t *g, bool with_nonce)
{
  http_req_t *req = g->req;
  app_t *app = req->app;
  int64_t now = clock_now_ms(), tid = 0, exp = 0;
  char access[IDENTITY_TOKEN_MAX];
  if (identity_token_issue(app, g->db, g->account_id, IDENTITY_TOKEN_SESSION, 0, req->client_ip, access, &tid,
                           &exp) < 0)
    return NULL;
  int64_t aexp = now + OIDC_ACCESS_TTL_S * 1000LL;
  if (exec_ii(g->db, "UPDATE tokens SET expires_at = $2 WHERE id = $1", tid, aexp) < 0)
    return NULL;
  db_stmt_t *st = db_prepare(g->db, "INSERT INTO oidc_access (token_id, client_id, session_id, family, scope,"
                                    " first_party, expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7)");
  if (!st) return NULL;
  db_bind_int64(st, 1, tid);
  db_bind_text(st, 2, g->client.client_id);
  db_bind_int64(st, 3, g->session_id);
  db_bind_text(st, 4, g->family);
  db_bind_text(st, 5, g->scope);
  db_bind_int64(st, 6, g->client.first_party ? 1 : 0);
  db_bind_int64(st, 7, aexp);
  int r = db_step(st);
  db_stmt_done(st);
  /* the person passed the gate (second factor included) when consenting */
  if (r < 0 || exec_ii(g->db, "INSERT INTO oidc_mfa_sessions (session_id, verified_at) VALUES ($1, $2)"
                               " ON CONFLICT (session_id) DO NOTHING", tid, now) < 0)
    return NULL;
  const char *refresh = oidc_random_token(req->arena);
  char rh[65];
  oidc_hash(refresh, rh);
  st = db_prepare(g->db, "INSERT INTO oidc_refresh (token_hash, family, client_id, account_id, session_id, scope,"
                         " auth_time, created_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)");
  if (!st) return NULL;
  db_bind_text(st, 1, rh);
  db_bind_text(st, 2, g->family);
  db_bind_text(st, 3, g->client.client_id);
  db_bind_int64(st, 4, g->account_id);
  db_bind_int64(st, 5, g->session_id);
  db_bind_text(st, 6, g->scope);
  db_bind_int64(st, 7, g->auth_time);
  db_bind_int64(st, 8, now);
  db_bind_int64(st, 9, now + OIDC_REFRESH_TTL_S * 1000LL);
  r = db_step(st);
  db_stmt_done(st);
  if (r < 0) return NULL;

  const char *kid = NULL;
  EVP_PKEY *key = oidc_signing_key(req->arena, g->db, g->client.id_token_alg, &kid);
  if (!key) return NULL;
  json_t *claims = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:s}", "iss", oidc_issuer(req), "sub",
                             arena_printf(req->arena, "%lld", (long long)g->account_id), "aud", g->client.client_id,
                             "iat", (json_int_t)(now / 1000), "exp", (json_int_t)(now / 1000 + OIDC_ID_TOKEN_TTL_S),
                             "auth_time", (json_int_t)(g->auth_time / 1000), "sid",
                             arena_printf(req->arena, "%lld", (long long)g->session_id), "azp", g->client.client_id);
  if (with_nonce && g->nonce) json_object_set_new(claims, "nonce", json_string(g->nonce));
  if (oidc_scope_has(g->scope, "profile")) {
    db_stmt_t *q = db_prepare(g->db, "SELECT full_name, username FROM accounts WHERE id = $1");
    if (q) {
      db_bind_int64(q, 1, g->account_id);
      if (db_step(q) == DB_ROW) {
        json_object_set_new(claims, "name", json_string(db_col_text(q, 0)));
        json_object_set_new(claims, "preferred_username", json_string(db_col_text(q, 1)));
      }
      db_stmt_done(q);
    }
  }
  const char *idt = oidc_jws_sign(req->arena, key, g->client.id_token_alg, kid, NULL, claims);
  json_decref(claims);
  EVP_PKEY_free(key);
  if (!idt) return NULL;
  json_t *out = json_pack("{s:s,s:s,s:i,s:s,s:s,s:s}", "access_token", access, "token_type", "Bearer", "expires_in",
                          OIDC_ACCESS_TTL_S, "refresh_token", refresh, "id_token", idt, "scope", g->scope);
  sodium_memzero(access, sizeof access);
  return out;
}

/* --- grants ------------------------------------------------------------------------------------ */

/* 1 issued (*out), 0 answered, -1 database error. */
static int grant_code(grant_ctx_t *g, json_t *p, json_t **out)
{
  http_req_t *req = g->req;
  const char *code = param(p, "code"), *ruri = param(p, "redirect_uri"), *ver = param(p, "code_verifier");
  char h[65];
  int64_t now = clock_now_ms();
  if (!code || !ruri) {
    oidc_reply_oauth_error(req, 400, "invalid_request", "code and redirect_uri are required");
    return 0;
  }
  oidc_hash(code, h);
  g->code_hash = arena_strdup(req->arena, h);
  db_stmt_t *st = db_prepare(g->db, "SELECT client_id, account_id, session_id, redirect_uri, scope, nonce,"
                                    " code_challenge, auth_time, expires_at, used_at FROM oidc_codes WHERE code_hash = $1");
  if (!st) return -1;
  db_bind_text(st, 1, h);
  int r = db_step(st);
  const char *cid = NULL, *cruri = NULL, *cc = NULL;
  int64_t expires = 0;
  bool used = false;
  if (r == DB_ROW) {
    cid = arena_strdup(req->arena, db_col_text(st, 0));
    g->account_id = db_col_int64(st, 1);
    g->session_id = db_col_int64(st, 2);
    cruri = arena_strdup(req->arena, db_col_text(st, 3));
    g->scope = arena_strdup(req->arena, db_col_text(st, 4));
    g->nonce = db_col_is_null(st, 5) ? NULL : arena_strdup(req->arena, db_col_text(st, 5));
    cc = db_col_is_null(st, 6) ? NULL : arena_strdup(req->arena, db_col_text(st, 6));
    g->auth_time = db_col_int64(st, 7);
    expires = db_col_int64(st, 8);
    used = !db_col_is_null(st, 9);
  }
  db_stmt_done(st);
  if (r < 0) return -1;
  if (r != DB_ROW) {
    oidc_reply_oauth_error(req, 400, "invalid_grant", "unknown authorization code");
    return 0;
  }
  if (used) {
    if (revoke_family(g->db, g->code_hash, now) < 0 || db_commit(g->db) < 0) return -1;
    oidc_reply_oauth_error(req, 400, "invalid_grant", "the authorization code was already used; its tokens are revoked");
    return 0;
  }
  if (exec_ti(g->db, "UPDATE oidc_codes SET used_at = $2 WHERE code_hash = $1", h, now) < 0 ||
      db_commit(g->db) < 0 || db_begin(g->db) < 0)
    return -1;   /* burnt whatever follows */
  const char *why = NULL;
  if (strcmp(cid, g->client.client_id) != 0)
    why = "the code was issued to another client";
  else if (expires <= now)
    why = "the authorization code has expired";
  else if (strcmp(cruri, ruri) != 0)
    why = "redirect_uri differs from the authorization request";
  else if (cc && !oidc_pkce_check(cc, ver))
    why = "code_verifier does not match the code_challenge";
  else if (!cc && ver)
    why = "no code_challenge was sent with the authorization request";
  if (why) {
    oidc_reply_oauth_error(req, 400, "invalid_grant", why);
    return 0;
  }
  g->family = g->code_hash;   /* the code's tokens form the first family */
  *out = issue(g, true);
  return *out ? 1 : -1;
}

static int grant_refresh(grant_ctx_t *g, json_t *p, json_t **out)
{
  http_req_t *req = g->req;
  const char *rt = param(p, "refresh_token");
  char h[65];
  int64_t now = clock_now_ms();
  if (!rt) {
    oidc_reply_oauth_error(req, 400, "invalid_request", "refresh_token is required");
    return 0;
  }
  oidc_hash(rt, h);
  db_stmt_t *st = db_prepare(g->db, "SELECT family, client_id, account_id, session_id, scope, auth_time, expires_at,"
                                    " used_at, revoked_at FROM oidc_refresh WHERE token_hash = $1");
  if (!st) return -1;
  db_bind_text(st, 1, h);
  int r = db_step(st);
  const char *cid = NULL;
  int64_t expires = 0;
  bool dead = false;
  if (r == DB_ROW) {
    g->family = arena_strdup(req->arena, db_col_text(st, 0));
    cid = arena_strdup(req->arena, db_col_text(st, 1));
    g->account_id = db_col_int64(st, 2);
    g->session_id = db_col_int64(st, 3);
    g->scope = arena_strdup(req->arena, db_col_text(st, 4));
    g->auth_time = db_col_int64(st, 5);
    expires = db_col_int64(st, 6);
    dead = !db_col_is_null(st, 7) || !db_col_is_null(st, 8);
  }
  db_stmt_done(st);
  if (r < 0) return -1;
  if (r != DB_ROW || strcmp(cid, g->client.client_id) != 0) {
    oidc_reply_oauth_error(req, 400, "invalid_grant", "unknown refresh token");
    return 0;
  }
  if (dead) {
    audit_entry_t e = audit_entry_from_req(req, "oidc.refresh_reuse", "oidc_client", cid);
    if (revoke_family(g->db, g->family, now) < 0 || audit_append(g->db, &e) < 0 || db_commit(g->db) < 0) return -1;
    oidc_reply_oauth_error(req, 400, "invalid_grant", "the refresh token was already used or revoked; its family is revoked");
    return 0;
  }
  if (expires <= now) {
    oidc_reply_oauth_error(req, 400, "invalid_grant", "the refresh token has expired");
    return 0;
  }
  st = db_prepare(g->db, "UPDATE oidc_refresh SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL");
  if (!st) return -1;
  db_bind_text(st, 1, h);
  db_bind_int64(st, 2, now);
  r = db_step(st);
  int64_t ch = db_changes(st);
  db_stmt_done(st);
  if (r < 0) return -1;
  if (ch != 1) {
    oidc_reply_oauth_error(req, 400, "invalid_grant", "the refresh token was already used");
    return 0;
  }
  *out = issue(g, false);
  return *out ? 1 : -1;
}

void oidc_h_token(http_req_t *req)
{
  app_t *app = req->app;
  const char *ct = http_body_type(req);
  json_t *p = NULL, *out = NULL;
  db_t *db = NULL;
  if (ct && strcmp(ct, "application/x-www-form-urlencoded") == 0) {
    /* RFC 6749 3.2: parameters must not repeat; the core parsed the form already. */
    const http_form_field_t *f = NULL;
    size_t n = http_form_fields(req, &f);
    p = json_object();
    for (size_t i = 0; i < n; i++) {
      if (json_object_get(p, f[i].name) || strlen(f[i].data) != f[i].len) {
        json_decref(p);
        oidc_reply_oauth_error(req, 400, "invalid_request", "a parameter is repeated or malformed");
        return;
      }
      json_object_set_new(p, f[i].name, json_string(f[i].data));
    }
  } else if (!req->body) {
    oidc_reply_oauth_error(req, 400, "invalid_request", "send the parameters as a form body");
    return;
  } else {
    json_t *b = http_body_object(req);
    if (!b) return;
    p = json_incref(b);
  }
  const char *gt = param(p, "grant_type");
  if (!gt) {
    oidc_reply_oauth_error(req, 400, "invalid_request", "grant_type is required");
    goto done;
  }
  bool code = strcmp(gt, "authorization_code") == 0;
  if (!code && strcmp(gt, "refresh_token") != 0) {
    oidc_reply_oauth_error(req, 400, "unsupported_grant_type", "authorization_code or refresh_token");
    goto done;
  }
  db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    goto done;
  }
  grant_ctx_t g = {.req = req, .db = db};
  if (db_begin(db) < 0) goto fail;
  int r = client_auth(req, db, p, &g.client);
  if (r < 0) goto fail;
  if (r == 0) {
    db_rollback(db);
    goto done;
  }
  r = code ? grant_code(&g, p, &out) : grant_refresh(&g, p, &out);
  if (r < 0) goto fail;
  if (r == 0) {
    db_rollback(db);
    goto done;
  }
  /* the OP session must still be alive */
  db_stmt_t *st = db_prepare(db, "SELECT COUNT(*) FROM tokens WHERE id = $1 AND revoked_at IS NULL AND"
                                 " (expires_at IS NULL OR expires_at > $2)");
  if (!st) goto fail;
  db_bind_int64(st, 1, g.session_id);
  db_bind_int64(st, 2, clock_now_ms());
  r = db_step(st);
  int64_t alive = r == DB_ROW ? db_col_int64(st, 0) : 0;
  db_stmt_done(st);
  if (r < 0) goto fail;
  if (!alive) {
    db_rollback(db);
    oidc_reply_oauth_error(req, 400, "invalid_grant", "the sign-in session has ended");
    goto done;
  }
  audit_entry_t e = audit_entry_from_req(req, code ? "oidc.token_code" : "oidc.token_refresh", "oidc_client",
                                         g.client.client_id);
  e.actor_id = g.account_id;
  e.detail = audit_detail(req->arena, json_pack("{s:s,s:I}", "scope", g.scope, "sid", (json_int_t)g.session_id));
  if (audit_append(db, &e) < 0 || db_commit(db) < 0) goto fail;
  http_add_header(req, "Cache-Control", "no-store");
  http_add_header(req, "Pragma", "no-cache");
  http_reply_json(req, 200, out);
  out = NULL;
  goto done;
fail:
  log_error(req->request_id, "msg=\"token endpoint failed\" err=\"%s\"", db ? db_errmsg(db) : "");
  if (db) db_rollback(db);
  if (!http_replied(req)) oidc_reply_oauth_error(req, 500, "server_error", "internal error");
done:
  json_decref(out);
  json_decref(p);
  if (db) db_pool_release(app->db, db);
}

/* --- userinfo ------------------------------------------------------------------------------------ */

void oidc_h_userinfo(http_req_t *req)
{
  app_t *app = req->app;
  const principal_t *pr = req->principal;
  db_t *db = db_pool_acquire(app->db);
  json_t *out = NULL;
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  if (db_begin(db) < 0) goto fail;
  /* A cityos session that is not an OIDC access token (first-party screens) gets the
   * openid and profile claims. */
  db_stmt_t *st = db_prepare(db, "SELECT COALESCE(a.scope, 'openid profile'), a.client_id, c.full_name, c.username,"
                                 " c.cccd, c.birth_date, c.sex, c.unit_id, c.kind FROM accounts c"
                                 " LEFT JOIN oidc_access a ON a.token_id = $1 WHERE c.id = $2");
  if (!st) goto fail;
  db_bind_int64(st, 1, pr->session_id);
  db_bind_int64(st, 2, pr->account_id);
  int r = db_step(st);
  const char *client = NULL;
  int64_t unit = 0;
  bool official = false;
  const char *scope = NULL;
  if (r == DB_ROW) {
    scope = arena_strdup(req->arena, db_col_text(st, 0));
    client = db_col_is_null(st, 1) ? NULL : arena_strdup(req->arena, db_col_text(st, 1));
    out = json_pack("{s:s}", "sub", arena_printf(req->arena, "%lld", (long long)pr->account_id));
    if (oidc_scope_has(scope, "profile")) {
      json_object_set_new(out, "name", json_string(db_col_text(st, 2)));
      json_object_set_new(out, "preferred_username", json_string(db_col_text(st, 3)));
    }
    if (oidc_scope_has(scope, "cccd") && !db_col_is_null(st, 4)) {
      json_object_set_new(out, "cccd", json_string(db_col_text(st, 4)));
      if (!db_col_is_null(st, 5)) json_object_set_new(out, "birthdate", json_string(db_col_text(st, 5)));
      if (!db_col_is_null(st, 6)) json_object_set_new(out, "gender", json_string(db_col_text(st, 6)));
    }
    unit = db_col_int64(st, 7);
    official = strcmp(db_col_text(st, 8), "official") == 0;
  }
  db_stmt_done(st);
  if (r < 0) goto fail;
  if (!out) {
    db_rollback(db);
    http_add_header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
    http_reply_error(req, ERR_UNAUTHENTICATED, "The account of this token is gone");
    goto done;
  }
  if (official && oidc_scope_has(scope, "unit") && unit && app->units) {
    const unit_t *u = units_by_id(app->units, unit);
    if (u) json_object_set_new(out, "unit", json_pack("{s:s,s:s,s:s}", "era", u->era, "code", u->code, "name", u->name));
  }
  if (official && oidc_scope_has(scope, "roles")) {
    json_t *roles = json_array();
    st = db_prepare(db, "SELECT role, unit_id FROM account_roles WHERE account_id = $1 ORDER BY role, unit_id");
    if (!st) {
      json_decref(roles);
      goto fail;
    }
    db_bind_int64(st, 1, pr->account_id);
    while ((r = db_step(st)) == DB_ROW) {
      const unit_t *u = app->units ? units_by_id(app->units, db_col_int64(st, 1)) : NULL;
      json_array_append_new(roles, json_pack("{s:s,s:s?}", "role", db_col_text(st, 0), "unit", u ? u->code : NULL));
    }
    db_stmt_done(st);
    json_object_set_new(out, "roles", roles);
    if (r < 0) goto fail;
  }
  audit_entry_t e = audit_entry_from_req(req, "oidc.userinfo", "oidc_client", client);
  e.unit_id = unit;
  e.detail = audit_detail(req->arena, json_pack("{s:s}", "scope", scope));
  if (audit_append(db, &e) < 0 || db_commit(db) < 0) goto fail;
  http_add_header(req, "Cache-Control", "no-store");
  http_reply_json(req, 200, out);
  out = NULL;
  goto done;
fail:
  log_error(req->request_id, "msg=\"userinfo failed\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  json_decref(out);
  db_pool_release(app->db, db);
}
