/*
 * payments.c - fees: a payment request per dossier carrying a VietQR payload for the
 * receiving unit's bank account, and the payment platform's confirmation callback.
 *
 * The callback is authenticated by an HMAC-SHA256 of the raw body with a key shared
 * with the platform (environment CITYOS_PAYMENT_HMAC_KEY; without it the callback
 * answers 503), sent as "X-Cityos-Signature: sha256=<hex>". It is idempotent: a repeat
 * with the same transaction_id answers 200 again and changes nothing; a different
 * transaction for a paid request is 409. A confirmed payment takes the workflow action
 * that the role "payment" may take from the dossier's state (e.g. fee_due -> processing),
 * which resumes the deadline clock. The portal reads one request (amount, account,
 * transfer content, status) and its QR code as SVG to show the payment panel.
 */
#include "base/common.h"
#include "services/dossiers_internal.h"
#include "services/vietqr.h"
#include "audit/audit.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "http/auth.h"
#include "identity/identity.h"
#include "oidc/oidc.h"
#include "units/units.h"
#include <sodium.h>

static void reply_field(http_req_t *req, const char *field, const char *msg) {
  http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", field), "%s", msg);
}

void services_payment_account_put(http_req_t *req) {
  app_t *app = req->app;
  const unit_t *u = units_by_code(app->units, units_active_era(app->units), http_param(req, "unit"));
  if (!u) {
    http_reply_error(req, ERR_NOT_FOUND, "No unit with that code");
    return;
  }
  if (!identity_can(app, req->principal, "payments.configure", u->id)) {
    http_reply_error(req, ERR_FORBIDDEN, "You cannot configure this unit's account");
    return;
  }
  json_t *body = http_body_object(req);
  if (!body) return;
  const char *bin = json_get_str(body, "bank_bin"), *account = json_get_str(body, "account");
  const char *name = json_get_str(body, "name");
  char why[128], qr[256];
  vietqr_t q = {.bank_bin = bin, .account = account};
  if (vietqr_build(&q, qr, sizeof qr, why, sizeof why) < 0) {
    char field[32];
    snprintf(field, sizeof field, "%.*s", (int)strcspn(why, ":"), why);
    reply_field(req, field, why);
    return;
  }
  if (!name || !*name || strlen(name) > 100) {
    reply_field(req, "name", "name (the account holder) is required");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  db_stmt_t *st = NULL;
  audit_entry_t e = audit_entry_from_req(req, "payment_account.update", "unit", u->code);
  e.unit_id = u->id;
  if (db_begin(db)) goto fail;
  st = db_prepare(db, "INSERT INTO unit_bank_accounts (unit_id, bank_bin, account, name, updated_at) "
                      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (unit_id) DO UPDATE SET bank_bin = excluded.bank_bin, "
                      "account = excluded.account, name = excluded.name, updated_at = excluded.updated_at");
  if (!st || db_bind_int64(st, 1, u->id) || db_bind_text(st, 2, bin) || db_bind_text(st, 3, account) ||
      db_bind_text(st, 4, name) || db_bind_int64(st, 5, clock_now_ms()) || db_step(st) != DB_DONE)
    goto fail;
  db_stmt_done(st);
  st = NULL;
  if (audit_append(db, &e) || db_commit(db)) goto fail;
  db_pool_release(app->db, db);
  http_reply_json(req, 200, json_pack("{s:s, s:s, s:s, s:s}", "unit", u->code, "bank_bin", bin, "account", account,
                                      "name", name));
  return;
fail:
  if (st) db_stmt_done(st);
  log_error(req->request_id, "msg=\"payment account failed\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  db_pool_release(app->db, db);
  http_reply_error(req, ERR_INTERNAL, NULL);
}

/* POST /api/v1/dossiers/{code}/payments {"amount": VND}: while the dossier waits for its
 * financial obligation (status 6), an officer of the holding unit issues the request. */
void services_payment_request(http_req_t *req) {
  app_t *app = req->app;
  const principal_t *p = req->principal;
  json_t *body = http_body_object(req);
  if (!body) return;
  json_int_t amount;
  if (!json_get_int(body, "amount", &amount) || amount < 1 || amount > 10000000000LL) {
    reply_field(req, "amount", "amount must be a whole number of VND, 1 to 10,000,000,000");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  db_stmt_t *st = NULL;
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  dossier_t d;
  int rc = dossier_load(req->arena, db, http_param(req, "code"), &d);
  if (rc < 0) goto fail;
  if (rc == 0 || p->kind == PRINCIPAL_CITIZEN || !identity_can(app, p, "dossiers.read", d.holder_unit_id)) {
    http_reply_error(req, ERR_NOT_FOUND, "No dossier with that code");
    goto done;
  }
  if (!identity_can(app, p, "dossiers.process", d.holder_unit_id) &&
      !identity_can(app, p, "dossiers.receive", d.holder_unit_id)) {
    http_reply_error(req, ERR_FORBIDDEN, "You may not request fees for this dossier");
    goto done;
  }
  if (d.status != 6) {
    http_reply_error(req, ERR_CONFLICT, "A payment is requested while the dossier waits for its fees (status 6)");
    goto done;
  }
  st = db_prepare(db, "SELECT bank_bin, account, name FROM unit_bank_accounts WHERE unit_id = $1");
  if (!st || db_bind_int64(st, 1, d.unit_id)) goto fail;
  if (db_step(st) != DB_ROW) {
    db_stmt_done(st);
    st = NULL;
    http_reply_error(req, ERR_CONFLICT, "The receiving unit has no bank account configured");
    goto done;
  }
  char *bin = arena_strdup(req->arena, db_col_text(st, 0)), *acct = arena_strdup(req->arena, db_col_text(st, 1));
  char *holder = arena_strdup(req->arena, db_col_text(st, 2));
  db_stmt_done(st);
  st = NULL;
  char ref[24], qr[256], why[128];
  unsigned char rnd[5];
  random_bytes(rnd, sizeof rnd);
  snprintf(ref, sizeof ref, "CT%02X%02X%02X%02X%02X", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4]);
  char *purpose = arena_printf(req->arena, "%s %s", ref, d.code);
  vietqr_t q = {.bank_bin = bin, .account = acct, .amount = (uint64_t)amount, .purpose = purpose};
  if (vietqr_build(&q, qr, sizeof qr, why, sizeof why) < 0) {
    log_error(req->request_id, "msg=\"vietqr failed\" why=\"%s\"", why);
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  audit_entry_t e = audit_entry_from_req(req, "payment.request", "dossier", d.code);
  e.unit_id = d.holder_unit_id;
  e.detail = audit_detail(req->arena, json_pack("{s:s, s:I}", "reference", ref, "amount", amount));
  if (db_begin(db)) goto fail;
  st = db_prepare(db, "INSERT INTO payments (dossier_id, reference, amount, status, vietqr, created_at, created_by) "
                      "VALUES ($1, $2, $3, 'pending', $4, $5, $6)");
  if (!st || db_bind_int64(st, 1, d.id) || db_bind_text(st, 2, ref) || db_bind_int64(st, 3, amount) ||
      db_bind_text(st, 4, qr) || db_bind_int64(st, 5, clock_now_ms()) || db_bind_int64(st, 6, p->account_id) ||
      db_step(st) != DB_DONE)
    goto fail;
  db_stmt_done(st);
  st = NULL;
  if (audit_append(db, &e) || db_commit(db)) goto fail;
  http_reply_json(req, 201, json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s}", "dossier", d.code, "reference", ref,
                                      "amount", amount, "status", "pending", "vietqr", qr, "bank_bin", bin, "account",
                                      acct, "account_name", holder));
  goto done;
fail:
  log_error(req->request_id, "msg=\"payment request failed\" err=\"%s\"", db_errmsg(db));
  if (st) db_stmt_done(st);
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}

/* Loads the dossier {code} for a reader and its payment {reference}: the row's reference,
 * amount, status, vietqr, created_at, paid_at, transaction_id in *out (a new object).
 * Answers 404 itself (and returns 0) when either is missing or hidden; -1 on a database
 * error; 1 found. */
static int load_payment(http_req_t *req, db_t *db, dossier_t *d, json_t **out) {
  int rc = dossier_load(req->arena, db, http_param(req, "code"), d);
  if (rc < 0) return -1;
  if (rc == 0 || !dossier_can_see(req->app, req->principal, d)) {
    http_reply_error(req, ERR_NOT_FOUND, "No dossier with that code");
    return 0;
  }
  db_stmt_t *st = db_prepare(db, "SELECT reference, amount, status, vietqr, created_at, paid_at, transaction_id "
                                 "FROM payments WHERE dossier_id = $1 AND reference = $2");
  if (!st || db_bind_int64(st, 1, d->id) || db_bind_text(st, 2, http_param(req, "reference"))) {
    if (st) db_stmt_done(st);
    return -1;
  }
  rc = db_step(st);
  if (rc == DB_ROW)
    *out = json_pack("{s:s, s:s, s:I, s:s, s:s, s:o, s:o, s:s?}", "dossier", d->code, "reference", db_col_text(st, 0),
                     "amount", (json_int_t)db_col_int64(st, 1), "status", db_col_text(st, 2), "vietqr",
                     db_col_text(st, 3), "requested_at", dossier_time(db_col_int64(st, 4)), "paid_at",
                     dossier_time(db_col_int64(st, 5)), "transaction_id", db_col_text(st, 6));
  db_stmt_done(st);
  if (rc < 0) return -1;
  if (rc != DB_ROW) {
    http_reply_error(req, ERR_NOT_FOUND, "No payment with that reference for this dossier");
    return 0;
  }
  return 1;
}

/* GET /api/v1/dossiers/{code}/payments/{reference}: what the portal's payment panel
 * shows and polls: amount, status, the receiving account and transfer content (read
 * back from the VietQR payload, so they are what the code says), the e-receipt link once
 * paid. The applicant and the unit's officers; no personal data, so not audited. */
void services_payment_get(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  json_t *out = NULL;
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  dossier_t d;
  int rc = load_payment(req, db, &d, &out);
  if (rc < 0) goto fail;
  if (rc == 0) goto done;
  char bin[7], acct[20], purpose[100];
  uint64_t amount;
  if (vietqr_parse(json_string_value(json_object_get(out, "vietqr")), bin, acct, &amount, purpose) == 0) {
    json_object_set_new(out, "bank_bin", json_string(bin));
    json_object_set_new(out, "account", json_string(acct));
    json_object_set_new(out, "purpose", json_string(purpose));
    db_stmt_t *st = db_prepare(db, "SELECT name FROM unit_bank_accounts WHERE unit_id = $1 AND bank_bin = $2 "
                                   "AND account = $3");
    if (!st || db_bind_int64(st, 1, d.unit_id) || db_bind_text(st, 2, bin) || db_bind_text(st, 3, acct)) {
      if (st) db_stmt_done(st);
      goto fail;
    }
    rc = db_step(st);
    json_object_set_new(out, "account_name", rc == DB_ROW ? json_string(db_col_text(st, 0)) : json_null());
    db_stmt_done(st);
    if (rc < 0) goto fail;
  }
  bool paid = !strcmp(json_string_value(json_object_get(out, "status")), "paid");
  json_object_set_new(out, "receipt",
                      paid ? json_string(arena_printf(req->arena, "/api/v1/dossiers/%s/slips/fee_receipt", d.code))
                           : json_null());
  json_object_set_new(out, "qr", json_string(arena_printf(req->arena, "/api/v1/dossiers/%s/payments/%s/qr", d.code,
                                                          json_string_value(json_object_get(out, "reference")))));
  http_add_header(req, "Cache-Control", "no-store");
  http_reply_json(req, 200, out);
  out = NULL;
  goto done;
fail:
  log_error(req->request_id, "msg=\"payment read failed\" err=\"%s\"", db_errmsg(db));
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  json_decref(out);
  db_pool_release(app->db, db);
}

/* GET /api/v1/dossiers/{code}/payments/{reference}/qr: the VietQR payload as a QR code
 * (SVG, libqrencode), for the same readers; a banking app scans it from the screen. */
void services_payment_qr(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  json_t *row = NULL;
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  dossier_t d;
  int rc = load_payment(req, db, &d, &row);
  if (rc < 0) {
    log_error(req->request_id, "msg=\"payment qr failed\" err=\"%s\"", db_errmsg(db));
    http_reply_error(req, ERR_INTERNAL, NULL);
  } else if (rc == 1) {
    char *svg = oidc_qr_svg(req->arena, json_string_value(json_object_get(row, "vietqr")));
    if (!svg) {
      http_reply_error(req, ERR_INTERNAL, NULL);
    } else {
      http_add_header(req, "Cache-Control", "private, max-age=3600");
      http_add_header(req, "X-Content-Type-Options", "nosniff");
      http_reply_raw(req, 200, "image/svg+xml", svg, strlen(svg), false);
    }
  }
  json_decref(row);
  db_pool_release(app->db, db);
}
