#include "base/common.h"
#include "reports/reports.h"
#include "reports/reports_internal.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "identity/identity.h"
#include "audit/audit.h"
#include "units/units.h"

#include <sodium.h>

/*
 * Follow-up actions, each one transaction with its event, the reporter's notification
 * and an audit entry: status/note (+ fix photo), reassign, hide, merge, reopen.
 */

typedef struct act {
  http_req_t *req;
  app_t *app;
  db_t *db;
  json_t *body;
  int64_t id, unit_id, reporter, resolved_at;
  const char *status, *department, *public_description;
} act_t;

static const char *act_status_label(const char *s) {
  static const char *const map[][2] = {{"open", "Mới tiếp nhận"},  {"acknowledged", "Đã xác nhận"}, {"in_progress", "Đang xử lý"},
                                       {"resolved", "Đã xử lý xong"}, {"closed", "Đã đóng"},        {"duplicate", "Trùng lặp"}};
  for (size_t i = 0; i < ARRAY_LEN(map); i++)
    if (strcmp(map[i][0], s) == 0) return map[i][1];
  return s;
}

static void act_field_error(http_req_t *req, const char *field, const char *msg) {
  http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", field), "%s", msg);
}

/* Optional string field of at most max bytes (UTF-8). *out NULL when absent. -1 after answering. */
static int act_str(act_t *a, const char *field, size_t max, bool required, const char **out) {
  json_t *v = json_object_get(a->body, field);
  *out = NULL;
  if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
    if (!required) return 0;
    act_field_error(a->req, field, arena_printf(a->req->arena, "%s is required", field));
    return -1;
  }
  if (!json_is_string(v) || json_string_length(v) > max || !text_utf8_valid(json_string_value(v), json_string_length(v))) {
    act_field_error(a->req, field, arena_printf(a->req->arena, "%s must be text of at most %zu bytes", field, max));
    return -1;
  }
  *out = json_string_value(v);
  return 0;
}

/* Parses the body, opens the transaction and loads the report. With `handle`, the
 * caller must hold reports.handle at the report's unit; otherwise it must be the
 * reporter. 0, or -1 after answering (transaction rolled back). */
static int act_begin(http_req_t *req, act_t *a, bool handle) {
  memset(a, 0, sizeof *a);
  a->req = req;
  a->app = req->app;
  if (text_parse_int64(http_param(req, "id"), 1, INT64_MAX, &a->id)) {
    http_reply_error(req, ERR_NOT_FOUND, "No such report");
    return -1;
  }
  a->body = http_body_object(req);
  if (!a->body) return -1;
  a->db = reports_req_db(req);
  if (!a->db) return -1;
  if (db_begin(a->db)) goto fail;
  db_stmt_t *st = db_prepare(a->db, "SELECT status, unit_id, department, reporter_account_id, resolved_at, public_description"
                                    " FROM reports WHERE id = $1");
  if (!st) goto fail;
  db_bind_int64(st, 1, a->id);
  int s = db_step(st);
  if (s == DB_ROW) {
    a->status = arena_strdup(req->arena, db_col_text(st, 0));
    a->unit_id = db_col_int64(st, 1);
    a->department = db_col_text(st, 2) ? arena_strdup(req->arena, db_col_text(st, 2)) : NULL;
    a->reporter = db_col_int64(st, 3);
    a->resolved_at = db_col_int64(st, 4);
    a->public_description = arena_strdup(req->arena, db_col_text(st, 5) ? db_col_text(st, 5) : "");
  }
  db_stmt_done(st);
  if (s < 0) goto fail;
  bool allowed = s == DB_ROW && (handle ? identity_can(a->app, req->principal, "reports.handle", a->unit_id)
                                        : (a->reporter && req->principal->account_id == a->reporter));
  if (!allowed) {
    db_rollback(a->db);
    if (s == DB_ROW && handle)
      http_reply_error(req, ERR_FORBIDDEN, "This report belongs to a unit outside your grants");
    else
      http_reply_error(req, ERR_NOT_FOUND, "No such report");
    return -1;
  }
  return 0;
fail:
  reports_db_fail(req, a->db);
  return -1;
}

/* Audit, commit and answer {id, status}. */
static void act_finish(act_t *a, const char *action, json_t *detail) {
  audit_entry_t e = audit_entry_from_req(a->req, action, "report", arena_printf(a->req->arena, "%" PRId64, a->id));
  e.unit_id = a->unit_id;
  e.detail = audit_detail(a->req->arena, detail);
  if (audit_append(a->db, &e) || db_commit(a->db)) {
    reports_db_fail(a->req, a->db);
    return;
  }
  http_reply_json(a->req, 200, json_pack("{s:I, s:s}", "id", (json_int_t)a->id, "status", a->status));
}

static int act_touch(act_t *a, const char *status) {
  int64_t now = clock_now_ms();
  db_stmt_t *st = db_prepare(a->db, "UPDATE reports SET status = $2, updated_at = $3,"
                                    " resolved_at = CASE WHEN $2 = 'resolved' THEN $3 WHEN $2 = 'open' THEN NULL ELSE resolved_at END,"
                                    " closed_at = CASE WHEN $2 IN ('closed', 'duplicate') THEN $3 ELSE closed_at END WHERE id = $1");
  if (!st) return -1;
  db_bind_int64(st, 1, a->id);
  db_bind_text(st, 2, status);
  db_bind_int64(st, 3, now);
  int s = db_step(st);
  db_stmt_done(st);
  a->status = status;
  return s < 0 ? -1 : 0;
}

static bool act_final(const char *s) { return strcmp(s, "closed") == 0 || strcmp(s, "duplicate") == 0; }

/* POST /api/v1/reports/{id}/events {status?, note?, photo_base64?} */
void reports_h_update(http_req_t *req) {
  act_t a;
  const char *status = NULL, *note = NULL, *b64 = NULL, *why = NULL;
  int64_t ev = 0, photo_id = 0;
  bool dberr = false;
  if (act_begin(req, &a, true)) goto done;
  if (act_str(&a, "status", 32, false, &status) || act_str(&a, "note", REPORTS_TEXT_MAX, false, &note) ||
      act_str(&a, "photo_base64", REPORTS_BODY_MAX, false, &b64))
    goto rollback;
  if (!status && !note && !b64) {
    act_field_error(req, "status", "Give a status, a note or a photo");
    goto rollback;
  }
  if (status && (!reports_status_valid(status) || strcmp(status, "open") == 0 || strcmp(status, "duplicate") == 0)) {
    act_field_error(req, "status", "status must be acknowledged, in_progress, resolved or closed (duplicates: merge)");
    goto rollback;
  }
  if (status && act_final(a.status)) {
    db_rollback(a.db);
    http_reply_error(req, ERR_CONFLICT, "The report is %s; it cannot change any more", a.status);
    goto done;
  }
  if (status && act_touch(&a, status)) goto fail;
  if (reports_event_add(a.db, a.id, req->principal->account_id, status ? "status" : "note", status, note, NULL, &ev)) goto fail;
  if (b64) {
    size_t cap = strlen(b64) / 4 * 3 + 3, len = 0;
    uint8_t *bin = arena_alloc(req->arena, cap);
    if (sodium_base642bin(bin, cap, b64, strlen(b64), "\r\n", &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
      act_field_error(req, "photo_base64", "photo_base64 is not base64");
      goto rollback;
    }
    if (reports_photo_store(req->arena, a.db, a.id, ev, "fix", bin, len, &photo_id, &why, &dberr)) {
      if (dberr) goto fail;
      act_field_error(req, "photo_base64", why);
      goto rollback;
    }
  }
  if (status || note) {
    const char *msg = arena_printf(req->arena, "Phản ánh #%" PRId64 ": %s%s%s", a.id, act_status_label(a.status),
                                   note ? ". Ghi chú: " : "", note ? note : "");
    if (reports_notify(a.db, a.id, status ? "status" : "note", msg)) goto fail;
  }
  act_finish(&a, status ? "report.status" : "report.note",
             json_pack("{s:s, s:b, s:I}", "status", a.status, "note", note != NULL, "photo", (json_int_t)photo_id));
  goto done;
rollback:
  db_rollback(a.db);
  goto done;
fail:
  reports_db_fail(req, a.db);
done:
  if (a.db) db_pool_release(a.app->db, a.db);
}

/* POST /api/v1/reports/{id}/assign {unit_code | department, reason} */
void reports_h_assign(http_req_t *req) {
  act_t a;
  const char *code = NULL, *dept = NULL, *reason = NULL;
  int64_t unit = 0;
  if (act_begin(req, &a, true)) goto done;
  if (act_str(&a, "unit_code", 20, false, &code) || act_str(&a, "department", 200, false, &dept) ||
      act_str(&a, "reason", 1000, true, &reason))
    goto rollback;
  if (!code == !dept) {
    act_field_error(req, "unit_code", "Give either unit_code or department");
    goto rollback;
  }
  if (code) {
    const unit_t *u = units_by_code(a.app->units, units_active_era(a.app->units), code);
    if (!u) {
      act_field_error(req, "unit_code", "No unit with that code in the active era");
      goto rollback;
    }
    unit = u->id;
  } else {
    const unit_t *const *roots = NULL;
    unit = units_roots(a.app->units, units_active_era(a.app->units), &roots) ? roots[0]->id : 0;
  }
  if (act_final(a.status)) {
    db_rollback(a.db);
    http_reply_error(req, ERR_CONFLICT, "The report is %s", a.status);
    goto done;
  }
  const char *from = reports_responsible_name(req->arena, a.app, a.unit_id, a.department);
  const char *to = reports_responsible_name(req->arena, a.app, unit, dept);
  db_stmt_t *st = db_prepare(a.db, "UPDATE reports SET unit_id = $2, department = $3, updated_at = $4 WHERE id = $1");
  if (!st) goto fail;
  db_bind_int64(st, 1, a.id);
  db_bind_int64(st, 2, unit);
  db_bind_text(st, 3, dept);
  db_bind_int64(st, 4, clock_now_ms());
  int s = db_step(st);
  db_stmt_done(st);
  if (s < 0) goto fail;
  const char *note = arena_printf(req->arena, "Chuyển từ %s sang %s", from, to);
  if (reports_event_add(a.db, a.id, req->principal->account_id, "reassign", NULL, note, reason, NULL)) goto fail;
  if (reports_notify(a.db, a.id, "reassign",
                     arena_printf(req->arena, "Phản ánh #%" PRId64 " được chuyển cho %s. Lý do: %s", a.id, to, reason)))
    goto fail;
  int64_t old_unit = a.unit_id;
  a.unit_id = unit;
  act_finish(&a, "report.assign", json_pack("{s:I, s:I, s:s?}", "from_unit", (json_int_t)old_unit, "to_unit", (json_int_t)unit,
                                            "department", dept));
  goto done;
rollback:
  db_rollback(a.db);
  goto done;
fail:
  reports_db_fail(req, a.db);
done:
  if (a.db) db_pool_release(a.app->db, a.db);
}

/* Replaces every occurrence of phrase in s with the mark. NULL when absent. */
static char *act_redact(arena_t *ar, const char *s, const char *phrase) {
  static const char mark[] = "[đã ẩn]";
  size_t pl = strlen(phrase), count = 0;
  for (const char *p = strstr(s, phrase); p; p = strstr(p + pl, phrase)) count++;
  if (!count) return NULL;
  char *out = arena_alloc(ar, strlen(s) + count * sizeof mark + 1), *o = out;
  const char *p = s, *q;
  while ((q = strstr(p, phrase))) {
    memcpy(o, p, (size_t)(q - p));
    o += q - p;
    memcpy(o, mark, sizeof mark - 1);
    o += sizeof mark - 1;
    p = q + pl;
  }
  size_t rest = strlen(p);
  memcpy(o, p, rest + 1);
  return out;
}

/* POST /api/v1/reports/{id}/hide {target: report|photo|phrase, photo_id?, phrase?, reason} */
void reports_h_hide(http_req_t *req) {
  act_t a;
  const char *target = NULL, *phrase = NULL, *reason = NULL, *sql = NULL, *text = NULL;
  json_int_t photo = 0;
  if (act_begin(req, &a, true)) goto done;
  if (act_str(&a, "target", 16, true, &target) || act_str(&a, "reason", 1000, true, &reason) ||
      act_str(&a, "phrase", 500, false, &phrase))
    goto rollback;
  if (strcmp(target, "report") == 0) {
    sql = "UPDATE reports SET hidden_reason = $2, updated_at = $3 WHERE id = $1";
  } else if (strcmp(target, "photo") == 0) {
    if (!json_get_int(a.body, "photo_id", &photo) || photo <= 0) {
      act_field_error(req, "photo_id", "photo_id is required to hide a photo");
      goto rollback;
    }
    sql = "UPDATE report_photos SET hidden_reason = $2 WHERE id = $4 AND report_id = $1 AND $3 > CAST(0 AS BIGINT)";
  } else if (strcmp(target, "phrase") == 0) {
    if (!phrase || strlen(phrase) < 2) {
      act_field_error(req, "phrase", "phrase (2 bytes or more) is required to hide a phrase");
      goto rollback;
    }
    text = act_redact(req->arena, a.public_description, phrase);
    if (!text) {
      act_field_error(req, "phrase", "The phrase does not occur in the public description");
      goto rollback;
    }
    sql = "UPDATE reports SET public_description = $4, updated_at = $3 WHERE id = $1 AND CAST($2 AS TEXT) IS NOT NULL";
  } else {
    act_field_error(req, "target", "target must be report, photo or phrase");
    goto rollback;
  }
  db_stmt_t *st = db_prepare(a.db, sql);
  if (!st) goto fail;
  db_bind_int64(st, 1, a.id);
  db_bind_text(st, 2, reason);
  db_bind_int64(st, 3, clock_now_ms());
  if (photo) db_bind_int64(st, 4, photo);
  else if (text) db_bind_text(st, 4, text);
  int s = db_step(st);
  int64_t changed = s < 0 ? 0 : db_changes(st);
  db_stmt_done(st);
  if (s < 0) goto fail;
  if (changed == 0) {
    db_rollback(a.db);
    http_reply_error(req, ERR_NOT_FOUND, "No such photo on this report");
    goto done;
  }
  const char *what = strcmp(target, "report") == 0 ? "phản ánh" : strcmp(target, "photo") == 0 ? "một ảnh" : "một đoạn nội dung";
  if (reports_event_add(a.db, a.id, req->principal->account_id, "hide", NULL, arena_printf(req->arena, "Đã ẩn %s", what), reason, NULL) ||
      reports_notify(a.db, a.id, "hide",
                     arena_printf(req->arena, "Phản ánh #%" PRId64 ": cán bộ đã ẩn %s khỏi bản đồ công khai. Lý do: %s", a.id, what, reason)))
    goto fail;
  act_finish(&a, "report.hide", json_pack("{s:s, s:I}", "target", target, "photo", photo));
  goto done;
rollback:
  db_rollback(a.db);
  goto done;
fail:
  reports_db_fail(req, a.db);
done:
  if (a.db) db_pool_release(a.app->db, a.db);
}

/* POST /api/v1/reports/{id}/merge {into, reason?} */
void reports_h_merge(http_req_t *req) {
  act_t a;
  const char *reason = NULL;
  json_int_t into = 0;
  if (act_begin(req, &a, true)) goto done;
  if (act_str(&a, "reason", 1000, false, &reason)) goto rollback;
  if (!json_get_int(a.body, "into", &into) || into <= 0 || into == a.id) {
    act_field_error(req, "into", "into must be the id of another report");
    goto rollback;
  }
  if (act_final(a.status)) {
    db_rollback(a.db);
    http_reply_error(req, ERR_CONFLICT, "The report is %s", a.status);
    goto done;
  }
  db_stmt_t *st = db_prepare(a.db, "SELECT status FROM reports WHERE id = $1");
  if (!st) goto fail;
  db_bind_int64(st, 1, into);
  int s = db_step(st);
  bool ok = s == DB_ROW && strcmp(db_col_text(st, 0), "duplicate") != 0;
  db_stmt_done(st);
  if (s < 0) goto fail;
  if (!ok) {
    act_field_error(req, "into", "into must be an existing report that is not itself a duplicate");
    goto rollback;
  }
  if (act_touch(&a, "duplicate")) goto fail;
  st = db_prepare(a.db, "UPDATE reports SET duplicate_of = $2 WHERE id = $1");
  if (!st) goto fail;
  db_bind_int64(st, 1, a.id);
  db_bind_int64(st, 2, into);
  s = db_step(st);
  db_stmt_done(st);
  if (s < 0) goto fail;
  const char *note = arena_printf(req->arena, "Trùng với phản ánh #%" PRId64 "; theo dõi tiến độ tại phản ánh đó", (int64_t)into);
  if (reports_event_add(a.db, a.id, req->principal->account_id, "merge", "duplicate", note, reason, NULL) ||
      reports_event_add(a.db, into, req->principal->account_id, "note", NULL,
                        arena_printf(req->arena, "Đã gộp phản ánh #%" PRId64 " vào đây", a.id), NULL, NULL) ||
      reports_notify(a.db, a.id, "merge", arena_printf(req->arena, "Phản ánh #%" PRId64 ": %s", a.id, note)))
    goto fail;
  act_finish(&a, "report.merge", json_pack("{s:I}", "into", into));
  goto done;
rollback:
  db_rollback(a.db);
  goto done;
fail:
  reports_db_fail(req, a.db);
done:
  if (a.db) db_pool_release(a.app->db, a.db);
}

/* POST /api/v1/reports/{id}/reopen {reason?}: the reporter, within the window after resolution. */
void reports_h_reopen(http_req_t *req) {
  act_t a;
  const char *reason = NULL;
  if (act_begin(req, &a, false)) goto done;
  if (act_str(&a, "reason", 1000, false, &reason)) goto rollback;
  if (strcmp(a.status, "resolved") != 0) {
    db_rollback(a.db);
    http_reply_error(req, ERR_CONFLICT, "Only a resolved report can be reopened (it is %s)", a.status);
    goto done;
  }
  int64_t window = (int64_t)reports_settings.reopen_days * 86400000LL;
  if (clock_now_ms() - a.resolved_at > window) {
    db_rollback(a.db);
    http_reply_error(req, ERR_CONFLICT, "The reopening window (%d days after resolution) has passed", reports_settings.reopen_days);
    goto done;
  }
  if (act_touch(&a, "open")) goto fail;
  db_stmt_t *st = db_prepare(a.db, "UPDATE reports SET reopen_count = reopen_count + 1 WHERE id = $1");
  if (!st) goto fail;
  db_bind_int64(st, 1, a.id);
  int s = db_step(st);
  db_stmt_done(st);
  if (s < 0) goto fail;
  if (reports_event_add(a.db, a.id, req->principal->account_id, "reopen", "open", "Người phản ánh mở lại", reason, NULL) ||
      reports_notify(a.db, a.id, "reopen", arena_printf(req->arena, "Phản ánh #%" PRId64 " đã được mở lại và chuyển lại cho đơn vị xử lý", a.id)))
    goto fail;
  act_finish(&a, "report.reopen", json_pack("{s:b}", "reason", reason != NULL));
  goto done;
rollback:
  db_rollback(a.db);
  goto done;
fail:
  reports_db_fail(req, a.db);
done:
  if (a.db) db_pool_release(a.app->db, a.db);
}
