#include "base/common.h"
#include "signup/signup.h"
#include "audit/audit.h"
#include "base/cccd.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "identity/identity.h"

#include <jansson.h>
#include <sodium.h>

/*
 * The four public routes of sign-up and password reset (see signup.h).
 */

/* --- small helpers --------------------------------------------------------------------- */

static void bad_field(http_req_t *req, const char *field, const char *msg)
{
  http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", field), "%s", msg);
}

static void db_fail(http_req_t *req, db_t *db)
{
  log_error(req->request_id, "msg=\"signup database error\" path=\"%s\" err=\"%s\"", req->path,
            db ? db_errmsg(db) : "pool");
  if (db) db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
}

static void reply_accepted(http_req_t *req)
{
  http_reply_json(req, 202, json_pack("{s:s,s:i}", "status", "accepted", "expires_in", SIGNUP_CODE_TTL_S));
}

static void reply_throttled(http_req_t *req, int64_t retry_s)
{
  char v[24];
  snprintf(v, sizeof v, "%lld", (long long)retry_s);
  http_add_header(req, "Retry-After", v);
  http_reply_error(req, ERR_RATE_LIMITED, "Too many requests for a code; try again in %lld s", (long long)retry_s);
}

static void reply_bad_code(http_req_t *req)
{
  bad_field(req, "code", "The code is wrong, used or expired; ask for a new one");
}

static void reply_password(http_req_t *req, const char *field, identity_pw_status_t ps)
{
  bad_field(req, field, identity_password_problem(ps));
}

static bool code_well_formed(const char *c)
{
  if (!c || strlen(c) != 6) return false;
  for (int i = 0; i < 6; i++)
    if (c[i] < '0' || c[i] > '9') return false;
  return true;
}

/* Counts the attempt on the address and the subject. 0 allowed, 1 throttled (answered),
 * -1 database error. */
static int throttle(http_req_t *req, db_t *db, const char *subject_key, int64_t now)
{
  char ikey[96];
  int64_t retry = 0;
  snprintf(ikey, sizeof ikey, "ip:%s", req->client_ip ? req->client_ip : "?");
  int r = signup_throttle_hit(db, ikey, SIGNUP_IP_MAX, now, &retry);
  if (r == 0) r = signup_throttle_hit(db, subject_key, SIGNUP_SUBJECT_MAX, now, &retry);
  if (r == 1) reply_throttled(req, retry);
  return r;
}

/* The opening of both start steps: a connection, a transaction, one attempt counted on
 * the caller's address and on subject_key. START_GO: go on in the open transaction;
 * START_ANSWERED: answered (no database, or throttled and committed); START_DB_FAILED:
 * for the caller to report (*db may be held). */
enum { START_GO, START_ANSWERED, START_DB_FAILED };

static int start_begin(http_req_t *req, db_t **db, const char *subject_key, int64_t now)
{
  app_t *app = req->app;
  *db = db_pool_acquire(app->db);
  if (!*db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return START_ANSWERED;
  }
  if (db_begin(*db) < 0) return START_DB_FAILED;
  int t = throttle(req, *db, subject_key, now);
  if (t < 0) return START_DB_FAILED;
  if (t == 1) return db_commit(*db) < 0 ? START_DB_FAILED : START_ANSWERED;
  return START_GO;
}

/* --- sign-up ------------------------------------------------------------------------------ */

static void h_signup_start(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  cccd_info_t info;
  json_t *body = http_body_object(req);
  if (!body) return;
  const char *cccd = json_get_str(body, "cccd");
  const char *birth = json_get_str(body, "birth_date");
  const char *channel = json_get_str(body, "channel");
  const char *dest = json_get_str(body, "destination");
  if (!cccd || cccd_parse(cccd, &info) != CCCD_OK) {
    bad_field(req, "cccd", "cccd must be a valid 12-digit CCCD");
    goto done;
  }
  if (!birth || !cccd_date_valid(birth, NULL, NULL, NULL)) {
    bad_field(req, "birth_date", "birth_date must be a date YYYY-MM-DD");
    goto done;
  }
  if (!channel || (strcmp(channel, "sms") != 0 && strcmp(channel, "email") != 0)) {
    bad_field(req, "channel", "channel must be sms or email");
    goto done;
  }
  if (!signup_destination_valid(channel, dest)) {
    bad_field(req, "destination", strcmp(channel, "sms") == 0 ? "destination must be a Vietnamese phone number"
                                                                : "destination must be an e-mail address");
    goto done;
  }
  int64_t now = clock_now_ms();
  int sb = start_begin(req, &db, arena_printf(req->arena, "cccd:%s", cccd), now);
  if (sb == START_DB_FAILED) goto fail;
  if (sb == START_ANSWERED) goto done;
  db_stmt_t *st = db_prepare(db, "SELECT r.birth_date, (SELECT COUNT(*) FROM accounts a"
                                 " WHERE a.cccd = r.cccd OR a.username = r.cccd)"
                                 " FROM residents r WHERE r.cccd = $1");
  if (!st) goto fail;
  db_bind_text(st, 1, cccd);
  int r = db_step(st);
  bool match = false, has_account = false;
  if (r == DB_ROW) {
    const char *bd = db_col_text(st, 0);
    match = bd && strcmp(bd, birth) == 0;
    has_account = db_col_int64(st, 1) > 0;
  }
  db_stmt_done(st);
  if (r < 0) goto fail;
  const char *action = !match ? "signup.start_refused" : has_account ? "signup.start_existing" : "signup.start";
  if (match && !has_account && signup_code_issue(db, "signup", cccd, channel, dest, now) < 0) goto fail;
  audit_entry_t e = audit_entry_from_req(req, action, "resident", cccd);
  e.detail = audit_detail(req->arena, json_pack("{s:s}", "channel", channel));
  if (audit_append(db, &e) < 0 || db_commit(db) < 0) goto fail;
  reply_accepted(req);
  goto done;
fail:
  db_fail(req, db);
done:
  if (db) db_pool_release(app->db, db);
}

enum { FINISH_DB_FAILED = -2, FINISH_ANSWERED = -1, FINISH_BAD_CODE = 0, FINISH_CODE_OK = 1 };

/* The first half of both finish steps (sign-up, reset): the code's form, the new
 * password against the policy (`pw_field` names it in errors), a live code for
 * (purpose, subject), the password hashed into `hash` (the slow part, outside any
 * transaction), then a transaction that consumes the code. Returns FINISH_CODE_OK or
 * FINISH_BAD_CODE with the transaction open and *db held; FINISH_ANSWERED after an
 * error reply; FINISH_DB_FAILED for the caller to report (*db may be held). */
static int finish_begin(http_req_t *req, const char *purpose, const char *subject, const char *code,
                        const char *pw_field, const char *password, db_t **db, char *hash)
{
  app_t *app = req->app;
  if (!code_well_formed(code)) {
    bad_field(req, "code", "code must be the 6 digits that were sent");
    return FINISH_ANSWERED;
  }
  if (!password) {
    bad_field(req, pw_field, arena_printf(req->arena, "%s is required", pw_field));
    return FINISH_ANSWERED;
  }
  identity_pw_status_t ps = identity_password_check(password, subject);
  if (ps != IDENTITY_PW_OK) {
    reply_password(req, pw_field, ps);
    return FINISH_ANSWERED;
  }
  *db = db_pool_acquire(app->db);
  if (!*db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return FINISH_ANSWERED;
  }
  int live = signup_code_live(*db, purpose, subject, clock_now_ms());
  if (live < 0) return FINISH_DB_FAILED;
  if (live == 0) {
    reply_bad_code(req);
    return FINISH_ANSWERED;
  }
  if (identity_password_hash(app->cfg, password, hash) != 0) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return FINISH_ANSWERED;
  }
  if (db_begin(*db) < 0) return FINISH_DB_FAILED;
  int ok = signup_code_consume(*db, purpose, subject, code, clock_now_ms());
  return ok < 0 ? FINISH_DB_FAILED : ok ? FINISH_CODE_OK : FINISH_BAD_CODE;
}

static void h_signup_finish(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  cccd_info_t info;
  char hash[IDENTITY_HASH_MAX];
  json_t *body = http_body_object(req);
  if (!body) return;
  const char *cccd = json_get_str(body, "cccd");
  const char *code = json_get_str(body, "code");
  const char *password = json_get_str(body, "password");
  if (!cccd || cccd_parse(cccd, &info) != CCCD_OK) {
    bad_field(req, "cccd", "cccd must be a valid 12-digit CCCD");
    goto done;
  }
  int ok = finish_begin(req, "signup", cccd, code, "password", password, &db, hash);
  if (ok == FINISH_ANSWERED) goto done;
  if (ok == FINISH_DB_FAILED) goto fail;
  if (ok == 0) {
    audit_entry_t e = audit_entry_from_req(req, "signup.code_failed", "resident", cccd);
    if (audit_append(db, &e) < 0 || db_commit(db) < 0) goto fail;
    reply_bad_code(req);
    goto done;
  }
  db_stmt_t *st = db_prepare(db, "SELECT full_name, birth_date, sex FROM residents WHERE cccd = $1");
  if (!st) goto fail;
  db_bind_text(st, 1, cccd);
  int r = db_step(st);
  identity_new_account_t acc = {.kind = "citizen", .username = cccd, .password = password, .cccd = cccd};
  if (r == DB_ROW) {
    acc.full_name = arena_strdup(req->arena, db_col_text(st, 0));
    acc.birth_date = arena_strdup(req->arena, db_col_text(st, 1));
    acc.sex = arena_strdup(req->arena, db_col_text(st, 2));
  }
  db_stmt_done(st);
  if (r < 0) goto fail;
  if (r != DB_ROW) {   /* removed from the register since the code was sent */
    db_rollback(db);
    reply_bad_code(req);
    goto done;
  }
  identity_problem_t prob;
  int64_t id = 0;
  audit_entry_t ctx = audit_entry_from_req(req, NULL, NULL, NULL);
  if (identity_account_validate(req->arena, &acc, &prob) != 0 ||
      identity_account_insert(req->arena, db, &acc, hash, &ctx, &id, &prob) != 0) {
    db_rollback(db);
    if (prob.err == ERR_INTERNAL) {
      http_reply_error(req, ERR_INTERNAL, NULL);
    } else {
      http_reply_error_detail(req, prob.err, prob.field ? json_pack("{s:s}", "field", prob.field) : NULL, "%s",
                              prob.err == ERR_CONFLICT ? "An account for this CCCD already exists" : prob.message);
    }
    goto done;
  }
  st = db_prepare(db, "INSERT INTO signup_contacts (account_id, channel, destination, updated_at)"
                      " SELECT $1, channel, destination, $2 FROM signup_codes WHERE purpose = 'signup'"
                      " AND subject = $3");
  if (!st) goto fail;
  db_bind_int64(st, 1, id);
  db_bind_int64(st, 2, clock_now_ms());
  db_bind_text(st, 3, cccd);
  r = db_step(st);
  db_stmt_done(st);
  if (r < 0) goto fail;
  audit_entry_t e = audit_entry_from_req(req, "signup.complete", "account", arena_printf(req->arena, "%lld", (long long)id));
  e.actor_id = id;
  e.actor_kind = "citizen";
  if (audit_append(db, &e) < 0 || db_commit(db) < 0) goto fail;
  http_reply_json(req, 201, json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)id, "kind", "citizen", "username", cccd,
                                      "full_name", acc.full_name));
  goto done;
fail:
  db_fail(req, db);
done:
  sodium_memzero(hash, sizeof hash);
  if (db) db_pool_release(app->db, db);
}

/* --- password reset ------------------------------------------------------------------------ */

/* The user name lower-cased into the arena, or NULL when not 1..IDENTITY_USERNAME_MAX
 * printable ASCII bytes. */
static char *norm_username(arena_t *a, const char *u)
{
  size_t n = u ? strlen(u) : 0;
  if (n == 0 || n > IDENTITY_USERNAME_MAX) return NULL;
  char *out = arena_strdup(a, u);
  for (size_t i = 0; i < n; i++) {
    if (out[i] <= ' ' || out[i] >= 127) return NULL;
    if (out[i] >= 'A' && out[i] <= 'Z') out[i] = (char)(out[i] - 'A' + 'a');
  }
  return out;
}

static void h_reset_start(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  json_t *body = http_body_object(req);
  if (!body) return;
  char *user = norm_username(req->arena, json_get_str(body, "username"));
  if (!user) {
    bad_field(req, "username", "username is required");
    goto done;
  }
  int64_t now = clock_now_ms();
  int sb = start_begin(req, &db, arena_printf(req->arena, "user:%s", user), now);
  if (sb == START_DB_FAILED) goto fail;
  if (sb == START_ANSWERED) goto done;
  db_stmt_t *st = db_prepare(db, "SELECT a.id, c.channel, c.destination FROM accounts a"
                                 " JOIN signup_contacts c ON c.account_id = a.id"
                                 " WHERE a.username = $1 AND a.status = 'active'");
  if (!st) goto fail;
  db_bind_text(st, 1, user);
  int r = db_step(st);
  int64_t id = 0;
  const char *channel = NULL, *dest = NULL;
  if (r == DB_ROW) {
    id = db_col_int64(st, 0);
    channel = arena_strdup(req->arena, db_col_text(st, 1));
    dest = arena_strdup(req->arena, db_col_text(st, 2));
  }
  db_stmt_done(st);
  if (r < 0) goto fail;
  if (id && signup_code_issue(db, "reset", user, channel, dest, now) < 0) goto fail;
  audit_entry_t e = audit_entry_from_req(req, id ? "password.reset_start" : "password.reset_refused", "account",
                                         id ? arena_printf(req->arena, "%lld", (long long)id) : user);
  if (audit_append(db, &e) < 0 || db_commit(db) < 0) goto fail;
  reply_accepted(req);
  goto done;
fail:
  db_fail(req, db);
done:
  if (db) db_pool_release(app->db, db);
}

static void h_reset_finish(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  char hash[IDENTITY_HASH_MAX];
  json_t *body = http_body_object(req);
  if (!body) return;
  char *user = norm_username(req->arena, json_get_str(body, "username"));
  const char *code = json_get_str(body, "code");
  const char *password = json_get_str(body, "new_password");
  if (!user) {
    bad_field(req, "username", "username is required");
    goto done;
  }
  int ok = finish_begin(req, "reset", user, code, "new_password", password, &db, hash);
  if (ok == FINISH_ANSWERED) goto done;
  if (ok == FINISH_DB_FAILED) goto fail;
  int64_t id = 0;
  if (ok == 1) {
    db_stmt_t *st = db_prepare(db, "SELECT id FROM accounts WHERE username = $1 AND status = 'active'");
    if (!st) goto fail;
    db_bind_text(st, 1, user);
    int r = db_step(st);
    if (r == DB_ROW) id = db_col_int64(st, 0);
    db_stmt_done(st);
    if (r < 0) goto fail;
    if (!id) {   /* disabled since the code was sent */
      db_rollback(db);
      reply_bad_code(req);
      goto done;
    }
    if (identity_account_set_password(db, id, hash, 0) < 0) goto fail;
  }
  audit_entry_t e = audit_entry_from_req(req, ok == 1 ? "password.reset" : "password.reset_code_failed", "account",
                                         id ? arena_printf(req->arena, "%lld", (long long)id) : user);
  if (id) {
    e.actor_id = id;
  }
  if (audit_append(db, &e) < 0 || db_commit(db) < 0) goto fail;
  if (ok != 1) {
    reply_bad_code(req);
    goto done;
  }
  http_reply_json(req, 200, json_pack("{s:s}", "status", "password_changed"));
  goto done;
fail:
  db_fail(req, db);
done:
  sodium_memzero(hash, sizeof hash);
  if (db) db_pool_release(app->db, db);
}

static const http_route_t SIGNUP_ROUTES[] = {
  {"POST", "/api/v1/signup/start", h_signup_start, HTTP_PUBLIC, 4096,
   "Citizen sign-up, step 1: CCCD + birth date checked against the register; a one-time code is sent"},
  {"POST", "/api/v1/signup/finish", h_signup_finish, HTTP_PUBLIC, 4096,
   "Citizen sign-up, step 2: the code and a password create the citizen account"},
  {"POST", "/api/v1/password-reset/start", h_reset_start, HTTP_PUBLIC, 4096,
   "Password reset, step 1: a one-time code is sent to the contact recorded at sign-up"},
  {"POST", "/api/v1/password-reset/finish", h_reset_finish, HTTP_PUBLIC, 4096,
   "Password reset, step 2: the code sets a new password and signs out every session"},
};

const http_route_t *signup_routes(size_t *n)
{
  *n = ARRAY_LEN(SIGNUP_ROUTES);
  return SIGNUP_ROUTES;
}
