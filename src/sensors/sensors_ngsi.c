#include "base/common.h"
#include "sensors/sensors.h"
#include "sensors/sensors_internal.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "identity/identity.h"

#include <math.h>

/*
 * NGSI-LD read access (ETSI GS CIM 009) so FIWARE tools can read the devices:
 *   GET /ngsi-ld/v1/entities?type=&id=&q=&georel=&geometry=&coordinates=&limit=&offset=
 *   GET /ngsi-ld/v1/entities/{id}
 *   GET /ngsi-ld/v1/temporal/entities/{id}?attrs=&timerel=between|after|before&timeAt=&endTimeAt=&lastN=
 * Entity ids are urn:ngsi-ld:TYPE:DEVICE; the latest observation gives the Properties
 * (observedAt in UTC); location is a GeoProperty Point. The core @context is linked.
 * q: terms joined by ';' (and), each ATTR OP NUMBER with OP one of == != > >= < <=.
 * georel: near;maxDistance==METRES with geometry=Point, or within with geometry=Polygon.
 */

#define CORE_CONTEXT "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
#define URN "urn:ngsi-ld:"
#define MAX_SCAN 20000

static void iso_utc(int64_t ms, char out[32])
{
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  char date[24];
  gmtime_r(&s, &tm);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, 32, "%.19s.%03uZ", date, (unsigned)(ms % 1000) % 1000u);
}

/* "2026-11-22T10:00:00Z", with optional .fraction and Z or +HH:MM / -HH:MM. 0 or -1. */
static int parse_iso(const char *s, int64_t *ms)
{
  int y, mo, d, h, mi, sec, n = 0;
  if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6) return -1;
  const char *p = s + n;
  int frac = 0;
  if (*p == '.') {
    int digits = 0;
    for (p++; *p >= '0' && *p <= '9'; p++, digits++)
      if (digits < 3) frac = frac * 10 + (*p - '0');
    while (digits > 0 && digits < 3) frac *= 10, digits++;
  }
  int off = 0;
  if (*p == 'Z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int oh, om;
    if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2) return -1;
    off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
    p += 6;
  } else {
    return -1;
  }
  if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return -1;
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
  *ms = ((int64_t)timegm(&tm) - off * 60) * 1000 + frac;
  return 0;
}

static json_t *entity_json(const json_t *dev, bool with_context)
{
  const char *type = json_string_value(json_object_get(dev, "type"));
  const char *id = json_string_value(json_object_get(dev, "id"));
  json_t *loc = json_object_get(dev, "location");
  char eid[128], when[32] = "";
  snprintf(eid, sizeof eid, URN "%s:%s", type, id);
  json_t *e = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:{s:s, s:[f, f]}}}", "id", eid, "type", type, "name", "type",
                        "Property", "value", json_string_value(json_object_get(dev, "name")), "location", "type",
                        "GeoProperty", "value", "type", "Point", "coordinates",
                        json_real_value(json_object_get(loc, "lon")), json_real_value(json_object_get(loc, "lat")));
  json_object_set_new(e, "deviceState", json_pack("{s:s, s:O}", "type", "Property", "value", json_object_get(dev, "state")));
  json_t *unit = json_object_get(dev, "unit");
  if (json_is_object(unit))
    json_object_set_new(e, "areaServed", json_pack("{s:s, s:O}", "type", "Property", "value", json_object_get(unit, "name")));
  json_t *latest = json_object_get(dev, "latest");
  json_t *ts = json_object_get(latest, "ts");
  if (json_is_integer(ts)) iso_utc(json_integer_value(ts), when);
  const char *k;
  json_t *v;
  json_object_foreach(json_object_get(latest, "values"), k, v) {
    json_object_set_new(e, k, json_pack("{s:s, s:O, s:s}", "type", "Property", "value", v, "observedAt", when));
  }
  if (with_context) json_object_set_new(e, "@context", json_string(CORE_CONTEXT));
  return e;
}

static bool want_ld(http_req_t *req)
{
  const char *a = http_header(req, "Accept");
  return a && strstr(a, "application/ld+json");
}

static void reply_ld(http_req_t *req, json_t *body)
{
  if (!want_ld(req)) {
    http_add_header(req, "Link", "<" CORE_CONTEXT ">; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"");
    http_reply_json(req, 200, body);
    return;
  }
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  if (!text) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  http_reply_raw(req, 200, "application/ld+json", text, strlen(text), false);
  free(text);
}

/* "urn:ngsi-ld:TYPE:DEVICE" -> DEVICE (in the arena), or NULL. */
static const char *device_of(http_req_t *req, const char *eid)
{
  if (!eid || strncmp(eid, URN, strlen(URN)) != 0) return NULL;
  const char *c = strrchr(eid, ':');
  return c && sensors_id_valid(c + 1) ? arena_strdup(req->arena, c + 1) : NULL;
}

/* One q term against an entity's latest values. -1 = malformed. */
static int q_term(const char *term, const json_t *values)
{
  static const char *const OPS[] = {"==", "!=", ">=", "<=", ">", "<"};
  for (size_t i = 0; i < ARRAY_LEN(OPS); i++) {
    const char *at = strstr(term, OPS[i]);
    if (!at || at == term) continue;
    char attr[64];
    size_t al = (size_t)(at - term);
    if (al >= sizeof attr) return -1;
    memcpy(attr, term, al);
    attr[al] = 0;
    double want;
    if (text_parse_double(at + strlen(OPS[i]), &want)) return -1;
    const json_t *v = json_object_get(values, attr);
    if (!json_is_number(v)) return 0;
    double x = json_number_value(v);
    switch (i) {
    case 0: return x == want;
    case 1: return x != want;
    case 2: return x >= want;
    case 3: return x <= want;
    case 4: return x > want;
    default: return x < want;
    }
  }
  return -1;
}

static double metres(double lon1, double lat1, double lon2, double lat2)
{
  double r = 6371008.8, p = M_PI / 180;
  double a = sin((lat2 - lat1) * p / 2), b = sin((lon2 - lon1) * p / 2);
  return 2 * r * asin(sqrt(a * a + cos(lat1 * p) * cos(lat2 * p) * b * b));
}

static bool in_ring(const json_t *ring, double lon, double lat)
{
  bool in = false;
  size_t n = json_array_size(ring);
  for (size_t i = 0, j = n ? n - 1 : 0; i < n; j = i++) {
    double xi = json_number_value(json_array_get(json_array_get(ring, i), 0));
    double yi = json_number_value(json_array_get(json_array_get(ring, i), 1));
    double xj = json_number_value(json_array_get(json_array_get(ring, j), 0));
    double yj = json_number_value(json_array_get(json_array_get(ring, j), 1));
    if ((yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi) in = !in;
  }
  return in;
}

void sensors_h_ngsi_entities(http_req_t *req)
{
  app_t *app = req->app;
  int limit, offset;
  if (http_page(req, 20, 1000, &limit, &offset)) return;
  const char *type = http_query(req, "type"), *ids = http_query(req, "id"), *q = http_query(req, "q");
  const char *georel = http_query(req, "georel"), *geometry = http_query(req, "geometry");
  const char *coords = http_query(req, "coordinates");
  if (type && !sensors_type_find(type)) {
    sensors_reply_field(req, "type", "unknown entity type");
    return;
  }
  double maxd = 0;
  json_t *cj = NULL;
  bool near = false, within = false;
  if (georel) {
    near = strncmp(georel, "near;maxDistance==", 18) == 0 && text_parse_double(georel + 18, &maxd) == 0 && maxd > 0;
    within = strcmp(georel, "within") == 0;
    char why[80];
    cj = coords ? json_parse_limited(coords, strlen(coords), 6, why, sizeof why) : NULL;
    if (cj) json_arena_own(req->arena, cj);
    bool ok = (near && geometry && strcmp(geometry, "Point") == 0 && json_array_size(cj) == 2) ||
              (within && geometry && strcmp(geometry, "Polygon") == 0 && json_array_size(json_array_get(cj, 0)) >= 4);
    if (!ok) {
      sensors_reply_field(req, "georel", "georel is near;maxDistance==M with a Point or within with a Polygon");
      return;
    }
  }
  identity_scope_t scope;
  identity_scope(req->arena, app, req->principal, "sensors.read", 0, &scope);
  db_t *db = sensors_req_db(req);
  if (!db) return;
  json_t *list = json_array();
  json_arena_own(req->arena, list);
  const char *sql = db_kind(db) == DB_POSTGRES
    ? "SELECT " SENSORS_DEVICE_COLS " FROM sensor_devices WHERE (CAST($1 AS TEXT) IS NULL OR type = $1)"
      " AND (CAST($2 AS TEXT) IS NULL OR unit_id IN"
      " (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(CAST($2 AS TEXT) AS JSON))))"
      " ORDER BY id LIMIT $3"
    : "SELECT " SENSORS_DEVICE_COLS " FROM sensor_devices WHERE ($1 IS NULL OR type = $1)"
      " AND ($2 IS NULL OR unit_id IN (SELECT value FROM json_each($2))) ORDER BY id LIMIT $3";
  db_stmt_t *st = db_prepare(db, sql);
  int rc = -1;
  if (st) {
    db_bind_text(st, 1, type);
    db_bind_text(st, 2, scope.everywhere ? NULL : scope.json);
    db_bind_int64(st, 3, MAX_SCAN);
    int64_t now = clock_now_ms();
    while ((rc = db_step(st)) == DB_ROW) json_array_append_new(list, sensors_device_row_json(app, st, now));
    db_stmt_done(st);
  }
  db_pool_release(app->db, db);
  if (rc < 0) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  json_t *out = json_array();
  size_t i;
  json_t *dev;
  int skipped = 0;
  json_array_foreach(list, i, dev) {
    const char *type_i = json_string_value(json_object_get(dev, "type"));
    char eid[128];
    snprintf(eid, sizeof eid, URN "%s:%s", type_i, json_string_value(json_object_get(dev, "id")));
    if (ids) {   /* a comma-separated list of entity ids */
      bool hit = false;
      for (const char *p = ids; *p && !hit;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        hit = len == strlen(eid) && strncmp(p, eid, len) == 0;
        p += len + (c ? 1 : 0);
      }
      if (!hit) continue;
    }
    json_t *values = json_object_get(json_object_get(dev, "latest"), "values");
    if (q) {
      bool pass = true;
      char buf[512];
      if (strlen(q) >= sizeof buf) {
        json_decref(out);
        sensors_reply_field(req, "q", "q is too long");
        return;
      }
      snprintf(buf, sizeof buf, "%s", q);
      for (char *save = NULL, *tok = strtok_r(buf, ";", &save); tok && pass; tok = strtok_r(NULL, ";", &save)) {
        int r = q_term(tok, values);
        if (r < 0) {
          json_decref(out);
          sensors_reply_field(req, "q", "q is ATTR OP NUMBER terms joined by ';' (OP: == != > >= < <=)");
          return;
        }
        pass = r == 1;
      }
      if (!pass) continue;
    }
    json_t *loc = json_object_get(dev, "location");
    double lon = json_real_value(json_object_get(loc, "lon")), lat = json_real_value(json_object_get(loc, "lat"));
    if (near && metres(lon, lat, json_number_value(json_array_get(cj, 0)), json_number_value(json_array_get(cj, 1))) > maxd)
      continue;
    if (within && !in_ring(json_array_get(cj, 0), lon, lat)) continue;
    if (skipped++ < offset) continue;
    if ((int)json_array_size(out) >= limit) break;
    json_array_append_new(out, entity_json(dev, want_ld(req)));
  }
  reply_ld(req, out);
}

void sensors_h_ngsi_entity(http_req_t *req)
{
  const char *dev_id = device_of(req, http_param(req, "id"));
  if (!dev_id) {
    http_reply_error(req, ERR_NOT_FOUND, "No such entity (ids are urn:ngsi-ld:TYPE:DEVICE)");
    return;
  }
  db_t *db = sensors_req_db(req);
  json_t *dev;
  int64_t uid;
  if (db && sensors_device_load(req, db, dev_id, "sensors.read", &dev, &uid)) reply_ld(req, entity_json(dev, want_ld(req)));
  db_pool_release(((app_t *)req->app)->db, db);
}

void sensors_h_ngsi_temporal(http_req_t *req)
{
  const char *dev_id = device_of(req, http_param(req, "id"));
  const char *attrs = http_query(req, "attrs"), *timerel = http_query(req, "timerel");
  int64_t t1 = 0, t2 = INT64_MAX / 2, last_n = 1000;
  if (!dev_id) {
    http_reply_error(req, ERR_NOT_FOUND, "No such entity (ids are urn:ngsi-ld:TYPE:DEVICE)");
    return;
  }
  if (timerel) {
    int64_t at;
    if (parse_iso(http_query(req, "timeAt"), &at)) {
      sensors_reply_field(req, "timeAt", "timeAt is an ISO 8601 time with Z or an offset");
      return;
    }
    if (strcmp(timerel, "after") == 0) t1 = at;
    else if (strcmp(timerel, "before") == 0) t2 = at;
    else if (strcmp(timerel, "between") == 0 && parse_iso(http_query(req, "endTimeAt"), &t2) == 0) t1 = at;
    else {
      sensors_reply_field(req, "timerel", "timerel is before, after or between (with endTimeAt)");
      return;
    }
  }
  const char *ln = http_query(req, "lastN");
  if (ln && text_parse_int64(ln, 1, 10000, &last_n)) {
    sensors_reply_field(req, "lastN", "lastN is 1..10000");
    return;
  }
  db_t *db = sensors_req_db(req);
  json_t *dev;
  int64_t uid;
  if (!db || !sensors_device_load(req, db, dev_id, "sensors.read", &dev, &uid)) goto done;
  json_t *e = entity_json(dev, want_ld(req));
  db_stmt_t *st = db_prepare(db, "SELECT attr, ts, value FROM sensor_readings WHERE device_id = $1 AND ts >= $2"
                                 " AND ts < $3 ORDER BY ts DESC LIMIT $4");
  int rc = -1;
  if (st) {
    db_bind_text(st, 1, dev_id);
    db_bind_int64(st, 2, t1);
    db_bind_int64(st, 3, t2);
    db_bind_int64(st, 4, last_n * SENSORS_MAX_VALUES);
    const char *k;
    json_t *v, *tmp;
    json_object_foreach_safe(e, tmp, k, v) {   /* temporal form: attributes become arrays */
      if (json_is_object(v) && json_object_get(v, "observedAt")) json_object_del(e, k);
    }
    while ((rc = db_step(st)) == DB_ROW) {
      const char *a = db_col_text(st, 0);
      if (attrs) {
        const char *hit = strstr(attrs, a);
        size_t al = strlen(a);
        if (!hit || (hit != attrs && hit[-1] != ',') || (hit[al] && hit[al] != ',')) continue;
      }
      json_t *arr = json_object_get(e, a);
      if (!arr) {
        arr = json_array();
        json_object_set_new(e, a, arr);
      }
      if ((int64_t)json_array_size(arr) >= last_n) continue;
      char when[32];
      iso_utc(db_col_int64(st, 1), when);
      json_array_insert_new(arr, 0, json_pack("{s:s, s:f, s:s}", "type", "Property", "value", db_col_double(st, 2),
                                              "observedAt", when));
    }
    db_stmt_done(st);
  }
  if (rc < 0) {
    json_decref(e);
    http_reply_error(req, ERR_INTERNAL, NULL);
  } else {
    reply_ld(req, e);
  }
done:
  db_pool_release(((app_t *)req->app)->db, db);
}
