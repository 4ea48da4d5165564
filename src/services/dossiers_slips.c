/*
 * dossiers_slips.c - GET /api/v1/dossiers/{code}/slips/{kind}: the statutory papers of a
 * dossier as PDF. Kinds: receipt (giấy tiếp nhận hồ sơ và hẹn trả kết quả), supplement
 * (one request listing every missing item: the comment of the last supplement request),
 * refusal (with the reasons), apology (apology and new appointment, after a reschedule),
 * fee_receipt (the confirmed payments). The QR code holds the public lookup URL, the dossier code,
 * the procedure code and the applicant's CCCD. Applicant or the unit's officers; audited.
 */
#include "base/common.h"
#include "services/dossiers_internal.h"
#include "services/slips.h"
#include "audit/audit.h"
#include "base/log.h"
#include "http/auth.h"
#include "identity/identity.h"
#include "units/units.h"

static const char *vn_time(arena_t *a, int64_t ms) {
  if (!ms) return "-";
  char iso[40];
  clock_format_iso(ms, iso, sizeof iso);   /* 2026-11-22T12:00:00.123+07:00 */
  return arena_printf(a, "%.2s/%.2s/%.4s %.5s", iso + 8, iso + 5, iso, iso + 11);
}

/* The comment of the last event whose action is one of `actions` (NULL when none). */
static const char *last_comment(arena_t *a, db_t *db, int64_t id, const char *actions) {
  db_stmt_t *st = db_prepare(db, "SELECT action, comment FROM dossier_events WHERE dossier_id = $1 ORDER BY id DESC");
  const char *out = NULL;
  if (!st) return NULL;
  if (!db_bind_int64(st, 1, id))
    while (!out && db_step(st) == DB_ROW)
      if (strstr(actions, db_col_text(st, 0))) out = arena_strdup(a, db_col_text(st, 1) ? db_col_text(st, 1) : "");
  db_stmt_done(st);
  return out;
}

int dossier_slip_render(http_req_t *req, db_t *db, const dossier_t *dp, const json_t *proc, const char *kind,
                        unsigned char **pdf, size_t *len) {
  app_t *app = req->app;
  const dossier_t d = *dp;
  const unit_t *u = units_by_id(app->units, d.unit_id);
  slip_t s = {.issuer = u ? arena_printf(req->arena, "UBND %s", u->name) : "UBND"};
  const char *host = http_header(req, "Host");
  s.qr_text = arena_printf(req->arena, "http://%s/api/v1/lookup/dossiers/%s|%s|%s|%s", host ? host : "localhost",
                           d.code, d.code, d.procedure_code, d.applicant_cccd);
  const char *channel = !strcmp(d.channel, "online") ? "trực tuyến / online"
                        : !strcmp(d.channel, "post") ? "qua bưu chính / by post" : "trực tiếp / at the counter";
  s.lines[s.nlines++] = arena_printf(req->arena, "Mã hồ sơ / Dossier code: %s", d.code);
  s.lines[s.nlines++] = arena_printf(req->arena, "Thủ tục / Procedure: %s (%s)",
                                     json_string_value(json_object_get(proc, "name")), d.procedure_code);
  s.lines[s.nlines++] = arena_printf(req->arena, "Người nộp / Applicant: %s - CCCD %s", d.applicant_name, d.applicant_cccd);
  s.lines[s.nlines++] = arena_printf(req->arena, "Hình thức nộp / Channel: %s", channel);
  s.lines[s.nlines++] = arena_printf(req->arena, "Ngày nộp / Submitted: %s", vn_time(req->arena, d.submitted_at));
  if (!strcmp(kind, "receipt")) {
    s.title = "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ";
    s.lines[s.nlines++] = arena_printf(req->arena, "Ngày hẹn trả kết quả / Appointment: %s", vn_time(req->arena, d.due_at));
    s.lines[s.nlines++] = arena_printf(req->arena, "Kết quả / Result: %s", json_string_value(json_object_get(proc, "result")));
  } else if (!strcmp(kind, "supplement")) {
    const char *c = last_comment(req->arena, db, d.id, "request_supplement");
    if (!c) {
      http_reply_error(req, ERR_CONFLICT, "No supplement was requested for this dossier");
      return 1;
    }
    s.title = "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ";
    s.lines[s.nlines++] = "Hồ sơ cần bổ sung các nội dung sau / Please supply:";
    s.lines[s.nlines++] = *c ? c : "(không ghi)";
    s.lines[s.nlines++] = "Thời gian bổ sung không tính vào thời hạn giải quyết / The clock is paused meanwhile.";
  } else if (!strcmp(kind, "fee_receipt")) {
    db_stmt_t *ps = db_prepare(db, "SELECT reference, amount, transaction_id, paid_at FROM payments "
                                   "WHERE dossier_id = $1 AND status = 'paid' ORDER BY id");
    if (!ps || db_bind_int64(ps, 1, d.id)) {
      if (ps) db_stmt_done(ps);
      return -1;
    }
    s.title = "BIÊN LAI THU PHÍ, LỆ PHÍ (ĐIỆN TỬ)";
    size_t before = s.nlines;
    while (db_step(ps) == DB_ROW && s.nlines + 2 < SLIPS_MAX_LINES)
      s.lines[s.nlines++] = arena_printf(req->arena, "%s: %" PRId64 " đồng - giao dịch / transaction %s - %s",
                                         db_col_text(ps, 0), db_col_int64(ps, 1), db_col_text(ps, 2),
                                         vn_time(req->arena, db_col_int64(ps, 3)));
    db_stmt_done(ps);
    if (s.nlines == before) {
      http_reply_error(req, ERR_CONFLICT, "No payment of this dossier was confirmed");
      return 1;
    }
  } else if (!strcmp(kind, "apology")) {
    if (!d.new_due_at) {
      http_reply_error(req, ERR_CONFLICT, "No new appointment was set (POST .../reschedule first)");
      return 1;
    }
    const char *c = last_comment(req->arena, db, d.id, "reschedule");
    s.title = "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ";
    s.lines[s.nlines++] = arena_printf(req->arena, "Ngày hẹn trước / Former appointment: %s", vn_time(req->arena, d.due_at));
    s.lines[s.nlines++] = arena_printf(req->arena, "Lý do chậm / Reason for the delay: %s", c && *c ? c : "(không ghi)");
    s.lines[s.nlines++] = "Cơ quan giải quyết xin lỗi ông/bà vì sự chậm trễ này. / We apologise for the delay.";
    s.lines[s.nlines++] = arena_printf(req->arena, "Ngày hẹn mới / New appointment: %s", vn_time(req->arena, d.new_due_at));
  } else {
    if (d.status != 3 && d.status != 8) {
      http_reply_error(req, ERR_CONFLICT, "The dossier was not refused");
      return 1;
    }
    const char *c = last_comment(req->arena, db, d.id, "refuse reject");
    s.title = d.status == 3 ? "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" : "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ";
    s.lines[s.nlines++] = "Lý do / Reasons:";
    s.lines[s.nlines++] = c && *c ? c : "(không ghi)";
  }
  s.lines[s.nlines++] = arena_printf(req->arena, "Tra cứu / Lookup: http://%s/api/v1/lookup/dossiers/%s?cccd4=<4 số cuối CCCD>",
                                     host ? host : "localhost", d.code);
  char why[128];
  if (slips_render(&s, pdf, len, why, sizeof why) < 0) {
    log_error(req->request_id, "msg=\"slip render failed\" why=\"%s\"", why);
    return -2;
  }
  return 0;
}

void services_dossier_slip(http_req_t *req) {
  app_t *app = req->app;
  const principal_t *p = req->principal;
  const char *kind = http_param(req, "kind");
  if (strcmp(kind, "receipt") && strcmp(kind, "supplement") && strcmp(kind, "refusal") && strcmp(kind, "apology") &&
      strcmp(kind, "fee_receipt")) {
    http_reply_error(req, ERR_NOT_FOUND, "Slips: receipt, supplement, refusal, apology, fee_receipt");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  json_t *proc = NULL;
  unsigned char *pdf = NULL;
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  dossier_t d;
  int rc = dossier_load(req->arena, db, http_param(req, "code"), &d);
  if (rc < 0) goto fail;
  if (rc == 0 || !dossier_can_see(app, p, &d)) {
    http_reply_error(req, ERR_NOT_FOUND, "No dossier with that code");
    goto done;
  }
  if (!(proc = dossier_procedure(req, db, d.procedure_code, "code"))) goto done;
  size_t len;
  rc = dossier_slip_render(req, db, &d, proc, kind, &pdf, &len);
  if (rc == -1) goto fail;
  if (rc == -2) http_reply_error(req, ERR_INTERNAL, NULL);
  if (rc) goto done;
  audit_entry_t e = audit_entry_from_req(req, "dossier.slip", "dossier", d.code);
  e.unit_id = d.holder_unit_id;
  e.detail = audit_detail(req->arena, json_pack("{s:s}", "kind", kind));
  if (db_begin(db) || audit_append(db, &e) || db_commit(db)) goto fail;
  void *copy = arena_alloc(req->arena, len);
  memcpy(copy, pdf, len);
  http_add_header(req, "Content-Disposition", arena_printf(req->arena, "inline; filename=\"%s-%s.pdf\"", d.code, kind));
  http_reply_raw(req, 200, "application/pdf", copy, len, false);
  goto done;
fail:
  log_error(req->request_id, "msg=\"slip failed\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  free(pdf);
  json_decref(proc);
  db_pool_release(app->db, db);
}
