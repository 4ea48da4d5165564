#include "base/common.h"
#include "sensors/sensors.h"
#include "sensors/sensors_internal.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/text.h"

/*
 * Time-series queries: raw readings or the 1-minute / 1-hour rollups, chosen from the
 * range ("auto") or asked for; JSON as column arrays (ready for uPlot) or CSV.
 */

#define MAX_POINTS 200000
#define CSV_CAP (32u << 20)

int64_t sensors_pick_resolution(const char *word, int64_t from, int64_t to)
{
  if (!word || strcmp(word, "auto") == 0) {
    int64_t span = to - from;
    if (span <= 6 * 3600000LL) return 0;
    if (span <= 7 * 86400000LL) return 60000;
    return 3600000;
  }
  if (strcmp(word, "raw") == 0) return 0;
  if (strcmp(word, "1m") == 0) return 60000;
  if (strcmp(word, "1h") == 0) return 3600000;
  return -1;
}

static const char *res_name(int64_t res) { return res == 0 ? "raw" : res == 60000 ? "1m" : "1h"; }

static int query_ms(http_req_t *req, const char *name, int64_t def, int64_t *out)
{
  const char *v = http_query(req, name);
  if (!v) {
    *out = def;
    return 0;
  }
  if (text_parse_int64(v, 0, INT64_MAX / 2, out)) {
    sensors_reply_field(req, name, "from and to are milliseconds since the epoch");
    return -1;
  }
  return 0;
}

void sensors_h_readings(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  json_t *dev;
  int64_t uid, now = clock_now_ms(), from, to;
  const char *attr = http_query(req, "attr");
  const char *format = http_query(req, "format");
  bool csv = format && strcmp(format, "csv") == 0;
  buf_t out;
  buf_init(&out, CSV_CAP);
  if (format && !csv && strcmp(format, "json") != 0) {
    sensors_reply_field(req, "format", "format is json or csv");
    goto done;
  }
  if (query_ms(req, "to", now, &to) || query_ms(req, "from", to - 86400000LL, &from)) goto done;
  if (from >= to) {
    sensors_reply_field(req, "from", "from must be before to");
    goto done;
  }
  int64_t res = sensors_pick_resolution(http_query(req, "resolution"), from, to);
  if (res < 0) {
    sensors_reply_field(req, "resolution", "resolution is auto, raw, 1m or 1h");
    goto done;
  }
  db = sensors_req_db(req);
  if (!db || !sensors_device_load(req, db, http_param(req, "id"), "sensors.read", &dev, &uid)) goto done;
  db_stmt_t *st;
  if (res == 0) {
    st = db_prepare(db, "SELECT attr, ts, value, 1, value, value FROM sensor_readings WHERE device_id = $1"
                        " AND (CAST($2 AS TEXT) IS NULL OR attr = $2) AND ts >= $3 AND ts < $4"
                        " ORDER BY attr, ts LIMIT $5");
  } else {
    st = db_prepare(db, "SELECT attr, bucket, vsum / n, n, vmin, vmax FROM sensor_rollups WHERE res = $6"
                        " AND device_id = $1 AND (CAST($2 AS TEXT) IS NULL OR attr = $2) AND bucket >= $3"
                        " AND bucket < $4 ORDER BY attr, bucket LIMIT $5");
  }
  if (!st) goto fail;
  db_bind_text(st, 1, http_param(req, "id"));
  db_bind_text(st, 2, attr);
  db_bind_int64(st, 3, res ? from - from % res : from);
  db_bind_int64(st, 4, to);
  db_bind_int64(st, 5, MAX_POINTS);
  if (res) db_bind_int64(st, 6, res);
  json_t *series = json_array(), *cur = NULL;
  char curattr[64] = "";
  int rc;
  bool over = false;
  if (csv) over |= 0 != buf_printf(&out, res ? "device,attr,bucket_ms,time,count,min,max,mean\n" : "device,attr,ts_ms,time,value\n");
  while ((rc = db_step(st)) == DB_ROW) {
    const char *a = db_col_text(st, 0);
    int64_t t = db_col_int64(st, 1);
    double v = db_col_double(st, 2);
    if (csv) {
      char iso[40];
      clock_format_iso(t, iso, sizeof iso);
      if (res)
        over |= 0 != buf_printf(&out, "%s,%s,%" PRId64 ",%s,%" PRId64 ",%.6g,%.6g,%.6g\n", http_param(req, "id"), a, t, iso,
                   db_col_int64(st, 3), db_col_double(st, 4), db_col_double(st, 5), v);
      else
        over |= 0 != buf_printf(&out, "%s,%s,%" PRId64 ",%s,%.6g\n", http_param(req, "id"), a, t, iso, v);
      continue;
    }
    if (!cur || strcmp(curattr, a) != 0) {
      snprintf(curattr, sizeof curattr, "%s", a);
      cur = json_pack("{s:s, s:[], s:[]}", "attr", a, "t", "v");
      if (res) {
        json_object_set_new(cur, "n", json_array());
        json_object_set_new(cur, "min", json_array());
        json_object_set_new(cur, "max", json_array());
      }
      json_array_append_new(series, cur);
    }
    json_array_append_new(json_object_get(cur, "t"), json_integer(t));
    json_array_append_new(json_object_get(cur, "v"), json_real(v));
    if (res) {
      json_array_append_new(json_object_get(cur, "n"), json_integer(db_col_int64(st, 3)));
      json_array_append_new(json_object_get(cur, "min"), json_real(db_col_double(st, 4)));
      json_array_append_new(json_object_get(cur, "max"), json_real(db_col_double(st, 5)));
    }
  }
  db_stmt_done(st);
  if (rc < 0) {
    json_decref(series);
    goto fail;
  }
  if (csv) {
    json_decref(series);
    if (over) {
      http_reply_error(req, ERR_TOO_LARGE, "Ask for a shorter range or a coarser resolution");
      goto done;
    }
    http_add_header(req, "Content-Disposition", "attachment; filename=\"readings.csv\"");
    http_reply_raw(req, 200, "text/csv; charset=utf-8", out.data, out.len, false);
  } else {
    http_reply_json(req, 200, json_pack("{s:s, s:s, s:I, s:I, s:o}", "device", http_param(req, "id"), "resolution",
                                        res_name(res), "from", (json_int_t)from, "to", (json_int_t)to, "series",
                                        series));
  }
  goto done;
fail:
  log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  buf_release(&out);
  db_pool_release(app->db, db);
}
