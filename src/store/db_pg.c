#include "base/common.h"
/*
 * db_pg.c - the PostgreSQL backend of db.h (libpq).
 *
 * Statements are prepared server-side once per connection under generated names
 * ("s1", "s2", ...) and described once to learn the parameter and column counts.
 * Parameters are sent as text (numbers formatted here), blobs as binary. db_step runs
 * PQexecPrepared on its first call with text results, then walks the rows of the
 * PGresult. bytea columns come back in hex ("\x0a1b..."); db_col_blob decodes them into
 * a per-column scratch buffer of the statement, valid until the next step.
 * Error messages keep the SQLSTATE and the primary message only: DETAIL lines can
 * hold row values (personal data) and db_errmsg() goes to logs.
 */
#include "store/db_internal.h"

#include <math.h>
#include <poll.h>

/* Buffers larger than this are released when the statement is reset. */
#define DB_PG_KEEP_BYTES 65536

static void db_pg_silent_notice(void *arg, const char *message)
{
  UNUSED(arg);
  UNUSED(message);
}

/* Copies msg into out without the trailing newline libpq adds. */
static void db_pg_trimmed(char *out, size_t outlen, const char *msg)
{
  snprintf(out, outlen, "%s", msg ? msg : "");
  size_t n = strlen(out);
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
    out[--n] = '\0';
}

static void db_pg_error(db_t *db, const PGresult *res, const char *what)
{
  PGconn *c = db->c.pg;
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  char msg[DB_ERRMSG_MAX];
  db_pg_trimmed(msg, sizeof msg, primary ? primary : PQerrorMessage(c));

  db_error_t e = DB_ERR_OTHER;
  if (PQstatus(c) == CONNECTION_BAD) {
    e = DB_ERR_CONNECTION;
  } else if (state) {
    if (strncmp(state, "23", 2) == 0)
      e = DB_ERR_CONSTRAINT;
    else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
             strcmp(state, "55P03") == 0)
      e = DB_ERR_BUSY;
    else if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
             strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0)
      e = DB_ERR_CONNECTION;
  }
  db_set_error(db, e, "%s: %s%s%s", what, state ? state : "", state ? " " : "", msg);
}

int db_pg_connect(db_t *db, const char *url, char *errbuf, size_t errlen)
{
  int rc = -1;
  PGresult *res = NULL;
  char msg[DB_ERRMSG_MAX];
  PGconn *c = PQconnectdb(url);

  if (!c) {
    snprintf(errbuf, errlen, "postgres: out of memory");
    goto done;
  }
  if (PQstatus(c) != CONNECTION_OK) {
    db_pg_trimmed(msg, sizeof msg, PQerrorMessage(c));
    snprintf(errbuf, errlen, "postgres: cannot connect: %s", msg);   /* never the URL */
    goto done;
  }
  PQsetNoticeProcessor(c, db_pg_silent_notice, NULL);
  if (PQsetClientEncoding(c, "UTF8") != 0) {
    db_pg_trimmed(msg, sizeof msg, PQerrorMessage(c));
    snprintf(errbuf, errlen, "postgres: client_encoding UTF8: %s", msg);
    goto done;
  }
  res = PQexec(c, "SET client_min_messages = warning; SET bytea_output = hex");
  if (PQresultStatus(res) != PGRES_COMMAND_OK) {
    db_pg_trimmed(msg, sizeof msg, PQerrorMessage(c));
    snprintf(errbuf, errlen, "postgres: session setup: %s", msg);
    goto done;
  }
  db->c.pg = c;
  c = NULL;
  rc = 0;
done:
  PQclear(res);
  if (c)
    PQfinish(c);
  return rc;
}

void db_pg_disconnect(db_t *db)
{
  if (db->c.pg) {
    PQfinish(db->c.pg);
    db->c.pg = NULL;
  }
}

bool db_pg_healthy(db_t *db)
{
  PGconn *c = db->c.pg;
  if (!c || PQstatus(c) != CONNECTION_OK)
    return false;
  PGTransactionStatusType ts = PQtransactionStatus(c);
  if (ts == PQTRANS_ACTIVE || ts == PQTRANS_UNKNOWN)
    return false;
  int fd = PQsocket(c);
  if (fd < 0)
    return false;
  /* An idle connection has nothing to read, unless the server is closing it (it sends
   * an error, then EOF) or sent a notification. One poll() finds out without a round
   * trip; read until the socket is drained so an EOF marks the connection bad. */
  for (int i = 0; i < 8; i++) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
    int n = poll(&pfd, 1, 0);
    if (n <= 0)
      break;
    if (!PQconsumeInput(c))
      return false;
    (void)PQisBusy(c);   /* parses what arrived */
    PGnotify *note;
    while ((note = PQnotifies(c)) != NULL)
      PQfreemem(note);
    if (PQstatus(c) != CONNECTION_OK)
      return false;
  }
  return PQstatus(c) == CONNECTION_OK;
}

int db_pg_prepare(db_stmt_t *st)
{
  int rc = -1;
  db_t *db = st->db;
  PGconn *c = db->c.pg;
  PGresult *res = NULL;
  bool prepared = false;

  snprintf(st->u.pg.name, sizeof st->u.pg.name, "s%" PRIu64, ++db->pg_next_name);
  res = PQprepare(c, st->u.pg.name, st->sql, 0, NULL);
  if (PQresultStatus(res) != PGRES_COMMAND_OK) {
    db_pg_error(db, res, "prepare");
    goto done;
  }
  prepared = true;
  PQclear(res);
  res = PQdescribePrepared(c, st->u.pg.name);
  if (PQresultStatus(res) != PGRES_COMMAND_OK) {
    db_pg_error(db, res, "describe");
    goto done;
  }
  int np = PQnparams(res);
  st->u.pg.nparams = np;
  st->u.pg.nfields = PQnfields(res);
  st->u.pg.row = -1;
  if (np > 0) {
    st->u.pg.params = calloc((size_t)np, sizeof *st->u.pg.params);
    st->u.pg.values = calloc((size_t)np, sizeof *st->u.pg.values);
    st->u.pg.lengths = calloc((size_t)np, sizeof *st->u.pg.lengths);
    st->u.pg.formats = calloc((size_t)np, sizeof *st->u.pg.formats);
    if (!st->u.pg.params || !st->u.pg.values || !st->u.pg.lengths || !st->u.pg.formats) {
      db_set_error(db, DB_ERR_OTHER, "prepare: out of memory");
      goto done;
    }
    for (int i = 0; i < np; i++)
      st->u.pg.params[i].is_null = true;
  }
  rc = 0;
done:
  PQclear(res);
  if (rc != 0)
    db_pg_finalize(st, prepared);
  return rc;
}

void db_pg_finalize(db_stmt_t *st, bool server_side)
{
  PGconn *c = st->db->c.pg;
  PQclear(st->u.pg.res);
  st->u.pg.res = NULL;
  /* In a failed transaction DEALLOCATE would fail too; the name is never reused, so the
   * server-side statement just lives until the session ends. */
  if (server_side && st->u.pg.name[0] && c && PQstatus(c) == CONNECTION_OK &&
      PQtransactionStatus(c) != PQTRANS_INERROR) {
    char sql[64];
    snprintf(sql, sizeof sql, "DEALLOCATE %s", st->u.pg.name);
    PQclear(PQexec(c, sql));
  }
  if (st->u.pg.params) {
    for (int i = 0; i < st->u.pg.nparams; i++)
      free(st->u.pg.params[i].data);
  }
  free(st->u.pg.params);
  free(st->u.pg.values);
  free(st->u.pg.lengths);
  free(st->u.pg.formats);
  if (st->u.pg.blobs) {
    for (int i = 0; i < st->u.pg.nblobs; i++)
      free(st->u.pg.blobs[i].data);
  }
  free(st->u.pg.blobs);
  memset(&st->u.pg, 0, sizeof st->u.pg);
}

static int db_pg_param_set(db_stmt_t *st, int idx, const void *v, size_t len, int format)
{
  if (idx < 1 || idx > st->u.pg.nparams) {
    db_set_error(st->db, DB_ERR_OTHER, "bind: statement has no parameter $%d", idx);
    return -1;
  }
  if (len > (size_t)INT_MAX - 1) {
    db_set_error(st->db, DB_ERR_OTHER, "bind: value of %zu bytes is too large", len);
    return -1;
  }
  db_pg_param_t *p = &st->u.pg.params[idx - 1];
  if (len + 1 > p->cap) {
    size_t cap = p->cap ? p->cap : 32;
    while (cap < len + 1)
      cap *= 2;
    char *data = realloc(p->data, cap);
    if (!data) {
      db_set_error(st->db, DB_ERR_OTHER, "bind: out of memory");
      return -1;
    }
    p->data = data;
    p->cap = cap;
  }
  if (len)
    memcpy(p->data, v, len);
  p->data[len] = '\0';
  p->len = (int)len;
  p->format = format;
  p->is_null = false;
  return 0;
}

int db_pg_bind_text(db_stmt_t *st, int idx, const char *v)
{
  if (!v)
    return db_pg_bind_null(st, idx);
  return db_pg_param_set(st, idx, v, strlen(v), 0);
}

int db_pg_bind_int64(db_stmt_t *st, int idx, int64_t v)
{
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%" PRId64, v);
  return db_pg_param_set(st, idx, buf, (size_t)n, 0);
}

int db_pg_bind_double(db_stmt_t *st, int idx, double v)
{
  char buf[40];
  int n;
  if (isnan(v))
    n = snprintf(buf, sizeof buf, "NaN");
  else if (isinf(v))
    n = snprintf(buf, sizeof buf, "%s", v > 0 ? "Infinity" : "-Infinity");
  else
    n = snprintf(buf, sizeof buf, "%.17g", v);
  return db_pg_param_set(st, idx, buf, (size_t)n, 0);
}

int db_pg_bind_blob(db_stmt_t *st, int idx, const void *v, size_t len)
{
  if (!v)
    return db_pg_bind_null(st, idx);
  return db_pg_param_set(st, idx, v, len, 1);
}

int db_pg_bind_null(db_stmt_t *st, int idx)
{
  if (idx < 1 || idx > st->u.pg.nparams) {
    db_set_error(st->db, DB_ERR_OTHER, "bind: statement has no parameter $%d", idx);
    return -1;
  }
  st->u.pg.params[idx - 1].is_null = true;
  return 0;
}

static int64_t db_pg_cmd_tuples(PGresult *res)
{
  const char *status = PQcmdStatus(res);
  if (status && strncmp(status, "SELECT", 6) == 0)
    return 0;
  const char *t = PQcmdTuples(res);
  if (!t || !*t)
    return 0;
  char *end = NULL;
  errno = 0;
  long long n = strtoll(t, &end, 10);
  return (errno == 0 && end != t) ? (int64_t)n : 0;
}

int db_pg_step(db_stmt_t *st)
{
  if (!st->u.pg.res) {
    int np = st->u.pg.nparams;
    for (int i = 0; i < np; i++) {
      db_pg_param_t *p = &st->u.pg.params[i];
      st->u.pg.values[i] = p->is_null ? NULL : p->data;
      st->u.pg.lengths[i] = p->is_null ? 0 : p->len;
      st->u.pg.formats[i] = p->is_null ? 0 : p->format;
    }
    PGresult *res = PQexecPrepared(st->db->c.pg, st->u.pg.name, np, st->u.pg.values,
                                   st->u.pg.lengths, st->u.pg.formats, 0);
    ExecStatusType es = PQresultStatus(res);
    if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK && es != PGRES_EMPTY_QUERY) {
      db_pg_error(st->db, res, "step");
      /* A plan invalidated by DDL (0A000 "cached plan must not change result type")
       * will keep failing: drop the statement from the cache at db_stmt_done. */
      const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
      if (state && strcmp(state, "0A000") == 0)
        st->evict = true;
      PQclear(res);
      return -1;
    }
    st->u.pg.res = res;
    st->u.pg.row = -1;
    st->u.pg.nrows = es == PGRES_TUPLES_OK ? PQntuples(res) : 0;
    st->changes = db_pg_cmd_tuples(res);
  }
  if (st->u.pg.row + 1 < st->u.pg.nrows) {
    st->u.pg.row++;
    return DB_ROW;
  }
  st->u.pg.row = st->u.pg.nrows;
  return DB_DONE;
}

void db_pg_reset(db_stmt_t *st)
{
  PQclear(st->u.pg.res);
  st->u.pg.res = NULL;
  st->u.pg.row = -1;
  st->u.pg.nrows = 0;
  for (int i = 0; i < st->u.pg.nparams; i++) {
    db_pg_param_t *p = &st->u.pg.params[i];
    p->is_null = true;
    if (p->cap > DB_PG_KEEP_BYTES) {
      free(p->data);
      p->data = NULL;
      p->cap = 0;
    }
  }
  for (int i = 0; i < st->u.pg.nblobs; i++) {
    db_pg_blob_t *b = &st->u.pg.blobs[i];
    b->row = -1;
    if (b->cap > DB_PG_KEEP_BYTES) {
      free(b->data);
      b->data = NULL;
      b->cap = 0;
    }
  }
}

int db_pg_col_count(db_stmt_t *st)
{
  return st->u.pg.res ? PQnfields(st->u.pg.res) : st->u.pg.nfields;
}

/* The value at the current row, or NULL (SQL NULL, no row, no such column). */
static const char *db_pg_value(db_stmt_t *st, int col)
{
  PGresult *res = st->u.pg.res;
  int row = st->u.pg.row;
  if (!res || row < 0 || row >= st->u.pg.nrows || col < 0 || col >= PQnfields(res) ||
      PQgetisnull(res, row, col))
    return NULL;
  return PQgetvalue(res, row, col);
}

bool db_pg_col_is_null(db_stmt_t *st, int col)
{
  return db_pg_value(st, col) == NULL;
}

const char *db_pg_col_text(db_stmt_t *st, int col)
{
  return db_pg_value(st, col);
}

int64_t db_pg_col_int64(db_stmt_t *st, int col)
{
  const char *s = db_pg_value(st, col);
  if (!s)
    return 0;
  if ((s[0] == 't' || s[0] == 'f') && s[1] == '\0')   /* boolean */
    return s[0] == 't';
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s)
    return 0;
  if (*end == '.' || *end == 'e' || *end == 'E') {    /* numeric, e.g. SUM(bigint) */
    double d = strtod(s, NULL);
    if (isnan(d))
      return 0;
    if (d >= 9223372036854775807.0)
      return INT64_MAX;
    if (d <= -9223372036854775808.0)
      return INT64_MIN;
    return (int64_t)d;
  }
  return (int64_t)v;   /* strtoll clamps on overflow */
}

double db_pg_col_double(db_stmt_t *st, int col)
{
  const char *s = db_pg_value(st, col);
  if (!s)
    return 0.0;
  if (s[0] == 't' && s[1] == '\0')
    return 1.0;
  return strtod(s, NULL);
}

static int db_pg_hexval(int ch)
{
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

const void *db_pg_col_blob(db_stmt_t *st, int col, size_t *len)
{
  *len = 0;
  const char *s = db_pg_value(st, col);
  if (!s)
    return NULL;
  int n = PQgetlength(st->u.pg.res, st->u.pg.row, col);
  if (n < 2 || s[0] != '\\' || s[1] != 'x' || (n % 2) != 0) {
    *len = n > 0 ? (size_t)n : 0;   /* not hex bytea (e.g. a text column): raw bytes */
    return s;
  }
  int nf = PQnfields(st->u.pg.res);
  if (st->u.pg.nblobs < nf) {
    db_pg_blob_t *b = realloc(st->u.pg.blobs, (size_t)nf * sizeof *b);
    if (!b) {
      db_set_error(st->db, DB_ERR_OTHER, "blob: out of memory");
      return NULL;
    }
    for (int i = st->u.pg.nblobs; i < nf; i++)
      b[i] = (db_pg_blob_t){.data = NULL, .cap = 0, .len = 0, .row = -1};
    st->u.pg.blobs = b;
    st->u.pg.nblobs = nf;
  }
  db_pg_blob_t *b = &st->u.pg.blobs[col];
  if (b->row == st->u.pg.row) {
    *len = b->len;
    return b->data ? (const void *)b->data : "";
  }
  size_t out = (size_t)(n - 2) / 2;
  if (out > b->cap) {
    unsigned char *d = realloc(b->data, out);
    if (!d) {
      db_set_error(st->db, DB_ERR_OTHER, "blob: out of memory");
      return NULL;
    }
    b->data = d;
    b->cap = out;
  }
  for (size_t i = 0; i < out; i++) {
    int hi = db_pg_hexval((unsigned char)s[2 + 2 * i]);
    int lo = db_pg_hexval((unsigned char)s[3 + 2 * i]);
    if (hi < 0 || lo < 0) {
      *len = (size_t)n;
      return s;
    }
    b->data[i] = (unsigned char)(hi << 4 | lo);
  }
  b->len = out;
  b->row = st->u.pg.row;
  *len = out;
  return b->data ? (const void *)b->data : "";
}

int db_pg_exec(db_t *db, const char *sql)
{
  PGresult *res = PQexec(db->c.pg, sql);
  ExecStatusType es = PQresultStatus(res);
  int rc = 0;
  if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK && es != PGRES_EMPTY_QUERY) {
    db_pg_error(db, res, "exec");
    rc = -1;
  }
  PQclear(res);
  return rc;
}

int db_pg_notify_wait(db_t *db, int timeout_ms)
{
  int got = 0;
  PGnotify *n;
  if (!PQconsumeInput(db->c.pg)) {
    db_set_error(db, DB_ERR_CONNECTION, "notify: %s", PQerrorMessage(db->c.pg));
    return -1;
  }
  while ((n = PQnotifies(db->c.pg)) != NULL) {   /* arrived with earlier results */
    PQfreemem(n);
    got++;
  }
  if (got || timeout_ms <= 0)
    return got;
  struct pollfd pfd = {.fd = PQsocket(db->c.pg), .events = POLLIN};
  if (pfd.fd < 0) {
    db_set_error(db, DB_ERR_CONNECTION, "notify: no connection");
    return -1;
  }
  int pr = poll(&pfd, 1, timeout_ms);
  if (pr < 0)
    return errno == EINTR ? 0 : -1;
  if (pr == 0)
    return 0;
  if (!PQconsumeInput(db->c.pg)) {
    db_set_error(db, DB_ERR_CONNECTION, "notify: %s", PQerrorMessage(db->c.pg));
    return -1;
  }
  while ((n = PQnotifies(db->c.pg)) != NULL) {
    PQfreemem(n);
    got++;
  }
  return got;
}

bool db_pg_in_transaction(const db_t *db)
{
  if (!db->c.pg)
    return false;
  PGTransactionStatusType ts = PQtransactionStatus(db->c.pg);
  return ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR;
}
