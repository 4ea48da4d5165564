#include "base/common.h"
#include "audit/audit.h"
#include "base/log.h"
#include "base/text.h"
#include "identity/identity.h"

/*
 * The audit log over HTTP (GET /api/v1/audit, GET /api/v1/audit/verify) and on the
 * command line (cityos audit verify | list). Unit scope comes from identity_scope():
 * who may read what is identity's rule, kept in one place.
 */

#define AUDIT_TEXT_FILTER_MAX 128

static const char AUDIT_LIST_SQL_SQLITE[] =
  "SELECT seq, at, actor_id, actor_kind, action, record_type, record_id, unit_id, ip, request_id,"
  " detail, hash FROM audit_log"
  " WHERE (CAST($1 AS BIGINT) IS NULL OR actor_id = CAST($1 AS BIGINT))"
  " AND (CAST($2 AS TEXT) IS NULL OR action = CAST($2 AS TEXT))"
  " AND (CAST($3 AS TEXT) IS NULL OR record_type = CAST($3 AS TEXT))"
  " AND (CAST($4 AS TEXT) IS NULL OR record_id = CAST($4 AS TEXT))"
  " AND (CAST($5 AS BIGINT) IS NULL OR at >= CAST($5 AS BIGINT))"
  " AND (CAST($6 AS BIGINT) IS NULL OR at < CAST($6 AS BIGINT))"
  " AND (CAST($7 AS TEXT) IS NULL OR unit_id IN (SELECT value FROM json_each(CAST($7 AS TEXT))))"
  " ORDER BY seq DESC LIMIT $8 OFFSET $9";

static const char AUDIT_LIST_SQL_PG[] =
  "SELECT seq, at, actor_id, actor_kind, action, record_type, record_id, unit_id, ip, request_id,"
  " detail, hash FROM audit_log"
  " WHERE (CAST($1 AS BIGINT) IS NULL OR actor_id = CAST($1 AS BIGINT))"
  " AND (CAST($2 AS TEXT) IS NULL OR action = CAST($2 AS TEXT))"
  " AND (CAST($3 AS TEXT) IS NULL OR record_type = CAST($3 AS TEXT))"
  " AND (CAST($4 AS TEXT) IS NULL OR record_id = CAST($4 AS TEXT))"
  " AND (CAST($5 AS BIGINT) IS NULL OR at >= CAST($5 AS BIGINT))"
  " AND (CAST($6 AS BIGINT) IS NULL OR at < CAST($6 AS BIGINT))"
  " AND (CAST($7 AS TEXT) IS NULL OR unit_id IN"
  "      (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(CAST($7 AS TEXT) AS JSON))))"
  " ORDER BY seq DESC LIMIT $8 OFFSET $9";

typedef struct {
  int64_t actor, from, to;       /* 0 = no filter */
  const char *action, *record_type, *record_id, *units;
  int64_t limit, offset;
} audit_filter_t;

static int audit_bind_filter(db_stmt_t *st, const audit_filter_t *f)
{
  return (f->actor ? db_bind_int64(st, 1, f->actor) : db_bind_null(st, 1)) ||
         db_bind_text(st, 2, f->action) || db_bind_text(st, 3, f->record_type) ||
         db_bind_text(st, 4, f->record_id) ||
         (f->from ? db_bind_int64(st, 5, f->from) : db_bind_null(st, 5)) ||
         (f->to ? db_bind_int64(st, 6, f->to) : db_bind_null(st, 6)) || db_bind_text(st, 7, f->units) ||
         db_bind_int64(st, 8, f->limit) || db_bind_int64(st, 9, f->offset);
}

static json_t *audit_row_json(db_stmt_t *st)
{
  const char *detail = db_col_text(st, 10);
  json_t *d = detail ? json_loads(detail, 0, NULL) : json_null();
  if (!d) d = json_string(detail);
  return json_pack("{s:I, s:I, s:{s:o, s:s?}, s:s, s:s?, s:s?, s:o, s:s?, s:s?, s:o, s:s}",
                   "seq", (json_int_t)db_col_int64(st, 0), "at", (json_int_t)db_col_int64(st, 1),
                   "actor", "id", db_col_is_null(st, 2) ? json_null() : json_integer(db_col_int64(st, 2)),
                   "kind", db_col_text(st, 3), "action", db_col_text(st, 4),
                   "record_type", db_col_text(st, 5), "record_id", db_col_text(st, 6),
                   "unit_id", db_col_is_null(st, 7) ? json_null() : json_integer(db_col_int64(st, 7)),
                   "ip", db_col_text(st, 8), "request_id", db_col_text(st, 9), "detail", d,
                   "hash", db_col_text(st, 11));
}

/* A text query filter: absent/empty -> NULL; too long -> -1 after answering. */
static int audit_query_text(http_req_t *req, const char *name, const char **out)
{
  const char *v = http_query(req, name);
  *out = NULL;
  if (!v || !*v) return 0;
  if (strlen(v) > AUDIT_TEXT_FILTER_MAX) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", name),
                            "%s is longer than %d bytes", name, AUDIT_TEXT_FILTER_MAX);
    return -1;
  }
  *out = v;
  return 0;
}

static int audit_query_int(http_req_t *req, const char *name, int64_t min, int64_t *out)
{
  const char *v = http_query(req, name);
  *out = 0;
  if (!v || !*v) return 0;
  if (text_parse_int64(v, min, INT64_MAX, out) != 0) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", name),
                            "%s must be a whole number (times: ms since the epoch)", name);
    return -1;
  }
  return 0;
}

static void audit_h_list(http_req_t *req)
{
  app_t *app = req->app;
  audit_filter_t f;
  identity_scope_t scope;
  db_t *db = NULL;
  db_stmt_t *st = NULL;
  json_t *items = NULL;
  int limit, offset, s;

  memset(&f, 0, sizeof f);
  if (http_page(req, 50, 500, &limit, &offset) != 0) goto done;
  if (audit_query_int(req, "actor", 1, &f.actor) || audit_query_int(req, "from", 0, &f.from) ||
      audit_query_int(req, "to", 0, &f.to) || audit_query_text(req, "action", &f.action) ||
      audit_query_text(req, "record_type", &f.record_type) ||
      audit_query_text(req, "record_id", &f.record_id))
    goto done;
  identity_scope(req->arena, app, req->principal, "audit.read", 0, &scope);
  f.units = scope.everywhere ? NULL : scope.json;
  f.limit = limit + 1;   /* one more tells whether another page exists */
  f.offset = offset;

  db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    goto done;
  }
  st = db_prepare(db, db_kind(db) == DB_POSTGRES ? AUDIT_LIST_SQL_PG : AUDIT_LIST_SQL_SQLITE);
  if (!st || audit_bind_filter(st, &f)) goto db_fail;
  items = json_array();
  bool more = false;
  while ((s = db_step(st)) == DB_ROW) {
    if ((int)json_array_size(items) == limit) {
      more = true;
      continue;
    }
    json_array_append_new(items, audit_row_json(st));
  }
  if (s < 0) goto db_fail;
  http_reply_json(req, 200, json_pack("{s:O, s:i, s:i, s:b}", "items", items, "limit", limit,
                                      "offset", offset, "has_more", more));
  goto done;

db_fail:
  log_error(req->request_id, "msg=\"audit list failed\" err=\"%s\"", db_errmsg(db));
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  if (st) db_stmt_done(st);
  json_decref(items);
  if (db) db_pool_release(app->db, db);
}

static void audit_h_verify(http_req_t *req)
{
  app_t *app = req->app;
  audit_verify_result_t res;
  db_t *db = NULL;

  if (!identity_can(app, req->principal, "audit.read", 0)) {
    http_reply_error(req, ERR_FORBIDDEN, "Verifying the whole log needs audit.read everywhere");
    return;
  }
  db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  int rc = audit_verify_ex(db, NULL, &res);
  if (rc < 0)
    http_reply_error(req, ERR_INTERNAL, NULL);
  else if (rc == 0)
    http_reply_json(req, 200, json_pack("{s:b, s:I, s:I, s:s}", "ok", true, "entries",
                                        (json_int_t)res.entries, "head_seq", (json_int_t)res.head_seq,
                                        "head_hash", res.head_hash));
  else
    http_reply_json(req, 200, json_pack("{s:b, s:I, s:s, s:I}", "ok", false, "first_bad_seq",
                                        (json_int_t)res.first_bad_seq, "reason", res.reason,
                                        "entries", (json_int_t)res.entries));
  db_pool_release(app->db, db);
}

static const http_route_t AUDIT_ROUTES[] = {
  {"GET", "/api/v1/audit/verify", audit_h_verify, "audit.read", 0,
   "Recompute the audit hash chain: {ok, entries} or {ok:false, first_bad_seq, reason}"},
  {"GET", "/api/v1/audit", audit_h_list, "audit.read", 0,
   "Audit entries, newest first (?actor=&action=&record_type=&record_id=&from=&to=&limit=&offset=)"},
};

const http_route_t *audit_routes(size_t *n)
{
  *n = ARRAY_LEN(AUDIT_ROUTES);
  return AUDIT_ROUTES;
}

/* --- command line ------------------------------------------------------------------- */

static const char AUDIT_CLI_HELP[] =
  "usage:\n"
  "  cityos audit verify                 recompute the hash chain; exit 0 intact, 1 broken\n"
  "  cityos audit list [--limit N] [--offset N] [--action ACTION]\n"
  "                                      newest entries first (default 50)\n";

static int audit_cli_verify(db_t *db)
{
  audit_verify_result_t res;
  int rc = audit_verify_ex(db, stdout, &res);
  if (rc < 0) {
    fprintf(stderr, "audit: cannot read the log: %s\n", db_errmsg(db));
    return 2;
  }
  if (rc == 1) {
    printf("audit: broken at seq %" PRId64 ": %s\n", res.first_bad_seq, res.reason);
    return 1;
  }
  printf("audit: intact, %" PRId64 " entries; head seq %" PRId64 " hash %s\n", res.entries,
         res.head_seq, res.head_hash);
  return 0;
}

static int audit_cli_list(db_t *db, int argc, char **argv)
{
  audit_filter_t f;
  db_stmt_t *st = NULL;
  int rc = 2, s;

  memset(&f, 0, sizeof f);
  f.limit = 50;
  for (int i = 2; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--limit") == 0 && v && text_parse_int64(v, 1, 1000000, &f.limit) == 0) {
      i++;
    } else if (strcmp(argv[i], "--offset") == 0 && v && text_parse_int64(v, 0, INT64_MAX, &f.offset) == 0) {
      i++;
    } else if (strcmp(argv[i], "--action") == 0 && v) {
      f.action = v;
      i++;
    } else {
      fprintf(stderr, "audit: bad argument %s\n%s", argv[i], AUDIT_CLI_HELP);
      return 2;
    }
  }
  st = db_prepare(db, db_kind(db) == DB_POSTGRES ? AUDIT_LIST_SQL_PG : AUDIT_LIST_SQL_SQLITE);
  if (!st || audit_bind_filter(st, &f)) goto db_fail;
  printf("%-8s %-29s %-18s %-22s %-20s %s\n", "SEQ", "AT", "ACTOR", "ACTION", "RECORD", "IP");
  while ((s = db_step(st)) == DB_ROW) {
    char at[40], actor[40], record[64];
    clock_format_iso(db_col_int64(st, 1), at, sizeof at);
    if (db_col_is_null(st, 2))
      snprintf(actor, sizeof actor, "%s", db_col_text(st, 3) ? db_col_text(st, 3) : "-");
    else
      snprintf(actor, sizeof actor, "%s:%" PRId64, db_col_text(st, 3) ? db_col_text(st, 3) : "?",
               db_col_int64(st, 2));
    snprintf(record, sizeof record, "%s%s%s", db_col_text(st, 5) ? db_col_text(st, 5) : "-",
             db_col_text(st, 6) ? ":" : "", db_col_text(st, 6) ? db_col_text(st, 6) : "");
    printf("%-8" PRId64 " %-29s %-18s %-22s %-20s %s\n", db_col_int64(st, 0), at, actor,
           db_col_text(st, 4), record, db_col_text(st, 8) ? db_col_text(st, 8) : "-");
  }
  if (s < 0) goto db_fail;
  rc = 0;
  goto done;

db_fail:
  fprintf(stderr, "audit: cannot read the log: %s\n", db_errmsg(db));
done:
  if (st) db_stmt_done(st);
  return rc;
}

int audit_cli(app_t *app, int argc, char **argv)
{
  const char *action = argc > 1 ? argv[1] : NULL;
  db_t *db = NULL;
  int rc = 2;

  if (!action || strcmp(action, "--help") == 0 || strcmp(action, "-h") == 0 ||
      strcmp(action, "help") == 0) {
    fputs(AUDIT_CLI_HELP, action ? stdout : stderr);
    return action ? 0 : 2;
  }
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(AUDIT_CLI_HELP, stdout);
      return 0;
    }
  if (strcmp(action, "verify") != 0 && strcmp(action, "list") != 0) {
    fprintf(stderr, "audit: unknown action %s\n%s", action, AUDIT_CLI_HELP);
    return 2;
  }
  db = app ? db_pool_acquire(app->db) : NULL;
  if (!db) {
    fprintf(stderr, "audit: cannot reach the database\n");
    return 2;
  }
  rc = strcmp(action, "verify") == 0 ? audit_cli_verify(db) : audit_cli_list(db, argc, argv);
  db_pool_release(app->db, db);
  return rc;
}

/* --- module registration ------------------------------------------------------------ */
#include "module.h"

static const cli_command_t AUDIT_COMMANDS[] = {
  {"audit", "audit verify|list                   check the audit chain, list entries", audit_cli, true},
};

static const module_t AUDIT_MODULE = {
  .name = "audit",
  .order = 30,
  .migrations = audit_migrations,
  .routes = audit_routes,
  .commands = AUDIT_COMMANDS,
  .ncommands = ARRAY_LEN(AUDIT_COMMANDS),
};
MODULE_REGISTER(AUDIT_MODULE)
