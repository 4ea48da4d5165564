/* Internal to src/units. */
#ifndef CITYOS_UNITS_INTERNAL_H
#define CITYOS_UNITS_INTERNAL_H

#include "base/common.h"
#include "base/arena.h"
#include "units/units.h"
#include "units/geo.h"

typedef struct era {
  const char *name;
  const char *description;
  size_t nunits;
  const unit_t **roots;
  size_t nroots;
  geo_index_t *geo;              /* NULL when the era has no boundaries */
  char *boundaries;              /* FeatureCollection of every boundary, or NULL */
  size_t boundaries_len;
} era_t;

/* One immutable load of the units tables. The cache handle (units_cache.c) points at
 * the current one and keeps earlier ones until it is freed. */
typedef struct units_snap {
  arena_t *arena;
  struct units_snap *next_retired;
  unit_t *units;                 /* sorted by id */
  char **json;                   /* pre-rendered JSON of units[i] */
  size_t *json_len;
  size_t n;
  int32_t *htab;                 /* (era, code) -> index, open addressing */
  size_t hcap;
  era_t *eras;
  size_t neras;
} units_snap_t;

const era_t *units_era(const units_cache_t *c, const char *era);
/* The current snapshot (valid while the cache lives, even after a reload). */
const units_snap_t *units_snap(const units_cache_t *c);
/* The pre-rendered JSON of a unit (persistent while the cache lives). */
const char *units_json(const units_cache_t *c, const unit_t *u, size_t *len);

#endif
