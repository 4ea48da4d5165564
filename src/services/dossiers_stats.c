/*
 * dossiers_stats.c - satisfaction ratings and the raw figures of the national service
 * index: per procedure, for the dossiers received by a unit and its subtree in a
 * period: received, completed, early / on time / late, online share, average rating.
 */
#include "base/common.h"
#include "services/dossiers_internal.h"
#include "services/calendar.h"
#include "audit/audit.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "http/auth.h"
#include "identity/identity.h"
#include "units/units.h"

/* POST /api/v1/dossiers/{code}/rating {"score": 1-5, "comment"}: the applicant, once,
 * after the result (status 9 or 10). */
void services_dossier_rate(http_req_t *req) {
  app_t *app = req->app;
  const principal_t *p = req->principal;
  json_t *body = http_body_object(req);
  if (!body) return;
  json_int_t score;
  const char *comment = json_get_str(body, "comment");
  if (!json_get_int(body, "score", &score) || score < 1 || score > 5) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "score"), "score must be 1-5");
    return;
  }
  if (comment && (strlen(comment) > 1000 || !text_utf8_valid(comment, strlen(comment)))) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "comment"),
                            "comment must be at most 1000 bytes of UTF-8");
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
  if (rc == 0 || p->kind != PRINCIPAL_CITIZEN || p->account_id != d.applicant_account_id) {
    http_reply_error(req, ERR_NOT_FOUND, "No dossier of yours with that code");
    goto done;
  }
  if (d.status != 9 && d.status != 10) {
    http_reply_error(req, ERR_CONFLICT, "A dossier is rated once its result is ready");
    goto done;
  }
  if (db_begin(db)) goto fail;
  st = db_prepare(db, "INSERT INTO dossier_ratings (dossier_id, score, comment, created_at) VALUES ($1, $2, $3, $4) "
                      "ON CONFLICT (dossier_id) DO NOTHING");
  if (!st || db_bind_int64(st, 1, d.id) || db_bind_int64(st, 2, score) || db_bind_text(st, 3, comment) ||
      db_bind_int64(st, 4, clock_now_ms()) || db_step(st) != DB_DONE)
    goto fail;
  int64_t n = db_changes(st);
  db_stmt_done(st);
  st = NULL;
  if (n != 1) {
    db_rollback(db);
    http_reply_error(req, ERR_CONFLICT, "This dossier has already been rated");
    goto done;
  }
  audit_entry_t e = audit_entry_from_req(req, "dossier.rate", "dossier", d.code);
  e.unit_id = d.unit_id;
  if (audit_append(db, &e) || db_commit(db)) goto fail;
  http_reply_json(req, 201, json_pack("{s:s, s:I}", "dossier", d.code, "score", score));
  goto done;
fail:
  log_error(req->request_id, "msg=\"rating failed\" err=\"%s\"", db_errmsg(db));
  if (st) db_stmt_done(st);
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}

static void subtree_ids(const unit_t *u, char *out, size_t cap, size_t *len) {
  if (*len + 24 >= cap) return;
  *len += (size_t)snprintf(out + *len, cap - *len, "%s%" PRId64, *len ? "," : "", u->id);
  for (size_t i = 0; i < u->nchildren; i++) subtree_ids(u->children[i], out, cap, len);
}

static int parse_day(http_req_t *req, const char *name, int32_t *out) {
  const char *s = http_query(req, name);
  if (!s) return 0;
  if (calendar_parse_date(s, out) < 0) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", name), "%s must be YYYY-MM-DD", name);
    return -1;
  }
  return 1;
}

/* GET /api/v1/dossier-stats?unit=&from=&to= (dossiers.read at the unit). */
void services_dossier_stats(http_req_t *req) {
  app_t *app = req->app;
  const unit_t *u = units_by_code(app->units, units_active_era(app->units), http_query(req, "unit"));
  if (!u) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "unit"), "unit must be a unit code");
    return;
  }
  int32_t from = 0, to = 0;
  int hf = parse_day(req, "from", &from), ht = parse_day(req, "to", &to);
  if (hf < 0 || ht < 0) return;
  if (!identity_can(app, req->principal, "dossiers.read", u->id)) {
    http_reply_error(req, ERR_FORBIDDEN, "You cannot read this unit's figures");
    return;
  }
  size_t cap = 64 * 1024, len = 0;
  char *ids = arena_alloc(req->arena, cap);
  ids[0] = 0;
  subtree_ids(u, ids, cap, &len);
  int64_t from_ms = hf ? calendar_ms_of(from, 0) : 0, to_ms = ht ? calendar_ms_of(to + 1, 0) : INT64_MAX;
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  const char *sql = arena_printf(
      req->arena,
      "SELECT d.procedure_code, COUNT(*), SUM(CASE WHEN d.completed_at IS NOT NULL THEN 1 ELSE 0 END), "
      "SUM(CASE WHEN d.outcome = 'early' THEN 1 ELSE 0 END), SUM(CASE WHEN d.outcome = 'on_time' THEN 1 ELSE 0 END), "
      "SUM(CASE WHEN d.outcome = 'late' THEN 1 ELSE 0 END), SUM(CASE WHEN d.channel = 'online' THEN 1 ELSE 0 END), "
      "COUNT(r.score), AVG(CAST(r.score AS DOUBLE PRECISION)) FROM dossiers d "
      "LEFT JOIN dossier_ratings r ON r.dossier_id = d.id "
      "WHERE d.unit_id IN (%s) AND d.submitted_at >= $1 AND d.submitted_at < $2 "
      "GROUP BY d.procedure_code ORDER BY d.procedure_code",
      ids);
  db_stmt_t *st = db_prepare(db, sql);
  json_t *items = json_array();
  int64_t tot[8] = {0};
  double rating_sum = 0;
  if (!st || db_bind_int64(st, 1, from_ms) || db_bind_int64(st, 2, to_ms)) goto fail;
  int rc;
  while ((rc = db_step(st)) == DB_ROW) {
    int64_t v[8];
    for (int i = 0; i < 7; i++) v[i] = db_col_int64(st, i + 1);
    double avg = db_col_is_null(st, 8) ? 0 : db_col_double(st, 8);
    for (int i = 0; i < 7; i++) tot[i] += v[i];
    rating_sum += avg * (double)v[6];
    json_array_append_new(items, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "procedure",
                                           db_col_text(st, 0), "received", (json_int_t)v[0], "completed",
                                           (json_int_t)v[1], "early", (json_int_t)v[2], "on_time", (json_int_t)v[3],
                                           "late", (json_int_t)v[4], "online", (json_int_t)v[5], "ratings",
                                           (json_int_t)v[6], "average_rating", v[6] ? json_real(avg) : json_null()));
  }
  if (rc < 0) goto fail;
  db_stmt_done(st);
  db_pool_release(app->db, db);
  int64_t done_n = tot[2] + tot[3] + tot[4];
  json_t *total = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "received", (json_int_t)tot[0],
                            "completed", (json_int_t)tot[1], "early", (json_int_t)tot[2], "on_time",
                            (json_int_t)tot[3], "late", (json_int_t)tot[4], "online", (json_int_t)tot[5], "ratings",
                            (json_int_t)tot[6], "on_time_rate",
                            done_n ? json_real((double)(tot[2] + tot[3]) / (double)done_n) : json_null(),
                            "online_share", tot[0] ? json_real((double)tot[5] / (double)tot[0]) : json_null(),
                            "average_rating", tot[6] ? json_real(rating_sum / (double)tot[6]) : json_null());
  http_reply_json(req, 200, json_pack("{s:s, s:o, s:o}", "unit", u->code, "total", total, "procedures", items));
  return;
fail:
  log_error(req->request_id, "msg=\"stats failed\" err=\"%s\"", db_errmsg(db));
  if (st) db_stmt_done(st);
  json_decref(items);
  db_pool_release(app->db, db);
  http_reply_error(req, ERR_INTERNAL, NULL);
}
