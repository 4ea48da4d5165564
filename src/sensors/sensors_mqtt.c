#include "base/common.h"
#include "sensors/sensors.h"
#include "base/log.h"
#include "base/text.h"
#include "sensors/sensors_commands.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

/*
 * The MQTT ingester: one thread per node, MQTT v5, persistent session (clean start off,
 * session expiry 7 days, a fixed client id per node), a shared subscription
 * $share/GROUP/cityos/v1/devices/+/readings at QoS 1.
 *
 * Acknowledge after commit. libmosquitto 2.0.11 has no manual acknowledgement, but in
 * "threaded" mode (mosquitto_threaded_set) a PUBACK is only queued when a PUBLISH is
 * read and written by mosquitto_loop_write(). This loop therefore reads packets
 * (mosquitto_loop_read) into a batch, commits the batch in one transaction, and only
 * then calls mosquitto_loop_write, which sends the batch's PUBACKs. A crash before the
 * commit leaves the messages unacknowledged at the broker, which redelivers them to the
 * persistent session; a crash after the commit but before the PUBACKs leads to a
 * redelivery that the store ignores (readings are unique per device, attribute, time).
 *
 * Back-pressure: the receive maximum (CITYOS_MQTT_BATCH, default 500) caps the messages
 * the broker sends before they are acknowledged; the batch never grows beyond it, and
 * while a batch is being written nothing is read, so the broker queues instead.
 */

#define TOPIC_PREFIX "cityos/v1/devices/"
#define TOPIC_SUFFIX "/readings"
#define ACK_SUFFIX "/acks"

typedef struct ingest {
  app_t *app;
  struct mosquitto *mosq;
  pthread_t thread;
  volatile int stop;
  bool running;
  bool connected;
  bool subscribed;
  bool need_connect;
  int nsubacks;
  char host[256];
  int port;
  char client_id[128];
  char group[64];
  size_t cap;
  size_t n;
  sensors_msg_t *batch;
  int64_t fault_after;     /* test hook: die before committing once this many were read */
} ingest_t;

static ingest_t g_in;
static uint64_t c_received, c_stored, c_dead, c_batches;

void sensors_mqtt_counters(uint64_t *received, uint64_t *stored, uint64_t *dead, uint64_t *batches)
{
  *received = __atomic_load_n(&c_received, __ATOMIC_RELAXED);
  *stored = __atomic_load_n(&c_stored, __ATOMIC_RELAXED);
  *dead = __atomic_load_n(&c_dead, __ATOMIC_RELAXED);
  *batches = __atomic_load_n(&c_batches, __ATOMIC_RELAXED);
}

/* "mqtt://HOST:PORT" (port default 1883). 0 or -1. */
static int parse_url(const char *url, char *host, size_t hostlen, int *port)
{
  const char *p = url;
  if (strncmp(p, "mqtt://", 7) == 0) p += 7;
  else if (strstr(p, "://")) return -1;
  const char *colon = strrchr(p, ':');
  size_t hl = colon ? (size_t)(colon - p) : strlen(p);
  if (hl == 0 || hl >= hostlen) return -1;
  memcpy(host, p, hl);
  host[hl] = 0;
  *port = 1883;
  if (colon) {
    int64_t v;
    char portbuf[8];
    size_t pl = strlen(colon + 1);
    if (pl == 0 || pl >= sizeof portbuf) return -1;
    memcpy(portbuf, colon + 1, pl + 1);
    if (portbuf[pl - 1] == '/') portbuf[pl - 1] = 0;
    if (text_parse_int64(portbuf, 1, 65535, &v)) return -1;
    *port = (int)v;
  }
  return 0;
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *props)
{
  ingest_t *in = obj;
  (void)props;
  if (rc != 0) {
    log_warn(NULL, "msg=\"mqtt connect refused\" reason=\"%s\"", mosquitto_reason_string(rc));
    return;
  }
  in->connected = true;
  char topic[160];
  snprintf(topic, sizeof topic, "$share/%s/" TOPIC_PREFIX "+" TOPIC_SUFFIX, in->group);
  int s = mosquitto_subscribe_v5(m, NULL, topic, 1, 0, NULL);
  char acks[160];
  snprintf(acks, sizeof acks, "$share/%s/" TOPIC_PREFIX "+" ACK_SUFFIX, in->group);
  if (s == MOSQ_ERR_SUCCESS) s = mosquitto_subscribe_v5(m, NULL, acks, 1, 0, NULL);
  log_info(NULL, "msg=\"mqtt connected\" session_present=%d subscribe=%s topic=%s", flags & 1,
           s == MOSQ_ERR_SUCCESS ? "sent" : mosquitto_strerror(s), topic);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int qos_count, const int *granted,
                         const mosquitto_property *props)
{
  ingest_t *in = obj;
  (void)m, (void)mid, (void)props;
  in->subscribed = qos_count > 0 && granted[0] == 1;
  if (in->subscribed) in->nsubacks++;
  if (in->nsubacks % 2) return;   /* one line once both topics are granted */
  log_info(NULL, "msg=\"mqtt subscribed\" granted_qos=%d", qos_count > 0 ? granted[0] : -1);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
  ingest_t *in = obj;
  (void)m, (void)props;
  if (in->n >= in->cap) {
    /* Cannot happen with a broker honouring the receive maximum; refusing here would
     * still PUBACK, so keep it by growing once more than the cap instead of dropping. */
    sensors_msg_t *nb = realloc(in->batch, (in->cap * 2) * sizeof *nb);
    if (!nb) abort();
    in->batch = nb;
    in->cap *= 2;
    log_warn(NULL, "msg=\"mqtt batch over the receive maximum\" cap=%zu", in->cap);
  }
  sensors_msg_t *b = &in->batch[in->n];
  memset(b, 0, sizeof *b);
  b->source = "mqtt";
  b->received_at = clock_now_ms();
  b->topic = strdup(msg->topic);
  size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
  char *pl = malloc(len + 1);
  if (!b->topic || !pl) abort();
  if (len) memcpy(pl, msg->payload, len);
  pl[len] = 0;
  b->payload = pl;
  b->len = len;
  /* cityos/v1/devices/{id}/readings */
  size_t tl = strlen(msg->topic), pre = strlen(TOPIC_PREFIX), suf = strlen(TOPIC_SUFFIX);
  if (tl > pre + strlen(ACK_SUFFIX) && strncmp(msg->topic, TOPIC_PREFIX, pre) == 0 &&
      strcmp(msg->topic + tl - strlen(ACK_SUFFIX), ACK_SUFFIX) == 0) {
    b->is_ack = true;
    suf = strlen(ACK_SUFFIX);
  }
  if (tl > pre + suf && strncmp(msg->topic, TOPIC_PREFIX, pre) == 0 &&
      strcmp(msg->topic + tl - suf, b->is_ack ? ACK_SUFFIX : TOPIC_SUFFIX) == 0) {
    char *id = strndup(msg->topic + pre, tl - pre - suf);
    if (!id) abort();
    b->device_id = id;
  }
  in->n++;
  __atomic_add_fetch(&c_received, 1, __ATOMIC_RELAXED);
}

static void batch_clear(ingest_t *in)
{
  for (size_t i = 0; i < in->n; i++) {
    free((void *)in->batch[i].topic);
    free((void *)in->batch[i].payload);
    free((void *)in->batch[i].device_id);
  }
  in->n = 0;
}

/* Commits the batch; retries (reading nothing meanwhile) until it is stored or stop. */
static void batch_flush(ingest_t *in)
{
  if (in->n == 0) return;
  if (in->fault_after > 0 && (int64_t)__atomic_load_n(&c_received, __ATOMIC_RELAXED) >= in->fault_after) {
    log_warn(NULL, "msg=\"test fault: dying before commit\" n=%zu", in->n);
    raise(SIGKILL);
  }
  unsigned delay_ms = 100;
  while (1) {
    db_t *db = db_pool_acquire(in->app->db);
    int rc = db ? sensors_write_batch(db, sensors_settings(), in->batch, in->n) : -1;
    db_pool_release(in->app->db, db);
    if (rc == 0) break;
    if (in->stop) {
      /* Not committed and not acknowledged: the broker redelivers them. */
      log_warn(NULL, "msg=\"mqtt batch dropped unacknowledged at stop\" n=%zu", in->n);
      batch_clear(in);
      return;
    }
    usleep(delay_ms * 1000);
    if (delay_ms < 5000) delay_ms *= 2;
  }
  size_t dead = 0;
  for (size_t i = 0; i < in->n; i++) dead += !in->batch[i].stored;
  __atomic_add_fetch(&c_stored, in->n - dead, __ATOMIC_RELAXED);
  __atomic_add_fetch(&c_dead, dead, __ATOMIC_RELAXED);
  __atomic_add_fetch(&c_batches, 1, __ATOMIC_RELAXED);
  if (dead) log_info(NULL, "msg=\"mqtt dead letters\" n=%zu", dead);
  batch_clear(in);
}

static int publish_cmd(void *ctx, const char *topic, const char *payload, size_t len)
{
  ingest_t *in = ctx;
  if (!in->connected) return -1;
  return mosquitto_publish_v5(in->mosq, NULL, topic, (int)len, payload, 1, false, NULL) == MOSQ_ERR_SUCCESS ? 0 : -1;
}

static bool readable_now(int sock)
{
  struct pollfd p = {.fd = sock, .events = POLLIN};
  return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

static void *ingest_main(void *arg)
{
  ingest_t *in = arg;
  unsigned backoff_ms = 200;
  bool need_connect = in->need_connect;
  uint64_t last_dispatch = 0;
  while (!in->stop) {
    if (need_connect) {
      in->connected = false;
      int rc = mosquitto_reconnect(in->mosq);
      if (rc != MOSQ_ERR_SUCCESS) {
        log_warn(NULL, "msg=\"mqtt connect failed\" host=%s port=%d err=\"%s\"", in->host, in->port,
                 mosquitto_strerror(rc));
        for (unsigned t = 0; t < backoff_ms && !in->stop; t += 50) usleep(50000);
        if (backoff_ms < 5000) backoff_ms *= 2;
        continue;
      }
      need_connect = false;
      backoff_ms = 200;
    }
    int sock = mosquitto_socket(in->mosq);
    if (sock < 0) {
      need_connect = true;
      continue;
    }
    struct pollfd p = {.fd = sock, .events = POLLIN};
    if (mosquitto_want_write(in->mosq)) p.events |= POLLOUT;
    int pr = poll(&p, 1, 100);
    int rc = MOSQ_ERR_SUCCESS;
    if (pr > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP))) {
      /* Read what is there, up to a full batch (back-pressure: no more until stored). */
      do {
        rc = mosquitto_loop_read(in->mosq, 1);
      } while (rc == MOSQ_ERR_SUCCESS && in->n < in->cap && readable_now(sock));
    }
    /* Store first, acknowledge second. */
    batch_flush(in);
    /* Commands that are due (a few times a second). */
    uint64_t mono = clock_mono_ns();
    if (in->connected && mono - last_dispatch > 250000000ULL) {
      last_dispatch = mono;
      db_t *db = db_pool_acquire(in->app->db);
      if (db) sensors_commands_dispatch(db, clock_now_ms(), publish_cmd, in);
      db_pool_release(in->app->db, db);
    }
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(in->mosq)) rc = mosquitto_loop_write(in->mosq, 1);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_loop_misc(in->mosq);
    if (rc != MOSQ_ERR_SUCCESS) {
      log_warn(NULL, "msg=\"mqtt connection lost\" err=\"%s\"", mosquitto_strerror(rc));
      in->connected = false;
      in->subscribed = false;
      need_connect = true;
      for (unsigned t = 0; t < 500 && !in->stop; t += 50) usleep(50000);
    }
  }
  batch_flush(in);
  if (in->connected) {
    mosquitto_disconnect_v5(in->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
    mosquitto_loop_write(in->mosq, 1);
  }
  return NULL;
}

int sensors_mqtt_start(app_t *app)
{
  /* --mqtt, CITYOS_MQTT or `mqtt =` in the config file (see config.c). */
  const char *url = app->cfg ? app->cfg->mqtt : NULL;
  ingest_t *in = &g_in;
  if (!url || !*url) return 0;
  memset(in, 0, sizeof *in);
  in->app = app;
  if (parse_url(url, in->host, sizeof in->host, &in->port)) {
    fprintf(stderr, "cityos: --mqtt (CITYOS_MQTT) must be mqtt://HOST:PORT\n");
    return -1;
  }
  const char *cid = getenv("CITYOS_MQTT_CLIENT_ID");
  if (cid && *cid) {
    snprintf(in->client_id, sizeof in->client_id, "%s", cid);
  } else {
    char hn[64] = "node";
    gethostname(hn, sizeof hn - 1);
    snprintf(in->client_id, sizeof in->client_id, "cityos-%s", hn);
  }
  const char *grp = getenv("CITYOS_MQTT_GROUP");
  snprintf(in->group, sizeof in->group, "%s", grp && *grp ? grp : "cityos");
  int64_t cap = 500, fault = 0;
  const char *b = getenv("CITYOS_MQTT_BATCH");
  if (b && *b && text_parse_int64(b, 1, 65535, &cap)) {
    fprintf(stderr, "cityos: CITYOS_MQTT_BATCH must be 1..65535\n");
    return -1;
  }
  const char *f = getenv("CITYOS_SENSORS_FAULT_AFTER");
  if (f && *f) text_parse_int64(f, 1, INT64_MAX, &fault);
  in->fault_after = fault;
  in->cap = (size_t)cap;
  in->batch = calloc(in->cap, sizeof *in->batch);
  mosquitto_lib_init();
  in->mosq = mosquitto_new(in->client_id, false, in);
  if (!in->batch || !in->mosq) goto fail;
  mosquitto_int_option(in->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_int_option(in->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, (int)cap);
  mosquitto_threaded_set(in->mosq, true);
  mosquitto_connect_v5_callback_set(in->mosq, on_connect);
  mosquitto_subscribe_v5_callback_set(in->mosq, on_subscribe);
  mosquitto_message_v5_callback_set(in->mosq, on_message);
  const char *user = getenv("CITYOS_MQTT_USER");
  if (user && *user) mosquitto_username_pw_set(in->mosq, user, getenv("CITYOS_MQTT_PASSWORD"));
  mosquitto_property *props = NULL;
  mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 7 * 86400);
  int rc = mosquitto_connect_bind_v5(in->mosq, in->host, in->port, 30, NULL, props);
  mosquitto_property_free_all(&props);
  in->need_connect = rc != MOSQ_ERR_SUCCESS;
  if (rc != MOSQ_ERR_SUCCESS)   /* keep trying in the thread: the broker may come later */
    log_warn(NULL, "msg=\"mqtt broker not reachable yet\" host=%s port=%d err=\"%s\"", in->host, in->port,
             mosquitto_strerror(rc));
  if (pthread_create(&in->thread, NULL, ingest_main, in) != 0) goto fail;
  in->running = true;
  log_info(NULL, "msg=\"mqtt ingester started\" host=%s port=%d client_id=%s batch=%zu", in->host, in->port,
           in->client_id, in->cap);
  return 0;
fail:
  fprintf(stderr, "cityos: cannot start the MQTT ingester\n");
  if (in->mosq) mosquitto_destroy(in->mosq);
  free(in->batch);
  in->mosq = NULL;
  in->batch = NULL;
  return -1;
}

void sensors_mqtt_stop(void)
{
  ingest_t *in = &g_in;
  if (!in->running) return;
  in->stop = 1;
  pthread_join(in->thread, NULL);
  in->running = false;
  batch_clear(in);
  mosquitto_destroy(in->mosq);
  free(in->batch);
  in->mosq = NULL;
  in->batch = NULL;
  mosquitto_lib_cleanup();
}
