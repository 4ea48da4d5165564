/*
 * documents.c - official documents (văn bản đi / văn bản đến): register an outgoing
 * document with its PDF, route it for signing to officials in order (each signature a
 * PAdES incremental update with the official's certificate from the PKI), publish it
 * to the recipient units' inboxes (an incoming copy per unit), mark incoming ones read,
 * register incoming documents from outside bodies, search.
 *
 * Permissions (unit-scoped with identity_can on the owner unit: the issuing unit for
 * outgoing, the recipient unit for incoming): documents.write (register, publish),
 * documents.sign (sign the next step: also needs the certificate's passphrase),
 * documents.read (list, read, download, mark read). Every change is one transaction
 * with its audit entry.
 */
#include "base/common.h"
#include "app.h"
#include "audit/audit.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "http/auth.h"
#include "identity/identity.h"
#include "signing/signing.h"
#include "signing/signing_internal.h"
#include "units/units.h"

#include <sodium.h>

#define DOC_MAX_PDF (20u << 20)

static void field_error(http_req_t *req, const char *field, const char *msg) {
  http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", field), "%s", msg);
}

static const unit_t *unit_of(app_t *app, const char *code) {
  return code && app->units ? units_by_code(app->units, units_active_era(app->units), code) : NULL;
}

static bool valid_date(const char *s) {
  if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return false;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return false;
  int m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
  return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static bool text_ok(const char *s, size_t max) { return s && *s && strlen(s) <= max; }

static uint8_t *decode_pdf(http_req_t *req, const char *b64, size_t *len) {
  size_t n = strlen(b64);
  uint8_t *pdf = arena_alloc(req->arena, n / 4 * 3 + 4);
  if (sodium_base642bin(pdf, n / 4 * 3 + 4, b64, n, " \r\n", len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      *len < 8 || memcmp(pdf, "%PDF-", 5) != 0 || *len > DOC_MAX_PDF)
    return NULL;
  return pdf;
}

static bool exec1(db_t *db, const char *sql, const char *types, ...) {
  db_stmt_t *st = db_prepare(db, sql);
  if (!st) return false;
  va_list ap;
  va_start(ap, types);
  int rc = 0;
  for (int i = 0; types[i] && rc == 0; i++) {
    if (types[i] == 's') rc = db_bind_text(st, i + 1, va_arg(ap, const char *));
    else rc = db_bind_int64(st, i + 1, va_arg(ap, int64_t));
  }
  va_end(ap);
  bool ok = rc == 0 && db_step(st) == DB_DONE;
  db_stmt_done(st);
  return ok;
}

static int64_t insert_doc(db_t *db, const char *dir, json_t *b, int64_t issuing, int64_t owner, int64_t source,
                          const char *status, const uint8_t *pdf, size_t pdflen, int64_t by) {
  db_stmt_t *st = db_prepare(db,
                             "INSERT INTO documents (direction, number, symbol, doc_type, issuing_unit_id, owner_unit_id,"
                             " source_id, issuer_name, issued_date, summary, signer_name, status, pdf, created_by, created_at)"
                             " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) RETURNING id");
  if (!st) return -1;
  int64_t id = -1;
  if (db_bind_text(st, 1, dir) == 0 && db_bind_text(st, 2, json_get_str(b, "number")) == 0 &&
      db_bind_text(st, 3, json_get_str(b, "symbol")) == 0 && db_bind_text(st, 4, json_get_str(b, "type")) == 0 &&
      db_bind_int64(st, 5, issuing) == 0 && db_bind_int64(st, 6, owner) == 0 &&
      (source ? db_bind_int64(st, 7, source) : db_bind_null(st, 7)) == 0 &&
      db_bind_text(st, 8, json_get_str(b, "issuer_name")) == 0 && db_bind_text(st, 9, json_get_str(b, "issued_date")) == 0 &&
      db_bind_text(st, 10, json_get_str(b, "summary")) == 0 && db_bind_text(st, 11, json_get_str(b, "signer_name")) == 0 &&
      db_bind_text(st, 12, status) == 0 && (pdf ? db_bind_blob(st, 13, pdf, pdflen) : db_bind_null(st, 13)) == 0 &&
      db_bind_int64(st, 14, by) == 0 && db_bind_int64(st, 15, clock_now_ms()) == 0 && db_step(st) == DB_ROW)
    id = db_col_int64(st, 0);
  db_stmt_done(st);
  return id;
}

void signing_doc_reply_db(http_req_t *req, db_t *db) {
  log_error(req->request_id, "msg=\"database error\" path=\"%s\" err=\"%s\"", req->path, db ? db_errmsg(db) : "no connection");
  if (db && db_last_error(db) == DB_ERR_CONSTRAINT)
    http_reply_error(req, ERR_CONFLICT, "A document with this number and symbol is already registered");
  else
    http_reply_error(req, db ? ERR_INTERNAL : ERR_UNAVAILABLE, NULL);
}

bool signing_doc_audit(http_req_t *req, db_t *db, const char *action, int64_t id, int64_t unit, json_t *detail) {
  audit_entry_t e = audit_entry_from_req(req, action, "document", arena_printf(req->arena, "%" PRId64, id));
  e.unit_id = unit;
  e.detail = audit_detail(req->arena, detail);
  return audit_append(db, &e) == 0;
}

/* POST /api/v1/documents */
void signing_h_doc_create(http_req_t *req) {
  app_t *app = req->app;
  json_t *b = http_body_object(req);
  if (!b) return;
  const char *dir = json_get_str(b, "direction");
  bool out = dir && strcmp(dir, "outgoing") == 0;
  if (!dir || (!out && strcmp(dir, "incoming") != 0)) {
    field_error(req, "direction", "direction must be outgoing or incoming");
    return;
  }
  static const char *const REQ[] = {"number", "symbol", "type", "summary"};
  for (size_t i = 0; i < ARRAY_LEN(REQ); i++) {
    int max = strcmp(REQ[i], "summary") == 0 ? 2000 : 100;
    if (!text_ok(json_get_str(b, REQ[i]), (size_t)max)) {
      field_error(req, REQ[i], arena_printf(req->arena, "%s is required (at most %d characters)", REQ[i], max));
      return;
    }
  }
  if (!valid_date(json_get_str(b, "issued_date"))) {
    field_error(req, "issued_date", "issued_date must be YYYY-MM-DD");
    return;
  }
  const unit_t *owner = unit_of(app, json_get_str(b, "unit"));
  if (!owner) {
    field_error(req, "unit", "unit must be the code of an administrative unit");
    return;
  }
  if (!identity_can(app, req->principal, "documents.write", owner->id)) {
    http_reply_error(req, ERR_FORBIDDEN, "You may not register documents for this unit");
    return;
  }
  const char *b64 = json_get_str(b, "pdf_base64");
  size_t pdflen = 0;
  uint8_t *pdf = b64 ? decode_pdf(req, b64, &pdflen) : NULL;
  if ((out || b64) && !pdf) {
    field_error(req, "pdf_base64", "pdf_base64 must be a PDF file (base64, at most 20 MiB)");
    return;
  }
  json_t *recips = json_object_get(b, "recipients"), *signers = json_object_get(b, "signers");
  int64_t rids[64];
  size_t nr = 0;
  if (out) {
    if (!json_is_array(recips) || json_array_size(recips) == 0 || json_array_size(recips) > 64)
      {
    field_error(req, "recipients", "recipients must list 1 to 64 unit codes");
    return;
  }
    for (size_t i = 0; i < json_array_size(recips); i++) {
      const unit_t *u = unit_of(app, json_string_value(json_array_get(recips, i)));
      if (!u) {
    field_error(req, "recipients", "recipients must be codes of administrative units");
    return;
  }
      rids[nr++] = u->id;
    }
    if (!json_is_array(signers) || json_array_size(signers) == 0 || json_array_size(signers) > 10)
      {
    field_error(req, "signers", "signers must list 1 to 10 certificate serials, in signing order");
    return;
  }
  } else if (!text_ok(json_get_str(b, "issuer_name"), 300)) {
    {
    field_error(req, "issuer_name", "issuer_name (the body that issued the incoming document) is required");
    return;
  }
  }
  db_t *db = db_pool_acquire(app->db);
  if (!db || db_begin(db) < 0) {
    signing_doc_reply_db(req, db);
    db_pool_release(app->db, db);
    return;
  }
  int64_t by = req->principal ? req->principal->account_id : 0;
  int64_t id = insert_doc(db, dir, b, out ? owner->id : 0, owner->id, 0, out ? "signing" : "received", pdf, pdflen, by);
  bool ok = id > 0;
  for (size_t i = 0; ok && i < nr; i++)
    ok = exec1(db, "INSERT INTO document_recipients (document_id, unit_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", "ii", id, rids[i]);
  for (size_t i = 0; ok && out && i < json_array_size(signers); i++) {
    const char *serial = json_string_value(json_array_get(signers, i));
    db_stmt_t *st = serial ? db_prepare(db, "SELECT 1 FROM pki_certs WHERE serial = $1 AND revoked_at IS NULL AND key_pem IS NOT NULL") : NULL;
    bool found = st && db_bind_text(st, 1, serial) == 0 && db_step(st) == DB_ROW;
    if (st) db_stmt_done(st);
    if (!found) {
      db_rollback(db);
      db_pool_release(app->db, db);
      field_error(req, "signers", "signers must be serials of unrevoked certificates kept by the PKI");
      return;
    }
    ok = exec1(db, "INSERT INTO document_signers (document_id, step, cert_serial) VALUES ($1, $2, $3)", "iis", id, (int64_t)i + 1, serial);
  }
  ok = ok && signing_doc_audit(req, db, "document.create", id, owner->id, json_pack("{s:s,s:s,s:s}", "direction", dir, "number", json_get_str(b, "number"), "symbol", json_get_str(b, "symbol")));
  if (!ok || db_commit(db) < 0) {
    signing_doc_reply_db(req, db);
    db_rollback(db);
  } else {
    http_reply_json(req, 201, json_pack("{s:I,s:s}", "id", (json_int_t)id, "status", out ? "signing" : "received"));
  }
  db_pool_release(app->db, db);
}

/* Loads id's owner unit, direction, status; 404 / 403 answered when it fails. */
bool signing_doc_load(http_req_t *req, db_t *db, const char *perm, int64_t *id, int64_t *owner, char *dir, char *status) {
  int64_t v;
  const char *ps = http_param(req, "id");
  if (!ps || text_parse_int64(ps, 1, INT64_MAX, &v) < 0) {
    http_reply_error(req, ERR_NOT_FOUND, "No such document");
    return false;
  }
  db_stmt_t *st = db_prepare(db, "SELECT owner_unit_id, direction, status FROM documents WHERE id = $1");
  bool found = st && db_bind_int64(st, 1, v) == 0 && db_step(st) == DB_ROW;
  if (found) {
    *owner = db_col_int64(st, 0);
    snprintf(dir, 16, "%s", db_col_text(st, 1));
    snprintf(status, 16, "%s", db_col_text(st, 2));
  }
  if (st) db_stmt_done(st);
  if (!found || !identity_can(req->app, req->principal, perm, *owner)) {
    /* 404 also when out of scope: do not reveal other units' registers */
    if (found && identity_can(req->app, req->principal, "documents.read", *owner))
      http_reply_error(req, ERR_FORBIDDEN, "You may not do this for this unit's documents");
    else
      http_reply_error(req, ERR_NOT_FOUND, "No such document");
    return false;
  }
  *id = v;
  return true;
}
