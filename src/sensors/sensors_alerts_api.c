#include "base/common.h"
#include "sensors/sensors.h"
#include "sensors/sensors_internal.h"
#include "sensors/sensors_rules.h"
#include "base/log.h"
#include "base/text.h"
#include "http/auth.h"
#include "identity/identity.h"
#include "signup/signup.h"

/*
 * Rules (list, create, replace, delete) and alerts (list by state within the caller's units, one with its
 * history, acknowledge).
 */

static void reply_db(http_req_t *req, db_t *db)
{
  log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
}

/* The stored notify text as JSON (an empty list when none). */
static json_t *notify_json(const char *text)
{
  json_t *v = text ? json_loads(text, 0, NULL) : NULL;
  return json_is_array(v) ? v : (json_decref(v), json_array());
}

void sensors_h_rules_list(http_req_t *req)
{
  db_t *db = sensors_req_db(req);
  if (!db) return;
  db_stmt_t *st = db_prepare(db, "SELECT id, name, kind, device_type, device_id, attr, op, threshold, duration_ms,"
                                 " severity, enabled, notify FROM sensor_rules ORDER BY id");
  json_t *items = json_array();
  int rc = -1;
  if (st) {
    while ((rc = db_step(st)) == DB_ROW)
      json_array_append_new(items, json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:f, s:I, s:s, s:b, s:o}", "id",
                                             (json_int_t)db_col_int64(st, 0), "name", db_col_text(st, 1), "kind",
                                             db_col_text(st, 2), "device_type", db_col_text(st, 3), "device_id",
                                             db_col_text(st, 4), "attr", db_col_text(st, 5), "op", db_col_text(st, 6),
                                             "threshold", db_col_double(st, 7), "duration_s",
                                             (json_int_t)(db_col_int64(st, 8) / 1000), "severity",
                                             db_col_text(st, 9), "enabled", (int)db_col_int64(st, 10), "notify",
                                             notify_json(db_col_text(st, 11))));
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

/* A rule as sent to create or replace it. */
typedef struct rule_in {
  const char *name, *kind, *dtype, *dev, *attr, *op, *sev;
  const char *notify;     /* JSON text of [{channel, destination}], or NULL */
  double threshold;
  int64_t duration_ms;
  bool enabled;
} rule_in_t;

/* Validates a rule body (creation and replacement alike): 0 with *r, or -1 after 422. */
static int rule_parse(http_req_t *req, json_t *b, rule_in_t *r)
{
  r->name = json_string_value(json_object_get(b, "name"));
  r->kind = json_string_value(json_object_get(b, "kind"));
  r->dtype = json_string_value(json_object_get(b, "device_type"));
  r->dev = json_string_value(json_object_get(b, "device_id"));
  r->attr = json_string_value(json_object_get(b, "attr"));
  r->op = json_string_value(json_object_get(b, "op"));
  r->sev = json_string_value(json_object_get(b, "severity"));
  json_t *th = json_object_get(b, "threshold"), *dur = json_object_get(b, "duration_s");
  json_t *en = json_object_get(b, "enabled");
  if (!r->op) r->op = ">";
  if (!r->sev) r->sev = "warning";
  if (!r->name || !*r->name || strlen(r->name) > 100 || !text_utf8_valid(r->name, strlen(r->name))) {
    sensors_reply_field(req, "name", "name must be 1-100 bytes of text");
    return -1;
  }
  if (!r->kind || (strcmp(r->kind, "threshold") && strcmp(r->kind, "rate") && strcmp(r->kind, "offline"))) {
    sensors_reply_field(req, "kind", "kind is threshold, rate or offline");
    return -1;
  }
  const sensors_type_t *t = r->dtype ? sensors_type_find(r->dtype) : NULL;
  if (r->dtype && !t) {
    sensors_reply_field(req, "device_type", "unknown device type");
    return -1;
  }
  if (r->dev && !sensors_id_valid(r->dev)) {
    sensors_reply_field(req, "device_id", "bad device id");
    return -1;
  }
  bool offline = strcmp(r->kind, "offline") == 0;
  if (!offline) {
    bool known = false;
    const sensors_type_t *types;
    size_t nt = sensors_types(&types);
    for (size_t i = 0; r->attr && i < nt; i++)
      if ((!t || t == &types[i]) && sensors_attr_find(&types[i], r->attr)) known = true;
    if (!known) {
      sensors_reply_field(req, "attr", "attr must be an attribute of the device type");
      return -1;
    }
    if (!json_is_number(th)) {
      sensors_reply_field(req, "threshold", "threshold must be a number");
      return -1;
    }
  }
  if (strcmp(r->op, ">") && strcmp(r->op, "<")) {
    sensors_reply_field(req, "op", "op is > or <");
    return -1;
  }
  if (strcmp(r->sev, "info") && strcmp(r->sev, "warning") && strcmp(r->sev, "critical")) {
    sensors_reply_field(req, "severity", "severity is info, warning or critical");
    return -1;
  }
  if (dur && (!json_is_integer(dur) || json_integer_value(dur) < 0 || json_integer_value(dur) > 30 * 86400)) {
    sensors_reply_field(req, "duration_s", "duration_s is 0..2592000 seconds");
    return -1;
  }
  if (offline && (!dur || json_integer_value(dur) < 10)) {
    sensors_reply_field(req, "duration_s", "an offline rule needs duration_s of at least 10 seconds");
    return -1;
  }
  if (en && !json_is_boolean(en)) {
    sensors_reply_field(req, "enabled", "enabled is true or false");
    return -1;
  }
  json_t *nt = json_object_get(b, "notify");
  r->notify = NULL;
  if (nt && !json_is_null(nt)) {
    if (!json_is_array(nt) || json_array_size(nt) > 10) {
      sensors_reply_field(req, "notify", "notify is a list of at most 10 {channel, destination}");
      return -1;
    }
    size_t i;
    json_t *x;
    json_array_foreach(nt, i, x)
    {
      const char *ch = json_string_value(json_object_get(x, "channel"));
      const char *dst = json_string_value(json_object_get(x, "destination"));
      if (!json_is_object(x) || json_object_size(x) != 2 || !signup_destination_valid(ch, dst)) {
        sensors_reply_field(req, "notify",
                            arena_printf(req->arena,
                                         "notify[%zu] must be {channel: sms, destination: a Vietnamese phone"
                                         " number} or {channel: email, destination: an e-mail address}", i));
        return -1;
      }
    }
    if (json_array_size(nt)) {
      char *s = json_dumps(nt, JSON_COMPACT | JSON_SORT_KEYS);
      if (!s) abort();
      r->notify = arena_strdup(req->arena, s);
      free(s);
    }
  }
  if (offline) r->attr = NULL;
  r->threshold = json_is_number(th) ? json_number_value(th) : 0;
  r->duration_ms = dur ? (int64_t)json_integer_value(dur) * 1000 : 0;
  r->enabled = !en || json_is_true(en);
  return 0;
}

static json_t *rule_json(int64_t id, const rule_in_t *r)
{
  return json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:f, s:I, s:s, s:b, s:o}", "id", (json_int_t)id, "name",
                   r->name, "kind", r->kind, "device_type", r->dtype, "device_id", r->dev, "attr", r->attr, "op",
                   r->op, "threshold", r->threshold, "duration_s", (json_int_t)(r->duration_ms / 1000), "severity",
                   r->sev, "enabled", r->enabled, "notify", notify_json(r->notify));
}

/* Rules are city-wide: sensors.write everywhere. false after answering 403. */
static bool rules_writer(http_req_t *req)
{
  if (identity_can(req->app, req->principal, "sensors.write", 0)) return true;
  http_reply_error(req, ERR_FORBIDDEN, "Rules are set for the whole city");
  return false;
}

void sensors_h_rule_create(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  rule_in_t r;
  json_t *b = http_body_object(req);
  if (!b) return;
  if (!rules_writer(req) || rule_parse(req, b, &r)) return;
  db = sensors_req_db(req);
  if (!db) return;
  if (db_begin(db)) goto fail;
  db_stmt_t *st = db_prepare(db, "INSERT INTO sensor_rules(name, kind, device_type, device_id, attr, op, threshold,"
                                 " duration_ms, severity, enabled, notify) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
                                 " RETURNING id");
  if (!st) goto fail;
  db_bind_text(st, 1, r.name);
  db_bind_text(st, 2, r.kind);
  db_bind_text(st, 3, r.dtype);
  db_bind_text(st, 4, r.dev);
  db_bind_text(st, 5, r.attr);
  db_bind_text(st, 6, r.op);
  db_bind_double(st, 7, r.threshold);
  db_bind_int64(st, 8, r.duration_ms);
  db_bind_text(st, 9, r.sev);
  db_bind_int64(st, 10, r.enabled);
  db_bind_text(st, 11, r.notify);
  int rc = db_step(st);
  int64_t id = rc == DB_ROW ? db_col_int64(st, 0) : 0;
  db_stmt_done(st);
  if (rc < 0) goto fail;
  char idtext[24];
  snprintf(idtext, sizeof idtext, "%" PRId64, id);
  audit_entry_t e = audit_entry_from_req(req, "sensor_rule.create", "sensor_rule", idtext);
  if (audit_append(db, &e) || db_commit(db)) goto fail;
  http_reply_json(req, 201, rule_json(id, &r));
  goto done;
fail:
  reply_db(req, db);
done:
  db_pool_release(app->db, db);
}

/* The stored condition of rule id (kind, scope, attr, op, threshold, duration, enabled) as
 * one comparable text: 1 found, 0 not found, -1 error. */
static int rule_condition(db_t *db, int64_t id, char *out, size_t len)
{
  db_stmt_t *st = db_prepare(db, "SELECT kind, device_type, device_id, attr, op, threshold, duration_ms, enabled"
                                 " FROM sensor_rules WHERE id = $1");
  if (!st) return -1;
  db_bind_int64(st, 1, id);
  int rc = db_step(st);
  if (rc == DB_ROW)
    snprintf(out, len, "%s|%s|%s|%s|%s|%.17g|%" PRId64 "|%d", db_col_text(st, 0),
             db_col_text(st, 1) ? db_col_text(st, 1) : "", db_col_text(st, 2) ? db_col_text(st, 2) : "",
             db_col_text(st, 3) ? db_col_text(st, 3) : "", db_col_text(st, 4), db_col_double(st, 5),
             db_col_int64(st, 6), db_col_int64(st, 7) != 0);
  db_stmt_done(st);
  return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

/* PUT /api/v1/sensors/rules/{id}: replaces the rule (the body as for creation, with
 * `enabled`). When its condition changes (anything but name and severity) or it is
 * disabled, its open alerts are cleared (history event "rule_changed") and its evaluation
 * state starts afresh; a name or severity change keeps them. */
void sensors_h_rule_update(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  rule_in_t r;
  int64_t id, now = clock_now_ms();
  json_t *b = http_body_object(req);
  if (!b) return;
  if (!rules_writer(req)) return;
  if (text_parse_int64(http_param(req, "id"), 1, INT64_MAX, &id)) {
    http_reply_error(req, ERR_NOT_FOUND, "No such rule");
    return;
  }
  if (rule_parse(req, b, &r)) return;
  db = sensors_req_db(req);
  if (!db) return;
  char before[400], after[400];
  if (db_begin(db)) goto fail;
  int found = rule_condition(db, id, before, sizeof before);
  if (found < 0) goto fail;
  if (!found) {
    db_rollback(db);
    http_reply_error(req, ERR_NOT_FOUND, "No such rule");
    goto done;
  }
  db_stmt_t *st = db_prepare(db, "UPDATE sensor_rules SET name = $2, kind = $3, device_type = $4, device_id = $5,"
                                 " attr = $6, op = $7, threshold = $8, duration_ms = $9, severity = $10, enabled = $11,"
                                 " notify = $12 WHERE id = $1");
  if (!st) goto fail;
  db_bind_int64(st, 1, id);
  db_bind_text(st, 2, r.name);
  db_bind_text(st, 3, r.kind);
  db_bind_text(st, 4, r.dtype);
  db_bind_text(st, 5, r.dev);
  db_bind_text(st, 6, r.attr);
  db_bind_text(st, 7, r.op);
  db_bind_double(st, 8, r.threshold);
  db_bind_int64(st, 9, r.duration_ms);
  db_bind_text(st, 10, r.sev);
  db_bind_int64(st, 11, r.enabled);
  db_bind_text(st, 12, r.notify);
  int rc = db_step(st);
  db_stmt_done(st);
  if (rc < 0 || rule_condition(db, id, after, sizeof after) < 0) goto fail;
  int cleared = 0;
  if (strcmp(before, after) != 0) {
    cleared = sensors_rule_reset(db, id, now, "rule_changed", req->principal->account_id);
    if (cleared < 0) goto fail;
  }
  audit_entry_t e = audit_entry_from_req(req, "sensor_rule.update", "sensor_rule", http_param(req, "id"));
  char detail[80];
  snprintf(detail, sizeof detail, "condition_changed=%d alerts_cleared=%d", strcmp(before, after) != 0, cleared);
  e.detail = detail;
  if (audit_append(db, &e) || db_commit(db)) goto fail;
  if (sensors_alerts_take_pending()) sensors_alerts_bump();
  json_t *out = rule_json(id, &r);
  json_object_set_new(out, "alerts_cleared", json_integer(cleared));
  http_reply_json(req, 200, out);
  goto done;
fail:
  sensors_alerts_take_pending();
  reply_db(req, db);
done:
  db_pool_release(app->db, db);
}

/* DELETE /api/v1/sensors/rules/{id}: its open alerts are cleared (history event
 * "rule_deleted"; the alerts and their history stay), its state and the rule go. */
void sensors_h_rule_delete(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  int64_t id, now = clock_now_ms();
  if (!rules_writer(req)) return;
  if (text_parse_int64(http_param(req, "id"), 1, INT64_MAX, &id)) {
    http_reply_error(req, ERR_NOT_FOUND, "No such rule");
    return;
  }
  db = sensors_req_db(req);
  if (!db) return;
  if (db_begin(db)) goto fail;
  db_stmt_t *st = db_prepare(db, "DELETE FROM sensor_rules WHERE id = $1");
  if (!st) goto fail;
  db_bind_int64(st, 1, id);
  int rc = db_step(st);
  int64_t gone = rc < 0 ? 0 : db_changes(st);
  db_stmt_done(st);
  if (rc < 0) goto fail;
  if (!gone) {
    db_rollback(db);
    http_reply_error(req, ERR_NOT_FOUND, "No such rule");
    goto done;
  }
  int cleared = sensors_rule_reset(db, id, now, "rule_deleted", req->principal->account_id);
  if (cleared < 0) goto fail;
  audit_entry_t e = audit_entry_from_req(req, "sensor_rule.delete", "sensor_rule", http_param(req, "id"));
  char detail[40];
  snprintf(detail, sizeof detail, "alerts_cleared=%d", cleared);
  e.detail = detail;
  if (audit_append(db, &e) || db_commit(db)) goto fail;
  if (sensors_alerts_take_pending()) sensors_alerts_bump();
  http_reply_json(req, 200, json_pack("{s:I, s:b, s:i}", "id", (json_int_t)id, "deleted", 1, "alerts_cleared", cleared));
  goto done;
fail:
  sensors_alerts_take_pending();
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
