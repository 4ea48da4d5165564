#include "base/common.h"
#include "sensors/sensors.h"
#include "sensors/sensors_commands.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"

/*
 * Street-light commands: queued in sensor_commands (now or at a fixed time), published by
 * the MQTT ingester at QoS 1 on cityos/v1/devices/{id}/commands as {"id", "action",
 * "level"}, retried every retry interval until the device answers on .../acks with
 * {"id", "status": "ok" | "error"}, and marked failed after the last attempt's timeout.
 * With several nodes on PostgreSQL an advisory transaction lock lets one node dispatch at
 * a time, so a command is not published by two nodes at once.
 */

void sensors_cmd_settings(int64_t *retry_ms, int64_t *max_attempts)
{
  const char *r = getenv("CITYOS_SENSORS_CMD_RETRY_MS"), *m = getenv("CITYOS_SENSORS_CMD_ATTEMPTS");
  *retry_ms = 10000;
  *max_attempts = 3;
  if (r && *r) text_parse_int64(r, 100, 3600000, retry_ms);
  if (m && *m) text_parse_int64(m, 1, 100, max_attempts);
}

int sensors_commands_dispatch(db_t *db, int64_t now, sensors_publish_fn publish, void *ctx)
{
  int64_t retry_ms, max_attempts;
  sensors_cmd_settings(&retry_ms, &max_attempts);
  struct {
    int64_t id, attempts;
    char dev[SENSORS_ID_MAX + 1], action[8];
    double level;
  } due[100];
  int n = 0, rc;
  if (db_begin(db)) goto fail;
  db_stmt_t *st;
  if (db_kind(db) == DB_POSTGRES) {
    /* One dispatcher at a time across the nodes, until this transaction ends: the next
     * node sees the commands already marked sent, so none is published twice. */
    st = db_prepare(db, "SELECT CASE WHEN pg_try_advisory_xact_lock(7006000006) THEN 1 ELSE 0 END");
    if (!st) goto fail;
    rc = db_step(st);
    int got = rc == DB_ROW ? (int)db_col_int64(st, 0) : -1;
    db_stmt_done(st);
    if (got < 0) goto fail;
    if (got == 0) {
      db_rollback(db);
      return 0;
    }
  }
  st = db_prepare(db, "SELECT id, device_id, action, level, attempts FROM sensor_commands"
                                 " WHERE state IN ('pending','sent') AND not_before <= $1"
                                 " AND (sent_at IS NULL OR sent_at <= $2) ORDER BY id LIMIT 100");
  if (!st) goto fail;
  db_bind_int64(st, 1, now);
  db_bind_int64(st, 2, now - retry_ms);
  while ((rc = db_step(st)) == DB_ROW && n < 100) {
    due[n].id = db_col_int64(st, 0);
    snprintf(due[n].dev, sizeof due[n].dev, "%s", db_col_text(st, 1));
    snprintf(due[n].action, sizeof due[n].action, "%s", db_col_text(st, 2));
    due[n].level = db_col_double(st, 3);
    due[n].attempts = db_col_int64(st, 4);
    n++;
  }
  db_stmt_done(st);
  if (rc < 0) goto fail;
  for (int i = 0; i < n; i++) {
    bool give_up = due[i].attempts >= max_attempts;
    if (!give_up) {
      char topic[128], body[160];
      snprintf(topic, sizeof topic, "cityos/v1/devices/%s/commands", due[i].dev);
      int len = snprintf(body, sizeof body, "{\"id\":%" PRId64 ",\"action\":\"%s\",\"level\":%.2f}", due[i].id,
                         due[i].action, due[i].level);
      if (publish(ctx, topic, body, (size_t)len) != 0) continue;   /* not connected: later */
    }
    st = db_prepare(db, give_up ? "UPDATE sensor_commands SET state = 'failed', finished_at = $2,"
                                  " error = 'no acknowledgement' WHERE id = $1"
                                : "UPDATE sensor_commands SET state = 'sent', attempts = attempts + 1,"
                                  " sent_at = $2 WHERE id = $1");
    if (!st) goto fail;
    db_bind_int64(st, 1, due[i].id);
    db_bind_int64(st, 2, now);
    rc = db_step(st);
    db_stmt_done(st);
    if (rc < 0) goto fail;
  }
  if (db_commit(db)) goto fail;
  return n;
fail:
  log_error(NULL, "msg=\"command dispatch failed\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  return -1;
}

int sensors_commands_ack(db_t *db, const char *dev, const char *payload, size_t len, int64_t now, char *why,
                         size_t whylen)
{
  char err[100];
  json_t *j = json_parse_limited(payload, len, 4, err, sizeof err);
  int rc = 0;
  if (!j) {
    snprintf(why, whylen, "invalid_json: %.80s", err);
    return 0;
  }
  json_t *id = json_object_get(j, "id");
  const char *status = json_string_value(json_object_get(j, "status"));
  if (!json_is_integer(id) || !status || (strcmp(status, "ok") && strcmp(status, "error"))) {
    snprintf(why, whylen, "bad_ack");
    goto done;
  }
  bool ok = strcmp(status, "ok") == 0;
  db_stmt_t *st = db_prepare(db, "SELECT state FROM sensor_commands WHERE id = $1 AND device_id = $2");
  if (!st) {
    rc = -1;
    goto done;
  }
  db_bind_int64(st, 1, (int64_t)json_integer_value(id));
  db_bind_text(st, 2, dev);
  int found = db_step(st);
  bool open = found == DB_ROW && (strcmp(db_col_text(st, 0), "pending") == 0 || strcmp(db_col_text(st, 0), "sent") == 0);
  db_stmt_done(st);
  if (found < 0) {
    rc = -1;
    goto done;
  }
  if (found == DB_DONE) {
    snprintf(why, whylen, "unknown_command");
    goto done;
  }
  if (!open) goto done;   /* a repeated acknowledgement: already final */
  st = db_prepare(db, "UPDATE sensor_commands SET state = $3, acked_at = $4, finished_at = $4, error = $5"
                      " WHERE id = $1 AND device_id = $2");
  if (!st) {
    rc = -1;
    goto done;
  }
  db_bind_int64(st, 1, (int64_t)json_integer_value(id));
  db_bind_text(st, 2, dev);
  db_bind_text(st, 3, ok ? "acked" : "failed");
  db_bind_int64(st, 4, now);
  const char *e = json_string_value(json_object_get(j, "error"));
  db_bind_text(st, 5, ok ? NULL : (e && text_utf8_valid(e, strlen(e)) && strlen(e) < 200 ? e : "device error"));
  if (db_step(st) < 0) rc = -1;
  db_stmt_done(st);
done:
  json_decref(j);
  return rc;
}
