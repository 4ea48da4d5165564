/*
 * units.h - administrative units (province > district > ward, or province > ward),
 * in eras ("2024": the three-level Hanoi of 2020-2024; "2025": the two-level Hanoi
 * from 2025-07-01). The hierarchy is data: any depth works.
 *
 * Units are keyed by (era, code) or by internal id; codes repeat across eras.
 * The units cache is loaded from the database at start. Each load is an immutable
 * snapshot, so lookups need no lock; `serve` checks the tables every few seconds and,
 * when an import (on any node) changed them, swaps in a new snapshot. Earlier snapshots
 * stay allocated until the cache is freed, so pointers a request holds stay valid
 * (imports are rare; each snapshot of Hanoi is about a megabyte).
 * It holds every era; one is active (config units_era).
 */
#ifndef CITYOS_UNITS_H
#define CITYOS_UNITS_H

#include "base/common.h"
#include "store/db.h"
#include "http/http.h"

typedef struct units_cache units_cache_t;

typedef struct unit {
  int64_t id;
  const char *era;         /* "2025" */
  const char *code;        /* "00070" (GSO, zero-padded text) */
  const char *name;        /* "Phường Hoàn Kiếm" */
  const char *type;        /* "phường" */
  const char *level;       /* "province" | "district" | "ward" */
  const char *folded;      /* text_fold(name): "phuong hoan kiem" */
  int64_t parent_id;       /* 0 for a root */
  int depth;               /* 0 for a root */
  size_t nchildren;
  const struct unit **children;   /* sorted by code */
  bool has_boundary;
  const char *json;        /* the API's JSON of this unit (pre-rendered) */
  size_t json_len;
} unit_t;

/* Loads every era from the units tables. NULL on failure (reason in errbuf). */
units_cache_t *units_cache_load(db_t *db, const char *active_era, char *errbuf, size_t errlen);
void units_cache_free(units_cache_t *c);
/* Loads a new snapshot when the units tables changed since the last load (or always
 * with force). 1 reloaded, 0 unchanged, -1 error (the current snapshot stays). */
int units_cache_reload(units_cache_t *c, db_t *db, bool force, char *errbuf, size_t errlen);

const char *units_active_era(const units_cache_t *c);
bool units_era_exists(const units_cache_t *c, const char *era);
const unit_t *units_by_id(const units_cache_t *c, int64_t id);
const unit_t *units_by_code(const units_cache_t *c, const char *era, const char *code);
/* Roots of an era (for Hanoi: the city). Returns the count; *out points into the cache. */
size_t units_roots(const units_cache_t *c, const char *era, const unit_t *const **out);
/* true when unit_id is ancestor_id or lies below it. Either 0 -> false. */
bool units_is_within(const units_cache_t *c, int64_t unit_id, int64_t ancestor_id);
/* The unit whose boundary contains the point, in the era's boundary index (the
 * deepest level that has boundaries). NULL when none. */
const unit_t *units_locate(const units_cache_t *c, const char *era, double lon, double lat);

/* Imports a CSV with header level,code,name,type,parent_code into `era` (created if
 * new). Upserts by (era, code); rejects the whole file (nothing written) on any bad row,
 * naming the line. Prints progress to `progress` (may be NULL). Returns rows or -1. */
long units_import_csv(db_t *db, const char *era, const char *path, FILE *progress);
/* Imports a GeoJSON FeatureCollection whose features carry properties.code, as the
 * boundaries of that era's units. Same all-or-nothing rule. Returns features or -1. */
long units_import_boundaries(db_t *db, const char *era, const char *path, FILE *progress);
/* Imports the shipped Hanoi reference data from data_dir/units (both eras and the
 * boundaries). Returns 0 or -1. */
int units_import_reference(db_t *db, const char *data_dir, FILE *progress);

const db_migration_t *units_migrations(size_t *n);
const http_route_t *units_routes(size_t *n);

#endif
