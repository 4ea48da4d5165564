#include "base/common.h"
/*
 * test_audit.c - the hash-chained audit log (src/audit/audit.h) against SQLite (a
 * temporary file per scenario) and, when CITYOS_TEST_PG_URL is set, PostgreSQL (a
 * schema of its own per scenario, dropped afterwards).
 */
#include "audit/audit.h"
#include "http/auth.h"
#include "check.h"

#include <pthread.h>
#include <unistd.h>

/* --- a fresh database per scenario ---------------------------------------------------- */

typedef struct {
  const char *pg_base;   /* NULL: SQLite */
  char url[600];
  char schema[64];
  char dir[64];
} tdb_t;

static int tdb_seq;

static db_t *tdb_open(tdb_t *t, const char *pg_base)
{
  char err[256];
  memset(t, 0, sizeof *t);
  t->pg_base = pg_base;
  if (pg_base) {
    db_t *admin = db_open(pg_base, err, sizeof err);
    if (!admin) {
      fprintf(stderr, "postgres: %s\n", err);
      return NULL;
    }
    snprintf(t->schema, sizeof t->schema, "t_audit_%d_%d", (int)getpid(), ++tdb_seq);
    char sql[256];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", t->schema, t->schema);
    CHECK_INT_EQ(db_exec(admin, sql), 0);
    db_close(admin);
    snprintf(t->url, sizeof t->url, "%s%soptions=-csearch_path%%3D%s", pg_base,
             strchr(pg_base, '?') ? "&" : "?", t->schema);
  } else {
    snprintf(t->dir, sizeof t->dir, "/tmp/cityos_test_audit_XXXXXX");
    if (!mkdtemp(t->dir)) return NULL;
    snprintf(t->url, sizeof t->url, "sqlite:%s/a.db", t->dir);
  }
  db_t *db = db_open(t->url, err, sizeof err);
  if (!db) {
    fprintf(stderr, "open: %s\n", err);
    return NULL;
  }
  size_t n;
  const db_migration_t *m = audit_migrations(db_kind(db), &n);
  CHECK_INT_EQ(db_migrate(db, m, n, NULL), (int)n);
  return db;
}

static void tdb_close(tdb_t *t, db_t *db)
{
  char err[256], path[160];
  db_close(db);
  if (t->pg_base) {
    db_t *admin = db_open(t->pg_base, err, sizeof err);
    if (admin) {
      char sql[256];
      snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", t->schema);
      CHECK_INT_EQ(db_exec(admin, sql), 0);
      db_close(admin);
    }
  } else {
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
      snprintf(path, sizeof path, "%s/a.db%s", t->dir, suffixes[i]);
      unlink(path);
    }
    rmdir(t->dir);
  }
}

static int64_t q_int(db_t *db, const char *sql)
{
  int64_t v = -1;
  db_stmt_t *st = db_prepare(db, sql);
  if (st && db_step(st) == DB_ROW) v = db_col_int64(st, 0);
  if (st) db_stmt_done(st);
  return v;
}

/* Appends n entries, each in its own transaction. */
static void append_n(db_t *db, int n)
{
  for (int i = 0; i < n; i++) {
    char rid[16], detail[64];
    snprintf(rid, sizeof rid, "%d", i + 1);
    snprintf(detail, sizeof detail, "{\"n\":%d,\"name\":\"Nguyễn Văn A\"}", i);
    audit_entry_t e = {0};
    e.actor_id = i % 3 ? 7 : 0;
    e.actor_kind = i % 3 ? "official" : "anonymous";
    e.action = i % 2 ? "user.read" : "auth.login";
    e.record_type = "account";
    e.record_id = rid;
    e.unit_id = i % 2 ? 42 : 0;
    e.ip = "127.0.0.1";
    e.request_id = "abc123";
    e.detail = detail;
    CHECK_INT_EQ(db_begin(db), 0);
    CHECK_INT_EQ(audit_append(db, &e), 0);
    CHECK_INT_EQ(db_commit(db), 0);
  }
}

/* --- pure ------------------------------------------------------------------------- */

static void test_hash(void)
{
  char h1[AUDIT_HASH_HEX], h2[AUDIT_HASH_HEX];
  audit_entry_t e = {.at = 1000, .action = "user.read", .record_type = "ab", .record_id = "c"};
  audit_compute_hash(1, &e, AUDIT_ZERO_HASH, h1);
  CHECK_INT_EQ(strlen(h1), 64);
  audit_compute_hash(1, &e, AUDIT_ZERO_HASH, h2);
  CHECK_STR_EQ(h1, h2);

  /* Moving bytes between fields changes the hash (length prefixes). */
  audit_entry_t f = e;
  f.record_type = "a";
  f.record_id = "bc";
  audit_compute_hash(1, &f, AUDIT_ZERO_HASH, h2);
  CHECK(strcmp(h1, h2) != 0);
  /* NULL and "" differ. */
  f = e;
  f.ip = "";
  audit_compute_hash(1, &f, AUDIT_ZERO_HASH, h2);
  CHECK(strcmp(h1, h2) != 0);
  /* seq, at, actor, unit and prev_hash are covered. */
  audit_compute_hash(2, &e, AUDIT_ZERO_HASH, h2);
  CHECK(strcmp(h1, h2) != 0);
  f = e;
  f.at = 1001;
  audit_compute_hash(1, &f, AUDIT_ZERO_HASH, h2);
  CHECK(strcmp(h1, h2) != 0);
  f = e;
  f.actor_id = 5;
  audit_compute_hash(1, &f, AUDIT_ZERO_HASH, h2);
  CHECK(strcmp(h1, h2) != 0);
  f = e;
  f.unit_id = 5;
  audit_compute_hash(1, &f, AUDIT_ZERO_HASH, h2);
  CHECK(strcmp(h1, h2) != 0);
  audit_compute_hash(1, &e, "1111111111111111111111111111111111111111111111111111111111111111", h2);
  CHECK(strcmp(h1, h2) != 0);
}

static void test_entry_from_req(void)
{
  http_req_t req;
  principal_t p;
  memset(&req, 0, sizeof req);
  memset(&p, 0, sizeof p);
  req.client_ip = "10.0.0.9";
  req.request_id = "rid-1";
  audit_entry_t e = audit_entry_from_req(&req, "user.read", "account", "12");
  CHECK_STR_EQ(e.actor_kind, "anonymous");
  CHECK_INT_EQ(e.actor_id, 0);
  CHECK_STR_EQ(e.ip, "10.0.0.9");
  CHECK_STR_EQ(e.request_id, "rid-1");
  CHECK_STR_EQ(e.action, "user.read");
  CHECK_STR_EQ(e.record_id, "12");
  p.account_id = 33;
  p.kind = PRINCIPAL_OFFICIAL;
  req.principal = &p;
  e = audit_entry_from_req(&req, "user.read", "account", "12");
  CHECK_STR_EQ(e.actor_kind, "official");
  CHECK_INT_EQ(e.actor_id, 33);
  e = audit_entry_from_req(NULL, "x", NULL, NULL);
  CHECK_STR_EQ(e.actor_kind, "system");
}

/* --- database --------------------------------------------------------------------- */

static void test_append_verify(const char *pg)
{
  tdb_t t;
  db_t *db = tdb_open(&t, pg);
  CHECK(db != NULL);
  if (!db) return;
  int64_t bad = -1;
  CHECK_INT_EQ(audit_verify(db, NULL, &bad), 0);   /* empty log */
  CHECK_INT_EQ(bad, 0);

  audit_entry_t e = {.action = "auth.login"};
  CHECK_INT_EQ(audit_append(db, &e), -1);          /* outside a transaction */
  CHECK_INT_EQ(db_begin(db), 0);
  audit_entry_t none = {0};
  CHECK_INT_EQ(audit_append(db, &none), -1);       /* no action */
  CHECK_INT_EQ(db_rollback(db), 0);

  append_n(db, 5);
  CHECK_INT_EQ(q_int(db, "SELECT seq FROM audit_head"), 5);
  CHECK_INT_EQ(q_int(db, "SELECT COUNT(*) FROM audit_log WHERE actor_id IS NULL"), 2);
  audit_verify_result_t res;
  CHECK_INT_EQ(audit_verify_ex(db, NULL, &res), 0);
  CHECK_INT_EQ(res.entries, 5);
  CHECK_INT_EQ(res.head_seq, 5);

  /* A rolled-back append leaves no trace and no gap. */
  CHECK_INT_EQ(db_begin(db), 0);
  int64_t seq = 0;
  CHECK_INT_EQ(audit_append_seq(db, &e, &seq), 0);
  CHECK_INT_EQ(seq, 6);
  CHECK_INT_EQ(db_rollback(db), 0);
  CHECK_INT_EQ(q_int(db, "SELECT seq FROM audit_head"), 5);
  append_n(db, 1);
  CHECK_INT_EQ(q_int(db, "SELECT MAX(seq) FROM audit_log"), 6);
  CHECK_INT_EQ(audit_verify(db, NULL, &bad), 0);

  /* The triggers refuse changes. */
  CHECK(db_exec(db, "UPDATE audit_log SET detail = '{}' WHERE seq = 2") != 0);
  CHECK(db_exec(db, "DELETE FROM audit_log WHERE seq = 2") != 0);
  CHECK(db_exec(db, "DELETE FROM audit_head") != 0);
  CHECK(db_exec(db, "UPDATE audit_head SET seq = 1") != 0);
  if (pg) CHECK(db_exec(db, "TRUNCATE audit_log") != 0);
  CHECK_INT_EQ(q_int(db, "SELECT COUNT(*) FROM audit_log"), 6);
  CHECK_INT_EQ(audit_verify(db, NULL, &bad), 0);
  tdb_close(&t, db);
}

static void drop_triggers(db_t *db)
{
  if (db_kind(db) == DB_POSTGRES) {
    CHECK_INT_EQ(db_exec(db, "DROP TRIGGER audit_log_no_update ON audit_log;"
                             "DROP TRIGGER audit_head_guard ON audit_head"), 0);
  } else {
    CHECK_INT_EQ(db_exec(db, "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
                             "DROP TRIGGER audit_head_no_rewind"), 0);
  }
}

typedef struct {
  const char *name;
  const char *tamper;    /* SQL an attacker runs after dropping the triggers */
  int64_t want_seq;
} scenario_t;

static void test_tamper(const char *pg)
{
  static const scenario_t scenarios[] = {
    {"edit a row", "UPDATE audit_log SET detail = '{\"n\":99}' WHERE seq = 3", 3},
    {"edit a row and its hash",
     "UPDATE audit_log SET ip = '1.2.3.4', hash = 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'"
     " WHERE seq = 3", 3},
    {"delete a middle row", "DELETE FROM audit_log WHERE seq = 3", 3},
    {"delete two middle rows", "DELETE FROM audit_log WHERE seq IN (3, 4)", 3},
    {"delete the first row", "DELETE FROM audit_log WHERE seq = 1", 1},
    {"delete the last row", "DELETE FROM audit_log WHERE seq = 6", 6},
    {"delete the tail and rewind the head",
     "DELETE FROM audit_log WHERE seq >= 5; UPDATE audit_head SET seq = 4", 4},
    {"rewind the head only", "UPDATE audit_head SET seq = 4", 4},
    {"renumber a row", "UPDATE audit_log SET seq = 7 WHERE seq = 6; UPDATE audit_head SET seq = 7", 6},
  };
  for (size_t i = 0; i < ARRAY_LEN(scenarios); i++) {
    tdb_t t;
    db_t *db = tdb_open(&t, pg);
    CHECK(db != NULL);
    if (!db) return;
    append_n(db, 6);
    CHECK_INT_EQ(audit_verify(db, NULL, NULL), 0);
    drop_triggers(db);
    CHECK_INT_EQ(db_exec(db, scenarios[i].tamper), 0);
    audit_verify_result_t res;
    int rc = audit_verify_ex(db, NULL, &res);
    CHECK_INT_EQ(rc, 1);
    CHECK_INT_EQ(res.first_bad_seq, scenarios[i].want_seq);
    if (rc != 1 || res.first_bad_seq != scenarios[i].want_seq)
      fprintf(stderr, "  scenario \"%s\": rc %d seq %" PRId64 " (%s)\n", scenarios[i].name, rc,
              res.first_bad_seq, res.reason);
    CHECK(res.reason[0] != '\0');
    int64_t bad = 0;
    CHECK_INT_EQ(audit_verify(db, NULL, &bad), 1);
    CHECK_INT_EQ(bad, scenarios[i].want_seq);
    tdb_close(&t, db);
  }
}

/* The head hash moves with every append: the value to record elsewhere as an anchor. */
static void test_head_anchor(const char *pg)
{
  tdb_t t;
  db_t *db = tdb_open(&t, pg);
  if (!db) return;
  append_n(db, 3);
  audit_verify_result_t before, after;
  CHECK_INT_EQ(audit_verify_ex(db, NULL, &before), 0);
  append_n(db, 1);
  CHECK_INT_EQ(audit_verify_ex(db, NULL, &after), 0);
  CHECK(strcmp(before.head_hash, after.head_hash) != 0);
  CHECK_INT_EQ(after.entries, 4);
  tdb_close(&t, db);
}

/* Appenders on several connections serialize on the head row. */
typedef struct {
  const char *url;
  int n;
  int failures;
} worker_t;

static void *worker(void *arg)
{
  worker_t *w = arg;
  char err[256];
  db_t *db = db_open(w->url, err, sizeof err);
  if (!db) {
    w->failures = w->n;
    return NULL;
  }
  for (int i = 0; i < w->n; i++) {
    audit_entry_t e = {.action = "test.concurrent", .actor_kind = "system"};
    if (db_begin(db) || audit_append(db, &e) || db_commit(db)) {
      w->failures++;
      db_rollback(db);
    }
  }
  db_close(db);
  return NULL;
}

static void test_concurrent(const char *pg)
{
  tdb_t t;
  db_t *db = tdb_open(&t, pg);
  if (!db) return;
  enum { THREADS = 4, EACH = 25 };
  pthread_t th[THREADS];
  worker_t w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker_t){.url = t.url, .n = EACH};
    pthread_create(&th[i], NULL, worker, &w[i]);
  }
  int failures = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    failures += w[i].failures;
  }
  CHECK_INT_EQ(failures, 0);
  audit_verify_result_t res;
  CHECK_INT_EQ(audit_verify_ex(db, NULL, &res), 0);
  CHECK_INT_EQ(res.entries, THREADS * EACH);
  tdb_close(&t, db);
}

/* Verification pages through the log; more than one page works. */
static void test_many(const char *pg)
{
  tdb_t t;
  db_t *db = tdb_open(&t, pg);
  if (!db) return;
  CHECK_INT_EQ(db_begin(db), 0);
  for (int i = 0; i < 12345; i++) {
    audit_entry_t e = {.action = "test.bulk", .actor_kind = "system", .record_id = "x"};
    if (audit_append(db, &e) != 0) {
      CHECK(0);
      break;
    }
  }
  CHECK_INT_EQ(db_commit(db), 0);
  audit_verify_result_t res;
  CHECK_INT_EQ(audit_verify_ex(db, NULL, &res), 0);
  CHECK_INT_EQ(res.entries, 12345);
  drop_triggers(db);
  CHECK_INT_EQ(db_exec(db, "DELETE FROM audit_log WHERE seq = 10001"), 0);
  CHECK_INT_EQ(audit_verify_ex(db, NULL, &res), 1);
  CHECK_INT_EQ(res.first_bad_seq, 10001);
  tdb_close(&t, db);
}

static void run_suite(const char *pg, const char *label)
{
  printf("== %s ==\n", label);
  test_append_verify(pg);
  test_tamper(pg);
  test_head_anchor(pg);
  test_concurrent(pg);
  if (!pg) test_many(pg);   /* paging is the same SQL on both; 12k round trips are slow on PG */
}

int main(void)
{
  test_hash();
  test_entry_from_req();
  run_suite(NULL, "sqlite");
  const char *pg = getenv("CITYOS_TEST_PG_URL");
  if (pg && *pg)
    run_suite(pg, "postgres");
  else
    printf("skipped postgres: CITYOS_TEST_PG_URL not set\n");
  return check_summary();
}
