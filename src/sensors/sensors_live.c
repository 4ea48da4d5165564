/*
 * sensors_live.c - the live feed of the operations center: alert events as
 * Server-Sent Events on GET /api/v1/sensors/stream.
 *
 * A thread tails the sensor_alert_events table every 200 ms and publishes each new
 * event (with its alert) to an SSE hub. Reading committed rows, not hooking the code
 * that writes them, means a stream shows exactly what was committed, and it shows
 * alerts raised on any node of a cluster (every node tails the same table).
 * PostgreSQL identity values can commit out of order, so each poll looks back over
 * the last 256 ids and skips the ones already published. An alert committed on this
 * node (sensors_alerts_version() moves) cuts the wait short, so it is on the stream
 * within a few ms. On PostgreSQL the thread LISTENs on its own connection and every
 * transaction that appends an alert event NOTIFYs (sensors_rules.c), so alerts committed
 * on any node wake every node's feed at once; with SQLite (one node) or while the LISTEN
 * connection is down, alerts of other nodes take up to one poll interval (200 ms).
 */
#include "base/common.h"
#include "sensors/sensors_internal.h"
#include "base/log.h"
#include "http/sse.h"
#include "sensors/sensors_rules.h"
#include "sensors/sensors.h"
#include <jansson.h>
#include <pthread.h>
#include <unistd.h>

#define LIVE_LOOKBACK 256
#define LIVE_POLL_US 200000
#define LIVE_WAKE_US 5000

static http_sse_hub_t *g_hub;
static pthread_t g_thread;
static volatile int g_stop;
static bool g_running;
static int64_t g_seen[LIVE_LOOKBACK];   /* ids published recently (ring) */
static size_t g_seen_next;

static bool seen(int64_t id) {
  for (size_t i = 0; i < LIVE_LOOKBACK; i++)
    if (g_seen[i] == id) return true;
  return false;
}

static int64_t max_event_id(db_t *db) {
  db_stmt_t *st = db_prepare(db, "SELECT COALESCE(MAX(id), 0) FROM sensor_alert_events");
  if (!st) return 0;
  int64_t v = db_step(st) == DB_ROW ? db_col_int64(st, 0) : 0;
  db_stmt_done(st);
  return v;
}

static void poll_once(db_t *db, int64_t *high) {
  int64_t from = *high > LIVE_LOOKBACK ? *high - LIVE_LOOKBACK : 0;
  db_stmt_t *st = db_prepare(db,
      "SELECT e.id, e.alert_id, e.at, e.event, a.device_id, a.severity, a.message, a.state, a.value, a.unit_id "
      "FROM sensor_alert_events e JOIN sensor_alerts a ON a.id = e.alert_id "
      "WHERE e.id > $1 ORDER BY e.id LIMIT 500");
  if (!st) return;
  db_bind_int64(st, 1, from);
  while (db_step(st) == DB_ROW) {
    int64_t id = db_col_int64(st, 0);
    if (id > *high) *high = id;
    if (seen(id)) continue;
    g_seen[g_seen_next++ % LIVE_LOOKBACK] = id;
    json_t *o = json_pack("{s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:I}", "event_id", (json_int_t)id, "alert_id",
                          (json_int_t)db_col_int64(st, 1), "at", (json_int_t)db_col_int64(st, 2), "event",
                          db_col_text(st, 3), "device_id", db_col_text(st, 4), "severity", db_col_text(st, 5),
                          "message", db_col_text(st, 6), "state", db_col_text(st, 7), "unit_id",
                          (json_int_t)db_col_int64(st, 9));
    if (!o) continue;
    json_object_set_new(o, "value", db_col_is_null(st, 8) ? json_null() : json_real(db_col_double(st, 8)));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text) http_sse_publish(g_hub, "alert", text);
    free(text);
  }
  db_stmt_done(st);
}

/* PostgreSQL: a connection of its own that LISTENs on SENSORS_ALERTS_CHANNEL (every
 * transaction that appends an alert event NOTIFYs it, delivered at commit). NULL when it
 * cannot be opened (the loop then polls through the pool and tries again later). */
static db_t *open_listener(app_t *app) {
  char err[256];
  db_t *db = db_open(app->cfg->db, err, sizeof err);
  if (!db) {
    log_warn(NULL, "msg=\"live feed: no LISTEN connection, polling\" err=\"%s\"", err);
    return NULL;
  }
  if (db_exec(db, "LISTEN " SENSORS_ALERTS_CHANNEL)) {
    log_warn(NULL, "msg=\"live feed: LISTEN failed, polling\" err=\"%s\"", db_errmsg(db));
    db_close(db);
    return NULL;
  }
  return db;
}

static void *live_main(void *arg) {
  app_t *app = arg;
  int64_t high = -1;
  bool pg = db_pool_kind(app->db) == DB_POSTGRES;
  db_t *lis = pg ? open_listener(app) : NULL;
  int64_t retry_at = 0;
  while (!g_stop) {
    if (pg && !lis && clock_now_ms() >= retry_at) {
      lis = open_listener(app);
      retry_at = clock_now_ms() + 5000;
    }
    db_t *db = lis ? lis : db_pool_acquire(app->db);
    if (db) {
      if (high < 0) high = max_event_id(db);   /* only events from now on */
      else poll_once(db, &high);
    }
    if (!lis) db_pool_release(app->db, db);
    /* Wait for the next poll, but poll at once when this node has committed an alert
     * change (sensors_alerts_bump after the commit) or, on PostgreSQL, when any node has
     * (a notification): alerts reach the stream within a few ms from every node. The
     * timed poll stays as a safety net (LIVE_SAFETY_US with LISTEN, else LIVE_POLL_US). */
    uint64_t v = sensors_alerts_version();
    int limit = lis ? (int)(sensors_settings()->live_safety_ms * 1000) : LIVE_POLL_US;
    for (int t = 0; t < limit && !g_stop && sensors_alerts_version() == v; t += LIVE_WAKE_US) {
      if (!lis) {
        usleep(LIVE_WAKE_US);
        continue;
      }
      int n = db_notify_wait(lis, LIVE_WAKE_US / 1000);
      if (n > 0) break;
      if (n < 0) {   /* connection lost: poll through the pool until it is back */
        log_warn(NULL, "msg=\"live feed: LISTEN connection lost\" err=\"%s\"", db_errmsg(lis));
        db_close(lis);
        lis = NULL;
        retry_at = clock_now_ms() + 1000;
        break;
      }
    }
  }
  if (lis) db_close(lis);
  return NULL;
}

int sensors_live_start(app_t *app) {
  g_hub = http_sse_hub_new("sensors");
  if (!g_hub) return -1;
  memset(g_seen, 0, sizeof g_seen);
  g_stop = 0;
  if (pthread_create(&g_thread, NULL, live_main, app) != 0) return -1;
  g_running = true;
  return 0;
}

void sensors_live_stop(void) {
  if (g_running) {
    g_stop = 1;
    pthread_join(g_thread, NULL);
    g_running = false;
  }
  /* The server has stopped (module stop hooks run after it): no stream is left. */
  http_sse_hub_free(g_hub);
  g_hub = NULL;
}

/* GET /api/v1/sensors/stream (sensors.read): alert events as they are committed. */
void sensors_h_stream(http_req_t *req) {
  if (!g_hub) {
    http_reply_error(req, ERR_UNAVAILABLE, "The live feed runs only in `cityos serve`");
    return;
  }
  http_reply_sse(req, g_hub);
}
