#include "base/common.h"
/*
 * test_db.c - the store layer (src/store/db.h) against SQLite (a temporary file) and,
 * when CITYOS_TEST_PG_URL is set, against PostgreSQL too (scripts/pg-test-server
 * starts a throwaway server and prints such a URL).
 */
#include "store/db.h"
#include "check.h"

#include <pthread.h>
#include <unistd.h>

static const char vn_name[] =
    "Nguyễn Thị Minh Khai — Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh (ĐƯỢC ỦY QUYỀN)";

static const char schema[] =
    "CREATE TABLE tdb_people (\n"
    "  id {{ID}},\n"
    "  name TEXT NOT NULL,\n"
    "  cccd TEXT UNIQUE,\n"
    "  born BIGINT,\n"
    "  score DOUBLE PRECISION,\n"
    "  photo {{BLOB}},\n"
    "  created_at BIGINT NOT NULL DEFAULT {{NOW_MS}}\n"
    ");\n"
    "CREATE TABLE tdb_kv (k TEXT PRIMARY KEY, v BIGINT NOT NULL);\n"
    "CREATE TABLE tdb_child (id {{ID}}, person_id BIGINT NOT NULL REFERENCES tdb_people(id));\n"
    "CREATE TABLE tdb_conc (id {{ID}}, thread INTEGER NOT NULL, n INTEGER NOT NULL);\n";

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* First column of the first row as an integer; INT64_MIN on error or no row. */
static int64_t q_int(db_t *db, const char *sql)
{
  int64_t v = INT64_MIN;
  db_stmt_t *st = db_prepare(db, sql);
  if (st && db_step(st) == DB_ROW)
    v = db_col_int64(st, 0);
  else
    fprintf(stderr, "q_int(%s): %s\n", sql, db_errmsg(db));
  db_stmt_done(st);
  return v;
}

static int64_t kv_get(db_t *db, const char *k)
{
  int64_t v = -1;
  db_stmt_t *st = db_prepare(db, "SELECT v FROM tdb_kv WHERE k = $1");
  if (st && db_bind_text(st, 1, k) == 0 && db_step(st) == DB_ROW)
    v = db_col_int64(st, 0);
  db_stmt_done(st);
  return v;
}

static int kv_put(db_t *db, const char *k, int64_t v)
{
  db_stmt_t *st = db_prepare(db, "INSERT INTO tdb_kv (k, v) VALUES ($1, $2)");
  int rc = (st && db_bind_text(st, 1, k) == 0 && db_bind_int64(st, 2, v) == 0) ? db_step(st) : -1;
  db_stmt_done(st);
  return rc;
}

static void test_schema(db_t *db)
{
  CHECK_INT_EQ(db_exec_script(db, schema), 0);
  CHECK_INT_EQ(db_exec_script(db, "CREATE TABLE tdb_x (id {{NOPE}})"), -1);
  CHECK(strstr(db_errmsg(db), "NOPE") != NULL);
  CHECK_INT_EQ(db_exec_script(db, "CREATE TABLE tdb_x (id {{ID)"), -1);
  CHECK_INT_EQ(db_exec(db, "SELECT nonsense FROM nowhere"), -1);
  CHECK_INT_EQ(db_last_error(db), DB_ERR_OTHER);
}

static void test_values(db_t *db)
{
  int64_t before = now_ms();
  static const unsigned char photo[] = {0, 1, 0, 255, 0, 'x', 0};
  int64_t id = 0;

  /* text, int64, double, blob; RETURNING */
  db_stmt_t *st = db_prepare(db, "INSERT INTO tdb_people (name, cccd, born, score, photo) "
                                 "VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at");
  CHECK(st != NULL);
  CHECK_INT_EQ(db_bind_text(st, 1, vn_name), 0);
  CHECK_INT_EQ(db_bind_text(st, 2, "079123456789"), 0);
  CHECK_INT_EQ(db_bind_int64(st, 3, INT64_MIN), 0);
  CHECK_INT_EQ(db_bind_double(st, 4, 3.141592653589793), 0);
  CHECK_INT_EQ(db_bind_blob(st, 5, photo, sizeof photo), 0);
  CHECK_INT_EQ(db_bind_int64(st, 6, 1), -1);   /* no $6 */
  CHECK_INT_EQ(db_bind_int64(st, 0, 1), -1);
  CHECK_INT_EQ(db_col_count(st), 2);
  CHECK_INT_EQ(db_step(st), DB_ROW);
  id = db_col_int64(st, 0);
  CHECK(id > 0);
  int64_t created = db_col_int64(st, 1);
  CHECK(created >= before - 5000 && created <= now_ms() + 5000);
  CHECK_INT_EQ(db_step(st), DB_DONE);
  CHECK_INT_EQ(db_changes(st), 1);
  db_stmt_done(st);

  /* NULLs (bind_null and a NULL text), the other extreme, odd doubles, empty blob */
  st = db_prepare(db, "INSERT INTO tdb_people (name, cccd, born, score, photo) "
                      "VALUES ($1, $2, $3, $4, $5) RETURNING id");
  CHECK_INT_EQ(db_bind_text(st, 1, "Trần Văn Ơn"), 0);
  CHECK_INT_EQ(db_bind_text(st, 2, NULL), 0);
  CHECK_INT_EQ(db_bind_int64(st, 3, INT64_MAX), 0);
  CHECK_INT_EQ(db_bind_double(st, 4, -2.5e-300), 0);
  CHECK_INT_EQ(db_bind_blob(st, 5, "", 0), 0);
  CHECK_INT_EQ(db_step(st), DB_ROW);
  int64_t id2 = db_col_int64(st, 0);
  db_stmt_done(st);
  st = db_prepare(db, "INSERT INTO tdb_people (name, cccd, born, score, photo) "
                      "VALUES ($1, $2, $3, $4, $5) RETURNING id");
  CHECK_INT_EQ(db_bind_text(st, 1, "Lê Thị Null"), 0);
  CHECK_INT_EQ(db_bind_null(st, 2), 0);
  CHECK_INT_EQ(db_bind_null(st, 3), 0);
  CHECK_INT_EQ(db_bind_null(st, 4), 0);
  CHECK_INT_EQ(db_bind_blob(st, 5, NULL, 0), 0);
  CHECK_INT_EQ(db_step(st), DB_ROW);
  int64_t id3 = db_col_int64(st, 0);
  db_stmt_done(st);
  CHECK(id2 > id && id3 > id2);

  st = db_prepare(db, "SELECT name, cccd, born, score, photo FROM tdb_people WHERE id = $1");
  CHECK_INT_EQ(db_bind_int64(st, 1, id), 0);
  CHECK_INT_EQ(db_step(st), DB_ROW);
  CHECK_STR_EQ(db_col_text(st, 0), vn_name);
  CHECK_STR_EQ(db_col_text(st, 1), "079123456789");
  CHECK_INT_EQ(db_col_int64(st, 2), INT64_MIN);
  CHECK(db_col_double(st, 3) == 3.141592653589793);
  size_t len = 99;
  const unsigned char *b = db_col_blob(st, 4, &len);
  CHECK_INT_EQ(len, sizeof photo);
  CHECK(b && memcmp(b, photo, sizeof photo) == 0);
  b = db_col_blob(st, 4, &len);   /* twice: same bytes */
  CHECK(b && len == sizeof photo && memcmp(b, photo, sizeof photo) == 0);
  CHECK(!db_col_is_null(st, 4));
  CHECK_INT_EQ(db_step(st), DB_DONE);
  db_stmt_done(st);

  st = db_prepare(db, "SELECT name, cccd, born, score, photo FROM tdb_people WHERE id = $1");
  CHECK_INT_EQ(db_bind_int64(st, 1, id2), 0);
  CHECK_INT_EQ(db_step(st), DB_ROW);
  CHECK_STR_EQ(db_col_text(st, 0), "Trần Văn Ơn");
  CHECK(db_col_is_null(st, 1));
  CHECK(db_col_text(st, 1) == NULL);
  CHECK_INT_EQ(db_col_int64(st, 2), INT64_MAX);
  CHECK(db_col_double(st, 3) == -2.5e-300);
  len = 99;
  b = db_col_blob(st, 4, &len);
  CHECK(b != NULL);
  CHECK_INT_EQ(len, 0);
  db_stmt_done(st);

  st = db_prepare(db, "SELECT name, cccd, born, score, photo FROM tdb_people WHERE id = $1");
  CHECK_INT_EQ(db_bind_int64(st, 1, id3), 0);
  CHECK_INT_EQ(db_step(st), DB_ROW);
  for (int c = 1; c <= 4; c++)
    CHECK(db_col_is_null(st, c));
  CHECK_INT_EQ(db_col_int64(st, 2), 0);
  CHECK(db_col_double(st, 3) == 0.0);
  len = 99;
  CHECK(db_col_blob(st, 4, &len) == NULL);
  CHECK_INT_EQ(len, 0);
  db_stmt_done(st);

  /* a large blob with every byte value */
  size_t big_len = 200000;
  unsigned char *big = malloc(big_len);
  CHECK(big != NULL);
  if (big) {
    for (size_t i = 0; i < big_len; i++)
      big[i] = (unsigned char)(i * 131 + (i >> 8));
    st = db_prepare(db, "UPDATE tdb_people SET photo = $2 WHERE id = $1");
    CHECK_INT_EQ(db_bind_int64(st, 1, id3), 0);
    CHECK_INT_EQ(db_bind_blob(st, 2, big, big_len), 0);
    CHECK_INT_EQ(db_step(st), DB_DONE);
    CHECK_INT_EQ(db_changes(st), 1);
    db_stmt_done(st);
    st = db_prepare(db, "SELECT photo, photo FROM tdb_people WHERE id = $1");
    CHECK_INT_EQ(db_bind_int64(st, 1, id3), 0);
    CHECK_INT_EQ(db_step(st), DB_ROW);
    size_t l1 = 0, l2 = 0;
    const void *p1 = db_col_blob(st, 0, &l1);
    const void *p2 = db_col_blob(st, 1, &l2);   /* both stay valid together */
    CHECK(l1 == big_len && l2 == big_len);
    CHECK(p1 && memcmp(p1, big, big_len) == 0);
    CHECK(p2 && memcmp(p2, big, big_len) == 0);
    db_stmt_done(st);
    free(big);
  }

  /* doubles */
  static const double dv[] = {0.1, -1e300, 5e-324, 123456789.125, 1.0 / 3.0};
  for (size_t i = 0; i < ARRAY_LEN(dv); i++) {
    st = db_prepare(db, "SELECT score FROM tdb_people WHERE id = $1");
    db_stmt_t *up = db_prepare(db, "UPDATE tdb_people SET score = $1 WHERE id = $2");
    CHECK_INT_EQ(db_bind_double(up, 1, dv[i]), 0);
    CHECK_INT_EQ(db_bind_int64(up, 2, id3), 0);
    CHECK_INT_EQ(db_step(up), DB_DONE);
    db_stmt_done(up);
    CHECK_INT_EQ(db_bind_int64(st, 1, id3), 0);
    CHECK_INT_EQ(db_step(st), DB_ROW);
    if (db_col_double(st, 0) != dv[i]) {
      fprintf(stderr, "double %.17g came back as %.17g\n", dv[i], db_col_double(st, 0));
      CHECK(0);
    }
    db_stmt_done(st);
  }

  /* int64 extremes as parameters and results; repeated and out-of-order $N */
  CHECK_INT_EQ(kv_put(db, "min", INT64_MIN), DB_DONE);
  CHECK_INT_EQ(kv_put(db, "max", INT64_MAX), DB_DONE);
  CHECK_INT_EQ(kv_put(db, "zero", 0), DB_DONE);
  CHECK_INT_EQ(kv_get(db, "min"), INT64_MIN);
  CHECK_INT_EQ(kv_get(db, "max"), INT64_MAX);
  CHECK_INT_EQ(kv_get(db, "zero"), 0);

  st = db_prepare(db, "INSERT INTO tdb_kv (v, k) VALUES ($2, $1)");
  CHECK_INT_EQ(db_bind_int64(st, 2, 42), 0);
  CHECK_INT_EQ(db_bind_text(st, 1, "đường"), 0);
  CHECK_INT_EQ(db_step(st), DB_DONE);
  db_stmt_done(st);
  CHECK_INT_EQ(kv_get(db, "đường"), 42);

  st = db_prepare(db, "SELECT count(*) FROM tdb_kv WHERE (k = $2 AND v = $1) OR (k = $3 AND v <> $1) "
                      "OR k = $2 OR k = $3");
  CHECK_INT_EQ(db_bind_text(st, 3, "max"), 0);
  CHECK_INT_EQ(db_bind_int64(st, 1, 42), 0);
  CHECK_INT_EQ(db_bind_text(st, 2, "đường"), 0);
  CHECK_INT_EQ(db_step(st), DB_ROW);
  CHECK_INT_EQ(db_col_int64(st, 0), 2);
  db_stmt_done(st);

  /* ON CONFLICT DO NOTHING; UPDATE counts */
  st = db_prepare(db, "INSERT INTO tdb_kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING");
  CHECK_INT_EQ(db_bind_text(st, 1, "once"), 0);
  CHECK_INT_EQ(db_bind_int64(st, 2, 1), 0);
  CHECK_INT_EQ(db_step(st), DB_DONE);
  CHECK_INT_EQ(db_changes(st), 1);
  db_stmt_done(st);
  st = db_prepare(db, "INSERT INTO tdb_kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING");
  CHECK_INT_EQ(db_bind_text(st, 1, "once"), 0);
  CHECK_INT_EQ(db_bind_int64(st, 2, 2), 0);
  CHECK_INT_EQ(db_step(st), DB_DONE);
  CHECK_INT_EQ(db_changes(st), 0);
  db_stmt_done(st);
  CHECK_INT_EQ(kv_get(db, "once"), 1);
  st = db_prepare(db, "INSERT INTO tdb_kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING RETURNING k");
  CHECK_INT_EQ(db_bind_text(st, 1, "once"), 0);
  CHECK_INT_EQ(db_bind_int64(st, 2, 3), 0);
  CHECK_INT_EQ(db_step(st), DB_DONE);   /* no row returned */
  db_stmt_done(st);

  st = db_prepare(db, "UPDATE tdb_kv SET v = v WHERE k IN ($1, $2, $3)");
  CHECK_INT_EQ(db_bind_text(st, 1, "min"), 0);
  CHECK_INT_EQ(db_bind_text(st, 2, "max"), 0);
  CHECK_INT_EQ(db_bind_text(st, 3, "nobody"), 0);
  CHECK_INT_EQ(db_step(st), DB_DONE);
  CHECK_INT_EQ(db_changes(st), 2);
  db_stmt_done(st);

  /* constraint violations */
  CHECK_INT_EQ(kv_put(db, "min", 5), -1);
  CHECK_INT_EQ(db_last_error(db), DB_ERR_CONSTRAINT);
  CHECK(strlen(db_errmsg(db)) > 0);
  st = db_prepare(db, "INSERT INTO tdb_people (name, cccd) VALUES ($1, $2)");
  CHECK_INT_EQ(db_bind_text(st, 1, "Dup"), 0);
  CHECK_INT_EQ(db_bind_text(st, 2, "079123456789"), 0);
  CHECK_INT_EQ(db_step(st), -1);
  CHECK_INT_EQ(db_last_error(db), DB_ERR_CONSTRAINT);
  db_stmt_done(st);
  st = db_prepare(db, "INSERT INTO tdb_people (name) VALUES ($1)");
  CHECK_INT_EQ(db_bind_null(st, 1), 0);
  CHECK_INT_EQ(db_step(st), -1);   /* NOT NULL */
  CHECK_INT_EQ(db_last_error(db), DB_ERR_CONSTRAINT);
  db_stmt_done(st);
  st = db_prepare(db, "INSERT INTO tdb_child (person_id) VALUES ($1)");
  CHECK_INT_EQ(db_bind_int64(st, 1, 987654321), 0);
  CHECK_INT_EQ(db_step(st), -1);   /* foreign key */
  CHECK_INT_EQ(db_last_error(db), DB_ERR_CONSTRAINT);
  db_stmt_done(st);
  st = db_prepare(db, "INSERT INTO tdb_child (person_id) VALUES ($1)");
  CHECK_INT_EQ(db_bind_int64(st, 1, id), 0);
  CHECK_INT_EQ(db_step(st), DB_DONE);
  db_stmt_done(st);

  /* a statement that is not $N-parameterised, two statements, bad SQL */
  CHECK(db_prepare(db, "SELECT 1; SELECT 2") == NULL);
  CHECK(db_prepare(db, "SELEC 1") == NULL);
  db_stmt_t *one = db_prepare(db, "SELECT 1 -- trailing comment\n;  ");
  CHECK(one != NULL);
  CHECK_INT_EQ(db_step(one), DB_ROW);
  CHECK_INT_EQ(db_col_int64(one, 0), 1);
  db_stmt_done(one);
  if (db_kind(db) == DB_SQLITE) {
    CHECK(db_prepare(db, "SELECT ?") == NULL);
    CHECK(db_prepare(db, "SELECT :name") == NULL);
  }
}

static void test_cache(db_t *db)
{
  const char *sql = "SELECT v FROM tdb_kv WHERE k = $1";
  char copy[64];
  snprintf(copy, sizeof copy, "%s", sql);

  db_stmt_t *a = db_prepare(db, sql);
  CHECK(a != NULL);
  db_stmt_done(a);
  db_stmt_t *b = db_prepare(db, copy);   /* same text, other pointer: from the cache */
  CHECK(a == b);

  /* nested use of the same text while b is busy: a separate statement */
  CHECK_INT_EQ(db_bind_text(b, 1, "max"), 0);
  CHECK_INT_EQ(db_step(b), DB_ROW);
  db_stmt_t *c = db_prepare(db, sql);
  CHECK(c != NULL && c != b);
  CHECK_INT_EQ(db_bind_text(c, 1, "min"), 0);
  CHECK_INT_EQ(db_step(c), DB_ROW);
  CHECK_INT_EQ(db_col_int64(c, 0), INT64_MIN);
  CHECK_INT_EQ(db_col_int64(b, 0), INT64_MAX);
  db_stmt_done(c);
  db_stmt_done(b);
  db_stmt_t *d = db_prepare(db, sql);
  CHECK(d == a);
  /* bindings were cleared by db_stmt_done: $1 is NULL now */
  CHECK_INT_EQ(db_step(d), DB_DONE);
  db_stmt_done(d);

  /* many distinct statements: the cache trims itself and stays correct */
  for (int i = 0; i < 1200; i++) {
    char q[64];
    snprintf(q, sizeof q, "SELECT %d + $1", i);
    db_stmt_t *st = db_prepare(db, q);
    CHECK(st != NULL);
    if (!st)
      break;
    db_bind_int64(st, 1, 1);
    if (db_step(st) != DB_ROW || db_col_int64(st, 0) != i + 1)
      CHECK(0);
    db_stmt_done(st);
  }
  CHECK_INT_EQ(kv_get(db, "max"), INT64_MAX);
}

static void test_transactions(db_t *db)
{
  CHECK(!db_in_transaction(db));
  CHECK_INT_EQ(db_rollback(db), 0);   /* nothing open: fine */
  CHECK_INT_EQ(db_commit(db), -1);

  CHECK_INT_EQ(db_begin(db), 0);
  CHECK(db_in_transaction(db));
  CHECK_INT_EQ(db_begin(db), -1);     /* no nesting */
  CHECK_INT_EQ(kv_put(db, "tx-rolled-back", 1), DB_DONE);
  CHECK_INT_EQ(kv_get(db, "tx-rolled-back"), 1);
  CHECK_INT_EQ(db_rollback(db), 0);
  CHECK(!db_in_transaction(db));
  CHECK_INT_EQ(kv_get(db, "tx-rolled-back"), -1);

  CHECK_INT_EQ(db_begin(db), 0);
  CHECK_INT_EQ(kv_put(db, "tx-committed", 2), DB_DONE);
  CHECK_INT_EQ(db_commit(db), 0);
  CHECK(!db_in_transaction(db));
  CHECK_INT_EQ(kv_get(db, "tx-committed"), 2);

  /* a failed statement inside a transaction: the caller rolls back */
  CHECK_INT_EQ(db_begin(db), 0);
  CHECK_INT_EQ(kv_put(db, "tx-partial", 3), DB_DONE);
  CHECK_INT_EQ(kv_put(db, "tx-committed", 4), -1);
  CHECK_INT_EQ(db_last_error(db), DB_ERR_CONSTRAINT);
  CHECK(db_in_transaction(db));
  CHECK_INT_EQ(db_rollback(db), 0);
  CHECK_INT_EQ(kv_get(db, "tx-partial"), -1);

  if (db_kind(db) == DB_POSTGRES) {
    /* committing a failed PostgreSQL transaction fails loudly */
    CHECK_INT_EQ(db_begin(db), 0);
    CHECK_INT_EQ(kv_put(db, "tx-pg", 5), DB_DONE);
    CHECK_INT_EQ(kv_put(db, "tx-committed", 4), -1);
    CHECK_INT_EQ(db_commit(db), -1);
    CHECK(!db_in_transaction(db));
    CHECK_INT_EQ(kv_get(db, "tx-pg"), -1);
  }
}

static const char *progress_text(FILE *f, char *buf, size_t len)
{
  fflush(f);
  rewind(f);
  size_t n = fread(buf, 1, len - 1, f);
  buf[n] = '\0';
  rewind(f);
  if (ftruncate(fileno(f), 0) != 0)
    buf[0] = '\0';
  return buf;
}

static void test_migrations(db_t *db)
{
  static const db_migration_t migs[] = {
    {"tdb_a", 1, "CREATE TABLE tdb_m1 (id {{ID}}, x TEXT NOT NULL, at BIGINT DEFAULT {{NOW_MS}})"},
    {"tdb_b", 1, "CREATE TABLE tdb_m2 (k TEXT PRIMARY KEY, data {{BLOB}})"},
    {"tdb_a", 2, "ALTER TABLE tdb_m1 ADD COLUMN y BIGINT;\n"
                 "INSERT INTO tdb_m1 (x, y) VALUES ('một', 1);"},
  };
  char out[512];
  FILE *f = tmpfile();
  CHECK(f != NULL);
  if (!f)
    return;
  CHECK_INT_EQ(db_migrate(db, migs, ARRAY_LEN(migs), f), 3);
  CHECK_STR_EQ(progress_text(f, out, sizeof out),
               "migrate: tdb_a 1 applied\nmigrate: tdb_b 1 applied\nmigrate: tdb_a 2 applied\n");
  CHECK_INT_EQ(db_migrate(db, migs, ARRAY_LEN(migs), f), 0);
  CHECK_STR_EQ(progress_text(f, out, sizeof out), "");
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM tdb_m1"), 1);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM schema_migrations WHERE module LIKE 'tdb_%'"), 3);
  CHECK(q_int(db, "SELECT min(applied_at) FROM schema_migrations WHERE module = 'tdb_a'") >
        now_ms() - 60000);
  CHECK(q_int(db, "SELECT at FROM tdb_m1") > now_ms() - 60000);
  CHECK_INT_EQ(db_migrate(db, migs, 1, NULL), 0);   /* a prefix: nothing new */

  /* a failing migration leaves no trace, and stops the run */
  static const db_migration_t bad[] = {
    {"tdb_c", 1, "CREATE TABLE tdb_c_t (x INTEGER);\nINSERT INTO tdb_c_t VALUES (1);\n"
                 "INSERT INTO no_such_table VALUES (1);"},
    {"tdb_c", 2, "CREATE TABLE tdb_c_u (x INTEGER)"},
  };
  fprintf(stderr, "(a failing migration is expected next)\n");
  CHECK_INT_EQ(db_migrate(db, bad, ARRAY_LEN(bad), f), -1);
  CHECK_STR_EQ(progress_text(f, out, sizeof out), "");
  CHECK(!db_in_transaction(db));
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM schema_migrations WHERE module = 'tdb_c'"), 0);
  db_stmt_t *st = db_prepare(db, "SELECT count(*) FROM tdb_c_t");
  CHECK(st == NULL || db_step(st) < 0);   /* the table does not exist */
  db_stmt_done(st);
  if (db_kind(db) == DB_POSTGRES)
    db_rollback(db);

  /* numbers must rise within a module */
  static const db_migration_t unordered[] = {
    {"tdb_d", 2, "SELECT 1"},
    {"tdb_d", 1, "SELECT 1"},
  };
  fprintf(stderr, "(a refused migration list is expected next)\n");
  CHECK_INT_EQ(db_migrate(db, unordered, ARRAY_LEN(unordered), NULL), -1);
  fclose(f);
}

/* Two nodes migrating at once: every migration is applied exactly once. */
typedef struct {
  const char *url;
  pthread_barrier_t *barrier;
  int result;
} migrator_t;

static const db_migration_t race_migs[] = {
  {"tdb_e", 1, "CREATE TABLE tdb_e1 (id {{ID}}, x TEXT)"},
  {"tdb_e", 2, "INSERT INTO tdb_e1 (x) VALUES ('once')"},
  {"tdb_e", 3, "CREATE TABLE tdb_e3 (k TEXT PRIMARY KEY)"},
};

static void *migrator(void *arg)
{
  migrator_t *m = arg;
  char err[256];
  db_t *db = db_open(m->url, err, sizeof err);
  pthread_barrier_wait(m->barrier);
  m->result = db ? db_migrate(db, race_migs, ARRAY_LEN(race_migs), NULL) : -1;
  db_close(db);
  return NULL;
}

static void test_migration_race(const char *url)
{
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, 2);
  migrator_t m[2] = {{url, &barrier, -1}, {url, &barrier, -1}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, migrator, &m[i]);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  pthread_barrier_destroy(&barrier);
  CHECK(m[0].result >= 0 && m[1].result >= 0);
  CHECK_INT_EQ(m[0].result + m[1].result, (int)ARRAY_LEN(race_migs));
  char err[256];
  db_t *db = db_open(url, err, sizeof err);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM tdb_e1"), 1);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM schema_migrations WHERE module = 'tdb_e'"), 3);
  db_close(db);
}

/* --- pool ------------------------------------------------------------------------ */

#define CONC_THREADS 4
#define CONC_INSERTS 500

typedef struct {
  db_pool_t *pool;
  int thread;
  int failures;
  int acquired;
} worker_t;

static void *conc_worker(void *arg)
{
  worker_t *w = arg;
  for (int i = 0; i < CONC_INSERTS; i++) {
    db_t *db = db_pool_acquire(w->pool);
    if (!db) {
      w->failures++;
      continue;
    }
    db_stmt_t *st = NULL;
    bool ok = db_begin(db) == 0;
    if (ok) {
      st = db_prepare(db, "INSERT INTO tdb_conc (thread, n) VALUES ($1, $2)");
      ok = st && db_bind_int64(st, 1, w->thread) == 0 && db_bind_int64(st, 2, i) == 0 &&
           db_step(st) == DB_DONE;
      db_stmt_done(st);
    }
    ok = ok && db_commit(db) == 0;
    if (!ok) {
      fprintf(stderr, "worker %d insert %d: %s (class %d)\n", w->thread, i, db_errmsg(db),
              (int)db_last_error(db));
      db_rollback(db);
      w->failures++;
    }
    db_pool_release(w->pool, db);
  }
  return NULL;
}

static void *blocked_worker(void *arg)
{
  worker_t *w = arg;
  db_t *db = db_pool_acquire(w->pool);
  __atomic_store_n(&w->acquired, 1, __ATOMIC_SEQ_CST);
  if (db)
    db_pool_release(w->pool, db);
  else
    w->failures++;
  return NULL;
}

static void test_pool(const char *url)
{
  char err[256];
  CHECK(db_pool_open("postgresql://nobody@127.0.0.1:1/none", 2, err, sizeof err) == NULL);
  CHECK(strlen(err) > 0);
  CHECK(strstr(err, "nobody@") == NULL);   /* the URL (credentials) is never echoed */
  CHECK(db_pool_open("/nonexistent-dir/x/y.db", 2, err, sizeof err) == NULL);

  db_pool_t *pool = db_pool_open(url, CONC_THREADS, err, sizeof err);
  CHECK(pool != NULL);
  if (!pool) {
    fprintf(stderr, "pool: %s\n", err);
    return;
  }
  int size = 0, open = 0, in_use = 0;
  uint64_t waits = 99;
  db_pool_stats(pool, &size, &open, &in_use, &waits);
  CHECK_INT_EQ(size, CONC_THREADS);
  CHECK_INT_EQ(open, 1);
  CHECK_INT_EQ(in_use, 0);
  CHECK_INT_EQ(waits, 0);

  /* 4 threads x 500 transactions */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  worker_t w[CONC_THREADS];
  pthread_t th[CONC_THREADS];
  for (int i = 0; i < CONC_THREADS; i++) {
    w[i] = (worker_t){.pool = pool, .thread = i, .failures = 0, .acquired = 0};
    CHECK_INT_EQ(pthread_create(&th[i], NULL, conc_worker, &w[i]), 0);
  }
  int failures = 0;
  for (int i = 0; i < CONC_THREADS; i++) {
    pthread_join(th[i], NULL);
    failures += w[i].failures;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CHECK_INT_EQ(failures, 0);
  db_t *db = db_pool_acquire(pool);
  CHECK(db != NULL);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM tdb_conc"), CONC_THREADS * CONC_INSERTS);
  CHECK_INT_EQ(q_int(db, "SELECT count(DISTINCT n) FROM tdb_conc WHERE thread = 3"), CONC_INSERTS);
  db_pool_release(pool, db);
  db_pool_stats(pool, &size, &open, &in_use, &waits);
  printf("  %d transactions on %d threads in %.0f ms; pool open %d, waits %" PRIu64 "\n",
         CONC_THREADS * CONC_INSERTS, CONC_THREADS,
         (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6, open,
         waits);
  CHECK(open >= 1 && open <= CONC_THREADS);
  CHECK_INT_EQ(in_use, 0);

  /* release rolls back an open transaction and finishes forgotten statements */
  db = db_pool_acquire(pool);
  CHECK_INT_EQ(db_begin(db), 0);
  CHECK_INT_EQ(kv_put(db, "pool-uncommitted", 1), DB_DONE);
  db_stmt_t *st = db_prepare(db, "SELECT k FROM tdb_kv");
  CHECK_INT_EQ(db_step(st), DB_ROW);   /* no db_stmt_done: release cleans up */
  fprintf(stderr, "(a warning about a statement without db_stmt_done is expected next)\n");
  db_pool_release(pool, db);
  db_t *again = db_pool_acquire(pool);
  CHECK(again == db);   /* LIFO: the warm connection comes back */
  CHECK(!db_in_transaction(again));
  CHECK_INT_EQ(kv_get(again, "pool-uncommitted"), -1);
  CHECK_INT_EQ(db_last_error(again), DB_ERR_NONE);
  db_pool_release(pool, again);
  db_pool_release(pool, NULL);

  /* exhaustion: the next acquire blocks until a release */
  db_t *held[CONC_THREADS];
  for (int i = 0; i < CONC_THREADS; i++) {
    held[i] = db_pool_acquire(pool);
    CHECK(held[i] != NULL);
  }
  uint64_t waits_before = 0;
  db_pool_stats(pool, &size, &open, &in_use, &waits_before);
  CHECK_INT_EQ(open, CONC_THREADS);
  CHECK_INT_EQ(in_use, CONC_THREADS);
  worker_t bw = {.pool = pool, .thread = 99, .failures = 0, .acquired = 0};
  pthread_t bt;
  CHECK_INT_EQ(pthread_create(&bt, NULL, blocked_worker, &bw), 0);
  struct timespec pause = {.tv_sec = 0, .tv_nsec = 300 * 1000 * 1000};
  nanosleep(&pause, NULL);
  CHECK_INT_EQ(__atomic_load_n(&bw.acquired, __ATOMIC_SEQ_CST), 0);
  db_pool_stats(pool, NULL, NULL, NULL, &waits);
  CHECK_INT_EQ(waits, waits_before + 1);
  db_pool_release(pool, held[0]);
  pthread_join(bt, NULL);
  CHECK_INT_EQ(bw.acquired, 1);
  CHECK_INT_EQ(bw.failures, 0);
  for (int i = 1; i < CONC_THREADS; i++)
    db_pool_release(pool, held[i]);
  db_pool_stats(pool, &size, &open, &in_use, &waits);
  CHECK_INT_EQ(in_use, 0);

  /* PostgreSQL: a connection killed while idle in the pool is replaced on acquire */
  if (db_pool_kind(pool) == DB_POSTGRES) {
    db = db_pool_acquire(pool);
    int64_t pid = q_int(db, "SELECT pg_backend_pid()");
    db_pool_release(pool, db);
    db_t *admin = db_open(url, err, sizeof err);
    CHECK(admin != NULL);
    st = db_prepare(admin, "SELECT pg_terminate_backend($1)");
    CHECK_INT_EQ(db_bind_int64(st, 1, pid), 0);
    CHECK_INT_EQ(db_step(st), DB_ROW);
    db_stmt_done(st);
    db_close(admin);
    nanosleep(&pause, NULL);
    fprintf(stderr, "(a reconnect notice is expected next)\n");
    db = db_pool_acquire(pool);
    CHECK(db != NULL);
    int64_t pid2 = q_int(db, "SELECT pg_backend_pid()");
    CHECK(pid2 > 0 && pid2 != pid);
    CHECK_INT_EQ(kv_get(db, "max"), INT64_MAX);
    db_pool_release(pool, db);

    /* killed while in use: the statement fails with DB_ERR_CONNECTION, the connection
     * is dropped at release and the next acquire opens a new one */
    db = db_pool_acquire(pool);
    pid = q_int(db, "SELECT pg_backend_pid()");
    admin = db_open(url, err, sizeof err);
    st = db_prepare(admin, "SELECT pg_terminate_backend($1)");
    db_bind_int64(st, 1, pid);
    db_step(st);
    db_stmt_done(st);
    db_close(admin);
    nanosleep(&pause, NULL);
    CHECK_INT_EQ(kv_get(db, "max"), -1);
    CHECK_INT_EQ(db_last_error(db), DB_ERR_CONNECTION);
    db_pool_release(pool, db);
    db = db_pool_acquire(pool);
    CHECK(db != NULL);
    CHECK_INT_EQ(kv_get(db, "max"), INT64_MAX);
    db_pool_release(pool, db);
  }
  db_pool_close(pool);
}

static void run_suite(const char *url, const char *label)
{
  char err[256];
  printf("== %s ==\n", label);
  db_t *db = db_open(url, err, sizeof err);
  CHECK(db != NULL);
  if (!db) {
    fprintf(stderr, "%s: %s\n", label, err);
    return;
  }
  if (db_kind(db) == DB_POSTGRES) {   /* leftovers of an earlier run */
    CHECK_INT_EQ(db_exec(db, "DROP TABLE IF EXISTS tdb_child, tdb_people, tdb_kv, tdb_conc, "
                             "tdb_m1, tdb_m2, tdb_c_t, tdb_c_u, tdb_e1, tdb_e3 CASCADE"), 0);
    db_exec(db, "DELETE FROM schema_migrations WHERE module LIKE 'tdb_%'");
  }
  test_schema(db);
  test_values(db);
  test_cache(db);
  test_transactions(db);
  test_migrations(db);
  db_close(db);
  test_migration_race(url);
  test_pool(url);
}

int main(void)
{
  char dir[] = "/tmp/cityos_test_db_XXXXXX";
  char path[128], extra[160];
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof path, "%s/test.db", dir);
  snprintf(extra, sizeof extra, "sqlite:%s", path);
  run_suite(extra, "sqlite");
  static const char *const suffixes[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
    snprintf(extra, sizeof extra, "%s%s", path, suffixes[i]);
    unlink(extra);
  }
  rmdir(dir);

  const char *pg = getenv("CITYOS_TEST_PG_URL");
  if (pg && *pg)
    run_suite(pg, "postgres");
  else
    printf("skipped postgres: CITYOS_TEST_PG_URL not set\n");
  return check_summary();
}
