#include "base/common.h"
#include "audit/audit.h"
#include "base/log.h"
#include "base/text.h"
#include "http/auth.h"

#include <sodium.h>

/* --- migrations ------------------------------------------------------------------ */

static const char AUDIT_SQL_TABLES[] =
  "CREATE TABLE audit_log ("
  "  id {{ID}},"
  "  seq BIGINT NOT NULL UNIQUE,"
  "  at BIGINT NOT NULL,"
  "  actor_id BIGINT,"
  "  actor_kind TEXT,"
  "  action TEXT NOT NULL,"
  "  record_type TEXT,"
  "  record_id TEXT,"
  "  unit_id BIGINT,"
  "  ip TEXT,"
  "  request_id TEXT,"
  "  detail TEXT,"
  "  prev_hash TEXT NOT NULL,"
  "  hash TEXT NOT NULL"
  ");"
  "CREATE INDEX audit_log_at ON audit_log (at);"
  "CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);"
  "CREATE INDEX audit_log_record ON audit_log (record_type, record_id, seq);"
  "CREATE INDEX audit_log_action ON audit_log (action, seq);"
  "CREATE INDEX audit_log_unit ON audit_log (unit_id, seq);"
  "CREATE TABLE audit_head ("
  "  id INTEGER PRIMARY KEY CHECK (id = 1),"
  "  seq BIGINT NOT NULL,"
  "  last_hash TEXT NOT NULL"
  ");"
  "INSERT INTO audit_head (id, seq, last_hash) VALUES (1, 0, '" AUDIT_ZERO_HASH "');";

static const char AUDIT_SQL_TRIGGERS_SQLITE[] =
  "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
  "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
  "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
  "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
  "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
  "BEGIN SELECT RAISE(ABORT, 'audit_head cannot be deleted'); END;"
  "CREATE TRIGGER audit_head_no_rewind BEFORE UPDATE ON audit_head "
  "WHEN NEW.seq < OLD.seq OR NEW.id <> OLD.id "
  "BEGIN SELECT RAISE(ABORT, 'audit_head cannot move back'); END;";

static const char AUDIT_SQL_TRIGGERS_PG[] =
  "CREATE OR REPLACE FUNCTION audit_log_forbid() RETURNS trigger LANGUAGE plpgsql AS $$\n"
  "BEGIN\n"
  "  RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;\n"
  "END\n"
  "$$;\n"
  "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log "
  "FOR EACH ROW EXECUTE FUNCTION audit_log_forbid();\n"
  "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
  "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_forbid();\n"
  "CREATE OR REPLACE FUNCTION audit_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$\n"
  "BEGIN\n"
  "  IF TG_OP <> 'UPDATE' THEN\n"
  "    RAISE EXCEPTION 'audit_head cannot be deleted';\n"
  "  END IF;\n"
  "  IF NEW.seq < OLD.seq OR NEW.id <> OLD.id THEN\n"
  "    RAISE EXCEPTION 'audit_head cannot move back';\n"
  "  END IF;\n"
  "  RETURN NEW;\n"
  "END\n"
  "$$;\n"
  "CREATE TRIGGER audit_head_guard BEFORE UPDATE OR DELETE ON audit_head "
  "FOR EACH ROW EXECUTE FUNCTION audit_head_guard();\n"
  "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
  "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_forbid();\n";

static const db_migration_t AUDIT_MIGRATIONS_SQLITE[] = {
  {"audit", 1, AUDIT_SQL_TABLES},
  {"audit", 2, AUDIT_SQL_TRIGGERS_SQLITE},
};

static const db_migration_t AUDIT_MIGRATIONS_PG[] = {
  {"audit", 1, AUDIT_SQL_TABLES},
  {"audit", 2, AUDIT_SQL_TRIGGERS_PG},
};

const db_migration_t *audit_migrations(db_kind_t kind, size_t *n)
{
  if (kind == DB_POSTGRES) {
    *n = ARRAY_LEN(AUDIT_MIGRATIONS_PG);
    return AUDIT_MIGRATIONS_PG;
  }
  *n = ARRAY_LEN(AUDIT_MIGRATIONS_SQLITE);
  return AUDIT_MIGRATIONS_SQLITE;
}

/* --- entries ---------------------------------------------------------------------- */

static const char *audit_principal_kind(int kind)
{
  switch (kind) {
  case PRINCIPAL_CITIZEN: return "citizen";
  case PRINCIPAL_OFFICIAL: return "official";
  case PRINCIPAL_CLIENT: return "client";
  default: return "unknown";
  }
}

audit_entry_t audit_entry_from_req(const http_req_t *req, const char *action,
                                   const char *record_type, const char *record_id)
{
  audit_entry_t e;
  memset(&e, 0, sizeof e);
  e.action = action;
  e.record_type = record_type;
  e.record_id = record_id;
  e.actor_kind = "system";
  if (req) {
    e.ip = req->client_ip;
    e.request_id = req->request_id;
    if (req->principal) {
      e.actor_id = req->principal->account_id;
      e.actor_kind = audit_principal_kind(req->principal->kind);
    } else {
      e.actor_kind = "anonymous";
    }
  }
  return e;
}

const char *audit_detail(arena_t *a, json_t *obj)
{
  if (!obj) return NULL;
  char *s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(obj);
  if (!s) return NULL;
  char *copy = arena_strdup(a, s);
  free(s);
  return copy;
}

/* --- hashing ---------------------------------------------------------------------- */

static void audit_feed_str(crypto_hash_sha256_state *h, const char *s)
{
  if (!s) {
    crypto_hash_sha256_update(h, (const unsigned char *)"N;", 2);
    return;
  }
  size_t len = strlen(s);
  char pre[32];
  int n = snprintf(pre, sizeof pre, "%zu:", len);
  crypto_hash_sha256_update(h, (const unsigned char *)pre, (unsigned long long)n);
  crypto_hash_sha256_update(h, (const unsigned char *)s, (unsigned long long)len);
  crypto_hash_sha256_update(h, (const unsigned char *)";", 1);
}

static void audit_feed_int(crypto_hash_sha256_state *h, int64_t v)
{
  char num[32];
  snprintf(num, sizeof num, "%" PRId64, v);
  audit_feed_str(h, num);
}

static void audit_feed_opt_int(crypto_hash_sha256_state *h, int64_t v)
{
  if (v == 0)
    audit_feed_str(h, NULL);
  else
    audit_feed_int(h, v);
}

void audit_compute_hash(int64_t seq, const audit_entry_t *e, const char *prev_hash,
                        char out[AUDIT_HASH_HEX])
{
  static const char magic[] = "cityos-audit-v1\n";
  crypto_hash_sha256_state h;
  unsigned char digest[crypto_hash_sha256_BYTES];

  crypto_hash_sha256_init(&h);
  crypto_hash_sha256_update(&h, (const unsigned char *)magic, sizeof magic - 1);
  audit_feed_int(&h, seq);
  audit_feed_int(&h, e->at);
  audit_feed_opt_int(&h, e->actor_id);
  audit_feed_str(&h, e->actor_kind);
  audit_feed_str(&h, e->action);
  audit_feed_str(&h, e->record_type);
  audit_feed_str(&h, e->record_id);
  audit_feed_opt_int(&h, e->unit_id);
  audit_feed_str(&h, e->ip);
  audit_feed_str(&h, e->request_id);
  audit_feed_str(&h, e->detail);
  audit_feed_str(&h, prev_hash);
  crypto_hash_sha256_final(&h, digest);
  text_hex(digest, sizeof digest, out);
}

/* --- append ----------------------------------------------------------------------- */

static int audit_bind_opt_int(db_stmt_t *st, int idx, int64_t v)
{
  return v == 0 ? db_bind_null(st, idx) : db_bind_int64(st, idx, v);
}

int audit_append_seq(db_t *db, const audit_entry_t *e, int64_t *seq_out)
{
  int rc = -1;
  db_stmt_t *st = NULL;
  int64_t seq = 0;
  char prev[AUDIT_HASH_HEX] = "";
  char hash[AUDIT_HASH_HEX];
  audit_entry_t row;

  if (!db || !e || !e->action) {
    log_error(e ? e->request_id : NULL, "msg=\"audit_append: no action\"");
    goto done;
  }
  if (!db_in_transaction(db)) {
    log_error(e->request_id, "msg=\"audit_append outside a transaction\" action=%s", e->action);
    goto done;
  }
  row = *e;
  if (row.at == 0) row.at = clock_now_ms();

  st = db_prepare(db, "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, last_hash");
  if (!st) goto db_fail;
  if (db_step(st) != DB_ROW) goto db_fail;
  seq = db_col_int64(st, 0);
  const char *last = db_col_text(st, 1);
  if (!last || strlen(last) != AUDIT_HASH_HEX - 1) {
    log_error(e->request_id, "msg=\"audit_head holds a malformed hash\"");
    goto done;
  }
  memcpy(prev, last, AUDIT_HASH_HEX);
  db_stmt_done(st);
  st = NULL;

  audit_compute_hash(seq, &row, prev, hash);

  st = db_prepare(db,
    "INSERT INTO audit_log (seq, at, actor_id, actor_kind, action, record_type, record_id,"
    " unit_id, ip, request_id, detail, prev_hash, hash)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)");
  if (!st) goto db_fail;
  if (db_bind_int64(st, 1, seq) || db_bind_int64(st, 2, row.at) ||
      audit_bind_opt_int(st, 3, row.actor_id) || db_bind_text(st, 4, row.actor_kind) ||
      db_bind_text(st, 5, row.action) || db_bind_text(st, 6, row.record_type) ||
      db_bind_text(st, 7, row.record_id) || audit_bind_opt_int(st, 8, row.unit_id) ||
      db_bind_text(st, 9, row.ip) || db_bind_text(st, 10, row.request_id) ||
      db_bind_text(st, 11, row.detail) || db_bind_text(st, 12, prev) ||
      db_bind_text(st, 13, hash))
    goto db_fail;
  if (db_step(st) != DB_DONE) goto db_fail;
  db_stmt_done(st);
  st = NULL;

  st = db_prepare(db, "UPDATE audit_head SET last_hash = $1 WHERE id = 1");
  if (!st) goto db_fail;
  if (db_bind_text(st, 1, hash) || db_step(st) != DB_DONE) goto db_fail;
  if (seq_out) *seq_out = seq;
  rc = 0;
  goto done;

db_fail:
  log_error(e->request_id, "msg=\"audit append failed\" action=%s err=\"%s\"", e->action,
            db_errmsg(db));
done:
  if (st) db_stmt_done(st);
  return rc;
}

int audit_append(db_t *db, const audit_entry_t *e)
{
  return audit_append_seq(db, e, NULL);
}

/* --- verify ----------------------------------------------------------------------- */

#define AUDIT_VERIFY_PAGE 5000
#define AUDIT_VERIFY_PROGRESS 100000

static void audit_broken(audit_verify_result_t *res, int64_t seq, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void audit_broken(audit_verify_result_t *res, int64_t seq, const char *fmt, ...)
{
  va_list ap;
  res->first_bad_seq = seq;
  va_start(ap, fmt);
  vsnprintf(res->reason, sizeof res->reason, fmt, ap);
  va_end(ap);
}

int audit_verify_ex(db_t *db, FILE *out, audit_verify_result_t *res)
{
  int rc = -1;
  db_stmt_t *st = NULL;
  int64_t cursor = 0, prev_seq = 0;
  char prev[AUDIT_HASH_HEX] = AUDIT_ZERO_HASH;
  char want[AUDIT_HASH_HEX];
  bool first_page = true;

  memset(res, 0, sizeof *res);
  st = db_prepare(db, "SELECT seq, last_hash FROM audit_head WHERE id = 1");
  if (!st) goto db_fail;
  int hs = db_step(st);
  if (hs < 0) goto db_fail;
  if (hs != DB_ROW) {
    /* The head was deleted (its trigger dropped first): that is tampering, not a read
     * error. Nothing after the last row can be vouched for any more. */
    db_stmt_done(st);
    st = db_prepare(db, "SELECT MAX(seq) FROM audit_log");
    if (!st || db_step(st) != DB_ROW) goto db_fail;
    audit_broken(res, db_col_int64(st, 0) + 1,
                 "the head row (audit_head) is missing: a deleted tail cannot be ruled out");
    rc = 1;
    goto done;
  }
  res->head_seq = db_col_int64(st, 0);
  const char *hh = db_col_text(st, 1);
  snprintf(res->head_hash, sizeof res->head_hash, "%s", hh ? hh : "");
  db_stmt_done(st);
  st = NULL;

  for (;;) {
    int64_t rows = 0;
    /* The first page starts below any seq (a forged row with seq <= 0 is then seen). */
    st = db_prepare(db,
      first_page
        ? "SELECT seq, at, actor_id, actor_kind, action, record_type, record_id, unit_id, ip,"
          " request_id, detail, prev_hash, hash FROM audit_log WHERE seq <= $1"
          " ORDER BY seq LIMIT 5000"
        : "SELECT seq, at, actor_id, actor_kind, action, record_type, record_id, unit_id, ip,"
          " request_id, detail, prev_hash, hash FROM audit_log WHERE seq > $2 AND seq <= $1"
          " ORDER BY seq LIMIT 5000");
    if (!st) goto db_fail;
    if (db_bind_int64(st, 1, res->head_seq)) goto db_fail;
    if (!first_page && db_bind_int64(st, 2, cursor)) goto db_fail;
    first_page = false;
    int s;
    while ((s = db_step(st)) == DB_ROW) {
      audit_entry_t e;
      int64_t seq = db_col_int64(st, 0);
      rows++;
      cursor = seq;
      if (seq != prev_seq + 1) {
        if (seq <= prev_seq)
          audit_broken(res, seq, "unexpected entry with seq %" PRId64 " after %" PRId64, seq, prev_seq);
        else if (seq == prev_seq + 2)
          audit_broken(res, prev_seq + 1, "entry missing (deleted)");
        else
          audit_broken(res, prev_seq + 1, "entries %" PRId64 " to %" PRId64 " missing (deleted)",
                       prev_seq + 1, seq - 1);
        rc = 1;
        goto done;
      }
      e.at = db_col_int64(st, 1);
      e.actor_id = db_col_int64(st, 2);
      e.actor_kind = db_col_text(st, 3);
      e.action = db_col_text(st, 4);
      e.record_type = db_col_text(st, 5);
      e.record_id = db_col_text(st, 6);
      e.unit_id = db_col_int64(st, 7);
      e.ip = db_col_text(st, 8);
      e.request_id = db_col_text(st, 9);
      e.detail = db_col_text(st, 10);
      const char *ph = db_col_text(st, 11);
      const char *h = db_col_text(st, 12);
      if (!ph || strcmp(ph, prev) != 0) {
        audit_broken(res, seq, "prev_hash does not match the entry before it (deleted or replaced)");
        rc = 1;
        goto done;
      }
      audit_compute_hash(seq, &e, prev, want);
      if (!h || strcmp(h, want) != 0) {
        audit_broken(res, seq, "hash mismatch (entry edited)");
        rc = 1;
        goto done;
      }
      memcpy(prev, want, AUDIT_HASH_HEX);
      prev_seq = seq;
      res->entries++;
      if (out && res->entries % AUDIT_VERIFY_PROGRESS == 0) {
        fprintf(out, "audit: %" PRId64 " entries verified\n", res->entries);
        fflush(out);
      }
    }
    if (s < 0) goto db_fail;
    db_stmt_done(st);
    st = NULL;
    if (rows < AUDIT_VERIFY_PAGE) break;
  }

  if (prev_seq < res->head_seq) {
    if (prev_seq + 1 == res->head_seq)
      audit_broken(res, prev_seq + 1, "last entry missing (deleted tail; head is at %" PRId64 ")",
                   res->head_seq);
    else
      audit_broken(res, prev_seq + 1,
                   "entries %" PRId64 " to %" PRId64 " missing (deleted tail)", prev_seq + 1,
                   res->head_seq);
    rc = 1;
    goto done;
  }
  if (strcmp(prev, res->head_hash) != 0) {
    audit_broken(res, res->head_seq, "head hash does not match the last entry");
    rc = 1;
    goto done;
  }
  /* Rows and head commit together, so the head read after the highest row is never
   * behind it, unless someone moved the head back over rows that still exist. */
  {
    int64_t max_seq = 0, head_now = 0;
    st = db_prepare(db, "SELECT MAX(seq) FROM audit_log");
    if (!st || db_step(st) != DB_ROW) goto db_fail;
    max_seq = db_col_int64(st, 0);
    db_stmt_done(st);
    st = db_prepare(db, "SELECT seq FROM audit_head WHERE id = 1");
    if (!st || db_step(st) != DB_ROW) goto db_fail;
    head_now = db_col_int64(st, 0);
    db_stmt_done(st);
    st = NULL;
    if (max_seq > head_now) {
      audit_broken(res, head_now + 1, "entries beyond the head (the head was moved back)");
      rc = 1;
      goto done;
    }
  }
  rc = 0;
  goto done;

db_fail:
  log_error(NULL, "msg=\"audit verify failed\" err=\"%s\"", db_errmsg(db));
  rc = -1;
done:
  if (st) db_stmt_done(st);
  return rc;
}

int audit_verify(db_t *db, FILE *out, int64_t *first_bad_seq)
{
  audit_verify_result_t res;
  int rc = audit_verify_ex(db, out, &res);
  if (first_bad_seq) *first_bad_seq = rc == 1 ? res.first_bad_seq : 0;
  return rc;
}
