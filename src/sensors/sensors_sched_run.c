#include "base/common.h"
#include "sensors/sensors_sched.h"
#include "base/log.h"

#include <jansson.h>

/*
 * The sweeper's side of the street-light schedules (see sensors_sched.h): fire what is
 * due, once across the cluster.
 */

#define RUN_BATCH 50
#define RUN_LOCK_KEY 7006000005LL   /* pg advisory lock key: "sensors schedules" */

typedef struct due {
  int64_t id, next_at, created_by;
  int trig, mod, offset;
  double level;
  char action[8];
  char *devices;   /* malloc'd JSON text */
} due_t;

/* 1 when this node may fire now (SQLite: always; PostgreSQL: the transaction lock). */
static int take_lock(db_t *db)
{
  if (db_kind(db) != DB_POSTGRES) return 1;
  db_stmt_t *st = db_prepare(db, "SELECT CASE WHEN pg_try_advisory_xact_lock($1) THEN 1 ELSE 0 END");
  if (!st) return -1;
  db_bind_int64(st, 1, RUN_LOCK_KEY);
  int rc = db_step(st);
  int got = rc == DB_ROW ? (int)db_col_int64(st, 0) : -1;
  db_stmt_done(st);
  return got;
}

/* One command per light of d at its firing time; a copy is ignored (unique index). */
static int fire(db_t *db, const due_t *d)
{
  json_t *devs = json_loads(d->devices, 0, NULL);
  size_t i;
  json_t *v;
  int rc = 0, n = 0;
  json_array_foreach(devs, i, v) {
    db_stmt_t *st = db_prepare(db, "INSERT INTO sensor_commands(device_id, action, level, not_before, created_by,"
                                   " schedule_id) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING");
    if (!st) {
      rc = -1;
      break;
    }
    db_bind_text(st, 1, json_string_value(v));
    db_bind_text(st, 2, d->action);
    db_bind_double(st, 3, d->level);
    db_bind_int64(st, 4, d->next_at);
    db_bind_int64(st, 5, d->created_by);
    db_bind_int64(st, 6, d->id);
    int s = db_step(st);
    db_stmt_done(st);
    if (s < 0) {
      rc = -1;
      break;
    }
    n++;
  }
  json_decref(devs);
  return rc < 0 ? -1 : n;
}

int sensors_schedules_run(db_t *db, int64_t now)
{
  due_t due[RUN_BATCH];
  int n = 0, fired = 0, rc;
  if (db_begin(db)) goto fail;
  int lock = take_lock(db);
  if (lock < 0) goto fail;
  if (lock == 0) {   /* another node is firing */
    db_rollback(db);
    return 0;
  }
  db_stmt_t *st = db_prepare(db, "SELECT id, next_at, created_by, trig, minute_of_day, offset_min, level, action,"
                                 " devices FROM sensor_schedules WHERE next_at <= $1 ORDER BY next_at, id LIMIT 50");
  if (!st) goto fail;
  db_bind_int64(st, 1, now);
  while ((rc = db_step(st)) == DB_ROW && n < RUN_BATCH) {
    due_t *d = &due[n];
    d->id = db_col_int64(st, 0);
    d->next_at = db_col_int64(st, 1);
    d->created_by = db_col_int64(st, 2);
    d->trig = (int)db_col_int64(st, 3);
    d->mod = (int)db_col_int64(st, 4);
    d->offset = (int)db_col_int64(st, 5);
    d->level = db_col_double(st, 6);
    snprintf(d->action, sizeof d->action, "%s", db_col_text(st, 7));
    d->devices = strdup(db_col_text(st, 8));
    if (!d->devices) break;
    n++;
  }
  db_stmt_done(st);
  if (rc < 0) goto fail;
  for (int i = 0; i < n; i++) {
    bool stale = now - due[i].next_at > SENSORS_SCHED_STALE_MS;
    int made = stale ? 0 : fire(db, &due[i]);
    if (made < 0) goto fail;
    int64_t next = sensors_sched_next((sensors_trigger_t)due[i].trig, due[i].mod, due[i].offset,
                                      due[i].next_at > now ? due[i].next_at : now);
    st = db_prepare(db, stale ? "UPDATE sensor_schedules SET next_at = $2 WHERE id = $1 AND next_at = $4"
                              : "UPDATE sensor_schedules SET next_at = $2, last_fired_at = $3,"
                                " fired_count = fired_count + 1 WHERE id = $1 AND next_at = $4");
    if (!st) goto fail;
    db_bind_int64(st, 1, due[i].id);
    db_bind_int64(st, 2, next);
    if (!stale) db_bind_int64(st, 3, due[i].next_at);
    db_bind_int64(st, 4, due[i].next_at);
    rc = db_step(st);
    int64_t moved = rc < 0 ? 0 : db_changes(st);
    db_stmt_done(st);
    if (rc < 0) goto fail;
    if (moved == 0) continue;   /* another node fired it meanwhile (its commands are the ones kept) */
    if (stale)
      log_warn(NULL, "msg=\"schedule skipped (late)\" schedule=%" PRId64 " due_at=%" PRId64, due[i].id, due[i].next_at);
    else
      log_info(NULL, "msg=\"schedule fired\" schedule=%" PRId64 " at=%" PRId64 " commands=%d next_at=%" PRId64,
               due[i].id, due[i].next_at, made, next);
    fired += !stale;
  }
  if (db_commit(db)) goto fail;
  for (int i = 0; i < n; i++) free(due[i].devices);
  return fired;
fail:
  log_error(NULL, "msg=\"schedule run failed\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  for (int i = 0; i < n; i++) free(due[i].devices);
  return -1;
}
