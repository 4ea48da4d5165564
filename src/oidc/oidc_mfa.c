#include "base/common.h"
#include "oidc/oidc_internal.h"
#include "audit/audit.h"
#include "base/log.h"
#include "base/seal.h"
#include "identity/identity.h"

#include <jansson.h>
#include <sodium.h>
#include <stdatomic.h>

/*
 * The second factor: enrolment, confirmation, verification on a session, recovery
 * codes, the brute-force throttle (per account and per source address), the policy,
 * and the session gate (see oidc.h for the rules).
 */

/* --- small helpers ------------------------------------------------------------------ */

static db_t *mfa_db(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  if (!db) http_reply_error(req, ERR_UNAVAILABLE, NULL);
  return db;
}

static void mfa_db_fail(http_req_t *req, db_t *db)
{
  log_error(req->request_id, "msg=\"mfa database error\" path=\"%s\" err=\"%s\"", req->path,
            db ? db_errmsg(db) : "");
  if (db) db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
}

static void mfa_field(http_req_t *req, const char *field, const char *msg)
{
  http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", field), "%s", msg);
}

/* One row of one statement as int64 (0 when no row); -1 on error. */
static int q_int(db_t *db, const char *sql, const char *t1, int64_t i2, int64_t *out)
{
  db_stmt_t *st = db_prepare(db, sql);
  if (!st) return -1;
  if (t1) db_bind_text(st, 1, t1); else db_bind_int64(st, 1, i2);
  int r = db_step(st);
  *out = r == DB_ROW ? db_col_int64(st, 0) : 0;
  db_stmt_done(st);
  return r < 0 ? -1 : 0;
}

static int q_exec(db_t *db, const char *sql, int n, const int64_t *ints, const char *text1)
{
  db_stmt_t *st = db_prepare(db, sql);
  if (!st) return -1;
  int first = 1;
  if (text1) db_bind_text(st, first++, text1);
  for (int i = 0; i < n; i++) db_bind_int64(st, first + i, ints[i]);
  int r = db_step(st);
  db_stmt_done(st);
  return r < 0 ? -1 : 0;
}

/* --- state of an account and a session ------------------------------------------------ */

/* The setting mfa_officials, used while the stored policy is 'default'. */
static atomic_bool g_policy_default = true;

void oidc_mfa_set_policy_default(bool on) { atomic_store(&g_policy_default, on); }

static bool policy_value(const char *v)
{
  if (!v || strcmp(v, "default") == 0) return atomic_load(&g_policy_default);
  return strcmp(v, "1") == 0;
}

typedef struct mfa_state {
  bool policy_officials;   /* require_for_officials = '1' */
  bool flag;               /* per-account flag */
  bool enrolled;           /* a confirmed TOTP secret */
  bool pending;            /* an unconfirmed enrolment */
  bool verified;           /* this session passed the second factor */
  bool required;           /* the account needs the second factor */
  bool access_token;       /* the token is an OIDC access token */
  bool first_party;        /* ... of a first-party client (may use the whole API) */
} mfa_state_t;

static int mfa_load_state(db_t *db, const principal_t *p, mfa_state_t *s)
{
  memset(s, 0, sizeof *s);
  db_stmt_t *st = db_prepare(
      db, "SELECT (SELECT value FROM oidc_mfa_policy WHERE name = 'require_for_officials'),"
          " (SELECT required FROM oidc_mfa_account WHERE account_id = $1),"
          " (SELECT confirmed_at FROM oidc_totp WHERE account_id = $1),"
          " (SELECT COUNT(*) FROM oidc_totp WHERE account_id = $1),"
          " (SELECT verified_at FROM oidc_mfa_sessions WHERE session_id = $2),"
          " (SELECT first_party FROM oidc_access WHERE token_id = $2)");
  if (!st) return -1;
  db_bind_int64(st, 1, p->account_id);
  db_bind_int64(st, 2, p->session_id);
  int r = db_step(st);
  if (r == DB_ROW) {
    const char *pol = db_col_text(st, 0);
    s->policy_officials = policy_value(pol);
    s->flag = db_col_int64(st, 1) == 1;
    s->enrolled = !db_col_is_null(st, 2);
    s->pending = !s->enrolled && db_col_int64(st, 3) > 0;
    s->verified = !db_col_is_null(st, 4);
    s->access_token = !db_col_is_null(st, 5);
    s->first_party = db_col_int64(st, 5) == 1;
  }
  db_stmt_done(st);
  s->required = s->flag || s->enrolled || (s->policy_officials && p->kind == PRINCIPAL_OFFICIAL);
  return r < 0 ? -1 : 0;
}

/* --- the gate ------------------------------------------------------------------------ */

static bool gate_open_path(const http_req_t *req)
{
  const char *p = req->path;
  return strcmp(p, "/api/v1/me") == 0 || strcmp(p, "/api/v1/auth/logout") == 0 ||
         (strcmp(p, "/api/v1/me/totp") == 0 && strcmp(req->method, "GET") == 0) ||
         strcmp(p, "/api/v1/me/totp/enrol") == 0 || strcmp(p, "/api/v1/me/totp/confirm") == 0 ||
         strcmp(p, "/api/v1/me/totp/verify") == 0;
}

int oidc_mfa_gate(http_req_t *req)
{
  app_t *app = req->app;
  const principal_t *p = req->principal;
  int rc = -1;
  if (!p || p->session_id == 0 || !req->token || strncmp(req->token, "cs_", 3) != 0) return 0;
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return -1;
  }
  mfa_state_t s;
  if (mfa_load_state(db, p, &s) < 0) {
    log_error(req->request_id, "msg=\"mfa gate failed\" err=\"%s\"", db_errmsg(db));
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    goto done;
  }
  if (s.access_token && !s.first_party && strcmp(req->path, "/api/v1/oidc/userinfo") != 0) {
    http_reply_error(req, ERR_FORBIDDEN, "This access token is for the userinfo endpoint only");
    goto done;
  }
  if (!s.required || s.verified || gate_open_path(req)) {
    rc = 0;
    goto done;
  }
  if (req->route && req->route->permission == HTTP_PUBLIC) {
    req->principal = NULL;   /* a public route: the half-signed-in caller is anonymous */
    req->token = NULL;
    rc = 0;
    goto done;
  }
  http_reply_error_detail(req, ERR_UNAUTHENTICATED,
                          json_pack("{s:s}", "second_factor", s.enrolled ? "required" : "enrolment_required"),
                          s.enrolled ? "Enter the code from your authenticator app (POST /api/v1/me/totp/verify)"
                                     : "Set up two-factor sign-in first (POST /api/v1/me/totp/enrol)");
done:
  db_pool_release(app->db, db);
  return rc;
}

/* --- throttle ------------------------------------------------------------------------- */

typedef struct throttle {
  char akey[40], ikey[80];
  int64_t a_fail, a_last;
  int64_t i_fail, i_window, i_blocked;
} throttle_t;

static int throttle_row(db_t *db, const char *key, int64_t now, int64_t *fail, int64_t *window,
                        int64_t *last, int64_t *blocked)
{
  int64_t ins[1] = {now};
  if (q_exec(db, "INSERT INTO oidc_mfa_throttle (key, failures, window_start, last_failed_at, blocked_until)"
                 " VALUES ($1, 0, $2, 0, 0) ON CONFLICT (key) DO NOTHING", 1, ins, key) < 0)
    return -1;
  db_stmt_t *st = db_prepare(db, db_kind(db) == DB_POSTGRES
                                     ? "SELECT failures, window_start, last_failed_at, blocked_until"
                                       " FROM oidc_mfa_throttle WHERE key = $1 FOR UPDATE"
                                     : "SELECT failures, window_start, last_failed_at, blocked_until"
                                       " FROM oidc_mfa_throttle WHERE key = $1");
  if (!st) return -1;
  db_bind_text(st, 1, key);
  int r = db_step(st);
  if (r == DB_ROW) {
    *fail = db_col_int64(st, 0);
    *window = db_col_int64(st, 1);
    *last = db_col_int64(st, 2);
    *blocked = db_col_int64(st, 3);
  }
  db_stmt_done(st);
  return r == DB_ROW ? 0 : -1;
}

/* Reads (and on PostgreSQL locks) both rows. *retry_s > 0 when the attempt must wait. */
static int throttle_begin(db_t *db, const http_req_t *req, throttle_t *t, int64_t now, int64_t *retry_s)
{
  int64_t w, b;
  snprintf(t->akey, sizeof t->akey, "a:%lld", (long long)req->principal->account_id);
  snprintf(t->ikey, sizeof t->ikey, "ip:%s", req->client_ip ? req->client_ip : "?");
  *retry_s = 0;
  if (throttle_row(db, t->akey, now, &t->a_fail, &w, &t->a_last, &b) < 0) return -1;
  if (throttle_row(db, t->ikey, now, &t->i_fail, &t->i_window, &w, &t->i_blocked) < 0) return -1;
  if (t->i_window + OIDC_MFA_IP_WINDOW_S * 1000LL <= now) {
    t->i_fail = 0;   /* the address's window has passed */
    t->i_window = now;
  }
  if (t->i_blocked > now) *retry_s = (t->i_blocked - now + 999) / 1000;
  int64_t delay = oidc_mfa_delay_s(t->a_fail);
  if (delay > 0 && now < t->a_last + delay * 1000) {
    int64_t r = (t->a_last + delay * 1000 - now + 999) / 1000;
    if (r > *retry_s) *retry_s = r;
  }
  return 0;
}

static int throttle_fail(db_t *db, throttle_t *t, int64_t now)
{
  int64_t a[2] = {t->a_fail + 1, now};
  if (q_exec(db, "UPDATE oidc_mfa_throttle SET failures = $2, last_failed_at = $3 WHERE key = $1", 2, a,
             t->akey) < 0)
    return -1;
  int64_t nf = t->i_fail + 1;
  int64_t i[4] = {nf, t->i_window, now, nf >= OIDC_MFA_IP_MAX ? now + OIDC_MFA_IP_WINDOW_S * 1000LL : 0};
  return q_exec(db, "UPDATE oidc_mfa_throttle SET failures = $2, window_start = $3, last_failed_at = $4,"
                    " blocked_until = $5 WHERE key = $1", 4, i, t->ikey);
}

static void retry_after(http_req_t *req, int64_t s)
{
  char v[24];
  snprintf(v, sizeof v, "%lld", (long long)s);
  http_add_header(req, "Retry-After", v);
}

/* --- recovery codes ---------------------------------------------------------------------- */

static const char RC_ALPHA[] = "abcdefghjkmnpqrstuvwxyz23456789";

/* Lower case, without '-' and spaces, into out (cap OIDC_RECOVERY_LEN + 1). false when
 * it cannot be a recovery code. */
static bool recovery_normalize(const char *in, char *out)
{
  size_t n = 0;
  for (const char *p = in; *p; p++) {
    char c = *p;
    if (c == '-' || c == ' ') continue;
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (!strchr(RC_ALPHA, c) || c == '\0' || n >= OIDC_RECOVERY_LEN) return false;
    out[n++] = c;
  }
  out[n] = '\0';
  return n == OIDC_RECOVERY_LEN;
}

/* New codes replace the old ones; the codes (shown once) go into arr. */
static int recovery_issue(db_t *db, int64_t account_id, json_t *arr)
{
  int64_t id[1] = {account_id};
  if (q_exec(db, "DELETE FROM oidc_recovery_codes WHERE account_id = $1", 1, id, NULL) < 0) return -1;
  for (int i = 0; i < OIDC_RECOVERY_CODES; i++) {
    char code[OIDC_RECOVERY_LEN + 1], shown[OIDC_RECOVERY_LEN + 2], hash[IDENTITY_TOKEN_HASH_HEX];
    for (int j = 0; j < OIDC_RECOVERY_LEN; j++)
      code[j] = RC_ALPHA[randombytes_uniform((uint32_t)(sizeof RC_ALPHA - 1))];
    code[OIDC_RECOVERY_LEN] = '\0';
    snprintf(shown, sizeof shown, "%.5s-%s", code, code + 5);
    identity_token_hash(code, hash);
    db_stmt_t *st = db_prepare(db, "INSERT INTO oidc_recovery_codes (account_id, code_hash, created_at)"
                                   " VALUES ($1, $2, $3)");
    if (!st) return -1;
    db_bind_int64(st, 1, account_id);
    db_bind_text(st, 2, hash);
    db_bind_int64(st, 3, clock_now_ms());
    int r = db_step(st);
    db_stmt_done(st);
    if (r < 0) return -1;
    json_array_append_new(arr, json_string(shown));
    sodium_memzero(code, sizeof code);
  }
  return 0;
}

/* --- handlers ---------------------------------------------------------------------------- */

void oidc_mfa_status(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = mfa_db(req);
  if (!db) return;
  mfa_state_t s;
  int64_t left = 0;
  if (mfa_load_state(db, req->principal, &s) < 0 ||
      q_int(db, "SELECT COUNT(*) FROM oidc_recovery_codes WHERE account_id = $1 AND used_at IS NULL", NULL,
            req->principal->account_id, &left) < 0) {
    mfa_db_fail(req, db);
  } else {
    http_reply_json(req, 200, json_pack("{s:b,s:b,s:b,s:b,s:I}", "enrolled", s.enrolled, "pending_enrolment",
                                        s.pending, "required", s.required, "verified", s.verified,
                                        "recovery_codes_left", (json_int_t)left));
  }
  db_pool_release(app->db, db);
}

void oidc_mfa_enrol(http_req_t *req)
{
  app_t *app = req->app;
  const principal_t *p = req->principal;
  uint8_t secret[OIDC_TOTP_SECRET_BYTES], sealed[OIDC_TOTP_SECRET_BYTES + SEAL_OVERHEAD];
  char b32[64];
  db_t *db = mfa_db(req);
  if (!db) return;
  int64_t confirmed = 0;
  if (db_begin(db) < 0 ||
      q_int(db, "SELECT COUNT(*) FROM oidc_totp WHERE account_id = $1 AND confirmed_at IS NOT NULL", NULL,
            p->account_id, &confirmed) < 0)
    goto db_fail;
  if (confirmed) {
    db_rollback(db);
    http_reply_error(req, ERR_CONFLICT, "Two-factor sign-in is already set up for this account");
    goto done;
  }
  random_bytes(secret, sizeof secret);
  oidc_base32_encode(secret, sizeof secret, b32, sizeof b32);
  char ad[OIDC_AD_MAX];
  if (seal_bytes(secret, sizeof secret, oidc_totp_ad(ad, p->account_id), sealed) < 0) goto db_fail;
  db_stmt_t *st = db_prepare(db, "INSERT INTO oidc_totp (account_id, secret, confirmed_at, last_step, created_at)"
                                 " VALUES ($1, $2, NULL, -1, $3) ON CONFLICT (account_id) DO UPDATE SET"
                                 " secret = excluded.secret, confirmed_at = NULL, last_step = -1,"
                                 " created_at = excluded.created_at");
  if (!st) goto db_fail;
  db_bind_int64(st, 1, p->account_id);
  db_bind_blob(st, 2, sealed, sizeof sealed);
  db_bind_int64(st, 3, clock_now_ms());
  int r = db_step(st);
  db_stmt_done(st);
  audit_entry_t e = audit_entry_from_req(req, "mfa.enrol_started", "account",
                                         arena_printf(req->arena, "%lld", (long long)p->account_id));
  e.unit_id = p->unit_id;
  if (r < 0 || audit_append(db, &e) < 0 || db_commit(db) < 0) goto db_fail;
  const char *uri = oidc_otpauth_uri(req->arena, "cityos Hà Nội", p->username, b32);
  const char *svg = oidc_qr_svg(req->arena, uri);
  http_reply_json(req, 201, json_pack("{s:s,s:s,s:s?,s:i,s:i}", "secret", b32, "otpauth_uri", uri, "qr_svg", svg,
                                      "digits", OIDC_TOTP_DIGITS, "period", OIDC_TOTP_STEP_S));
  goto done;
db_fail:
  mfa_db_fail(req, db);
done:
  sodium_memzero(secret, sizeof secret);
  sodium_memzero(b32, sizeof b32);
  db_pool_release(app->db, db);
}

/* POST confirm {code} and verify {code} | {recovery_code}: one flow, one transaction. */
static void mfa_check(http_req_t *req, bool confirm)
{
  app_t *app = req->app;
  const principal_t *p = req->principal;
  json_t *body = http_body_object(req);
  if (!body) return;
  const char *code = json_string_value(json_object_get(body, "code"));
  const char *rcode = confirm ? NULL : json_string_value(json_object_get(body, "recovery_code"));
  char norm[OIDC_RECOVERY_LEN + 1];
  if (!code && !rcode) {
    mfa_field(req, "code", confirm ? "code is required" : "code or recovery_code is required");
    return;
  }
  if (rcode && !recovery_normalize(rcode, norm)) {
    mfa_field(req, "recovery_code", "A recovery code has 10 letters and digits");
    return;
  }
  db_t *db = mfa_db(req);
  if (!db) return;
  int64_t now = clock_now_ms(), retry = 0;
  throttle_t t;
  json_t *out = NULL;
  const char *action = NULL;
  bool ok = false;
  if (db_begin(db) < 0 || throttle_begin(db, req, &t, now, &retry) < 0) goto db_fail;
  if (retry > 0) {
    if (db_commit(db) < 0) goto db_fail;
    retry_after(req, retry);
    http_reply_error(req, ERR_RATE_LIMITED, NULL);
    goto done;
  }
  db_stmt_t *st = db_prepare(db, "SELECT secret, confirmed_at, last_step FROM oidc_totp WHERE account_id = $1");
  if (!st) goto db_fail;
  db_bind_int64(st, 1, p->account_id);
  int r = db_step(st);
  uint8_t key[64];
  size_t keylen = 0;
  bool confirmed = false;
  int64_t last_step = -1;
  bool opened = false;
  if (r == DB_ROW) {
    size_t slen = 0;
    const void *k = db_col_blob(st, 0, &slen);
    char ad[OIDC_AD_MAX];
    opened = seal_open_bytes(k, slen, oidc_totp_ad(ad, p->account_id), key, sizeof key, &keylen) == 0;
    confirmed = !db_col_is_null(st, 1);
    last_step = db_col_int64(st, 2);
  }
  db_stmt_done(st);
  if (r < 0) goto db_fail;
  if (r == DB_ROW && !opened) {   /* another master key, or a row copied from another account */
    log_error(req->request_id, "msg=\"TOTP secret does not open with the master key\" account=%lld",
              (long long)p->account_id);
    db_rollback(db);
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  if (r != DB_ROW || confirmed == confirm) {
    db_rollback(db);
    http_reply_error(req, ERR_CONFLICT, confirm ? "Start the enrolment first (POST /api/v1/me/totp/enrol)"
                                                : "Two-factor sign-in is not set up for this account");
    goto done;
  }
  if (rcode) {
    char hash[IDENTITY_TOKEN_HASH_HEX];
    identity_token_hash(norm, hash);
    st = db_prepare(db, "UPDATE oidc_recovery_codes SET used_at = $3 WHERE account_id = $1 AND code_hash = $2"
                        " AND used_at IS NULL");
    if (!st) goto db_fail;
    db_bind_int64(st, 1, p->account_id);
    db_bind_text(st, 2, hash);
    db_bind_int64(st, 3, now);
    r = db_step(st);
    ok = r >= 0 && db_changes(st) == 1;
    db_stmt_done(st);
    if (r < 0) goto db_fail;
  } else {
    int64_t step = oidc_totp_check(key, keylen, code, now / 1000, last_step);
    ok = step >= 0;
    if (ok) {
      int64_t a[3] = {p->account_id, step, now};
      if (q_exec(db, confirm ? "UPDATE oidc_totp SET last_step = $2, confirmed_at = $3 WHERE account_id = $1"
                             : "UPDATE oidc_totp SET last_step = $2 WHERE account_id = $1",
                 confirm ? 3 : 2, a, NULL) < 0)
        goto db_fail;
    }
  }
  sodium_memzero(key, sizeof key);
  if (ok) {
    int64_t a[2] = {p->session_id, now};
    if (q_exec(db, "UPDATE oidc_mfa_throttle SET failures = 0 WHERE key = $1", 0, NULL, t.akey) < 0 ||
        q_exec(db, "INSERT INTO oidc_mfa_sessions (session_id, verified_at) VALUES ($1, $2)"
                   " ON CONFLICT (session_id) DO UPDATE SET verified_at = excluded.verified_at", 2, a, NULL) < 0)
      goto db_fail;
    out = json_object();
    if (confirm) {
      json_t *codes = json_array();
      json_object_set_new(out, "recovery_codes", codes);
      if (recovery_issue(db, p->account_id, codes) < 0) goto db_fail;
    }
    json_object_set_new(out, "verified", json_true());
    action = confirm ? "mfa.enrolled" : rcode ? "mfa.verified_recovery" : "mfa.verified";
  } else {
    if (throttle_fail(db, &t, now) < 0) goto db_fail;
    action = "mfa.failed";
  }
  audit_entry_t e = audit_entry_from_req(req, action, "account",
                                         arena_printf(req->arena, "%lld", (long long)p->account_id));
  e.unit_id = p->unit_id;
  if (audit_append(db, &e) < 0 || db_commit(db) < 0) goto db_fail;
  if (ok) {
    http_reply_json(req, 200, out);
    out = NULL;
  } else {
    http_reply_error(req, ERR_BAD_CREDENTIALS, rcode ? "Wrong or used recovery code" : "Wrong code");
  }
  goto done;
db_fail:
  mfa_db_fail(req, db);
done:
  json_decref(out);
  db_pool_release(app->db, db);
}

void oidc_mfa_confirm(http_req_t *req) { mfa_check(req, true); }
void oidc_mfa_verify(http_req_t *req) { mfa_check(req, false); }

/* GET/PUT /api/v1/oidc/mfa/policy {require_for_officials: bool} */
void oidc_mfa_policy(http_req_t *req)
{
  app_t *app = req->app;
  bool put = strcmp(req->method, "PUT") == 0;
  json_t *body = NULL;
  if (put) {
    body = http_body_object(req);
    if (!body) return;
    if (!json_is_boolean(json_object_get(body, "require_for_officials"))) {
      mfa_field(req, "require_for_officials", "require_for_officials must be true or false");
      return;
    }
  }
  db_t *db = mfa_db(req);
  if (!db) return;
  if (db_begin(db) < 0) goto db_fail;
  if (put) {
    bool on = json_is_true(json_object_get(body, "require_for_officials"));
    db_stmt_t *st = db_prepare(db, "UPDATE oidc_mfa_policy SET value = $1 WHERE name = 'require_for_officials'");
    if (!st) goto db_fail;
    db_bind_text(st, 1, on ? "1" : "0");
    int r = db_step(st);
    db_stmt_done(st);
    audit_entry_t e = audit_entry_from_req(req, "mfa.policy", "policy", "require_for_officials");
    e.detail = audit_detail(req->arena, json_pack("{s:b}", "require_for_officials", on));
    if (r < 0 || audit_append(db, &e) < 0) goto db_fail;
  }
  db_stmt_t *sel = db_prepare(db, "SELECT value FROM oidc_mfa_policy WHERE name = 'require_for_officials'");
  if (!sel || db_step(sel) < 0) {
    if (sel) db_stmt_done(sel);
    goto db_fail;
  }
  const char *raw = arena_strdup(req->arena, db_col_text(sel, 0) ? db_col_text(sel, 0) : "default");
  db_stmt_done(sel);
  if (db_commit(db) < 0) goto db_fail;
  http_reply_json(req, 200, json_pack("{s:b,s:s}", "require_for_officials", policy_value(raw), "source",
                                      strcmp(raw, "default") == 0 ? "setting" : "administrator"));
  goto done;
db_fail:
  mfa_db_fail(req, db);
done:
  db_pool_release(app->db, db);
}

/* PUT /api/v1/oidc/mfa/accounts/{id} {required?: bool, reset?: bool} */
void oidc_mfa_account(http_req_t *req)
{
  app_t *app = req->app;
  int64_t id = 0;
  const char *ids = http_param(req, "id");
  char *end = NULL;
  id = ids ? strtoll(ids, &end, 10) : 0;
  if (!ids || !end || *end || id <= 0) {
    mfa_field(req, "id", "id must be a positive account id");
    return;
  }
  json_t *body = http_body_object(req);
  if (!body) return;
  json_t *req_v = json_object_get(body, "required"), *reset_v = json_object_get(body, "reset");
  if ((req_v && !json_is_boolean(req_v)) || (reset_v && !json_is_boolean(reset_v)) || (!req_v && !reset_v)) {
    mfa_field(req, req_v ? "required" : "reset", "send required and/or reset as true or false");
    return;
  }
  db_t *db = mfa_db(req);
  if (!db) return;
  int64_t unit = 0, exists = 0;
  if (db_begin(db) < 0 || q_int(db, "SELECT COUNT(*) FROM accounts WHERE id = $1", NULL, id, &exists) < 0 ||
      q_int(db, "SELECT COALESCE(unit_id, 0) FROM accounts WHERE id = $1", NULL, id, &unit) < 0)
    goto db_fail;
  if (!exists || !identity_can(app, req->principal, "users.write", unit)) {
    db_rollback(db);
    http_reply_error(req, ERR_NOT_FOUND, "No such account");
    goto done;
  }
  if (req_v) {
    int64_t a[2] = {id, json_is_true(req_v) ? 1 : 0};
    if (q_exec(db, "INSERT INTO oidc_mfa_account (account_id, required) VALUES ($1, $2)"
                   " ON CONFLICT (account_id) DO UPDATE SET required = excluded.required", 2, a, NULL) < 0)
      goto db_fail;
  }
  if (reset_v && json_is_true(reset_v)) {
    int64_t a[1] = {id};
    if (q_exec(db, "DELETE FROM oidc_totp WHERE account_id = $1", 1, a, NULL) < 0 ||
        q_exec(db, "DELETE FROM oidc_recovery_codes WHERE account_id = $1", 1, a, NULL) < 0)
      goto db_fail;
  }
  audit_entry_t e = audit_entry_from_req(req, "mfa.account", "account", ids);
  e.unit_id = unit;
  e.detail = audit_detail(req->arena, json_pack("{s:O?,s:O?}", "required", req_v, "reset", reset_v));
  if (audit_append(db, &e) < 0 || db_commit(db) < 0) goto db_fail;
  http_reply_json(req, 200, json_pack("{s:I,s:O?,s:O?}", "account", (json_int_t)id, "required", req_v, "reset",
                                      reset_v));
  goto done;
db_fail:
  mfa_db_fail(req, db);
done:
  db_pool_release(app->db, db);
}

