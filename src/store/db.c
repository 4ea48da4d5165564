#include "base/common.h"
/*
 * db.c - the backend-neutral half of db.h: connections, the per-connection statement
 * cache, dispatch to db_sqlite.c / db_pg.c, transactions, {{TOKEN}} replacement,
 * migrations and the connection pool.
 *
 * Statement cache: a chained hash map per db_t, keyed by SQL text (FNV-1a, then
 * strcmp). db_prepare() of a cached, idle statement is a hash and a compare. If the
 * cached statement is still in use (the same SQL prepared again before db_stmt_done,
 * e.g. nested loops), a transient copy is prepared and freed by its db_stmt_done. The
 * cache holds at most DB_STMT_CACHE_MAX statements; past that, idle ones are dropped.
 *
 * Pool: a mutex, a condition variable and a LIFO stack of idle connections (the most
 * recently used connection has the warmest cache). Connections are opened lazily, up
 * to `size`, outside the lock.
 */
#include "store/db_internal.h"

#include <pthread.h>

#define DB_BUCKETS_INITIAL 64
/* pg_advisory_xact_lock key held by migrations: "cityos-m" in ASCII. */
#define DB_MIGRATE_LOCK "7163379094455373165"

/* --- errors --------------------------------------------------------------------- */

void db_set_error(db_t *db, db_error_t err, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(db->errmsg, sizeof db->errmsg, fmt, ap);
  va_end(ap);
  for (char *p = db->errmsg; *p; p++) {
    if (*p == '\n' || *p == '\r' || *p == '\t')
      *p = ' ';
  }
  db->err = err;
}

void db_clear_error(db_t *db)
{
  db->err = DB_ERR_NONE;
  db->errmsg[0] = '\0';
}

const char *db_errmsg(const db_t *db)
{
  if (!db)
    return "no connection";
  return db->errmsg[0] ? db->errmsg : "no error";
}

db_error_t db_last_error(const db_t *db)
{
  return db ? db->err : DB_ERR_CONNECTION;
}

/* --- statement cache ------------------------------------------------------------- */

static uint64_t db_hash(const char *s)
{
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

static void db_stmt_free(db_stmt_t *st, bool server_side)
{
  if (st->db->kind == DB_SQLITE)
    db_sqlite_finalize(st);
  else
    db_pg_finalize(st, server_side);
  free(st->sql);
  free(st);
}

static void db_cache_grow(db_t *db)
{
  size_t n = db->nbuckets * 2;
  db_stmt_t **b = calloc(n, sizeof *b);
  if (!b)
    return;   /* longer chains, still correct */
  for (size_t i = 0; i < db->nbuckets; i++) {
    db_stmt_t *s = db->buckets[i];
    while (s) {
      db_stmt_t *next = s->next;
      size_t j = (size_t)(s->hash & (n - 1));
      s->next = b[j];
      b[j] = s;
      s = next;
    }
  }
  free(db->buckets);
  db->buckets = b;
  db->nbuckets = n;
}

/* Drops every idle cached statement. */
static void db_cache_trim(db_t *db)
{
  for (size_t i = 0; i < db->nbuckets; i++) {
    db_stmt_t **pp = &db->buckets[i];
    while (*pp) {
      db_stmt_t *s = *pp;
      if (!s->active) {
        *pp = s->next;
        db->nstmts--;
        db_stmt_free(s, true);
      } else {
        pp = &s->next;
      }
    }
  }
}

static void db_cache_remove(db_t *db, db_stmt_t *st)
{
  db_stmt_t **pp = &db->buckets[st->hash & (db->nbuckets - 1)];
  while (*pp && *pp != st)
    pp = &(*pp)->next;
  if (*pp) {
    *pp = st->next;
    db->nstmts--;
  }
}

/* Frees every statement (server_side false: the session is about to end). */
static void db_cache_clear(db_t *db, bool server_side)
{
  for (size_t i = 0; i < db->nbuckets; i++) {
    db_stmt_t *s = db->buckets[i];
    while (s) {
      db_stmt_t *next = s->next;
      db_stmt_free(s, server_side);
      s = next;
    }
    db->buckets[i] = NULL;
  }
  while (db->transient) {
    db_stmt_t *next = db->transient->next;
    db_stmt_free(db->transient, server_side);
    db->transient = next;
  }
  db->nstmts = 0;
  db->active_stmts = 0;
}

/* db_stmt_done() on every statement a caller forgot to finish. */
static void db_finish_active(db_t *db)
{
  if (db->active_stmts <= 0)
    return;
  fprintf(stderr, "db: %d statement(s) released without db_stmt_done\n", db->active_stmts);
  while (db->transient)
    db_stmt_done(db->transient);
  for (size_t i = 0; i < db->nbuckets && db->active_stmts > 0; i++) {
    db_stmt_t *s = db->buckets[i];
    while (s) {
      db_stmt_t *next = s->next;   /* db_stmt_done may evict s */
      if (s->active)
        db_stmt_done(s);
      s = next;
    }
  }
  db->active_stmts = 0;
}

/* --- connections ------------------------------------------------------------------- */

db_t *db_open(const char *url, char *errbuf, size_t errlen)
{
  char local[DB_ERRMSG_MAX];
  db_t *db = NULL;
  db_t *out = NULL;
  if (!errbuf || errlen == 0) {
    errbuf = local;
    errlen = sizeof local;
  }
  errbuf[0] = '\0';
  if (!url || !*url) {
    snprintf(errbuf, errlen, "db: no database URL");
    goto done;
  }
  db = calloc(1, sizeof *db);
  if (db)
    db->buckets = calloc(DB_BUCKETS_INITIAL, sizeof *db->buckets);
  if (!db || !db->buckets) {
    snprintf(errbuf, errlen, "db: out of memory");
    goto done;
  }
  db->nbuckets = DB_BUCKETS_INITIAL;
  if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
    db->kind = DB_POSTGRES;
    if (db_pg_connect(db, url, errbuf, errlen) != 0)
      goto done;
  } else {
    const char *path = url;
    if (strncmp(url, "sqlite://", 9) == 0)
      path = url + 9;
    else if (strncmp(url, "sqlite:", 7) == 0)
      path = url + 7;
    if (!*path) {
      snprintf(errbuf, errlen, "db: empty SQLite path");
      goto done;
    }
    db->kind = DB_SQLITE;
    if (db_sqlite_connect(db, path, errbuf, errlen) != 0)
      goto done;
  }
  out = db;
  db = NULL;
done:
  if (db) {
    free(db->buckets);
    free(db);
  }
  return out;
}

void db_close(db_t *db)
{
  if (!db)
    return;
  db_cache_clear(db, false);
  if (db->kind == DB_SQLITE)
    db_sqlite_disconnect(db);
  else
    db_pg_disconnect(db);
  free(db->buckets);
  free(db);
}

db_kind_t db_kind(const db_t *db)
{
  return db->kind;
}

/* --- statements ------------------------------------------------------------------- */

db_stmt_t *db_prepare(db_t *db, const char *sql)
{
  if (!db)
    return NULL;
  if (!sql) {
    db_set_error(db, DB_ERR_OTHER, "prepare: no SQL");
    return NULL;
  }
  uint64_t h = db_hash(sql);
  bool busy = false;
  for (db_stmt_t *s = db->buckets[h & (db->nbuckets - 1)]; s; s = s->next) {
    if (s->hash == h && strcmp(s->sql, sql) == 0) {
      if (!s->active) {
        s->active = true;
        db->active_stmts++;
        return s;
      }
      busy = true;
      break;
    }
  }

  db_stmt_t *st = calloc(1, sizeof *st);
  char *copy = strdup(sql);
  if (!st || !copy) {
    free(st);
    free(copy);
    db_set_error(db, DB_ERR_OTHER, "prepare: out of memory");
    return NULL;
  }
  st->db = db;
  st->sql = copy;
  st->hash = h;
  int rc = db->kind == DB_SQLITE ? db_sqlite_prepare(st) : db_pg_prepare(st);
  if (rc != 0) {
    free(copy);
    free(st);
    return NULL;
  }
  if (busy) {
    st->cached = false;
    st->next = db->transient;
    db->transient = st;
  } else {
    if (db->nstmts >= DB_STMT_CACHE_MAX)
      db_cache_trim(db);
    if (db->nstmts + 1 > db->nbuckets / 4 * 3)
      db_cache_grow(db);
    size_t b = (size_t)(h & (db->nbuckets - 1));
    st->cached = true;
    st->next = db->buckets[b];
    db->buckets[b] = st;
    db->nstmts++;
  }
  st->active = true;
  db->active_stmts++;
  return st;
}

void db_stmt_done(db_stmt_t *st)
{
  if (!st)
    return;
  db_t *db = st->db;
  if (db->kind == DB_SQLITE)
    db_sqlite_reset(st);
  else
    db_pg_reset(st);
  if (st->active) {
    st->active = false;
    db->active_stmts--;
  }
  if (!st->cached) {
    db_stmt_t **pp = &db->transient;
    while (*pp && *pp != st)
      pp = &(*pp)->next;
    if (*pp)
      *pp = st->next;
    db_stmt_free(st, true);
  } else if (st->evict) {
    db_cache_remove(db, st);
    db_stmt_free(st, true);
  }
}

#define DB_DISPATCH(st, fail, lite, pg) \
  ((st) == NULL ? (fail) : (st)->db->kind == DB_SQLITE ? (lite) : (pg))

int db_bind_text(db_stmt_t *st, int idx, const char *v)
{
  return DB_DISPATCH(st, -1, db_sqlite_bind_text(st, idx, v), db_pg_bind_text(st, idx, v));
}

int db_bind_int64(db_stmt_t *st, int idx, int64_t v)
{
  return DB_DISPATCH(st, -1, db_sqlite_bind_int64(st, idx, v), db_pg_bind_int64(st, idx, v));
}

int db_bind_double(db_stmt_t *st, int idx, double v)
{
  return DB_DISPATCH(st, -1, db_sqlite_bind_double(st, idx, v), db_pg_bind_double(st, idx, v));
}

int db_bind_blob(db_stmt_t *st, int idx, const void *v, size_t len)
{
  return DB_DISPATCH(st, -1, db_sqlite_bind_blob(st, idx, v, len),
                     db_pg_bind_blob(st, idx, v, len));
}

int db_bind_null(db_stmt_t *st, int idx)
{
  return DB_DISPATCH(st, -1, db_sqlite_bind_null(st, idx), db_pg_bind_null(st, idx));
}

int db_step(db_stmt_t *st)
{
  return DB_DISPATCH(st, -1, db_sqlite_step(st), db_pg_step(st));
}

int db_col_count(db_stmt_t *st)
{
  return DB_DISPATCH(st, 0, db_sqlite_col_count(st), db_pg_col_count(st));
}

bool db_col_is_null(db_stmt_t *st, int col)
{
  return DB_DISPATCH(st, true, db_sqlite_col_is_null(st, col), db_pg_col_is_null(st, col));
}

const char *db_col_text(db_stmt_t *st, int col)
{
  return DB_DISPATCH(st, NULL, db_sqlite_col_text(st, col), db_pg_col_text(st, col));
}

int64_t db_col_int64(db_stmt_t *st, int col)
{
  return DB_DISPATCH(st, 0, db_sqlite_col_int64(st, col), db_pg_col_int64(st, col));
}

double db_col_double(db_stmt_t *st, int col)
{
  return DB_DISPATCH(st, 0.0, db_sqlite_col_double(st, col), db_pg_col_double(st, col));
}

const void *db_col_blob(db_stmt_t *st, int col, size_t *len)
{
  size_t dummy;
  if (!len)
    len = &dummy;
  *len = 0;
  return DB_DISPATCH(st, NULL, db_sqlite_col_blob(st, col, len), db_pg_col_blob(st, col, len));
}

int64_t db_changes(db_stmt_t *st)
{
  return st ? st->changes : 0;
}

/* --- whole statements and transactions --------------------------------------------- */

int db_exec(db_t *db, const char *sql)
{
  if (!db)
    return -1;
  if (!sql) {
    db_set_error(db, DB_ERR_OTHER, "exec: no SQL");
    return -1;
  }
  return db->kind == DB_SQLITE ? db_sqlite_exec(db, sql) : db_pg_exec(db, sql);
}

int db_notify_wait(db_t *db, int timeout_ms)
{
  if (!db)
    return -1;
  if (db->kind != DB_POSTGRES) {
    db_set_error(db, DB_ERR_OTHER, "notify: PostgreSQL only");
    return -1;
  }
  return db_pg_notify_wait(db, timeout_ms);
}

static const struct {
  const char *name;
  const char *lite;
  const char *pg;
} db_tokens[] = {
  {"ID", "INTEGER PRIMARY KEY AUTOINCREMENT",
   "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"},
  {"BLOB", "BLOB", "BYTEA"},
  /* unixepoch('subsec') needs SQLite 3.42; this form works from 3.35 and is exact. */
  {"NOW_MS",
   "(CAST(strftime('%s','now') AS INTEGER)*1000 + CAST(substr(strftime('%f','now'),4) AS INTEGER))",
   "(CAST(EXTRACT(EPOCH FROM clock_timestamp())*1000 AS BIGINT))"},
};

/* sql with the {{TOKEN}}s replaced, malloc'd; NULL with the error set. */
static char *db_replace_tokens(db_t *db, const char *sql)
{
  char *out = NULL;
  size_t cap = strlen(sql) + 1;
  for (int pass = 0; pass < 2; pass++) {
    size_t n = 0;
    const char *p = sql;
    while (*p) {
      const char *open = strstr(p, "{{");
      size_t lit = open ? (size_t)(open - p) : strlen(p);
      if (pass == 1)
        memcpy(out + n, p, lit);
      n += lit;
      if (!open)
        break;
      const char *close = strstr(open + 2, "}}");
      size_t k = 0;
      const char *rep = NULL;
      for (k = 0; close && k < ARRAY_LEN(db_tokens); k++) {
        size_t len = strlen(db_tokens[k].name);
        if ((size_t)(close - open - 2) == len && memcmp(open + 2, db_tokens[k].name, len) == 0) {
          rep = db->kind == DB_SQLITE ? db_tokens[k].lite : db_tokens[k].pg;
          break;
        }
      }
      if (!rep) {
        int shown = close ? (int)(close - open + 2) : 2;
        if (shown > 40)
          shown = 40;
        db_set_error(db, DB_ERR_OTHER, "script: unknown token %.*s", shown, open);
        free(out);
        return NULL;
      }
      size_t rlen = strlen(rep);
      if (pass == 1)
        memcpy(out + n, rep, rlen);
      n += rlen;
      p = close + 2;
    }
    if (pass == 0) {
      cap = n + 1;
      out = malloc(cap);
      if (!out) {
        db_set_error(db, DB_ERR_OTHER, "script: out of memory");
        return NULL;
      }
    } else {
      out[n] = '\0';
    }
  }
  return out;
}

int db_exec_script(db_t *db, const char *sql)
{
  if (!db)
    return -1;
  if (!sql) {
    db_set_error(db, DB_ERR_OTHER, "script: no SQL");
    return -1;
  }
  char *text = db_replace_tokens(db, sql);
  if (!text)
    return -1;
  int rc = db_exec(db, text);
  free(text);
  return rc;
}

bool db_in_transaction(const db_t *db)
{
  if (!db)
    return false;
  return db->kind == DB_SQLITE ? db_sqlite_in_transaction(db) : db_pg_in_transaction(db);
}

int db_begin(db_t *db)
{
  if (!db)
    return -1;
  if (db_in_transaction(db)) {
    db_set_error(db, DB_ERR_OTHER, "begin: a transaction is already open");
    return -1;
  }
  return db_exec(db, db->kind == DB_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN");
}

int db_commit(db_t *db)
{
  if (!db)
    return -1;
  if (!db_in_transaction(db)) {
    db_set_error(db, DB_ERR_OTHER, "commit: no transaction is open");
    return -1;
  }
  /* PostgreSQL answers COMMIT of a failed transaction with "ROLLBACK", not an error. */
  if (db->kind == DB_POSTGRES && PQtransactionStatus(db->c.pg) == PQTRANS_INERROR) {
    db_exec(db, "ROLLBACK");
    db_set_error(db, DB_ERR_OTHER, "commit: a statement had failed; transaction rolled back");
    return -1;
  }
  return db_exec(db, "COMMIT");
}

int db_rollback(db_t *db)
{
  if (!db)
    return -1;
  if (!db_in_transaction(db))
    return 0;
  return db_exec(db, "ROLLBACK");
}

/* --- migrations -------------------------------------------------------------------- */

static int64_t db_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Serialises migrating nodes (PostgreSQL); SQLite's BEGIN IMMEDIATE already does. */
static int db_migrate_lock(db_t *db)
{
  if (db->kind != DB_POSTGRES)
    return 0;
  return db_exec(db, "SELECT pg_advisory_xact_lock(" DB_MIGRATE_LOCK ")");
}

/* 1 applied, 0 not, -1 error. */
static int db_migration_applied(db_t *db, const db_migration_t *m)
{
  int rc = -1;
  db_stmt_t *st = db_prepare(db, "SELECT 1 FROM schema_migrations WHERE module = $1 AND number = $2");
  if (!st || db_bind_text(st, 1, m->module) || db_bind_int64(st, 2, m->number))
    goto done;
  int s = db_step(st);
  if (s < 0)
    goto done;
  rc = s == DB_ROW ? 1 : 0;
done:
  db_stmt_done(st);
  return rc;
}

static int db_migration_apply(db_t *db, const db_migration_t *m, FILE *progress)
{
  int rc = -1;
  db_stmt_t *st = NULL;
  if (db_begin(db) || db_migrate_lock(db))
    goto done;
  int applied = db_migration_applied(db, m);   /* again, under the lock */
  if (applied < 0)
    goto done;
  if (applied) {
    rc = db_commit(db) == 0 ? 0 : -1;
    goto done;
  }
  if (db_exec_script(db, m->sql))
    goto done;
  st = db_prepare(db, "INSERT INTO schema_migrations (module, number, applied_at) VALUES ($1, $2, $3)");
  if (!st || db_bind_text(st, 1, m->module) || db_bind_int64(st, 2, m->number) ||
      db_bind_int64(st, 3, db_now_ms()) || db_step(st) != DB_DONE)
    goto done;
  db_stmt_done(st);
  st = NULL;
  if (db_commit(db))
    goto done;
  if (progress) {
    fprintf(progress, "migrate: %s %d applied\n", m->module, m->number);
    fflush(progress);
  }
  rc = 1;
done:
  db_stmt_done(st);
  return rc;
}

int db_migrate(db_t *db, const db_migration_t *migs, size_t n, FILE *progress)
{
  int rc = -1;
  int count = 0;
  const db_migration_t *failed = NULL;
  if (!db)
    return -1;
  for (size_t i = 0; i < n; i++) {
    const db_migration_t *m = &migs[i];
    if (!m->module || !*m->module || m->number < 1 || !m->sql) {
      db_set_error(db, DB_ERR_OTHER, "migrate: entry %zu is incomplete", i);
      goto done;
    }
    for (size_t j = 0; j < i; j++) {   /* numbers rise within a module */
      if (strcmp(migs[j].module, m->module) == 0 && migs[j].number >= m->number) {
        db_set_error(db, DB_ERR_OTHER, "migrate: %s %d listed after %s %d", m->module,
                     m->number, migs[j].module, migs[j].number);
        goto done;
      }
    }
  }
  if (db_in_transaction(db)) {
    db_set_error(db, DB_ERR_OTHER, "migrate: called inside a transaction");
    goto done;
  }
  if (db_begin(db) || db_migrate_lock(db) ||
      db_exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations (module TEXT NOT NULL, "
                  "number INTEGER NOT NULL, applied_at BIGINT NOT NULL, "
                  "PRIMARY KEY (module, number))") ||
      db_commit(db))
    goto done;
  for (size_t i = 0; i < n; i++) {
    failed = &migs[i];
    int applied = db_migration_applied(db, failed);   /* fast path, no lock */
    if (applied < 0)
      goto done;
    if (applied)
      continue;
    int r = db_migration_apply(db, failed, progress);
    if (r < 0)
      goto done;
    count += r;
  }
  failed = NULL;
  rc = count;
done:
  if (rc < 0) {
    db_error_t err = db->err;
    char msg[DB_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", db->errmsg);
    db_rollback(db);
    db_set_error(db, err, "%s", msg);
    if (failed)
      fprintf(stderr, "db: migration %s %d failed: %s\n", failed->module, failed->number, msg);
    else
      fprintf(stderr, "db: %s\n", msg);
  }
  return rc;
}

/* --- pool ------------------------------------------------------------------------- */

struct db_pool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char *url;
  db_kind_t kind;
  int size;
  int open;        /* connections that exist or are being opened */
  int in_use;
  uint64_t waits;  /* acquires that had to wait */
  db_t **idle;     /* LIFO stack */
  int nidle;
};

db_pool_t *db_pool_open(const char *url, int size, char *errbuf, size_t errlen)
{
  char local[DB_ERRMSG_MAX];
  db_pool_t *p = NULL;
  db_pool_t *out = NULL;
  db_t *first = NULL;
  bool sync_init = false;
  if (!errbuf || errlen == 0) {
    errbuf = local;
    errlen = sizeof local;
  }
  if (size < 1)
    size = 1;
  first = db_open(url, errbuf, errlen);
  if (!first)
    goto done;
  p = calloc(1, sizeof *p);
  if (p) {
    p->url = strdup(url);
    p->idle = calloc((size_t)size, sizeof *p->idle);
  }
  if (!p || !p->url || !p->idle) {
    snprintf(errbuf, errlen, "db: out of memory");
    goto done;
  }
  if (pthread_mutex_init(&p->mu, NULL) != 0) {
    snprintf(errbuf, errlen, "db: cannot create the pool lock");
    goto done;
  }
  if (pthread_cond_init(&p->cv, NULL) != 0) {
    pthread_mutex_destroy(&p->mu);
    snprintf(errbuf, errlen, "db: cannot create the pool condition");
    goto done;
  }
  sync_init = true;
  p->kind = first->kind;
  p->size = size;
  p->open = 1;
  p->idle[p->nidle++] = first;
  first = NULL;
  out = p;
  p = NULL;
done:
  db_close(first);
  if (p) {
    if (sync_init) {
      pthread_cond_destroy(&p->cv);
      pthread_mutex_destroy(&p->mu);
    }
    free(p->url);
    free(p->idle);
    free(p);
  }
  return out;
}

void db_pool_close(db_pool_t *p)
{
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  if (p->in_use > 0)
    fprintf(stderr, "db: pool closed with %d connection(s) still in use\n", p->in_use);
  for (int i = 0; i < p->nidle; i++)
    db_close(p->idle[i]);
  p->nidle = 0;
  pthread_mutex_unlock(&p->mu);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->url);
  free(p->idle);
  free(p);
}

db_t *db_pool_acquire(db_pool_t *p)
{
  if (!p)
    return NULL;
  db_t *db = NULL;
  bool need_open = false;
  bool waited = false;

  pthread_mutex_lock(&p->mu);
  for (;;) {
    if (p->nidle > 0) {
      db = p->idle[--p->nidle];
      break;
    }
    if (p->open < p->size) {
      p->open++;   /* reserve the slot; open outside the lock */
      need_open = true;
      break;
    }
    if (!waited) {
      waited = true;
      p->waits++;
    }
    pthread_cond_wait(&p->cv, &p->mu);
  }
  p->in_use++;
  pthread_mutex_unlock(&p->mu);

  if (db && db->kind == DB_POSTGRES && !db_pg_healthy(db)) {
    fprintf(stderr, "db: connection lost, reconnecting\n");
    db_close(db);
    db = NULL;
    need_open = true;
  }
  if (need_open) {
    char err[DB_ERRMSG_MAX];
    db = db_open(p->url, err, sizeof err);
    if (!db) {
      fprintf(stderr, "db: cannot open a pooled connection: %s\n", err);
      pthread_mutex_lock(&p->mu);
      p->open--;
      p->in_use--;
      pthread_cond_signal(&p->cv);   /* a waiter may try to open instead */
      pthread_mutex_unlock(&p->mu);
      return NULL;
    }
  }
  db_clear_error(db);
  return db;
}

void db_pool_release(db_pool_t *p, db_t *db)
{
  if (!p || !db)
    return;
  db_finish_active(db);
  if (db_in_transaction(db) && db_rollback(db) != 0)
    fprintf(stderr, "db: rollback on release failed: %s\n", db_errmsg(db));
  bool drop = db_in_transaction(db) ||
              (db->kind == DB_POSTGRES && PQstatus(db->c.pg) != CONNECTION_OK);

  pthread_mutex_lock(&p->mu);
  p->in_use--;
  if (drop)
    p->open--;
  else
    p->idle[p->nidle++] = db;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  if (drop)
    db_close(db);
}

db_kind_t db_pool_kind(const db_pool_t *p)
{
  return p->kind;
}

void db_pool_stats(db_pool_t *p, int *size, int *open, int *in_use, uint64_t *waits)
{
  pthread_mutex_lock(&p->mu);
  if (size)
    *size = p->size;
  if (open)
    *open = p->open;
  if (in_use)
    *in_use = p->in_use;
  if (waits)
    *waits = p->waits;
  pthread_mutex_unlock(&p->mu);
}
