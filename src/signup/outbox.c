#include "base/common.h"
#include "signup/outbox.h"
#include "audit/audit.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "module.h"

#include <jansson.h>
#include <sodium.h>

/*
 * The outbox gateway (see outbox.h): leases unsent messages of notification_outbox to
 * an SMS or mail gateway, and records what became of them.
 */

static const char OUTBOX_SQL_1[] =
    "ALTER TABLE notification_outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE notification_outbox ADD COLUMN next_at BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE notification_outbox ADD COLUMN lease_id TEXT;"
    "ALTER TABLE notification_outbox ADD COLUMN lease_until BIGINT;"
    "ALTER TABLE notification_outbox ADD COLUMN failed_at BIGINT;"
    "ALTER TABLE notification_outbox ADD COLUMN last_error TEXT;"
    "CREATE INDEX notification_outbox_lease ON notification_outbox (lease_id);"
    "INSERT INTO roles (name, description) VALUES"
    "  ('outbox_gateway', 'An SMS or mail gateway: claims and sends notification messages')"
    "  ON CONFLICT DO NOTHING;"
    "INSERT INTO role_permissions (role, permission) VALUES"
    "  ('outbox_gateway', 'outbox.send') ON CONFLICT DO NOTHING;";

static const db_migration_t OUTBOX_MIGRATIONS[] = {
  {"outbox", 1, OUTBOX_SQL_1},
};

static const db_migration_t *outbox_migrations(db_kind_t kind, size_t *n)
{
  (void)kind;
  *n = ARRAY_LEN(OUTBOX_MIGRATIONS);
  return OUTBOX_MIGRATIONS;
}

int64_t outbox_backoff_s(int64_t attempts)
{
  if (attempts < 1) attempts = 1;
  int64_t s = OUTBOX_BACKOFF_BASE_S;
  for (int64_t i = 1; i < attempts && s < OUTBOX_BACKOFF_MAX_S; i++) s *= 2;
  return s < OUTBOX_BACKOFF_MAX_S ? s : OUTBOX_BACKOFF_MAX_S;
}

/* --- storage ------------------------------------------------------------------------- */

/* Messages whose lease ran out on their last allowed attempt are given up. */
static int give_up_expired(db_t *db, int64_t now)
{
  db_stmt_t *st = db_prepare(db, "UPDATE notification_outbox SET failed_at = $1, body = '', lease_id = NULL,"
                                 " last_error = COALESCE(last_error, 'lease expired')"
                                 " WHERE sent_at IS NULL AND failed_at IS NULL AND attempts >= $2"
                                 " AND lease_until IS NOT NULL AND lease_until <= $1");
  if (!st) return -1;
  db_bind_int64(st, 1, now);
  db_bind_int64(st, 2, OUTBOX_MAX_ATTEMPTS);
  int r = db_step(st);
  db_stmt_done(st);
  return r < 0 ? -1 : 0;
}

int outbox_claim(db_t *db, const char *channel, int64_t limit, int64_t lease_s, int64_t now,
                 char lease[OUTBOX_LEASE_HEX], json_t *out)
{
  unsigned char raw[16];
  randombytes_buf(raw, sizeof raw);
  text_hex(raw, sizeof raw, lease);
  if (give_up_expired(db, now) < 0) return -1;
  /* One statement picks and leases: SQLite runs it under the write lock of BEGIN
   * IMMEDIATE; PostgreSQL skips rows another claimer holds and re-checks a row that
   * was leased meanwhile (READ COMMITTED follows the update), so no row is leased twice. */
  db_stmt_t *st = db_prepare(
      db, db_kind(db) == DB_POSTGRES
              ? "UPDATE notification_outbox SET lease_id = $1, lease_until = $2, attempts = attempts + 1"
                " WHERE id IN (SELECT id FROM notification_outbox WHERE sent_at IS NULL AND failed_at IS NULL"
                " AND next_at <= $3 AND attempts < $4 AND (lease_until IS NULL OR lease_until <= $3)"
                " AND ($5 = '' OR channel = $5) ORDER BY id LIMIT $6 FOR UPDATE SKIP LOCKED)"
              : "UPDATE notification_outbox SET lease_id = $1, lease_until = $2, attempts = attempts + 1"
                " WHERE id IN (SELECT id FROM notification_outbox WHERE sent_at IS NULL AND failed_at IS NULL"
                " AND next_at <= $3 AND attempts < $4 AND (lease_until IS NULL OR lease_until <= $3)"
                " AND ($5 = '' OR channel = $5) ORDER BY id LIMIT $6)");
  if (!st) return -1;
  db_bind_text(st, 1, lease);
  db_bind_int64(st, 2, now + lease_s * 1000);
  db_bind_int64(st, 3, now);
  db_bind_int64(st, 4, OUTBOX_MAX_ATTEMPTS);
  db_bind_text(st, 5, channel ? channel : "");
  db_bind_int64(st, 6, limit);
  int r = db_step(st);
  db_stmt_done(st);
  if (r < 0) return -1;
  st = db_prepare(db, "SELECT id, channel, destination, subject, body, attempts FROM notification_outbox"
                      " WHERE lease_id = $1 ORDER BY id");
  if (!st) return -1;
  db_bind_text(st, 1, lease);
  while ((r = db_step(st)) == DB_ROW) {
    json_array_append_new(out, json_pack("{s:I,s:s,s:s,s:s,s:s,s:I}", "id", (json_int_t)db_col_int64(st, 0),
                                         "channel", db_col_text(st, 1), "destination", db_col_text(st, 2),
                                         "subject", db_col_text(st, 3), "body", db_col_text(st, 4), "attempt",
                                         (json_int_t)db_col_int64(st, 5)));
  }
  db_stmt_done(st);
  return r < 0 ? -1 : 0;
}

int outbox_mark_sent(db_t *db, int64_t id, const char *lease, int64_t now)
{
  db_stmt_t *st = db_prepare(db, "UPDATE notification_outbox SET sent_at = $3, body = '', lease_id = NULL,"
                                 " lease_until = NULL WHERE id = $1 AND lease_id = $2 AND sent_at IS NULL"
                                 " AND failed_at IS NULL");
  if (!st) return -1;
  db_bind_int64(st, 1, id);
  db_bind_text(st, 2, lease);
  db_bind_int64(st, 3, now);
  int r = db_step(st);
  int64_t n = r < 0 ? 0 : db_changes(st);
  db_stmt_done(st);
  return r < 0 ? -1 : n > 0 ? 1 : 0;
}

int outbox_mark_failed(db_t *db, int64_t id, const char *lease, const char *reason, int64_t now,
                       int64_t *next_at)
{
  *next_at = 0;
  db_stmt_t *st = db_prepare(db, db_kind(db) == DB_POSTGRES
                                     ? "SELECT attempts FROM notification_outbox WHERE id = $1 AND lease_id = $2"
                                       " AND sent_at IS NULL AND failed_at IS NULL FOR UPDATE"
                                     : "SELECT attempts FROM notification_outbox WHERE id = $1 AND lease_id = $2"
                                       " AND sent_at IS NULL AND failed_at IS NULL");
  if (!st) return -1;
  db_bind_int64(st, 1, id);
  db_bind_text(st, 2, lease);
  int r = db_step(st);
  int64_t attempts = r == DB_ROW ? db_col_int64(st, 0) : 0;
  db_stmt_done(st);
  if (r < 0) return -1;
  if (r != DB_ROW) return 0;
  bool give_up = attempts >= OUTBOX_MAX_ATTEMPTS;
  if (!give_up) *next_at = now + outbox_backoff_s(attempts) * 1000;
  st = db_prepare(db, give_up ? "UPDATE notification_outbox SET failed_at = $2, body = '', lease_id = NULL,"
                                " lease_until = NULL, last_error = $3 WHERE id = $1"
                              : "UPDATE notification_outbox SET next_at = $2, lease_id = NULL,"
                                " lease_until = NULL, last_error = $3 WHERE id = $1");
  if (!st) return -1;
  db_bind_int64(st, 1, id);
  db_bind_int64(st, 2, give_up ? now : *next_at);
  db_bind_text(st, 3, reason);
  r = db_step(st);
  db_stmt_done(st);
  return r < 0 ? -1 : give_up ? 2 : 1;
}

/* --- routes ------------------------------------------------------------------------------ */

static void bad_field(http_req_t *req, const char *field, const char *msg)
{
  http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", field), "%s", msg);
}

static void db_fail(http_req_t *req, db_t *db)
{
  log_error(req->request_id, "msg=\"outbox database error\" path=\"%s\" err=\"%s\"", req->path,
            db ? db_errmsg(db) : "pool");
  if (db) db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
}

/* Optional integer field within [lo, hi] (default def). false after answering. */
static bool int_field(http_req_t *req, json_t *body, const char *name, int64_t lo, int64_t hi, int64_t def,
                      int64_t *out)
{
  json_t *v = json_object_get(body, name);
  *out = def;
  if (!v || json_is_null(v)) return true;
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
    bad_field(req, name, arena_printf(req->arena, "%s must be an integer from %lld to %lld", name, (long long)lo,
                                      (long long)hi));
    return false;
  }
  *out = json_integer_value(v);
  return true;
}

static bool lease_well_formed(const char *s)
{
  if (!s || strlen(s) != OUTBOX_LEASE_HEX - 1) return false;
  for (size_t i = 0; s[i]; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

static void h_claim(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  int64_t limit = 0, lease_s = 0;
  json_t *body = http_body_object(req);
  if (!body) return;
  if (!int_field(req, body, "limit", 1, OUTBOX_CLAIM_MAX, 10, &limit) ||
      !int_field(req, body, "lease_seconds", OUTBOX_LEASE_MIN_S, OUTBOX_LEASE_MAX_S, 60, &lease_s))
    return;
  json_t *ch = json_object_get(body, "channel");
  const char *channel = NULL;
  if (ch && !json_is_null(ch)) {
    channel = json_string_value(ch);
    if (!channel || (strcmp(channel, "sms") != 0 && strcmp(channel, "email") != 0)) {
      bad_field(req, "channel", "channel must be sms or email (or absent for both)");
      return;
    }
  }
  db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  char lease[OUTBOX_LEASE_HEX];
  json_t *msgs = json_arena_own(req->arena, json_array());
  int64_t now = clock_now_ms();
  if (db_begin(db) < 0 || outbox_claim(db, channel, limit, lease_s, now, lease, msgs) < 0) goto fail;
  if (json_array_size(msgs) > 0) {
    /* The messages carry personal data (phone numbers, e-mail addresses, codes): who
     * took which is on the record. */
    json_t *ids = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) json_array_append(ids, json_object_get(m, "id"));
    audit_entry_t e = audit_entry_from_req(req, "outbox.claim", "outbox_lease", lease);
    e.detail = audit_detail(req->arena, json_pack("{s:o,s:I}", "ids", ids, "lease_seconds", (json_int_t)lease_s));
    if (audit_append(db, &e) < 0) goto fail;
  }
  if (db_commit(db) < 0) goto fail;
  http_reply_json(req, 200, json_pack("{s:s,s:I,s:O}", "lease", lease, "lease_until", (json_int_t)(now + lease_s * 1000),
                                      "messages", msgs));
  goto done;
fail:
  db_fail(req, db);
done:
  sodium_memzero(lease, sizeof lease);
  db_pool_release(app->db, db);
}

/* The message id of the path, or 0 after answering 404. */
static int64_t path_id(http_req_t *req)
{
  const char *s = http_param(req, "id");
  int64_t v = 0;
  if (!s || !*s || strlen(s) > 18) goto bad;
  for (size_t i = 0; s[i]; i++) {
    if (s[i] < '0' || s[i] > '9') goto bad;
    v = v * 10 + (s[i] - '0');
  }
  if (v > 0) return v;
bad:
  http_reply_error(req, ERR_NOT_FOUND, "No such message");
  return 0;
}

/* Answers for a message that is not (any longer) under this lease. */
static void reply_not_leased(http_req_t *req, db_t *db, int64_t id)
{
  db_stmt_t *st = db_prepare(db, "SELECT id FROM notification_outbox WHERE id = $1");
  int r = -1;
  if (st) {
    db_bind_int64(st, 1, id);
    r = db_step(st);
    db_stmt_done(st);
  }
  if (r < 0) {
    db_fail(req, db);
  } else if (r != DB_ROW) {
    http_reply_error(req, ERR_NOT_FOUND, "No such message");
  } else {
    http_reply_error(req, ERR_CONFLICT,
                     "The message is not under this lease (it expired and was claimed again, or it is done)");
  }
}

static void h_sent(http_req_t *req)
{
  app_t *app = req->app;
  json_t *body = http_body_object(req);
  if (!body) return;
  int64_t id = path_id(req);
  if (!id) return;
  const char *lease = json_get_str(body, "lease");
  if (!lease_well_formed(lease)) {
    bad_field(req, "lease", "lease must be the lease of the claim (32 hex digits)");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  int r = outbox_mark_sent(db, id, lease, clock_now_ms());
  if (r < 0) {
    db_fail(req, db);
  } else if (r == 0) {
    reply_not_leased(req, db, id);
  } else {
    http_reply_json(req, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id, "status", "sent"));
  }
  db_pool_release(app->db, db);
}

static void h_failed(http_req_t *req)
{
  app_t *app = req->app;
  json_t *body = http_body_object(req);
  if (!body) return;
  int64_t id = path_id(req);
  if (!id) return;
  const char *lease = json_get_str(body, "lease");
  const char *reason = json_get_str(body, "reason");
  if (!lease_well_formed(lease)) {
    bad_field(req, "lease", "lease must be the lease of the claim (32 hex digits)");
    return;
  }
  if (!reason || !*reason || strlen(reason) > OUTBOX_REASON_MAX || !text_utf8_valid(reason, strlen(reason))) {
    bad_field(req, "reason", "reason must be 1 to 500 bytes of text");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  int64_t next_at = 0;
  if (db_begin(db) < 0) goto fail;
  int r = outbox_mark_failed(db, id, lease, reason, clock_now_ms(), &next_at);
  if (r < 0) goto fail;
  if (r == 0) {
    db_rollback(db);
    reply_not_leased(req, db, id);
    goto done;
  }
  audit_entry_t e = audit_entry_from_req(req, r == 2 ? "outbox.gave_up" : "outbox.failed", "outbox",
                                         arena_printf(req->arena, "%lld", (long long)id));
  e.detail = audit_detail(req->arena, json_pack("{s:s}", "reason", reason));
  if (audit_append(db, &e) < 0 || db_commit(db) < 0) goto fail;
  if (r == 2) {
    http_reply_json(req, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id, "status", "gave_up"));
  } else {
    http_reply_json(req, 200, json_pack("{s:I,s:s,s:I}", "id", (json_int_t)id, "status", "retry", "next_at",
                                        (json_int_t)next_at));
  }
  goto done;
fail:
  db_fail(req, db);
done:
  db_pool_release(app->db, db);
}

static const http_route_t OUTBOX_ROUTES[] = {
  {"POST", "/api/v1/outbox/claim", h_claim, "outbox.send", 1024,
   "Gateway: lease up to `limit` unsent SMS / e-mail messages for `lease_seconds` (audited)"},
  {"POST", "/api/v1/outbox/{id}/sent", h_sent, "outbox.send", 1024,
   "Gateway: the leased message was handed to the carrier (its body is blanked)"},
  {"POST", "/api/v1/outbox/{id}/failed", h_failed, "outbox.send", 2048,
   "Gateway: sending failed; retried later with back-off, given up after 5 attempts"},
};

static const http_route_t *outbox_routes(size_t *n)
{
  *n = ARRAY_LEN(OUTBOX_ROUTES);
  return OUTBOX_ROUTES;
}

/* `cityos outbox send --smtp HOST:PORT --from ADDRESS` (outbox_smtp.c): one command. */
extern const cli_command_t OUTBOX_COMMANDS[1];

static const module_t OUTBOX_MODULE = {
  .name = "outbox",
  .order = 111,
  .migrations = outbox_migrations,
  .routes = outbox_routes,
  .commands = OUTBOX_COMMANDS,
  .ncommands = 1,
};
MODULE_REGISTER(OUTBOX_MODULE)
