/*
 * dossiers_result_read.c - GET /api/v1/dossiers/{code}/result: the signed result PDF for
 * the applicant (citizen owner) and the unit's officers (404 for anyone else; audited);
 * and the verification of that PDF for the public lookup, computed with
 * signing_verify_pdf() on the stored bytes against the city PKI's trust (root, issuing
 * CA, trusted anchors, CRLs) at the time of the lookup, so a revocation shows at once.
 */
#include "base/common.h"
#include "services/dossiers_internal.h"
#include "signing/signing.h"
#include "audit/audit.h"
#include "base/log.h"
#include "http/auth.h"
#include "identity/identity.h"

void services_dossier_result_get(http_req_t *req) {
  app_t *app = req->app;
  const principal_t *p = req->principal;
  db_t *db = db_pool_acquire(app->db);
  db_stmt_t *st = NULL;
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  dossier_t d;
  int rc = dossier_load(req->arena, db, http_param(req, "code"), &d);
  if (rc < 0) goto fail;
  bool visible = rc == 1 && ((p->kind == PRINCIPAL_CITIZEN && p->account_id == d.applicant_account_id) ||
                             (p->kind != PRINCIPAL_CITIZEN && (identity_can(app, p, "dossiers.read", d.holder_unit_id) ||
                                                               identity_can(app, p, "dossiers.read", d.unit_id))));
  if (!visible) {
    http_reply_error(req, ERR_NOT_FOUND, "No dossier with that code");
    goto done;
  }
  if (db_begin(db)) goto fail;
  st = db_prepare(db, "SELECT pdf, sha256 FROM dossier_results WHERE dossier_id = $1");
  if (!st || db_bind_int64(st, 1, d.id)) goto fail;
  rc = db_step(st);
  if (rc == DB_DONE) {
    db_stmt_done(st);
    st = NULL;
    db_rollback(db);
    http_reply_error(req, ERR_NOT_FOUND, "The result of this dossier is not signed yet");
    goto done;
  }
  if (rc != DB_ROW) goto fail;
  size_t len = 0;
  const void *blob = db_col_blob(st, 0, &len);
  void *copy = arena_alloc(req->arena, len ? len : 1);
  if (len) memcpy(copy, blob, len);
  const char *hex = arena_strdup(req->arena, db_col_text(st, 1));
  db_stmt_done(st);
  st = NULL;
  audit_entry_t e = audit_entry_from_req(req, "dossier.result.read", "dossier", d.code);
  e.unit_id = d.holder_unit_id;
  e.detail = audit_detail(req->arena, json_pack("{s:s}", "sha256", hex));
  if (audit_append(db, &e) || db_commit(db)) goto fail;
  http_add_header(req, "Content-Disposition", arena_printf(req->arena, "attachment; filename=\"%s-ket-qua.pdf\"", d.code));
  http_add_header(req, "Cache-Control", "no-store");
  http_reply_raw(req, 200, "application/pdf", copy, len, false);
  goto done;
fail:
  if (st) db_stmt_done(st);
  log_error(req->request_id, "msg=\"result read failed\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}

/* One signature, public fields only (no e-mail, no certificate details). */
static json_t *public_sig(const json_t *sig) {
  const json_t *who = json_object_get(sig, "signer");
  json_t *o = json_object();
  json_object_set_new(o, "signer", json_pack("{s:O?, s:O?, s:O?}", "name", json_object_get(who, "name"), "title",
                                             json_object_get(who, "title"), "unit", json_object_get(who, "unit")));
  static const char *const keys[] = {"time", "intact", "altered", "covers_whole_document", "chain_trusted", "revoked",
                                     "valid", "summary_vi"};
  for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
    json_t *v = json_object_get(sig, keys[i]);
    json_object_set(o, keys[i], v ? v : json_null());
  }
  return o;
}

json_t *dossier_result_public(db_t *db, int64_t dossier_id) {
  db_stmt_t *st = db_prepare(db, "SELECT pdf, sha256, signed_at FROM dossier_results WHERE dossier_id = $1");
  json_t *out = NULL, *v = NULL;
  signing_trust_t *t = NULL;
  uint8_t *pdf = NULL;
  if (!st || db_bind_int64(st, 1, dossier_id)) goto done;
  int rc = db_step(st);
  if (rc == DB_DONE) {
    out = json_null();
    goto done;
  }
  if (rc != DB_ROW) goto done;
  size_t len = 0;
  const void *blob = db_col_blob(st, 0, &len);
  if (!(pdf = malloc(len ? len : 1))) goto done;
  if (len) memcpy(pdf, blob, len);
  out = json_pack("{s:s, s:o}", "sha256", db_col_text(st, 1), "signed_at", dossier_time(db_col_int64(st, 2)));
  db_stmt_done(st);   /* before the trust store's own queries */
  st = NULL;
  char err[256] = "";
  t = signing_trust_new();
  if (t && signing_trust_load_db(t, db) < 0) log_warn(NULL, "msg=\"result verify: trust store incomplete\"");
  v = t ? signing_verify_pdf(t, pdf, len, err, sizeof err) : NULL;
  json_t *sigs = json_array();
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(v, "signatures"), i, s) json_array_append_new(sigs, public_sig(s));
  json_object_set_new(out, "signatures", sigs);
  json_object_set_new(out, "verified", json_boolean(v != NULL));
  if (!v) json_object_set_new(out, "error", json_string(err));
done:
  if (st) db_stmt_done(st);
  signing_trust_free(t);
  json_decref(v);
  free(pdf);
  return out;
}
