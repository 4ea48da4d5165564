#include "base/common.h"
#include "sensors/sensors.h"
#include "base/log.h"
#include "base/text.h"
#include "module.h"
#include "sensors/sensors_rules.h"
#include "sensors/sensors_internal.h"
#include "sensors/sensors_sched.h"

#include <pthread.h>
#include <unistd.h>

/*
 * The sensors module: tables, roles and permissions, settings, and the start/stop
 * hooks of `cityos serve` (the MQTT ingester, when CITYOS_MQTT is set).
 */

static const char SCHEMA_1[] =
  "CREATE TABLE sensor_devices ("
  "  id TEXT PRIMARY KEY,"
  "  type TEXT NOT NULL,"
  "  name TEXT NOT NULL,"
  "  lon DOUBLE PRECISION NOT NULL,"
  "  lat DOUBLE PRECISION NOT NULL,"
  "  unit_id BIGINT NOT NULL DEFAULT 0,"
  "  secret_hash TEXT NOT NULL,"
  "  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','disabled')),"
  "  last_seen_at BIGINT NOT NULL DEFAULT 0,"
  "  created_at BIGINT NOT NULL DEFAULT {{NOW_MS}},"
  "  updated_at BIGINT NOT NULL DEFAULT {{NOW_MS}});"
  "CREATE INDEX sensor_devices_unit ON sensor_devices(unit_id);"
  "CREATE INDEX sensor_devices_type ON sensor_devices(type);"
  "CREATE TABLE sensor_readings ("
  "  device_id TEXT NOT NULL,"
  "  attr TEXT NOT NULL,"
  "  ts BIGINT NOT NULL,"
  "  value DOUBLE PRECISION NOT NULL,"
  "  received_at BIGINT NOT NULL,"
  "  PRIMARY KEY (device_id, attr, ts));"
  "CREATE INDEX sensor_readings_ts ON sensor_readings(ts);"
  /* res: 60000 (1 minute) or 3600000 (1 hour); bucket = ts - ts % res */
  "CREATE TABLE sensor_rollups ("
  "  res BIGINT NOT NULL,"
  "  device_id TEXT NOT NULL,"
  "  attr TEXT NOT NULL,"
  "  bucket BIGINT NOT NULL,"
  "  n BIGINT NOT NULL,"
  "  vmin DOUBLE PRECISION NOT NULL,"
  "  vmax DOUBLE PRECISION NOT NULL,"
  "  vsum DOUBLE PRECISION NOT NULL,"
  "  PRIMARY KEY (res, device_id, attr, bucket));"
  "CREATE TABLE sensor_dead_letters ("
  "  id {{ID}},"
  "  received_at BIGINT NOT NULL,"
  "  source TEXT NOT NULL,"
  "  topic TEXT NOT NULL,"
  "  device_id TEXT,"
  "  reason TEXT NOT NULL,"
  "  payload TEXT NOT NULL);"
  "CREATE INDEX sensor_dead_letters_time ON sensor_dead_letters(received_at);"
  "INSERT INTO roles(name, description) VALUES ('operator', 'Operations center: sensors, commands, alerts')"
  "  ON CONFLICT DO NOTHING;"
  "INSERT INTO role_permissions(role, permission) VALUES ('operator', 'sensors.read'),"
  "  ('operator', 'sensors.command'), ('operator', 'alerts.ack') ON CONFLICT DO NOTHING;";

/* Rules, alerts with their history, and the notification outbox. */
static const char SCHEMA_2[] =
  "CREATE TABLE sensor_rules ("
  "  id {{ID}},"
  "  name TEXT NOT NULL,"
  "  kind TEXT NOT NULL CHECK (kind IN ('threshold','rate','offline')),"
  "  device_type TEXT,"
  "  device_id TEXT,"
  "  attr TEXT,"
  "  op TEXT NOT NULL DEFAULT '>' CHECK (op IN ('>','<')),"
  "  threshold DOUBLE PRECISION NOT NULL DEFAULT 0,"
  "  duration_ms BIGINT NOT NULL DEFAULT 0,"
  "  severity TEXT NOT NULL DEFAULT 'warning' CHECK (severity IN ('info','warning','critical')),"
  "  enabled INTEGER NOT NULL DEFAULT 1,"
  "  created_at BIGINT NOT NULL DEFAULT {{NOW_MS}});"
  "CREATE TABLE sensor_rule_state ("
  "  rule_id BIGINT NOT NULL,"
  "  device_id TEXT NOT NULL,"
  "  breach_since BIGINT,"
  "  last_ts BIGINT NOT NULL,"
  "  last_value DOUBLE PRECISION NOT NULL,"
  "  PRIMARY KEY (rule_id, device_id));"
  "CREATE TABLE sensor_alerts ("
  "  id {{ID}},"
  "  rule_id BIGINT NOT NULL,"
  "  device_id TEXT NOT NULL,"
  "  unit_id BIGINT NOT NULL DEFAULT 0,"
  "  state TEXT NOT NULL CHECK (state IN ('raised','acknowledged','cleared')),"
  "  severity TEXT NOT NULL,"
  "  message TEXT NOT NULL,"
  "  value DOUBLE PRECISION,"
  "  raised_at BIGINT NOT NULL,"
  "  acked_at BIGINT,"
  "  acked_by BIGINT,"
  "  cleared_at BIGINT);"
  "CREATE UNIQUE INDEX sensor_alerts_open ON sensor_alerts(rule_id, device_id) WHERE state <> 'cleared';"
  "CREATE INDEX sensor_alerts_device ON sensor_alerts(device_id, state);"
  "CREATE TABLE sensor_alert_events ("
  "  id {{ID}},"
  "  alert_id BIGINT NOT NULL,"
  "  at BIGINT NOT NULL,"
  "  event TEXT NOT NULL,"
  "  actor BIGINT,"
  "  value DOUBLE PRECISION);"
  "CREATE INDEX sensor_alert_events_alert ON sensor_alert_events(alert_id);"
  "CREATE TABLE sensor_outbox ("
  "  id {{ID}},"
  "  created_at BIGINT NOT NULL,"
  "  alert_id BIGINT NOT NULL,"
  "  event TEXT NOT NULL,"
  "  body TEXT NOT NULL,"
  "  sent_at BIGINT);";

/* The latest observation of each device (for the live map). */
static const char SCHEMA_3[] =
  "ALTER TABLE sensor_devices ADD COLUMN latest TEXT;"
  "ALTER TABLE sensor_devices ADD COLUMN latest_ts BIGINT NOT NULL DEFAULT 0;";

/* Street-light commands. */
static const char SCHEMA_4[] =
  "CREATE TABLE sensor_commands ("
  "  id {{ID}},"
  "  device_id TEXT NOT NULL,"
  "  action TEXT NOT NULL CHECK (action IN ('on','off','dim')),"
  "  level DOUBLE PRECISION NOT NULL DEFAULT 1,"
  "  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','sent','acked','failed')),"
  "  not_before BIGINT NOT NULL,"
  "  attempts BIGINT NOT NULL DEFAULT 0,"
  "  sent_at BIGINT,"
  "  acked_at BIGINT,"
  "  finished_at BIGINT,"
  "  error TEXT,"
  "  created_by BIGINT,"
  "  created_at BIGINT NOT NULL DEFAULT {{NOW_MS}});"
  "CREATE INDEX sensor_commands_open ON sensor_commands(state, not_before);"
  "CREATE INDEX sensor_commands_device ON sensor_commands(device_id);";

/* Street-light schedules (sensors_sched.h); commands remember the schedule that made them,
 * at most one per light and firing. */
static const char SCHEMA_5[] =
  "CREATE TABLE sensor_schedules ("
  "  id {{ID}},"
  "  name TEXT NOT NULL DEFAULT '',"
  "  devices TEXT NOT NULL,"
  "  action TEXT NOT NULL CHECK (action IN ('on','off','dim')),"
  "  level DOUBLE PRECISION NOT NULL DEFAULT 1,"
  "  trig INTEGER NOT NULL CHECK (trig IN (1,2,3)),"
  "  minute_of_day INTEGER NOT NULL DEFAULT 0,"
  "  offset_min INTEGER NOT NULL DEFAULT 0,"
  "  next_at BIGINT NOT NULL,"
  "  last_fired_at BIGINT,"
  "  fired_count BIGINT NOT NULL DEFAULT 0,"
  "  created_by BIGINT,"
  "  created_at BIGINT NOT NULL DEFAULT {{NOW_MS}});"
  "CREATE INDEX sensor_schedules_next ON sensor_schedules(next_at);"
  "ALTER TABLE sensor_commands ADD COLUMN schedule_id BIGINT;"
  "CREATE UNIQUE INDEX sensor_commands_schedule ON sensor_commands(schedule_id, device_id, not_before);";

/* Stored VN_AQI per station (sensors_aqi_store.c): hourly and daily rows with every
 * sub-index, the in-order cursors, and the station hours that got late readings. */
static const char SCHEMA_6[] =
  "CREATE TABLE sensor_aqi ("
  "  device_id TEXT NOT NULL,"
  "  period TEXT NOT NULL CHECK (period IN ('hour','day')),"
  "  start_at BIGINT NOT NULL,"
  "  aqi INTEGER,"
  "  dominant TEXT,"
  "  o3_1h INTEGER, o3_8h INTEGER, co INTEGER, so2 INTEGER, no2 INTEGER, pm10 INTEGER, pm25 INTEGER,"
  "  computed_at BIGINT NOT NULL,"
  "  PRIMARY KEY (device_id, period, start_at));"
  "CREATE TABLE sensor_aqi_progress ("
  "  period TEXT PRIMARY KEY,"
  "  next_start BIGINT NOT NULL);"
  "CREATE TABLE sensor_aqi_late ("
  "  device_id TEXT NOT NULL,"
  "  hour BIGINT NOT NULL,"
  "  gen BIGINT NOT NULL,"
  "  PRIMARY KEY (device_id, hour));";

/* The device key's hash in mosquitto's password-file format (sensors_broker.c). */
static const char SCHEMA_7[] = "ALTER TABLE sensor_devices ADD COLUMN broker_hash TEXT;";

/* Who a rule notifies (JSON array of {channel, destination}) through notification_outbox. */
static const char SCHEMA_8[] = "ALTER TABLE sensor_rules ADD COLUMN notify TEXT;";

static const db_migration_t MIGRATIONS[] = {
  {"sensors", 1, SCHEMA_1},
  {"sensors", 2, SCHEMA_2},
  {"sensors", 3, SCHEMA_3},
  {"sensors", 4, SCHEMA_4},
  {"sensors", 5, SCHEMA_5},
  {"sensors", 6, SCHEMA_6},
  {"sensors", 7, SCHEMA_7},
  {"sensors", 8, SCHEMA_8},
};

const db_migration_t *sensors_migrations(db_kind_t kind, size_t *n)
{
  (void)kind;
  *n = ARRAY_LEN(MIGRATIONS);
  return MIGRATIONS;
}

static sensors_settings_t g_settings;

static int64_t env_int(const char *name, int64_t def, int64_t min, int64_t max)
{
  const char *v = getenv(name);
  int64_t out;
  if (!v || !*v) return def;
  if (text_parse_int64(v, min, max, &out)) {
    log_warn(NULL, "msg=\"ignoring bad setting\" name=%s", name);
    return def;
  }
  return out;
}

void sensors_settings_load(sensors_settings_t *s)
{
  s->raw_keep_ms = env_int("CITYOS_SENSORS_RAW_DAYS", 30, 1, 3650) * 86400000LL;
  s->offline_after_ms = env_int("CITYOS_SENSORS_OFFLINE_S", 900, 10, 86400 * 30) * 1000LL;
  s->minute_keep_ms = env_int("CITYOS_SENSORS_MINUTE_DAYS", 90, 1, 36500) * 86400000LL;
  s->live_safety_ms = env_int("CITYOS_SENSORS_LIVE_SAFETY_MS", 2000, 100, 600000);
}

const sensors_settings_t *sensors_settings(void)
{
  if (g_settings.raw_keep_ms == 0) sensors_settings_load(&g_settings);   /* CLI and tests */
  return &g_settings;
}

/* Housekeeping: offline rules every CITYOS_SENSORS_SWEEP_S seconds (default 15), retention
 * every CITYOS_SENSORS_PRUNE_S seconds (default 600; the first time at the first sweep),
 * street-light schedules and the stored VN_AQI at every sweep. */
static pthread_t g_sweeper;
static volatile int g_sweep_stop;
static bool g_sweep_running;

static void *sweep_main(void *arg)
{
  app_t *app = arg;
  int64_t every_ms = env_int("CITYOS_SENSORS_SWEEP_S", 15, 1, 3600) * 1000;
  int64_t last_prune = 0, prune_ms = env_int("CITYOS_SENSORS_PRUNE_S", 600, 1, 86400) * 1000;
  while (!g_sweep_stop) {
    for (int64_t t = 0; t < every_ms && !g_sweep_stop; t += 100) usleep(100000);
    if (g_sweep_stop) break;
    db_t *db = db_pool_acquire(app->db);
    int64_t now = clock_now_ms();
    if (db) sensors_rules_sweep_offline(db, now);
    if (db) sensors_schedules_run(db, now);   /* street-light schedules, once per cluster */
    if (db) sensors_aqi_run(db, now);         /* stored VN_AQI, one node at a time */
    if (db) sensors_broker_sync(db);          /* CITYOS_MQTT_AUTH_DIR, when set */
    if (db && now - last_prune >= prune_ms) {   /* retention */
      last_prune = now;
      sensors_prune(db, sensors_settings(), now);
    }
    db_pool_release(app->db, db);
  }
  return NULL;
}

static int sensors_start(app_t *app)
{
  sensors_settings_load(&g_settings);
  g_sweep_stop = 0;
  if (pthread_create(&g_sweeper, NULL, sweep_main, app) != 0) return -1;
  g_sweep_running = true;
  if (sensors_live_start(app) < 0 || sensors_mqtt_start(app) < 0) {
    sensors_live_stop();
    g_sweep_stop = 1;
    pthread_join(g_sweeper, NULL);
    g_sweep_running = false;
    return -1;
  }
  return 0;
}

static void sensors_stop(app_t *app)
{
  (void)app;
  sensors_mqtt_stop();
  sensors_live_stop();
  if (g_sweep_running) {
    g_sweep_stop = 1;
    pthread_join(g_sweeper, NULL);
    g_sweep_running = false;
  }
}

static const module_t SENSORS_MODULE = {
  .name = "sensors",
  .order = 100,
  .migrations = sensors_migrations,
  .routes = sensors_routes,
  .start = sensors_start,
  .stop = sensors_stop,
};
MODULE_REGISTER(SENSORS_MODULE)
