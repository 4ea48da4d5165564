/*
 * dossiers_flow.c - POST /api/v1/dossiers/{code}/actions: one workflow step.
 *
 * The action must leave the current state; the caller must hold one of its roles at the
 * unit holding the dossier (or be the applicant for "applicant" actions). The holder
 * moves when the target state's level differs (ward: the receiving unit; above: its
 * ancestor at that level). Entering status 5/6 pauses the deadline clock; leaving it
 * moves the due date by the working days spent paused. Reaching status 9/10 the first
 * time classifies the dossier early / on_time / late against the due date. A state with a
 * "share" starts a step with its own deadline (dossier_step_due). The update
 * is conditional on the state read (409 when someone else moved it first).
 */
#include "base/common.h"
#include "services/dossiers_internal.h"
#include "services/calendar.h"
#include "audit/audit.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "http/auth.h"
#include "identity/identity.h"
#include "units/units.h"

static const char *role_permission(const char *role) {
  if (!strcmp(role, "officer")) return "dossiers.receive";
  if (!strcmp(role, "specialist")) return "dossiers.process";
  if (!strcmp(role, "leader")) return "dossiers.approve";
  return NULL;
}

bool dossier_may_act(const app_t *app, const principal_t *p, const json_t *action, const dossier_t *d,
                     int64_t unit_id) {
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(action, "roles"), i, r) {
    const char *role = json_string_value(r);
    if (!strcmp(role, "applicant")) {
      if (p->kind == PRINCIPAL_CITIZEN && d->applicant_account_id && p->account_id == d->applicant_account_id)
        return true;
      continue;
    }
    const char *perm = role_permission(role);
    if (perm && p->kind != PRINCIPAL_CITIZEN && identity_can(app, p, perm, unit_id)) return true;
  }
  return false;
}

/* The unit at `level` for this dossier: the receiving unit or its ancestor. */
static int64_t holder_for(const app_t *app, const dossier_t *d, const char *level) {
  const unit_t *u = units_by_id(app->units, d->unit_id);
  while (u && strcmp(u->level, level)) u = u->parent_id ? units_by_id(app->units, u->parent_id) : NULL;
  return u ? u->id : d->holder_unit_id;
}

int dossier_transition(http_req_t *req, db_t *db, const calendar_t *cal, const dossier_t *dp, const json_t *proc,
                       const json_t *action, const char *comment) {
  app_t *app = req->app;
  const principal_t *p = req->principal;
  const dossier_t *d = dp;
  const json_t *wf = json_object_get(proc, "workflow_definition");
  int days = (int)json_integer_value(json_object_get(proc, "days"));
  const char *action_id = json_string_value(json_object_get(action, "id"));
  const char *to = json_string_value(json_object_get(action, "to"));
  const json_t *to_state = dossier_wf_state(wf, to);
  int to_status = (int)json_integer_value(json_object_get(to_state, "status"));
  const char *to_level = json_string_value(json_object_get(to_state, "holder"));
  const unit_t *holder = units_by_id(app->units, d->holder_unit_id);
  int64_t new_holder = holder && to_level && strcmp(holder->level, to_level) ? holder_for(app, d, to_level)
                                                                               : d->holder_unit_id;
  int64_t now = clock_now_ms(), due = d->due_at, paused = d->paused_at, completed = d->completed_at;
  const char *outcome = d->outcome;
  bool was_paused = d->status == 5 || d->status == 6, pause = to_status == 5 || to_status == 6;
  /* The step: kept (frozen) while paused; the same step resumed after a pause moves by
   * the working days spent paused, like the dossier; any other state starts its own. */
  const char *step_state = d->step_state;
  int64_t step_started = d->step_started_at, step_due = d->step_due_at, step_late = d->step_late_at;
  if (pause && !was_paused) paused = now;
  if (!pause && was_paused && d->paused_at) {
    int extra = calendar_working_days_between(cal, calendar_jdn_of_ms(d->paused_at), calendar_jdn_of_ms(now));
    int open_min, close_min;
    calendar_office_hours(cal, &open_min, &close_min);
    due = calendar_ms_of(calendar_add_working_days(cal, calendar_jdn_of_ms(d->due_at), extra), close_min);
    paused = 0;
    if (step_due && step_state && !strcmp(step_state, to)) {
      step_due = calendar_ms_of(calendar_add_working_days(cal, calendar_jdn_of_ms(step_due), extra),
                                calendar_minute_of_ms(step_due));
      if (step_due > due) step_due = due;
      step_late = 0;
    } else {
      step_state = NULL;
    }
  }
  if (!pause && (!step_state || strcmp(step_state, to))) {
    step_due = dossier_step_due(cal, to_state, days, now, d->new_due_at > due ? d->new_due_at : due);
    step_state = step_due ? to : NULL;
    step_started = step_due ? now : 0;
    step_late = 0;
  }
  if (!step_state) step_due = step_started = step_late = 0;
  /* the event records the step deadline of the state entered (none while paused) */
  int64_t event_step = !pause && step_state && !strcmp(step_state, to) ? step_due : 0;
  if ((to_status == 9 || to_status == 10) && !completed) {
    completed = now;
    outcome = now > due ? "late" : calendar_jdn_of_ms(now) < calendar_jdn_of_ms(due) ? "early" : "on_time";
  }
  db_stmt_t *st = db_prepare(db, "UPDATE dossiers SET state = $1, status = $2, holder_unit_id = $3, due_at = $4, "
                                 "paused_at = $5, completed_at = $6, outcome = $7, updated_at = $8, step_state = $11, "
                                 "step_started_at = $12, step_due_at = $13, step_late_at = $14 "
                                 "WHERE id = $9 AND state = $10");
  if (!st || db_bind_text(st, 1, to) || db_bind_int64(st, 2, to_status) || db_bind_int64(st, 3, new_holder) ||
      db_bind_int64(st, 4, due) || (paused ? db_bind_int64(st, 5, paused) : db_bind_null(st, 5)) ||
      (completed ? db_bind_int64(st, 6, completed) : db_bind_null(st, 6)) || db_bind_text(st, 7, outcome) ||
      db_bind_int64(st, 8, now) || db_bind_int64(st, 9, d->id) || db_bind_text(st, 10, d->state) ||
      db_bind_text(st, 11, step_state) || (step_started ? db_bind_int64(st, 12, step_started) : db_bind_null(st, 12)) ||
      (step_due ? db_bind_int64(st, 13, step_due) : db_bind_null(st, 13)) ||
      (step_late ? db_bind_int64(st, 14, step_late) : db_bind_null(st, 14)) || db_step(st) != DB_DONE) {
    if (st) db_stmt_done(st);
    return -1;
  }
  int64_t changed = db_changes(st);
  db_stmt_done(st);
  if (changed != 1) return 1;
  if (dossier_event_step(db, d->id, p, action_id, d->state, d->status, to, to_status, new_holder, comment, now,
                         event_step))
    return -1;
  audit_entry_t e = audit_entry_from_req(req, "dossier.action", "dossier", d->code);
  e.unit_id = new_holder;
  e.detail = audit_detail(req->arena, json_pack("{s:s, s:s, s:s}", "action", action_id, "from", d->state, "to", to));
  return audit_append(db, &e) ? -1 : 0;
}

void services_dossier_action(http_req_t *req) {
  app_t *app = req->app;
  const principal_t *p = req->principal;
  json_t *body = http_body_object(req);
  if (!body) return;
  const char *action_id = json_get_str(body, "action"), *comment = json_get_str(body, "comment");
  if (!action_id) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "action"), "action is required");
    return;
  }
  if (comment && (strlen(comment) > 2000 || !text_utf8_valid(comment, strlen(comment)))) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "comment"),
                            "comment must be at most 2000 bytes of UTF-8");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  json_t *proc = NULL;
  calendar_t *cal = NULL;
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  dossier_t d;
  int rc = dossier_load(req->arena, db, http_param(req, "code"), &d);
  if (rc < 0) goto db_fail;
  bool visible = rc == 1 && ((p->kind == PRINCIPAL_CITIZEN && p->account_id == d.applicant_account_id) ||
                             (p->kind != PRINCIPAL_CITIZEN && (identity_can(app, p, "dossiers.read", d.holder_unit_id) ||
                                                               identity_can(app, p, "dossiers.read", d.unit_id))));
  if (!visible) {
    http_reply_error(req, ERR_NOT_FOUND, "No dossier with that code");
    goto done;
  }
  if (!(proc = dossier_procedure(req, db, d.procedure_code, "code"))) goto done;
  const json_t *wf = json_object_get(proc, "workflow_definition");
  const json_t *action = NULL;
  size_t i, k;
  json_t *a, *f;
  json_array_foreach(json_object_get(wf, "actions"), i, a) {
    if (strcmp(json_string_value(json_object_get(a, "id")), action_id)) continue;
    json_array_foreach(json_object_get(a, "from"), k, f) if (!strcmp(json_string_value(f), d.state)) action = a;
  }
  if (!action) {
    http_reply_error_detail(req, ERR_CONFLICT, json_pack("{s:s}", "field", "action"),
                            "Action '%.40s' is not possible in state '%s'", action_id, d.state);
    goto done;
  }
  if (!dossier_may_act(app, p, action, &d, d.holder_unit_id)) {
    http_reply_error(req, ERR_FORBIDDEN, "You may not take this action on this dossier");
    goto done;
  }
  if (!(cal = services_calendar(req, db))) goto done;
  if (db_begin(db)) goto db_fail;
  int tr = dossier_transition(req, db, cal, &d, proc, action, comment);
  if (tr < 0) goto db_fail;
  if (tr > 0) {
    db_rollback(db);
    http_reply_error(req, ERR_CONFLICT, "The dossier changed meanwhile; reload it");
    goto done;
  }
  if (db_commit(db)) goto db_fail;
  if (dossier_load(req->arena, db, d.code, &d) != 1) goto db_fail;
  json_t *out = dossier_full_json(app, &d);
  json_object_set_new(out, "timeline", dossier_timeline(db, d.id, true));
  http_reply_json(req, 200, out);
  goto done;
db_fail:
  log_error(req->request_id, "msg=\"dossier action failed\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  json_decref(proc);
  calendar_free(cal);
  db_pool_release(app->db, db);
}
