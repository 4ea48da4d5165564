#include "base/common.h"
#include "reports/reports.h"
#include "reports/reports_internal.h"
#include "base/json.h"
#include "base/log.h"
#include "identity/identity.h"
#include "units/units.h"

/*
 * GET /api/v1/reports/stats?from=&to=: per responsible body (unit + department) within
 * the caller's reports.stats grants: received, resolved, resolved on time (by the due
 * date in working days), open, overdue, median hours from receipt to resolution.
 * The window defaults to the last 90 days and is at most 366 days.
 */

#define STATS_MAX_ROWS 200000
#define STATS_MAX_GROUPS 2048

typedef struct stats_group {
  int64_t unit_id;
  const char *department;
  int64_t received, resolved, on_time, open, overdue;
  size_t n, cap;
  int64_t *durations;   /* ms from receipt to resolution */
} stats_group_t;

static int cmp_i64(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  return (a > b) - (a < b);
}

static bool in_scope(const identity_scope_t *sc, int64_t unit) {
  if (sc->everywhere) return true;
  return sc->n && bsearch(&unit, sc->ids, sc->n, sizeof *sc->ids, cmp_i64) != NULL;
}

static stats_group_t *group_for(arena_t *a, stats_group_t *g, size_t *ng, int64_t unit, const char *dept) {
  for (size_t i = 0; i < *ng; i++)
    if (g[i].unit_id == unit && ((!dept && !g[i].department) || (dept && g[i].department && strcmp(dept, g[i].department) == 0)))
      return &g[i];
  if (*ng >= STATS_MAX_GROUPS) return NULL;
  stats_group_t *n = &g[(*ng)++];
  memset(n, 0, sizeof *n);
  n->unit_id = unit;
  n->department = dept ? arena_strdup(a, dept) : NULL;
  return n;
}

static void push_duration(arena_t *a, stats_group_t *g, int64_t d) {
  if (g->n == g->cap) {
    size_t cap = g->cap ? g->cap * 2 : 16;
    int64_t *nd = arena_alloc(a, cap * sizeof *nd);
    if (g->n) memcpy(nd, g->durations, g->n * sizeof *nd);
    g->durations = nd;
    g->cap = cap;
  }
  g->durations[g->n++] = d;
}

void reports_h_stats(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = NULL;
  identity_scope_t scope;
  int64_t now = clock_now_ms(), from = now - REPORTS_WINDOW_MS, to = now;
  const char *qf = http_query(req, "from"), *qt = http_query(req, "to");
  if ((qf && reports_parse_iso(qf, &from)) || (qt && reports_parse_iso(qt, &to)) || to < from ||
      to - from > 366LL * 86400000) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", qf ? "from" : "to"),
                            "from/to must be ISO dates, from before to, at most 366 days apart");
    return;
  }
  identity_scope(req->arena, app, req->principal, "reports.stats", 0, &scope);
  stats_group_t *groups = arena_alloc(req->arena, STATS_MAX_GROUPS * sizeof *groups);
  size_t ng = 0, rows = 0;
  db = reports_req_db(req);
  if (!db) return;
  db_stmt_t *st = db_prepare(db, "SELECT unit_id, department, status, created_at, due_at, resolved_at FROM reports"
                                 " WHERE created_at >= $1 AND created_at <= $2 AND status <> 'duplicate'");
  if (!st) goto fail;
  db_bind_int64(st, 1, from);
  db_bind_int64(st, 2, to);
  int s;
  while ((s = db_step(st)) == DB_ROW && rows++ < STATS_MAX_ROWS) {
    int64_t unit = db_col_int64(st, 0), created = db_col_int64(st, 3), due = db_col_int64(st, 4), res = db_col_int64(st, 5);
    if (!in_scope(&scope, unit)) continue;
    stats_group_t *g = group_for(req->arena, groups, &ng, unit, db_col_text(st, 1));
    if (!g) continue;
    const char *status = db_col_text(st, 2);
    g->received++;
    if (res) {
      g->resolved++;
      if (res <= due) g->on_time++;
      push_duration(req->arena, g, res - created);
    }
    if (strcmp(reports_status_open311(status), "open") == 0) {
      g->open++;
      if (now > due) g->overdue++;
    }
  }
  db_stmt_done(st);
  if (s < 0) goto fail;
  json_t *items = json_array();
  int64_t tot[4] = {0, 0, 0, 0};
  for (size_t i = 0; i < ng; i++) {
    stats_group_t *g = &groups[i];
    const unit_t *u = app->units ? units_by_id(app->units, g->unit_id) : NULL;
    json_t *median = json_null();
    if (g->n) {
      qsort(g->durations, g->n, sizeof *g->durations, cmp_i64);
      double m = g->n % 2 ? (double)g->durations[g->n / 2] : (g->durations[g->n / 2 - 1] + g->durations[g->n / 2]) / 2.0;
      median = json_real(m / 3600000.0);
    }
    json_array_append_new(items, json_pack("{s:o, s:s?, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "unit",
                                           u ? json_pack("{s:I, s:s, s:s}", "id", (json_int_t)u->id, "code", u->code, "name", u->name)
                                             : json_null(),
                                           "department", g->department, "responsible",
                                           reports_responsible_name(req->arena, app, g->unit_id, g->department),
                                           "received", (json_int_t)g->received, "resolved", (json_int_t)g->resolved,
                                           "resolved_on_time", (json_int_t)g->on_time, "open", (json_int_t)g->open,
                                           "overdue", (json_int_t)g->overdue, "on_time_rate",
                                           g->resolved ? json_real((double)g->on_time / (double)g->resolved) : json_null(),
                                           "median_hours_to_resolve", median));
    tot[0] += g->received;
    tot[1] += g->resolved;
    tot[2] += g->on_time;
    tot[3] += g->open;
  }
  http_reply_json(req, 200, json_pack("{s:s?, s:s?, s:o, s:{s:I, s:I, s:I, s:I}}", "from", reports_iso(req->arena, from), "to",
                                      reports_iso(req->arena, to), "items", items, "total", "received", (json_int_t)tot[0],
                                      "resolved", (json_int_t)tot[1], "resolved_on_time", (json_int_t)tot[2], "open",
                                      (json_int_t)tot[3]));
  goto done;
fail:
  reports_db_fail(req, db);
done:
  db_pool_release(app->db, db);
}
