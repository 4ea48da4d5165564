/*
 * db_internal.h - shared between db.c (pool, dispatch, cache, migrations) and the two
 * backends db_sqlite.c and db_pg.c. Not for use outside src/store/.
 *
 * Dispatch is a switch on db->kind in db.c (two backends; a switch keeps the calls
 * direct and inlinable). Each backend implements the db_sqlite_* / db_pg_* functions
 * below; db.c owns the statement cache (hash map keyed by SQL text) and the pool.
 */
#ifndef CITYOS_DB_INTERNAL_H
#define CITYOS_DB_INTERNAL_H

#include "base/common.h"
#include "store/db.h"

#include <sqlite3.h>
#include <libpq-fe.h>

#define DB_ERRMSG_MAX 512
/* Cached statements per connection; past this, idle statements are dropped. */
#define DB_STMT_CACHE_MAX 512

/* One PostgreSQL parameter: a reusable buffer holding its text (or binary) value. */
typedef struct {
  char *data;
  size_t cap;
  int len;
  int format;    /* 0 text, 1 binary */
  bool is_null;
} db_pg_param_t;

/* Decoded bytea of one PostgreSQL result column, valid for row `row`. */
typedef struct {
  unsigned char *data;
  size_t cap;
  size_t len;
  int row;
} db_pg_blob_t;

struct db_stmt {
  db_t *db;
  char *sql;             /* owned copy: the cache key */
  uint64_t hash;
  db_stmt_t *next;       /* hash chain, or the transient list */
  bool cached;           /* false: a second copy made while the cached one was busy */
  bool active;           /* between db_prepare() and db_stmt_done() */
  bool evict;            /* drop from the cache at db_stmt_done (plan invalidated) */
  int64_t changes;
  union {
    struct {
      sqlite3_stmt *stmt;
      int *pmap;         /* pmap[N] = SQLite index of "$N", 0 when absent */
      int npmap;         /* highest N + 1 */
    } lite;
    struct {
      char name[24];     /* "s1", "s2", ... */
      int nparams;
      int nfields;
      db_pg_param_t *params;
      const char **values;
      int *lengths;
      int *formats;
      PGresult *res;     /* after the first db_step */
      int row;           /* current row, -1 before the first */
      int nrows;
      db_pg_blob_t *blobs; /* nfields entries, allocated on first db_col_blob */
      int nblobs;
    } pg;
  } u;
};

struct db {
  db_kind_t kind;
  union {
    sqlite3 *lite;
    PGconn *pg;
  } c;
  /* statement cache */
  db_stmt_t **buckets;
  size_t nbuckets;       /* power of two */
  size_t nstmts;
  int active_stmts;      /* statements between prepare and done */
  db_stmt_t *transient;  /* uncached statements currently in use */
  uint64_t pg_next_name;
  /* last error */
  db_error_t err;
  char errmsg[DB_ERRMSG_MAX];
};

/* db.c */
void db_set_error(db_t *db, db_error_t err, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
void db_clear_error(db_t *db);

/* db_sqlite.c */
int db_sqlite_connect(db_t *db, const char *path, char *errbuf, size_t errlen);
void db_sqlite_disconnect(db_t *db);
int db_sqlite_prepare(db_stmt_t *st);
void db_sqlite_finalize(db_stmt_t *st);
int db_sqlite_bind_text(db_stmt_t *st, int idx, const char *v);
int db_sqlite_bind_int64(db_stmt_t *st, int idx, int64_t v);
int db_sqlite_bind_double(db_stmt_t *st, int idx, double v);
int db_sqlite_bind_blob(db_stmt_t *st, int idx, const void *v, size_t len);
int db_sqlite_bind_null(db_stmt_t *st, int idx);
int db_sqlite_step(db_stmt_t *st);
void db_sqlite_reset(db_stmt_t *st);
int db_sqlite_col_count(db_stmt_t *st);
bool db_sqlite_col_is_null(db_stmt_t *st, int col);
const char *db_sqlite_col_text(db_stmt_t *st, int col);
int64_t db_sqlite_col_int64(db_stmt_t *st, int col);
double db_sqlite_col_double(db_stmt_t *st, int col);
const void *db_sqlite_col_blob(db_stmt_t *st, int col, size_t *len);
int db_sqlite_exec(db_t *db, const char *sql);
bool db_sqlite_in_transaction(const db_t *db);

/* db_pg.c */
int db_pg_connect(db_t *db, const char *url, char *errbuf, size_t errlen);
void db_pg_disconnect(db_t *db);
/* False when the connection is known to be unusable (checked without a round trip). */
bool db_pg_healthy(db_t *db);
int db_pg_prepare(db_stmt_t *st);
/* server_side: also DEALLOCATE on the server (false when the connection is gone). */
void db_pg_finalize(db_stmt_t *st, bool server_side);
int db_pg_bind_text(db_stmt_t *st, int idx, const char *v);
int db_pg_bind_int64(db_stmt_t *st, int idx, int64_t v);
int db_pg_bind_double(db_stmt_t *st, int idx, double v);
int db_pg_bind_blob(db_stmt_t *st, int idx, const void *v, size_t len);
int db_pg_bind_null(db_stmt_t *st, int idx);
int db_pg_step(db_stmt_t *st);
void db_pg_reset(db_stmt_t *st);
int db_pg_col_count(db_stmt_t *st);
bool db_pg_col_is_null(db_stmt_t *st, int col);
const char *db_pg_col_text(db_stmt_t *st, int col);
int64_t db_pg_col_int64(db_stmt_t *st, int col);
double db_pg_col_double(db_stmt_t *st, int col);
const void *db_pg_col_blob(db_stmt_t *st, int col, size_t *len);
int db_pg_exec(db_t *db, const char *sql);
int db_pg_notify_wait(db_t *db, int timeout_ms);
bool db_pg_in_transaction(const db_t *db);

#endif
