#include "base/common.h"
#include "oidc/oidc_internal.h"
#include "audit/audit.h"
#include "base/log.h"
#include "identity/identity.h"

/*
 * The authorization endpoint (code flow). GET /authorize checks the client and the
 * exact redirect URI (errors there are answered here, never redirected), then the rest
 * of the request (errors redirected to the client with state and iss), stores it and
 * sends the browser to the sign-in and consent page /sso/authorize.html?request=ID.
 * That page (static, no inline script) reads GET /requests/{id}, signs in with
 * /api/v1/auth/login (and /api/v1/me/totp/verify when a second factor is owed) and
 * answers POST /requests/{id}/decision {approve}; the answer names the URL to go to.
 */

#define PARAM_MAX 512

static const char *q(http_req_t *req, const char *name)
{
  const char *v = http_query(req, name);
  return v && *v ? v : NULL;
}

static void redirect_error(http_req_t *req, const char *redirect_uri, const char *state, const char *error,
                           const char *desc)
{
  char *u = oidc_url_add(req->arena, redirect_uri, "error", error);
  u = oidc_url_add(req->arena, u, "error_description", desc);
  if (state) u = oidc_url_add(req->arena, u, "state", state);
  u = oidc_url_add(req->arena, u, "iss", oidc_issuer(req));
  oidc_reply_redirect(req, u);
}

static bool b64url_text(const char *s, size_t len)
{
  if (!s || strlen(s) != len) return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
      return false;
  return true;
}

typedef struct pending {
  const char *client_id, *redirect_uri, *scope, *state, *nonce, *cc;
  int64_t min_auth;     /* ms; the provider sign-in must be this recent (prompt=login, max_age); 0 any */
  bool ask_consent;     /* prompt=consent: the consent page even for cityos' own screens */
} pending_t;

/* Stores a fresh single-use code for the person of pr (OP session pr->session_id) and
 * sets *to to the redirect URI with code, state and iss. 0, or -1 on a database error. */
static int code_issue(http_req_t *req, db_t *db, const pending_t *p, const principal_t *pr, char **to)
{
  const char *code = oidc_random_token(req->arena);
  char hash[65];
  oidc_hash(code, hash);
  int64_t now = clock_now_ms();
  db_stmt_t *st = db_prepare(db, "INSERT INTO oidc_codes (code_hash, client_id, account_id, session_id, redirect_uri,"
                                 " scope, nonce, code_challenge, auth_time, expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7,"
                                 " $8, (SELECT created_at FROM tokens WHERE id = $4),$9)");
  if (!st) return -1;
  db_bind_text(st, 1, hash);
  db_bind_text(st, 2, p->client_id);
  db_bind_int64(st, 3, pr->account_id);
  db_bind_int64(st, 4, pr->session_id);
  db_bind_text(st, 5, p->redirect_uri);
  db_bind_text(st, 6, p->scope);
  db_bind_text(st, 7, p->nonce);
  db_bind_text(st, 8, p->cc);
  db_bind_int64(st, 9, now + OIDC_CODE_TTL_S * 1000LL);
  int r = db_step(st);
  db_stmt_done(st);
  if (r < 0) return -1;
  char *u = oidc_url_add(req->arena, p->redirect_uri, "code", code);
  if (p->state) u = oidc_url_add(req->arena, u, "state", p->state);
  *to = oidc_url_add(req->arena, u, "iss", oidc_issuer(req));
  return 0;
}

/* 1 when the session token is an OIDC access token (not a provider sign-in), 0 not, -1 error. */
static int is_access_token(db_t *db, int64_t token_id)
{
  db_stmt_t *st = db_prepare(db, "SELECT 1 FROM oidc_access WHERE token_id = $1");
  if (!st) return -1;
  db_bind_int64(st, 1, token_id);
  int r = db_step(st);
  db_stmt_done(st);
  return r < 0 ? -1 : r == DB_ROW ? 1 : 0;
}

/* When the provider session session_id was signed in (tokens.created_at, ms); -1 error. */
static int64_t session_auth_ms(db_t *db, int64_t session_id)
{
  db_stmt_t *st = db_prepare(db, "SELECT created_at FROM tokens WHERE id = $1");
  if (!st) return -1;
  db_bind_int64(st, 1, session_id);
  int r = db_step(st);
  int64_t at = r == DB_ROW ? db_col_int64(st, 0) : 0;
  db_stmt_done(st);
  return r < 0 ? -1 : at;
}

/* 1 when pr is a provider session signed in at or after min_auth (0 = any time), 0 not,
 * -1 error. An OIDC access token sent as a cookie or bearer is not a provider session. */
static int session_fresh(db_t *db, const principal_t *pr, int64_t min_auth)
{
  if (!pr || pr->kind == PRINCIPAL_CLIENT || !pr->session_id) return 0;
  int r = is_access_token(db, pr->session_id);
  if (r != 0) return r < 0 ? -1 : 0;
  if (min_auth <= 0) return 1;
  int64_t at = session_auth_ms(db, pr->session_id);
  return at < 0 ? -1 : at >= min_auth ? 1 : 0;
}

typedef struct prompt {
  bool none, login, consent;
  int64_t max_age;      /* seconds; -1 absent */
} prompt_t;

/* Parses prompt (OpenID Connect Core 1.0 §3.1.2.1: space-separated none, login, consent,
 * select_account; none only alone) and max_age (non-negative seconds). select_account is
 * served as login: the sign-in form is where another account is chosen. NULL when valid,
 * else the error_description for invalid_request. */
static const char *prompt_parse(const char *prompt, const char *max_age, prompt_t *p)
{
  *p = (prompt_t){.max_age = -1};
  int words = 0;
  for (const char *s = prompt ? prompt : ""; *s;) {
    while (*s == ' ') s++;
    const char *e = s;
    while (*e && *e != ' ') e++;
    size_t n = (size_t)(e - s);
    if (n == 0) break;
    words++;
    if (n == 4 && memcmp(s, "none", 4) == 0) p->none = true;
    else if (n == 5 && memcmp(s, "login", 5) == 0) p->login = true;
    else if (n == 7 && memcmp(s, "consent", 7) == 0) p->consent = true;
    else if (n == 14 && memcmp(s, "select_account", 14) == 0) p->login = true;
    else return "prompt values are none, login, consent and select_account";
    s = e;
  }
  if (p->none && words > 1) return "prompt=none cannot be combined with other values";
  if (max_age) {
    size_t n = strlen(max_age);
    if (n == 0 || n > 9 || strspn(max_age, "0123456789") != n) return "max_age must be a whole number of seconds";
    p->max_age = 0;
    for (const char *d = max_age; *d; d++) p->max_age = p->max_age * 10 + (*d - '0');
  }
  return NULL;
}

void oidc_h_authorize(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  oidc_client_t c;
  const char *client_id = q(req, "client_id"), *redirect_uri = q(req, "redirect_uri");
  int found = oidc_client_load(req->arena, db, client_id, &c);
  if (found < 0) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  if (!found) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "client_id"), "Unknown client_id");
    goto done;
  }
  if (!redirect_uri || !oidc_uri_registered(req, c.redirect_uris, redirect_uri)) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "redirect_uri"),
                            "redirect_uri is not registered for this client (exact match required)");
    goto done;
  }
  const char *state = q(req, "state"), *nonce = q(req, "nonce"), *scope = q(req, "scope");
  const char *rt = q(req, "response_type"), *cc = q(req, "code_challenge"), *ccm = q(req, "code_challenge_method");
  if ((state && strlen(state) > PARAM_MAX) || (nonce && strlen(nonce) > PARAM_MAX)) {
    redirect_error(req, redirect_uri, NULL, "invalid_request", "state and nonce are limited to 512 bytes");
    goto done;
  }
  if (!rt || strcmp(rt, "code") != 0) {
    redirect_error(req, redirect_uri, state, "unsupported_response_type", "only response_type=code is supported");
    goto done;
  }
  if (!scope || !oidc_scope_has(scope, "openid") || strlen(scope) > 200) {
    redirect_error(req, redirect_uri, state, "invalid_scope", "scope must include openid");
    goto done;
  }
  if (!oidc_scope_subset(scope, c.scopes)) {
    redirect_error(req, redirect_uri, state, "invalid_scope", "a requested scope is not allowed for this client");
    goto done;
  }
  if (cc && (!ccm || strcmp(ccm, "S256") != 0)) {
    redirect_error(req, redirect_uri, state, "invalid_request", "code_challenge_method must be S256");
    goto done;
  }
  if (cc && !b64url_text(cc, OIDC_PKCE_CHALLENGE_LEN)) {
    redirect_error(req, redirect_uri, state, "invalid_request", "code_challenge must be 43 base64url characters");
    goto done;
  }
  if (!cc && !c.confidential) {
    redirect_error(req, redirect_uri, state, "invalid_request", "PKCE (S256) is required for public clients");
    goto done;
  }
  prompt_t pp;
  const char *bad = prompt_parse(http_query(req, "prompt"), http_query(req, "max_age"), &pp);
  if (bad) {
    redirect_error(req, redirect_uri, state, "invalid_request", bad);
    goto done;
  }
  int64_t now = clock_now_ms(), min_auth = pp.login ? now : 0;
  if (pp.max_age >= 0 && now - pp.max_age * 1000 > min_auth) min_auth = now - pp.max_age * 1000;
  /* A provider session: its cookie, second factor passed (a pending session is anonymous
   * here), signed in recently enough for prompt=login / max_age. */
  const principal_t *pr = req->principal;
  int fresh = http_header(req, "Authorization") ? 0 : session_fresh(db, pr, min_auth);
  if (fresh < 0) goto fail;
  /* prompt=none: never a page; the answer goes back to the client at once. There is no
   * stored consent, so a third-party client (whose consent is asked every time) gets
   * consent_required. */
  if (pp.none && !fresh) {
    redirect_error(req, redirect_uri, state, "login_required", "no current sign-in at the provider");
    goto done;
  }
  if (pp.none && !c.first_party) {
    redirect_error(req, redirect_uri, state, "consent_required", "this application needs the person's consent");
    goto done;
  }
  /* Single sign-on for cityos' own screens: a person already signed in to the provider
   * gets the code at once, without the sign-in and consent page (unless prompt asks for
   * a fresh sign-in or the consent page). */
  if (c.first_party && fresh && !pp.login && !pp.consent) {
    pending_t p = {c.client_id, redirect_uri, scope, state, nonce, cc, 0, false};
    char *to = NULL;
    audit_entry_t e = audit_entry_from_req(req, "oidc.consent", "oidc_client", c.client_id);
    e.unit_id = pr->unit_id;
    e.detail = audit_detail(req->arena, json_pack("{s:s,s:b}", "scope", scope, "sso", 1));
    if (db_begin(db) < 0 || code_issue(req, db, &p, pr, &to) < 0 || audit_append(db, &e) < 0 || db_commit(db) < 0) {
      db_rollback(db);
      goto fail;
    }
    oidc_reply_redirect(req, to);
    goto done;
  }
  const char *id = oidc_random_token(req->arena);
  db_stmt_t *st = db_prepare(db, "INSERT INTO oidc_requests (id, client_id, redirect_uri, scope, state, nonce,"
                                 " code_challenge, created_at, expires_at, min_auth_time, ask_consent)"
                                 " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)");
  if (!st) goto fail;
  db_bind_text(st, 1, id);
  db_bind_text(st, 2, c.client_id);
  db_bind_text(st, 3, redirect_uri);
  db_bind_text(st, 4, scope);
  db_bind_text(st, 5, state);
  db_bind_text(st, 6, nonce);
  db_bind_text(st, 7, cc);
  db_bind_int64(st, 8, now);
  db_bind_int64(st, 9, now + OIDC_REQUEST_TTL_S * 1000LL);
  if (min_auth > 0) db_bind_int64(st, 10, min_auth);
  else db_bind_null(st, 10);
  db_bind_int64(st, 11, pp.consent ? 1 : 0);
  int r = db_step(st);
  db_stmt_done(st);
  if (r < 0) goto fail;
  /* Old requests go when new ones come (bounded table without a job). */
  st = db_prepare(db, "DELETE FROM oidc_requests WHERE expires_at < $1");
  if (st) {
    db_bind_int64(st, 1, now);
    db_step(st);
    db_stmt_done(st);
  }
  oidc_reply_redirect(req, arena_printf(req->arena, "/sso/authorize.html?request=%s", id));
  goto done;
fail:
  log_error(req->request_id, "msg=\"authorize failed\" err=\"%s\"", db_errmsg(db));
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}

static int load_request(arena_t *a, db_t *db, const char *id, pending_t *p)
{
  db_stmt_t *st = db_prepare(db, "SELECT client_id, redirect_uri, scope, state, nonce, code_challenge,"
                                 " min_auth_time, ask_consent FROM oidc_requests WHERE id = $1 AND expires_at > $2");
  if (!st) return -1;
  db_bind_text(st, 1, id ? id : "");
  db_bind_int64(st, 2, clock_now_ms());
  int r = db_step(st);
  if (r == DB_ROW) {
    const char **f[] = {&p->client_id, &p->redirect_uri, &p->scope, &p->state, &p->nonce, &p->cc};
    for (int i = 0; i < 6; i++) *f[i] = db_col_is_null(st, i) ? NULL : arena_strdup(a, db_col_text(st, i));
    p->min_auth = db_col_is_null(st, 6) ? 0 : db_col_int64(st, 6);
    p->ask_consent = db_col_int64(st, 7) != 0;
  }
  db_stmt_done(st);
  return r < 0 ? -1 : r == DB_ROW ? 1 : 0;
}

/* GET /api/v1/oidc/requests/{id} (public): what the consent page shows. */
void oidc_h_request_get(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  pending_t p;
  oidc_client_t c;
  int r = load_request(req->arena, db, http_param(req, "id"), &p);
  if (r == 1) r = oidc_client_load(req->arena, db, p.client_id, &c);
  if (r < 0) {
    http_reply_error(req, ERR_INTERNAL, NULL);
  } else if (r == 0) {
    http_reply_error(req, ERR_NOT_FOUND, "This sign-in request is unknown or has expired");
  } else {
    json_t *scopes = json_array();
    char w[64];
    for (const char *s = p.scope; *s;) {
      while (*s == ' ') s++;
      const char *e = s;
      while (*e && *e != ' ') e++;
      if (e > s && (size_t)(e - s) < sizeof w) {
        memcpy(w, s, (size_t)(e - s));
        w[e - s] = '\0';
        json_array_append_new(scopes, json_string(w));
      }
      s = e;
    }
    const principal_t *pr = req->principal;
    bool usable = pr && pr->kind != PRINCIPAL_CLIENT;
    /* prompt=login / max_age: an older sign-in does not count, the page asks again */
    if (usable && p.min_auth > 0) {
      int64_t at = pr->session_id ? session_auth_ms(db, pr->session_id) : 0;
      usable = at >= p.min_auth;
    }
    http_reply_json(req, 200, json_pack("{s:s,s:s,s:o,s:b,s:s?,s:b,s:b,s:b}", "client_id", c.client_id, "client_name",
                                        c.name, "scopes", scopes, "signed_in", usable, "user",
                                        usable ? pr->display_name : NULL, "first_party", c.first_party,
                                        "ask_consent", p.ask_consent, "fresh_sign_in", p.min_auth > 0));
  }
  db_pool_release(app->db, db);
}

/* POST /api/v1/oidc/requests/{id}/decision {approve}: the signed-in person's answer. */
void oidc_h_request_decide(http_req_t *req)
{
  app_t *app = req->app;
  const principal_t *pr = req->principal;
  json_t *body = http_body_object(req);
  if (!body) return;
  json_t *ap = json_object_get(body, "approve");
  if (!json_is_boolean(ap)) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "approve"), "approve must be true or false");
    return;
  }
  if (pr->kind == PRINCIPAL_CLIENT || pr->session_id == 0) {
    http_reply_error(req, ERR_FORBIDDEN, "Only a person can sign in to an application");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  pending_t p;
  const char *id = http_param(req, "id");
  if (db_begin(db) < 0) goto fail;
  int r = load_request(req->arena, db, id, &p);
  if (r < 0) goto fail;
  if (r == 0) {
    db_rollback(db);
    http_reply_error(req, ERR_NOT_FOUND, "This sign-in request is unknown or has expired");
    goto done;
  }
  if (json_is_true(ap) && p.min_auth > 0) {
    int64_t at = session_auth_ms(db, pr->session_id);
    if (at < 0) goto fail;
    if (at < p.min_auth) {
      db_rollback(db);
      http_reply_error_detail(req, ERR_UNAUTHENTICATED, json_pack("{s:b}", "fresh_sign_in", 1),
                              "This application asks for a fresh sign-in");
      goto done;
    }
  }
  db_stmt_t *st = db_prepare(db, "DELETE FROM oidc_requests WHERE id = $1");
  if (!st) goto fail;
  db_bind_text(st, 1, id);
  r = db_step(st);
  db_stmt_done(st);
  if (r < 0) goto fail;
  const char *iss = oidc_issuer(req);
  char *to;
  audit_entry_t e = audit_entry_from_req(req, json_is_true(ap) ? "oidc.consent" : "oidc.consent_denied",
                                         "oidc_client", p.client_id);
  e.unit_id = pr->unit_id;
  e.detail = audit_detail(req->arena, json_pack("{s:s}", "scope", p.scope));
  if (json_is_true(ap)) {
    if (code_issue(req, db, &p, pr, &to) < 0) goto fail;
  } else {
    to = oidc_url_add(req->arena, p.redirect_uri, "error", "access_denied");
    if (p.state) to = oidc_url_add(req->arena, to, "state", p.state);
    to = oidc_url_add(req->arena, to, "iss", iss);
  }
  if (audit_append(db, &e) < 0 || db_commit(db) < 0) goto fail;
  http_reply_json(req, 200, json_pack("{s:s}", "redirect_to", to));
  goto done;
fail:
  log_error(req->request_id, "msg=\"authorization decision failed\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}
