#include "base/common.h"
#include "sensors/sensors.h"
#include "sensors/sensors_sched.h"
#include "base/log.h"
#include "base/text.h"
#include "identity/identity.h"
#include "module.h"
#include "units/units.h"

#include <math.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <signal.h>
#include <unistd.h>

/*
 * `cityos simulate --devices N`: registers N devices of each type in central Hà Nội and
 * publishes realistic readings over MQTT at QoS 1 (daily cycles of traffic and PM2.5 with
 * rush hours, rain-driven water levels, lights on from sunset to sunrise, waste filling
 * up and emptied at night). With --messages M it publishes M readings as fast as the
 * broker takes them and prints the rate (for benchmarks).
 */

#define TWO_PI 6.283185307179586

typedef struct sim_dev {
  char id[40];
  const char *type;
  double base;       /* per-device level */
  double state;      /* rain / fill level */
} sim_dev_t;

static volatile sig_atomic_t g_sim_stop;
static uint64_t g_sim_acked;
static void sim_on_publish(struct mosquitto *m, void *obj, int mid)
{
  (void)m, (void)obj, (void)mid;
  __atomic_add_fetch(&g_sim_acked, 1, __ATOMIC_RELAXED);
}
static void sim_on_signal(int sig) { (void)sig; g_sim_stop = 1; }

static double urand(void)
{
  uint32_t r;
  random_bytes(&r, sizeof r);
  return (double)r / 4294967296.0;
}

/* Hour of day in Hà Nội (UTC+7), fractional. */
static double vn_hour(int64_t ms) { return fmod((double)(ms / 1000 + 7 * 3600) / 3600.0, 24.0); }

static double rush(double h)   /* 0..1, peaks at 7:30 and 17:30 */
{
  return 0.15 + 0.85 * fmax(exp(-pow(h - 7.5, 2) / 2.0), exp(-pow(h - 17.5, 2) / 2.5));
}

static int payload(sim_dev_t *d, int64_t now, char *out, size_t len)
{
  double h = vn_hour(now), n = urand() - 0.5;
  if (strcmp(d->type, "AirQualityObserved") == 0) {
    double pm25 = fmax(2, d->base * (0.6 + 0.8 * rush(h)) + 8 * n);
    return snprintf(out, len,
                    "{\"ts\":%" PRId64 ",\"values\":{\"pm25\":%.1f,\"pm10\":%.1f,\"no2\":%.1f,\"o3\":%.1f,\"co\":%.0f,"
                    "\"temperature\":%.1f,\"relativeHumidity\":%.2f}}",
                    now, pm25, pm25 * 1.6, 30 + 90 * rush(h) + 10 * n, 40 + 80 * exp(-pow(h - 14, 2) / 8),
                    800 + 2000 * rush(h), 24 + 6 * sin(TWO_PI * (h - 9) / 24), 0.75 - 0.1 * sin(TWO_PI * (h - 9) / 24));
  }
  if (strcmp(d->type, "TrafficFlowObserved") == 0) {
    double occ = fmin(0.98, rush(h) * d->base + 0.1 * n + 0.05);
    occ = fmax(0, occ);
    return snprintf(out, len,
                    "{\"ts\":%" PRId64 ",\"values\":{\"intensity\":%.0f,\"occupancy\":%.2f,\"averageVehicleSpeed\":%.1f,"
                    "\"congested\":%s}}",
                    now, 2000 * occ, occ, fmax(3, 45 * (1 - occ)), occ > 0.7 ? "true" : "false");
  }
  if (strcmp(d->type, "FloodMonitoring") == 0) {
    double rain = urand() < 0.05 ? 20 * urand() : 0;   /* showers now and then */
    d->state = d->state * 0.97 + rain * 0.02;
    return snprintf(out, len,
                    "{\"ts\":%" PRId64 ",\"values\":{\"currentLevel\":%.2f,\"precipitation\":%.1f,\"alertLevel\":%.1f,"
                    "\"dangerLevel\":%.1f}}",
                    now, d->base + d->state, rain, d->base + 1.0, d->base + 1.5);
  }
  if (strcmp(d->type, "WaterQualityObserved") == 0)
    return snprintf(out, len,
                    "{\"ts\":%" PRId64 ",\"values\":{\"pH\":%.2f,\"temperature\":%.1f,\"turbidity\":%.1f,\"O2\":%.1f}}",
                    now, 7.2 + 0.3 * n, 26 + 3 * sin(TWO_PI * (h - 9) / 24), d->base * 20 + 5 * n, 6 + n);
  if (strcmp(d->type, "Streetlight") == 0) {
    /* On from sunset to sunrise at Hà Nội that day (NOAA, as the schedules use). */
    time_t lt = (time_t)(now / 1000 + SENSORS_HANOI_TZ_H * 3600);
    struct tm tm;
    double rise = 360, set = 1065;
    gmtime_r(&lt, &tm);
    sensors_sun_times(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, SENSORS_HANOI_LAT, SENSORS_HANOI_LON,
                      SENSORS_HANOI_TZ_H, &rise, &set);
    bool on = h * 60 >= set || h * 60 < rise;
    bool dim = on && h >= 0 && h < 5;
    return snprintf(out, len,
                    "{\"ts\":%" PRId64 ",\"values\":{\"powerState\":\"%s\",\"illuminanceLevel\":%.2f,"
                    "\"powerConsumption\":%.0f}}",
                    now, dim ? "low" : on ? "on" : "off", dim ? 0.4 : on ? 1.0 : 0.0, dim ? 60.0 : on ? 150.0 : 0.0);
  }
  if (strcmp(d->type, "WasteContainer") == 0) {
    d->state = h >= 22 && h < 22.5 ? 0.05 : fmin(1.0, d->state + 0.002 * d->base * (0.5 + urand()));
    return snprintf(out, len, "{\"ts\":%" PRId64 ",\"values\":{\"fillingLevel\":%.3f}}", now, d->state);
  }
  return snprintf(out, len, "{\"ts\":%" PRId64 ",\"values\":{\"status\":\"%s\"}}", now,
                  urand() < 0.2 + 0.6 * rush(h) ? "occupied" : "free");
}

static int register_devices(app_t *app, sim_dev_t *devs, size_t n)
{
  db_t *db = db_pool_acquire(app->db);
  if (!db || db_begin(db)) goto fail;
  for (size_t i = 0; i < n; i++) {
    double lon = 105.78 + 0.10 * urand(), lat = 20.97 + 0.09 * urand();
    const unit_t *u = units_locate(app->units, units_active_era(app->units), lon, lat);
    char key[49], hash[IDENTITY_TOKEN_HASH_HEX], name[80];
    random_hex(key, 24);
    identity_token_hash(key, hash);
    snprintf(name, sizeof name, "Mô phỏng %s %zu", devs[i].type, i);
    db_stmt_t *st = db_prepare(db, "INSERT INTO sensor_devices(id, type, name, lon, lat, unit_id, secret_hash)"
                                   " VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (id) DO NOTHING");
    if (!st) goto fail;
    db_bind_text(st, 1, devs[i].id);
    db_bind_text(st, 2, devs[i].type);
    db_bind_text(st, 3, name);
    db_bind_double(st, 4, lon);
    db_bind_double(st, 5, lat);
    db_bind_int64(st, 6, u ? u->id : 0);
    db_bind_text(st, 7, hash);
    int rc = db_step(st);
    db_stmt_done(st);
    if (rc < 0) goto fail;
  }
  if (db_commit(db)) goto fail;
  db_pool_release(app->db, db);
  return 0;
fail:
  fprintf(stderr, "cityos simulate: cannot register devices: %s\n", db ? db_errmsg(db) : "no database");
  if (db) db_rollback(db);
  db_pool_release(app->db, db);
  return -1;
}

static int cmd_simulate(app_t *app, int argc, char **argv)
{
  if (cli_wants_help(argc, argv)) {
    printf("Usage: cityos simulate --devices N [--interval SECONDS] [--duration SECONDS] [--messages M]\n"
           "Registers N devices of each type (ids sim-TYPE-I) and publishes their readings over MQTT\n"
           "at QoS 1 to the broker given by --mqtt mqtt://HOST:PORT (or CITYOS_MQTT). Each device reports every\n"
           "--interval seconds (default 10), until --duration (default: until Ctrl-C).\n"
           "--messages M: publish M readings as fast as the broker accepts them, print the rate.\n");
    return 0;
  }
  const char *nd = cli_take_flag(&argc, argv, "--devices");
  const char *iv = cli_take_flag(&argc, argv, "--interval");
  const char *du = cli_take_flag(&argc, argv, "--duration");
  const char *ms = cli_take_flag(&argc, argv, "--messages");
  int64_t per_type = 0, interval = 10, duration = 0, messages = 0;
  if (!nd || text_parse_int64(nd, 1, 100000, &per_type) || (iv && text_parse_int64(iv, 1, 86400, &interval)) ||
      (du && text_parse_int64(du, 1, 864000, &duration)) || (ms && text_parse_int64(ms, 1, 100000000, &messages)) ||
      argc > 1) {
    fprintf(stderr, "cityos simulate: needs --devices N (1..100000); see --help\n");
    return 2;
  }
  const char *url = app && app->cfg ? app->cfg->mqtt : NULL;   /* --mqtt or CITYOS_MQTT */
  char host[256];
  int port = 1883;
  if (!url || sscanf(url, "mqtt://%255[^:/]:%d", host, &port) < 1) {
    fprintf(stderr, "cityos simulate: give the broker with --mqtt mqtt://HOST:PORT (or CITYOS_MQTT)\n");
    return 2;
  }
  const sensors_type_t *types;
  size_t nt = sensors_types(&types), n = (size_t)per_type * nt;
  sim_dev_t *devs = calloc(n, sizeof *devs);
  if (!devs) return 1;
  for (size_t i = 0; i < n; i++) {
    devs[i].type = types[i % nt].name;
    snprintf(devs[i].id, sizeof devs[i].id, "sim-%.12s-%zu", types[i % nt].name, i / nt);
    devs[i].base = strcmp(devs[i].type, "AirQualityObserved") == 0 ? 25 + 50 * urand()
                 : strcmp(devs[i].type, "FloodMonitoring") == 0 ? 0.5 + urand() : 0.5 + 0.5 * urand();
    devs[i].state = strcmp(devs[i].type, "WasteContainer") == 0 ? 0.2 * urand() : 0;
  }
  int rc = 1;
  struct mosquitto *m = NULL;
  if (register_devices(app, devs, n)) goto done;
  printf("registered %zu devices (%" PRId64 " of each of %zu types)\n", n, per_type, nt);
  fflush(stdout);
  mosquitto_lib_init();
  m = mosquitto_new(NULL, true, NULL);
  if (!m) goto done;
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_max_inflight_messages_set(m, 1000);
  mosquitto_publish_callback_set(m, sim_on_publish);
  if (mosquitto_connect(m, host, port, 30) != MOSQ_ERR_SUCCESS || mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) {
    fprintf(stderr, "cityos simulate: cannot reach the broker at %s:%d\n", host, port);
    goto done;
  }
  signal(SIGINT, sim_on_signal);
  signal(SIGTERM, sim_on_signal);
  char topic[128], body[512];
  uint64_t sent = 0, t_start = clock_mono_ns();
  int64_t wall_start = clock_now_ms(), fast_ts = clock_now_ms() - 3600000;
  while (!g_sim_stop) {
    uint64_t round_start = clock_mono_ns();
    for (size_t i = 0; i < n && !g_sim_stop; i++) {
      int64_t ts = messages ? fast_ts++ : clock_now_ms();
      int len = payload(&devs[i], ts, body, sizeof body);
      snprintf(topic, sizeof topic, "cityos/v1/devices/%s/readings", devs[i].id);
      int pr;
      while ((pr = mosquitto_publish(m, NULL, topic, len, body, 1, false)) == MOSQ_ERR_OVERSIZE_PACKET ||
             pr == MOSQ_ERR_NOMEM)
        usleep(1000);
      sent++;
      if (messages && sent >= (uint64_t)messages) g_sim_stop = 1;
      /* Bounded: no more than 5000 unacknowledged in this process. */
      while (sent - __atomic_load_n(&g_sim_acked, __ATOMIC_RELAXED) > 5000) usleep(500);
    }
    if (duration && clock_now_ms() - wall_start >= duration * 1000) break;
    if (!messages) {
      double took = (double)(clock_mono_ns() - round_start) / 1e9;
      for (double w = 0; w < (double)interval - took && !g_sim_stop; w += 0.1) usleep(100000);
      printf("published %" PRIu64 " readings\n", sent);
      fflush(stdout);
    }
  }
  /* Wait for the broker to acknowledge every QoS 1 message (2 minutes at most). */
  for (int i = 0; i < 120000 && __atomic_load_n(&g_sim_acked, __ATOMIC_RELAXED) < sent; i++) usleep(1000);
  double secs = (double)(clock_mono_ns() - t_start) / 1e9;
  printf("published %" PRIu64 " readings (%" PRIu64 " acknowledged by the broker) in %.2f s (%.0f per second)\n",
         sent, __atomic_load_n(&g_sim_acked, __ATOMIC_RELAXED), secs, secs > 0 ? sent / secs : 0);
  mosquitto_disconnect(m);
  mosquitto_loop_stop(m, false);
  rc = 0;
done:
  if (m) mosquitto_destroy(m);
  free(devs);
  return rc;
}

static const cli_command_t SIM_COMMANDS[] = {
  {"simulate", "simulate --devices N [--interval S]    publish realistic sensor streams over MQTT (CITYOS_MQTT)",
   cmd_simulate, true},
};

static const module_t SIM_MODULE = {
  .name = "sensors-sim",
  .order = 101,
  .commands = SIM_COMMANDS,
  .ncommands = ARRAY_LEN(SIM_COMMANDS),
};
MODULE_REGISTER(SIM_MODULE)
