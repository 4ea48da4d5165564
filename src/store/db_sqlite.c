#include "base/common.h"
/*
 * db_sqlite.c - the SQLite backend of db.h.
 *
 * One connection per db_t, opened NOMUTEX (a db_t is used by one thread at a time).
 * Parameters are written $1, $2, ...; SQLite treats "$1" as a named parameter, and
 * repeated names share one index, so at prepare time we map N to
 * sqlite3_bind_parameter_index(stmt, "$N") once (pmap) and binding is an array lookup.
 */
#include "store/db_internal.h"

#define DB_SQLITE_BUSY_MS 10000

static db_error_t db_sqlite_classify(int rc)
{
  switch (rc & 0xff) {
  case SQLITE_CONSTRAINT:
    return DB_ERR_CONSTRAINT;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return DB_ERR_BUSY;
  default:
    return DB_ERR_OTHER;
  }
}

static void db_sqlite_fail(db_t *db, int rc, const char *what)
{
  int xrc = sqlite3_extended_errcode(db->c.lite);
  if (rc == SQLITE_OK || (xrc & 0xff) == (rc & 0xff))
    rc = xrc;
  db_set_error(db, db_sqlite_classify(rc), "%s: %s (sqlite %d)", what,
               sqlite3_errmsg(db->c.lite), rc);
}

static int db_sqlite_journal_cb(void *arg, int ncols, char **vals, char **names)
{
  UNUSED(names);
  char *mode = arg;
  if (ncols > 0 && vals[0])
    snprintf(mode, 16, "%s", vals[0]);
  return 0;
}

int db_sqlite_connect(db_t *db, const char *path, char *errbuf, size_t errlen)
{
  int rc = -1;
  sqlite3 *h = NULL;
  char *emsg = NULL;
  char mode[16] = "";

  if (!sqlite3_threadsafe()) {
    snprintf(errbuf, errlen, "sqlite: library built without thread support");
    goto done;
  }
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
  int src = sqlite3_open_v2(path, &h, flags, NULL);
  if (src != SQLITE_OK) {
    snprintf(errbuf, errlen, "sqlite: cannot open %s: %s", path,
             h ? sqlite3_errmsg(h) : sqlite3_errstr(src));
    goto done;
  }
  sqlite3_extended_result_codes(h, 1);
  sqlite3_busy_timeout(h, DB_SQLITE_BUSY_MS);   /* before journal_mode: it may need a lock */
  if (sqlite3_exec(h, "PRAGMA journal_mode=WAL", db_sqlite_journal_cb, mode, &emsg) != SQLITE_OK ||
      sqlite3_exec(h, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", NULL, NULL, &emsg) !=
        SQLITE_OK) {
    snprintf(errbuf, errlen, "sqlite: %s: %s", path, emsg ? emsg : sqlite3_errmsg(h));
    goto done;
  }
  if (strcasecmp(mode, "wal") != 0 && strcasecmp(mode, "memory") != 0)
    fprintf(stderr, "db: %s: journal_mode is %s, not wal\n", path, mode);
  db->c.lite = h;
  h = NULL;
  rc = 0;
done:
  sqlite3_free(emsg);
  if (h)
    sqlite3_close_v2(h);
  return rc;
}

void db_sqlite_disconnect(db_t *db)
{
  if (db->c.lite) {
    int rc = sqlite3_close(db->c.lite);
    if (rc != SQLITE_OK) {
      fprintf(stderr, "db: sqlite close: %s\n", sqlite3_errstr(rc));
      sqlite3_close_v2(db->c.lite);
    }
    db->c.lite = NULL;
  }
}

/* Only whitespace, ';' or comments after the first statement? */
static bool db_sqlite_tail_empty(sqlite3 *h, const char *tail)
{
  const char *p = tail;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ';')
    p++;
  if (*p == '\0')
    return true;
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2(h, p, -1, &s, NULL);
  bool empty = rc == SQLITE_OK && s == NULL;
  sqlite3_finalize(s);
  return empty;
}

int db_sqlite_prepare(db_stmt_t *st)
{
  int rc = -1;
  db_t *db = st->db;
  sqlite3_stmt *s = NULL;
  const char *tail = NULL;
  int *pmap = NULL;

  int src = sqlite3_prepare_v3(db->c.lite, st->sql, -1, SQLITE_PREPARE_PERSISTENT, &s, &tail);
  if (src != SQLITE_OK) {
    db_sqlite_fail(db, src, "prepare");
    goto done;
  }
  if (s == NULL) {
    db_set_error(db, DB_ERR_OTHER, "prepare: empty statement");
    goto done;
  }
  if (tail && !db_sqlite_tail_empty(db->c.lite, tail)) {
    db_set_error(db, DB_ERR_OTHER, "prepare: one statement only (use db_exec for scripts)");
    goto done;
  }
  int count = sqlite3_bind_parameter_count(s);
  int maxn = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 1; i <= count; i++) {
      const char *name = sqlite3_bind_parameter_name(s, i);
      char *end = NULL;
      long n = 0;
      if (name && name[0] == '$' && name[1] >= '1' && name[1] <= '9') {
        errno = 0;
        n = strtol(name + 1, &end, 10);
        if (errno != 0 || *end != '\0' || n > 65535)
          n = 0;
      }
      if (n <= 0) {
        db_set_error(db, DB_ERR_OTHER, "prepare: parameter %s: write parameters as $1, $2, ...",
                     name ? name : "?");
        goto done;
      }
      if (pass == 0 && n > maxn)
        maxn = (int)n;
      else if (pass == 1)
        pmap[n] = i;
    }
    if (pass == 0) {
      pmap = calloc((size_t)maxn + 1, sizeof(int));
      if (!pmap) {
        db_set_error(db, DB_ERR_OTHER, "prepare: out of memory");
        goto done;
      }
    }
  }
  st->u.lite.stmt = s;
  st->u.lite.pmap = pmap;
  st->u.lite.npmap = maxn + 1;
  s = NULL;
  pmap = NULL;
  rc = 0;
done:
  sqlite3_finalize(s);
  free(pmap);
  return rc;
}

void db_sqlite_finalize(db_stmt_t *st)
{
  sqlite3_finalize(st->u.lite.stmt);
  st->u.lite.stmt = NULL;
  free(st->u.lite.pmap);
  st->u.lite.pmap = NULL;
  st->u.lite.npmap = 0;
}

/* SQLite index of $idx, or 0 (error set). */
static int db_sqlite_index(db_stmt_t *st, int idx)
{
  if (idx < 1 || idx >= st->u.lite.npmap || st->u.lite.pmap[idx] == 0) {
    db_set_error(st->db, DB_ERR_OTHER, "bind: statement has no parameter $%d", idx);
    return 0;
  }
  return st->u.lite.pmap[idx];
}

static int db_sqlite_bound(db_stmt_t *st, int src)
{
  if (src == SQLITE_OK)
    return 0;
  db_sqlite_fail(st->db, src, "bind");
  return -1;
}

int db_sqlite_bind_text(db_stmt_t *st, int idx, const char *v)
{
  int i = db_sqlite_index(st, idx);
  if (!i)
    return -1;
  if (!v)
    return db_sqlite_bound(st, sqlite3_bind_null(st->u.lite.stmt, i));
  return db_sqlite_bound(st, sqlite3_bind_text64(st->u.lite.stmt, i, v, strlen(v),
                                                 SQLITE_TRANSIENT, SQLITE_UTF8));
}

int db_sqlite_bind_int64(db_stmt_t *st, int idx, int64_t v)
{
  int i = db_sqlite_index(st, idx);
  if (!i)
    return -1;
  return db_sqlite_bound(st, sqlite3_bind_int64(st->u.lite.stmt, i, (sqlite3_int64)v));
}

int db_sqlite_bind_double(db_stmt_t *st, int idx, double v)
{
  int i = db_sqlite_index(st, idx);
  if (!i)
    return -1;
  return db_sqlite_bound(st, sqlite3_bind_double(st->u.lite.stmt, i, v));
}

int db_sqlite_bind_blob(db_stmt_t *st, int idx, const void *v, size_t len)
{
  int i = db_sqlite_index(st, idx);
  if (!i)
    return -1;
  if (!v)
    return db_sqlite_bound(st, sqlite3_bind_null(st->u.lite.stmt, i));
  if (len == 0)
    return db_sqlite_bound(st, sqlite3_bind_zeroblob(st->u.lite.stmt, i, 0));
  return db_sqlite_bound(st, sqlite3_bind_blob64(st->u.lite.stmt, i, v, len, SQLITE_TRANSIENT));
}

int db_sqlite_bind_null(db_stmt_t *st, int idx)
{
  int i = db_sqlite_index(st, idx);
  if (!i)
    return -1;
  return db_sqlite_bound(st, sqlite3_bind_null(st->u.lite.stmt, i));
}

int db_sqlite_step(db_stmt_t *st)
{
  sqlite3_stmt *s = st->u.lite.stmt;
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW)
    return DB_ROW;
  if (rc == SQLITE_DONE) {
    if (!sqlite3_stmt_readonly(s)) {
#if SQLITE_VERSION_NUMBER >= 3037000
      st->changes = (int64_t)sqlite3_changes64(st->db->c.lite);
#else
      st->changes = (int64_t)sqlite3_changes(st->db->c.lite);
#endif
    } else {
      st->changes = 0;
    }
    return DB_DONE;
  }
  db_sqlite_fail(st->db, rc, "step");
  return -1;
}

void db_sqlite_reset(db_stmt_t *st)
{
  sqlite3_reset(st->u.lite.stmt);
  sqlite3_clear_bindings(st->u.lite.stmt);
}

int db_sqlite_col_count(db_stmt_t *st)
{
  return sqlite3_column_count(st->u.lite.stmt);
}

bool db_sqlite_col_is_null(db_stmt_t *st, int col)
{
  return sqlite3_column_type(st->u.lite.stmt, col) == SQLITE_NULL;
}

const char *db_sqlite_col_text(db_stmt_t *st, int col)
{
  return (const char *)sqlite3_column_text(st->u.lite.stmt, col);
}

int64_t db_sqlite_col_int64(db_stmt_t *st, int col)
{
  return (int64_t)sqlite3_column_int64(st->u.lite.stmt, col);
}

double db_sqlite_col_double(db_stmt_t *st, int col)
{
  return sqlite3_column_double(st->u.lite.stmt, col);
}

const void *db_sqlite_col_blob(db_stmt_t *st, int col, size_t *len)
{
  sqlite3_stmt *s = st->u.lite.stmt;
  if (sqlite3_column_type(s, col) == SQLITE_NULL) {
    *len = 0;
    return NULL;
  }
  const void *p = sqlite3_column_blob(s, col);
  int n = sqlite3_column_bytes(s, col);
  *len = n > 0 ? (size_t)n : 0;
  return p ? p : "";   /* an empty blob is not NULL */
}

int db_sqlite_exec(db_t *db, const char *sql)
{
  char *emsg = NULL;
  int rc = sqlite3_exec(db->c.lite, sql, NULL, NULL, &emsg);
  if (rc != SQLITE_OK) {
    int xrc = sqlite3_extended_errcode(db->c.lite);
    db_set_error(db, db_sqlite_classify(xrc ? xrc : rc), "exec: %s (sqlite %d)",
                 emsg ? emsg : sqlite3_errstr(rc), xrc ? xrc : rc);
    sqlite3_free(emsg);
    return -1;
  }
  return 0;
}

bool db_sqlite_in_transaction(const db_t *db)
{
  return db->c.lite && !sqlite3_get_autocommit(db->c.lite);
}
