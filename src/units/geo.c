#include "base/common.h"

#include <math.h>

#include "units/geo.h"

/*
 * geo.c - point-in-polygon index over (Multi)Polygons.
 *
 * Storage (all flat, no per-polygon allocations):
 *   pts         lon,lat pairs of every ring, rings stored closed (last == first)
 *   ring_start  ring r is pts[ring_start[r] .. ring_start[r+1]); edge i joins vertex i and i+1
 *   ents        one entry per geo_index_add_geometry(): id, bbox, its rings, its edge bands
 *   band_start / band_edges
 *               per entry, its latitude range is cut into bands of equal height; band k
 *               lists (as vertex indices) the non-horizontal edges whose y range meets it.
 *               A containment test scans one band: only edges that can cross the ray.
 *   cells / items
 *               uniform grid over the union bbox. Every edge is rasterised (with a small
 *               margin) into the cells it touches; in those cells its entry is a candidate
 *               that needs a real test. A cell of an entry's bbox that no edge of the entry
 *               touches is wholly inside or wholly outside it; the cell centre decides, and
 *               "wholly inside" cells record the entry as FULL (no test needed).
 *               cells[c] is GEO_CELL_EMPTY, GEO_FULL|entry (answer without any test), or
 *               an offset into items: items[off] = n, then n entries (GEO_FULL flag allowed),
 *               in insertion order, cut after the first FULL one.
 *
 * Containment is the even-odd crossing rule over all rings of the entry (so holes and
 * multipolygon parts need no special case), with a ray towards +lon and half-open rules:
 * an edge counts when min(y) <= lat < max(y) and the point is strictly left of it. Each
 * edge is evaluated with its endpoints ordered by latitude, so an edge shared by two
 * polygons gives bit-identical results in both: a point on a shared border belongs to
 * exactly one of the two (the one on its east side; for an east-west border, the one on its
 * north side). When polygons overlap, the first one added wins.
 */

#define GEO_FULL 0x80000000u
#define GEO_CELL_EMPTY 0xFFFFFFFFu
#define GEO_MAX_VERTICES 0x7FFFFFF0u  /* vertex indices are uint32 */
#define GEO_MAX_ENTRIES 0x7FFFFFF0u

/* Tuning, measured with bench/geo-bench.sh on the 2025 wards (132k vertices): bands of ~4
 * edges and ~2 cells per vertex (a 487x544 grid) give ~25-40 ns for uniform points and
 * ~220 ns right at borders, in 4.2 MiB. Without bands a border lookup costs ~2.4 us; with
 * bbox-only cell lists (no FULL cells) a uniform lookup costs ~150 ns. */
#ifndef GEO_EDGES_PER_BAND
#define GEO_EDGES_PER_BAND 4      /* average non-horizontal edges per latitude band */
#endif
#ifndef GEO_CELLS_PER_VERTEX
#define GEO_CELLS_PER_VERTEX 2.0  /* grid cells per stored vertex */
#endif
#define GEO_MIN_CELLS 64.0
#define GEO_MAX_CELLS 1048576.0
#define GEO_MAX_SIDE 4096u
#define GEO_CELL_MARGIN 1e-6      /* edge margin when rasterising, in cell widths */

typedef struct geo_entry {
  int64_t id;
  double minx, miny, maxx, maxy;
  uint32_t ring_first, ring_count;  /* rings ring_first .. ring_first+ring_count-1 */
  uint32_t band_first, nbands;      /* band_start[band_first .. band_first+nbands] */
  double band_y0, band_inv_h;
} geo_entry_t;

struct geo_index {
  double *pts;              /* 2 * npts doubles */
  size_t npts, cap_pts;
  uint32_t *ring_start;     /* nrings + 1 values */
  size_t nrings, cap_rings; /* cap_rings counts slots of ring_start */
  geo_entry_t *ents;
  size_t nents, cap_ents;

  uint32_t *band_start;
  size_t nband_start;
  uint32_t *band_edges;
  size_t nband_edges;

  bool built;
  double minx, miny, maxx, maxy;  /* union bbox */
  uint32_t nx, ny;
  double cell_w, cell_h, inv_w, inv_h;
  uint32_t *cells;          /* nx * ny */
  uint32_t *items;
  size_t nitems;
};

__attribute__((format(printf, 3, 4)))
static void geo_why(char *why, size_t whylen, const char *fmt, ...)
{
  va_list ap;

  if (why == NULL || whylen == 0)
    goto out;
  va_start(ap, fmt);
  vsnprintf(why, whylen, fmt, ap);
  va_end(ap);
out:
  return;
}

/* Grows *p (elements of size sz) so that it holds at least need elements. */
static int geo_reserve(void **p, size_t *cap, size_t need, size_t sz)
{
  int rc = -1;
  size_t ncap = *cap ? *cap : 16;
  void *np;

  if (need <= *cap) {
    rc = 0;
    goto out;
  }
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2 / sz)
      goto out;
    ncap *= 2;
  }
  np = realloc(*p, ncap * sz);
  if (np == NULL)
    goto out;
  *p = np;
  *cap = ncap;
  rc = 0;
out:
  return rc;
}

geo_index_t *geo_index_new(void)
{
  geo_index_t *g = calloc(1, sizeof(*g));

  if (g == NULL)
    goto out;
  if (geo_reserve((void **)&g->ring_start, &g->cap_rings, 16, sizeof(uint32_t)) != 0) {
    free(g);
    g = NULL;
    goto out;
  }
  g->ring_start[0] = 0;
out:
  return g;
}

void geo_index_free(geo_index_t *g)
{
  if (g == NULL)
    goto out;
  free(g->pts);
  free(g->ring_start);
  free(g->ents);
  free(g->band_start);
  free(g->band_edges);
  free(g->cells);
  free(g->items);
  free(g);
out:
  return;
}

size_t geo_index_count(const geo_index_t *g)
{
  return g ? g->nents : 0;
}

size_t geo_index_memory(const geo_index_t *g)
{
  size_t n = 0;

  if (g == NULL)
    goto out;
  n = sizeof(*g) + g->cap_pts * 2 * sizeof(double) + g->cap_rings * sizeof(uint32_t) +
      g->cap_ents * sizeof(geo_entry_t) + g->nband_start * sizeof(uint32_t) +
      g->nband_edges * sizeof(uint32_t) + (size_t)g->nx * g->ny * sizeof(uint32_t) +
      g->nitems * sizeof(uint32_t);
out:
  return n;
}

bool geo_bbox(const geo_index_t *g, int64_t id, double *minlon, double *minlat, double *maxlon,
              double *maxlat)
{
  bool found = false;
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;

  if (g == NULL)
    goto out;
  for (size_t i = 0; i < g->nents; i++) {
    const geo_entry_t *e = &g->ents[i];
    if (e->id != id)
      continue;
    if (!found) {
      x0 = e->minx; y0 = e->miny; x1 = e->maxx; y1 = e->maxy;
      found = true;
    } else {
      x0 = fmin(x0, e->minx); y0 = fmin(y0, e->miny);
      x1 = fmax(x1, e->maxx); y1 = fmax(y1, e->maxy);
    }
  }
  if (found) {
    if (minlon) *minlon = x0;
    if (minlat) *minlat = y0;
    if (maxlon) *maxlon = x1;
    if (maxlat) *maxlat = y1;
  }
out:
  return found;
}

/* ---- adding geometry ---------------------------------------------------------------- */

static int geo_position(const json_t *pos, double *lon, double *lat, char *why, size_t whylen,
                        size_t pi, size_t ri, size_t k)
{
  int rc = -1;
  const json_t *jx, *jy;

  if (!json_is_array(pos) || json_array_size(pos) < 2) {
    geo_why(why, whylen, "polygon %zu ring %zu position %zu: not an array of 2 numbers", pi, ri, k);
    goto out;
  }
  jx = json_array_get(pos, 0);
  jy = json_array_get(pos, 1);
  if (!json_is_number(jx) || !json_is_number(jy)) {
    geo_why(why, whylen, "polygon %zu ring %zu position %zu: coordinates are not numbers", pi, ri, k);
    goto out;
  }
  *lon = json_number_value(jx);
  *lat = json_number_value(jy);
  if (!isfinite(*lon) || !isfinite(*lat)) {
    geo_why(why, whylen, "polygon %zu ring %zu position %zu: non-finite coordinate", pi, ri, k);
    goto out;
  }
  if (*lon < -180.0 || *lon > 180.0) {
    geo_why(why, whylen, "polygon %zu ring %zu position %zu: longitude %g out of range", pi, ri, k, *lon);
    goto out;
  }
  if (*lat < -90.0 || *lat > 90.0) {
    geo_why(why, whylen, "polygon %zu ring %zu position %zu: latitude %g out of range", pi, ri, k, *lat);
    goto out;
  }
  rc = 0;
out:
  return rc;
}

static int geo_add_ring(geo_index_t *g, const json_t *ring, size_t pi, size_t ri, char *why,
                        size_t whylen)
{
  int rc = -1;
  size_t n;
  double *dst;

  if (!json_is_array(ring)) {
    geo_why(why, whylen, "polygon %zu ring %zu: not an array", pi, ri);
    goto out;
  }
  n = json_array_size(ring);
  if (n < 4) {
    geo_why(why, whylen, "polygon %zu ring %zu: %zu positions (a ring needs at least 4)", pi, ri, n);
    goto out;
  }
  if (n > GEO_MAX_VERTICES - g->npts) {
    geo_why(why, whylen, "too many vertices");
    goto out;
  }
  if (geo_reserve((void **)&g->pts, &g->cap_pts, g->npts + n, 2 * sizeof(double)) != 0 ||
      geo_reserve((void **)&g->ring_start, &g->cap_rings, g->nrings + 2, sizeof(uint32_t)) != 0) {
    geo_why(why, whylen, "out of memory");
    goto out;
  }
  dst = g->pts + 2 * g->npts;
  for (size_t k = 0; k < n; k++) {
    if (geo_position(json_array_get(ring, k), &dst[2 * k], &dst[2 * k + 1], why, whylen, pi, ri, k) != 0)
      goto out;
  }
  if (dst[0] != dst[2 * (n - 1)] || dst[1] != dst[2 * (n - 1) + 1]) {
    geo_why(why, whylen, "polygon %zu ring %zu: not closed (first and last positions differ)", pi, ri);
    goto out;
  }
  g->npts += n;
  g->nrings++;
  g->ring_start[g->nrings] = (uint32_t)g->npts;
  rc = 0;
out:
  return rc;
}

static int geo_add_polygon(geo_index_t *g, const json_t *poly, size_t pi, char *why, size_t whylen)
{
  int rc = -1;
  size_t nr;

  if (!json_is_array(poly)) {
    geo_why(why, whylen, "polygon %zu: not an array of rings", pi);
    goto out;
  }
  nr = json_array_size(poly);
  if (nr == 0) {
    geo_why(why, whylen, "polygon %zu: no rings", pi);
    goto out;
  }
  for (size_t ri = 0; ri < nr; ri++) {
    if (geo_add_ring(g, json_array_get(poly, ri), pi, ri, why, whylen) != 0)
      goto out;
  }
  rc = 0;
out:
  return rc;
}

int geo_index_add_geometry(geo_index_t *g, int64_t id, const json_t *geometry, char *why, size_t whylen)
{
  int rc = -1;
  size_t npts0 = g ? g->npts : 0, nrings0 = g ? g->nrings : 0;
  const json_t *jtype, *coords;
  const char *type;
  geo_entry_t *e;

  if (why && whylen)
    why[0] = '\0';
  if (g == NULL) {
    geo_why(why, whylen, "no index");
    goto out;
  }
  if (g->built) {
    geo_why(why, whylen, "index already built");
    goto out;
  }
  if (g->nents >= GEO_MAX_ENTRIES) {
    geo_why(why, whylen, "too many geometries");
    goto out;
  }
  if (!json_is_object(geometry)) {
    geo_why(why, whylen, "geometry is not a JSON object");
    goto out;
  }
  jtype = json_object_get(geometry, "type");
  coords = json_object_get(geometry, "coordinates");
  type = json_string_value(jtype);
  if (type == NULL) {
    geo_why(why, whylen, "geometry has no \"type\" string");
    goto out;
  }
  if (!json_is_array(coords)) {
    geo_why(why, whylen, "geometry has no \"coordinates\" array");
    goto out;
  }
  if (strcmp(type, "Polygon") == 0) {
    if (geo_add_polygon(g, coords, 0, why, whylen) != 0)
      goto out;
  } else if (strcmp(type, "MultiPolygon") == 0) {
    size_t np = json_array_size(coords);
    if (np == 0) {
      geo_why(why, whylen, "MultiPolygon has no polygons");
      goto out;
    }
    for (size_t pi = 0; pi < np; pi++) {
      if (geo_add_polygon(g, json_array_get(coords, pi), pi, why, whylen) != 0)
        goto out;
    }
  } else {
    geo_why(why, whylen, "geometry type \"%.40s\" is not Polygon or MultiPolygon", type);
    goto out;
  }
  if (geo_reserve((void **)&g->ents, &g->cap_ents, g->nents + 1, sizeof(geo_entry_t)) != 0) {
    geo_why(why, whylen, "out of memory");
    goto out;
  }
  e = &g->ents[g->nents];
  memset(e, 0, sizeof(*e));
  e->id = id;
  e->ring_first = (uint32_t)nrings0;
  e->ring_count = (uint32_t)(g->nrings - nrings0);
  e->minx = e->maxx = g->pts[2 * npts0];
  e->miny = e->maxy = g->pts[2 * npts0 + 1];
  for (size_t i = npts0; i < g->npts; i++) {
    double x = g->pts[2 * i], y = g->pts[2 * i + 1];
    e->minx = fmin(e->minx, x); e->maxx = fmax(e->maxx, x);
    e->miny = fmin(e->miny, y); e->maxy = fmax(e->maxy, y);
  }
  g->nents++;
  rc = 0;
out:
  if (rc != 0 && g != NULL) {
    g->npts = npts0;
    g->nrings = nrings0;
  }
  return rc;
}

/* ---- containment -------------------------------------------------------------------- */

/* floor(v) clamped to [0, n-1]; monotonic in v; NaN gives 0. */
static inline uint32_t geo_slot(double v, uint32_t n)
{
  uint32_t r = 0;

  if (v >= (double)n)
    r = n - 1;
  else if (v > 0.0)
    r = (uint32_t)v;
  return r;
}

static inline uint32_t geo_band_of(const geo_entry_t *e, double y)
{
  return geo_slot((y - e->band_y0) * e->band_inv_h, e->nbands);
}

/* Even-odd test of (x, y) against all rings of e, scanning only the band of y. */
static bool geo_entry_contains(const geo_index_t *g, const geo_entry_t *e, double x, double y)
{
  bool in = false;
  uint32_t b;
  const uint32_t *p, *end;

  if (x < e->minx || x > e->maxx || y < e->miny || y > e->maxy)
    goto out;
  b = geo_band_of(e, y);
  p = g->band_edges + g->band_start[e->band_first + b];
  end = g->band_edges + g->band_start[e->band_first + b + 1];
  for (; p < end; p++) {
    const double *v = g->pts + 2 * (size_t)*p;
    double x0 = v[0], y0 = v[1], x1 = v[2], y1 = v[3];
    if ((y0 > y) == (y1 > y))
      continue;
    if (y0 > y1) {  /* order by latitude: a shared edge computes the same in both polygons */
      double t = x0; x0 = x1; x1 = t;
      t = y0; y0 = y1; y1 = t;
    }
    if ((x1 - x0) * (y - y0) > (x - x0) * (y1 - y0))
      in = !in;
  }
out:
  return in;
}

int64_t geo_locate(const geo_index_t *g, double lon, double lat)
{
  int64_t found = -1;
  uint32_t v;

  if (g == NULL || !g->built || g->cells == NULL)
    goto out;
  if (!(lon >= g->minx && lon <= g->maxx && lat >= g->miny && lat <= g->maxy))
    goto out;  /* also rejects NaN */
  v = g->cells[(size_t)geo_slot((lat - g->miny) * g->inv_h, g->ny) * g->nx +
               geo_slot((lon - g->minx) * g->inv_w, g->nx)];
  if (v == GEO_CELL_EMPTY)
    goto out;
  if (v & GEO_FULL) {
    found = g->ents[v & ~GEO_FULL].id;
    goto out;
  }
  {
    const uint32_t *it = g->items + v;
    uint32_t n = it[0];
    for (uint32_t k = 1; k <= n; k++) {
      const geo_entry_t *e = &g->ents[it[k] & ~GEO_FULL];
      if ((it[k] & GEO_FULL) || geo_entry_contains(g, e, lon, lat)) {
        found = e->id;
        break;
      }
    }
  }
out:
  return found;
}

/* ---- building ----------------------------------------------------------------------- */

static int geo_build_bands(geo_index_t *g)
{
  int rc = -1;
  size_t cap_edges = 0, total_bands = 0;
  uint32_t *cnt = NULL;
  size_t cnt_cap = 0;

  for (size_t ei = 0; ei < g->nents; ei++)
    total_bands += 1 + (g->ring_start[g->ents[ei].ring_first + g->ents[ei].ring_count] -
                        g->ring_start[g->ents[ei].ring_first]) / GEO_EDGES_PER_BAND + 1;
  g->band_start = malloc(total_bands * sizeof(uint32_t));
  if (g->band_start == NULL)
    goto out;
  g->nband_start = 0;
  g->nband_edges = 0;
  for (size_t ei = 0; ei < g->nents; ei++) {
    geo_entry_t *e = &g->ents[ei];
    uint32_t r0 = e->ring_first, r1 = e->ring_first + e->ring_count;
    size_t nedges = 0, need = 0;
    double height = e->maxy - e->miny;

    for (uint32_t r = r0; r < r1; r++)
      for (uint32_t i = g->ring_start[r]; i + 1 < g->ring_start[r + 1]; i++)
        nedges += g->pts[2 * i + 1] != g->pts[2 * i + 3];
    e->nbands = (uint32_t)(nedges / GEO_EDGES_PER_BAND);
    if (e->nbands == 0 || !(height > 0.0))
      e->nbands = 1;
    e->band_y0 = e->miny;
    e->band_inv_h = height > 0.0 ? e->nbands / height : 0.0;
    e->band_first = (uint32_t)g->nband_start;

    if (geo_reserve((void **)&cnt, &cnt_cap, (size_t)e->nbands + 1, sizeof(uint32_t)) != 0)
      goto out;
    memset(cnt, 0, ((size_t)e->nbands + 1) * sizeof(uint32_t));
    for (uint32_t r = r0; r < r1; r++) {
      for (uint32_t i = g->ring_start[r]; i + 1 < g->ring_start[r + 1]; i++) {
        double ya = g->pts[2 * i + 1], yb = g->pts[2 * i + 3];
        if (ya == yb)
          continue;  /* horizontal edges never cross the ray */
        uint32_t b0 = geo_band_of(e, fmin(ya, yb)), b1 = geo_band_of(e, fmax(ya, yb));
        for (uint32_t b = b0; b <= b1; b++)
          cnt[b]++;
        need += b1 - b0 + 1;
      }
    }
    if (need > UINT32_MAX - g->nband_edges)
      goto out;
    if (geo_reserve((void **)&g->band_edges, &cap_edges, g->nband_edges + need, sizeof(uint32_t)) != 0)
      goto out;
    /* band_start holds absolute offsets; cnt becomes the fill cursor of each band */
    {
      uint32_t off = (uint32_t)g->nband_edges;
      for (uint32_t b = 0; b < e->nbands; b++) {
        uint32_t c = cnt[b];
        g->band_start[g->nband_start + b] = off;
        cnt[b] = off;
        off += c;
      }
      g->band_start[g->nband_start + e->nbands] = off;
    }
    for (uint32_t r = r0; r < r1; r++) {
      for (uint32_t i = g->ring_start[r]; i + 1 < g->ring_start[r + 1]; i++) {
        double ya = g->pts[2 * i + 1], yb = g->pts[2 * i + 3];
        if (ya == yb)
          continue;
        uint32_t b0 = geo_band_of(e, fmin(ya, yb)), b1 = geo_band_of(e, fmax(ya, yb));
        for (uint32_t b = b0; b <= b1; b++)
          g->band_edges[cnt[b]++] = i;
      }
    }
    g->nband_edges += need;
    g->nband_start += e->nbands + 1;
  }
  if (g->nband_edges > 0) {
    uint32_t *shrunk = realloc(g->band_edges, g->nband_edges * sizeof(uint32_t));
    if (shrunk != NULL)
      g->band_edges = shrunk;
  }
  rc = 0;
out:
  free(cnt);
  return rc;
}

/* Marks, in the entry-local bitmap, every cell the segment comes within the margin of. */
static void geo_mark_edge(const geo_index_t *g, uint8_t *mark, uint32_t cx0, uint32_t cy0,
                          uint32_t bw, uint32_t bh, double xa, double ya, double xb, double yb)
{
  double mx = g->cell_w * GEO_CELL_MARGIN, my = g->cell_h * GEO_CELL_MARGIN;
  double lo_x = fmin(xa, xb), hi_x = fmax(xa, xb);
  uint32_t c0 = geo_slot((lo_x - mx - g->minx) * g->inv_w, g->nx);
  uint32_t c1 = geo_slot((hi_x + mx - g->minx) * g->inv_w, g->nx);

  for (uint32_t c = c0; c <= c1; c++) {
    double sx0 = fmax(lo_x, g->minx + c * g->cell_w - mx);
    double sx1 = fmin(hi_x, g->minx + (c + 1) * g->cell_w + mx);
    double y0, y1;
    uint32_t r0, r1;

    if (c == c0) sx0 = lo_x;  /* the first/last column always holds the endpoints */
    if (c == c1) sx1 = hi_x;
    if (xa == xb) {
      y0 = fmin(ya, yb);
      y1 = fmax(ya, yb);
    } else {
      double t0 = ya + (sx0 - xa) * (yb - ya) / (xb - xa);
      double t1 = ya + (sx1 - xa) * (yb - ya) / (xb - xa);
      y0 = fmax(fmin(t0, t1), fmin(ya, yb));
      y1 = fmin(fmax(t0, t1), fmax(ya, yb));
    }
    r0 = geo_slot((y0 - my - g->miny) * g->inv_h, g->ny);
    r1 = geo_slot((y1 + my - g->miny) * g->inv_h, g->ny);
    for (uint32_t r = r0; r <= r1; r++) {
      if (c >= cx0 && c - cx0 < bw && r >= cy0 && r - cy0 < bh)
        mark[(size_t)(r - cy0) * bw + (c - cx0)] = 1;
    }
  }
}

static int geo_build_grid(geo_index_t *g)
{
  int rc = -1;
  uint32_t *pcell = NULL, *pitem = NULL, *start = NULL, *sorted = NULL;
  size_t npairs = 0, cap_pcell = 0, cap_pitem = 0, ncells, nitems;
  uint8_t *mark = NULL;
  size_t cap_mark = 0;
  double W, H, target, side;

  g->minx = g->ents[0].minx; g->maxx = g->ents[0].maxx;
  g->miny = g->ents[0].miny; g->maxy = g->ents[0].maxy;
  for (size_t i = 1; i < g->nents; i++) {
    g->minx = fmin(g->minx, g->ents[i].minx); g->maxx = fmax(g->maxx, g->ents[i].maxx);
    g->miny = fmin(g->miny, g->ents[i].miny); g->maxy = fmax(g->maxy, g->ents[i].maxy);
  }
  W = g->maxx - g->minx;
  H = g->maxy - g->miny;
  if (!(W > 1e-9)) W = 1e-9;
  if (!(H > 1e-9)) H = 1e-9;
  target = fmin(fmax((double)g->npts * GEO_CELLS_PER_VERTEX, GEO_MIN_CELLS), GEO_MAX_CELLS);
  side = sqrt(W * H / target);
  g->nx = (uint32_t)fmin(fmax(ceil(W / side), 1.0), GEO_MAX_SIDE);
  g->ny = (uint32_t)fmin(fmax(ceil(H / side), 1.0), GEO_MAX_SIDE);
  g->cell_w = W / g->nx;
  g->cell_h = H / g->ny;
  g->inv_w = g->nx / W;
  g->inv_h = g->ny / H;
  ncells = (size_t)g->nx * g->ny;

  for (size_t ei = 0; ei < g->nents; ei++) {
    const geo_entry_t *e = &g->ents[ei];
    double mx = g->cell_w * GEO_CELL_MARGIN, my = g->cell_h * GEO_CELL_MARGIN;
    uint32_t cx0 = geo_slot((e->minx - mx - g->minx) * g->inv_w, g->nx);
    uint32_t cx1 = geo_slot((e->maxx + mx - g->minx) * g->inv_w, g->nx);
    uint32_t cy0 = geo_slot((e->miny - my - g->miny) * g->inv_h, g->ny);
    uint32_t cy1 = geo_slot((e->maxy + my - g->miny) * g->inv_h, g->ny);
    uint32_t bw = cx1 - cx0 + 1, bh = cy1 - cy0 + 1;

    if (geo_reserve((void **)&mark, &cap_mark, (size_t)bw * bh, 1) != 0)
      goto out;
    memset(mark, 0, (size_t)bw * bh);
    for (uint32_t r = e->ring_first; r < e->ring_first + e->ring_count; r++) {
      for (uint32_t i = g->ring_start[r]; i + 1 < g->ring_start[r + 1]; i++)
        geo_mark_edge(g, mark, cx0, cy0, bw, bh, g->pts[2 * i], g->pts[2 * i + 1],
                      g->pts[2 * i + 2], g->pts[2 * i + 3]);
    }
    if (geo_reserve((void **)&pcell, &cap_pcell, npairs + (size_t)bw * bh, sizeof(uint32_t)) != 0 ||
        geo_reserve((void **)&pitem, &cap_pitem, npairs + (size_t)bw * bh, sizeof(uint32_t)) != 0)
      goto out;
    for (uint32_t r = 0; r < bh; r++) {
      for (uint32_t c = 0; c < bw; c++) {
        uint32_t item;
        if (mark[(size_t)r * bw + c]) {
          item = (uint32_t)ei;
        } else {
          double px = g->minx + (cx0 + c + 0.5) * g->cell_w;
          double py = g->miny + (cy0 + r + 0.5) * g->cell_h;
          if (!geo_entry_contains(g, e, px, py))
            continue;
          item = (uint32_t)ei | GEO_FULL;
        }
        pcell[npairs] = (cy0 + r) * g->nx + (cx0 + c);
        pitem[npairs] = item;
        npairs++;
      }
    }
  }

  /* counting sort by cell; stable, so each cell's list stays in insertion order */
  start = calloc(ncells + 1, sizeof(uint32_t));
  sorted = malloc((npairs ? npairs : 1) * sizeof(uint32_t));
  g->cells = malloc(ncells * sizeof(uint32_t));
  if (start == NULL || sorted == NULL || g->cells == NULL || npairs >= UINT32_MAX / 2)
    goto out;
  for (size_t k = 0; k < npairs; k++)
    start[pcell[k] + 1]++;
  for (size_t c = 0; c < ncells; c++)
    start[c + 1] += start[c];
  {
    uint32_t *fill = malloc((ncells ? ncells : 1) * sizeof(uint32_t));
    if (fill == NULL)
      goto out;
    memcpy(fill, start, ncells * sizeof(uint32_t));
    for (size_t k = 0; k < npairs; k++)
      sorted[fill[pcell[k]]++] = pitem[k];
    free(fill);
  }

  /* encode: cut each list after its first FULL item; a lone FULL item goes in the cell */
  nitems = 0;
  for (size_t c = 0; c < ncells; c++) {
    uint32_t n = 0;
    for (uint32_t k = start[c]; k < start[c + 1]; k++) {
      n++;
      if (sorted[k] & GEO_FULL)
        break;
    }
    if (n > 1 || (n == 1 && !(sorted[start[c]] & GEO_FULL)))
      nitems += 1 + n;
  }
  g->items = malloc((nitems ? nitems : 1) * sizeof(uint32_t));
  if (g->items == NULL)
    goto out;
  g->nitems = 0;
  for (size_t c = 0; c < ncells; c++) {
    uint32_t n = 0;
    for (uint32_t k = start[c]; k < start[c + 1]; k++) {
      n++;
      if (sorted[k] & GEO_FULL)
        break;
    }
    if (n == 0) {
      g->cells[c] = GEO_CELL_EMPTY;
    } else if (n == 1 && (sorted[start[c]] & GEO_FULL)) {
      g->cells[c] = sorted[start[c]];
    } else {
      g->cells[c] = (uint32_t)g->nitems;
      g->items[g->nitems++] = n;
      memcpy(&g->items[g->nitems], &sorted[start[c]], n * sizeof(uint32_t));
      g->nitems += n;
    }
  }
  rc = 0;
out:
  if (rc != 0) {
    free(g->cells);
    free(g->items);
    g->cells = NULL;
    g->items = NULL;
    g->nitems = 0;
  }
  free(pcell);
  free(pitem);
  free(start);
  free(sorted);
  free(mark);
  return rc;
}

int geo_index_build(geo_index_t *g)
{
  int rc = -1;

  if (g == NULL)
    goto out;
  if (g->built) {
    rc = 0;
    goto out;
  }
  if (g->nents > 0) {
    /* trim growth slack (no adds after build); the coordinates are the bulk of the index */
    double *pts = realloc(g->pts, g->npts * 2 * sizeof(double));
    uint32_t *rs = realloc(g->ring_start, (g->nrings + 1) * sizeof(uint32_t));
    geo_entry_t *ents = realloc(g->ents, g->nents * sizeof(geo_entry_t));
    if (pts != NULL) {
      g->pts = pts;
      g->cap_pts = g->npts;
    }
    if (rs != NULL) {
      g->ring_start = rs;
      g->cap_rings = g->nrings + 1;
    }
    if (ents != NULL) {
      g->ents = ents;
      g->cap_ents = g->nents;
    }
    if (geo_build_bands(g) != 0 || geo_build_grid(g) != 0) {
      free(g->band_start);
      free(g->band_edges);
      g->band_start = NULL;
      g->band_edges = NULL;
      g->nband_start = g->nband_edges = 0;
      goto out;
    }
  }
  g->built = true;
  rc = 0;
out:
  return rc;
}
