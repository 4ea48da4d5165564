#include "base/common.h"
#include "reports/reports.h"
#include "reports/reports_internal.h"
#include "reports/reports_o311.h"
#include "base/log.h"
#include "base/text.h"
#include "base/json.h"
#include "units/units.h"

/*
 * Open311 GeoReport v2, read side: discovery, services, service definitions,
 * service requests (list and one) and tokens. The write side (POST requests) is in
 * reports_submit.c. Every path exists as .json and .xml.
 */

static const char *o311_lang(http_req_t *req) {
  const char *l = http_query(req, "lang");
  if (!l) l = http_query(req, "locale");
  return (l && strncmp(l, "en", 2) == 0) ? "en" : "vi";
}

/* --- services ------------------------------------------------------------------------- */

static void o311_discovery(http_req_t *req) {
  const char *host = http_header(req, "Host");
  const char *base = arena_printf(req->arena, "http://%s/open311/v2/", host ? host : "localhost");
  json_t *d = json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:[s, s]}]}", "changeset", "2026-11-22T00:00:00+07:00",
                        "contact", "Trung tâm điều hành đô thị thông minh Hà Nội", "key_service",
                        "API keys: ask the city (cityos API clients)", "endpoints", "specification",
                        "http://wiki.open311.org/GeoReport_v2", "url", base, "changeset", "2026-11-22T00:00:00+07:00",
                        "type", "production", "formats", "text/xml", "application/json");
  o311_reply(req, 200, d, "discovery");
}

static void o311_services(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  reports_category_t *cats = NULL;
  size_t n = 0;
  bool en = strcmp(o311_lang(req), "en") == 0;
  if (!db) {
    o311_error(req, 503, "The service is not ready");
    goto done;
  }
  if (reports_categories_all(req->arena, db, &cats, &n)) {
    o311_db_fail(req, db);
    goto done;
  }
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    reports_category_t *c = &cats[i];
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:s, s:i}", "service_code", c->code,
                                         "service_name", en ? c->name_en : c->name_vi, "description",
                                         en ? c->description_en : c->description_vi, "metadata",
                                         json_array_size(c->attributes) > 0, "type", "realtime", "keywords",
                                         c->keywords, "group", c->group_name, "responsible_kind", c->responsible_kind,
                                         "agency_responsible",
                                         c->department ? c->department : (en ? "Ward People's Committee" : "UBND phường, xã"),
                                         "target_working_days", c->target_days));
  }
  o311_reply(req, 200, arr, "services");
done:
  db_pool_release(app->db, db);
}

static void o311_service_definition(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  reports_category_t cat;
  bool found = false, en = strcmp(o311_lang(req), "en") == 0;
  if (!db) {
    o311_error(req, 503, "The service is not ready");
    goto done;
  }
  if (reports_category_load(req->arena, db, http_param(req, "code"), &cat, &found)) {
    o311_db_fail(req, db);
    goto done;
  }
  if (!found) {
    o311_error(req, 404, "service_code %s not found", http_param(req, "code"));
    goto done;
  }
  json_t *attrs = json_array();
  size_t i;
  json_t *a;
  json_array_foreach(cat.attributes, i, a) {
    json_t *vals = json_array();
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(a, "values"), k, v) {
      json_array_append_new(vals, json_pack("{s:s, s:s}", "key", json_get_str(v, "key") ? json_get_str(v, "key") : "",
                                            "name", json_get_str(v, en ? "name_en" : "name_vi") ? json_get_str(v, en ? "name_en" : "name_vi") : ""));
    }
    json_array_append_new(attrs, json_pack("{s:b, s:s, s:s, s:O, s:s, s:O, s:s, s:o}", "variable", 1, "code",
                                           json_get_str(a, "code"), "datatype", json_get_str(a, "datatype"), "required",
                                           json_object_get(a, "required"), "datatype_description",
                                           json_get_str(a, "datatype_description"), "order", json_object_get(a, "order"),
                                           "description", json_get_str(a, en ? "description_en" : "description_vi"),
                                           "values", vals));
  }
  o311_reply(req, 200, json_pack("{s:s, s:o}", "service_code", cat.code, "attributes", attrs), "service_definition");
done:
  db_pool_release(app->db, db);
}

/* --- service requests ------------------------------------------------------------------- */

json_t *o311_request_json(http_req_t *req, db_stmt_t *st, const char *lang) {
  app_t *app = req->app;
  bool en = lang && strcmp(lang, "en") == 0;
  const char *status = db_col_text(st, 1);
  const char *host = http_header(req, "Host");
  const char *media = db_col_text(st, 14);
  if (!db_col_is_null(st, 15))
    media = arena_printf(req->arena, "http://%s/api/v1/reports/photos/%" PRId64, host ? host : "localhost",
                         db_col_int64(st, 15));
  int64_t ward_id = db_col_int64(st, 18);
  const unit_t *ward = ward_id && app->units ? units_by_id(app->units, ward_id) : NULL;
  const char *resp = reports_responsible_name(req->arena, app, db_col_int64(st, 6), db_col_text(st, 7));
  json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:s?, s:s?, s:s?, s:n, s:n}",
                        "service_request_id", (json_int_t)db_col_int64(st, 0), "status", reports_status_open311(status),
                        "detailed_status", status, "service_name", db_col_text(st, en ? 4 : 3), "service_code",
                        db_col_text(st, 2), "description", db_col_text(st, 5), "agency_responsible", resp,
                        "service_notice", "requested_datetime", reports_iso(req->arena, db_col_int64(st, 8)),
                        "updated_datetime", reports_iso(req->arena, db_col_int64(st, 9)), "expected_datetime",
                        reports_iso(req->arena, db_col_int64(st, 10)), "address_id", "zipcode");
  const char *notes = db_col_text(st, 16);
  json_object_set_new(o, "status_notes", notes ? json_string(notes) : json_null());
  const char *addr = db_col_text(st, 11);
  json_object_set_new(o, "address", addr ? json_string(addr) : json_null());
  json_object_set_new(o, "lat", db_col_is_null(st, 12) ? json_null() : json_real(db_col_double(st, 12)));
  json_object_set_new(o, "long", db_col_is_null(st, 13) ? json_null() : json_real(db_col_double(st, 13)));
  json_object_set_new(o, "media_url", media ? json_string(media) : json_null());
  json_object_set_new(o, "ward_code", ward ? json_string(ward->code) : json_null());
  json_object_set_new(o, "duplicate_of", db_col_is_null(st, 17) ? json_null() : json_integer(db_col_int64(st, 17)));
  return o;
}

#define O311_LIST_ITEMS 50   /* ids, codes or statuses in one filter */

/* Splits a comma-separated list into at most O311_LIST_ITEMS items. -1 when longer. */
static int o311_split(arena_t *a, const char *s, const char ***out, size_t *n) {
  const char **items = arena_alloc(a, O311_LIST_ITEMS * sizeof *items);
  size_t k = 0;
  while (s && *s) {
    size_t len = strcspn(s, ",");
    if (len > 0) {
      if (k >= O311_LIST_ITEMS) return -1;
      items[k++] = arena_strndup(a, s, len);
    }
    s += len;
    if (*s == ',') s++;
  }
  *out = items;
  *n = k;
  return 0;
}

/* A JSON array text of the items (numbers when `numeric`), arena. */
static const char *o311_json_list(arena_t *a, const char **items, size_t n, bool numeric) {
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    int64_t v = 0;
    if (numeric && text_parse_int64(items[i], 1, INT64_MAX, &v) == 0) json_array_append_new(arr, json_integer(v));
    else if (!numeric) json_array_append_new(arr, json_string(items[i]));
  }
  char *t = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  const char *out = t ? arena_strdup(a, t) : "[]";
  free(t);
  return out;
}

/* One fixed statement for every combination of filters (the statement cache stays
 * small): lists travel as JSON arrays, absent filters as NULL. */
#define O311_LIST_SQLITE                                                                                     \
  "SELECT " O311_COLS " FROM " O311_FROM " WHERE r.hidden_reason IS NULL"                                   \
  " AND (CAST($1 AS TEXT) IS NULL OR r.id IN (SELECT value FROM json_each(CAST($1 AS TEXT))))"              \
  " AND r.created_at >= $2 AND r.created_at <= $3"                                                           \
  " AND (CAST($4 AS TEXT) IS NULL OR r.category_code IN (SELECT value FROM json_each(CAST($4 AS TEXT))))"   \
  " AND (CAST($5 AS TEXT) IS NULL OR r.status IN (SELECT value FROM json_each(CAST($5 AS TEXT))))"          \
  " AND ($6 = 0 OR (r.lat BETWEEN $7 AND $8 AND r.lon BETWEEN $9 AND $10))"                                \
  " ORDER BY r.created_at DESC, r.id DESC LIMIT 1000"
#define O311_LIST_PG                                                                                         \
  "SELECT " O311_COLS " FROM " O311_FROM " WHERE r.hidden_reason IS NULL"                                   \
  " AND (CAST($1 AS TEXT) IS NULL OR r.id IN (SELECT CAST(value AS BIGINT) FROM"                            \
  " json_array_elements_text(CAST(CAST($1 AS TEXT) AS JSON))))"                                              \
  " AND r.created_at >= $2 AND r.created_at <= $3"                                                           \
  " AND (CAST($4 AS TEXT) IS NULL OR r.category_code IN (SELECT value FROM"                                 \
  " json_array_elements_text(CAST(CAST($4 AS TEXT) AS JSON))))"                                              \
  " AND (CAST($5 AS TEXT) IS NULL OR r.status IN (SELECT value FROM"                                        \
  " json_array_elements_text(CAST(CAST($5 AS TEXT) AS JSON))))"                                              \
  " AND (CAST($6 AS BIGINT) = 0 OR (r.lat BETWEEN CAST($7 AS DOUBLE PRECISION) AND CAST($8 AS DOUBLE PRECISION)" \
  " AND r.lon BETWEEN CAST($9 AS DOUBLE PRECISION) AND CAST($10 AS DOUBLE PRECISION)))"                     \
  " ORDER BY r.created_at DESC, r.id DESC LIMIT 1000"

/* The detailed statuses selected by a status filter, as a JSON array; NULL = all. */
static const char *o311_status_set(arena_t *a, const char **stats, size_t n) {
  static const char *const all[] = {"open", "acknowledged", "in_progress", "resolved", "closed", "duplicate"};
  bool on[6] = {false};
  const char *sel[6];
  size_t k = 0;
  if (!n) return NULL;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < 6; j++) {
      bool open = strcmp(stats[i], "open") == 0 && j < 3, closed = strcmp(stats[i], "closed") == 0 && j >= 3;
      if (open || closed || strcmp(stats[i], all[j]) == 0) on[j] = true;
    }
  }
  for (size_t j = 0; j < 6; j++)
    if (on[j]) sel[k++] = all[j];
  return o311_json_list(a, sel, k, false);
}

static void o311_requests_list(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = NULL;
  const char **ids = NULL, **codes = NULL, **stats = NULL;
  size_t nids = 0, ncodes = 0, nstats = 0;
  int64_t start = 0, end = 0, now = clock_now_ms();
  const char *sd = http_query(req, "start_date"), *ed = http_query(req, "end_date");
  double lat = 0, lon = 0, radius = 0;
  const char *qlat = http_query(req, "lat"), *qlon = http_query(req, "long"), *qrad = http_query(req, "radius");

  if (o311_split(req->arena, http_query(req, "service_request_id"), &ids, &nids) ||
      o311_split(req->arena, http_query(req, "service_code"), &codes, &ncodes) ||
      o311_split(req->arena, http_query(req, "status"), &stats, &nstats)) {
    o311_error(req, 400, "At most %d comma-separated values per filter", O311_LIST_ITEMS);
    return;
  }
  for (size_t i = 0; i < nids; i++) {
    int64_t v;
    if (text_parse_int64(ids[i], 1, INT64_MAX, &v)) {
      o311_error(req, 400, "service_request_id must be comma-separated numbers");
      return;
    }
  }
  for (size_t i = 0; i < nstats; i++) {
    if (strcmp(stats[i], "open") != 0 && strcmp(stats[i], "closed") != 0 && !reports_status_valid(stats[i])) {
      o311_error(req, 400, "status must be open or closed (or a detailed status)");
      return;
    }
  }
  if ((sd && reports_parse_iso(sd, &start)) || (ed && reports_parse_iso(ed, &end))) {
    o311_error(req, 400, "start_date and end_date must be W3C date-times, e.g. 2026-11-22T10:00:00+07:00");
    return;
  }
  if (!sd && !ed) {
    end = now;
    start = now - REPORTS_WINDOW_MS;
  } else if (!sd) {
    start = end - REPORTS_WINDOW_MS;
  } else if (!ed) {
    end = start + REPORTS_WINDOW_MS;
  }
  if (end < start) {
    o311_error(req, 400, "end_date is before start_date");
    return;
  }
  if (end - start > REPORTS_WINDOW_MS) {
    o311_error(req, 400, "The date window is at most 90 days");
    return;
  }
  if (qlat || qlon || qrad) {
    if (!qlat || !qlon || text_parse_double(qlat, &lat) || text_parse_double(qlon, &lon) || lat < -90 ||
        lat > 90 || lon < -180 || lon > 180) {
      o311_error(req, 400, "lat and long must be given together as decimal degrees");
      return;
    }
    radius = 500;
    if (qrad && (text_parse_double(qrad, &radius) || radius <= 0 || radius > 20000)) {
      o311_error(req, 400, "radius must be 1 to 20000 metres");
      return;
    }
  }
  db = db_pool_acquire(app->db);
  if (!db) {
    o311_error(req, 503, "The service is not ready");
    return;
  }
  db_stmt_t *st = db_prepare(db, db_kind(db) == DB_POSTGRES ? O311_LIST_PG : O311_LIST_SQLITE);
  if (!st) {
    o311_db_fail(req, db);
    goto done;
  }
  /* The id filter overrides every other (as the specification says). */
  double d = radius / 111000.0;
  db_bind_text(st, 1, nids ? o311_json_list(req->arena, ids, nids, true) : NULL);
  db_bind_int64(st, 2, nids ? 0 : start);
  db_bind_int64(st, 3, nids ? INT64_MAX : end);
  db_bind_text(st, 4, !nids && ncodes ? o311_json_list(req->arena, codes, ncodes, false) : NULL);
  db_bind_text(st, 5, nids ? NULL : o311_status_set(req->arena, stats, nstats));
  db_bind_int64(st, 6, !nids && radius > 0);
  db_bind_double(st, 7, lat - d);
  db_bind_double(st, 8, lat + d);
  db_bind_double(st, 9, lon - d * 1.2);
  db_bind_double(st, 10, lon + d * 1.2);
  json_t *arr = json_array();
  int s;
  const char *lang = o311_lang(req);
  while ((s = db_step(st)) == DB_ROW) {
    if (!nids && radius > 0 && reports_distance_m(lat, lon, db_col_double(st, 12), db_col_double(st, 13)) > radius) continue;
    json_array_append_new(arr, o311_request_json(req, st, lang));
  }
  db_stmt_done(st);
  if (s < 0) {
    json_decref(arr);
    o311_db_fail(req, db);
    goto done;
  }
  o311_reply(req, 200, arr, "service_requests");
done:
  db_pool_release(app->db, db);
}

static void o311_request_one(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = NULL;
  int64_t id = 0;
  if (text_parse_int64(http_param(req, "id"), 1, INT64_MAX, &id)) {
    o311_error(req, 404, "service_request_id %s not found", http_param(req, "id"));
    return;
  }
  db = db_pool_acquire(app->db);
  if (!db) {
    o311_error(req, 503, "The service is not ready");
    return;
  }
  db_stmt_t *st = db_prepare(db, "SELECT " O311_COLS " FROM " O311_FROM " WHERE r.id = $1 AND r.hidden_reason IS NULL");
  if (!st) {
    o311_db_fail(req, db);
    goto done;
  }
  db_bind_int64(st, 1, id);
  int s = db_step(st);
  json_t *o = s == DB_ROW ? o311_request_json(req, st, o311_lang(req)) : NULL;
  db_stmt_done(st);
  if (s < 0) o311_db_fail(req, db);
  else if (!o) o311_error(req, 404, "service_request_id %" PRId64 " not found", id);
  else o311_reply(req, 200, json_pack("[o]", o), "service_requests");
done:
  db_pool_release(app->db, db);
}

static void o311_token(http_req_t *req) {
  app_t *app = req->app;
  const char *token = http_param(req, "token");
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    o311_error(req, 503, "The service is not ready");
    return;
  }
  db_stmt_t *st = db_prepare(db, "SELECT id FROM reports WHERE token = $1");
  if (!st) {
    o311_db_fail(req, db);
    goto done;
  }
  db_bind_text(st, 1, token);
  int s = db_step(st);
  int64_t id = s == DB_ROW ? db_col_int64(st, 0) : 0;
  db_stmt_done(st);
  if (s < 0) o311_db_fail(req, db);
  else if (!id) o311_error(req, 404, "token not found");
  else o311_reply(req, 200, json_pack("[{s:I, s:s}]", "service_request_id", (json_int_t)id, "token", token), "service_requests");
done:
  db_pool_release(app->db, db);
}

void reports_o311_submit(http_req_t *req);   /* reports_submit.c */

#define O311_FORM "application/x-www-form-urlencoded, multipart/form-data, application/json"

static const http_route_t REPORTS_O311_ROUTES[] = {
  {"GET", "/open311/v2/discovery.json", o311_discovery, HTTP_PUBLIC, 0, "Open311 discovery", NULL},
  {"GET", "/open311/v2/discovery.xml", o311_discovery, HTTP_PUBLIC, 0, "Open311 discovery (XML)", NULL},
  {"GET", "/open311/v2/services.json", o311_services, HTTP_PUBLIC, 0, "Open311: list services (categories)", NULL},
  {"GET", "/open311/v2/services.xml", o311_services, HTTP_PUBLIC, 0, "Open311: list services (XML)", NULL},
  {"GET", "/open311/v2/services/{code}.json", o311_service_definition, HTTP_PUBLIC, 0, "Open311: service definition", NULL},
  {"GET", "/open311/v2/services/{code}.xml", o311_service_definition, HTTP_PUBLIC, 0, "Open311: service definition (XML)", NULL},
  {"GET", "/open311/v2/requests.json", o311_requests_list, HTTP_PUBLIC, 0, "Open311: list service requests", NULL},
  {"GET", "/open311/v2/requests.xml", o311_requests_list, HTTP_PUBLIC, 0, "Open311: list service requests (XML)", NULL},
  {"POST", "/open311/v2/requests.json", reports_o311_submit, HTTP_PUBLIC, REPORTS_BODY_MAX,
   "Open311: submit a service request (api_key or a signed-in citizen)", O311_FORM},
  {"POST", "/open311/v2/requests.xml", reports_o311_submit, HTTP_PUBLIC, REPORTS_BODY_MAX,
   "Open311: submit a service request (XML answer)", O311_FORM},
  {"GET", "/open311/v2/requests/{id}.json", o311_request_one, HTTP_PUBLIC, 0, "Open311: one service request", NULL},
  {"GET", "/open311/v2/requests/{id}.xml", o311_request_one, HTTP_PUBLIC, 0, "Open311: one service request (XML)", NULL},
  {"GET", "/open311/v2/tokens/{token}.json", o311_token, HTTP_PUBLIC, 0, "Open311: service request id for a token", NULL},
  {"GET", "/open311/v2/tokens/{token}.xml", o311_token, HTTP_PUBLIC, 0, "Open311: token (XML)", NULL},
};

const http_route_t *reports_open311_routes(size_t *n) {
  *n = ARRAY_LEN(REPORTS_O311_ROUTES);
  return REPORTS_O311_ROUTES;
}
