#include "base/common.h"
#include "sensors/sensors.h"
#include "sensors/sensors_rules.h"
#include "base/log.h"
#include "signup/signup.h"

#include <jansson.h>
#include <math.h>

/*
 * Rules and alerts. Threshold and rate rules are evaluated inside the batch transaction
 * that stores the readings, so an alert and the reading that caused it commit together.
 * Per (rule, device) the state row keeps when the condition started to hold
 * (breach_since) and the last reading seen; readings older than that (late arrivals)
 * are stored but do not move the alert state backwards.
 * An alert is raised once per episode (a partial unique index keeps one open alert per
 * rule and device), acknowledged by an operator, and cleared when the condition stops
 * (or, for offline rules, when the device reports again). Every change appends to
 * sensor_alert_events (the history) and to sensor_outbox (notifications).
 */

static uint64_t g_alert_version;
static __thread int t_pending;   /* events written in this thread's open transaction */

int sensors_alerts_take_pending(void)
{
  int n = t_pending;
  t_pending = 0;
  return n;
}

uint64_t sensors_alerts_version(void) { return __atomic_load_n(&g_alert_version, __ATOMIC_ACQUIRE); }
void sensors_alerts_bump(void) { __atomic_add_fetch(&g_alert_version, 1, __ATOMIC_RELEASE); }

int sensors_rules_load(db_t *db, sensors_rules_t *out)
{
  out->n = 0;
  db_stmt_t *st = db_prepare(db, "SELECT id, kind, device_type, device_id, attr, op, threshold, duration_ms,"
                                 " severity, name FROM sensor_rules WHERE enabled = 1 AND kind <> 'offline'"
                                 " ORDER BY id LIMIT 256");
  if (!st) return -1;
  int rc;
  while ((rc = db_step(st)) == DB_ROW && out->n < SENSORS_MAX_RULES) {
    sensors_rule_t *r = &out->r[out->n++];
    memset(r, 0, sizeof *r);
    r->id = db_col_int64(st, 0);
    r->rate = strcmp(db_col_text(st, 1), "rate") == 0;
    snprintf(r->device_type, sizeof r->device_type, "%s", db_col_text(st, 2) ? db_col_text(st, 2) : "");
    snprintf(r->device_id, sizeof r->device_id, "%s", db_col_text(st, 3) ? db_col_text(st, 3) : "");
    snprintf(r->attr, sizeof r->attr, "%s", db_col_text(st, 4) ? db_col_text(st, 4) : "");
    r->below = strcmp(db_col_text(st, 5), "<") == 0;
    r->threshold = db_col_double(st, 6);
    r->duration_ms = db_col_int64(st, 7);
    snprintf(r->severity, sizeof r->severity, "%s", db_col_text(st, 8));
    snprintf(r->name, sizeof r->name, "%s", db_col_text(st, 9));
  }
  db_stmt_done(st);
  return rc < 0 ? -1 : 0;
}

static const char *event_vi(const char *event)
{
  if (strcmp(event, "raised") == 0) return "Cảnh báo mới";
  if (strcmp(event, "cleared") == 0) return "Đã hết cảnh báo";
  if (strcmp(event, "rule_changed") == 0) return "Đã đóng cảnh báo (quy tắc đã thay đổi)";
  if (strcmp(event, "rule_deleted") == 0) return "Đã đóng cảnh báo (quy tắc đã bị xóa)";
  return event;
}

/* One message per recipient of the alert's rule into notification_outbox (the SMS / mail
 * gateway drains it), in the event's transaction. Acknowledgements notify nobody. */
static int notify_recipients(db_t *db, int64_t alert_id, int64_t at, const char *event)
{
  if (strcmp(event, "acknowledged") == 0) return 0;
  db_stmt_t *st = db_prepare(db, "SELECT r.notify, r.name, a.device_id, COALESCE(d.name, a.device_id),"
                                 " COALESCE(a.message, ''), a.severity FROM sensor_alerts a"
                                 " JOIN sensor_rules r ON r.id = a.rule_id"
                                 " LEFT JOIN sensor_devices d ON d.id = a.device_id WHERE a.id = $1");
  if (!st) return -1;
  db_bind_int64(st, 1, alert_id);
  int rc = db_step(st);
  if (rc != DB_ROW || db_col_is_null(st, 0)) {
    db_stmt_done(st);
    return rc < 0 ? -1 : 0;
  }
  json_t *to = json_loads(db_col_text(st, 0), 0, NULL);
  char when[40], subject[200], body[1024];
  clock_format_iso(at, when, sizeof when);
  snprintf(subject, sizeof subject, "cityos — %s: %s", event_vi(event), db_col_text(st, 1));
  /* when: "2026-11-22T07:05:..." -> "07:05 ngày 22/11/2026" */
  snprintf(body, sizeof body, "%s (%s): %s — thiết bị %s (%s). %s Lúc %.5s ngày %.2s/%.2s/%.4s (giờ Hà Nội).",
           event_vi(event), db_col_text(st, 5), db_col_text(st, 1), db_col_text(st, 3), db_col_text(st, 2),
           db_col_text(st, 4), when + 11, when + 8, when + 5, when);
  db_stmt_done(st);
  size_t i;
  json_t *x;
  int ret = 0;
  json_array_foreach(to, i, x)
  {
    const char *ch = json_string_value(json_object_get(x, "channel"));
    const char *dst = json_string_value(json_object_get(x, "destination"));
    if (ch && dst && outbox_enqueue(db, ch, dst, subject, body, at) < 0) {
      ret = -1;
      break;
    }
  }
  json_decref(to);
  return ret;
}

static int add_event(db_t *db, int64_t alert_id, int64_t at, const char *event, int64_t actor, double value,
                     const char *body)
{
  db_stmt_t *st = db_prepare(db, "INSERT INTO sensor_alert_events(alert_id, at, event, actor, value)"
                                 " VALUES ($1,$2,$3,$4,$5)");
  if (!st) return -1;
  db_bind_int64(st, 1, alert_id);
  db_bind_int64(st, 2, at);
  db_bind_text(st, 3, event);
  if (actor) db_bind_int64(st, 4, actor);
  else db_bind_null(st, 4);
  if (isnan(value)) db_bind_null(st, 5);
  else db_bind_double(st, 5, value);
  int rc = db_step(st);
  db_stmt_done(st);
  if (rc < 0) return -1;
  t_pending++;
  if (db_kind(db) == DB_POSTGRES) {   /* wakes every node's live feed at commit */
    st = db_prepare(db, "SELECT pg_notify('" SENSORS_ALERTS_CHANNEL "', '')");
    if (!st) return -1;
    rc = db_step(st);
    db_stmt_done(st);
    if (rc < 0) return -1;
  }
  st = db_prepare(db, "INSERT INTO sensor_outbox(created_at, alert_id, event, body) VALUES ($1,$2,$3,$4)");
  if (!st) return -1;
  db_bind_int64(st, 1, at);
  db_bind_int64(st, 2, alert_id);
  db_bind_text(st, 3, event);
  db_bind_text(st, 4, body ? body : "");
  rc = db_step(st);
  db_stmt_done(st);
  if (rc < 0) return -1;
  return notify_recipients(db, alert_id, at, event);
}

int sensors_alert_event(db_t *db, int64_t alert_id, int64_t at, const char *event, int64_t actor)
{
  return add_event(db, alert_id, at, event, actor, NAN, event);
}

/* The open alert of (rule, device): its id, or 0; -1 on error. */
static int64_t open_alert(db_t *db, int64_t rule_id, const char *dev)
{
  db_stmt_t *st = db_prepare(db, "SELECT id FROM sensor_alerts WHERE rule_id = $1 AND device_id = $2"
                                 " AND state <> 'cleared'");
  if (!st) return -1;
  db_bind_int64(st, 1, rule_id);
  db_bind_text(st, 2, dev);
  int rc = db_step(st);
  int64_t id = rc == DB_ROW ? db_col_int64(st, 0) : rc == DB_DONE ? 0 : -1;
  db_stmt_done(st);
  return id;
}

int sensors_alert_raise(db_t *db, int64_t rule_id, const char *dev, const char *severity, const char *message,
                        double value, int64_t at)
{
  int64_t existing = open_alert(db, rule_id, dev);
  if (existing != 0) return existing < 0 ? -1 : 0;
  db_stmt_t *st = db_prepare(db, "INSERT INTO sensor_alerts(rule_id, device_id, unit_id, state, severity, message,"
                                 " value, raised_at) SELECT $1, id, unit_id, 'raised', $3, $4, $5, $6"
                                 " FROM sensor_devices WHERE id = $2 AND EXISTS (SELECT 1 FROM sensor_rules"
                                 " WHERE sensor_rules.id = $1 AND enabled = 1) RETURNING id");
  if (!st) return -1;
  db_bind_int64(st, 1, rule_id);
  db_bind_text(st, 2, dev);
  db_bind_text(st, 3, severity);
  db_bind_text(st, 4, message);
  if (isnan(value)) db_bind_null(st, 5);
  else db_bind_double(st, 5, value);
  db_bind_int64(st, 6, at);
  int rc = db_step(st);
  int64_t id = rc == DB_ROW ? db_col_int64(st, 0) : 0;
  db_stmt_done(st);
  if (rc < 0) return -1;
  if (id && add_event(db, id, at, "raised", 0, value, message)) return -1;
  return 0;
}

static int clear_alert_by(db_t *db, int64_t alert_id, int64_t at, double value, const char *event, int64_t actor)
{
  db_stmt_t *st = db_prepare(db, "UPDATE sensor_alerts SET state = 'cleared', cleared_at = $2 WHERE id = $1");
  if (!st) return -1;
  db_bind_int64(st, 1, alert_id);
  db_bind_int64(st, 2, at);
  int rc = db_step(st);
  db_stmt_done(st);
  if (rc < 0) return -1;
  return add_event(db, alert_id, at, event, actor, value, event);
}

static int clear_alert(db_t *db, int64_t alert_id, int64_t at, double value)
{
  return clear_alert_by(db, alert_id, at, value, "cleared", 0);
}

int sensors_rule_reset(db_t *db, int64_t rule_id, int64_t at, const char *event, int64_t actor)
{
  db_stmt_t *st = db_prepare(db, "SELECT id FROM sensor_alerts WHERE rule_id = $1 AND state <> 'cleared' ORDER BY id");
  if (!st) return -1;
  db_bind_int64(st, 1, rule_id);
  int64_t *ids = NULL;
  size_t n = 0, cap = 0;
  int rc;
  while ((rc = db_step(st)) == DB_ROW) {
    if (n == cap) {
      cap = cap ? cap * 2 : 32;
      int64_t *g = realloc(ids, cap * sizeof *g);
      if (!g) {
        rc = -1;
        break;
      }
      ids = g;
    }
    ids[n++] = db_col_int64(st, 0);
  }
  db_stmt_done(st);
  for (size_t i = 0; rc >= 0 && i < n; i++)
    if (clear_alert_by(db, ids[i], at, NAN, event, actor)) rc = -1;
  free(ids);
  if (rc < 0) return -1;
  st = db_prepare(db, "DELETE FROM sensor_rule_state WHERE rule_id = $1");
  if (!st) return -1;
  db_bind_int64(st, 1, rule_id);
  rc = db_step(st);
  db_stmt_done(st);
  return rc < 0 ? -1 : (int)(n > INT_MAX ? INT_MAX : n);
}

/* One rule against one new reading. */
static int eval_rule(db_t *db, const sensors_rule_t *r, const char *dev, int64_t ts, double v, int64_t now)
{
  bool have = false;
  int64_t since = 0, last_ts = 0;
  double last_v = 0;
  db_stmt_t *st = db_prepare(db, "SELECT breach_since, last_ts, last_value FROM sensor_rule_state"
                                 " WHERE rule_id = $1 AND device_id = $2");
  if (!st) return -1;
  db_bind_int64(st, 1, r->id);
  db_bind_text(st, 2, dev);
  int rc = db_step(st);
  if (rc == DB_ROW) {
    have = true;
    since = db_col_is_null(st, 0) ? 0 : db_col_int64(st, 0);
    last_ts = db_col_int64(st, 1);
    last_v = db_col_double(st, 2);
  }
  db_stmt_done(st);
  if (rc < 0) return -1;
  if (have && ts <= last_ts) return 0;   /* late or repeated: stored, state unchanged */
  bool breach;
  double shown = v;
  if (r->rate) {
    double per_min = have ? fabs(v - last_v) / ((double)(ts - last_ts) / 60000.0) : 0;
    breach = have && (r->below ? per_min < r->threshold : per_min > r->threshold);
    shown = per_min;
  } else {
    breach = r->below ? v < r->threshold : v > r->threshold;
  }
  if (breach && !since) since = ts;
  if (!breach) since = 0;
  if (breach && ts - since >= r->duration_ms) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s: %s %s %g%s", r->name, r->attr, r->below ? "<" : ">", r->threshold,
             r->rate ? " per minute" : "");
    if (sensors_alert_raise(db, r->id, dev, r->severity, msg, shown, now)) return -1;
  } else if (!breach) {
    int64_t open = open_alert(db, r->id, dev);
    if (open < 0 || (open > 0 && clear_alert(db, open, now, shown))) return -1;
  }
  st = db_prepare(db, "INSERT INTO sensor_rule_state(rule_id, device_id, breach_since, last_ts, last_value)"
                      " VALUES ($1,$2,$3,$4,$5) ON CONFLICT (rule_id, device_id) DO UPDATE SET"
                      " breach_since = excluded.breach_since, last_ts = excluded.last_ts,"
                      " last_value = excluded.last_value");
  if (!st) return -1;
  db_bind_int64(st, 1, r->id);
  db_bind_text(st, 2, dev);
  if (since) db_bind_int64(st, 3, since);
  else db_bind_null(st, 3);
  db_bind_int64(st, 4, ts);
  db_bind_double(st, 5, v);
  rc = db_step(st);
  db_stmt_done(st);
  return rc < 0 ? -1 : 0;
}

int sensors_rules_eval(db_t *db, const sensors_rules_t *rules, const char *dev, const char *type,
                       const char *attr, int64_t ts, double v, int64_t now)
{
  for (size_t i = 0; i < rules->n; i++) {
    const sensors_rule_t *r = &rules->r[i];
    if (strcmp(r->attr, attr) != 0) continue;
    if (r->device_id[0] && strcmp(r->device_id, dev) != 0) continue;
    if (r->device_type[0] && strcmp(r->device_type, type) != 0) continue;
    if (eval_rule(db, r, dev, ts, v, now)) return -1;
  }
  return 0;
}

int sensors_rules_device_seen(db_t *db, const char *dev, int64_t now)
{
  db_stmt_t *st = db_prepare(db, "SELECT a.id FROM sensor_alerts a JOIN sensor_rules r ON r.id = a.rule_id"
                                 " WHERE a.device_id = $1 AND a.state <> 'cleared' AND r.kind = 'offline'");
  if (!st) return -1;
  db_bind_text(st, 1, dev);
  int64_t ids[8];
  int n = 0, rc;
  while ((rc = db_step(st)) == DB_ROW && n < 8) ids[n++] = db_col_int64(st, 0);
  db_stmt_done(st);
  if (rc < 0) return -1;
  for (int i = 0; i < n; i++)
    if (clear_alert(db, ids[i], now, NAN)) return -1;
  return n;
}

int sensors_rules_sweep_offline(db_t *db, int64_t now)
{
  int raised = 0;
  if (db_begin(db)) goto fail;
  db_stmt_t *st = db_prepare(db,
    "SELECT r.id, d.id, r.severity, r.name, r.duration_ms FROM sensor_rules r JOIN sensor_devices d"
    " ON (r.device_id IS NULL OR r.device_id = d.id) AND (r.device_type IS NULL OR r.device_type = d.type)"
    " WHERE r.kind = 'offline' AND r.enabled = 1 AND d.status = 'active' AND d.last_seen_at > 0"
    " AND d.last_seen_at < $1 - r.duration_ms AND NOT EXISTS (SELECT 1 FROM sensor_alerts a"
    " WHERE a.rule_id = r.id AND a.device_id = d.id AND a.state <> 'cleared') LIMIT 1000");
  if (!st) goto fail;
  db_bind_int64(st, 1, now);
  struct {
    int64_t rule;
    char dev[SENSORS_ID_MAX + 1];
    char sev[16];
    char msg[160];
  } *hits = calloc(1000, sizeof *hits);
  int n = 0, rc;
  if (!hits) {
    db_stmt_done(st);
    goto fail;
  }
  while ((rc = db_step(st)) == DB_ROW && n < 1000) {
    hits[n].rule = db_col_int64(st, 0);
    snprintf(hits[n].dev, sizeof hits[n].dev, "%s", db_col_text(st, 1));
    snprintf(hits[n].sev, sizeof hits[n].sev, "%s", db_col_text(st, 2));
    snprintf(hits[n].msg, sizeof hits[n].msg, "%s: silent for more than %" PRId64 " s", db_col_text(st, 3),
             db_col_int64(st, 4) / 1000);
    n++;
  }
  db_stmt_done(st);
  for (int i = 0; rc >= 0 && i < n; i++)
    if (sensors_alert_raise(db, hits[i].rule, hits[i].dev, hits[i].sev, hits[i].msg, NAN, now)) rc = -1;
  free(hits);
  if (rc < 0 || db_commit(db)) goto fail;
  raised = n;
  if (n) sensors_alerts_bump();
  return raised;
fail:
  log_error(NULL, "msg=\"offline sweep failed\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  return -1;
}
