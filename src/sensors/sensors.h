/*
 * sensors.h - city sensors: the device registry, reading validation, ingestion (MQTT and
 * HTTP batches), time series with 1-minute and 1-hour rollups, and VN_AQI.
 *
 * Pure parts (no database, unit-tested): the device-type catalogue with attribute names,
 * units and plausible ranges (FIWARE Smart Data Models names), payload validation, and
 * VN_AQI per Decision 1459/QĐ-TCMT with the PM NowCast.
 *
 * Storage parts: sensors_write_batch() stores a batch of raw messages (valid readings,
 * rollups, dead letters) in ONE transaction; the MQTT ingester acknowledges the batch's
 * messages only after that commit (see sensors_mqtt.c and docs/SENSORS.md).
 *
 * Thread rules: the catalogue is static and read-only; sensors_write_batch() uses the
 * db_t it is given (one thread at a time per db_t).
 */
#ifndef CITYOS_SENSORS_H
#define CITYOS_SENSORS_H

#include "base/common.h"
#include "store/db.h"
#include "app.h"

#include <jansson.h>

/* --- catalogue ------------------------------------------------------------------- */

#define SENSORS_ID_MAX 64            /* device id bytes: [A-Za-z0-9_.-], 1..64 */
#define SENSORS_MAX_VALUES 32        /* attributes in one observation */
#define SENSORS_PAYLOAD_MAX 65536    /* bytes of one MQTT payload / observation */
#define SENSORS_FUTURE_SLACK_MS (5 * 60 * 1000)   /* clock skew tolerated */

typedef struct sensors_attr {
  const char *name;      /* FIWARE attribute name: "pm25" */
  const char *unit;      /* "µg/m³", "°C", "1" (ratio 0..1), "km/h", ... */
  double min, max;       /* plausible range (inclusive) */
  const char *const *enums;   /* NULL-terminated words stored as their index, or NULL */
} sensors_attr_t;

typedef struct sensors_type {
  const char *name;      /* "AirQualityObserved" */
  size_t nattrs;
  const sensors_attr_t *attrs;
} sensors_type_t;

size_t sensors_types(const sensors_type_t **out);
const sensors_type_t *sensors_type_find(const char *name);
const sensors_attr_t *sensors_attr_find(const sensors_type_t *t, const char *name);
/* true when id is 1..SENSORS_ID_MAX bytes of [A-Za-z0-9_.-]. */
bool sensors_id_valid(const char *id);

/* --- validation (pure) ---------------------------------------------------------------- */

typedef struct sensors_value {
  const char *attr;      /* points into the catalogue */
  double value;
} sensors_value_t;

typedef struct sensors_obs {
  int64_t ts;            /* observation time, ms */
  size_t n;
  sensors_value_t v[SENSORS_MAX_VALUES];
} sensors_obs_t;

/* Validates one observation object {"ts": ms (optional: now), "values": {attr: number |
 * {"value": number, "unit": "..."} | enum word}} for a device of type t at now_ms.
 * ts may be at most SENSORS_FUTURE_SLACK_MS ahead and at most max_age_ms behind.
 * 0 with out filled, or -1 with a short machine-readable reason in why ("unknown_attribute:
 * foo", "out_of_range: pm25", "unit_mismatch: pm25", "timestamp_in_future", ...). */
int sensors_validate_obs(const sensors_type_t *t, const json_t *obj, int64_t now_ms,
                         int64_t max_age_ms, sensors_obs_t *out, char *why, size_t whylen);

/* --- VN_AQI (Decision 1459/QĐ-TCMT, pure) ------------------------------------------------ */

typedef enum {
  SENSORS_O3_1H = 0, SENSORS_O3_8H, SENSORS_CO, SENSORS_SO2, SENSORS_NO2, SENSORS_PM10,
  SENSORS_PM25, SENSORS_POLLUTANTS
} sensors_pollutant_t;

/* Sub-index of a concentration (µg/m³) by linear interpolation between the decision's
 * breakpoints, rounded half up. Beyond the last breakpoint: 500. Negative or NaN: -1.
 * O3 8h above 400 µg/m³ has no 8-hour index: -1 (the 1-hour value is used instead). */
int sensors_aqi_sub(sensors_pollutant_t p, double conc);
/* NowCast of hourly PM values c[0] = the latest hour, c[1] the hour before, ... (up to 12;
 * NaN = missing). Needs 2 of the 3 latest hours; -1 otherwise. w = Cmin/Cmax over the
 * hours present, at least 1/2. */
double sensors_nowcast(const double *c, size_t n);

typedef struct sensors_aqi {
  int aqi;                       /* -1 when it cannot be computed (no PM10 nor PM2.5) */
  int sub[SENSORS_POLLUTANTS];   /* -1 where the input was missing */
  const char *dominant;          /* "pm25", ... or NULL */
} sensors_aqi_t;

/* Hourly VN_AQI: o3, co, so2, no2 as 1-hour values (NaN = missing); pm10/pm25 as the
 * hourly series for NowCast (index 0 = this hour, up to 12). */
void sensors_aqi_hourly(double o3, double co, double so2, double no2, const double *pm10, size_t n10,
                        const double *pm25, size_t n25, sensors_aqi_t *out);
/* Daily VN_AQI: PM as 24-hour means; O3 from the max 1-hour and the max 8-hour mean;
 * CO, SO2, NO2 as the day's 1-hour maxima (NaN = missing). */
void sensors_aqi_daily(double o3_1h_max, double o3_8h_max, double co_1h_max, double so2_1h_max,
                       double no2_1h_max, double pm10_24h, double pm25_24h, sensors_aqi_t *out);
/* The band word: "Tốt", "Trung bình", "Kém", "Xấu", "Rất xấu", "Nguy hại" (and English
 * in *en, may be NULL) and its colour "#00e400"... NULL for aqi < 0. */
const char *sensors_aqi_band(int aqi, const char **en, const char **colour);

/* --- stored VN_AQI (sensors_aqi_store.c) ------------------------------------------------ */

#define SENSORS_AQI_GRACE_MS 60000   /* a period is computed this long after its end */

/* true for the attributes VN_AQI uses (pm25, pm10, o3, co, so2, no2). */
bool sensors_aqi_attr(const char *attr);
/* Start (ms) of the Vietnam calendar day (UTC+7) holding t. */
int64_t sensors_aqi_day_start(int64_t t);
/* VN_AQI of one station from its 1-hour rollups: the hour starting at `hour` (NowCast PM
 * over it and the 11 before), the Vietnam day starting at `day`. 0 or -1 (db error). */
int sensors_aqi_compute_hour(db_t *db, const char *dev, int64_t hour, sensors_aqi_t *out);
int sensors_aqi_compute_day(db_t *db, const char *dev, int64_t day, sensors_aqi_t *out);
/* Marks a station hour that received a pollutant reading after it ended (inside the
 * caller's transaction). 0 or -1. */
int sensors_aqi_mark_late(db_t *db, const char *dev, int64_t hour);
/* The sweeper's job: computes completed hours and days in order, then recomputes what
 * late readings changed (one node at a time on PostgreSQL). Periods done or -1. */
int sensors_aqi_run(db_t *db, int64_t now);
/* The start of the first hour (day) not yet computed in order, 0 when none was. 0 or -1. */
int sensors_aqi_cursor(db_t *db, bool is_day, int64_t *next);

/* --- storage ----------------------------------------------------------------------------- */

typedef struct sensors_msg {
  const char *source;      /* "mqtt" | "http" */
  const char *topic;       /* MQTT topic or the HTTP path */
  const char *device_id;   /* from the topic / path; may be NULL when the topic was bad */
  const char *payload;     /* NUL-terminated */
  size_t len;
  int64_t received_at;
  bool is_ack;             /* a command acknowledgement (topic .../acks), not readings */
  /* Filled by sensors_write_batch: */
  bool stored;             /* at least one value stored (or all duplicates) */
  int nvalues;             /* values newly stored */
  char reason[120];        /* dead-letter reason when !stored */
} sensors_msg_t;

typedef struct sensors_settings {
  int64_t raw_keep_ms;     /* raw readings kept (and the oldest accepted): default 30 days */
  int64_t offline_after_ms;/* silence before a device counts as offline: default 15 min */
  int64_t minute_keep_ms;  /* 1-minute rollups kept: default 90 days (1-hour ones: always) */
  int64_t live_safety_ms;  /* PostgreSQL: the live feed polls at least this often besides NOTIFY: 2 s */
} sensors_settings_t;

/* Settings from the environment (CITYOS_SENSORS_RAW_DAYS, CITYOS_SENSORS_OFFLINE_S,
 * CITYOS_SENSORS_MINUTE_DAYS, CITYOS_SENSORS_LIVE_SAFETY_MS). */
void sensors_settings_load(sensors_settings_t *s);

/* Stores every message of the batch in one transaction: valid values into
 * sensor_readings (a repeated (device, attr, ts) is ignored, so redelivery is
 * harmless), their 1-minute and 1-hour rollups, the device's last_seen_at; invalid
 * messages into sensor_dead_letters with the reason. A message whose payload is an
 * array or {"readings":[...]} holds several observations. 0 after COMMIT, -1 when
 * nothing was committed (logged; db rolled back). */
int sensors_write_batch(db_t *db, const sensors_settings_t *set, sensors_msg_t *msgs, size_t n);

/* Deletes raw readings and dead letters older than raw_keep_ms and 1-minute rollups older
 * than minute_keep_ms (autocommit statements). Rows deleted or -1. */
int sensors_prune(db_t *db, const sensors_settings_t *set, int64_t now);

/* Module internals shared between files. */
const db_migration_t *sensors_migrations(db_kind_t kind, size_t *n);
const http_route_t *sensors_routes(size_t *n);
int sensors_mqtt_start(app_t *app);
void sensors_mqtt_stop(void);
/* Counters since start (for /metrics-like status): messages received, stored, dead. */
void sensors_mqtt_counters(uint64_t *received, uint64_t *stored, uint64_t *dead, uint64_t *batches);
const sensors_settings_t *sensors_settings(void);

#endif
