#include "base/common.h"
#include "units/units_internal.h"
#include "base/log.h"
#include "base/text.h"
#include "base/buf.h"
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

static uint64_t hash_key(const char *era, const char *code) {
  uint64_t h = 1469598103934665603ull;   /* FNV-1a */
  for (const char *p = era; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  h = (h ^ 0xff) * 1099511628211ull;
  for (const char *p = code; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  return h;
}

static const unit_t *by_id(const units_snap_t *c, int64_t id) {
  size_t lo = 0, hi = c->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (c->units[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < c->n && c->units[lo].id == id ? &c->units[lo] : NULL;
}

static const unit_t *snap_by_id(const units_snap_t *c, int64_t id) { return c && id > 0 ? by_id(c, id) : NULL; }

static const unit_t *snap_by_code(const units_snap_t *c, const char *era, const char *code) {
  if (!c || !era || !code || !c->hcap) return NULL;
  size_t mask = c->hcap - 1;
  for (size_t i = hash_key(era, code) & mask;; i = (i + 1) & mask) {
    int32_t k = c->htab[i];
    if (k < 0) return NULL;
    const unit_t *u = &c->units[k];
    if (strcmp(u->code, code) == 0 && strcmp(u->era, era) == 0) return u;
  }
}

static const era_t *snap_era(const units_snap_t *c, const char *era) {
  for (size_t i = 0; c && era && i < c->neras; i++)
    if (strcmp(c->eras[i].name, era) == 0) return &c->eras[i];
  return NULL;
}


static size_t snap_roots(const units_snap_t *c, const char *era, const unit_t *const **out) {
  const era_t *e = snap_era(c, era);
  *out = e ? e->roots : NULL;
  return e ? e->nroots : 0;
}

static bool snap_is_within(const units_snap_t *c, int64_t unit_id, int64_t ancestor_id) {
  if (!c || unit_id <= 0 || ancestor_id <= 0) return false;
  const unit_t *u = by_id(c, unit_id);
  for (int guard = 0; u && guard < 64; guard++) {
    if (u->id == ancestor_id) return true;
    u = u->parent_id ? by_id(c, u->parent_id) : NULL;
  }
  return false;
}

static const unit_t *snap_locate(const units_snap_t *c, const char *era, double lon, double lat) {
  const era_t *e = snap_era(c, era);
  if (!e || !e->geo) return NULL;
  int64_t id = geo_locate(e->geo, lon, lat);
  return id > 0 ? by_id(c, id) : NULL;
}


static void snap_free(units_snap_t *c) {
  if (!c) return;
  for (size_t i = 0; i < c->neras; i++) {
    geo_index_free(c->eras[i].geo);
    free(c->eras[i].boundaries);
  }
  for (size_t i = 0; i < c->n; i++) free(c->json[i]);
  free(c->json);
  free(c->json_len);
  free(c->htab);
  free(c->units);
  free(c->eras);
  arena_free(c->arena);
  free(c);
}

static int cmp_child(const void *a, const void *b) {
  const unit_t *x = *(const unit_t *const *)a, *y = *(const unit_t *const *)b;
  return strcmp(x->code, y->code);
}

/* JSON of one unit as the API shows it: id, era, code, name, type, level, parent
 * (code and name), children count, whether a boundary is known. */
static char *render_unit(const units_snap_t *c, const unit_t *u, size_t *len) {
  const unit_t *p = u->parent_id ? by_id(c, u->parent_id) : NULL;
  json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:b}", "id", (json_int_t)u->id, "era", u->era,
                        "code", u->code, "name", u->name, "type", u->type, "level", u->level, "depth", u->depth,
                        "children_count", (json_int_t)u->nchildren, "has_boundary", u->has_boundary);
  json_object_set_new(o, "parent", p ? json_pack("{s:s, s:s}", "code", p->code, "name", p->name) : json_null());
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (!s) abort();
  size_t n = strlen(s);
  char *r = realloc(s, n + 2);
  if (!r) abort();
  r[n] = '\n';
  r[n + 1] = '\0';
  *len = n + 1;
  return r;
}

static int load_eras(units_snap_t *c, db_t *db) {
  db_stmt_t *st = db_prepare(db, "SELECT name, COALESCE(description, '') FROM eras ORDER BY name");
  if (!st) return -1;
  size_t cap = 4;
  c->eras = calloc(cap, sizeof *c->eras);
  int rc;
  while ((rc = db_step(st)) == DB_ROW) {
    if (c->neras == cap) {
      cap *= 2;
      era_t *e = realloc(c->eras, cap * sizeof *e);
      if (!e) abort();
      c->eras = e;
    }
    era_t *e = &c->eras[c->neras++];
    memset(e, 0, sizeof *e);
    e->name = arena_strdup(c->arena, db_col_text(st, 0));
    e->description = arena_strdup(c->arena, db_col_text(st, 1));
  }
  db_stmt_done(st);
  return rc < 0 ? -1 : 0;
}

static int load_units(units_snap_t *c, db_t *db) {
  db_stmt_t *st = db_prepare(db,
      "SELECT u.id, u.era, u.code, u.name, u.type, u.level, u.name_folded, COALESCE(u.parent_id, 0), "
      "       CASE WHEN b.unit_id IS NULL THEN 0 ELSE 1 END "
      "FROM units u LEFT JOIN unit_boundaries b ON b.unit_id = u.id ORDER BY u.id");
  if (!st) return -1;
  size_t cap = 1024;
  c->units = calloc(cap, sizeof *c->units);
  int rc;
  while ((rc = db_step(st)) == DB_ROW) {
    if (c->n == cap) {
      cap *= 2;
      unit_t *u = realloc(c->units, cap * sizeof *u);
      if (!u) abort();
      c->units = u;
    }
    unit_t *u = &c->units[c->n++];
    memset(u, 0, sizeof *u);
    u->id = db_col_int64(st, 0);
    u->era = arena_strdup(c->arena, db_col_text(st, 1));
    u->code = arena_strdup(c->arena, db_col_text(st, 2));
    u->name = arena_strdup(c->arena, db_col_text(st, 3));
    u->type = arena_strdup(c->arena, db_col_text(st, 4));
    u->level = arena_strdup(c->arena, db_col_text(st, 5));
    u->folded = arena_strdup(c->arena, db_col_text(st, 6));
    u->parent_id = db_col_int64(st, 7);
    u->has_boundary = db_col_int64(st, 8) != 0;
  }
  db_stmt_done(st);
  return rc < 0 ? -1 : 0;
}

static int link_tree(units_snap_t *c) {
  /* Children lists: count, allocate, fill, sort by code. */
  size_t *counts = calloc(c->n ? c->n : 1, sizeof *counts);
  if (!counts) abort();
  for (size_t i = 0; i < c->n; i++) {
    unit_t *u = &c->units[i];
    const unit_t *p = u->parent_id ? by_id(c, u->parent_id) : NULL;
    if (p) counts[p - c->units]++;
    era_t *e = (era_t *)snap_era(c, u->era);
    if (!e) {
      free(counts);
      return -1;
    }
    e->nunits++;
    if (!p) e->nroots++;
  }
  for (size_t i = 0; i < c->n; i++)
    if (counts[i]) c->units[i].children = arena_alloc(c->arena, counts[i] * sizeof(unit_t *));
  for (size_t i = 0; i < c->neras; i++)
    c->eras[i].roots = arena_alloc(c->arena, (c->eras[i].nroots + 1) * sizeof(unit_t *));
  for (size_t i = 0; i < c->neras; i++) c->eras[i].nroots = 0;
  for (size_t i = 0; i < c->n; i++) {
    unit_t *u = &c->units[i];
    unit_t *p = u->parent_id ? (unit_t *)by_id(c, u->parent_id) : NULL;
    if (p) {
      p->children[p->nchildren++] = u;
    } else {
      era_t *e = (era_t *)snap_era(c, u->era);
      e->roots[e->nroots++] = u;
    }
  }
  free(counts);
  for (size_t i = 0; i < c->n; i++) {
    unit_t *u = &c->units[i];
    if (u->nchildren > 1) qsort((void *)u->children, u->nchildren, sizeof(unit_t *), cmp_child);
    int d = 0;
    for (const unit_t *p = u; p->parent_id && d < 64; d++) p = by_id(c, p->parent_id);
    u->depth = d;
  }
  for (size_t i = 0; i < c->neras; i++)
    if (c->eras[i].nroots > 1) qsort((void *)c->eras[i].roots, c->eras[i].nroots, sizeof(unit_t *), cmp_child);
  return 0;
}

static void build_hash(units_snap_t *c) {
  c->hcap = 16;
  while (c->hcap < c->n * 2 + 1) c->hcap *= 2;
  c->htab = malloc(c->hcap * sizeof *c->htab);
  if (!c->htab) abort();
  memset(c->htab, 0xff, c->hcap * sizeof *c->htab);
  size_t mask = c->hcap - 1;
  for (size_t k = 0; k < c->n; k++) {
    size_t i = hash_key(c->units[k].era, c->units[k].code) & mask;
    while (c->htab[i] >= 0) i = (i + 1) & mask;
    c->htab[i] = (int32_t)k;
  }
}

/* Boundaries: one geo index per era, over the deepest level that has boundaries, and
 * a FeatureCollection of them all for the map. */
static int load_boundaries(units_snap_t *c, db_t *db, char *errbuf, size_t errlen) {
  db_stmt_t *st = db_prepare(db,
      "SELECT u.era, u.id, u.code, b.geometry FROM unit_boundaries b JOIN units u ON u.id = b.unit_id "
      "ORDER BY u.era, u.code");
  if (!st) return -1;
  int rc, ret = 0;
  buf_t *fc = calloc(c->neras ? c->neras : 1, sizeof *fc);
  int *maxdepth = calloc(c->neras ? c->neras : 1, sizeof *maxdepth);
  for (size_t i = 0; i < c->neras; i++) {
    buf_init(&fc[i], 256u << 20);
    maxdepth[i] = -1;
  }
  /* First pass: the deepest level with boundaries per era decides what locate finds. */
  while ((rc = db_step(st)) == DB_ROW) {
    const unit_t *u = by_id(c, db_col_int64(st, 1));
    const era_t *e = snap_era(c, db_col_text(st, 0));
    if (!u || !e) continue;
    size_t ei = (size_t)(e - c->eras);
    if (u->depth > maxdepth[ei]) maxdepth[ei] = u->depth;
  }
  db_stmt_done(st);
  if (rc < 0) {
    ret = -1;
    goto done;
  }
  while ((rc = db_step(st)) == DB_ROW) {
    const unit_t *u = by_id(c, db_col_int64(st, 1));
    era_t *e = (era_t *)snap_era(c, db_col_text(st, 0));
    const char *geom = db_col_text(st, 3);
    if (!u || !e || !geom) continue;
    size_t ei = (size_t)(e - c->eras);
    json_error_t jerr;
    json_t *g = json_loads(geom, 0, &jerr);
    if (!g) {
      snprintf(errbuf, errlen, "boundary of unit %s/%s is not valid JSON", u->era, u->code);
      ret = -1;
      break;
    }
    if (u->depth == maxdepth[ei]) {
      if (!e->geo) e->geo = geo_index_new();
      char why[160];
      if (geo_index_add_geometry(e->geo, u->id, g, why, sizeof why) < 0) {
        snprintf(errbuf, errlen, "boundary of unit %s/%s: %s", u->era, u->code, why);
        json_decref(g);
        ret = -1;
        break;
      }
    }
    json_decref(g);
    json_t *props = json_pack("{s:s, s:s, s:s, s:s}", "code", u->code, "name", u->name, "level", u->level,
                              "type", u->type);
    char *p = json_dumps(props, JSON_COMPACT);
    json_decref(props);
    buf_puts(&fc[ei], fc[ei].len ? ",\n" : "{\"type\":\"FeatureCollection\",\"features\":[\n");
    buf_printf(&fc[ei], "{\"type\":\"Feature\",\"properties\":%s,\"geometry\":", p);
    buf_puts(&fc[ei], geom);
    buf_puts(&fc[ei], "}");
    free(p);
  }
  db_stmt_done(st);
  if (rc < 0) ret = -1;
  for (size_t i = 0; i < c->neras && ret == 0; i++) {
    if (c->eras[i].geo && geo_index_build(c->eras[i].geo) < 0) {
      snprintf(errbuf, errlen, "cannot index the boundaries of era %s", c->eras[i].name);
      ret = -1;
    }
    if (fc[i].len) {
      buf_puts(&fc[i], "\n]}\n");
      c->eras[i].boundaries = buf_detach(&fc[i], &c->eras[i].boundaries_len);
    }
  }
done:
  for (size_t i = 0; i < c->neras; i++) buf_release(&fc[i]);
  free(fc);
  free(maxdepth);
  return ret;
}

static units_snap_t *snap_load(db_t *db, char *errbuf, size_t errlen) {
  units_snap_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->arena = arena_new(64 * 1024);
  if (load_eras(c, db) < 0 || load_units(c, db) < 0) {
    snprintf(errbuf, errlen, "cannot read units: %s", db_errmsg(db));
    goto fail;
  }
  if (link_tree(c) < 0) {
    snprintf(errbuf, errlen, "a unit names an era that does not exist");
    goto fail;
  }
  build_hash(c);
  c->json = calloc(c->n ? c->n : 1, sizeof *c->json);
  c->json_len = calloc(c->n ? c->n : 1, sizeof *c->json_len);
  for (size_t i = 0; i < c->n; i++) {
    c->json[i] = render_unit(c, &c->units[i], &c->json_len[i]);
    c->units[i].json = c->json[i];
    c->units[i].json_len = c->json_len[i];
  }
  if (load_boundaries(c, db, errbuf, errlen) < 0) goto fail;
  return c;
fail:
  snap_free(c);
  return NULL;
}

/* --- the handle: the current snapshot, swapped on reload ------------------------------ */

struct units_cache {
  _Atomic(units_snap_t *) cur;
  pthread_mutex_t lock;          /* one reload at a time */
  units_snap_t *retired;         /* earlier snapshots: a request may still hold pointers into them */
  size_t nretired;
  char *active_era;
  char fingerprint[96];
};

static const units_snap_t *cur(const units_cache_t *c) { return c ? atomic_load(&((units_cache_t *)c)->cur) : NULL; }

/* What changes whenever an import writes: row counts and the newest update times. */
static int read_fingerprint(db_t *db, char *out, size_t outlen) {
  db_stmt_t *st = db_prepare(db, "SELECT (SELECT COUNT(*) FROM eras), (SELECT COUNT(*) FROM units),"
                                 " (SELECT COALESCE(MAX(updated_at), 0) FROM units),"
                                 " (SELECT COUNT(*) FROM unit_boundaries),"
                                 " (SELECT COALESCE(MAX(updated_at), 0) FROM unit_boundaries)");
  if (!st) return -1;
  int rc = db_step(st);
  if (rc == DB_ROW)
    snprintf(out, outlen, "%lld/%lld/%lld/%lld/%lld", (long long)db_col_int64(st, 0), (long long)db_col_int64(st, 1),
             (long long)db_col_int64(st, 2), (long long)db_col_int64(st, 3), (long long)db_col_int64(st, 4));
  db_stmt_done(st);
  return rc == DB_ROW ? 0 : -1;
}

units_cache_t *units_cache_load(db_t *db, const char *active_era, char *errbuf, size_t errlen) {
  char fp[96];
  if (read_fingerprint(db, fp, sizeof fp) < 0) {
    snprintf(errbuf, errlen, "cannot read units: %s", db_errmsg(db));
    return NULL;
  }
  units_snap_t *s = snap_load(db, errbuf, errlen);
  if (!s) return NULL;
  units_cache_t *c = calloc(1, sizeof *c);
  if (!c) abort();
  atomic_init(&c->cur, s);
  pthread_mutex_init(&c->lock, NULL);
  c->active_era = strdup(active_era ? active_era : "2025");
  if (!c->active_era) abort();
  snprintf(c->fingerprint, sizeof c->fingerprint, "%s", fp);
  return c;
}

int units_cache_reload(units_cache_t *c, db_t *db, bool force, char *errbuf, size_t errlen) {
  char fp[96];
  if (read_fingerprint(db, fp, sizeof fp) < 0) {
    snprintf(errbuf, errlen, "cannot read units: %s", db_errmsg(db));
    return -1;
  }
  pthread_mutex_lock(&c->lock);
  int rc = 0;
  if (force || strcmp(fp, c->fingerprint) != 0) {
    units_snap_t *s = snap_load(db, errbuf, errlen);
    if (!s) {
      rc = -1;
    } else {
      units_snap_t *old = atomic_exchange(&c->cur, s);
      old->next_retired = c->retired;
      c->retired = old;
      c->nretired++;
      snprintf(c->fingerprint, sizeof c->fingerprint, "%s", fp);
      rc = 1;
    }
  }
  pthread_mutex_unlock(&c->lock);
  return rc;
}

void units_cache_free(units_cache_t *c) {
  if (!c) return;
  snap_free(atomic_load(&c->cur));
  for (units_snap_t *s = c->retired, *next; s; s = next) {
    next = s->next_retired;
    snap_free(s);
  }
  pthread_mutex_destroy(&c->lock);
  free(c->active_era);
  free(c);
}

const units_snap_t *units_snap(const units_cache_t *c) { return cur(c); }
const char *units_active_era(const units_cache_t *c) { return c->active_era; }
bool units_era_exists(const units_cache_t *c, const char *era) { return snap_era(cur(c), era) != NULL; }
const era_t *units_era(const units_cache_t *c, const char *era) { return snap_era(cur(c), era); }
const unit_t *units_by_id(const units_cache_t *c, int64_t id) { return snap_by_id(cur(c), id); }
const unit_t *units_by_code(const units_cache_t *c, const char *era, const char *code) {
  return snap_by_code(cur(c), era, code);
}
size_t units_roots(const units_cache_t *c, const char *era, const unit_t *const **out) {
  return snap_roots(cur(c), era, out);
}
bool units_is_within(const units_cache_t *c, int64_t unit_id, int64_t ancestor_id) {
  return snap_is_within(cur(c), unit_id, ancestor_id);
}
const unit_t *units_locate(const units_cache_t *c, const char *era, double lon, double lat) {
  return snap_locate(cur(c), era, lon, lat);
}
const char *units_json(const units_cache_t *c, const unit_t *u, size_t *len) {
  (void)c;
  *len = u->json_len;
  return u->json;
}
