#include "base/common.h"
#include "sensors/sensors.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "sensors/sensors_rules.h"
#include "sensors/sensors_commands.h"

/*
 * Batched writes: one transaction per batch of messages. Valid observations go to
 * sensor_readings (idempotent on (device, attr, ts)) and the rollups; a value that was
 * already stored (a redelivered message) changes nothing, so the rollups stay exact.
 * Invalid messages go to sensor_dead_letters with their reason.
 */

#define SQL_DEVICE "SELECT type, status FROM sensor_devices WHERE id = $1"
#define SQL_READING                                                                      \
  "INSERT INTO sensor_readings(device_id, attr, ts, value, received_at) VALUES ($1,$2,$3,$4,$5)" \
  " ON CONFLICT (device_id, attr, ts) DO NOTHING"
#define SQL_ROLLUP_HEAD                                                                  \
  "INSERT INTO sensor_rollups(res, device_id, attr, bucket, n, vmin, vmax, vsum)"        \
  " VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (res, device_id, attr, bucket) DO UPDATE SET" \
  " n = sensor_rollups.n + excluded.n, vsum = sensor_rollups.vsum + excluded.vsum,"
#define SQL_ROLLUP_SQLITE SQL_ROLLUP_HEAD \
  " vmin = min(sensor_rollups.vmin, excluded.vmin), vmax = max(sensor_rollups.vmax, excluded.vmax)"
#define SQL_ROLLUP_PG SQL_ROLLUP_HEAD \
  " vmin = LEAST(sensor_rollups.vmin, excluded.vmin), vmax = GREATEST(sensor_rollups.vmax, excluded.vmax)"
#define SQL_SEEN                                                                         \
  "UPDATE sensor_devices SET last_seen_at = CASE WHEN last_seen_at < $2 THEN $2 ELSE last_seen_at END," \
  " latest = CASE WHEN latest_ts <= $3 THEN $4 ELSE latest END,"                          \
  " latest_ts = CASE WHEN latest_ts <= $3 THEN $3 ELSE latest_ts END WHERE id = $1"
#define SQL_DEAD                                                                         \
  "INSERT INTO sensor_dead_letters(received_at, source, topic, device_id, reason, payload)" \
  " VALUES ($1,$2,$3,$4,$5,$6)"

/* Rollup accumulators of one batch, keyed by (res, device, attr, bucket): written with one
 * upsert per key at the end of the batch instead of one per reading. */
typedef struct roll {
  int64_t res, bucket, n;
  const char *dev, *attr;
  double mn, mx, sum;
} roll_t;

typedef struct rolls {
  roll_t *t;
  size_t cap, n;
} rolls_t;

static uint64_t roll_hash(int64_t res, int64_t bucket, const char *dev, const char *attr)
{
  uint64_t h = 1469598103934665603ULL ^ (uint64_t)res ^ ((uint64_t)bucket * 31);
  for (const char *p = dev; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  for (const char *p = attr; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  return h;
}

static roll_t *roll_slot(roll_t *t, size_t cap, int64_t res, int64_t bucket, const char *dev, const char *attr)
{
  size_t i = roll_hash(res, bucket, dev, attr) & (cap - 1);
  while (t[i].dev && !(t[i].res == res && t[i].bucket == bucket && strcmp(t[i].dev, dev) == 0 &&
                       strcmp(t[i].attr, attr) == 0))
    i = (i + 1) & (cap - 1);
  return &t[i];
}

static int roll_add(rolls_t *r, int64_t res, int64_t bucket, const char *dev, const char *attr, double v)
{
  if ((r->n + 1) * 2 > r->cap) {
    size_t ncap = r->cap ? r->cap * 2 : 1024;
    roll_t *nt = calloc(ncap, sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i < r->cap; i++)
      if (r->t[i].dev) *roll_slot(nt, ncap, r->t[i].res, r->t[i].bucket, r->t[i].dev, r->t[i].attr) = r->t[i];
    free(r->t);
    r->t = nt;
    r->cap = ncap;
  }
  roll_t *e = roll_slot(r->t, r->cap, res, bucket, dev, attr);
  if (!e->dev) {
    *e = (roll_t){.res = res, .bucket = bucket, .dev = dev, .attr = attr, .mn = v, .mx = v};
    r->n++;
  }
  e->n++;
  e->sum += v;
  if (v < e->mn) e->mn = v;
  if (v > e->mx) e->mx = v;
  return 0;
}

static int rolls_write(db_t *db, const rolls_t *r)
{
  for (size_t i = 0; i < r->cap; i++) {
    const roll_t *e = &r->t[i];
    if (!e->dev) continue;
    db_stmt_t *st = db_prepare(db, db_kind(db) == DB_POSTGRES ? SQL_ROLLUP_PG : SQL_ROLLUP_SQLITE);
    if (!st) return -1;
    db_bind_int64(st, 1, e->res);
    db_bind_text(st, 2, e->dev);
    db_bind_text(st, 3, e->attr);
    db_bind_int64(st, 4, e->bucket);
    db_bind_int64(st, 5, e->n);
    db_bind_double(st, 6, e->mn);
    db_bind_double(st, 7, e->mx);
    db_bind_double(st, 8, e->sum);
    int rc = db_step(st);
    db_stmt_done(st);
    if (rc < 0) return -1;
  }
  return 0;
}

typedef struct batch_ctx {
  const sensors_settings_t *set;
  const sensors_rules_t *rules;
  rolls_t rolls;
  rolls_t late;      /* station hours that got a pollutant reading after they ended */
  int64_t clock;     /* the time the batch's transaction began */
} batch_ctx_t;

/* Marks the station hours of bc->late for the VN_AQI job (sensors_aqi_store.c). */
static int late_write(db_t *db, const rolls_t *r)
{
  for (size_t i = 0; i < r->cap; i++)
    if (r->t[i].dev && sensors_aqi_mark_late(db, r->t[i].dev, r->t[i].bucket)) return -1;
  return 0;
}

static int store_value(db_t *db, batch_ctx_t *bc, const char *type, const char *dev, const char *attr, int64_t ts,
                       double v, int64_t now, bool *inserted)
{
  db_stmt_t *st = db_prepare(db, SQL_READING);
  if (!st) return -1;
  db_bind_text(st, 1, dev);
  db_bind_text(st, 2, attr);
  db_bind_int64(st, 3, ts);
  db_bind_double(st, 4, v);
  db_bind_int64(st, 5, now);
  int rc = db_step(st);
  *inserted = rc == DB_DONE && db_changes(st) == 1;
  db_stmt_done(st);
  if (rc < 0) return -1;
  if (!*inserted) return 0;   /* a repeat: rollups and rules already saw it */
  static const int64_t RES[2] = {60000, 3600000};
  for (int i = 0; i < 2; i++)
    if (roll_add(&bc->rolls, RES[i], ts - ((ts % RES[i]) + RES[i]) % RES[i], dev, attr, v)) return -1;
  int64_t hour = ts - ((ts % 3600000) + 3600000) % 3600000;
  if (hour + 3600000 <= bc->clock && sensors_aqi_attr(attr) && roll_add(&bc->late, 0, hour, dev, "aqi", 0))
    return -1;
  return bc->rules->n ? sensors_rules_eval(db, bc->rules, dev, type, attr, ts, v, now) : 0;
}

/* Looks the device up: 1 found and active (*type set), 0 not usable (reason), -1 error. */
static int device_type(db_t *db, const char *id, const sensors_type_t **type, char *why, size_t whylen)
{
  db_stmt_t *st = db_prepare(db, SQL_DEVICE);
  if (!st) return -1;
  db_bind_text(st, 1, id);
  int rc = db_step(st);
  int out = 0;
  if (rc == DB_ROW) {
    *type = sensors_type_find(db_col_text(st, 0));
    const char *status = db_col_text(st, 1);
    if (status && strcmp(status, "active") != 0) snprintf(why, whylen, "device_disabled");
    else if (!*type) snprintf(why, whylen, "unknown_type");
    else out = 1;
  } else if (rc == DB_DONE) {
    snprintf(why, whylen, "unknown_device");
  } else {
    out = -1;
  }
  db_stmt_done(st);
  return out;
}

/* Validates and stores one message. 0 (m->stored / m->reason set) or -1 (db error). */
static int store_msg(db_t *db, batch_ctx_t *bc, sensors_msg_t *m)
{
  const sensors_type_t *type = NULL;
  m->stored = false;
  m->nvalues = 0;
  m->reason[0] = 0;
  if (!m->device_id || !sensors_id_valid(m->device_id)) {
    snprintf(m->reason, sizeof m->reason, "bad_topic");
    return 0;
  }
  int d = device_type(db, m->device_id, &type, m->reason, sizeof m->reason);
  if (d <= 0) return d;
  if (m->len > SENSORS_PAYLOAD_MAX) {
    snprintf(m->reason, sizeof m->reason, "too_large");
    return 0;
  }
  if (m->is_ack) {
    if (sensors_commands_ack(db, m->device_id, m->payload, m->len, m->received_at, m->reason, sizeof m->reason))
      return -1;
    m->stored = m->reason[0] == 0;
    return 0;
  }
  char why[100];
  json_t *root = json_parse_limited(m->payload, m->len, 8, why, sizeof why);
  if (!root) {
    snprintf(m->reason, sizeof m->reason, "invalid_json: %.80s", why);
    return 0;
  }
  /* One observation, an array of them, or {"readings": [...]}: all valid or none. */
  json_t *list = json_is_array(root) ? root : json_object_get(root, "readings");
  size_t count = list ? json_array_size(list) : 1;
  int rc = 0;
  if (list && (!json_is_array(list) || count == 0 || count > 1000)) {
    snprintf(m->reason, sizeof m->reason, "bad_readings_list");
    goto done;
  }
  sensors_obs_t *obs = calloc(count, sizeof *obs);
  if (!obs) {
    rc = -1;
    goto done;
  }
  for (size_t i = 0; i < count; i++) {
    const json_t *o = list ? json_array_get(list, i) : root;
    if (sensors_validate_obs(type, o, m->received_at, bc->set->raw_keep_ms, &obs[i], why, sizeof why)) {
      if (list) snprintf(m->reason, sizeof m->reason, "reading %zu: %.80s", i, why);
      else snprintf(m->reason, sizeof m->reason, "%.110s", why);
      goto free_obs;
    }
  }
  for (size_t i = 0; i < count; i++) {
    for (size_t k = 0; k < obs[i].n; k++) {
      bool ins = false;
      if (store_value(db, bc, type->name, m->device_id, obs[i].v[k].attr, obs[i].ts, obs[i].v[k].value,
                      m->received_at, &ins)) {
        rc = -1;
        goto free_obs;
      }
      if (ins) m->nvalues++;
    }
  }
  size_t newest = 0;
  for (size_t i = 1; i < count; i++)
    if (obs[i].ts >= obs[newest].ts) newest = i;
  json_t *lv = json_object();
  for (size_t k = 0; k < obs[newest].n; k++)
    json_object_set_new(lv, obs[newest].v[k].attr, json_real(obs[newest].v[k].value));
  char *latest = json_dumps(lv, JSON_COMPACT | JSON_REAL_PRECISION(12));
  json_decref(lv);
  db_stmt_t *st = latest ? db_prepare(db, SQL_SEEN) : NULL;
  if (!st) {
    free(latest);
    rc = -1;
    goto free_obs;
  }
  db_bind_text(st, 1, m->device_id);
  db_bind_int64(st, 2, m->received_at);   /* "seen" is when it reported, not the reading's time */
  db_bind_int64(st, 3, obs[newest].ts);
  db_bind_text(st, 4, latest);
  free(latest);
  if (db_step(st) < 0) rc = -1;
  db_stmt_done(st);
  if (rc == 0 && sensors_rules_device_seen(db, m->device_id, m->received_at) < 0) rc = -1;
  m->stored = true;
free_obs:
  free(obs);
done:
  json_decref(root);
  return rc;
}

static int store_dead(db_t *db, const sensors_msg_t *m)
{
  db_stmt_t *st = db_prepare(db, SQL_DEAD);
  if (!st) return -1;
  db_bind_int64(st, 1, m->received_at);
  db_bind_text(st, 2, m->source);
  db_bind_text(st, 3, m->topic ? m->topic : "");
  db_bind_text(st, 4, sensors_id_valid(m->device_id) ? m->device_id : NULL);
  db_bind_text(st, 5, m->reason);
  /* Kept as text, at most 4 KiB; a payload that is not UTF-8 (or holds NULs) is kept
   * as hex so the row can always be written. */
  const char *p = m->payload ? m->payload : "";
  size_t keep = m->len < 4096 ? m->len : 4096;
  bool text_ok = strnlen(p, keep) == keep && text_utf8_valid(p, keep);
  char *copy = malloc(text_ok ? keep + 1 : 2 * (keep < 2048 ? keep : 2048) + 5);
  if (!copy) {
    db_stmt_done(st);
    return -1;
  }
  if (text_ok) {
    memcpy(copy, p, keep);
    copy[keep] = 0;
  } else {
    size_t h = keep < 2048 ? keep : 2048, o = 0;
    memcpy(copy, "hex:", 4);
    o = 4;
    for (size_t i = 0; i < h; i++) o += (size_t)snprintf(copy + o, 3, "%02x", (unsigned char)p[i]);
    copy[o] = 0;
  }
  db_bind_text(st, 6, copy);
  int rc = db_step(st);
  db_stmt_done(st);
  free(copy);
  return rc < 0 ? -1 : 0;
}

int sensors_write_batch(db_t *db, const sensors_settings_t *set, sensors_msg_t *msgs, size_t n)
{
  sensors_rules_t *rules = malloc(sizeof *rules);
  batch_ctx_t bc = {.set = set, .rules = rules};
  sensors_alerts_take_pending();
  if (!rules || db_begin(db) || sensors_rules_load(db, rules)) goto fail;
  bc.clock = clock_now_ms();
  for (size_t i = 0; i < n; i++) {
    if (store_msg(db, &bc, &msgs[i])) goto fail;
    if (!msgs[i].stored && store_dead(db, &msgs[i])) goto fail;
  }
  if (rolls_write(db, &bc.rolls) || late_write(db, &bc.late) || db_commit(db)) goto fail;
  free(rules);
  free(bc.rolls.t);
  free(bc.late.t);
  if (sensors_alerts_take_pending()) sensors_alerts_bump();
  return 0;
fail:
  log_error(NULL, "msg=\"sensor batch not stored\" n=%zu err=\"%s\"", n, db_errmsg(db));
  db_rollback(db);
  free(rules);
  free(bc.rolls.t);
  free(bc.late.t);
  sensors_alerts_take_pending();
  return -1;
}

int sensors_prune(db_t *db, const sensors_settings_t *set, int64_t now)
{
  static const char *const SQL[3] = {
    "DELETE FROM sensor_readings WHERE ts < $1",
    "DELETE FROM sensor_rollups WHERE res = 60000 AND bucket < $1",
    "DELETE FROM sensor_dead_letters WHERE received_at < $1",
  };
  const int64_t cut[3] = {now - set->raw_keep_ms, now - set->minute_keep_ms, now - set->raw_keep_ms};
  int64_t total = 0;
  for (int i = 0; i < 3; i++) {
    db_stmt_t *st = db_prepare(db, SQL[i]);
    if (!st) return -1;
    db_bind_int64(st, 1, cut[i]);
    int rc = db_step(st);
    total += db_changes(st);
    db_stmt_done(st);
    if (rc < 0) {
      log_error(NULL, "msg=\"sensor pruning failed\" err=\"%s\"", db_errmsg(db));
      return -1;
    }
  }
  if (total) log_info(NULL, "msg=\"sensor data pruned\" rows=%" PRId64, total);
  return (int)(total > INT_MAX ? INT_MAX : total);
}
