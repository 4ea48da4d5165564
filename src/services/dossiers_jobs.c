/*
 * dossiers_jobs.c - the background job of `cityos serve`: every interval (environment
 * CITYOS_SERVICES_JOB_INTERVAL_S, default 300 s) it flags the open dossiers that will be
 * late (due before the end of the next working day, clock running) by setting
 * late_warned_at once. Officers see "late_warning" in the inbox and must issue the
 * apology-and-new-appointment slip: POST /api/v1/dossiers/{code}/reschedule then the
 * "apology" slip. It also flags the workflow steps past their own deadline
 * (step_late_at, shown as step.late_warning). Conditional UPDATEs, so several nodes may
 * run it at once.
 */
#include "base/common.h"
#include "services/dossiers_internal.h"
#include "services/calendar.h"
#include "services/calendar_store.h"
#include "audit/audit.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "http/auth.h"
#include "identity/identity.h"
#include <pthread.h>

static pthread_t job_thread;
static pthread_mutex_t job_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_cv = PTHREAD_COND_INITIALIZER;
static bool job_stop, job_running;

long services_flag_late(app_t *app, int64_t now) {
  db_t *db = db_pool_acquire(app->db);
  if (!db) return -1;
  char why[256];
  long n = -1;
  calendar_t *cal = calendar_store_load(db, app->cfg->data_dir, why, sizeof why);
  if (!cal) {
    log_error(NULL, "msg=\"late job: calendar\" why=\"%s\"", why);
    goto done;
  }
  int open_min, close_min;
  calendar_office_hours(cal, &open_min, &close_min);
  int64_t horizon = calendar_ms_of(calendar_add_working_days(cal, calendar_jdn_of_ms(now) + 1, 0), close_min);
  /* In batches of 500 rows, each its own short transaction, so a backlog (a first
   * run over a large table) never holds the write lock for long. Pass 0: dossiers that
   * will be late; pass 1: steps already past their own deadline (step_late_at). */
  static const char *const SQL[2] = {
      "UPDATE dossiers SET late_warned_at = $1 WHERE id IN (SELECT id FROM dossiers "
      "WHERE status IN (1, 2, 4) AND due_at <= $2 AND late_warned_at IS NULL "
      "AND paused_at IS NULL LIMIT 500)",
      "UPDATE dossiers SET step_late_at = $1 WHERE id IN (SELECT id FROM dossiers "
      "WHERE status IN (1, 2, 4, 9) AND step_due_at < $2 AND step_late_at IS NULL "
      "AND step_state = state AND paused_at IS NULL LIMIT 500)"};
  long counts[2] = {0, 0};
  n = 0;
  for (int pass = 0; pass < 2 && n >= 0; pass++) {
    for (;;) {
      db_stmt_t *st = db_prepare(db, SQL[pass]);
      int64_t changed = -1;
      if (st && !db_bind_int64(st, 1, now) && !db_bind_int64(st, 2, pass ? now : horizon) && db_step(st) == DB_DONE)
        changed = db_changes(st);
      if (st) db_stmt_done(st);
      if (changed < 0) {
        n = -1;
        break;
      }
      counts[pass] += (long)changed;
      pthread_mutex_lock(&job_mu);
      bool stopping = job_stop;
      pthread_mutex_unlock(&job_mu);
      if (changed < 500 || stopping) break;
    }
  }
  if (counts[0] > 0) log_info(NULL, "msg=\"dossiers flagged as going to be late\" count=%ld", counts[0]);
  if (counts[1] > 0) log_info(NULL, "msg=\"workflow steps flagged as running late\" count=%ld", counts[1]);
  if (n < 0) log_error(NULL, "msg=\"late job failed\" err=\"%s\"", db_errmsg(db));
  else n = counts[0] + counts[1];
done:
  calendar_free(cal);
  db_pool_release(app->db, db);
  return n;
}

static void *job_main(void *arg) {
  app_t *app = arg;
  int64_t interval = 300;
  const char *env = getenv("CITYOS_SERVICES_JOB_INTERVAL_S");
  if (env && text_parse_int64(env, 1, 86400, &interval) < 0) interval = 300;
  pthread_mutex_lock(&job_mu);
  while (!job_stop) {
    pthread_mutex_unlock(&job_mu);
    services_flag_late(app, clock_now_ms());
    pthread_mutex_lock(&job_mu);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += interval;
    while (!job_stop && pthread_cond_timedwait(&job_cv, &job_mu, &ts) == 0) {
    }
  }
  pthread_mutex_unlock(&job_mu);
  return NULL;
}

int services_jobs_start(app_t *app) {
  job_stop = false;
  if (pthread_create(&job_thread, NULL, job_main, app) != 0) return -1;
  job_running = true;
  return 0;
}

void services_jobs_stop(app_t *app) {
  (void)app;
  if (!job_running) return;
  pthread_mutex_lock(&job_mu);
  job_stop = true;
  pthread_cond_broadcast(&job_cv);
  pthread_mutex_unlock(&job_mu);
  pthread_join(job_thread, NULL);
  job_running = false;
}

/* POST /api/v1/dossiers/{code}/reschedule {"new_due": "YYYY-MM-DD", "reason"}: the new
 * appointment of the apology slip (the dossier stays classified against its due date). */
void services_dossier_reschedule(http_req_t *req) {
  app_t *app = req->app;
  const principal_t *p = req->principal;
  json_t *body = http_body_object(req);
  if (!body) return;
  const char *nd = json_get_str(body, "new_due"), *reason = json_get_str(body, "reason");
  int32_t j;
  if (!nd || calendar_parse_date(nd, &j) < 0) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "new_due"), "new_due must be YYYY-MM-DD");
    return;
  }
  if (!reason || !*reason || strlen(reason) > 1000 || !text_utf8_valid(reason, strlen(reason))) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "reason"),
                            "reason is required (at most 1000 bytes)");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  calendar_t *cal = NULL;
  db_stmt_t *st = NULL;
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  dossier_t d;
  int rc = dossier_load(req->arena, db, http_param(req, "code"), &d);
  if (rc < 0) goto fail;
  if (rc == 0 || p->kind == PRINCIPAL_CITIZEN || !identity_can(app, p, "dossiers.read", d.holder_unit_id)) {
    http_reply_error(req, ERR_NOT_FOUND, "No dossier with that code");
    goto done;
  }
  if (!identity_can(app, p, "dossiers.process", d.holder_unit_id)) {
    http_reply_error(req, ERR_FORBIDDEN, "You may not reschedule this dossier");
    goto done;
  }
  if (d.status == 3 || d.status == 7 || d.status == 8 || d.status == 10) {
    http_reply_error(req, ERR_CONFLICT, "The dossier is closed");
    goto done;
  }
  char why[128];
  if (!(cal = calendar_store_load(db, app->cfg->data_dir, why, sizeof why))) goto fail;
  int open_min, close_min;
  calendar_office_hours(cal, &open_min, &close_min);
  int64_t new_due = calendar_ms_of(j, close_min);
  if (!calendar_is_working_day(cal, j) || new_due <= d.due_at) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "new_due"),
                            "new_due must be a working day after the current due date");
    goto done;
  }
  if (db_begin(db)) goto fail;
  st = db_prepare(db, "UPDATE dossiers SET new_due_at = $1, updated_at = $2 WHERE id = $3");
  if (!st || db_bind_int64(st, 1, new_due) || db_bind_int64(st, 2, clock_now_ms()) || db_bind_int64(st, 3, d.id) ||
      db_step(st) != DB_DONE)
    goto fail;
  db_stmt_done(st);
  st = NULL;
  if (dossier_event(db, d.id, p, "reschedule", d.state, d.status, d.state, d.status, d.holder_unit_id, reason,
                    clock_now_ms()))
    goto fail;
  audit_entry_t e = audit_entry_from_req(req, "dossier.reschedule", "dossier", d.code);
  e.unit_id = d.holder_unit_id;
  e.detail = audit_detail(req->arena, json_pack("{s:s}", "new_due", nd));
  if (audit_append(db, &e) || db_commit(db)) goto fail;
  http_reply_json(req, 200, json_pack("{s:s, s:o}", "code", d.code, "new_due_at", dossier_time(new_due)));
  goto done;
fail:
  log_error(req->request_id, "msg=\"reschedule failed\" err=\"%s\"", db_errmsg(db));
  if (st) db_stmt_done(st);
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  calendar_free(cal);
  db_pool_release(app->db, db);
}
