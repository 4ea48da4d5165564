/*
 * geo.h - polygons of administrative units and a point-in-polygon index.
 *
 * A geo_index_t holds (Multi)Polygons in WGS84 lon/lat, each tagged with a caller's
 * integer id (the unit's internal id), and answers "which polygon contains this
 * point" in well under a millisecond: a uniform grid over the union bounding box lists,
 * per cell, the polygons whose boundary touches the cell (or the one polygon that covers
 * it whole, answered without any test); candidates are tested by the even-odd crossing
 * rule over all rings (holes handled), scanning only the edges in the point's latitude
 * band. A point on the shared border of two units goes to one of them, deterministically
 * and independently of insertion order (the unit east of a north-south border, north of
 * an east-west one). Where polygons overlap, the one added first wins. Winding order is
 * not checked (RFC 7946 or the reverse both work). See src/units/geo.c for the layout.
 *
 * Built once (single thread), then read-only: geo_locate() may run from many threads
 * at once without locks.
 */
#ifndef CITYOS_GEO_H
#define CITYOS_GEO_H

#include <jansson.h>
#include "base/common.h"

typedef struct geo_index geo_index_t;

geo_index_t *geo_index_new(void);
void geo_index_free(geo_index_t *g);

/* Adds a GeoJSON geometry object (type Polygon or MultiPolygon) for `id`.
 * 0, or -1 with a reason in why (bad type, ring with < 4 positions, ring not closed,
 * non-finite or out-of-range coordinates; also after geo_index_build). A rejected
 * geometry leaves nothing in the index. why may be NULL; the reason is truncated to whylen. */
int geo_index_add_geometry(geo_index_t *g, int64_t id, const json_t *geometry, char *why, size_t whylen);
/* Builds the grid; call once after the last add (a second call is a no-op). 0 or -1. */
int geo_index_build(geo_index_t *g);

/* The id of the polygon containing (lon, lat), or -1 when none does (or before build). */
int64_t geo_locate(const geo_index_t *g, double lon, double lat);

/* Bounding box of the polygon(s) added for id; false when unknown. */
bool geo_bbox(const geo_index_t *g, int64_t id, double *minlon, double *minlat, double *maxlon, double *maxlat);
size_t geo_index_count(const geo_index_t *g);   /* polygons added */

/* Bytes held by the index (coordinates, rings, edge bands, grid), for sizing and benches. */
size_t geo_index_memory(const geo_index_t *g);

#endif
