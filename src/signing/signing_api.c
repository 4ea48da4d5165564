/*
 * signing_api.c - HTTP routes: public verification of signed PDFs, the city CA and its
 * CRL, and the certificate list for PKI officers.
 *
 * POST /api/v1/signatures/verify takes {"pdf_base64": "..."} (the HTTP core accepts
 * JSON bodies only); PDFs up to 20 MiB. The verification trusts cityos' own CA, the
 * anchors added with `cityos pki trust`, and checks the stored CRL.
 */
#include "base/common.h"
#include "app.h"
#include "audit/audit.h"
#include "base/json.h"
#include "http/http.h"
#include "signing/signing.h"
#include "signing/signing_internal.h"

#include <sodium.h>

#define SIGNING_API_MAX_PDF (20u << 20)
#define SIGNING_API_BODY ((SIGNING_API_MAX_PDF / 3) * 4 + 64 * 1024)

static void h_verify(http_req_t *req) {
  app_t *app = req->app;
  json_t *body = http_body_object(req);
  if (!body) return;
  const char *b64 = json_get_str(body, "pdf_base64");
  if (!b64 || !*b64) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "pdf_base64"),
                            "pdf_base64 (the PDF file, base64) is required");
    return;
  }
  size_t n = strlen(b64), len = 0;
  uint8_t *pdf = arena_alloc(req->arena, n / 4 * 3 + 4);
  if (sodium_base642bin(pdf, n / 4 * 3 + 4, b64, n, " \r\n", &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "pdf_base64"), "pdf_base64 is not valid base64");
    return;
  }
  if (len > SIGNING_API_MAX_PDF) {
    http_reply_error(req, ERR_TOO_LARGE, "The PDF is larger than 20 MiB");
    return;
  }
  signing_trust_t *t = signing_trust_new();
  db_t *db = db_pool_acquire(app->db);
  if (!t || !db) {
    signing_trust_free(t);
    db_pool_release(app->db, db);
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  signing_trust_load_db(t, db);
  db_pool_release(app->db, db);
  char err[256] = "";
  json_t *res = signing_verify_pdf(t, pdf, len, err, sizeof err);
  signing_trust_free(t);
  if (!res) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "pdf_base64"), "Not a readable PDF: %s", err);
    return;
  }
  http_reply_json(req, 200, res);
}

static void h_crl(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  unsigned char *der = NULL;
  size_t len = 0;
  int rc = db ? signing_pki_crl_der(db, &der, &len) : -1;
  db_pool_release(app->db, db);
  if (rc < 0) {
    http_reply_error(req, ERR_NOT_FOUND, "No CRL published (the PKI is not set up)");
    return;
  }
  void *copy = arena_alloc(req->arena, len);
  memcpy(copy, der, len);
  free(der);
  http_add_header(req, "Cache-Control", "public, max-age=300");
  http_reply_raw(req, 200, "application/pkix-crl", copy, len, false);
}

static void h_ca(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  char *pem = db ? signing_pki_ca_pem(db) : NULL;
  db_pool_release(app->db, db);
  if (!pem) {
    http_reply_error(req, ERR_NOT_FOUND, "No city CA (the PKI is not set up)");
    return;
  }
  char *copy = arena_strdup(req->arena, pem);
  free(pem);
  http_reply_raw(req, 200, "application/x-pem-file", copy, strlen(copy), false);
}

static void h_list(http_req_t *req) {
  app_t *app = req->app;
  const char *wd = http_query(req, "warn_days");
  long warn = 30;
  if (wd) {
    char *end;
    warn = strtol(wd, &end, 10);
    if (*end || warn < 0 || warn > 3650) {
      http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "warn_days"), "warn_days must be 0..3650");
      return;
    }
  }
  db_t *db = db_pool_acquire(app->db);
  json_t *list = NULL;
  if (!db || db_begin(db) < 0 || !(list = signing_pki_list(db, (int)warn))) goto fail;
  audit_entry_t e = audit_entry_from_req(req, "pki.list", "certificate", NULL);
  e.detail = audit_detail(req->arena, json_pack("{s:I}", "returned", (json_int_t)json_array_size(list)));
  if (audit_append(db, &e) < 0 || db_commit(db) < 0) goto fail;
  db_pool_release(app->db, db);
  http_reply_json(req, 200, json_pack("{s:o}", "items", list));
  return;
fail:
  json_decref(list);
  if (db) db_rollback(db);
  db_pool_release(app->db, db);
  http_reply_error(req, ERR_INTERNAL, NULL);
}

static const http_route_t SIGNING_ROUTES[] = {
  {"POST", "/api/v1/signatures/verify", h_verify, HTTP_PUBLIC, SIGNING_API_BODY,
   "Explain and check every signature of a PDF ({\"pdf_base64\": ...})"},
  {"GET", "/api/v1/pki/crl", h_crl, HTTP_PUBLIC, 0, "The city issuing CA's current CRL (DER)"},
  {"GET", "/api/v1/pki/ca", h_ca, HTTP_PUBLIC, 0, "The city root and issuing CA certificates (PEM)"},
  {"GET", "/api/v1/pki/certificates", h_list, "pki.read", 0,
   "Certificates of the city PKI with expiry warnings (?warn_days=30)"},
  {"POST", "/api/v1/documents", signing_h_doc_create, "documents.write", SIGNING_API_BODY,
   "Register an outgoing (with PDF, recipients, signers in order) or incoming official document"},
  {"GET", "/api/v1/documents", signing_h_doc_list, "documents.read", 0,
   "Search documents (?direction=&unit=&number=&symbol=&type=&from=&to=&q=&limit=&offset=)"},
  {"GET", "/api/v1/documents/{id}", signing_h_doc_get, "documents.read", 0, "A document with its signers and recipients"},
  {"GET", "/api/v1/documents/{id}/pdf", signing_h_doc_pdf, "documents.read", 0, "The document's (signed) PDF"},
  {"POST", "/api/v1/documents/{id}/sign", signing_h_doc_sign, "documents.sign", 4096,
   "Sign the next step with that signer's certificate ({\"passphrase\"})"},
  {"POST", "/api/v1/documents/{id}/publish", signing_h_doc_publish, "documents.write", 0,
   "Publish a signed outgoing document to the recipients' inboxes"},
  {"POST", "/api/v1/documents/{id}/read", signing_h_doc_read, "documents.read", 0, "Mark an incoming document read"},
};

const http_route_t *signing_routes(size_t *n);
const http_route_t *signing_routes(size_t *n) {
  *n = ARRAY_LEN(SIGNING_ROUTES);
  return SIGNING_ROUTES;
}
