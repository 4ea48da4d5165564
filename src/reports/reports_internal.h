/*
 * reports_internal.h - shared between the files of src/reports (not a public contract).
 */
#ifndef CITYOS_REPORTS_INTERNAL_H
#define CITYOS_REPORTS_INTERNAL_H

#include "base/common.h"
#include "base/arena.h"
#include "app.h"
#include "store/db.h"
#include "http/http.h"
#include "http/auth.h"
#include <jansson.h>

#define REPORTS_PHOTO_MAX (5u * 1024 * 1024)       /* bytes of one photo */
#define REPORTS_BODY_MAX (8u * 1024 * 1024)        /* a report with a photo, base64 or multipart */
#define REPORTS_TEXT_MAX 4000                      /* bytes of a description or note */
#define REPORTS_LIST_MAX 1000                      /* Open311: at most 1000 requests */
#define REPORTS_WINDOW_MS (90LL * 86400000)        /* Open311: the 90-day window */

typedef struct reports_settings {
  int reopen_days;
  int dup_meters;
  int dup_days;
} reports_settings_t;

extern reports_settings_t reports_settings;

/* Statuses: the detailed ones and their Open311 open/closed mapping. */
bool reports_status_valid(const char *s);
const char *reports_status_open311(const char *s);   /* "open" | "closed" */

/* One field of a request body (JSON or form), or of a JSON body flattened. */
typedef struct reports_field {
  const char *name;
  const char *value;    /* NUL-terminated (binary for file parts: use len) */
  size_t len;
  const char *filename; /* file parts only */
  const char *content_type;
} reports_field_t;

typedef struct reports_fields {
  size_t n;
  reports_field_t *f;
} reports_fields_t;

/* Reads the body as a form (urlencoded or multipart: parsed by the core) or as a JSON
 * object (an extension: string/number values; "attributes":{code: v | [v]} becomes
 * attribute[code] / attribute[code][]). 0, or -1 with *why set (arena). */
int reports_fields_read(http_req_t *req, reports_fields_t *out, const char **why);
/* Parses an application/x-www-form-urlencoded text into fields (arena). 0 or -1. */
int reports_form_parse(arena_t *a, const char *body, size_t len, reports_fields_t *out);
const char *reports_field(const reports_fields_t *fs, const char *name);

/* A category with its attributes, loaded from the database. */
typedef struct reports_category {
  const char *code, *name_vi, *name_en, *description_vi, *description_en, *group_name;
  const char *keywords, *responsible_kind, *department;
  int target_days;
  json_t *attributes;   /* array of {code, datatype, required, order, description, values} (arena-owned) */
} reports_category_t;

/* Loads one category (active) or all; NULL / -1 on error, *found false when absent. */
int reports_category_load(arena_t *a, db_t *db, const char *code, reports_category_t *out, bool *found);
int reports_categories_all(arena_t *a, db_t *db, reports_category_t **out, size_t *n);

/* Appends a notification to the outbox for the report's reporter (inside the caller's
 * transaction). Nothing when the report has no reachable reporter. 0 or -1. */
int reports_notify(db_t *db, int64_t report_id, const char *kind, const char *message);

/* Records one event (inside the caller's transaction). *id_out may be NULL. 0 or -1. */
int reports_event_add(db_t *db, int64_t report_id, int64_t actor_id, const char *kind, const char *status,
                      const char *note, const char *reason, int64_t *id_out);

/* Stores a photo after stripping metadata. 0 with *photo_id; -1 with *why (client
 * fault, arena) or *dberr set. */
int reports_photo_store(arena_t *a, db_t *db, int64_t report_id, int64_t event_id, const char *kind,
                        const uint8_t *data, size_t len, int64_t *photo_id, const char **why, bool *dberr);

/* The responsible unit for a point and category. *unit_id is the ward (or the city for
 * a department's category / an unlocated point), *ward_id the ward containing the point
 * (0 when none), *department the department name or NULL. -1 when the point is outside
 * every ward of the active era. */
int reports_route(const app_t *app, const reports_category_t *cat, bool located, double lat, double lon,
                  int64_t *unit_id, int64_t *ward_id, const char **department);
/* The responsible body's display name (unit name or department). Arena. */
const char *reports_responsible_name(arena_t *a, const app_t *app, int64_t unit_id, const char *department);

/* ISO time (Vietnam) of ms, arena; NULL for 0. */
const char *reports_iso(arena_t *a, int64_t ms);
/* Parses an ISO 8601 / W3C date-time ("2026-11-22", "2026-11-22T10:00:00Z",
 * "...+07:00"). 0 with *ms, -1 when malformed. */
int reports_parse_iso(const char *s, int64_t *ms);

/* Routes. */
const http_route_t *reports_open311_routes(size_t *n);
const http_route_t *reports_api_routes(size_t *n);
void reports_db_fail(http_req_t *req, db_t *db);
db_t *reports_req_db(http_req_t *req);

#endif
