#include "base/common.h"
#include "reports/reports.h"
#include "reports/reports_internal.h"
#include "reports/reports_o311.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "identity/identity.h"
#include "audit/audit.h"
#include "units/units.h"

/*
 * /api/v1/reports: the officers' queue and detail, the reporter's own reports and
 * notifications, duplicate suggestions, photos and per-unit statistics. The actions
 * (status, reassign, hide, merge, reopen) are in reports_actions.c.
 */

#define SCOPE_SQLITE " AND (CAST($1 AS TEXT) IS NULL OR r.unit_id IN (SELECT value FROM json_each(CAST($1 AS TEXT))))"
#define SCOPE_PG                                                                                              \
  " AND (CAST($1 AS TEXT) IS NULL OR r.unit_id IN (SELECT CAST(value AS BIGINT) FROM "                       \
  "json_array_elements_text(CAST(CAST($1 AS TEXT) AS JSON))))"

static json_t *queue_item(http_req_t *req, db_stmt_t *st) {
  app_t *app = req->app;
  json_t *o = o311_request_json(req, st, "vi");
  const unit_t *u = app->units ? units_by_id(app->units, db_col_int64(st, 6)) : NULL;
  int64_t due = db_col_int64(st, 10), resolved = db_col_int64(st, 19);
  const char *status = db_col_text(st, 1);
  bool active = strcmp(reports_status_open311(status), "open") == 0;
  json_object_set_new(o, "unit", u ? json_pack("{s:I, s:s, s:s}", "id", (json_int_t)u->id, "code", u->code, "name", u->name)
                                   : json_null());
  json_object_set_new(o, "department", db_col_text(st, 7) ? json_string(db_col_text(st, 7)) : json_null());
  json_object_set_new(o, "created_at", json_integer(db_col_int64(st, 8)));
  json_object_set_new(o, "due_at", json_integer(due));
  json_object_set_new(o, "overdue", json_boolean(active ? clock_now_ms() > due : (resolved && resolved > due)));
  return o;
}

/* GET /api/v1/reports: the queue of the units where the caller holds reports.handle. */
static void api_queue(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = NULL;
  identity_scope_t scope;
  int limit, offset;
  const char *status = http_query(req, "status"), *code = http_query(req, "service_code");
  if (http_page(req, 50, 500, &limit, &offset)) return;
  if (status && strcmp(status, "active") != 0 && !reports_status_valid(status)) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "status"), "Unknown status");
    return;
  }
  identity_scope(req->arena, app, req->principal, "reports.handle", 0, &scope);
  db = reports_req_db(req);
  if (!db) return;
  const char *sql = arena_printf(
      req->arena,
      "SELECT " O311_COLS " FROM " O311_FROM " WHERE 1 = 1 %s"
      " AND (CAST($2 AS TEXT) IS NULL OR r.status = $2 OR ($2 = 'active' AND r.status IN ('open', 'acknowledged', 'in_progress')))"
      " AND (CAST($3 AS TEXT) IS NULL OR r.category_code = $3)"
      " ORDER BY CASE WHEN r.status IN ('open', 'acknowledged', 'in_progress') THEN 0 ELSE 1 END, r.due_at, r.id"
      " LIMIT $4 OFFSET $5",
      db_kind(db) == DB_POSTGRES ? SCOPE_PG : SCOPE_SQLITE);
  db_stmt_t *st = db_prepare(db, sql);
  if (!st) goto fail;
  db_bind_text(st, 1, scope.everywhere ? NULL : scope.json);
  db_bind_text(st, 2, status);
  db_bind_text(st, 3, code);
  db_bind_int64(st, 4, limit);
  db_bind_int64(st, 5, offset);
  json_t *items = json_array();
  int s;
  while ((s = db_step(st)) == DB_ROW) json_array_append_new(items, queue_item(req, st));
  db_stmt_done(st);
  if (s < 0) {
    json_decref(items);
    goto fail;
  }
  http_reply_json(req, 200, json_pack("{s:o, s:i, s:i}", "items", items, "limit", limit, "offset", offset));
  goto done;
fail:
  reports_db_fail(req, db);
done:
  db_pool_release(app->db, db);
}

static json_t *report_events_json(http_req_t *req, db_t *db, int64_t id, bool *dberr) {
  db_stmt_t *st = db_prepare(db, "SELECT at, kind, status, note, reason FROM report_events WHERE report_id = $1 ORDER BY id");
  json_t *arr = json_array();
  int s;
  if (!st) goto fail;
  db_bind_int64(st, 1, id);
  while ((s = db_step(st)) == DB_ROW) {
    json_array_append_new(arr, json_pack("{s:s?, s:I, s:s, s:s?, s:s?, s:s?}", "at_iso", reports_iso(req->arena, db_col_int64(st, 0)),
                                         "at", (json_int_t)db_col_int64(st, 0), "kind", db_col_text(st, 1), "status",
                                         db_col_text(st, 2), "note", db_col_text(st, 3), "reason", db_col_text(st, 4)));
  }
  db_stmt_done(st);
  if (s < 0) goto fail;
  return arr;
fail:
  json_decref(arr);
  *dberr = true;
  return NULL;
}

static json_t *report_photos_json(db_t *db, int64_t id, bool *dberr) {
  db_stmt_t *st = db_prepare(db, "SELECT id, kind, content_type, hidden_reason FROM report_photos WHERE report_id = $1 ORDER BY id");
  json_t *arr = json_array();
  int s;
  if (!st) goto fail;
  db_bind_int64(st, 1, id);
  while ((s = db_step(st)) == DB_ROW) {
    json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s?, s:s}", "id", (json_int_t)db_col_int64(st, 0), "kind",
                                         db_col_text(st, 1), "content_type", db_col_text(st, 2), "hidden_reason",
                                         db_col_text(st, 3), "url", ""));
    json_t *last = json_array_get(arr, json_array_size(arr) - 1);
    char url[64];
    snprintf(url, sizeof url, "/api/v1/reports/photos/%" PRId64, db_col_int64(st, 0));
    json_object_set_new(last, "url", json_string(url));
  }
  db_stmt_done(st);
  if (s < 0) goto fail;
  return arr;
fail:
  json_decref(arr);
  *dberr = true;
  return NULL;
}

/* GET /api/v1/reports/{id}: an officer of the unit (with the reporter's contact, audited)
 * or the reporter (with hidden parts and their reasons). Others: 404. */
static void api_report_get(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = NULL;
  int64_t id;
  bool dberr = false;
  if (text_parse_int64(http_param(req, "id"), 1, INT64_MAX, &id)) {
    http_reply_error(req, ERR_NOT_FOUND, "No such report");
    return;
  }
  db = reports_req_db(req);
  if (!db) return;
  if (db_begin(db)) goto fail;
  db_stmt_t *st = db_prepare(db, "SELECT " O311_COLS ", r.hidden_reason, r.description, r.reporter_account_id,"
                                 " COALESCE(r.reporter_name, (SELECT a.full_name FROM accounts a WHERE a.id = r.reporter_account_id)),"
                                 " r.reporter_email, r.reporter_phone, r.attributes, r.reopen_count FROM " O311_FROM " WHERE r.id = $1");
  if (!st) goto fail;
  db_bind_int64(st, 1, id);
  int s = db_step(st);
  if (s != DB_ROW) {
    db_stmt_done(st);
    if (s < 0) goto fail;
    db_rollback(db);
    http_reply_error(req, ERR_NOT_FOUND, "No such report");
    goto done;
  }
  int64_t unit = db_col_int64(st, 6), reporter = db_col_int64(st, 22);
  bool officer = identity_can(app, req->principal, "reports.handle", unit);
  bool mine = reporter && req->principal && req->principal->account_id == reporter;
  if (!officer && !mine) {
    db_stmt_done(st);
    db_rollback(db);
    http_reply_error(req, ERR_NOT_FOUND, "No such report");
    goto done;
  }
  json_t *o = queue_item(req, st);
  json_object_set_new(o, "hidden_reason", db_col_text(st, 20) ? json_string(db_col_text(st, 20)) : json_null());
  json_object_set_new(o, "original_description", json_string(db_col_text(st, 21) ? db_col_text(st, 21) : ""));
  json_t *attrs = json_loads(db_col_text(st, 26) ? db_col_text(st, 26) : "{}", 0, NULL);
  json_object_set_new(o, "attributes", attrs ? attrs : json_object());
  json_object_set_new(o, "reopen_count", json_integer(db_col_int64(st, 27)));
  json_object_set_new(o, "mine", json_boolean(mine));
  json_object_set_new(o, "can_handle", json_boolean(officer));
  if (officer) {
    json_object_set_new(o, "reporter", json_pack("{s:s?, s:s?, s:s?, s:o}", "name", db_col_text(st, 23), "email",
                                                 db_col_text(st, 24), "phone", db_col_text(st, 25), "account_id",
                                                 reporter ? json_integer(reporter) : json_null()));
  }
  db_stmt_done(st);
  json_object_set_new(o, "events", report_events_json(req, db, id, &dberr));
  json_object_set_new(o, "photos", report_photos_json(db, id, &dberr));
  if (dberr) {
    json_decref(o);
    goto fail;
  }
  if (officer && !mine) {
    audit_entry_t e = audit_entry_from_req(req, "report.read", "report", arena_printf(req->arena, "%" PRId64, id));
    e.unit_id = unit;
    if (audit_append(db, &e)) {
      json_decref(o);
      goto fail;
    }
  }
  if (db_commit(db)) {
    json_decref(o);
    goto fail;
  }
  http_reply_json(req, 200, o);
  goto done;
fail:
  reports_db_fail(req, db);
done:
  db_pool_release(app->db, db);
}

/* GET /api/v1/reports/mine: the caller's reports, hidden ones included. */
static void api_mine(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = reports_req_db(req);
  if (!db) return;
  db_stmt_t *st = db_prepare(db, "SELECT " O311_COLS ", r.hidden_reason FROM " O311_FROM
                                 " WHERE r.reporter_account_id = $1 ORDER BY r.id DESC LIMIT 200");
  if (!st) goto fail;
  db_bind_int64(st, 1, req->principal->account_id);
  json_t *items = json_array();
  int s;
  while ((s = db_step(st)) == DB_ROW) {
    json_t *o = queue_item(req, st);
    json_object_set_new(o, "hidden_reason", db_col_text(st, 20) ? json_string(db_col_text(st, 20)) : json_null());
    json_array_append_new(items, o);
  }
  db_stmt_done(st);
  if (s < 0) {
    json_decref(items);
    goto fail;
  }
  http_reply_json(req, 200, json_pack("{s:o}", "items", items));
  goto done;
fail:
  reports_db_fail(req, db);
done:
  db_pool_release(app->db, db);
}

/* GET /api/v1/reports/notifications: the caller's outbox entries (newest first). */
static void api_notifications(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = reports_req_db(req);
  if (!db) return;
  db_stmt_t *st = db_prepare(db, "SELECT id, report_id, kind, message, created_at, sent_at FROM report_notifications"
                                 " WHERE account_id = $1 ORDER BY id DESC LIMIT 200");
  if (!st) goto fail;
  db_bind_int64(st, 1, req->principal->account_id);
  json_t *items = json_array();
  int s;
  while ((s = db_step(st)) == DB_ROW) {
    json_array_append_new(items, json_pack("{s:I, s:I, s:s, s:s, s:I, s:o}", "id", (json_int_t)db_col_int64(st, 0),
                                           "report_id", (json_int_t)db_col_int64(st, 1), "kind", db_col_text(st, 2),
                                           "message", db_col_text(st, 3), "created_at", (json_int_t)db_col_int64(st, 4),
                                           "sent_at", db_col_is_null(st, 5) ? json_null() : json_integer(db_col_int64(st, 5))));
  }
  db_stmt_done(st);
  if (s < 0) {
    json_decref(items);
    goto fail;
  }
  http_reply_json(req, 200, json_pack("{s:o}", "items", items));
  goto done;
fail:
  reports_db_fail(req, db);
done:
  db_pool_release(app->db, db);
}

/* GET /api/v1/reports/nearby?lat=&long=&service_code=[&radius=&days=]: open reports of
 * that category near the point (possible duplicates, offered before submission). */
static void api_nearby(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = NULL;
  double lat, lon, radius = reports_settings.dup_meters;
  int64_t days = reports_settings.dup_days;
  const char *code = http_query(req, "service_code"), *qr = http_query(req, "radius"), *qd = http_query(req, "days");
  if (!http_query(req, "lat") || text_parse_double(http_query(req, "lat"), &lat) || lat < -90 || lat > 90) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "lat"), "lat must be decimal degrees");
    return;
  }
  if (!http_query(req, "long") || text_parse_double(http_query(req, "long"), &lon) || lon < -180 || lon > 180) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "long"), "long must be decimal degrees");
    return;
  }
  if (!code || !*code) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "service_code"), "service_code is required");
    return;
  }
  if ((qr && (text_parse_double(qr, &radius) || radius <= 0 || radius > 5000)) ||
      (qd && text_parse_int64(qd, 1, 365, &days))) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", qr ? "radius" : "days"),
                            "radius is 1..5000 metres, days 1..365");
    return;
  }
  db = reports_req_db(req);
  if (!db) return;
  double d = radius / 111000.0;
  db_stmt_t *st = db_prepare(db, "SELECT " O311_COLS " FROM " O311_FROM " WHERE r.category_code = $1 AND r.hidden_reason IS NULL"
                                 " AND r.status IN ('open', 'acknowledged', 'in_progress') AND r.created_at >= $2"
                                 " AND r.lat BETWEEN $3 AND $4 AND r.lon BETWEEN $5 AND $6 ORDER BY r.id DESC LIMIT 200");
  if (!st) goto fail;
  db_bind_text(st, 1, code);
  db_bind_int64(st, 2, clock_now_ms() - days * 86400000LL);
  db_bind_double(st, 3, lat - d);
  db_bind_double(st, 4, lat + d);
  db_bind_double(st, 5, lon - d * 1.2);
  db_bind_double(st, 6, lon + d * 1.2);
  json_t *items = json_array();
  int s;
  while ((s = db_step(st)) == DB_ROW) {
    double m = reports_distance_m(lat, lon, db_col_double(st, 12), db_col_double(st, 13));
    if (m > radius) continue;
    json_t *o = o311_request_json(req, st, "vi");
    json_object_set_new(o, "distance_m", json_integer((json_int_t)(m + 0.5)));
    json_array_append_new(items, o);
  }
  db_stmt_done(st);
  if (s < 0) {
    json_decref(items);
    goto fail;
  }
  http_reply_json(req, 200, json_pack("{s:o, s:f, s:I}", "items", items, "radius_m", radius, "days", (json_int_t)days));
  goto done;
fail:
  reports_db_fail(req, db);
done:
  db_pool_release(app->db, db);
}

/* GET /api/v1/reports/photos/{id}: the stored (stripped) bytes. Hidden photos, or photos
 * of hidden reports, only for officers of the unit. */
static void api_photo(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = NULL;
  int64_t id;
  if (text_parse_int64(http_param(req, "id"), 1, INT64_MAX, &id)) {
    http_reply_error(req, ERR_NOT_FOUND, "No such photo");
    return;
  }
  db = reports_req_db(req);
  if (!db) return;
  db_stmt_t *st = db_prepare(db, "SELECT p.content_type, p.data, p.hidden_reason, r.hidden_reason, r.unit_id FROM report_photos p"
                                 " JOIN reports r ON r.id = p.report_id WHERE p.id = $1");
  if (!st) goto fail;
  db_bind_int64(st, 1, id);
  int s = db_step(st);
  if (s == DB_ROW) {
    bool hidden = !db_col_is_null(st, 2) || !db_col_is_null(st, 3);
    if (hidden && !identity_can(app, req->principal, "reports.handle", db_col_int64(st, 4))) {
      http_reply_error(req, ERR_NOT_FOUND, "No such photo");
    } else {
      size_t len = 0;
      const void *data = db_col_blob(st, 1, &len);
      http_add_header(req, "Cache-Control", "private, max-age=60");
      http_reply_raw(req, 200, db_col_text(st, 0), data, len, false);
    }
  }
  db_stmt_done(st);
  if (s < 0) goto fail;
  if (s == DB_DONE) http_reply_error(req, ERR_NOT_FOUND, "No such photo");
  goto done;
fail:
  reports_db_fail(req, db);
done:
  db_pool_release(app->db, db);
}

void reports_h_stats(http_req_t *req);      /* reports_stats.c */
void reports_h_update(http_req_t *req);     /* reports_actions.c */
void reports_h_assign(http_req_t *req);
void reports_h_hide(http_req_t *req);
void reports_h_merge(http_req_t *req);
void reports_h_reopen(http_req_t *req);

#define KIB 1024
static const http_route_t REPORTS_API_ROUTES[] = {
  {"GET", "/api/v1/reports", api_queue, "reports.handle", 0, "The officer's queue (reports of units where reports.handle is held)", NULL},
  {"GET", "/api/v1/reports/mine", api_mine, HTTP_SIGNED_IN, 0, "The caller's own reports", NULL},
  {"GET", "/api/v1/reports/notifications", api_notifications, HTTP_SIGNED_IN, 0, "The caller's report notifications", NULL},
  {"GET", "/api/v1/reports/nearby", api_nearby, HTTP_PUBLIC, 0, "Open reports of a category near a point (duplicates)", NULL},
  {"GET", "/api/v1/reports/stats", reports_h_stats, "reports.stats", 0, "Per-unit statistics for the dashboard", NULL},
  {"GET", "/api/v1/reports/photos/{id}", api_photo, HTTP_PUBLIC, 0, "A report photo (metadata stripped)", NULL},
  {"GET", "/api/v1/reports/{id}", api_report_get, HTTP_SIGNED_IN, 0, "One report (officer of its unit, or its reporter)", NULL},
  {"POST", "/api/v1/reports/{id}/events", reports_h_update, "reports.handle", 8192 * KIB, "Status change and/or note, optional fix photo", NULL},
  {"POST", "/api/v1/reports/{id}/assign", reports_h_assign, "reports.handle", 8 * KIB, "Reassign to another unit or department, with a reason", NULL},
  {"POST", "/api/v1/reports/{id}/hide", reports_h_hide, "reports.handle", 8 * KIB, "Hide the report, a photo or a phrase, with a reason", NULL},
  {"POST", "/api/v1/reports/{id}/merge", reports_h_merge, "reports.handle", 8 * KIB, "Merge into another report as a duplicate", NULL},
  {"POST", "/api/v1/reports/{id}/reopen", reports_h_reopen, HTTP_SIGNED_IN, 8 * KIB, "The reporter reopens a resolved report", NULL},
};

const http_route_t *reports_api_routes(size_t *n) {
  *n = ARRAY_LEN(REPORTS_API_ROUTES);
  return REPORTS_API_ROUTES;
}
