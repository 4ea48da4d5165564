/*
 * dossiers_common.c - dossier rows, JSON views, timeline and events (see
 * dossiers_internal.h).
 */
#include "base/common.h"
#include "services/dossiers_internal.h"
#include "services/procedures.h"
#include "base/log.h"
#include "http/auth.h"
#include "identity/identity.h"
#include "units/units.h"

static const char *dup_col(arena_t *a, db_stmt_t *st, int col) {
  const char *s = db_col_text(st, col);
  return s ? arena_strdup(a, s) : NULL;
}

void dossier_from_row(arena_t *a, db_stmt_t *st, dossier_t *d) {
  d->id = db_col_int64(st, 0);
  d->code = dup_col(a, st, 1);
  d->procedure_code = dup_col(a, st, 2);
  d->state = dup_col(a, st, 3);
  d->channel = dup_col(a, st, 4);
  d->applicant_cccd = dup_col(a, st, 5);
  d->applicant_name = dup_col(a, st, 6);
  d->form = dup_col(a, st, 7);
  d->outcome = dup_col(a, st, 8);
  d->unit_id = db_col_int64(st, 9);
  d->holder_unit_id = db_col_int64(st, 10);
  d->applicant_account_id = db_col_int64(st, 11);
  d->submitted_at = db_col_int64(st, 12);
  d->due_at = db_col_int64(st, 13);
  d->paused_at = db_col_int64(st, 14);
  d->completed_at = db_col_int64(st, 15);
  d->status = (int)db_col_int64(st, 16);
  d->late_warned_at = db_col_int64(st, 17);
  d->new_due_at = db_col_int64(st, 18);
  d->step_state = dup_col(a, st, 19);
  d->step_started_at = db_col_int64(st, 20);
  d->step_due_at = db_col_int64(st, 21);
  d->step_late_at = db_col_int64(st, 22);
}

int64_t dossier_step_due(const calendar_t *cal, const json_t *state, int days, int64_t now, int64_t cap) {
  int status = (int)json_integer_value(json_object_get(state, "status"));
  double share = json_number_value(json_object_get(state, "share"));
  if (share <= 0 || status == 3 || status == 5 || status == 6 || status == 7 || status == 8 || status == 10) return 0;
  int open_min, close_min;
  calendar_office_hours(cal, &open_min, &close_min);
  int64_t minutes = (int64_t)(share * (days < 0 ? 0 : days) * (close_min - open_min) + 0.5);
  int64_t due = calendar_due_minutes(cal, now, minutes);
  return cap && due > cap ? cap : due;
}

bool dossier_step_overdue(const dossier_t *d, int64_t now) {
  return d->step_due_at && d->step_state && d->state && !strcmp(d->step_state, d->state) && !d->paused_at &&
         d->status != 5 && d->status != 6 && now > d->step_due_at;
}

bool dossier_can_see(const app_t *app, const principal_t *p, const dossier_t *d) {
  if (!p) return false;
  if (p->kind == PRINCIPAL_CITIZEN) return d->applicant_account_id && p->account_id == d->applicant_account_id;
  return identity_can(app, p, "dossiers.read", d->holder_unit_id) || identity_can(app, p, "dossiers.read", d->unit_id);
}

int dossier_load(arena_t *a, db_t *db, const char *code, dossier_t *d) {
  db_stmt_t *st = db_prepare(db, "SELECT " DOSSIER_COLUMNS " FROM dossiers WHERE code = $1");
  if (!st) return -1;
  int rc = -1;
  if (db_bind_text(st, 1, code)) goto done;
  int s = db_step(st);
  if (s == DB_ROW) {
    dossier_from_row(a, st, d);
    rc = 1;
  } else if (s == DB_DONE) {
    rc = 0;
  }
done:
  db_stmt_done(st);
  return rc;
}

json_t *dossier_time(int64_t ms) {
  if (!ms) return json_null();
  char buf[40];
  clock_format_iso(ms, buf, sizeof buf);
  return json_string(buf);
}

static json_t *unit_ref(const app_t *app, int64_t id) {
  const unit_t *u = units_by_id(app->units, id);
  return u ? json_pack("{s:s, s:s, s:s}", "code", u->code, "name", u->name, "level", u->level) : json_null();
}

json_t *dossier_public_json(const app_t *app, const dossier_t *d) {
  bool paused = d->status == 5 || d->status == 6;
  json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:s?}", "code", d->code, "procedure",
                   d->procedure_code, "status", d->status, "state", d->state, "unit", unit_ref(app, d->unit_id),
                   "holder", unit_ref(app, d->holder_unit_id), "submitted_at", dossier_time(d->submitted_at), "due_at",
                   dossier_time(d->due_at), "completed_at", dossier_time(d->completed_at), "clock_paused", paused,
                   "outcome", d->outcome);
  json_object_set_new(o, "late_warning", json_boolean(d->late_warned_at != 0));
  json_object_set_new(o, "new_due_at", dossier_time(d->new_due_at));
  /* The current step's deadline (null when the state has none, e.g. paused or closed). */
  bool step = d->step_due_at && d->step_state && !strcmp(d->step_state, d->state);
  json_object_set_new(o, "step", step ? json_pack("{s:s, s:o, s:o, s:b, s:b}", "state", d->step_state, "started_at",
                                                  dossier_time(d->step_started_at), "due_at",
                                                  dossier_time(d->step_due_at), "overdue",
                                                  dossier_step_overdue(d, clock_now_ms()), "late_warning",
                                                  d->step_late_at != 0)
                                      : json_null());
  return o;
}

json_t *dossier_full_json(const app_t *app, const dossier_t *d) {
  json_t *o = dossier_public_json(app, d);
  json_t *form = json_loads(d->form ? d->form : "{}", 0, NULL);
  json_object_set_new(o, "channel", json_string(d->channel));
  json_object_set_new(o, "applicant", json_pack("{s:s, s:s}", "cccd", d->applicant_cccd, "name", d->applicant_name));
  json_object_set_new(o, "form", form ? form : json_object());
  return o;
}

json_t *dossier_timeline(db_t *db, int64_t dossier_id, bool with_people) {
  db_stmt_t *st = db_prepare(db, "SELECT e.at, e.action, e.from_state, e.to_state, e.from_status, e.to_status, "
                                 "e.actor_kind, e.comment, a.full_name, e.step_due_at FROM dossier_events e "
                                 "LEFT JOIN accounts a ON a.id = e.actor_id WHERE e.dossier_id = $1 ORDER BY e.id");
  if (!st) return NULL;
  json_t *arr = json_array();
  if (db_bind_int64(st, 1, dossier_id)) goto fail;
  int rc;
  while ((rc = db_step(st)) == DB_ROW) {
    json_t *ev = json_pack("{s:o, s:s, s:s?, s:s, s:o, s:I}", "at", dossier_time(db_col_int64(st, 0)), "action",
                           db_col_text(st, 1), "from", db_col_text(st, 2), "to", db_col_text(st, 3), "from_status",
                           db_col_is_null(st, 4) ? json_null() : json_integer(db_col_int64(st, 4)), "to_status",
                           (json_int_t)db_col_int64(st, 5));
    if (with_people) {
      json_object_set_new(ev, "actor_kind", json_string(db_col_text(st, 6)));
      json_object_set_new(ev, "actor", db_col_text(st, 8) ? json_string(db_col_text(st, 8)) : json_null());
      json_object_set_new(ev, "comment", db_col_text(st, 7) ? json_string(db_col_text(st, 7)) : json_null());
    }
    json_object_set_new(ev, "step_due_at", dossier_time(db_col_int64(st, 9)));
    /* raw instants for the step check below, removed before returning */
    json_object_set_new(ev, "_at", json_integer(db_col_int64(st, 0)));
    json_object_set_new(ev, "_due", json_integer(db_col_int64(st, 9)));
    json_array_append_new(arr, ev);
  }
  if (rc < 0) goto fail;
  db_stmt_done(st);
  /* A step with a deadline is late or not once the dossier leaves its state (the next
   * event to another state); null while it runs. */
  size_t n = json_array_size(arr);
  for (size_t i = 0; i < n; i++) {
    json_t *ev = json_array_get(arr, i);
    int64_t due = json_integer_value(json_object_get(ev, "_due"));
    const char *state = json_string_value(json_object_get(ev, "to"));
    json_t *late = json_null();
    for (size_t k = i + 1; due && k < n; k++) {
      json_t *next = json_array_get(arr, k);
      if (strcmp(json_string_value(json_object_get(next, "to")), state)) {
        json_decref(late);
        late = json_boolean(json_integer_value(json_object_get(next, "_at")) > due);
        break;
      }
    }
    json_object_set_new(ev, "step_late", late);
  }
  for (size_t i = 0; i < n; i++) {
    json_object_del(json_array_get(arr, i), "_at");
    json_object_del(json_array_get(arr, i), "_due");
  }
  return arr;
fail:
  db_stmt_done(st);
  json_decref(arr);
  return NULL;
}

json_t *dossier_procedure(http_req_t *req, db_t *db, const char *code, const char *field) {
  json_t *p = NULL;
  int rc = proc_get(db, code, &p);
  if (rc < 0) {
    log_error(req->request_id, "msg=\"procedure load failed\" err=\"%s\"", db_errmsg(db));
    http_reply_error(req, ERR_INTERNAL, NULL);
  } else if (rc == 0) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", field), "No procedure with code '%.40s'",
                            code);
  }
  return rc == 1 ? p : NULL;
}

const json_t *dossier_wf_state(const json_t *wf, const char *state) {
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(wf, "states"), i, s) if (state && !strcmp(json_string_value(json_object_get(s, "id")), state)) return s;
  return NULL;
}

int dossier_event(db_t *db, int64_t dossier_id, const principal_t *p, const char *action, const char *from_state,
                  int from_status, const char *to_state, int to_status, int64_t unit_id, const char *comment,
                  int64_t at) {
  return dossier_event_step(db, dossier_id, p, action, from_state, from_status, to_state, to_status, unit_id, comment,
                            at, 0);
}

int dossier_event_step(db_t *db, int64_t dossier_id, const principal_t *p, const char *action, const char *from_state,
                       int from_status, const char *to_state, int to_status, int64_t unit_id, const char *comment,
                       int64_t at, int64_t step_due) {
  db_stmt_t *st = db_prepare(db, "INSERT INTO dossier_events (dossier_id, at, actor_id, actor_kind, action, from_state, "
                                 "to_state, from_status, to_status, unit_id, comment, step_due_at) "
                                 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
  if (!st) return -1;
  int rc = -1;
  if (db_bind_int64(st, 1, dossier_id) || db_bind_int64(st, 2, at) ||
      (p ? db_bind_int64(st, 3, p->account_id) : db_bind_null(st, 3)) ||
      db_bind_text(st, 4, p ? principal_kind_name(p->kind) : "system") || db_bind_text(st, 5, action) ||
      db_bind_text(st, 6, from_state) || db_bind_text(st, 7, to_state) ||
      (from_state ? db_bind_int64(st, 8, from_status) : db_bind_null(st, 8)) || db_bind_int64(st, 9, to_status) ||
      db_bind_int64(st, 10, unit_id) || db_bind_text(st, 11, comment) ||
      (step_due ? db_bind_int64(st, 12, step_due) : db_bind_null(st, 12)))
    goto done;
  rc = db_step(st) == DB_DONE ? 0 : -1;
done:
  db_stmt_done(st);
  return rc;
}
