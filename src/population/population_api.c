#include "base/common.h"
#include "population/population.h"
#include "audit/audit.h"
#include "base/cccd.h"
#include "base/log.h"
#include "identity/identity.h"

#include <jansson.h>

/*
 * GET /api/v1/population/{cccd}: one resident. Every lookup leaves an audit entry in
 * the transaction of the read: "population.read" when shown, "population.read_missing"
 * when the register has no such CCCD, "population.read_denied" when the resident lives
 * outside the caller's units (answered 404 like a missing one, so the register does not
 * reveal who lives where).
 */

static const char POP_SELECT[] =
    "SELECT cccd, full_name, birth_date, sex, perm_era, perm_code, perm_unit, cur_era, cur_code,"
    " cur_unit, household_id, updated_at FROM residents WHERE cccd = $1";

static json_t *unit_json(const app_t *app, const char *era, const char *code, int64_t id)
{
  const unit_t *u = app->units ? units_by_id(app->units, id) : NULL;
  return json_pack("{s:s,s:s,s:s?}", "era", era, "code", code, "name", u ? u->name : NULL);
}

static void pop_h_get(http_req_t *req)
{
  app_t *app = req->app;
  const char *cccd = http_param(req, "cccd");
  db_t *db = NULL;
  json_t *out = NULL;
  cccd_info_t info;
  if (!cccd || cccd_parse(cccd, &info) != CCCD_OK) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "cccd"),
                            "cccd must be a valid 12-digit CCCD");
    goto done;
  }
  db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    goto done;
  }
  if (db_begin(db) < 0) goto db_fail;
  db_stmt_t *st = db_prepare(db, POP_SELECT);
  if (!st) goto db_fail;
  db_bind_text(st, 1, cccd);
  int r = db_step(st);
  if (r < 0) {
    db_stmt_done(st);
    goto db_fail;
  }
  int64_t perm_unit = 0, cur_unit = 0;
  if (r == DB_ROW) {
    perm_unit = db_col_int64(st, 6);
    cur_unit = db_col_int64(st, 9);
    json_t *cur = db_col_is_null(st, 9) ? json_null()
                                        : unit_json(app, db_col_text(st, 7), db_col_text(st, 8), cur_unit);
    out = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:s?,s:I}", "cccd", db_col_text(st, 0), "full_name",
                    db_col_text(st, 1), "birth_date", db_col_text(st, 2), "sex", db_col_text(st, 3),
                    "permanent_address",
                    unit_json(app, db_col_text(st, 4), db_col_text(st, 5), perm_unit),
                    "current_address", cur, "household_id", db_col_text(st, 10), "updated_at",
                    (json_int_t)db_col_int64(st, 11));
  }
  db_stmt_done(st);
  const char *action = "population.read";
  if (!out) {
    action = "population.read_missing";
  } else if (!identity_can(app, req->principal, "population.read", perm_unit) &&
             !(cur_unit && identity_can(app, req->principal, "population.read", cur_unit))) {
    action = "population.read_denied";
    json_decref(out);
    out = NULL;
  }
  audit_entry_t e = audit_entry_from_req(req, action, "resident", cccd);
  e.unit_id = perm_unit;
  if (audit_append(db, &e) < 0 || db_commit(db) < 0) goto db_fail;
  if (!out) {
    http_reply_error(req, ERR_NOT_FOUND, "No such resident in the register");
    goto done;
  }
  http_reply_json(req, 200, out);
  out = NULL;
  goto done;
db_fail:
  log_error(req->request_id, "msg=\"population lookup failed\" err=\"%s\"", db ? db_errmsg(db) : "pool");
  if (db) db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  json_decref(out);
  if (db) db_pool_release(app->db, db);
}

static const http_route_t POPULATION_ROUTES[] = {
  {"GET", "/api/v1/population/{cccd}", pop_h_get, "population.read", 0,
   "One resident of the population register by CCCD (audited)"},
};

const http_route_t *population_routes(size_t *n)
{
  *n = ARRAY_LEN(POPULATION_ROUTES);
  return POPULATION_ROUTES;
}
