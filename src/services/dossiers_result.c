/*
 * dossiers_result.c - POST /api/v1/dossiers/{code}/result: the result document of a
 * dossier ("KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH") rendered as PDF and signed (PAdES,
 * visible stamp) with the approving official's own certificate.
 *
 * The workflow stays the single source of truth: signing does not move the dossier. The
 * result may be signed while the dossier has a result and it was not returned (status 9),
 * once: the action that brought it into status 9 (the workflow's "approve") must have
 * happened, and the caller must be allowed that action (its roles, e.g. leader ->
 * dossiers.approve, via identity_can) at the unit where it was taken. issue_result /
 * return_result then proceed as before.
 *
 * A certificate belongs to the caller when its e-mail (subject emailAddress, `pki issue
 * --email`) equals the official's username (case-insensitive), or, for a certificate
 * without an e-mail, when its CN equals the official's full name: pki_certs records no
 * account. A revoked certificate is refused.
 */
#include "base/common.h"
#include "services/dossiers_internal.h"
#include "services/slips.h"
#include "signing/signing.h"
#include "audit/audit.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "http/auth.h"
#include "identity/identity.h"
#include "units/units.h"
#include <sodium.h>
#include <strings.h>

typedef struct {
  const char *action, *comment, *approver;
  int64_t unit_id, at;
} approval_t;

/* The last event that brought the dossier into status 9 from another status. 1, 0, -1. */
static int approval_load(arena_t *a, db_t *db, int64_t id, approval_t *ap) {
  db_stmt_t *st = db_prepare(db, "SELECT e.action, e.comment, e.unit_id, e.at, a.full_name FROM dossier_events e "
                                 "LEFT JOIN accounts a ON a.id = e.actor_id WHERE e.dossier_id = $1 AND e.to_status = 9 "
                                 "AND (e.from_status IS NULL OR e.from_status <> 9) ORDER BY e.id DESC LIMIT 1");
  int rc = -1;
  if (!st || db_bind_int64(st, 1, id)) goto done;
  int s = db_step(st);
  if (s == DB_ROW) {
    ap->action = arena_strdup(a, db_col_text(st, 0));
    ap->comment = db_col_text(st, 1) ? arena_strdup(a, db_col_text(st, 1)) : NULL;
    ap->unit_id = db_col_int64(st, 2);
    ap->at = db_col_int64(st, 3);
    ap->approver = db_col_text(st, 4) ? arena_strdup(a, db_col_text(st, 4)) : NULL;
    rc = 1;
  } else if (s == DB_DONE) {
    rc = 0;
  }
done:
  if (st) db_stmt_done(st);
  return rc;
}

static const json_t *wf_action(const json_t *wf, const char *id) {
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(wf, "actions"), i, a) if (!strcmp(json_string_value(json_object_get(a, "id")), id))
    return a;
  return NULL;
}

/* 0 the certificate is the caller's; 1 it is not or is revoked (reply sent); -1 db error. */
static int cert_owned(http_req_t *req, db_t *db, const char *serial, const char **title) {
  db_stmt_t *st = db_prepare(db, "SELECT c.cn, c.email, c.revoked_at, c.title, a.username, a.full_name FROM pki_certs c, "
                                 "accounts a WHERE c.serial = $1 AND a.id = $2");
  int rc = -1;
  if (!st || db_bind_text(st, 1, serial) || db_bind_int64(st, 2, req->principal->account_id)) goto done;
  int s = db_step(st);
  if (s == DB_DONE) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "certificate"),
                            "No certificate with serial %.80s", serial);
    rc = 1;
  } else if (s == DB_ROW) {
    const char *cn = db_col_text(st, 0), *email = db_col_text(st, 1), *user = db_col_text(st, 4);
    const char *full = db_col_text(st, 5);
    bool mine = email && *email ? user && !strcasecmp(email, user) : cn && full && !strcmp(cn, full);
    *title = db_col_text(st, 3) ? arena_strdup(req->arena, db_col_text(st, 3)) : NULL;
    rc = 1;
    if (!mine)
      http_reply_error(req, ERR_FORBIDDEN, "Certificate %.80s was not issued to you: sign with your own certificate",
                       serial);
    else if (!db_col_is_null(st, 2))
      http_reply_error(req, ERR_FORBIDDEN, "Certificate %.80s is revoked: ask for a new one", serial);
    else
      rc = 0;
  }
done:
  if (st) db_stmt_done(st);
  return rc;
}

static const char *vn_date(arena_t *a, int64_t ms) {
  char iso[40];
  clock_format_iso(ms, iso, sizeof iso);
  return arena_printf(a, "%.2s/%.2s/%.4s %.5s", iso + 8, iso + 5, iso, iso + 11);
}

/* The result document (unsigned). 0 or -1 (logged). */
static int render(http_req_t *req, const dossier_t *d, const json_t *proc, const approval_t *ap, const char *comment,
                  const char *title, unsigned char **pdf, size_t *len) {
  arena_t *a = req->arena;
  const app_t *app = req->app;
  const unit_t *u = units_by_id(app->units, ap->unit_id);
  const char *host = http_header(req, "Host");
  if (!host) host = "localhost";
  slip_t s = {.issuer = u ? arena_printf(a, "UBND %s", u->name) : "UBND", .title = "KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"};
  s.qr_text = arena_printf(a, "http://%s/api/v1/lookup/dossiers/%s|%s|%s|%s", host, d->code, d->code, d->procedure_code,
                           d->applicant_cccd);
  s.lines[s.nlines++] = arena_printf(a, "Mã hồ sơ / Dossier code: %s", d->code);
  s.lines[s.nlines++] = arena_printf(a, "Thủ tục / Procedure: %s (%s)", json_string_value(json_object_get(proc, "name")),
                                     d->procedure_code);
  s.lines[s.nlines++] = arena_printf(a, "Loại kết quả / Result: %s", json_string_value(json_object_get(proc, "result")));
  s.lines[s.nlines++] = arena_printf(a, "Người nộp / Applicant: %s - CCCD %s", d->applicant_name, d->applicant_cccd);
  s.lines[s.nlines++] = arena_printf(a, "Phê duyệt ngày / Approved on: %s", vn_date(a, ap->at));
  s.lines[s.nlines++] = "Nội dung quyết định / Decision:";
  s.lines[s.nlines++] = comment && *comment ? comment : ap->comment && *ap->comment ? ap->comment : "Đồng ý giải quyết / Granted.";
  s.lines[s.nlines++] = arena_printf(a, "Cơ quan giải quyết / Issued by: %s", u ? u->name : "-");
  s.lines[s.nlines++] = arena_printf(a, "Người ký / Signed by: %s%s%s", ap->approver ? ap->approver : "-",
                                     title ? " - " : "", title ? title : "");
  s.lines[s.nlines++] = "Văn bản được ký số; kiểm tra chữ ký tại / Digitally signed; verify at:";
  s.lines[s.nlines++] = arena_printf(a, "http://%s/api/v1/lookup/dossiers/%s?cccd4=<4 số cuối CCCD>", host, d->code);
  char why[128];
  if (slips_render(&s, pdf, len, why, sizeof why) == 0) return 0;
  log_error(req->request_id, "msg=\"result render failed\" why=\"%s\"", why);
  return -1;
}

static bool field_ok(http_req_t *req, const char *v, const char *field, size_t max, bool required) {
  if ((!v || !*v) && !required) return true;
  if (v && *v && strlen(v) <= max && text_utf8_valid(v, strlen(v))) return true;
  http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", field), "%s is required (at most %zu bytes)",
                          field, max);
  return false;
}

void services_dossier_result_sign(http_req_t *req) {
  app_t *app = req->app;
  const principal_t *p = req->principal;
  json_t *body = http_body_object(req);
  if (!body) return;
  const char *serial = json_get_str(body, "certificate"), *pass = json_get_str(body, "passphrase");
  const char *comment = json_get_str(body, "comment");
  if (!field_ok(req, serial, "certificate", 80, true) || !field_ok(req, pass, "passphrase", 1024, true) ||
      !field_ok(req, comment, "comment", 2000, false))
    return;
  db_t *db = db_pool_acquire(app->db);
  json_t *proc = NULL;
  unsigned char *pdf = NULL;
  signing_signer_t signer = {0};
  buf_t out;
  buf_init(&out, 0);
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  dossier_t d;
  approval_t ap = {0};
  int rc = dossier_load(req->arena, db, http_param(req, "code"), &d);
  if (rc < 0) goto db_fail;
  if (rc == 0 || p->kind == PRINCIPAL_CITIZEN ||
      !(identity_can(app, p, "dossiers.read", d.holder_unit_id) || identity_can(app, p, "dossiers.read", d.unit_id))) {
    http_reply_error(req, ERR_NOT_FOUND, "No dossier with that code");
    goto done;
  }
  if (!(proc = dossier_procedure(req, db, d.procedure_code, "code"))) goto done;
  if ((rc = approval_load(req->arena, db, d.id, &ap)) < 0) goto db_fail;
  if (d.status != 9 || rc == 0) {
    http_reply_error(req, ERR_CONFLICT, "The result is signed once the dossier is approved and before it is returned "
                                        "(state '%s')", d.state);
    goto done;
  }
  const json_t *action = wf_action(json_object_get(proc, "workflow_definition"), ap.action);
  if (!action || !dossier_may_act(app, p, action, &d, ap.unit_id)) {
    http_reply_error(req, ERR_FORBIDDEN, "Only an official allowed to '%s' this dossier at its approving unit may "
                                         "sign its result", ap.action);
    goto done;
  }
  db_stmt_t *st = db_prepare(db, "SELECT 1 FROM dossier_results WHERE dossier_id = $1");
  if (!st || db_bind_int64(st, 1, d.id)) {
    if (st) db_stmt_done(st);
    goto db_fail;
  }
  rc = db_step(st);
  db_stmt_done(st);
  if (rc == DB_ROW) {
    http_reply_error(req, ERR_CONFLICT, "The result of this dossier is already signed");
    goto done;
  }
  const char *title = NULL;
  if ((rc = cert_owned(req, db, serial, &title)) < 0) goto db_fail;
  if (rc > 0) goto done;
  char err[256];
  if (signing_signer_load_db(db, serial, pass, &signer, err, sizeof err) < 0) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "passphrase"), "%s", err);
    goto done;
  }
  /* the signer named on the paper is the caller (the approver may be someone else of the unit) */
  st = db_prepare(db, "SELECT full_name FROM accounts WHERE id = $1");
  if (st && !db_bind_int64(st, 1, p->account_id) && db_step(st) == DB_ROW)
    ap.approver = arena_strdup(req->arena, db_col_text(st, 0));
  if (st) db_stmt_done(st);
  size_t len;
  if (render(req, &d, proc, &ap, comment, title, &pdf, &len) < 0) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  const unit_t *u = units_by_id(app->units, ap.unit_id);
  buf_release(&out);
  buf_init(&out, len + (1u << 20));
  signing_opts_t o = {.reason = "Ký kết quả giải quyết thủ tục hành chính", .location = u ? u->name : NULL,
                      .visible = true, .page = -1};
  if (signing_sign_pdf(&signer, pdf, len, &o, &out, err, sizeof err) < 0) {
    log_error(req->request_id, "msg=\"result signing failed\" why=\"%s\"", err);
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  unsigned char digest[crypto_hash_sha256_BYTES];
  char hex[65];
  crypto_hash_sha256(digest, (const unsigned char *)out.data, out.len);
  text_hex(digest, sizeof digest, hex);
  int64_t now = clock_now_ms();
  if (db_begin(db)) goto db_fail;
  st = db_prepare(db, "INSERT INTO dossier_results (dossier_id, pdf, sha256, signer_account_id, cert_serial, comment, "
                      "signed_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (dossier_id) DO NOTHING");
  if (!st || db_bind_int64(st, 1, d.id) || db_bind_blob(st, 2, out.data, out.len) || db_bind_text(st, 3, hex) ||
      db_bind_int64(st, 4, p->account_id) || db_bind_text(st, 5, serial) || db_bind_text(st, 6, comment) ||
      db_bind_int64(st, 7, now) || db_step(st) != DB_DONE) {
    if (st) db_stmt_done(st);
    goto db_fail;
  }
  int64_t added = db_changes(st);
  db_stmt_done(st);
  if (added != 1) {
    db_rollback(db);
    http_reply_error(req, ERR_CONFLICT, "The result of this dossier is already signed");
    goto done;
  }
  if (dossier_event(db, d.id, p, "sign_result", d.state, d.status, d.state, d.status, d.holder_unit_id, comment, now))
    goto db_fail;
  /* the applicant's warehouse: reusable in later procedures that need this document type */
  if (dossier_warehouse_add(db, &d, "result", json_string_value(json_object_get(proc, "result_type")),
                            arena_printf(req->arena, "ket-qua-%s.pdf", d.code), hex, out.data, out.len, now))
    goto db_fail;
  audit_entry_t e = audit_entry_from_req(req, "dossier.result.sign", "dossier", d.code);
  e.unit_id = ap.unit_id;
  e.detail = audit_detail(req->arena, json_pack("{s:s, s:s}", "certificate", serial, "sha256", hex));
  if (audit_append(db, &e) || db_commit(db)) goto db_fail;
  http_reply_json(req, 201, json_pack("{s:s, s:s, s:s, s:I, s:o}", "code", d.code, "sha256", hex, "certificate", serial,
                                      "size", (json_int_t)out.len, "signed_at", dossier_time(now)));
  goto done;
db_fail:
  log_error(req->request_id, "msg=\"result sign failed\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  free(pdf);
  buf_release(&out);
  signing_signer_free(&signer);
  json_decref(proc);
  db_pool_release(app->db, db);
}
