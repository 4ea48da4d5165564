#include "base/common.h"
#include "sensors/sensors.h"
#include "sensors/sensors_internal.h"
#include "sensors/sensors_rules.h"
#include "base/log.h"
#include "base/text.h"
#include "http/auth.h"
#include "identity/identity.h"

/*
 * Rules (list, create) and alerts (list by state within the caller's units, one with its
 * history, acknowledge).
 */

static void reply_db(http_req_t *req, db_t *db)
{
  log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
}

void sensors_h_rules_list(http_req_t *req)
{
  db_t *db = sensors_req_db(req);
  if (!db) return;
  db_stmt_t *st = db_prepare(db, "SELECT id, name, kind, device_type, device_id, attr, op, threshold, duration_ms,"
                                 " severity, enabled FROM sensor_rules ORDER BY id");
  json_t *items = json_array();
  int rc = -1;
  if (st) {
    while ((rc = db_step(st)) == DB_ROW)
      json_array_append_new(items, json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:f, s:I, s:s, s:b}", "id",
                                             (json_int_t)db_col_int64(st, 0), "name", db_col_text(st, 1), "kind",
                                             db_col_text(st, 2), "device_type", db_col_text(st, 3), "device_id",
                                             db_col_text(st, 4), "attr", db_col_text(st, 5), "op", db_col_text(st, 6),
                                             "threshold", db_col_double(st, 7), "duration_s",
                                             (json_int_t)(db_col_int64(st, 8) / 1000), "severity",
                                             db_col_text(st, 9), "enabled", (int)db_col_int64(st, 10)));
    db_stmt_done(st);
  }
  if (rc < 0) {
    json_decref(items);
    reply_db(req, db);
  } else {
    http_reply_json(req, 200, json_pack("{s:o}", "items", items));
  }
  db_pool_release(((app_t *)req->app)->db, db);
}

void sensors_h_rule_create(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  json_t *b = http_body_object(req);
  if (!b) return;
  if (!identity_can(app, req->principal, "sensors.write", 0)) {
    http_reply_error(req, ERR_FORBIDDEN, "Rules are set for the whole city");
    return;
  }
  const char *name = json_string_value(json_object_get(b, "name"));
  const char *kind = json_string_value(json_object_get(b, "kind"));
  const char *dtype = json_string_value(json_object_get(b, "device_type"));
  const char *dev = json_string_value(json_object_get(b, "device_id"));
  const char *attr = json_string_value(json_object_get(b, "attr"));
  const char *op = json_string_value(json_object_get(b, "op"));
  const char *sev = json_string_value(json_object_get(b, "severity"));
  json_t *th = json_object_get(b, "threshold"), *dur = json_object_get(b, "duration_s");
  if (!op) op = ">";
  if (!sev) sev = "warning";
  if (!name || !*name || strlen(name) > 100 || !text_utf8_valid(name, strlen(name))) {
    sensors_reply_field(req, "name", "name must be 1-100 bytes of text");
    return;
  }
  if (!kind || (strcmp(kind, "threshold") && strcmp(kind, "rate") && strcmp(kind, "offline"))) {
    sensors_reply_field(req, "kind", "kind is threshold, rate or offline");
    return;
  }
  const sensors_type_t *t = dtype ? sensors_type_find(dtype) : NULL;
  if (dtype && !t) {
    sensors_reply_field(req, "device_type", "unknown device type");
    return;
  }
  if (dev && !sensors_id_valid(dev)) {
    sensors_reply_field(req, "device_id", "bad device id");
    return;
  }
  bool offline = strcmp(kind, "offline") == 0;
  if (!offline) {
    bool known = false;
    const sensors_type_t *types;
    size_t nt = sensors_types(&types);
    for (size_t i = 0; attr && i < nt; i++)
      if ((!t || t == &types[i]) && sensors_attr_find(&types[i], attr)) known = true;
    if (!known) {
      sensors_reply_field(req, "attr", "attr must be an attribute of the device type");
      return;
    }
    if (!json_is_number(th)) {
      sensors_reply_field(req, "threshold", "threshold must be a number");
      return;
    }
  }
  if (strcmp(op, ">") && strcmp(op, "<")) {
    sensors_reply_field(req, "op", "op is > or <");
    return;
  }
  if (strcmp(sev, "info") && strcmp(sev, "warning") && strcmp(sev, "critical")) {
    sensors_reply_field(req, "severity", "severity is info, warning or critical");
    return;
  }
  if (dur && (!json_is_integer(dur) || json_integer_value(dur) < 0 || json_integer_value(dur) > 30 * 86400)) {
    sensors_reply_field(req, "duration_s", "duration_s is 0..2592000 seconds");
    return;
  }
  if (offline && (!dur || json_integer_value(dur) < 10)) {
    sensors_reply_field(req, "duration_s", "an offline rule needs duration_s of at least 10 seconds");
    return;
  }
  db = sensors_req_db(req);
  if (!db) return;
  if (db_begin(db)) goto fail;
  db_stmt_t *st = db_prepare(db, "INSERT INTO sensor_rules(name, kind, device_type, device_id, attr, op, threshold,"
                                 " duration_ms, severity) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id");
  if (!st) goto fail;
  db_bind_text(st, 1, name);
  db_bind_text(st, 2, kind);
  db_bind_text(st, 3, dtype);
  db_bind_text(st, 4, dev);
  db_bind_text(st, 5, offline ? NULL : attr);
  db_bind_text(st, 6, op);
  db_bind_double(st, 7, json_is_number(th) ? json_number_value(th) : 0);
  db_bind_int64(st, 8, dur ? (int64_t)json_integer_value(dur) * 1000 : 0);
  db_bind_text(st, 9, sev);
  int rc = db_step(st);
  int64_t id = rc == DB_ROW ? db_col_int64(st, 0) : 0;
  db_stmt_done(st);
  if (rc < 0) goto fail;
  char idtext[24];
  snprintf(idtext, sizeof idtext, "%" PRId64, id);
  audit_entry_t e = audit_entry_from_req(req, "sensor_rule.create", "sensor_rule", idtext);
  if (audit_append(db, &e) || db_commit(db)) goto fail;
  http_reply_json(req, 201, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "name", name, "kind", kind));
  goto done;
fail:
  reply_db(req, db);
done:
  db_pool_release(app->db, db);
}

#define ALERT_COLS "a.id, a.rule_id, a.device_id, a.unit_id, a.state, a.severity, a.message, a.value," \
  " a.raised_at, a.acked_at, a.acked_by, a.cleared_at, d.lon, d.lat, d.type"

static json_t *alert_json(db_stmt_t *st)
{
  json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:I, s:{s:f, s:f}, s:s}", "id",
                        (json_int_t)db_col_int64(st, 0), "rule", (json_int_t)db_col_int64(st, 1), "device",
                        db_col_text(st, 2), "state", db_col_text(st, 4), "severity", db_col_text(st, 5), "message",
                        db_col_text(st, 6), "raised_at", (json_int_t)db_col_int64(st, 8), "location", "lon",
                        db_col_double(st, 12), "lat", db_col_double(st, 13), "device_type", db_col_text(st, 14));
  json_object_set_new(o, "value", db_col_is_null(st, 7) ? json_null() : json_real(db_col_double(st, 7)));
  json_object_set_new(o, "acked_at", db_col_is_null(st, 9) ? json_null() : json_integer(db_col_int64(st, 9)));
  json_object_set_new(o, "acked_by", db_col_is_null(st, 10) ? json_null() : json_integer(db_col_int64(st, 10)));
  json_object_set_new(o, "cleared_at", db_col_is_null(st, 11) ? json_null() : json_integer(db_col_int64(st, 11)));
  return o;
}

void sensors_h_alerts_list(http_req_t *req)
{
  app_t *app = req->app;
  int limit, offset;
  if (http_page(req, 100, 1000, &limit, &offset)) return;
  const char *state = http_query(req, "state");
  if (!state) state = "open";
  if (strcmp(state, "open") && strcmp(state, "raised") && strcmp(state, "acknowledged") &&
      strcmp(state, "cleared") && strcmp(state, "all")) {
    sensors_reply_field(req, "state", "state is open, raised, acknowledged, cleared or all");
    return;
  }
  identity_scope_t scope;
  identity_scope(req->arena, app, req->principal, "sensors.read", 0, &scope);
  db_t *db = sensors_req_db(req);
  if (!db) return;
  const char *sql = db_kind(db) == DB_POSTGRES
    ? "SELECT " ALERT_COLS " FROM sensor_alerts a JOIN sensor_devices d ON d.id = a.device_id WHERE"
      " ($1 = 'all' OR ($1 = 'open' AND a.state <> 'cleared') OR a.state = $1)"
      " AND (CAST($2 AS TEXT) IS NULL OR a.device_id = $2) AND (CAST($3 AS TEXT) IS NULL OR a.unit_id IN"
      " (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(CAST($3 AS TEXT) AS JSON))))"
      " ORDER BY a.id DESC LIMIT $4 OFFSET $5"
    : "SELECT " ALERT_COLS " FROM sensor_alerts a JOIN sensor_devices d ON d.id = a.device_id WHERE"
      " ($1 = 'all' OR ($1 = 'open' AND a.state <> 'cleared') OR a.state = $1)"
      " AND ($2 IS NULL OR a.device_id = $2) AND ($3 IS NULL OR a.unit_id IN (SELECT value FROM json_each($3)))"
      " ORDER BY a.id DESC LIMIT $4 OFFSET $5";
  db_stmt_t *st = db_prepare(db, sql);
  json_t *items = json_array();
  int rc = -1;
  if (st) {
    db_bind_text(st, 1, state);
    db_bind_text(st, 2, http_query(req, "device"));
    db_bind_text(st, 3, scope.everywhere ? NULL : scope.json);
    db_bind_int64(st, 4, limit);
    db_bind_int64(st, 5, offset);
    while ((rc = db_step(st)) == DB_ROW) json_array_append_new(items, alert_json(st));
    db_stmt_done(st);
  }
  if (rc < 0) {
    json_decref(items);
    reply_db(req, db);
  } else {
    http_reply_json(req, 200, json_pack("{s:o, s:I}", "items", items, "version", (json_int_t)sensors_alerts_version()));
  }
  db_pool_release(app->db, db);
}

/* Loads alert {id} the caller may see with `perm`: 1 with *out, or 0 after answering. */
static int alert_load(http_req_t *req, db_t *db, const char *perm, json_t **out, int64_t *id)
{
  if (text_parse_int64(http_param(req, "id"), 1, INT64_MAX, id)) {
    http_reply_error(req, ERR_NOT_FOUND, "No such alert");
    return 0;
  }
  db_stmt_t *st = db_prepare(db, "SELECT " ALERT_COLS " FROM sensor_alerts a JOIN sensor_devices d"
                                 " ON d.id = a.device_id WHERE a.id = $1");
  if (!st) {
    reply_db(req, db);
    return 0;
  }
  db_bind_int64(st, 1, *id);
  int rc = db_step(st);
  if (rc < 0) {
    db_stmt_done(st);
    reply_db(req, db);
    return 0;
  }
  if (rc == DB_DONE || !identity_can(req->app, req->principal, perm, db_col_int64(st, 3))) {
    db_stmt_done(st);
    http_reply_error(req, ERR_NOT_FOUND, "No such alert");
    return 0;
  }
  *out = alert_json(st);
  db_stmt_done(st);
  return 1;
}

void sensors_h_alert_get(http_req_t *req)
{
  db_t *db = sensors_req_db(req);
  json_t *a = NULL;
  int64_t id;
  if (!db || !alert_load(req, db, "sensors.read", &a, &id)) goto done;
  db_stmt_t *st = db_prepare(db, "SELECT at, event, actor, value FROM sensor_alert_events WHERE alert_id = $1"
                                 " ORDER BY id");
  json_t *hist = json_array();
  int rc = -1;
  if (st) {
    db_bind_int64(st, 1, id);
    while ((rc = db_step(st)) == DB_ROW)
      json_array_append_new(hist, json_pack("{s:I, s:s, s:o, s:o}", "at", (json_int_t)db_col_int64(st, 0), "event",
                                            db_col_text(st, 1), "actor",
                                            db_col_is_null(st, 2) ? json_null() : json_integer(db_col_int64(st, 2)),
                                            "value",
                                            db_col_is_null(st, 3) ? json_null() : json_real(db_col_double(st, 3))));
    db_stmt_done(st);
  }
  if (rc < 0) {
    json_decref(hist);
    json_decref(a);
    reply_db(req, db);
    goto done;
  }
  json_object_set_new(a, "history", hist);
  http_reply_json(req, 200, a);
done:
  db_pool_release(((app_t *)req->app)->db, db);
}

void sensors_h_alert_ack(http_req_t *req)
{
  db_t *db = sensors_req_db(req);
  json_t *a = NULL;
  int64_t id, now = clock_now_ms();
  if (!db || !alert_load(req, db, "alerts.ack", &a, &id)) goto done;
  const char *state = json_string_value(json_object_get(a, "state"));
  if (strcmp(state, "raised") != 0) {
    http_reply_error(req, ERR_CONFLICT, "Only a raised alert can be acknowledged (it is %s)", state);
    goto done;
  }
  if (db_begin(db)) goto fail;
  db_stmt_t *st = db_prepare(db, "UPDATE sensor_alerts SET state = 'acknowledged', acked_at = $2, acked_by = $3"
                                 " WHERE id = $1 AND state = 'raised'");
  if (!st) goto fail;
  db_bind_int64(st, 1, id);
  db_bind_int64(st, 2, now);
  db_bind_int64(st, 3, req->principal->account_id);
  int rc = db_step(st);
  int64_t changed = db_changes(st);
  db_stmt_done(st);
  if (rc < 0) goto fail;
  if (changed != 1) {
    db_rollback(db);
    http_reply_error(req, ERR_CONFLICT, "The alert changed meanwhile");
    goto done;
  }
  audit_entry_t e = audit_entry_from_req(req, "alert.ack", "sensor_alert", http_param(req, "id"));
  if (sensors_alert_event(db, id, now, "acknowledged", req->principal->account_id) || audit_append(db, &e) ||
      db_commit(db))
    goto fail;
  sensors_alerts_take_pending();
  sensors_alerts_bump();
  json_object_set_new(a, "state", json_string("acknowledged"));
  json_object_set_new(a, "acked_at", json_integer(now));
  json_object_set_new(a, "acked_by", json_integer(req->principal->account_id));
  http_reply_json(req, 200, json_incref(a));
  goto done;
fail:
  reply_db(req, db);
done:
  json_decref(a);
  db_pool_release(((app_t *)req->app)->db, db);
}
