#include "base/common.h"
#include "sensors/sensors.h"
#include "sensors/sensors_internal.h"
#include "sensors/sensors_sched.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "identity/identity.h"
#include "units/units.h"

#include <sodium.h>

/*
 * Devices: registry with per-device credentials (a device key shown once; only its
 * SHA-256 is stored) and the ward found from the location; HTTP batch upload by devices.
 */

#define DEVICE_COLS SENSORS_DEVICE_COLS

json_t *sensors_device_row_json(const app_t *app, db_stmt_t *st, int64_t now)
{
  int64_t unit_id = db_col_int64(st, 5), seen = db_col_int64(st, 7);
  const unit_t *u = unit_id && app->units ? units_by_id(app->units, unit_id) : NULL;
  const char *state = seen == 0 ? "never" : now - seen > sensors_settings()->offline_after_ms ? "offline" : "online";
  if (strcmp(db_col_text(st, 6), "active") != 0) state = "disabled";
  json_t *dev = json_pack("{s:s, s:s, s:s, s:{s:f, s:f}, s:o, s:s, s:s, s:o, s:I}", "id", db_col_text(st, 0), "type",
                   db_col_text(st, 1), "name", db_col_text(st, 2), "location", "lon", db_col_double(st, 3), "lat",
                   db_col_double(st, 4), "unit",
                   u ? json_pack("{s:I, s:s, s:s}", "id", (json_int_t)u->id, "code", u->code, "name", u->name)
                     : json_null(),
                   "status", db_col_text(st, 6), "state", state, "last_seen_at",
                   seen ? json_integer(seen) : json_null(), "created_at", (json_int_t)db_col_int64(st, 8));
  const char *latest = db_col_text(st, 9);
  json_t *lv = latest ? json_loads(latest, 0, NULL) : NULL;
  json_t *o = json_pack("{s:o, s:o}", "ts", db_col_int64(st, 10) ? json_integer(db_col_int64(st, 10)) : json_null(),
                        "values", lv ? lv : json_object());
  json_object_set_new(dev, "latest", o);
  return dev;
}

db_t *sensors_req_db(http_req_t *req)
{
  db_t *db = db_pool_acquire(((app_t *)req->app)->db);
  if (!db) http_reply_error(req, ERR_UNAVAILABLE, NULL);
  return db;
}

void sensors_reply_field(http_req_t *req, const char *field, const char *msg)
{
  http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", field), "%s", msg);
}

/* Loads one device into *out (a JSON object) when the caller may read it. 1 found, 0 answered. */
int sensors_device_load(http_req_t *req, db_t *db, const char *id, const char *perm, json_t **out,
                        int64_t *unit_id)
{
  app_t *app = req->app;
  if (!sensors_id_valid(id)) {
    http_reply_error(req, ERR_NOT_FOUND, "No such device");
    return 0;
  }
  db_stmt_t *st = db_prepare(db, "SELECT " DEVICE_COLS " FROM sensor_devices WHERE id = $1");
  if (!st) goto fail;
  db_bind_text(st, 1, id);
  int rc = db_step(st);
  if (rc < 0) {
    db_stmt_done(st);
    goto fail;
  }
  if (rc == DB_DONE || !identity_can(app, req->principal, perm, db_col_int64(st, 5))) {
    db_stmt_done(st);
    http_reply_error(req, ERR_NOT_FOUND, "No such device");
    return 0;
  }
  *unit_id = db_col_int64(st, 5);
  *out = json_arena_own(req->arena, sensors_device_row_json(app, st, clock_now_ms()));
  db_stmt_done(st);
  return 1;
fail:
  log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
  http_reply_error(req, ERR_INTERNAL, NULL);
  return 0;
}

/* A new device key, its SHA-256 (HTTP uploads) and its broker hash (MQTT). 0 or -1. */
static int new_secret(char key[64], char hash[IDENTITY_TOKEN_HASH_HEX], char broker[SENSORS_BROKER_HASH_MAX])
{
  char hex[49];
  random_hex(hex, 24);
  snprintf(key, 64, "dk_%s", hex);
  identity_token_hash(key, hash);
  return sensors_broker_hash(key, broker);
}

static void h_types(http_req_t *req)
{
  const sensors_type_t *types;
  size_t n = sensors_types(&types);
  json_t *items = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *attrs = json_array();
    for (size_t k = 0; k < types[i].nattrs; k++) {
      const sensors_attr_t *a = &types[i].attrs[k];
      json_t *o = json_pack("{s:s, s:s, s:f, s:f}", "name", a->name, "unit", a->unit, "min", a->min, "max", a->max);
      if (a->enums) {
        json_t *e = json_array();
        for (int j = 0; a->enums[j]; j++) json_array_append_new(e, json_string(a->enums[j]));
        json_object_set_new(o, "enum", e);
      }
      json_array_append_new(attrs, o);
    }
    json_array_append_new(items, json_pack("{s:s, s:o}", "type", types[i].name, "attributes", attrs));
  }
  http_reply_json(req, 200, json_pack("{s:o}", "items", items));
}

static void h_device_create(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  json_t *body = http_body_object(req);
  if (!body) goto done;
  const char *id = json_string_value(json_object_get(body, "id"));
  const char *type = json_string_value(json_object_get(body, "type"));
  const char *name = json_string_value(json_object_get(body, "name"));
  json_t *jlon = json_object_get(body, "lon"), *jlat = json_object_get(body, "lat");
  if (!sensors_id_valid(id)) {
    sensors_reply_field(req, "id", "id must be 1-64 characters of letters, digits, '_', '-', '.'");
    goto done;
  }
  if (!sensors_type_find(type)) {
    sensors_reply_field(req, "type", "type must be one of the device types (GET /api/v1/sensors/types)");
    goto done;
  }
  if (!name || !*name || strlen(name) > 200 || !text_utf8_valid(name, strlen(name))) {
    sensors_reply_field(req, "name", "name must be 1-200 bytes of text");
    goto done;
  }
  bool lon_ok = json_is_number(jlon) && json_number_value(jlon) >= -180 && json_number_value(jlon) <= 180;
  bool lat_ok = json_is_number(jlat) && json_number_value(jlat) >= -90 && json_number_value(jlat) <= 90;
  if (!lon_ok || !lat_ok) {
    sensors_reply_field(req, lon_ok ? "lat" : "lon", "lon and lat must be WGS84 degrees");
    goto done;
  }
  double lon = json_number_value(jlon), lat = json_number_value(jlat);
  const unit_t *u = app->units ? units_locate(app->units, units_active_era(app->units), lon, lat) : NULL;
  int64_t unit_id = u ? u->id : 0;
  if (!identity_can(app, req->principal, "sensors.write", unit_id)) {
    http_reply_error(req, ERR_FORBIDDEN, "You may not register devices at that place");
    goto done;
  }
  char key[64], hash[IDENTITY_TOKEN_HASH_HEX], broker[SENSORS_BROKER_HASH_MAX];
  if (new_secret(key, hash, broker)) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  db = sensors_req_db(req);
  if (!db) goto done;
  if (db_begin(db)) goto db_fail;
  db_stmt_t *st = db_prepare(db, "INSERT INTO sensor_devices(id, type, name, lon, lat, unit_id, secret_hash,"
                                 " broker_hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)");
  if (!st) goto db_fail;
  db_bind_text(st, 1, id);
  db_bind_text(st, 2, type);
  db_bind_text(st, 3, name);
  db_bind_double(st, 4, lon);
  db_bind_double(st, 5, lat);
  db_bind_int64(st, 6, unit_id);
  db_bind_text(st, 7, hash);
  db_bind_text(st, 8, broker);
  int rc = db_step(st);
  db_stmt_done(st);
  if (rc < 0) goto db_fail;
  audit_entry_t e = audit_entry_from_req(req, "device.create", "device", id);
  if (audit_append(db, &e) || db_commit(db)) goto db_fail;
  json_t *dev = NULL;
  int64_t uid;
  if (!sensors_device_load(req, db, id, "sensors.write", &dev, &uid)) goto done;
  json_t *outj = json_deep_copy(dev);
  json_object_set_new(outj, "key", json_string(key));
  sodium_memzero(key, sizeof key);
  http_reply_json(req, 201, outj);
  goto done;
db_fail:
  if (db_last_error(db) == DB_ERR_CONSTRAINT) {
    db_rollback(db);
    http_reply_error(req, ERR_CONFLICT, "A device with that id exists");
    goto done;
  }
  log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}

static void h_device_get(http_req_t *req)
{
  db_t *db = sensors_req_db(req);
  json_t *dev;
  int64_t uid;
  if (db && sensors_device_load(req, db, http_param(req, "id"), "sensors.read", &dev, &uid))
    http_reply_json(req, 200, json_incref(dev));
  db_pool_release(((app_t *)req->app)->db, db);
}

static void h_device_rotate(http_req_t *req)
{
  db_t *db = sensors_req_db(req);
  json_t *dev;
  int64_t uid;
  char key[64], hash[IDENTITY_TOKEN_HASH_HEX], broker[SENSORS_BROKER_HASH_MAX];
  if (!db || !sensors_device_load(req, db, http_param(req, "id"), "sensors.write", &dev, &uid)) goto done;
  if (new_secret(key, hash, broker) || db_begin(db)) goto fail;
  db_stmt_t *st = db_prepare(db, "UPDATE sensor_devices SET secret_hash = $2, updated_at = $3, broker_hash = $4"
                                 " WHERE id = $1");
  if (!st) goto fail;
  db_bind_text(st, 1, http_param(req, "id"));
  db_bind_text(st, 2, hash);
  db_bind_int64(st, 3, clock_now_ms());
  db_bind_text(st, 4, broker);
  int rc = db_step(st);
  db_stmt_done(st);
  audit_entry_t e = audit_entry_from_req(req, "device.key_rotate", "device", http_param(req, "id"));
  if (rc < 0 || audit_append(db, &e) || db_commit(db)) goto fail;
  http_reply_json(req, 200, json_pack("{s:s, s:s}", "id", http_param(req, "id"), "key", key));
  sodium_memzero(key, sizeof key);
  goto done;
fail:
  log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(((app_t *)req->app)->db, db);
}

static void h_devices_list(http_req_t *req)
{
  app_t *app = req->app;
  int limit, offset;
  if (http_page(req, 100, 10000, &limit, &offset)) return;
  const char *type = http_query(req, "type"), *format = http_query(req, "format");
  if (type && !sensors_type_find(type)) {
    sensors_reply_field(req, "type", "unknown device type");
    return;
  }
  if (format && strcmp(format, "csv") && strcmp(format, "json")) {
    sensors_reply_field(req, "format", "format is json or csv");
    return;
  }
  identity_scope_t scope;
  identity_scope(req->arena, app, req->principal, "sensors.read", 0, &scope);
  db_t *db = sensors_req_db(req);
  if (!db) return;
  const char *sql = db_kind(db) == DB_POSTGRES
    ? "SELECT " DEVICE_COLS " FROM sensor_devices WHERE (CAST($1 AS TEXT) IS NULL OR type = $1)"
      " AND (CAST($2 AS TEXT) IS NULL OR unit_id IN"
      " (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(CAST($2 AS TEXT) AS JSON))))"
      " ORDER BY id LIMIT $3 OFFSET $4"
    : "SELECT " DEVICE_COLS " FROM sensor_devices WHERE ($1 IS NULL OR type = $1)"
      " AND ($2 IS NULL OR unit_id IN (SELECT value FROM json_each($2))) ORDER BY id LIMIT $3 OFFSET $4";
  db_stmt_t *st = db_prepare(db, sql);
  json_t *items = json_array();
  int rc = -1;
  if (st) {
    db_bind_text(st, 1, type);
    db_bind_text(st, 2, scope.everywhere ? NULL : scope.json);
    db_bind_int64(st, 3, limit);
    db_bind_int64(st, 4, offset);
    int64_t now = clock_now_ms();
    while ((rc = db_step(st)) == DB_ROW) json_array_append_new(items, sensors_device_row_json(app, st, now));
    db_stmt_done(st);
  }
  if (rc < 0) {
    json_decref(items);
    log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
    http_reply_error(req, ERR_INTERNAL, NULL);
  } else if (format && strcmp(format, "csv") == 0) {
    sensors_reply_devices_csv(req, items);
    json_decref(items);
  } else {
    http_reply_json(req, 200, json_pack("{s:o, s:i, s:i}", "items", items, "limit", limit, "offset", offset));
  }
  db_pool_release(app->db, db);
}

/* POST /api/v1/devices/{id}/readings with X-Device-Key: one observation, an array, or
 * {"readings": [...]}; all or nothing, stored in one transaction. */
static void h_upload(http_req_t *req)
{
  app_t *app = req->app;
  const char *id = http_param(req, "id");
  const char *key = http_header(req, "X-Device-Key");
  db_t *db = NULL;
  if (!key || !sensors_id_valid(id)) {
    http_reply_error(req, ERR_UNAUTHENTICATED, "Send the device key in X-Device-Key");
    goto done;
  }
  db = sensors_req_db(req);
  if (!db) goto done;
  char hash[IDENTITY_TOKEN_HASH_HEX];
  identity_token_hash(key, hash);
  db_stmt_t *st = db_prepare(db, "SELECT secret_hash FROM sensor_devices WHERE id = $1");
  if (!st) goto fail;
  db_bind_text(st, 1, id);
  int rc = db_step(st);
  bool ok = rc == DB_ROW && db_col_text(st, 0) && strlen(db_col_text(st, 0)) == strlen(hash) &&
            sodium_memcmp(db_col_text(st, 0), hash, strlen(hash)) == 0;
  db_stmt_done(st);
  if (rc < 0) goto fail;
  if (!ok) {
    http_reply_error(req, ERR_UNAUTHENTICATED, "Unknown device or wrong device key");
    goto done;
  }
  sensors_msg_t m;
  memset(&m, 0, sizeof m);
  m.source = "http";
  m.topic = req->path;
  m.device_id = id;
  m.payload = req->body ? req->body : "";
  m.len = req->body ? req->body_len : 0;
  m.received_at = clock_now_ms();
  if (sensors_write_batch(db, sensors_settings(), &m, 1)) {
    http_reply_error(req, ERR_UNAVAILABLE, "Readings not stored; send them again");
    goto done;
  }
  if (!m.stored) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s, s:s}", "field", "readings", "reason", m.reason),
                            "Rejected (kept as a dead letter): %s", m.reason);
    goto done;
  }
  http_reply_json(req, 200, json_pack("{s:i}", "stored", m.nvalues));
  goto done;
fail:
  log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}

static void h_dead_letters(http_req_t *req)
{
  app_t *app = req->app;
  int limit, offset;
  if (http_page(req, 50, 1000, &limit, &offset)) return;
  if (!identity_can(app, req->principal, "sensors.read", 0)) {
    http_reply_error(req, ERR_FORBIDDEN, "Dead letters are for operators of the whole city");
    return;
  }
  const char *dev = http_query(req, "device");
  db_t *db = sensors_req_db(req);
  if (!db) return;
  db_stmt_t *st = db_prepare(db, "SELECT id, received_at, source, topic, device_id, reason, payload"
                                 " FROM sensor_dead_letters WHERE (CAST($1 AS TEXT) IS NULL OR device_id = $1)"
                                 " ORDER BY id DESC LIMIT $2 OFFSET $3");
  json_t *items = json_array();
  int rc = -1;
  if (st) {
    db_bind_text(st, 1, dev);
    db_bind_int64(st, 2, limit);
    db_bind_int64(st, 3, offset);
    while ((rc = db_step(st)) == DB_ROW)
      json_array_append_new(items, json_pack("{s:I, s:I, s:s, s:s, s:s?, s:s, s:s}", "id",
                                             (json_int_t)db_col_int64(st, 0), "received_at",
                                             (json_int_t)db_col_int64(st, 1), "source", db_col_text(st, 2), "topic",
                                             db_col_text(st, 3), "device", db_col_text(st, 4), "reason",
                                             db_col_text(st, 5), "payload", db_col_text(st, 6)));
    db_stmt_done(st);
  }
  if (rc < 0) {
    json_decref(items);
    http_reply_error(req, ERR_INTERNAL, NULL);
  } else {
    http_reply_json(req, 200, json_pack("{s:o}", "items", items));
  }
  db_pool_release(app->db, db);
}

static void h_status(http_req_t *req)
{
  uint64_t r, s, d, b;
  sensors_mqtt_counters(&r, &s, &d, &b);
  http_reply_json(req, 200, json_pack("{s:{s:I, s:I, s:I, s:I}}", "mqtt", "received", (json_int_t)r, "stored",
                                      (json_int_t)s, "dead", (json_int_t)d, "batches", (json_int_t)b));
}

static const http_route_t ROUTES[] = {
  {"GET", "/api/v1/sensors/types", h_types, HTTP_SIGNED_IN, 0, "Device types with attributes, units and ranges"},
  {"GET", "/api/v1/sensors/status", h_status, "sensors.read", 0, "Ingestion counters of this node"},
  {"GET", "/api/v1/sensors/dead-letters", h_dead_letters, "sensors.read", 0,
   "Rejected messages with the reason (?device=&limit=&offset=)"},
  {"GET", "/api/v1/devices", h_devices_list, "sensors.read", 0,
   "Devices in your units (?type=&format=json|csv&limit=&offset=)"},
  {"POST", "/api/v1/devices/import", sensors_h_devices_import, "sensors.write", 4u << 20,
   "Register many devices at once ({devices:[...]} or {csv}); all or none; returns their keys once"},
  {"POST", "/api/v1/devices", h_device_create, "sensors.write", 4096,
   "Register a device (id, type, name, lon, lat); returns its key once"},
  {"GET", "/api/v1/devices/{id}", h_device_get, "sensors.read", 0, "One device and its state"},
  {"POST", "/api/v1/devices/{id}/key", h_device_rotate, "sensors.write", 0, "A new device key (the old one stops)"},
  {"POST", "/api/v1/devices/{id}/readings", h_upload, HTTP_PUBLIC, 1 << 20,
   "Batch upload by the device itself (X-Device-Key): one observation, an array or {readings}"},
  {"GET", "/api/v1/devices/{id}/readings", sensors_h_readings, "sensors.read", 0,
   "Time series (?attr=&from=&to=&resolution=auto|raw|1m|1h&format=json|csv)"},
  {"GET", "/api/v1/devices/{id}/aqi", sensors_h_aqi, "sensors.read", 0,
   "Stored hourly (NowCast) and daily VN_AQI of an air-quality station with its sub-indices (?at=)"},
  {"GET", "/api/v1/devices/{id}/aqi/history", sensors_h_aqi_history, "sensors.read", 0,
   "Stored VN_AQI rows of a station (?period=hour|day&from=&to=)"},
  {"GET", "/api/v1/sensors/rules", sensors_h_rules_list, "sensors.read", 0, "Alert rules"},
  {"POST", "/api/v1/sensors/rules", sensors_h_rule_create, "sensors.write", 4096,
   "Create a threshold, rate or offline rule (name, kind, device_type?, device_id?, attr, op, threshold, duration_s)"},
  {"PUT", "/api/v1/sensors/rules/{id}", sensors_h_rule_update, "sensors.write", 4096,
   "Replace a rule (its open alerts are cleared when the condition changes)"},
  {"DELETE", "/api/v1/sensors/rules/{id}", sensors_h_rule_delete, "sensors.write", 0,
   "Delete a rule (its open alerts are cleared)"},
  {"GET", "/api/v1/sensors/stream", sensors_h_stream, "sensors.read", 0,
   "Live alert events as Server-Sent Events (text/event-stream)"},
  {"GET", "/api/v1/alerts", sensors_h_alerts_list, "sensors.read", 0,
   "Alerts in your units (?state=open|raised|acknowledged|cleared|all&device=)"},
  {"GET", "/api/v1/alerts/{id}", sensors_h_alert_get, "sensors.read", 0, "One alert with its history"},
  {"POST", "/api/v1/alerts/{id}/ack", sensors_h_alert_ack, "alerts.ack", 0, "Acknowledge a raised alert"},
  {"GET", "/api/v1/sensors/commands", sensors_h_commands_list, "sensors.read", 0,
   "Street-light commands and their state (?device=&limit=&offset=)"},
  {"GET", "/api/v1/sensors/schedules", sensors_h_schedules_list, "sensors.command", 0,
   "Street-light schedules (sunset/sunrise at Hanoi or HH:MM) with their next firing"},
  {"POST", "/api/v1/sensors/schedules", sensors_h_schedule_create, "sensors.command", 65536,
   "Create a schedule {name?, devices, action on|off|dim, level?, when sunset|sunrise|HH:MM, offset_min?}"},
  {"DELETE", "/api/v1/sensors/schedules/{id}", sensors_h_schedule_delete, "sensors.command", 0,
   "Delete a schedule (commands already made stay)"},
  {"GET", "/api/v1/sensors/sun", sensors_h_sun, "sensors.read", 0,
   "Sunrise and sunset at Hanoi (NOAA algorithm, UTC+7) for ?date=YYYY-MM-DD"},
  {"POST", "/api/v1/sensors/commands", sensors_h_commands_create, "sensors.command", 65536,
   "Switch street lights on, off or dim them, now or at a time (devices, action, level?, at?)"},
  {"GET", "/ngsi-ld/v1/entities", sensors_h_ngsi_entities, "sensors.read", 0,
   "NGSI-LD: devices as entities (?type=&id=&q=&georel=&geometry=&coordinates=&limit=&offset=)"},
  {"GET", "/ngsi-ld/v1/entities/{id}", sensors_h_ngsi_entity, "sensors.read", 0, "NGSI-LD: one entity"},
  {"GET", "/ngsi-ld/v1/temporal/entities/{id}", sensors_h_ngsi_temporal, "sensors.read", 0,
   "NGSI-LD temporal query of one entity (?attrs=&timerel=&timeAt=&endTimeAt=&lastN=)"},
};

const http_route_t *sensors_routes(size_t *n)
{
  *n = ARRAY_LEN(ROUTES);
  return ROUTES;
}
