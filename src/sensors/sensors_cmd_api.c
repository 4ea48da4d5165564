#include "base/common.h"
#include "sensors/sensors.h"
#include "sensors/sensors_internal.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "http/auth.h"
#include "identity/identity.h"

/*
 * POST /api/v1/sensors/commands {devices: [ids], action: on|off|dim, level?: 0..1, at?: ms}
 * queues one command per street light (all or nothing, each light within the caller's
 * units for sensors.command); GET /api/v1/sensors/commands?device= lists them with their
 * state (pending, sent, acked, failed), attempts and times.
 */

#define MAX_GROUP 1000

int sensors_light_order_check(http_req_t *req, const json_t *devs, const char *action, const json_t *lv,
                              double *level)
{
  if (!json_is_array(devs) || json_array_size(devs) == 0 || json_array_size(devs) > MAX_GROUP) {
    sensors_reply_field(req, "devices", "devices is a list of 1-1000 street-light ids");
    return -1;
  }
  if (!action || (strcmp(action, "on") && strcmp(action, "off") && strcmp(action, "dim"))) {
    sensors_reply_field(req, "action", "action is on, off or dim");
    return -1;
  }
  if (lv && (!json_is_number(lv) || json_number_value(lv) < 0 || json_number_value(lv) > 1)) {
    sensors_reply_field(req, "level", "level is 0..1");
    return -1;
  }
  if (strcmp(action, "dim") == 0 && !lv) {
    sensors_reply_field(req, "level", "dim needs a level 0..1");
    return -1;
  }
  *level = strcmp(action, "off") == 0 ? 0 : lv ? json_number_value(lv) : 1.0;
  return 0;
}

void sensors_h_commands_create(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  json_t *b = http_body_object(req);
  if (!b) return;
  json_t *devs = json_object_get(b, "devices");
  const char *action = json_string_value(json_object_get(b, "action"));
  json_t *lv = json_object_get(b, "level"), *at = json_object_get(b, "at");
  int64_t now = clock_now_ms(), not_before = now;
  double level = 1.0;
  if (sensors_light_order_check(req, devs, action, lv, &level) < 0) return;
  if (at && !json_is_null(at)) {
    if (!json_is_integer(at) || json_integer_value(at) < now - 60000 || json_integer_value(at) > now + 366 * 86400000LL) {
      sensors_reply_field(req, "at", "at is a time in ms within the coming year");
      return;
    }
    not_before = (int64_t)json_integer_value(at);
  }
  db = sensors_req_db(req);
  if (!db) return;
  if (db_begin(db)) goto fail;
  json_t *ids = json_array();
  json_arena_own(req->arena, ids);
  size_t i;
  json_t *d;
  json_array_foreach(devs, i, d) {
    const char *id = json_string_value(d);
    db_stmt_t *st = sensors_id_valid(id) ? db_prepare(db, "SELECT type, unit_id FROM sensor_devices WHERE id = $1") : NULL;
    if (sensors_id_valid(id) && !st) goto fail;
    int rc = DB_DONE;
    bool ok = false;
    if (st) {
      db_bind_text(st, 1, id);
      rc = db_step(st);
      ok = rc == DB_ROW && strcmp(db_col_text(st, 0), "Streetlight") == 0 &&
           identity_can(app, req->principal, "sensors.command", db_col_int64(st, 1));
      db_stmt_done(st);
    }
    if (rc < 0) goto fail;
    if (!ok) {
      db_rollback(db);
      http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s, s:i}", "field", "devices", "index", (int)i),
                              "devices[%zu] is not a street light you may command", i);
      goto done;
    }
    st = db_prepare(db, "INSERT INTO sensor_commands(device_id, action, level, not_before, created_by)"
                        " VALUES ($1,$2,$3,$4,$5) RETURNING id");
    if (!st) goto fail;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, action);
    db_bind_double(st, 3, level);
    db_bind_int64(st, 4, not_before);
    db_bind_int64(st, 5, req->principal->account_id);
    rc = db_step(st);
    if (rc == DB_ROW) json_array_append_new(ids, json_pack("{s:s, s:I}", "device", id, "id", (json_int_t)db_col_int64(st, 0)));
    db_stmt_done(st);
    if (rc != DB_ROW) goto fail;
  }
  audit_entry_t e = audit_entry_from_req(req, "streetlight.command", "sensor_command", action);
  e.detail = audit_detail(req->arena, json_pack("{s:s, s:f, s:I, s:I}", "action", action, "level", level, "devices",
                                                (json_int_t)json_array_size(ids), "at", (json_int_t)not_before));
  if (audit_append(db, &e) || db_commit(db)) goto fail;
  http_reply_json(req, 202, json_pack("{s:O, s:s, s:f, s:I}", "commands", ids, "action", action, "level", level,
                                      "not_before", (json_int_t)not_before));
  goto done;
fail:
  log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}

void sensors_h_commands_list(http_req_t *req)
{
  app_t *app = req->app;
  int limit, offset;
  if (http_page(req, 100, 1000, &limit, &offset)) return;
  const char *dev = http_query(req, "device");
  if (!identity_can(app, req->principal, "sensors.read", 0) && !dev) {
    sensors_reply_field(req, "device", "name a device (your units do not cover the whole city)");
    return;
  }
  db_t *db = sensors_req_db(req);
  if (!db) return;
  json_t *devj;
  int64_t uid;
  if (dev && !sensors_device_load(req, db, dev, "sensors.read", &devj, &uid)) goto done;
  db_stmt_t *st = db_prepare(db, "SELECT id, device_id, action, level, state, not_before, attempts, sent_at,"
                                 " acked_at, finished_at, error, created_at FROM sensor_commands"
                                 " WHERE (CAST($1 AS TEXT) IS NULL OR device_id = $1) ORDER BY id DESC LIMIT $2 OFFSET $3");
  json_t *items = json_array();
  int rc = -1;
  if (st) {
    db_bind_text(st, 1, dev);
    db_bind_int64(st, 2, limit);
    db_bind_int64(st, 3, offset);
    while ((rc = db_step(st)) == DB_ROW) {
      json_t *o = json_pack("{s:I, s:s, s:s, s:f, s:s, s:I, s:I, s:s?, s:I}", "id", (json_int_t)db_col_int64(st, 0),
                            "device", db_col_text(st, 1), "action", db_col_text(st, 2), "level", db_col_double(st, 3),
                            "state", db_col_text(st, 4), "not_before", (json_int_t)db_col_int64(st, 5), "attempts",
                            (json_int_t)db_col_int64(st, 6), "error", db_col_text(st, 10), "created_at",
                            (json_int_t)db_col_int64(st, 11));
      static const char *const T[3] = {"sent_at", "acked_at", "finished_at"};
      for (int k = 0; k < 3; k++)
        json_object_set_new(o, T[k], db_col_is_null(st, 7 + k) ? json_null() : json_integer(db_col_int64(st, 7 + k)));
      json_array_append_new(items, o);
    }
    db_stmt_done(st);
  }
  if (rc < 0) {
    json_decref(items);
    log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
    http_reply_error(req, ERR_INTERNAL, NULL);
  } else {
    http_reply_json(req, 200, json_pack("{s:o}", "items", items));
  }
done:
  db_pool_release(app->db, db);
}
