#include "base/common.h"
#include "sensors/sensors.h"
#include "base/log.h"

#include <math.h>

/*
 * Stored VN_AQI (docs/SENSORS.md "VN_AQI"): the sweeper computes every completed hour and
 * Vietnam day of every AirQualityObserved station from the 1-hour rollups and keeps the
 * index with its sub-indices in sensor_aqi. Two paths:
 *
 *  - in order: a cursor per period (sensor_aqi_progress) walks over completed periods
 *    (a period counts as completed SENSORS_AQI_GRACE_MS after its end) and computes each
 *    for all stations; a cluster that was down catches up at most SENSORS_AQI_BACKFILL
 *    periods back;
 *  - late readings: the batch writer marks (sensor_aqi_late) every station hour that got a
 *    new pollutant reading after the hour had ended; the sweeper recomputes the hours and
 *    days the reading feeds (the hour and the 11 after it for NowCast, the day of the hour
 *    and the day 7 hours later for the O3 8-hour means) that the cursor has passed, then
 *    deletes the mark unless it was marked again meanwhile (gen).
 *
 * An unmarked reading began its transaction before its hour ended; the cursor computes an
 * hour only SENSORS_AQI_GRACE_MS after its end, so such a reading is in the rollups by then.
 * On PostgreSQL one node at a time runs this (session advisory lock); on SQLite two nodes
 * would compute the same rows twice, which changes nothing (upserts of the same values).
 */

#define HOUR 3600000LL
#define DAY (24 * HOUR)
#define VN_OFFSET (7 * HOUR)
#define AQI_LOCK_KEY 7006000007LL    /* pg advisory lock key: "sensors VN_AQI" */
#define BACKFILL_HOURS 72
#define BACKFILL_DAYS 3
#define PERIODS_PER_RUN 24           /* in-order periods per sweep (catching up) */
#define WORK_PER_RUN 20000           /* ... and at most this many station-periods (one at least) */
#define MARKS_PER_RUN 2000
#define CHUNK 200                    /* stations per write transaction */

enum { A_PM25, A_PM10, A_O3, A_CO, A_SO2, A_NO2, A_N };
static const char *const ATTR[A_N] = {"pm25", "pm10", "o3", "co", "so2", "no2"};

bool sensors_aqi_attr(const char *attr)
{
  for (int a = 0; a < A_N; a++)
    if (strcmp(attr, ATTR[a]) == 0) return true;
  return false;
}

int64_t sensors_aqi_day_start(int64_t t)
{
  int64_t v = t + VN_OFFSET;
  return v - ((v % DAY) + DAY) % DAY - VN_OFFSET;
}

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

int sensors_aqi_compute_hour(db_t *db, const char *dev, int64_t hour, sensors_aqi_t *out)
{
  double hours[A_N][36];
  /* NowCast index 0 = this hour, then the 11 before it. */
  if (load_hours(db, dev, hour - 11 * HOUR, 12, hours)) return -1;
  double pm25[12], pm10[12];
  for (int i = 0; i < 12; i++) pm25[i] = hours[A_PM25][11 - i], pm10[i] = hours[A_PM10][11 - i];
  sensors_aqi_hourly(hours[A_O3][11], hours[A_CO][11], hours[A_SO2][11], hours[A_NO2][11], pm10, 12, pm25, 12, out);
  return 0;
}

int sensors_aqi_compute_day(db_t *db, const char *dev, int64_t day, sensors_aqi_t *out)
{
  double hours[A_N][36];
  /* The day's 24 hours and the 7 before them for the 8-hour means. */
  if (load_hours(db, dev, day - 7 * HOUR, 31, hours)) return -1;
  double o3_8h_max = NAN;
  for (int h = 7; h < 31; h++) {
    double m = mean_of(&hours[A_O3][h - 7], 8, 6);   /* 8-hour mean needs 6 of 8 hours */
    if (!isnan(m) && (isnan(o3_8h_max) || m > o3_8h_max)) o3_8h_max = m;
  }
  sensors_aqi_daily(max_of(&hours[A_O3][7], 24), o3_8h_max, max_of(&hours[A_CO][7], 24),
                    max_of(&hours[A_SO2][7], 24), max_of(&hours[A_NO2][7], 24), mean_of(&hours[A_PM10][7], 24, 1),
                    mean_of(&hours[A_PM25][7], 24, 1), out);
  return 0;
}

/* --- storing ---------------------------------------------------------------------------- */

typedef struct result {
  int64_t start;
  sensors_aqi_t q;
  char dev[SENSORS_ID_MAX + 1];
} result_t;

static bool empty(const sensors_aqi_t *q)
{
  for (int p = 0; p < SENSORS_POLLUTANTS; p++)
    if (q->sub[p] >= 0) return false;
  return q->aqi < 0;
}

/* Upserts (or, when nothing could be computed and `drop` is set, deletes) one row. */
static int store_row(db_t *db, const char *period, const result_t *r, int64_t now, bool drop)
{
  db_stmt_t *st;
  if (empty(&r->q)) {
    if (!drop) return 0;
    st = db_prepare(db, "DELETE FROM sensor_aqi WHERE device_id = $1 AND period = $2 AND start_at = $3");
    if (!st) return -1;
    db_bind_text(st, 1, r->dev);
    db_bind_text(st, 2, period);
    db_bind_int64(st, 3, r->start);
  } else {
    st = db_prepare(db, "INSERT INTO sensor_aqi(device_id, period, start_at, aqi, dominant, o3_1h, o3_8h, co, so2,"
                        " no2, pm10, pm25, computed_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)"
                        " ON CONFLICT (device_id, period, start_at) DO UPDATE SET aqi = excluded.aqi,"
                        " dominant = excluded.dominant, o3_1h = excluded.o3_1h, o3_8h = excluded.o3_8h,"
                        " co = excluded.co, so2 = excluded.so2, no2 = excluded.no2, pm10 = excluded.pm10,"
                        " pm25 = excluded.pm25, computed_at = excluded.computed_at");
    if (!st) return -1;
    db_bind_text(st, 1, r->dev);
    db_bind_text(st, 2, period);
    db_bind_int64(st, 3, r->start);
    if (r->q.aqi >= 0) db_bind_int64(st, 4, r->q.aqi);
    else db_bind_null(st, 4);
    db_bind_text(st, 5, r->q.dominant);
    for (int p = 0; p < SENSORS_POLLUTANTS; p++) {
      if (r->q.sub[p] >= 0) db_bind_int64(st, 6 + p, r->q.sub[p]);
      else db_bind_null(st, 6 + p);
    }
    db_bind_int64(st, 13, now);
  }
  int rc = db_step(st);
  db_stmt_done(st);
  return rc < 0 ? -1 : 0;
}

static int compute(db_t *db, bool is_day, const char *dev, int64_t start, result_t *r)
{
  snprintf(r->dev, sizeof r->dev, "%s", dev);
  r->start = start;
  return is_day ? sensors_aqi_compute_day(db, dev, start, &r->q) : sensors_aqi_compute_hour(db, dev, start, &r->q);
}

/* --- cursors -------------------------------------------------------------------------------- */

/* The cursor of period "hour" / "day": 1 with *next, 0 when there is none yet, -1 error. */
static int cursor_get(db_t *db, const char *period, int64_t *next)
{
  db_stmt_t *st = db_prepare(db, "SELECT next_start FROM sensor_aqi_progress WHERE period = $1");
  if (!st) return -1;
  db_bind_text(st, 1, period);
  int rc = db_step(st);
  if (rc == DB_ROW) *next = db_col_int64(st, 0);
  db_stmt_done(st);
  return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

/* Moves the cursor from `from` (had: whether a row exists) to `to`; 1 moved, 0 another
 * node moved it first, -1 error. */
static int cursor_move(db_t *db, const char *period, bool had, int64_t from, int64_t to)
{
  db_stmt_t *st = db_prepare(db, had ? "UPDATE sensor_aqi_progress SET next_start = $3 WHERE period = $1"
                                       " AND next_start = $2"
                                     : "INSERT INTO sensor_aqi_progress(period, next_start) VALUES ($1, $2)"
                                       " ON CONFLICT (period) DO NOTHING");
  if (!st) return -1;
  db_bind_text(st, 1, period);
  if (had) db_bind_int64(st, 2, from);
  db_bind_int64(st, had ? 3 : 2, to);
  int rc = db_step(st);
  int64_t n = rc < 0 ? 0 : db_changes(st);
  db_stmt_done(st);
  return rc < 0 ? -1 : n > 0;
}

/* Every station id (malloc'd array of malloc'd strings). */
static int stations(db_t *db, char ***out, size_t *n)
{
  size_t cap = 0;
  *out = NULL;
  *n = 0;
  db_stmt_t *st = db_prepare(db, "SELECT id FROM sensor_devices WHERE type = 'AirQualityObserved' ORDER BY id");
  if (!st) return -1;
  int rc;
  while ((rc = db_step(st)) == DB_ROW) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 64;
      char **g = realloc(*out, cap * sizeof *g);
      if (!g) {
        rc = -1;
        break;
      }
      *out = g;
    }
    (*out)[*n] = strdup(db_col_text(st, 0));
    if (!(*out)[*n]) {
      rc = -1;
      break;
    }
    (*n)++;
  }
  db_stmt_done(st);
  return rc < 0 ? -1 : 0;
}

static void free_list(char **v, size_t n)
{
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* Computes period `start` for every station, stores the rows chunk by chunk and moves the
 * cursor in the last chunk's transaction. 1 done, 0 another node moved the cursor, -1. */
static int compute_all(db_t *db, bool is_day, bool had, int64_t start, int64_t now)
{
  const char *period = is_day ? "day" : "hour";
  char **ids;
  size_t n;
  int64_t t0 = clock_now_ms();
  if (stations(db, &ids, &n)) return -1;
  result_t *res = malloc(CHUNK * sizeof *res);
  int out = res ? 1 : -1;
  for (size_t at = 0; out == 1 && (at < n || at == 0); at += CHUNK) {
    size_t m = n - at < CHUNK ? n - at : CHUNK;
    for (size_t i = 0; i < m; i++)
      if (compute(db, is_day, ids[at + i], start, &res[i])) {
        out = -1;
        break;
      }
    if (out < 0 || db_begin(db)) {
      out = -1;
      break;
    }
    for (size_t i = 0; i < m && out == 1; i++)
      if (store_row(db, period, &res[i], now, false)) out = -1;
    if (out == 1 && at + CHUNK >= n) {   /* the last chunk: move the cursor */
      int moved = cursor_move(db, period, had, start, start + (is_day ? DAY : HOUR));
      if (moved <= 0) out = moved;
    }
    if (out == 1 ? db_commit(db) : db_rollback(db)) out = -1;
    if (at + CHUNK >= n) break;
  }
  free(res);
  free_list(ids, n);
  if (out == 1)
    log_info(NULL, "msg=\"VN_AQI computed\" period=%s start=%" PRId64 " stations=%zu ms=%" PRId64, period, start, n,
             clock_now_ms() - t0);
  return out;
}

/* The in-order path for one period kind. */
static int run_period(db_t *db, bool is_day, int64_t now)
{
  const char *period = is_day ? "day" : "hour";
  int64_t len = is_day ? DAY : HOUR, t = now - SENSORS_AQI_GRACE_MS;
  /* The start of the latest completed period. */
  int64_t last = is_day ? sensors_aqi_day_start(t) - DAY : t - ((t % HOUR) + HOUR) % HOUR - HOUR;
  int64_t oldest = last - ((is_day ? BACKFILL_DAYS : BACKFILL_HOURS) - 1) * len, next = oldest;
  int had = cursor_get(db, period, &next);
  if (had < 0) return -1;
  if (next < oldest) {
    log_warn(NULL, "msg=\"VN_AQI catch-up limited\" period=%s skipped_from=%" PRId64 " to=%" PRId64, period, next,
             oldest);
    if (cursor_move(db, period, true, next, oldest) < 0) return -1;
    next = oldest;
  }
  /* At most WORK_PER_RUN station-periods per sweep, so a catch-up over many stations does
   * not hold the sweeper (offline rules, schedules) for long. */
  db_stmt_t *st = db_prepare(db, "SELECT COUNT(*) FROM sensor_devices WHERE type = 'AirQualityObserved'");
  if (!st) return -1;
  int64_t nst = db_step(st) == DB_ROW ? db_col_int64(st, 0) : 0;
  db_stmt_done(st);
  int64_t cap = WORK_PER_RUN / (nst > 0 ? nst : 1);
  int done = 0;
  for (; next <= last && done < PERIODS_PER_RUN && (done == 0 || done < cap); next += len, done++) {
    int rc = compute_all(db, is_day, had == 1, next, now);
    if (rc <= 0) return rc;
    had = 1;
  }
  return done;
}

/* --- late readings -------------------------------------------------------------------------- */

typedef struct mark {
  char dev[SENSORS_ID_MAX + 1];
  int64_t hour, gen;
} mark_t;

static int cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Sorts v[0..n) and drops repeats; the new count. */
static size_t sort_unique(int64_t *v, size_t n)
{
  size_t m = 0;
  qsort(v, n, sizeof *v, cmp_i64);
  for (size_t i = 0; i < n; i++)
    if (m == 0 || v[m - 1] != v[i]) v[m++] = v[i];
  return m;
}

/* Recomputes what marks[0..n) (all of one device) feed, stores it and deletes the marks
 * (each only if not marked again meanwhile). */
static int redo_device(db_t *db, const mark_t *marks, size_t n, int64_t hour_next, int64_t day_next, int64_t now)
{
  int64_t *hours = malloc(n * 12 * sizeof *hours), *days = malloc(n * 2 * sizeof *days);
  result_t *res = malloc(n * 14 * sizeof *res);
  size_t nh = 0, nd = 0, nres = 0;
  int rc = hours && days && res ? 0 : -1;
  if (rc) goto out;
  for (size_t i = 0; i < n; i++) {
    for (int k = 0; k < 12; k++)   /* NowCast: the hour feeds itself and the 11 after it */
      if (marks[i].hour + k * HOUR < hour_next) hours[nh++] = marks[i].hour + k * HOUR;
    /* its day, and the next day when the hour is in that day's O3 8-hour windows */
    int64_t d1 = sensors_aqi_day_start(marks[i].hour), d2 = sensors_aqi_day_start(marks[i].hour + 7 * HOUR);
    if (d1 < day_next) days[nd++] = d1;
    if (d2 != d1 && d2 < day_next) days[nd++] = d2;
  }
  nh = sort_unique(hours, nh);
  nd = sort_unique(days, nd);
  for (size_t i = 0; i < nh + nd; i++, nres++) {
    bool is_day = i >= nh;
    if (compute(db, is_day, marks[0].dev, is_day ? days[i - nh] : hours[i], &res[nres])) {
      rc = -1;
      goto out;
    }
  }
  if (db_begin(db)) {
    rc = -1;
    goto out;
  }
  for (size_t i = 0; i < nres && rc == 0; i++)
    rc = store_row(db, i >= nh ? "day" : "hour", &res[i], now, true);
  for (size_t i = 0; i < n && rc == 0; i++) {
    db_stmt_t *st = db_prepare(db, "DELETE FROM sensor_aqi_late WHERE device_id = $1 AND hour = $2 AND gen = $3");
    if (!st) {
      rc = -1;
      break;
    }
    db_bind_text(st, 1, marks[i].dev);
    db_bind_int64(st, 2, marks[i].hour);
    db_bind_int64(st, 3, marks[i].gen);
    if (db_step(st) < 0) rc = -1;
    db_stmt_done(st);
  }
  if (rc == 0 ? db_commit(db) : db_rollback(db)) rc = -1;
  if (rc == 0)
    log_info(NULL, "msg=\"VN_AQI recomputed\" device=%s marks=%zu hours=%zu days=%zu", marks[0].dev, n, nh, nd);
out:
  free(hours);
  free(days);
  free(res);
  return rc;
}

static int run_marks(db_t *db, int64_t now)
{
  int64_t hour_next = 0, day_next = 0;
  if (cursor_get(db, "hour", &hour_next) < 0 || cursor_get(db, "day", &day_next) < 0) return -1;
  mark_t *marks = malloc(MARKS_PER_RUN * sizeof *marks);
  if (!marks) return -1;
  size_t n = 0;
  db_stmt_t *st = db_prepare(db, "SELECT device_id, hour, gen FROM sensor_aqi_late ORDER BY device_id, hour LIMIT 2000");
  int rc = st ? 0 : -1;
  while (st && (rc = db_step(st)) == DB_ROW && n < MARKS_PER_RUN) {
    snprintf(marks[n].dev, sizeof marks[n].dev, "%s", db_col_text(st, 0));
    marks[n].hour = db_col_int64(st, 1);
    marks[n].gen = db_col_int64(st, 2);
    n++;
  }
  if (st) db_stmt_done(st);
  rc = rc < 0 ? -1 : 0;
  for (size_t i = 0, j; rc == 0 && i < n; i = j) {
    for (j = i + 1; j < n && strcmp(marks[j].dev, marks[i].dev) == 0; j++) {
    }
    rc = redo_device(db, &marks[i], j - i, hour_next, day_next, now);
  }
  free(marks);
  return rc < 0 ? -1 : (int)n;
}

/* PostgreSQL: 1 when this node holds the session lock (0 another node has it, -1). */
static int lock_take(db_t *db, bool take)
{
  if (db_kind(db) != DB_POSTGRES) return 1;
  db_stmt_t *st = db_prepare(db, take ? "SELECT CASE WHEN pg_try_advisory_lock($1) THEN 1 ELSE 0 END"
                                      : "SELECT CASE WHEN pg_advisory_unlock($1) THEN 1 ELSE 0 END");
  if (!st) return -1;
  db_bind_int64(st, 1, AQI_LOCK_KEY);
  int rc = db_step(st);
  int got = rc == DB_ROW ? (int)db_col_int64(st, 0) : -1;
  db_stmt_done(st);
  return got;
}

int sensors_aqi_run(db_t *db, int64_t now)
{
  int got = lock_take(db, true);
  if (got <= 0) return got;
  int h = run_period(db, false, now);
  int d = h < 0 ? -1 : run_period(db, true, now);
  int m = d < 0 ? -1 : run_marks(db, now);
  if (m < 0) {
    log_error(NULL, "msg=\"VN_AQI run failed\" err=\"%s\"", db_errmsg(db));
    db_rollback(db);
  }
  lock_take(db, false);
  return m < 0 ? -1 : h + d + m;
}

int sensors_aqi_mark_late(db_t *db, const char *dev, int64_t hour)
{
  db_stmt_t *st = db_prepare(db, "INSERT INTO sensor_aqi_late(device_id, hour, gen) VALUES ($1, $2, 1)"
                                 " ON CONFLICT (device_id, hour) DO UPDATE SET gen = sensor_aqi_late.gen + 1");
  if (!st) return -1;
  db_bind_text(st, 1, dev);
  db_bind_int64(st, 2, hour);
  int rc = db_step(st);
  db_stmt_done(st);
  return rc < 0 ? -1 : 0;
}

int sensors_aqi_cursor(db_t *db, bool is_day, int64_t *next)
{
  int rc = cursor_get(db, is_day ? "day" : "hour", next);
  if (rc == 0) *next = 0;
  return rc < 0 ? -1 : 0;
}
