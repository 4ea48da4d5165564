#include "base/common.h"
#include "sensors/sensors.h"
#include "sensors/sensors_sched.h"
#include "sensors/sensors_internal.h"
#include "audit/audit.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "http/auth.h"
#include "identity/identity.h"

/*
 * Street-light schedules (see sensors_sched.h): the HTTP API and the sweeper's firing.
 * POST /api/v1/sensors/schedules {name?, devices: [ids], action: on|off|dim, level?,
 * when: "sunset"|"sunrise"|"HH:MM", offset_min?: -720..720}; GET lists them; DELETE
 * removes one (commands already created stay). Permission sensors.command at the unit of
 * every light named (a schedule naming a light outside the caller's units is invisible
 * to delete: 404).
 */

#define SCHED_COLS "id, name, devices, action, level, trig, minute_of_day, offset_min, next_at, last_fired_at," \
                   " fired_count, created_at"

static const char *const TRIG_NAMES[] = {"", "sunset", "sunrise", "time"};

/* -1 when every entry is a street light the caller may command, its index otherwise,
 * -2 on a database error. */
static int check_lights(http_req_t *req, db_t *db, const json_t *devs)
{
  size_t i;
  json_t *d;
  json_array_foreach(devs, i, d) {
    const char *id = json_string_value(d);
    if (!sensors_id_valid(id)) return (int)i;
    db_stmt_t *st = db_prepare(db, "SELECT type, unit_id FROM sensor_devices WHERE id = $1");
    if (!st) return -2;
    db_bind_text(st, 1, id);
    int rc = db_step(st);
    bool ok = rc == DB_ROW && strcmp(db_col_text(st, 0), "Streetlight") == 0 &&
              identity_can(req->app, req->principal, "sensors.command", db_col_int64(st, 1));
    db_stmt_done(st);
    if (rc < 0) return -2;
    if (!ok) return (int)i;
  }
  return -1;
}

static json_t *row_json(db_stmt_t *st)
{
  json_t *devs = json_loads(db_col_text(st, 2), 0, NULL);
  int trig = (int)db_col_int64(st, 5);
  json_t *o = json_pack("{s:I, s:s, s:o, s:s, s:f, s:s, s:I, s:I, s:I, s:I}", "id", (json_int_t)db_col_int64(st, 0),
                        "name", db_col_text(st, 1), "devices", devs ? devs : json_array(), "action",
                        db_col_text(st, 3), "level", db_col_double(st, 4), "when",
                        trig >= 1 && trig <= 3 ? TRIG_NAMES[trig] : "?", "offset_min",
                        (json_int_t)db_col_int64(st, 7), "next_at", (json_int_t)db_col_int64(st, 8), "fired_count",
                        (json_int_t)db_col_int64(st, 10), "created_at", (json_int_t)db_col_int64(st, 11));
  if (!o) return NULL;
  if (trig == SENSORS_AT_TIME) {
    int mod = (int)db_col_int64(st, 6);
    char hhmm[8];
    snprintf(hhmm, sizeof hhmm, "%02d:%02d", (mod / 60) % 24, mod % 60);
    json_object_set_new(o, "when", json_string(hhmm));
  }
  json_object_set_new(o, "last_fired_at", db_col_is_null(st, 9) ? json_null() : json_integer(db_col_int64(st, 9)));
  return o;
}

/* "sunset" | "sunrise" | "HH:MM" (00:00..23:59). 0 or -1. */
static int parse_when(const char *w, sensors_trigger_t *kind, int *mod)
{
  *mod = 0;
  if (!w) return -1;
  if (strcmp(w, "sunset") == 0) *kind = SENSORS_AT_SUNSET;
  else if (strcmp(w, "sunrise") == 0) *kind = SENSORS_AT_SUNRISE;
  else {
    if (strlen(w) != 5 || w[2] != ':') return -1;
    for (int i = 0; i < 5; i++)
      if (i != 2 && (w[i] < '0' || w[i] > '9')) return -1;
    int h = (w[0] - '0') * 10 + (w[1] - '0'), m = (w[3] - '0') * 10 + (w[4] - '0');
    if (h > 23 || m > 59) return -1;
    *kind = SENSORS_AT_TIME;
    *mod = h * 60 + m;
  }
  return 0;
}

void sensors_h_schedule_create(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  json_t *b = http_body_object(req);
  if (!b) return;
  json_t *devs = json_object_get(b, "devices"), *lv = json_object_get(b, "level"), *off = json_object_get(b, "offset_min");
  const char *action = json_string_value(json_object_get(b, "action"));
  const char *name = json_string_value(json_object_get(b, "name"));
  json_t *namej = json_object_get(b, "name");
  sensors_trigger_t kind;
  int mod, offset = 0;
  double level = 1.0;
  if (namej && (!name || strlen(name) > 200 || !text_utf8_valid(name, strlen(name)))) {
    sensors_reply_field(req, "name", "name is text of at most 200 bytes");
    return;
  }
  if (sensors_light_order_check(req, devs, action, lv, &level) < 0) return;
  if (parse_when(json_string_value(json_object_get(b, "when")), &kind, &mod)) {
    sensors_reply_field(req, "when", "when is sunset, sunrise or a local time HH:MM");
    return;
  }
  if (off && (!json_is_integer(off) || json_integer_value(off) < -720 || json_integer_value(off) > 720)) {
    sensors_reply_field(req, "offset_min", "offset_min is a whole number of minutes, -720..720");
    return;
  }
  if (off) offset = (int)json_integer_value(off);
  int64_t now = clock_now_ms(), next = sensors_sched_next(kind, mod, offset, now);
  db = sensors_req_db(req);
  if (!db) return;
  if (db_begin(db)) goto fail;
  int bad = check_lights(req, db, devs);
  if (bad == -2) goto fail;
  if (bad >= 0) {
    db_rollback(db);
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s, s:i}", "field", "devices", "index", bad),
                            "devices[%d] is not a street light you may command", bad);
    goto done;
  }
  char *devtext = json_dumps(devs, JSON_COMPACT);
  db_stmt_t *st = devtext ? db_prepare(db, "INSERT INTO sensor_schedules(name, devices, action, level, trig,"
                                           " minute_of_day, offset_min, next_at, created_by)"
                                           " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING " SCHED_COLS)
                            : NULL;
  if (!st) {
    free(devtext);
    goto fail;
  }
  db_bind_text(st, 1, name ? name : "");
  db_bind_text(st, 2, devtext);
  db_bind_text(st, 3, action);
  db_bind_double(st, 4, level);
  db_bind_int64(st, 5, kind);
  db_bind_int64(st, 6, mod);
  db_bind_int64(st, 7, offset);
  db_bind_int64(st, 8, next);
  db_bind_int64(st, 9, req->principal->account_id);
  int rc = db_step(st);
  json_t *out = rc == DB_ROW ? row_json(st) : NULL;
  db_stmt_done(st);
  free(devtext);
  if (!out) goto fail;
  json_arena_own(req->arena, out);
  char idbuf[24];
  snprintf(idbuf, sizeof idbuf, "%" PRId64, (int64_t)json_integer_value(json_object_get(out, "id")));
  audit_entry_t e = audit_entry_from_req(req, "streetlight.schedule.create", "sensor_schedule", idbuf);
  e.detail = audit_detail(req->arena, json_pack("{s:s, s:O, s:I}", "action", action, "when",
                                                json_object_get(out, "when"), "devices",
                                                (json_int_t)json_array_size(devs)));
  if (audit_append(db, &e) || db_commit(db)) goto fail;
  http_reply_json(req, 201, json_incref(out));
  goto done;
fail:
  log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}

void sensors_h_schedules_list(http_req_t *req)
{
  app_t *app = req->app;
  int limit, offset;
  if (http_page(req, 100, 1000, &limit, &offset)) return;
  db_t *db = sensors_req_db(req);
  if (!db) return;
  db_stmt_t *st = db_prepare(db, "SELECT " SCHED_COLS " FROM sensor_schedules ORDER BY id LIMIT $1 OFFSET $2");
  json_t *items = json_array();
  int rc = -1;
  if (st) {
    db_bind_int64(st, 1, limit);
    db_bind_int64(st, 2, offset);
    while ((rc = db_step(st)) == DB_ROW) {
      json_t *o = row_json(st);
      if (o) json_array_append_new(items, o);
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
  db_pool_release(app->db, db);
}

void sensors_h_schedule_delete(http_req_t *req)
{
  app_t *app = req->app;
  int64_t id;
  if (text_parse_int64(http_param(req, "id"), 1, INT64_MAX, &id)) {
    http_reply_error(req, ERR_NOT_FOUND, "No such schedule");
    return;
  }
  db_t *db = sensors_req_db(req);
  if (!db) return;
  json_t *devs = NULL;
  if (db_begin(db)) goto fail;
  db_stmt_t *st = db_prepare(db, "SELECT devices FROM sensor_schedules WHERE id = $1");
  if (!st) goto fail;
  db_bind_int64(st, 1, id);
  int rc = db_step(st);
  if (rc == DB_ROW) devs = json_loads(db_col_text(st, 0), 0, NULL);
  db_stmt_done(st);
  if (rc < 0) goto fail;
  int bad = devs ? check_lights(req, db, devs) : 0;
  if (bad == -2) goto fail;
  if (bad >= 0) {
    db_rollback(db);
    http_reply_error(req, ERR_NOT_FOUND, "No such schedule");
    goto done;
  }
  st = db_prepare(db, "DELETE FROM sensor_schedules WHERE id = $1");
  if (!st) goto fail;
  db_bind_int64(st, 1, id);
  rc = db_step(st);
  db_stmt_done(st);
  if (rc < 0) goto fail;
  audit_entry_t e = audit_entry_from_req(req, "streetlight.schedule.delete", "sensor_schedule", http_param(req, "id"));
  if (audit_append(db, &e) || db_commit(db)) goto fail;
  http_reply_json(req, 200, json_pack("{s:I, s:b}", "id", (json_int_t)id, "deleted", 1));
  goto done;
fail:
  log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  json_decref(devs);
  db_pool_release(app->db, db);
}

static int days_in_month(int y, int m)
{
  static const int D[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return D[m - 1] + (m == 2 && leap);
}

/* GET /api/v1/sensors/sun?date=YYYY-MM-DD (default today at Hanoi). */
void sensors_h_sun(http_req_t *req)
{
  const char *date = http_query(req, "date");
  int y, m, d;
  char tail;
  double rise, set;
  if (date) {
    if (strlen(date) != 10 || sscanf(date, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 ||
        d > 31 || y < 1900 || y > 2200 || d > days_in_month(y, m)) {
      sensors_reply_field(req, "date", "date is YYYY-MM-DD");
      return;
    }
  } else {
    time_t t = (time_t)((clock_now_ms() + SENSORS_HANOI_TZ_H * 3600000LL) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    y = tm.tm_year + 1900, m = tm.tm_mon + 1, d = tm.tm_mday;
  }
  sensors_sun_times(y, m, d, SENSORS_HANOI_LAT, SENSORS_HANOI_LON, SENSORS_HANOI_TZ_H, &rise, &set);
  char ds[48], rs[32], ss[32];
  int ri = (int)(rise + 0.5), si = (int)(set + 0.5);
  snprintf(ds, sizeof ds, "%04d-%02d-%02d", y, m, d);
  snprintf(rs, sizeof rs, "%02d:%02d", ri / 60, ri % 60);
  snprintf(ss, sizeof ss, "%02d:%02d", si / 60, si % 60);
  http_reply_json(req, 200, json_pack("{s:s, s:f, s:f, s:i, s:s, s:s, s:f, s:f}", "date", ds, "lat", SENSORS_HANOI_LAT,
                                      "lon", SENSORS_HANOI_LON, "utc_offset_h", SENSORS_HANOI_TZ_H, "sunrise", rs,
                                      "sunset", ss, "sunrise_min", rise, "sunset_min", set));
}
