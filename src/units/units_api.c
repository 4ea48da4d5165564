#include "base/common.h"
#include "units/units_internal.h"
#include "app.h"
#include "base/text.h"
#include <math.h>

/* Which era a request means: ?era= or the active one. NULL after answering 404. */
static const char *req_era(http_req_t *req, const units_cache_t *c) {
  const char *era = http_query(req, "era");
  if (!era) return units_active_era(c);
  if (!units_era_exists(c, era)) {
    http_reply_error_detail(req, ERR_NOT_FOUND, json_pack("{s:s}", "field", "era"), "No era named '%.40s'", era);
    return NULL;
  }
  return era;
}

static json_t *unit_brief(const unit_t *u) {
  return json_pack("{s:s, s:s, s:s, s:s, s:I}", "code", u->code, "name", u->name, "type", u->type, "level",
                   u->level, "children_count", (json_int_t)u->nchildren);
}

static json_t *page(json_t *items, size_t total, int limit, int offset) {
  return json_pack("{s:o, s:I, s:i, s:i}", "items", items, "total", (json_int_t)total, "limit", limit, "offset",
                   offset);
}

static void reply_list(http_req_t *req, const unit_t *const *list, size_t n, int limit, int offset) {
  json_t *items = json_array();
  for (size_t i = (size_t)offset; i < n && i < (size_t)offset + (size_t)limit; i++)
    json_array_append_new(items, unit_brief(list[i]));
  http_add_header(req, "Cache-Control", "public, max-age=300");
  http_reply_json(req, 200, page(items, n, limit, offset));
}

/* --- search ---------------------------------------------------------------------- */

typedef struct {
  const unit_t *u;
  int score;
} hit_t;

static int cmp_hit(const void *a, const void *b) {
  const hit_t *x = a, *y = b;
  if (x->score != y->score) return y->score - x->score;
  if (x->u->depth != y->u->depth) return x->u->depth - y->u->depth;
  return strcmp(x->u->code, y->u->code);
}

/* Skips the type prefix of a folded name ("phuong hoan kiem" -> "hoan kiem"). */
static const char *bare_name(const unit_t *u, char *tmp, size_t tmplen) {
  long tl = text_fold(u->type, tmp, tmplen);
  size_t n = tl > 0 ? (size_t)tl : 0;
  if (n && strncmp(u->folded, tmp, n) == 0 && u->folded[n] == ' ') return u->folded + n + 1;
  return u->folded;
}

/* Every word of the query must start a word of the name. Scores: exact bare name
 * 100, bare name starts with the query 50, otherwise 10. */
static int match_score(const unit_t *u, const char *q) {
  char tmp[128];
  const char *bare = bare_name(u, tmp, sizeof tmp);
  const char *w = q;
  while (*w) {
    size_t wl = strcspn(w, " ");
    bool found = false;
    for (const char *p = u->folded; *p;) {
      if (strncmp(p, w, wl) == 0) {
        found = true;
        break;
      }
      const char *sp = strchr(p, ' ');
      if (!sp) break;
      p = sp + 1;
    }
    if (!found) return 0;
    w += wl;
    while (*w == ' ') w++;
  }
  if (strcmp(bare, q) == 0 || strcmp(u->folded, q) == 0) return 100;
  if (strncmp(bare, q, strlen(q)) == 0) return 50;
  return 10;
}

static void search(http_req_t *req, app_t *app, const char *era, const char *q, int limit, int offset) {
  const units_snap_t *c = units_snap(app->units);
  char *folded = text_fold_arena(req->arena, q);
  if (!folded) {
    http_reply_error_detail(req, ERR_BAD_REQUEST, json_pack("{s:s}", "field", "q"), "q is not valid UTF-8");
    return;
  }
  if (!*folded) {
    http_reply_error_detail(req, ERR_BAD_REQUEST, json_pack("{s:s}", "field", "q"), "q must contain letters or digits");
    return;
  }
  const char *level = http_query(req, "level");
  hit_t *hits = arena_alloc(req->arena, (c->n + 1) * sizeof *hits);
  size_t nh = 0;
  for (size_t i = 0; i < c->n; i++) {
    const unit_t *u = &c->units[i];
    if (strcmp(u->era, era) != 0) continue;
    if (level && strcmp(u->level, level) != 0) continue;
    int s = match_score(u, folded);
    if (s == 0 && strcmp(u->code, q) == 0) s = 200;
    if (s) hits[nh++] = (hit_t){u, s};
  }
  qsort(hits, nh, sizeof *hits, cmp_hit);
  json_t *items = json_array();
  for (size_t i = (size_t)offset; i < nh && i < (size_t)offset + (size_t)limit; i++) {
    json_t *b = unit_brief(hits[i].u);
    const unit_t *p = hits[i].u->parent_id ? units_by_id(app->units, hits[i].u->parent_id) : NULL;
    json_object_set_new(b, "parent", p ? json_pack("{s:s, s:s}", "code", p->code, "name", p->name) : json_null());
    json_array_append_new(items, b);
  }
  http_reply_json(req, 200, page(items, nh, limit, offset));
}

/* GET /api/v1/units?era=&parent=&q=&level=&limit=&offset= */
static void handle_list(http_req_t *req) {
  app_t *app = req->app;
  const char *era = req_era(req, app->units);
  if (!era) return;
  int limit, offset;
  if (http_page(req, 50, 500, &limit, &offset) < 0) return;
  const char *level = http_query(req, "level");
  if (level && strcmp(level, "province") && strcmp(level, "district") && strcmp(level, "ward")) {
    http_reply_error_detail(req, ERR_BAD_REQUEST, json_pack("{s:s}", "field", "level"),
                            "level must be province, district or ward");
    return;
  }
  const char *q = http_query(req, "q");
  if (q) {
    if (strlen(q) > 200) {
      http_reply_error_detail(req, ERR_BAD_REQUEST, json_pack("{s:s}", "field", "q"), "q is longer than 200 bytes");
      return;
    }
    search(req, app, era, q, limit, offset);
    return;
  }
  const char *parent = http_query(req, "parent");
  if (parent) {
    const unit_t *p = units_by_code(app->units, era, parent);
    if (!p) {
      http_reply_error_detail(req, ERR_NOT_FOUND, json_pack("{s:s}", "field", "parent"),
                              "No unit with code '%.20s' in era %s", parent, era);
      return;
    }
    reply_list(req, p->children, p->nchildren, limit, offset);
    return;
  }
  const unit_t *const *roots;
  size_t n = units_roots(app->units, era, &roots);
  reply_list(req, roots, n, limit, offset);
}

static const unit_t *req_unit(http_req_t *req, const char **era_out) {
  app_t *app = req->app;
  const char *era = req_era(req, app->units);
  if (!era) return NULL;
  const char *code = http_param(req, "code");
  const unit_t *u = units_by_code(app->units, era, code);
  if (!u) {
    http_reply_error(req, ERR_NOT_FOUND, "No unit with code '%.20s' in era %s", code, era);
    return NULL;
  }
  if (era_out) *era_out = era;
  return u;
}

/* GET /api/v1/units/{code}: served from the pre-rendered cache, no allocation. */
static void handle_get(http_req_t *req) {
  const unit_t *u = req_unit(req, NULL);
  if (!u) return;
  size_t len;
  const char *json = units_json(((app_t *)req->app)->units, u, &len);
  http_add_header(req, "Cache-Control", "public, max-age=300");
  http_reply_raw(req, 200, "application/json; charset=utf-8", json, len, true);
}

static void handle_children(http_req_t *req) {
  const unit_t *u = req_unit(req, NULL);
  if (!u) return;
  int limit, offset;
  if (http_page(req, 100, 1000, &limit, &offset) < 0) return;
  reply_list(req, u->children, u->nchildren, limit, offset);
}

static void handle_path(http_req_t *req) {
  const unit_t *u = req_unit(req, NULL);
  if (!u) return;
  app_t *app = req->app;
  json_t *items = json_array();
  for (const unit_t *p = u; p; p = p->parent_id ? units_by_id(app->units, p->parent_id) : NULL)
    json_array_insert_new(items, 0, unit_brief(p));
  http_add_header(req, "Cache-Control", "public, max-age=300");
  http_reply_json(req, 200, json_pack("{s:o}", "items", items));
}

static void handle_boundary(http_req_t *req) {
  const unit_t *u = req_unit(req, NULL);
  if (!u) return;
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  db_stmt_t *st = db_prepare(db, "SELECT geometry FROM unit_boundaries WHERE unit_id = $1");
  if (!st) {
    db_pool_release(app->db, db);
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  db_bind_int64(st, 1, u->id);
  int rc = db_step(st);
  if (rc == DB_ROW) {
    const char *g = db_col_text(st, 0);
    char *body = arena_printf(req->arena,
                              "{\"type\":\"Feature\",\"properties\":{\"code\":\"%s\",\"era\":\"%s\"},\"geometry\":%s}\n",
                              u->code, u->era, g);
    /* code and era are digits/letters only (checked on import), so no escaping needed. */
    http_add_header(req, "Cache-Control", "public, max-age=300");
    http_reply_raw(req, 200, "application/geo+json", body, strlen(body), true);
  } else if (rc == DB_DONE) {
    http_reply_error(req, ERR_NOT_FOUND, "No boundary is known for %s", u->name);
  } else {
    http_reply_error(req, ERR_INTERNAL, NULL);
  }
  db_stmt_done(st);
  db_pool_release(app->db, db);
}

/* GET /api/v1/units/boundaries?era= : every boundary of the era, for the map. */
static void handle_boundaries(http_req_t *req) {
  app_t *app = req->app;
  const char *era = req_era(req, app->units);
  if (!era) return;
  const era_t *e = units_era(app->units, era);
  if (!e->boundaries) {
    http_reply_error(req, ERR_NOT_FOUND, "No boundaries are known for era %s", era);
    return;
  }
  http_add_header(req, "Cache-Control", "public, max-age=3600");
  http_reply_raw(req, 200, "application/geo+json", e->boundaries, e->boundaries_len, true);
}

static int parse_coord(http_req_t *req, const char *name, double lo, double hi, double *out) {
  const char *s = http_query(req, name);
  if (!s) {
    http_reply_error_detail(req, ERR_BAD_REQUEST, json_pack("{s:s}", "field", name), "%s is required", name);
    return -1;
  }
  if (text_parse_double(s, out) < 0 || *out < lo || *out > hi) {
    http_reply_error_detail(req, ERR_BAD_REQUEST, json_pack("{s:s}", "field", name),
                            "%s must be a number from %g to %g", name, lo, hi);
    return -1;
  }
  return 0;
}

/* GET /api/v1/units/locate?lat=&lon=[&era=2025] */
static void handle_locate(http_req_t *req) {
  app_t *app = req->app;
  const char *era = http_query(req, "era");
  if (!era) era = "2025";
  if (!units_era_exists(app->units, era)) {
    http_reply_error_detail(req, ERR_NOT_FOUND, json_pack("{s:s}", "field", "era"), "No era named '%.40s'", era);
    return;
  }
  double lat, lon;
  if (parse_coord(req, "lat", -90, 90, &lat) < 0 || parse_coord(req, "lon", -180, 180, &lon) < 0) return;
  const unit_t *u = units_locate(app->units, era, lon, lat);
  if (!u) {
    http_reply_error(req, ERR_NOT_FOUND, "No unit of era %s contains the point (%.6f, %.6f)", era, lat, lon);
    return;
  }
  size_t len;
  const char *json = units_json(app->units, u, &len);
  http_reply_raw(req, 200, "application/json; charset=utf-8", json, len, true);
}

static void handle_eras(http_req_t *req) {
  app_t *app = req->app;
  const units_snap_t *c = units_snap(app->units);
  const char *active = units_active_era(app->units);
  json_t *items = json_array();
  for (size_t i = 0; i < c->neras; i++) {
    const era_t *e = &c->eras[i];
    json_array_append_new(items, json_pack("{s:s, s:s, s:I, s:b, s:b}", "name", e->name, "description",
                                           e->description, "units", (json_int_t)e->nunits, "active",
                                           strcmp(e->name, active) == 0, "has_boundaries",
                                           e->boundaries != NULL));
  }
  http_reply_json(req, 200, json_pack("{s:o, s:s}", "items", items, "active", active));
}

static const http_route_t ROUTES[] = {
  {"GET", "/api/v1/eras", handle_eras, HTTP_PUBLIC, 0, "Eras of administrative units and the active one"},
  {"GET", "/api/v1/units", handle_list, HTTP_PUBLIC, 0, "Roots, children of ?parent=, or search with ?q= (ignores diacritics)"},
  {"GET", "/api/v1/units/locate", handle_locate, HTTP_PUBLIC, 0, "The unit (2025 ward by default) containing ?lat=&lon="},
  {"GET", "/api/v1/units/boundaries", handle_boundaries, HTTP_PUBLIC, 0, "All boundaries of an era as GeoJSON"},
  {"GET", "/api/v1/units/{code}", handle_get, HTTP_PUBLIC, 0, "One unit"},
  {"GET", "/api/v1/units/{code}/children", handle_children, HTTP_PUBLIC, 0, "The unit's children"},
  {"GET", "/api/v1/units/{code}/path", handle_path, HTTP_PUBLIC, 0, "The path from the root to the unit"},
  {"GET", "/api/v1/units/{code}/boundary", handle_boundary, HTTP_PUBLIC, 0, "The unit's boundary as GeoJSON"},
};

const http_route_t *units_routes(size_t *n) {
  *n = ARRAY_LEN(ROUTES);
  return ROUTES;
}
