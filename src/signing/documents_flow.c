/*
 * documents_flow.c - official documents after registration: signing in order,
 * publishing to the recipients' inboxes, marking read, reading and searching.
 * See documents.c for the permissions.
 */
#include "base/common.h"
#include "app.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "http/auth.h"
#include "identity/identity.h"
#include "signing/signing.h"
#include "signing/signing_internal.h"
#include "units/units.h"

static json_t *unit_json(app_t *app, int64_t id) {
  const unit_t *u = app->units && id ? units_by_id(app->units, id) : NULL;
  return u ? json_pack("{s:I,s:s,s:s}", "id", (json_int_t)u->id, "code", u->code, "name", u->name) : json_null();
}

static int64_t changes1(db_t *db, const char *sql, const char *types, ...) {
  db_stmt_t *st = db_prepare(db, sql);
  if (!st) return -1;
  va_list ap;
  va_start(ap, types);
  int rc = 0;
  for (int i = 0; types[i] && rc == 0; i++) {
    if (types[i] == 's') rc = db_bind_text(st, i + 1, va_arg(ap, const char *));
    else rc = db_bind_int64(st, i + 1, va_arg(ap, int64_t));
  }
  va_end(ap);
  int64_t n = rc == 0 && db_step(st) == DB_DONE ? db_changes(st) : -1;
  db_stmt_done(st);
  return n;
}

/* POST /api/v1/documents/{id}/sign  {"passphrase": "..."}: the next signer in order. */
void signing_h_doc_sign(http_req_t *req) {
  app_t *app = req->app;
  json_t *b = http_body_object(req);
  if (!b) return;
  const char *pass = json_get_str(b, "passphrase");
  if (!pass || !*pass) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "passphrase"), "passphrase (of the signer's key) is required");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  int64_t id, owner, step = 0;
  char dir[16], status[16], serial[80] = "", err[256] = "";
  signing_signer_t s = {0};
  buf_t out;
  buf_init(&out, (20u << 20) + (1u << 20));
  if (!db) {
    signing_doc_reply_db(req, db);
    goto done;
  }
  if (!signing_doc_load(req, db, "documents.sign", &id, &owner, dir, status)) goto done;
  if (strcmp(dir, "outgoing") != 0 || strcmp(status, "signing") != 0) {
    http_reply_error(req, ERR_CONFLICT, "The document is not waiting for a signature (status %s)", status);
    goto done;
  }
  db_stmt_t *st = db_prepare(db, "SELECT s.step, s.cert_serial, d.pdf FROM document_signers s JOIN documents d ON d.id = s.document_id"
                                 " WHERE s.document_id = $1 AND s.signed_at IS NULL ORDER BY s.step LIMIT 1");
  const void *pdf = NULL;
  size_t pdflen = 0;
  uint8_t *copy = NULL;
  if (st && db_bind_int64(st, 1, id) == 0 && db_step(st) == DB_ROW) {
    step = db_col_int64(st, 0);
    snprintf(serial, sizeof serial, "%s", db_col_text(st, 1));
    pdf = db_col_blob(st, 2, &pdflen);
    copy = pdf && pdflen ? arena_alloc(req->arena, pdflen) : NULL;
    if (copy) memcpy(copy, pdf, pdflen);
  }
  if (st) db_stmt_done(st);
  if (!copy) {
    signing_doc_reply_db(req, db);
    goto done;
  }
  if (signing_signer_load_db(db, serial, pass, &s, err, sizeof err) < 0) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "passphrase"), "%s", err);
    goto done;
  }
  signing_opts_t o = {.reason = "Ký ban hành văn bản", .visible = true, .page = -1};
  if (signing_sign_pdf(&s, copy, pdflen, &o, &out, err, sizeof err) < 0) {
    http_reply_error(req, ERR_VALIDATION, "Cannot sign this PDF: %s", err);
    goto done;
  }
  db_stmt_t *nx = NULL;
  int64_t left = 0;
  if (db_begin(db) < 0) goto dberr;
  if (changes1(db, "UPDATE document_signers SET signed_at = $1, signed_by = $2 WHERE document_id = $3 AND step = $4 AND signed_at IS NULL",
               "iiii", clock_now_ms(), req->principal->account_id, id, step) != 1) {
    db_rollback(db);
    http_reply_error(req, ERR_CONFLICT, "This step was signed meanwhile; reload the document");
    goto done;
  }
  nx = db_prepare(db, "SELECT COUNT(*) FROM document_signers WHERE document_id = $1 AND signed_at IS NULL");
  if (!nx || db_bind_int64(nx, 1, id) < 0 || db_step(nx) != DB_ROW) goto dberr;
  left = db_col_int64(nx, 0);
  db_stmt_done(nx);
  nx = db_prepare(db, "UPDATE documents SET pdf = $1, status = $2 WHERE id = $3");
  if (!nx || db_bind_blob(nx, 1, out.data, out.len) < 0 || db_bind_text(nx, 2, left ? "signing" : "signed") < 0 ||
      db_bind_int64(nx, 3, id) < 0 || db_step(nx) != DB_DONE)
    goto dberr;
  db_stmt_done(nx);
  nx = NULL;
  if (!signing_doc_audit(req, db, "document.sign", id, owner, json_pack("{s:I,s:s}", "step", (json_int_t)step, "certificate", serial)) ||
      db_commit(db) < 0)
    goto dberr;
  http_reply_json(req, 200, json_pack("{s:I,s:I,s:s}", "id", (json_int_t)id, "step", (json_int_t)step, "status", left ? "signing" : "signed"));
  goto done;
dberr:
  if (nx) db_stmt_done(nx);
  signing_doc_reply_db(req, db);
  db_rollback(db);
done:
  signing_signer_free(&s);
  buf_release(&out);
  db_pool_release(app->db, db);
}

/* POST /api/v1/documents/{id}/publish: an incoming copy in each recipient's register. */
void signing_h_doc_publish(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  int64_t id, owner, n;
  char dir[16], status[16];
  if (!db) {
    signing_doc_reply_db(req, db);
    return;
  }
  if (!signing_doc_load(req, db, "documents.write", &id, &owner, dir, status)) goto done;
  if (strcmp(dir, "outgoing") != 0 || strcmp(status, "signed") != 0) {
    http_reply_error(req, ERR_CONFLICT, "Only a fully signed outgoing document can be published (status %s)", status);
    goto done;
  }
  if (db_begin(db) < 0) goto dberr;
  n = changes1(db,
               "INSERT INTO documents (direction, number, symbol, doc_type, issuing_unit_id, owner_unit_id, source_id, issued_date,"
               " summary, signer_name, status, pdf, created_by, created_at)"
               " SELECT 'incoming', d.number, d.symbol, d.doc_type, d.issuing_unit_id, r.unit_id, d.id, d.issued_date, d.summary,"
               " d.signer_name, 'received', d.pdf, $2, $3 FROM documents d JOIN document_recipients r ON r.document_id = d.id WHERE d.id = $1",
               "iii", id, req->principal->account_id, clock_now_ms());
  if (n < 0 || changes1(db, "UPDATE documents SET status = 'published' WHERE id = $1 AND status = 'signed'", "i", id) != 1 ||
      !signing_doc_audit(req, db, "document.publish", id, owner, json_pack("{s:I}", "recipients", (json_int_t)n)) ||
      db_commit(db) < 0)
    goto dberr;
  http_reply_json(req, 200, json_pack("{s:I,s:s,s:I}", "id", (json_int_t)id, "status", "published", "recipients", (json_int_t)n));
  goto done;
dberr:
  signing_doc_reply_db(req, db);
  db_rollback(db);
done:
  db_pool_release(app->db, db);
}

/* POST /api/v1/documents/{id}/read: a recipient marks an incoming document read. */
void signing_h_doc_read(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  int64_t id, owner;
  char dir[16], status[16];
  if (!db) {
    signing_doc_reply_db(req, db);
    return;
  }
  if (!signing_doc_load(req, db, "documents.read", &id, &owner, dir, status)) goto done;
  if (strcmp(dir, "incoming") != 0) {
    http_reply_error(req, ERR_CONFLICT, "Only incoming documents are marked read");
    goto done;
  }
  if (db_begin(db) < 0) goto dberr;
  int64_t n = changes1(db, "UPDATE documents SET status = 'read', read_at = $1, read_by = $2 WHERE id = $3 AND read_at IS NULL",
                       "iii", clock_now_ms(), req->principal->account_id, id);
  if (n < 0 || (n == 1 && !signing_doc_audit(req, db, "document.read", id, owner, NULL)) || db_commit(db) < 0) goto dberr;
  http_reply_json(req, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id, "status", "read"));
  goto done;
dberr:
  signing_doc_reply_db(req, db);
  db_rollback(db);
done:
  db_pool_release(app->db, db);
}

#define DOC_COLS "id, direction, number, symbol, doc_type, issuing_unit_id, owner_unit_id, source_id, issuer_name, issued_date, summary, signer_name, status, read_at, created_at"

static json_t *doc_row(app_t *app, db_stmt_t *st) {
  json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:o,s:s?,s:s,s:s,s:s?,s:s}", "id", (json_int_t)db_col_int64(st, 0), "direction",
                        db_col_text(st, 1), "number", db_col_text(st, 2), "symbol", db_col_text(st, 3), "type",
                        db_col_text(st, 4), "issuing_unit", unit_json(app, db_col_int64(st, 5)), "unit",
                        unit_json(app, db_col_int64(st, 6)), "issuer_name", db_col_text(st, 8), "issued_date",
                        db_col_text(st, 9), "summary", db_col_text(st, 10), "signer_name", db_col_text(st, 11), "status",
                        db_col_text(st, 12));
  if (!o) return NULL;
  json_object_set_new(o, "source_id", db_col_is_null(st, 7) ? json_null() : json_integer(db_col_int64(st, 7)));
  json_object_set_new(o, "read_at", db_col_is_null(st, 13) ? json_null() : json_integer(db_col_int64(st, 13)));
  json_object_set_new(o, "created_at", json_integer(db_col_int64(st, 14)));
  return o;
}

/* GET /api/v1/documents/{id} */
void signing_h_doc_get(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  int64_t id, owner;
  char dir[16], status[16];
  json_t *doc = NULL;
  if (!db) {
    signing_doc_reply_db(req, db);
    return;
  }
  if (!signing_doc_load(req, db, "documents.read", &id, &owner, dir, status)) goto done;
  db_stmt_t *st = db_prepare(db, "SELECT " DOC_COLS " FROM documents WHERE id = $1");
  if (!st || db_bind_int64(st, 1, id) < 0 || db_step(st) != DB_ROW || !(doc = doc_row(app, st))) {
    if (st) db_stmt_done(st);
    signing_doc_reply_db(req, db);
    goto done;
  }
  db_stmt_done(st);
  json_t *signers = json_array(), *recips = json_array();
  st = db_prepare(db, "SELECT s.step, s.cert_serial, s.signed_at, c.cn, c.title, c.unit FROM document_signers s"
                      " LEFT JOIN pki_certs c ON c.serial = s.cert_serial WHERE s.document_id = $1 ORDER BY s.step");
  if (st && db_bind_int64(st, 1, id) == 0)
    while (db_step(st) == DB_ROW)
      json_array_append_new(signers, json_pack("{s:I,s:s,s:o,s:s?,s:s?,s:s?}", "step", (json_int_t)db_col_int64(st, 0), "certificate",
                                               db_col_text(st, 1), "signed_at", db_col_is_null(st, 2) ? json_null() : json_integer(db_col_int64(st, 2)),
                                               "name", db_col_text(st, 3), "title", db_col_text(st, 4), "unit", db_col_text(st, 5)));
  if (st) db_stmt_done(st);
  st = db_prepare(db, "SELECT r.unit_id, c.id, c.status, c.read_at FROM document_recipients r"
                      " LEFT JOIN documents c ON c.source_id = r.document_id AND c.owner_unit_id = r.unit_id WHERE r.document_id = $1 ORDER BY r.unit_id");
  if (st && db_bind_int64(st, 1, id) == 0)
    while (db_step(st) == DB_ROW)
      json_array_append_new(recips, json_pack("{s:o,s:o,s:s?,s:o}", "unit", unit_json(app, db_col_int64(st, 0)), "copy_id",
                                              db_col_is_null(st, 1) ? json_null() : json_integer(db_col_int64(st, 1)), "status",
                                              db_col_text(st, 2), "read_at", db_col_is_null(st, 3) ? json_null() : json_integer(db_col_int64(st, 3))));
  if (st) db_stmt_done(st);
  json_object_set_new(doc, "signers", signers);
  json_object_set_new(doc, "recipients", recips);
  http_reply_json(req, 200, doc);
done:
  db_pool_release(app->db, db);
}

/* GET /api/v1/documents/{id}/pdf */
void signing_h_doc_pdf(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  int64_t id, owner;
  char dir[16], status[16];
  if (!db) {
    signing_doc_reply_db(req, db);
    return;
  }
  if (!signing_doc_load(req, db, "documents.read", &id, &owner, dir, status)) goto done;
  db_stmt_t *st = db_prepare(db, "SELECT pdf FROM documents WHERE id = $1 AND pdf IS NOT NULL");
  size_t len = 0;
  const void *p = st && db_bind_int64(st, 1, id) == 0 && db_step(st) == DB_ROW ? db_col_blob(st, 0, &len) : NULL;
  void *copy = p && len ? arena_alloc(req->arena, len) : NULL;
  if (copy) memcpy(copy, p, len);
  if (st) db_stmt_done(st);
  if (!copy) {
    http_reply_error(req, ERR_NOT_FOUND, "This document has no PDF");
    goto done;
  }
  http_add_header(req, "Content-Disposition", arena_printf(req->arena, "attachment; filename=\"document-%" PRId64 ".pdf\"", id));
  http_reply_raw(req, 200, "application/pdf", copy, len, false);
done:
  db_pool_release(app->db, db);
}

/* GET /api/v1/documents?direction=&unit=&number=&symbol=&type=&from=&to=&q=&limit=&offset= */
void signing_h_doc_list(http_req_t *req) {
  app_t *app = req->app;
  int limit, offset;
  if (http_page(req, 50, 200, &limit, &offset) < 0) return;
  const char *direction = http_query(req, "direction"), *ucode = http_query(req, "unit"), *from = http_query(req, "from"),
             *to = http_query(req, "to"), *q = http_query(req, "q");
  if (direction && strcmp(direction, "outgoing") != 0 && strcmp(direction, "incoming") != 0) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "direction"), "direction must be outgoing or incoming");
    return;
  }
  const unit_t *u = NULL;
  if (ucode && !(u = app->units ? units_by_code(app->units, units_active_era(app->units), ucode) : NULL)) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "unit"), "unit must be the code of an administrative unit");
    return;
  }
  static const char *const DATES[] = {"from", "to"};
  const char *dv[2] = {from, to};
  for (int i = 0; i < 2; i++) {
    const char *d = dv[i];
    bool ok = !d || (strlen(d) == 10 && d[4] == '-' && d[7] == '-');
    for (int k = 0; ok && d && k < 10; k++) ok = k == 4 || k == 7 || (d[k] >= '0' && d[k] <= '9');
    if (!ok) {
      http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", DATES[i]), "%s must be YYYY-MM-DD", DATES[i]);
      return;
    }
  }
  if (q && (strlen(q) > 200 || !text_utf8_valid(q, strlen(q)))) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "q"), "q must be valid text of at most 200 bytes");
    return;
  }
  identity_scope_t scope;
  identity_scope(req->arena, app, req->principal, "documents.read", u ? u->id : 0, &scope);
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    signing_doc_reply_db(req, db);
    return;
  }
  const char *scope_sql = db_kind(db) == DB_POSTGRES
                              ? "(CAST($1 AS TEXT) IS NULL OR owner_unit_id IN (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(CAST($1 AS TEXT) AS JSON))))"
                              : "(CAST($1 AS TEXT) IS NULL OR owner_unit_id IN (SELECT value FROM json_each(CAST($1 AS TEXT))))";
  const char *sql = arena_printf(req->arena,
                                 "SELECT " DOC_COLS " FROM documents WHERE %s"
                                 " AND (CAST($2 AS TEXT) IS NULL OR direction = $2)"
                                 " AND (CAST($3 AS TEXT) IS NULL OR number = $3)"
                                 " AND (CAST($4 AS TEXT) IS NULL OR symbol = $4)"
                                 " AND (CAST($5 AS TEXT) IS NULL OR doc_type = $5)"
                                 " AND (CAST($6 AS TEXT) IS NULL OR issued_date >= $6)"
                                 " AND (CAST($7 AS TEXT) IS NULL OR issued_date <= $7)"
                                 " AND (CAST($8 AS TEXT) IS NULL OR summary LIKE $8)"
                                 " ORDER BY issued_date DESC, id DESC LIMIT $9 OFFSET $10",
                                 scope_sql);
  db_stmt_t *st = db_prepare(db, sql);
  json_t *items = json_array();
  const char *like = q ? arena_printf(req->arena, "%%%s%%", q) : NULL;
  bool ok = st && db_bind_text(st, 1, scope.everywhere ? NULL : scope.json) == 0 && db_bind_text(st, 2, direction) == 0 &&
            db_bind_text(st, 3, http_query(req, "number")) == 0 && db_bind_text(st, 4, http_query(req, "symbol")) == 0 &&
            db_bind_text(st, 5, http_query(req, "type")) == 0 && db_bind_text(st, 6, from) == 0 && db_bind_text(st, 7, to) == 0 &&
            db_bind_text(st, 8, like) == 0 && db_bind_int64(st, 9, limit) == 0 && db_bind_int64(st, 10, offset) == 0;
  int s = 0;
  while (ok && (s = db_step(st)) == DB_ROW) {
    json_t *o = doc_row(app, st);
    if (o) json_array_append_new(items, o);
  }
  if (st) db_stmt_done(st);
  if (!ok || s < 0) {
    json_decref(items);
    signing_doc_reply_db(req, db);
  } else {
    http_reply_json(req, 200, json_pack("{s:o,s:i,s:i}", "items", items, "limit", limit, "offset", offset));
  }
  db_pool_release(app->db, db);
}
