#include "base/common.h"
#include "sensors/sensors.h"
#include "sensors/sensors_internal.h"
#include "base/log.h"
#include "base/text.h"

#include <math.h>

/*
 * GET /api/v1/devices/{id}/aqi?at=MS - hourly and daily VN_AQI of an air-quality station
 * from its 1-hour rollups (hourly means): NowCast over the last 12 hours for PM, the
 * hour's mean for gases; the day (Vietnam time) with PM 24-hour means, O3 1-hour and
 * 8-hour maxima, CO/SO2/NO2 1-hour maxima. Sub-indices are returned with the index.
 */

#define HOUR 3600000LL
#define DAY (24 * HOUR)
#define VN_OFFSET (7 * HOUR)

enum { A_PM25, A_PM10, A_O3, A_CO, A_SO2, A_NO2, A_N };
static const char *const ATTR[A_N] = {"pm25", "pm10", "o3", "co", "so2", "no2"};

/* means[a][h]: hourly means for hours [start, start + nh) (NaN where missing). */
static int load_hours(db_t *db, const char *dev, int64_t start, int nh, double means[A_N][36])
{
  for (int a = 0; a < A_N; a++)
    for (int h = 0; h < nh; h++) means[a][h] = NAN;
  db_stmt_t *st = db_prepare(db, "SELECT attr, bucket, vsum / n FROM sensor_rollups WHERE res = 3600000"
                                 " AND device_id = $1 AND bucket >= $2 AND bucket < $3");
  if (!st) return -1;
  db_bind_text(st, 1, dev);
  db_bind_int64(st, 2, start);
  db_bind_int64(st, 3, start + nh * HOUR);
  int rc;
  while ((rc = db_step(st)) == DB_ROW) {
    const char *attr = db_col_text(st, 0);
    int h = (int)((db_col_int64(st, 1) - start) / HOUR);
    for (int a = 0; a < A_N; a++)
      if (strcmp(attr, ATTR[a]) == 0 && h >= 0 && h < nh) means[a][h] = db_col_double(st, 2);
  }
  db_stmt_done(st);
  return rc < 0 ? -1 : 0;
}

static json_t *aqi_json(const sensors_aqi_t *q)
{
  static const char *const SUB[SENSORS_POLLUTANTS] = {"o3_1h", "o3_8h", "co", "so2", "no2", "pm10", "pm25"};
  json_t *subs = json_object();
  for (int p = 0; p < SENSORS_POLLUTANTS; p++)
    json_object_set_new(subs, SUB[p], q->sub[p] >= 0 ? json_integer(q->sub[p]) : json_null());
  const char *en = NULL, *colour = NULL;
  const char *band = sensors_aqi_band(q->aqi, &en, &colour);
  return json_pack("{s:o, s:s?, s:s?, s:s?, s:s?, s:o}", "aqi", q->aqi >= 0 ? json_integer(q->aqi) : json_null(),
                   "band", band, "band_en", band ? en : NULL, "colour", band ? colour : NULL, "dominant",
                   q->dominant, "sub_indices", subs);
}

static double max_of(const double *v, int n)
{
  double m = NAN;
  for (int i = 0; i < n; i++)
    if (!isnan(v[i]) && (isnan(m) || v[i] > m)) m = v[i];
  return m;
}

/* Mean of the hours present, with at least `need` of them. */
static double mean_of(const double *v, int n, int need)
{
  double s = 0;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (!isnan(v[i])) s += v[i], k++;
  return k >= need && k > 0 ? s / k : NAN;
}

void sensors_h_aqi(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = sensors_req_db(req);
  json_t *dev;
  int64_t uid, at = clock_now_ms();
  const char *q = http_query(req, "at");
  if (!db) return;
  if (q && text_parse_int64(q, 0, INT64_MAX / 2, &at)) {
    sensors_reply_field(req, "at", "at is milliseconds since the epoch");
    goto done;
  }
  if (!sensors_device_load(req, db, http_param(req, "id"), "sensors.read", &dev, &uid)) goto done;
  if (strcmp(json_string_value(json_object_get(dev, "type")), "AirQualityObserved") != 0) {
    sensors_reply_field(req, "id", "VN_AQI is computed for AirQualityObserved stations");
    goto done;
  }
  double hours[A_N][36];
  /* Hourly: the hour holding `at` and the 11 before it (NowCast index 0 = this hour). */
  int64_t hour = at - at % HOUR;
  if (load_hours(db, http_param(req, "id"), hour - 11 * HOUR, 12, hours)) goto fail;
  double pm25[12], pm10[12];
  for (int i = 0; i < 12; i++) pm25[i] = hours[A_PM25][11 - i], pm10[i] = hours[A_PM10][11 - i];
  sensors_aqi_t hq, dq;
  sensors_aqi_hourly(hours[A_O3][11], hours[A_CO][11], hours[A_SO2][11], hours[A_NO2][11], pm10, 12, pm25, 12, &hq);
  /* Daily: the Vietnam calendar day holding `at`; 7 hours before it for the 8-hour means. */
  int64_t day = (at + VN_OFFSET) - (at + VN_OFFSET) % DAY - VN_OFFSET;
  if (load_hours(db, http_param(req, "id"), day - 7 * HOUR, 31, hours)) goto fail;
  double o3_8h_max = NAN;
  for (int h = 7; h < 31; h++) {
    double m = mean_of(&hours[A_O3][h - 7], 8, 6);   /* 8-hour mean needs 6 of 8 hours */
    if (!isnan(m) && (isnan(o3_8h_max) || m > o3_8h_max)) o3_8h_max = m;
  }
  sensors_aqi_daily(max_of(&hours[A_O3][7], 24), o3_8h_max, max_of(&hours[A_CO][7], 24),
                    max_of(&hours[A_SO2][7], 24), max_of(&hours[A_NO2][7], 24), mean_of(&hours[A_PM10][7], 24, 1),
                    mean_of(&hours[A_PM25][7], 24, 1), &dq);
  json_t *h = aqi_json(&hq), *d = aqi_json(&dq);
  json_object_set_new(h, "hour", json_integer(hour));
  json_object_set_new(d, "day_start", json_integer(day));
  http_reply_json(req, 200, json_pack("{s:s, s:s, s:o, s:o}", "device", http_param(req, "id"), "scale",
                                      "VN_AQI (QĐ 1459/QĐ-TCMT)", "hourly", h, "daily", d));
  goto done;
fail:
  log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}
