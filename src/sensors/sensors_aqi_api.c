#include "base/common.h"
#include "sensors/sensors.h"
#include "sensors/sensors_internal.h"
#include "base/log.h"
#include "base/text.h"

/*
 * VN_AQI of an air-quality station as stored by the sweeper (sensors_aqi_store.c):
 * GET /api/v1/devices/{id}/aqi?at=MS gives the hour and the Vietnam day holding `at`
 * (default: the latest completed hour and day); GET /api/v1/devices/{id}/aqi/history
 * lists stored rows. Each row carries the index, its band and every sub-index.
 */

#define HOUR 3600000LL
#define DAY (24 * HOUR)
#define AQI_COLS "start_at, aqi, dominant, o3_1h, o3_8h, co, so2, no2, pm10, pm25, computed_at"

static const char *const SUB[SENSORS_POLLUTANTS] = {"o3_1h", "o3_8h", "co", "so2", "no2", "pm10", "pm25"};

/* A stored row (AQI_COLS) as JSON. */
static json_t *row_json(db_stmt_t *st, const char *start_key)
{
  json_t *subs = json_object();
  for (int p = 0; p < SENSORS_POLLUTANTS; p++)
    json_object_set_new(subs, SUB[p], db_col_is_null(st, 3 + p) ? json_null() : json_integer(db_col_int64(st, 3 + p)));
  int aqi = db_col_is_null(st, 1) ? -1 : (int)db_col_int64(st, 1);
  const char *en = NULL, *colour = NULL;
  const char *band = sensors_aqi_band(aqi, &en, &colour);
  return json_pack("{s:I, s:s, s:o, s:s?, s:s?, s:s?, s:s?, s:o, s:I}", start_key, (json_int_t)db_col_int64(st, 0),
                   "status", "stored", "aqi", aqi >= 0 ? json_integer(aqi) : json_null(), "band", band, "band_en",
                   band ? en : NULL, "colour", band ? colour : NULL, "dominant", db_col_text(st, 2), "sub_indices",
                   subs, "computed_at", (json_int_t)db_col_int64(st, 10));
}

/* The stored row of one period, or a row saying why there is none: "pending" (not computed
 * yet) or "no_data". NULL on a database error. */
static json_t *period_json(db_t *db, const char *dev, bool is_day, int64_t start, int64_t now)
{
  const char *key = is_day ? "day_start" : "hour";
  db_stmt_t *st = db_prepare(db, "SELECT " AQI_COLS " FROM sensor_aqi WHERE device_id = $1 AND period = $2"
                                 " AND start_at = $3");
  if (!st) return NULL;
  db_bind_text(st, 1, dev);
  db_bind_text(st, 2, is_day ? "day" : "hour");
  db_bind_int64(st, 3, start);
  int rc = db_step(st);
  json_t *out = rc == DB_ROW ? row_json(st, key) : NULL;
  db_stmt_done(st);
  if (rc != DB_DONE) return out;
  int64_t next;
  if (sensors_aqi_cursor(db, is_day, &next)) return NULL;
  bool pending = start >= next || start + (is_day ? DAY : HOUR) + SENSORS_AQI_GRACE_MS > now;
  json_t *subs = json_object();
  for (int p = 0; p < SENSORS_POLLUTANTS; p++) json_object_set_new(subs, SUB[p], json_null());
  return json_pack("{s:I, s:s, s:n, s:n, s:o}", key, (json_int_t)start, "status", pending ? "pending" : "no_data",
                   "aqi", "dominant", "sub_indices", subs);
}

/* Loads the device (sensors.read at its ward) and checks it is an air-quality station. */
static bool station_load(http_req_t *req, db_t *db)
{
  json_t *dev;
  int64_t uid;
  if (!sensors_device_load(req, db, http_param(req, "id"), "sensors.read", &dev, &uid)) return false;
  if (strcmp(json_string_value(json_object_get(dev, "type")), "AirQualityObserved") != 0) {
    sensors_reply_field(req, "id", "VN_AQI is computed for AirQualityObserved stations");
    return false;
  }
  return true;
}

void sensors_h_aqi(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = sensors_req_db(req);
  int64_t now = clock_now_ms(), at = 0;
  const char *q = http_query(req, "at");
  if (!db) return;
  if (q && text_parse_int64(q, 0, INT64_MAX / 2, &at)) {
    sensors_reply_field(req, "at", "at is milliseconds since the epoch");
    goto done;
  }
  if (!station_load(req, db)) goto done;
  /* Default: the latest completed hour and Vietnam day. */
  int64_t t = now - SENSORS_AQI_GRACE_MS;
  int64_t hour = q ? at - at % HOUR : t - t % HOUR - HOUR;
  int64_t day = q ? sensors_aqi_day_start(at) : sensors_aqi_day_start(t) - DAY;
  json_t *h = period_json(db, http_param(req, "id"), false, hour, now);
  json_t *d = h ? period_json(db, http_param(req, "id"), true, day, now) : NULL;
  if (!d) {
    json_decref(h);
    goto fail;
  }
  http_reply_json(req, 200, json_pack("{s:s, s:s, s:o, s:o}", "device", http_param(req, "id"), "scale",
                                      "VN_AQI (QĐ 1459/QĐ-TCMT)", "hourly", h, "daily", d));
  goto done;
fail:
  log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}

/* GET /api/v1/devices/{id}/aqi/history?period=hour|day&from=&to= (ms; default the last
 * 24 hours, or 30 days for days; at most 1000 rows, oldest first). */
void sensors_h_aqi_history(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = sensors_req_db(req);
  int64_t now = clock_now_ms(), from, to = now;
  const char *period = http_query(req, "period"), *qf = http_query(req, "from"), *qt = http_query(req, "to");
  if (!db) return;
  if (!period) period = "hour";
  bool is_day = strcmp(period, "day") == 0;
  if (!is_day && strcmp(period, "hour") != 0) {
    sensors_reply_field(req, "period", "period is hour or day");
    goto done;
  }
  from = now - (is_day ? 30 * DAY : DAY);
  if (qf && text_parse_int64(qf, 0, INT64_MAX / 2, &from)) {
    sensors_reply_field(req, "from", "from is milliseconds since the epoch");
    goto done;
  }
  if (qt && text_parse_int64(qt, 0, INT64_MAX / 2, &to)) {
    sensors_reply_field(req, "to", "to is milliseconds since the epoch");
    goto done;
  }
  if (to < from) {
    sensors_reply_field(req, "to", "to is before from");
    goto done;
  }
  if (!station_load(req, db)) goto done;
  db_stmt_t *st = db_prepare(db, "SELECT " AQI_COLS " FROM sensor_aqi WHERE device_id = $1 AND period = $2"
                                 " AND start_at >= $3 AND start_at <= $4 ORDER BY start_at LIMIT 1000");
  if (!st) goto fail;
  db_bind_text(st, 1, http_param(req, "id"));
  db_bind_text(st, 2, period);
  db_bind_int64(st, 3, from);
  db_bind_int64(st, 4, to);
  json_t *items = json_array();
  int rc;
  while ((rc = db_step(st)) == DB_ROW) json_array_append_new(items, row_json(st, "start"));
  db_stmt_done(st);
  if (rc < 0) {
    json_decref(items);
    goto fail;
  }
  http_reply_json(req, 200, json_pack("{s:s, s:s, s:o}", "device", http_param(req, "id"), "period", period,
                                      "items", items));
  goto done;
fail:
  log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}
