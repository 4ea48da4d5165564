#include "base/common.h"
#include "identity/identity.h"
#include "identity/identity_internal.h"
#include "base/log.h"

#include <sodium.h>

/*
 * Sign-in: the throttle rule (pure) and the three-step sign-in.
 *
 *   1. short transaction: read the account row (locked on PostgreSQL), apply the
 *      throttle rule; refuse (429/423, audited) or count this attempt as a failure;
 *   2. no transaction: argon2id verify (or a dummy verify for unknown names);
 *   3. short transaction: on success forgive the count, rehash if needed, issue the
 *      session, audit "auth.login"; on failure lock when the count reached the limit,
 *      audit "auth.login_failed".
 */

#define IDENTITY_SLOW_CAP_S 60

/* --- the rule --------------------------------------------------------------------- */

int64_t identity_throttle_delay_s(const config_t *cfg, int64_t failed_count)
{
  int64_t slow = cfg->login_slow_after > 0 ? cfg->login_slow_after : 0;
  if (failed_count <= 0 || failed_count < slow) return 0;
  int64_t e = failed_count - slow;
  if (e >= 6) return IDENTITY_SLOW_CAP_S;   /* 2^6 = 64 > 60 */
  int64_t d = (int64_t)1 << e;
  return d > IDENTITY_SLOW_CAP_S ? IDENTITY_SLOW_CAP_S : d;
}

static int64_t identity_ceil_s(int64_t ms)
{
  int64_t s = (ms + 999) / 1000;
  return s < 1 ? 1 : s;
}

identity_throttle_t identity_throttle_check(const config_t *cfg, const identity_throttle_state_t *st,
                                            int64_t now_ms, int64_t *retry_after_s)
{
  if (retry_after_s) *retry_after_s = 0;
  if (st->locked_until > now_ms) {
    if (retry_after_s) *retry_after_s = identity_ceil_s(st->locked_until - now_ms);
    return IDENTITY_THROTTLE_LOCKED;
  }
  int64_t d = identity_throttle_delay_s(cfg, st->failed_count);
  if (d > 0 && st->last_failed_at > 0 && now_ms < st->last_failed_at + d * 1000) {
    if (retry_after_s) *retry_after_s = identity_ceil_s(st->last_failed_at + d * 1000 - now_ms);
    return IDENTITY_THROTTLE_SLOW;
  }
  return IDENTITY_THROTTLE_ALLOW;
}

void identity_throttle_begin(identity_throttle_state_t *st, int64_t now_ms)
{
  st->failed_count++;
  st->last_failed_at = now_ms;
}

bool identity_throttle_fail(const config_t *cfg, identity_throttle_state_t *st, int64_t now_ms)
{
  if (cfg->login_max_failures > 0 && st->failed_count >= cfg->login_max_failures) {
    int64_t lock_s = cfg->login_lock_s > 0 ? cfg->login_lock_s : 900;
    st->locked_until = now_ms + lock_s * 1000;
    st->failed_count = 0;
    st->last_failed_at = now_ms;
    return true;
  }
  return false;
}

void identity_throttle_success(identity_throttle_state_t *st)
{
  st->failed_count = 0;
  st->last_failed_at = 0;
  st->locked_until = 0;
}

/* --- helpers ---------------------------------------------------------------------- */

static int identity_bind_opt(db_stmt_t *st, int idx, int64_t v)
{
  return v ? db_bind_int64(st, idx, v) : db_bind_null(st, idx);
}

static int identity_store_throttle(db_t *db, int64_t id, const identity_throttle_state_t *t)
{
  int rc = -1;
  db_stmt_t *st = db_prepare(db, "UPDATE accounts SET failed_count = $2, last_failed_at = $3,"
                                 " locked_until = $4 WHERE id = $1");
  if (!st || db_bind_int64(st, 1, id) || db_bind_int64(st, 2, t->failed_count) ||
      identity_bind_opt(st, 3, t->last_failed_at) || identity_bind_opt(st, 4, t->locked_until) ||
      db_step(st) != DB_DONE)
    goto done;
  rc = 0;
done:
  if (st) db_stmt_done(st);
  return rc;
}

/* Reads the throttle columns (locking the row on PostgreSQL). 1 found, 0 not, -1 error. */
static int identity_read_throttle(db_t *db, int64_t id, identity_throttle_state_t *t)
{
  int rc = -1;
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT failed_count, last_failed_at, locked_until FROM accounts"
                            " WHERE id = $1%s", identity_for_update(db));
  db_stmt_t *st = db_prepare(db, sql);
  if (!st || db_bind_int64(st, 1, id)) goto done;
  int s = db_step(st);
  if (s < 0) goto done;
  rc = 0;
  if (s == DB_ROW) {
    t->failed_count = db_col_int64(st, 0);
    t->last_failed_at = db_col_int64(st, 1);
    t->locked_until = db_col_int64(st, 2);
    rc = 1;
  }
done:
  if (st) db_stmt_done(st);
  return rc;
}

static int identity_audit_login(db_t *db, arena_t *a, const audit_entry_t *ctx, const char *action,
                                int64_t account_id, const char *account_kind, int64_t unit_id,
                                bool as_actor, json_t *detail)
{
  audit_entry_t e = *ctx;
  char rid[24];
  e.at = 0;
  e.action = action;
  e.record_type = account_id ? "account" : NULL;
  snprintf(rid, sizeof rid, "%" PRId64, account_id);
  e.record_id = account_id ? rid : NULL;
  e.unit_id = unit_id;
  e.detail = audit_detail(a, detail);
  if (as_actor) {
    e.actor_id = account_id;
    e.actor_kind = account_kind;
  } else {
    e.actor_id = 0;
    e.actor_kind = "anonymous";
  }
  return audit_append(db, &e);
}

/* Unknown user names are throttled exactly like accounts (their counters live in
 * login_unknown), so a 429 or 423 never tells that an account exists; and failures
 * older than the horizon are forgotten for both, so waiting tells nothing either. */
static int64_t identity_forget_ms(const config_t *cfg)
{
  int64_t lock_ms = (int64_t)(cfg->login_lock_s > 0 ? cfg->login_lock_s : 900) * 1000;
  int64_t day_ms = 24LL * 3600 * 1000;
  return lock_ms + 60000 > day_ms ? lock_ms + 60000 : day_ms;
}

static void identity_forget_old(const config_t *cfg, identity_throttle_state_t *t, int64_t now)
{
  if (t->locked_until <= now && t->last_failed_at > 0 && now - t->last_failed_at > identity_forget_ms(cfg))
    t->failed_count = 0;
}

/* The counters of an unknown user name (row created when missing; locked on
 * PostgreSQL). 0 or -1. */
static int identity_unknown_read(db_t *db, const char *uname, int64_t now, identity_throttle_state_t *t)
{
  int rc = -1;
  char sql[160];
  db_stmt_t *st = db_prepare(db, "INSERT INTO login_unknown (username, failed_count, updated_at)"
                                 " VALUES ($1, 0, $2) ON CONFLICT (username) DO NOTHING");
  if (!st || db_bind_text(st, 1, uname) || db_bind_int64(st, 2, now) || db_step(st) != DB_DONE) goto done;
  db_stmt_done(st);
  snprintf(sql, sizeof sql, "SELECT failed_count, last_failed_at, locked_until FROM login_unknown"
                            " WHERE username = $1%s", identity_for_update(db));
  st = db_prepare(db, sql);
  if (!st || db_bind_text(st, 1, uname) || db_step(st) != DB_ROW) goto done;
  t->failed_count = db_col_int64(st, 0);
  t->last_failed_at = db_col_int64(st, 1);
  t->locked_until = db_col_int64(st, 2);
  rc = 0;
done:
  if (st) db_stmt_done(st);
  return rc;
}

/* Stores the counters of an unknown user name and drops rows nobody needs any more
 * (the table holds at most the names tried within the horizon). 0 or -1. */
static int identity_unknown_store(const config_t *cfg, db_t *db, const char *uname,
                                  const identity_throttle_state_t *t, int64_t now)
{
  int rc = -1;
  db_stmt_t *st = db_prepare(db, "UPDATE login_unknown SET failed_count = $2, last_failed_at = $3,"
                                 " locked_until = $4, updated_at = $5 WHERE username = $1");
  if (!st || db_bind_text(st, 1, uname) || db_bind_int64(st, 2, t->failed_count) ||
      identity_bind_opt(st, 3, t->last_failed_at) || identity_bind_opt(st, 4, t->locked_until) ||
      db_bind_int64(st, 5, now) || db_step(st) != DB_DONE)
    goto done;
  db_stmt_done(st);
  st = db_prepare(db, "DELETE FROM login_unknown WHERE updated_at < $1");
  if (!st || db_bind_int64(st, 1, now - identity_forget_ms(cfg)) || db_step(st) != DB_DONE) goto done;
  rc = 0;
done:
  if (st) db_stmt_done(st);
  return rc;
}

/* --- sign-in ---------------------------------------------------------------------- */

int identity_login(const app_t *app, db_t *db, const char *username, const char *password,
                   const audit_entry_t *ctx, identity_login_result_t *out)
{
  const config_t *cfg = app->cfg;
  arena_t *a = arena_new(0);
  db_stmt_t *st = NULL;
  char uname[IDENTITY_USERNAME_MAX + 1] = "";
  char stored[IDENTITY_HASH_MAX] = "";
  char rehash[IDENTITY_HASH_MAX] = "";
  char kind[16] = "";
  char sql[256];
  identity_throttle_state_t t = {0};
  int64_t id = 0, unit_id = 0;
  bool found = false, active = false, ok = false, needs_rehash = false;
  const char *reason = NULL;
  int rc = -1;
  int s;

  audit_entry_t no_ctx;
  memset(&no_ctx, 0, sizeof no_ctx);
  if (!ctx) ctx = &no_ctx;
  memset(out, 0, sizeof *out);
  out->err = ERR_INTERNAL;

  /* 1. the account and the throttle */
  if (identity_username_normalize(username, uname, sizeof uname)) {
    if (db_begin(db)) goto db_fail;
    snprintf(sql, sizeof sql,
             "SELECT id, kind, password_hash, status, failed_count, last_failed_at, locked_until,"
             " unit_id FROM accounts WHERE username = $1%s", identity_for_update(db));
    st = db_prepare(db, sql);
    if (!st || db_bind_text(st, 1, uname)) goto db_fail;
    s = db_step(st);
    if (s < 0) goto db_fail;
    if (s == DB_ROW) {
      found = true;
      id = db_col_int64(st, 0);
      snprintf(kind, sizeof kind, "%s", db_col_text(st, 1) ? db_col_text(st, 1) : "");
      const char *h = db_col_text(st, 2);
      if (h && strlen(h) < sizeof stored) memcpy(stored, h, strlen(h) + 1);
      const char *status = db_col_text(st, 3);
      active = status && strcmp(status, "active") == 0;
      t.failed_count = db_col_int64(st, 4);
      t.last_failed_at = db_col_int64(st, 5);
      t.locked_until = db_col_int64(st, 6);
      unit_id = db_col_int64(st, 7);
    }
    db_stmt_done(st);
    st = NULL;

    int64_t now = clock_now_ms();
    if (!found && identity_unknown_read(db, uname, now, &t)) goto db_fail;
    identity_forget_old(cfg, &t, now);
    identity_throttle_t verdict = identity_throttle_check(cfg, &t, now, &out->retry_after_s);
    if (verdict != IDENTITY_THROTTLE_ALLOW) {
      bool locked = verdict == IDENTITY_THROTTLE_LOCKED;
      if (identity_audit_login(db, a, ctx, "auth.login_failed", id, kind, unit_id, false,
                               json_pack("{s:s}", "reason", locked ? "locked" : "rate_limited")))
        goto db_fail;
      if (db_commit(db)) goto db_fail;
      out->err = locked ? ERR_LOCKED : ERR_RATE_LIMITED;
      rc = 0;
      goto done;
    }
    identity_throttle_begin(&t, now);
    if (found ? identity_store_throttle(db, id, &t) : identity_unknown_store(cfg, db, uname, &t, now))
      goto db_fail;
    if (db_commit(db)) goto db_fail;
  }

  /* 2. the password, outside any transaction */
  if (found && stored[0]) {
    ok = identity_password_verify(cfg, stored, password, &needs_rehash) == 1;
    if (!ok) reason = "bad_password";
    else if (!active) reason = "disabled";
  } else {
    identity_password_dummy_verify(cfg, password);
    reason = found ? "no_password" : "unknown_user";
  }
  if (ok && active && needs_rehash && identity_password_hash(cfg, password, rehash) != 0)
    rehash[0] = '\0';   /* keep the old hash; try again next time */
  if (!needs_rehash) rehash[0] = '\0';

  /* 3. the outcome */
  if (db_begin(db)) goto db_fail;
  int64_t now = clock_now_ms();
  if (ok && active) {
    st = db_prepare(db, rehash[0]
                          ? "UPDATE accounts SET failed_count = 0, last_failed_at = NULL,"
                            " locked_until = NULL, password_hash = $2, updated_at = $3 WHERE id = $1"
                          : "UPDATE accounts SET failed_count = 0, last_failed_at = NULL,"
                            " locked_until = NULL WHERE id = $1");
    if (!st || db_bind_int64(st, 1, id)) goto db_fail;
    if (rehash[0] && (db_bind_text(st, 2, rehash) || db_bind_int64(st, 3, now))) goto db_fail;
    if (db_step(st) != DB_DONE) goto db_fail;
    db_stmt_done(st);
    /* Old session rows of this account are no use to anybody: keep the table small. */
    st = db_prepare(db, "DELETE FROM tokens WHERE account_id = $1 AND kind = 'session' AND"
                        " (expires_at < $2 OR revoked_at < $2)");
    if (!st || db_bind_int64(st, 1, id) || db_bind_int64(st, 2, now - 86400000) ||
        db_step(st) != DB_DONE)
      goto db_fail;
    db_stmt_done(st);
    st = NULL;
    if (identity_token_issue(app, db, id, IDENTITY_TOKEN_SESSION, 0, ctx->ip, out->token,
                             &out->session_id, &out->expires_at))
      goto db_fail;
    if (identity_audit_login(db, a, ctx, "auth.login", id, kind, unit_id, true,
                             json_pack("{s:I, s:b}", "session", (json_int_t)out->session_id,
                                       "rehashed", rehash[0] != '\0')))
      goto db_fail;
    if (db_commit(db)) goto db_fail;
    out->err = ERR_OK;
    out->account_id = id;
    rc = 0;
    goto done;
  }

  bool locked = false;
  if (found) {
    int r = identity_read_throttle(db, id, &t);
    if (r < 0) goto db_fail;
    if (r == 1) {
      locked = identity_throttle_fail(cfg, &t, now);
      if (locked && identity_store_throttle(db, id, &t)) goto db_fail;
    }
  } else if (uname[0]) {
    if (identity_unknown_read(db, uname, now, &t)) goto db_fail;
    locked = identity_throttle_fail(cfg, &t, now);
    if (locked && identity_unknown_store(cfg, db, uname, &t, now)) goto db_fail;
  }
  if (identity_audit_login(db, a, ctx, "auth.login_failed", found ? id : 0, kind, found ? unit_id : 0,
                           false, json_pack("{s:s, s:b}", "reason", reason ? reason : "bad_password",
                                            "locked", locked)))
    goto db_fail;
  if (db_commit(db)) goto db_fail;
  if (locked) {
    out->err = ERR_LOCKED;
    out->retry_after_s = identity_ceil_s(t.locked_until - now);
  } else {
    out->err = ERR_BAD_CREDENTIALS;
  }
  rc = 0;
  goto done;

db_fail:
  log_error(ctx->request_id, "msg=\"sign-in failed on the database\" err=\"%s\"",
            db_errmsg(db));
  sodium_memzero(out->token, sizeof out->token);
  out->err = ERR_INTERNAL;
  db_rollback(db);
done:
  if (st) db_stmt_done(st);
  sodium_memzero(rehash, sizeof rehash);
  sodium_memzero(stored, sizeof stored);
  arena_free(a);
  return rc;
}

/* --- re-checking the password of a signed-in account -------------------------------- */

int identity_password_recheck(const app_t *app, db_t *db, int64_t account_id, const char *password,
                              const audit_entry_t *ctx, identity_login_result_t *out)
{
  const config_t *cfg = app->cfg;
  arena_t *a = arena_new(0);
  db_stmt_t *st = NULL;
  char stored[IDENTITY_HASH_MAX] = "";
  char kind[16] = "";
  char sql[200];
  identity_throttle_state_t t = {0};
  int64_t unit_id = 0;
  int rc = -1, s;

  audit_entry_t no_ctx;
  memset(&no_ctx, 0, sizeof no_ctx);
  if (!ctx) ctx = &no_ctx;
  memset(out, 0, sizeof *out);
  out->err = ERR_INTERNAL;

  /* 1. the throttle, exactly as for a sign-in: guesses through a stolen session are
   *    as slow as guesses at the sign-in form, and count towards the same lock */
  if (db_begin(db)) goto db_fail;
  snprintf(sql, sizeof sql, "SELECT kind, password_hash, failed_count, last_failed_at, locked_until,"
                            " unit_id FROM accounts WHERE id = $1%s", identity_for_update(db));
  st = db_prepare(db, sql);
  if (!st || db_bind_int64(st, 1, account_id)) goto db_fail;
  s = db_step(st);
  if (s < 0) goto db_fail;
  if (s == DB_ROW) {
    snprintf(kind, sizeof kind, "%s", db_col_text(st, 0) ? db_col_text(st, 0) : "");
    const char *h = db_col_text(st, 1);
    if (h && strlen(h) < sizeof stored) memcpy(stored, h, strlen(h) + 1);
    t.failed_count = db_col_int64(st, 2);
    t.last_failed_at = db_col_int64(st, 3);
    t.locked_until = db_col_int64(st, 4);
    unit_id = db_col_int64(st, 5);
  }
  db_stmt_done(st);
  st = NULL;
  if (!stored[0]) {            /* no such account, or one without a password (API client) */
    db_rollback(db);
    out->err = ERR_VALIDATION;
    rc = 0;
    goto done;
  }
  int64_t now = clock_now_ms();
  identity_throttle_t verdict = identity_throttle_check(cfg, &t, now, &out->retry_after_s);
  if (verdict != IDENTITY_THROTTLE_ALLOW) {
    bool locked = verdict == IDENTITY_THROTTLE_LOCKED;
    if (identity_audit_login(db, a, ctx, "auth.login_failed", account_id, kind, unit_id, true,
                             json_pack("{s:s, s:s}", "reason", locked ? "locked" : "rate_limited",
                                       "during", "password_change")))
      goto db_fail;
    if (db_commit(db)) goto db_fail;
    out->err = locked ? ERR_LOCKED : ERR_RATE_LIMITED;
    rc = 0;
    goto done;
  }
  identity_throttle_begin(&t, now);
  if (identity_store_throttle(db, account_id, &t) || db_commit(db)) goto db_fail;

  /* 2. the password, outside any transaction */
  bool ok = identity_password_verify(cfg, stored, password, NULL) == 1;

  /* 3. the outcome */
  if (db_begin(db)) goto db_fail;
  now = clock_now_ms();
  if (ok) {
    identity_throttle_success(&t);
    if (identity_store_throttle(db, account_id, &t) || db_commit(db)) goto db_fail;
    out->err = ERR_OK;
    out->account_id = account_id;
    rc = 0;
    goto done;
  }
  bool locked = false;
  int r = identity_read_throttle(db, account_id, &t);
  if (r < 0) goto db_fail;
  if (r == 1) {
    locked = identity_throttle_fail(cfg, &t, now);
    if (locked && identity_store_throttle(db, account_id, &t)) goto db_fail;
  }
  if (identity_audit_login(db, a, ctx, "auth.login_failed", account_id, kind, unit_id, true,
                           json_pack("{s:s, s:b, s:s}", "reason", "bad_password", "locked", locked,
                                     "during", "password_change")))
    goto db_fail;
  if (db_commit(db)) goto db_fail;
  if (locked) {
    out->err = ERR_LOCKED;
    out->retry_after_s = identity_ceil_s(t.locked_until - now);
  } else {
    out->err = ERR_BAD_CREDENTIALS;
  }
  rc = 0;
  goto done;

db_fail:
  log_error(ctx->request_id, "msg=\"password re-check failed on the database\" err=\"%s\"",
            db_errmsg(db));
  out->err = ERR_INTERNAL;
  db_rollback(db);
done:
  if (st) db_stmt_done(st);
  sodium_memzero(stored, sizeof stored);
  arena_free(a);
  return rc;
}
