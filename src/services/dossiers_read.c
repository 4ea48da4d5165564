/*
 * dossiers_read.c - reading dossiers: one dossier (applicant or the unit's officers,
 * audited), the public status lookup (code + last 4 CCCD digits, no personal data),
 * "my dossiers", and the officer inbox of a unit: the open dossiers it holds (statuses
 * 1, 2, 4, 5, 6, 9; ?status= picks one, closed ones included), overdue first, paginated,
 * audited.
 */
#include "base/common.h"
#include "services/dossiers_internal.h"
#include "audit/audit.h"
#include "base/log.h"
#include "base/text.h"
#include "http/auth.h"
#include "identity/identity.h"
#include "units/units.h"
#include "services/calendar.h"

#define LOOKUP_MAX_FAILURES 10

void services_dossier_get(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  dossier_t d;
  int rc = dossier_load(req->arena, db, http_param(req, "code"), &d);
  if (rc < 0) goto db_fail;
  if (rc == 0 || !dossier_can_see(app, req->principal, &d)) {
    http_reply_error(req, ERR_NOT_FOUND, "No dossier with that code");
    goto done;
  }
  json_t *out = dossier_full_json(app, &d);
  json_t *tl = dossier_timeline(db, d.id, true);
  json_t *att = json_array();
  db_stmt_t *st = db_prepare(db, "SELECT da.name, a.hash, a.size, a.content_type, da.origin FROM dossier_attachments da "
                                 "JOIN attachments a ON a.hash = da.hash WHERE da.dossier_id = $1 ORDER BY da.name");
  if (st && !db_bind_int64(st, 1, d.id))
    while (db_step(st) == DB_ROW)
      json_array_append_new(att, json_pack("{s:s, s:s, s:I, s:s, s:s}", "name", db_col_text(st, 0), "sha256",
                                           db_col_text(st, 1), "size", (json_int_t)db_col_int64(st, 2),
                                           "content_type", db_col_text(st, 3), "origin", db_col_text(st, 4)));
  if (st) db_stmt_done(st);
  json_object_set_new(out, "timeline", tl ? tl : json_array());
  json_object_set_new(out, "attachments", att);
  json_t *pays = json_array();
  st = db_prepare(db, "SELECT reference, amount, status, vietqr, created_at, paid_at FROM payments "
                      "WHERE dossier_id = $1 ORDER BY id");
  if (st && !db_bind_int64(st, 1, d.id))
    while (db_step(st) == DB_ROW)
      json_array_append_new(pays, json_pack("{s:s, s:I, s:s, s:s, s:o, s:o}", "reference", db_col_text(st, 0), "amount",
                                            (json_int_t)db_col_int64(st, 1), "status", db_col_text(st, 2), "vietqr",
                                            db_col_text(st, 3), "requested_at", dossier_time(db_col_int64(st, 4)),
                                            "paid_at", dossier_time(db_col_int64(st, 5))));
  if (st) db_stmt_done(st);
  json_object_set_new(out, "payments", pays);
  /* the signed result, when there is one (the bytes: GET .../result) */
  json_t *res = json_null();
  st = db_prepare(db, "SELECT sha256, signed_at FROM dossier_results WHERE dossier_id = $1");
  if (st && !db_bind_int64(st, 1, d.id) && db_step(st) == DB_ROW)
    res = json_pack("{s:s, s:o, s:s}", "sha256", db_col_text(st, 0), "signed_at", dossier_time(db_col_int64(st, 1)),
                    "download", arena_printf(req->arena, "/api/v1/dossiers/%s/result", d.code));
  if (st) db_stmt_done(st);
  json_object_set_new(out, "result", res);
  audit_entry_t e = audit_entry_from_req(req, "dossier.read", "dossier", d.code);
  e.unit_id = d.holder_unit_id;
  if (db_begin(db) || audit_append(db, &e) || db_commit(db)) {
    json_decref(out);
    goto db_fail;
  }
  http_reply_json(req, 200, out);
  goto done;
db_fail:
  log_error(req->request_id, "msg=\"dossier read failed\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}

void services_dossier_lookup(http_req_t *req) {
  app_t *app = req->app;
  const char *digits = http_query(req, "cccd4");
  bool ok = digits && strlen(digits) == 4;
  for (int i = 0; ok && i < 4; i++) ok = digits[i] >= '0' && digits[i] <= '9';
  if (!ok) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "cccd4"),
                            "cccd4 must be the last 4 digits of the applicant's CCCD");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  dossier_t d;
  const char *code = http_param(req, "code");
  int64_t now = clock_now_ms();
  /* 4 digits are guessable: after LOOKUP_MAX_FAILURES wrong tries on one code within an
   * hour (counted in the database, so every node agrees) the code is locked for the hour. */
  db_stmt_t *st = db_prepare(db, "SELECT COUNT(*) FROM dossier_lookup_failures WHERE code = $1 AND at > $2");
  int64_t failures = 0;
  if (!st || db_bind_text(st, 1, code) || db_bind_int64(st, 2, now - 3600000) || db_step(st) != DB_ROW) {
    if (st) db_stmt_done(st);
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  failures = db_col_int64(st, 0);
  db_stmt_done(st);
  if (failures >= LOOKUP_MAX_FAILURES) {
    http_add_header(req, "Retry-After", "3600");
    http_reply_error(req, ERR_RATE_LIMITED, "Too many wrong tries for this code; try again later");
    goto done;
  }
  int rc = dossier_load(req->arena, db, code, &d);
  if (rc < 0) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  /* The same answer for an unknown code and a wrong second factor. */
  if (rc == 0 || strlen(d.applicant_cccd) != 12 || !text_ct_equal(d.applicant_cccd + 8, digits, 4)) {
    st = db_prepare(db, "INSERT INTO dossier_lookup_failures (code, at) VALUES ($1, $2)");
    if (st && !db_bind_text(st, 1, code) && !db_bind_int64(st, 2, now)) (void)db_step(st);
    if (st) db_stmt_done(st);
    http_reply_error(req, ERR_NOT_FOUND, "No dossier with that code and those digits");
    goto done;
  }
  json_t *out = dossier_public_json(app, &d);
  json_t *tl = dossier_timeline(db, d.id, false);
  json_object_set_new(out, "timeline", tl ? tl : json_array());
  json_t *res = dossier_result_public(db, d.id);
  json_object_set_new(out, "result", res ? res : json_null());
  http_add_header(req, "Cache-Control", "no-store");
  http_reply_json(req, 200, out);
done:
  db_pool_release(app->db, db);
}

void services_dossier_mine(http_req_t *req) {
  app_t *app = req->app;
  const principal_t *p = req->principal;
  int limit, offset;
  if (http_page(req, 20, 100, &limit, &offset) < 0) return;
  if (p->kind != PRINCIPAL_CITIZEN) {
    http_reply_error(req, ERR_FORBIDDEN, "Only citizens have their own dossiers");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  json_t *items = json_array();
  int64_t total = 0;
  db_stmt_t *st = db_prepare(db, "SELECT " DOSSIER_COLUMNS ", COUNT(*) OVER () FROM dossiers "
                                 "WHERE applicant_account_id = $1 ORDER BY submitted_at DESC, id DESC LIMIT $2 OFFSET $3");
  if (!st || db_bind_int64(st, 1, p->account_id) || db_bind_int64(st, 2, limit) || db_bind_int64(st, 3, offset)) goto fail;
  int rc;
  while ((rc = db_step(st)) == DB_ROW) {
    dossier_t d;
    dossier_from_row(req->arena, st, &d);
    json_array_append_new(items, dossier_public_json(app, &d));
    total = db_col_int64(st, DOSSIER_NCOLS);
  }
  if (rc < 0) goto fail;
  db_stmt_done(st);
  db_pool_release(app->db, db);
  http_reply_json(req, 200, json_pack("{s:o, s:I, s:i, s:i}", "items", items, "total", (json_int_t)total, "limit", limit,
                                      "offset", offset));
  return;
fail:
  if (st) db_stmt_done(st);
  json_decref(items);
  db_pool_release(app->db, db);
  http_reply_error(req, ERR_INTERNAL, NULL);
}

void services_dossier_inbox(http_req_t *req) {
  app_t *app = req->app;
  const principal_t *p = req->principal;
  int limit, offset;
  if (http_page(req, 20, 200, &limit, &offset) < 0) return;
  const char *unit_code = http_query(req, "unit"), *procedure = http_query(req, "procedure");
  const char *status_s = http_query(req, "status"), *due_before = http_query(req, "due_before");
  const char *step_s = http_query(req, "step_overdue"), *sort = http_query(req, "sort");
  const unit_t *u = unit_code ? units_by_code(app->units, units_active_era(app->units), unit_code) : NULL;
  if (!u) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "unit"), "unit must be a unit code");
    return;
  }
  int64_t status = 0, due_ms = 0;
  if (status_s && text_parse_int64(status_s, 1, 10, &status) < 0) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "status"), "status must be 1-10");
    return;
  }
  if (due_before) {
    int32_t j;
    if (calendar_parse_date(due_before, &j) < 0) {
      http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "due_before"),
                              "due_before must be a date YYYY-MM-DD");
      return;
    }
    due_ms = calendar_ms_of(j, 0);
  }
  bool step_only = false, by_step = false;
  if (step_s && strcmp(step_s, "true") && strcmp(step_s, "false") && strcmp(step_s, "1") && strcmp(step_s, "0")) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "step_overdue"),
                            "step_overdue must be true or false");
    return;
  }
  step_only = step_s && (!strcmp(step_s, "true") || !strcmp(step_s, "1"));
  if (sort && strcmp(sort, "due") && strcmp(sort, "step")) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "sort"), "sort must be due or step");
    return;
  }
  by_step = sort && !strcmp(sort, "step");
  if (!identity_can(app, p, "dossiers.read", u->id)) {
    http_reply_error(req, ERR_FORBIDDEN, "You cannot read this unit's dossiers");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  int64_t now = clock_now_ms();
  json_t *items = json_array();
  int64_t total = 0;
  /* The page's ids come from the index (holder, status, due, paused, id); only those rows
   * are read. The total is a separate count over the same index. The step filter
   * (step_overdue: current step past its deadline, clock running; $5 = now) and the step
   * order (sort=step: those first, then by step due) are only in the SQL when asked for,
   * so the default inbox reads no step columns. */
  char *where = arena_printf(req->arena,
                             "holder_unit_id = $1 AND (CAST($2 AS TEXT) IS NULL OR procedure_code = $2) "
                             "AND ((CAST($3 AS BIGINT) = 0 AND status IN (1, 2, 4, 5, 6, 9)) OR status = $3) "
                             "AND (CAST($4 AS BIGINT) = 0 OR due_at < $4)%s",
                             step_only ? " AND step_state = state AND paused_at IS NULL "
                                         "AND status NOT IN (3, 5, 6, 7, 8, 10) AND step_due_at < $5"
                                       : "");
  int n = step_only ? 6 : 5;   /* the page query's next parameter: now, then limit, offset */
  db_stmt_t *st = db_prepare(db, arena_printf(req->arena, "SELECT COUNT(*) FROM dossiers WHERE %s", where));
  if (!st || db_bind_int64(st, 1, u->id) || db_bind_text(st, 2, procedure) || db_bind_int64(st, 3, status) ||
      db_bind_int64(st, 4, due_ms) || (step_only && db_bind_int64(st, 5, now)) || db_step(st) != DB_ROW)
    goto fail;
  total = db_col_int64(st, 0);
  db_stmt_done(st);
  const char *step_key = "CASE WHEN step_state = state AND paused_at IS NULL AND step_due_at IS NOT NULL "
                         "AND status NOT IN (3, 5, 6, 7, 8, 10) THEN step_due_at ELSE 9000000000000000000 END";
  const char *step_cols = by_step ? arena_printf(req->arena, ", %s AS sdue, CASE WHEN %s < $%d THEN 0 ELSE 1 END AS slate",
                                           step_key, step_key, n)
                            : "";
  st = db_prepare(db, arena_printf(req->arena,
                                   "WITH page AS (SELECT id, CASE WHEN status NOT IN (3, 7, 8, 9, 10) AND paused_at IS NULL "
                                   "AND due_at < $%d THEN 0 ELSE 1 END AS late, due_at AS due%s FROM dossiers WHERE %s "
                                   "ORDER BY %s LIMIT $%d OFFSET $%d) "
                                   "SELECT " DOSSIER_COLUMNS ", page.late FROM dossiers JOIN page USING (id) "
                                   "ORDER BY %s",
                                   n, step_cols, where, by_step ? "slate, sdue, due_at, id" : "late, due_at, id", n + 1,
                                   n + 2, by_step ? "page.slate, page.sdue, page.due, id" : "page.late, page.due, id"));
  if (!st || db_bind_int64(st, 1, u->id) || db_bind_text(st, 2, procedure) || db_bind_int64(st, 3, status) ||
      db_bind_int64(st, 4, due_ms) || (step_only && db_bind_int64(st, 5, now)) || db_bind_int64(st, n, now) ||
      db_bind_int64(st, n + 1, limit) || db_bind_int64(st, n + 2, offset))
    goto fail;
  int rc;
  while ((rc = db_step(st)) == DB_ROW) {
    dossier_t d;
    dossier_from_row(req->arena, st, &d);
    json_t *o = dossier_public_json(app, &d);
    json_object_set_new(o, "applicant_name", json_string(d.applicant_name));
    json_object_set_new(o, "channel", json_string(d.channel));
    json_object_set_new(o, "overdue", json_boolean(db_col_int64(st, DOSSIER_NCOLS) == 0));
    json_array_append_new(items, o);
  }
  if (rc < 0) goto fail;
  db_stmt_done(st);
  st = NULL;
  audit_entry_t e = audit_entry_from_req(req, "dossier.list", "unit", u->code);
  e.unit_id = u->id;
  e.detail = audit_detail(req->arena, json_pack("{s:I, s:i, s:i}", "returned", (json_int_t)json_array_size(items),
                                                "limit", limit, "offset", offset));
  if (db_begin(db) || audit_append(db, &e) || db_commit(db)) goto fail;
  db_pool_release(app->db, db);
  http_reply_json(req, 200, json_pack("{s:o, s:I, s:i, s:i}", "items", items, "total", (json_int_t)total, "limit", limit,
                                      "offset", offset));
  return;
fail:
  log_error(req->request_id, "msg=\"inbox failed\" err=\"%s\"", db_errmsg(db));
  if (st) db_stmt_done(st);
  db_rollback(db);
  json_decref(items);
  db_pool_release(app->db, db);
  http_reply_error(req, ERR_INTERNAL, NULL);
}

/* GET /api/v1/dossiers/{code}/attachments/{sha256}: one attachment's bytes, for the
 * applicant and the unit's officers (audited). */
void services_dossier_attachment(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  db_stmt_t *st = NULL;
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  dossier_t d;
  int rc = dossier_load(req->arena, db, http_param(req, "code"), &d);
  if (rc < 0) goto fail;
  if (rc == 0 || !dossier_can_see(app, req->principal, &d)) {
    http_reply_error(req, ERR_NOT_FOUND, "No dossier with that code");
    goto done;
  }
  st = db_prepare(db, "SELECT a.content_type, a.body, da.name FROM dossier_attachments da "
                      "JOIN attachments a ON a.hash = da.hash WHERE da.dossier_id = $1 AND da.hash = $2");
  if (!st || db_bind_int64(st, 1, d.id) || db_bind_text(st, 2, http_param(req, "sha256"))) goto fail;
  int s = db_step(st);
  if (s < 0) goto fail;
  if (s == DB_DONE) {
    db_stmt_done(st);
    st = NULL;
    http_reply_error(req, ERR_NOT_FOUND, "No attachment with that hash in this dossier");
    goto done;
  }
  size_t len;
  const void *body = db_col_blob(st, 1, &len);
  char *type = arena_strdup(req->arena, db_col_text(st, 0));
  void *copy = arena_alloc(req->arena, len ? len : 1);
  if (len) memcpy(copy, body, len);
  db_stmt_done(st);
  st = NULL;
  audit_entry_t e = audit_entry_from_req(req, "dossier.attachment", "dossier", d.code);
  e.unit_id = d.holder_unit_id;
  e.detail = audit_detail(req->arena, json_pack("{s:s}", "sha256", http_param(req, "sha256")));
  if (db_begin(db) || audit_append(db, &e) || db_commit(db)) goto fail;
  http_add_header(req, "Content-Disposition", "attachment");
  http_add_header(req, "X-Content-Type-Options", "nosniff");
  http_reply_raw(req, 200, type, copy, len, false);
  goto done;
fail:
  log_error(req->request_id, "msg=\"attachment read failed\" err=\"%s\"", db_errmsg(db));
  if (st) db_stmt_done(st);
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}
