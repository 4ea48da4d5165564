/*
 * payments_callback.c - POST /api/v1/payments/callback from the payment platform (see
 * payments.c for the contract): HMAC check, idempotent confirmation, workflow step.
 */
#include "base/common.h"
#include "services/dossiers_internal.h"
#include "services/calendar.h"
#include "audit/audit.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include <sodium.h>

/* true when the header carries sha256=<hex of HMAC-SHA256(key, body)>. */
static bool signature_ok(const char *key, const char *header, const char *body, size_t len) {
  if (!header || strncmp(header, "sha256=", 7) || strlen(header + 7) != 64) return false;
  crypto_auth_hmacsha256_state s;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(&s, (const unsigned char *)key, strlen(key));
  crypto_auth_hmacsha256_update(&s, (const unsigned char *)body, len);
  crypto_auth_hmacsha256_final(&s, mac);
  char hex[65];
  text_hex(mac, sizeof mac, hex);
  char given[65];
  for (int i = 0; i < 64; i++) {
    char c = header[7 + i];
    given[i] = (char)(c >= 'A' && c <= 'F' ? c + 32 : c);
  }
  given[64] = 0;
  return text_ct_equal(hex, given, 64);
}

void services_payment_callback(http_req_t *req) {
  app_t *app = req->app;
  const char *key = getenv("CITYOS_PAYMENT_HMAC_KEY");
  if (!key || strlen(key) < 16) {
    http_reply_error(req, ERR_UNAVAILABLE, "Payment confirmation is not configured");
    return;
  }
  if (!req->body || !signature_ok(key, http_header(req, "X-Cityos-Signature"), req->body, req->body_len)) {
    http_reply_error(req, ERR_UNAUTHENTICATED, "Bad or missing X-Cityos-Signature");
    return;
  }
  json_t *body = http_body_object(req);
  if (!body) return;
  const char *ref = json_get_str(body, "reference"), *txn = json_get_str(body, "transaction_id");
  json_int_t amount;
  if (!ref || strlen(ref) > 40) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "reference"), "reference is required");
    return;
  }
  if (!txn || !*txn || strlen(txn) > 100) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "transaction_id"),
                            "transaction_id is required");
    return;
  }
  if (!json_get_int(body, "amount", &amount)) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "amount"), "amount is required");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  db_stmt_t *st = NULL;
  json_t *proc = NULL;
  calendar_t *cal = NULL;
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  if (db_begin(db)) goto fail;
  /* Lock the payment row (PostgreSQL) so two deliveries of one callback serialize. */
  st = db_prepare(db, db_kind(db) == DB_POSTGRES
                          ? "SELECT p.id, p.amount, p.status, p.transaction_id, d.code FROM payments p "
                            "JOIN dossiers d ON d.id = p.dossier_id WHERE p.reference = $1 FOR UPDATE OF p"
                          : "SELECT p.id, p.amount, p.status, p.transaction_id, d.code FROM payments p "
                            "JOIN dossiers d ON d.id = p.dossier_id WHERE p.reference = $1");
  if (!st || db_bind_text(st, 1, ref)) goto fail;
  int s = db_step(st);
  if (s < 0) goto fail;
  if (s == DB_DONE) {
    db_stmt_done(st);
    st = NULL;
    db_rollback(db);
    http_reply_error(req, ERR_NOT_FOUND, "No payment request with that reference");
    goto done;
  }
  int64_t pid = db_col_int64(st, 0), want = db_col_int64(st, 1);
  bool paid = !strcmp(db_col_text(st, 2), "paid");
  char *prev_txn = db_col_text(st, 3) ? arena_strdup(req->arena, db_col_text(st, 3)) : NULL;
  char *code = arena_strdup(req->arena, db_col_text(st, 4));
  db_stmt_done(st);
  st = NULL;
  if (paid) {
    db_rollback(db);
    if (prev_txn && !strcmp(prev_txn, txn))
      http_reply_json(req, 200, json_pack("{s:s, s:s, s:b}", "reference", ref, "status", "paid", "repeat", 1));
    else
      http_reply_error(req, ERR_CONFLICT, "This request was paid by another transaction");
    goto done;
  }
  if (amount != want) {
    db_rollback(db);
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "amount"),
                            "amount differs from the requested %" PRId64 " VND", want);
    goto done;
  }
  st = db_prepare(db, "UPDATE payments SET status = 'paid', transaction_id = $1, paid_at = $2 WHERE id = $3");
  if (!st || db_bind_text(st, 1, txn) || db_bind_int64(st, 2, clock_now_ms()) || db_bind_int64(st, 3, pid) ||
      db_step(st) != DB_DONE)
    goto fail;
  db_stmt_done(st);
  st = NULL;
  audit_entry_t e = audit_entry_from_req(req, "payment.confirm", "dossier", code);
  e.actor_kind = "system";
  e.detail = audit_detail(req->arena, json_pack("{s:s, s:s, s:I}", "reference", ref, "transaction_id", txn, "amount",
                                                amount));
  if (audit_append(db, &e)) goto fail;
  /* The workflow step the payment platform may take from the dossier's state. */
  dossier_t d;
  if (dossier_load(req->arena, db, code, &d) != 1) goto fail;
  if (!(proc = dossier_procedure(req, db, d.procedure_code, "reference"))) {
    db_rollback(db);
    goto done;
  }
  const json_t *wf = json_object_get(proc, "workflow_definition"), *step = NULL;
  size_t i, k;
  json_t *a, *v;
  json_array_foreach(json_object_get(wf, "actions"), i, a) {
    bool role = false, from = false;
    json_array_foreach(json_object_get(a, "roles"), k, v) if (!strcmp(json_string_value(v), "payment")) role = true;
    json_array_foreach(json_object_get(a, "from"), k, v) if (!strcmp(json_string_value(v), d.state)) from = true;
    if (role && from) step = a;
  }
  const char *moved = NULL;
  if (step) {
    if (!(cal = services_calendar(req, db))) {
      db_rollback(db);
      goto done;
    }
    req->principal = NULL;   /* the system takes the step */
    if (dossier_transition(req, db, cal, &d, proc, step, "Đã nhận thanh toán / payment confirmed") != 0) goto fail;
    moved = json_string_value(json_object_get(step, "to"));
  }
  /* The e-receipt, kept in the applicant's warehouse ("my documents"). A rendering
   * failure does not undo the payment (the slip endpoint renders it on demand). */
  unsigned char *pdf = NULL;
  size_t len = 0;
  int sr = dossier_slip_render(req, db, &d, proc, "fee_receipt", &pdf, &len);
  if (sr == -1) goto fail;
  if (sr == 1) {   /* not reached: this transaction confirmed a payment (409 answered) */
    db_rollback(db);
    goto done;
  }
  if (sr == 0) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[65];
    crypto_hash_sha256(digest, pdf, len);
    text_hex(digest, sizeof digest, hex);
    int wr = dossier_warehouse_add(db, &d, "receipt", "bien-lai-thu-phi",
                                   arena_printf(req->arena, "bien-lai-%s.pdf", ref), hex, pdf, len, clock_now_ms());
    free(pdf);
    if (wr) goto fail;
  } else {
    log_warn(req->request_id, "msg=\"e-receipt not kept\" reference=%s", ref);
  }
  if (db_commit(db)) goto fail;
  http_reply_json(req, 200, json_pack("{s:s, s:s, s:b, s:s?}", "reference", ref, "status", "paid", "repeat", 0,
                                      "dossier_state", moved));
  goto done;
fail:
  log_error(req->request_id, "msg=\"payment callback failed\" err=\"%s\"", db_errmsg(db));
  if (st) db_stmt_done(st);
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  json_decref(proc);
  calendar_free(cal);
  db_pool_release(app->db, db);
}
