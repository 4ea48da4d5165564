/*
 * procedures_api.c - /api/v1/procedures: search the catalog (diacritics ignored), read
 * one procedure with its workflow, import a catalog (administrators).
 */
#include "base/common.h"
#include "services/services_internal.h"
#include "services/procedures.h"
#include "audit/audit.h"
#include "base/log.h"
#include "base/text.h"

void services_procedures_list(http_req_t *req) {
  app_t *app = req->app;
  int limit, offset;
  if (http_page(req, 50, 500, &limit, &offset) < 0) return;
  const char *q = http_query(req, "q"), *level = http_query(req, "level"), *field = http_query(req, "field");
  char *like = NULL;
  if (q) {
    char *f = text_fold_arena(req->arena, q);
    if (!f || strlen(f) > 200) {
      http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "q"), "q must be 1-200 characters");
      return;
    }
    like = arena_printf(req->arena, "%%%s%%", f);
  }
  if (level && strcmp(level, "ward") && strcmp(level, "district") && strcmp(level, "province")) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "level"),
                            "level must be ward, district or province");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  const char *where = "WHERE (CAST($1 AS TEXT) IS NULL OR name_folded LIKE $1 OR code LIKE $1) "
                      "AND (CAST($2 AS TEXT) IS NULL OR (',' || levels || ',') LIKE ('%,' || CAST($2 AS TEXT) || ',%')) "
                      "AND (CAST($3 AS TEXT) IS NULL OR field = $3)";
  db_stmt_t *st = db_prepare(db, arena_printf(req->arena,
                                              "SELECT code, name, field, levels, days, online, "
                                              "COUNT(*) OVER () FROM procedures %s ORDER BY code LIMIT $4 OFFSET $5",
                                              where));
  json_t *items = json_array();
  int64_t total = 0;
  if (!st || db_bind_text(st, 1, like) || db_bind_text(st, 2, level) || db_bind_text(st, 3, field) ||
      db_bind_int64(st, 4, limit) || db_bind_int64(st, 5, offset))
    goto fail;
  int rc;
  while ((rc = db_step(st)) == DB_ROW) {
    json_t *lv = json_array();
    const char *l = db_col_text(st, 3);
    while (l && *l) {
      size_t n = strcspn(l, ",");
      json_array_append_new(lv, json_stringn(l, n));
      l += n + (l[n] == ',');
    }
    json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:o, s:I, s:s}", "code", db_col_text(st, 0), "name",
                                           db_col_text(st, 1), "field", db_col_text(st, 2), "levels", lv, "days",
                                           (json_int_t)db_col_int64(st, 4), "online", db_col_text(st, 5)));
    total = db_col_int64(st, 6);
  }
  if (rc < 0) goto fail;
  db_stmt_done(st);
  db_pool_release(app->db, db);
  http_reply_json(req, 200, json_pack("{s:o, s:I, s:i, s:i}", "items", items, "total", (json_int_t)total, "limit",
                                      limit, "offset", offset));
  return;
fail:
  log_error(req->request_id, "msg=\"procedures list failed\" err=\"%s\"", db_errmsg(db));
  if (st) db_stmt_done(st);
  json_decref(items);
  db_pool_release(app->db, db);
  http_reply_error(req, ERR_INTERNAL, NULL);
}

void services_procedures_get(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  json_t *p = NULL;
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  int rc = proc_get(db, http_param(req, "code"), &p);
  db_pool_release(app->db, db);
  if (rc < 0) {
    http_reply_error(req, ERR_INTERNAL, NULL);
  } else if (rc == 0) {
    http_reply_error(req, ERR_NOT_FOUND, "No procedure with that code");
  } else {
    http_reply_json(req, 200, p);
  }
}

void services_procedures_import(http_req_t *req) {
  app_t *app = req->app;
  json_t *doc = http_body_object(req);
  if (!doc) return;
  char why[512];
  if (proc_catalog_validate(doc, req->body, why, sizeof why) < 0) {
    /* the field is the JSON path (after an optional "line N: " prefix) */
    const char *path = strncmp(why, "line ", 5) == 0 && strstr(why, ": ") ? strstr(why, ": ") + 2 : why;
    char field[160];
    size_t n = strcspn(path, ":");
    snprintf(field, sizeof field, "%.*s", (int)(n < 150 ? n : 150), path);
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", field), "%s", why);
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  long n = -1;
  audit_entry_t e = audit_entry_from_req(req, "procedures.import", "procedure_catalog", NULL);
  e.detail = audit_detail(req->arena, json_pack("{s:I, s:I}", "procedures",
                                                (json_int_t)json_array_size(json_object_get(doc, "procedures")),
                                                "workflows",
                                                (json_int_t)json_array_size(json_object_get(doc, "workflows"))));
  if (db_begin(db) || (n = proc_import_doc(db, doc, why, sizeof why)) < 0 || audit_append(db, &e) ||
      db_commit(db)) {
    log_error(req->request_id, "msg=\"procedures import failed\" err=\"%s\"", n < 0 ? why : db_errmsg(db));
    db_rollback(db);
    db_pool_release(app->db, db);
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  db_pool_release(app->db, db);
  http_reply_json(req, 200, json_pack("{s:I, s:I}", "procedures", (json_int_t)n, "workflows",
                                      (json_int_t)json_array_size(json_object_get(doc, "workflows"))));
}
