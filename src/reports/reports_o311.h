/*
 * reports_o311.h - Open311 reply formats (JSON or XML by the path's suffix) and the
 * Open311 error list. Internal to src/reports.
 */
#ifndef CITYOS_REPORTS_O311_H
#define CITYOS_REPORTS_O311_H

#include "base/common.h"
#include "http/http.h"
#include "store/db.h"
#include <jansson.h>

/* true when the request path ends in ".xml". */
bool o311_is_xml(const http_req_t *req);
/* Answers body (stolen) as JSON, or as XML under <xml_root> for ".xml" paths. */
void o311_reply(http_req_t *req, int status, json_t *body, const char *xml_root);
/* [{"code":code,"description":msg}] with HTTP status code. */
void o311_error(http_req_t *req, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Logs, rolls back, answers 500 in the Open311 format. */
void o311_db_fail(http_req_t *req, db_t *db);

#endif

#ifndef CITYOS_REPORTS_O311_ROWS
#define CITYOS_REPORTS_O311_ROWS
#include "app.h"
/* The columns of a public report row (no reporter identity), for "SELECT " O311_COLS
 * " FROM " O311_FROM " WHERE ...". */
#define O311_COLS                                                                                              \
  "r.id, r.status, r.category_code, c.name_vi, c.name_en, r.public_description, r.unit_id, r.department, "    \
  "r.created_at, r.updated_at, r.due_at, r.address, r.lat, r.lon, r.media_url, "                               \
  "(SELECT p.id FROM report_photos p WHERE p.report_id = r.id AND p.kind = 'report' AND p.hidden_reason IS NULL " \
  " ORDER BY p.id LIMIT 1), "                                                                                  \
  "(SELECT e.note FROM report_events e WHERE e.report_id = r.id AND e.kind IN ('status', 'reopen', 'merge') "  \
  " AND e.note IS NOT NULL ORDER BY e.id DESC LIMIT 1), r.duplicate_of, r.ward_id, r.resolved_at"
#define O311_FROM "reports r JOIN report_categories c ON c.code = r.category_code"
/* A row of O311_COLS as an Open311 service request (plus the extensions
 * detailed_status, duplicate_of, ward_code). lang "en" or Vietnamese. New reference. */
json_t *o311_request_json(http_req_t *req, db_stmt_t *st, const char *lang);
#endif
