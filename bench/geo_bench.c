#include "base/common.h"

#include <math.h>

#include <jansson.h>

#include "units/geo.h"

/*
 * geo_bench.c - geo_locate() speed on the Hanoi boundaries. Not built by CMake: run
 * bench/geo-bench.sh. Usage: geo_bench [source-dir] [lookups]
 *
 * Per file: "uniform" = points uniform in the union bbox (about half fall outside Hanoi's
 * polygons); "border" = random vertices moved by up to 1e-5 degrees (about 1 m), the worst
 * case, since every such point lands in a cell that needs real edge tests.
 */

static double bench_now(void)
{
  struct timespec ts;
  timespec_get(&ts, TIME_UTC);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t bench_rng = 0x9E3779B97F4A7C15ull;

static uint64_t bench_next(void)
{
  uint64_t z = (bench_rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double bench_uniform(double lo, double hi)
{
  return lo + (hi - lo) * ((double)(bench_next() >> 11) * (1.0 / 9007199254740992.0));
}

/* Appends every position of a (Multi)Polygon's coordinates to verts (2 doubles each). */
static void bench_collect(const json_t *j, double *verts, size_t *nv, size_t cap)
{
  if (json_is_array(j) && json_array_size(j) >= 2 && json_is_number(json_array_get(j, 0))) {
    if (*nv < cap) {
      verts[2 * *nv] = json_number_value(json_array_get(j, 0));
      verts[2 * *nv + 1] = json_number_value(json_array_get(j, 1));
      (*nv)++;
    }
  } else if (json_is_array(j)) {
    for (size_t i = 0; i < json_array_size(j); i++)
      bench_collect(json_array_get(j, i), verts, nv, cap);
  }
}

static double bench_run(const geo_index_t *g, const double *px, const double *py, size_t n,
                        size_t *hits)
{
  double t0, t1;
  int64_t sum = 0;

  *hits = 0;
  for (size_t i = 0; i < n / 10; i++)  /* warm up */
    sum += geo_locate(g, px[i], py[i]);
  t0 = bench_now();
  for (size_t i = 0; i < n; i++) {
    int64_t id = geo_locate(g, px[i], py[i]);
    *hits += id >= 0;
    sum += id;
  }
  t1 = bench_now();
  if (sum == INT64_MIN)  /* keeps the loop from being optimised away */
    printf("!");
  return (t1 - t0) * 1e9 / (double)n;
}

static int bench_file(const char *dir, const char *rel, size_t n)
{
  int rc = 1;
  char path[4096], why[256];
  json_error_t err;
  json_t *root = NULL, *features;
  geo_index_t *g = geo_index_new();
  const size_t vcap = 4000000;
  double *px = malloc(n * sizeof(double)), *py = malloc(n * sizeof(double));
  double *verts = malloc(2 * vcap * sizeof(double));
  double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY, tb, ns;
  size_t hits = 0, nv = 0;

  if (g == NULL || px == NULL || py == NULL || verts == NULL)
    goto out;
  snprintf(path, sizeof(path), "%s/%s", dir, rel);
  root = json_load_file(path, 0, &err);
  if (root == NULL) {
    fprintf(stderr, "%s: %s\n", path, err.text);
    goto out;
  }
  features = json_object_get(root, "features");
  tb = bench_now();
  for (size_t i = 0; i < json_array_size(features); i++) {
    const json_t *geom = json_object_get(json_array_get(features, i), "geometry");
    if (geo_index_add_geometry(g, (int64_t)i, geom, why, sizeof(why)) != 0) {
      fprintf(stderr, "%s: feature %zu: %s\n", path, i, why);
      goto out;
    }
  }
  if (geo_index_build(g) != 0)
    goto out;
  tb = bench_now() - tb;
  for (size_t i = 0; i < json_array_size(features); i++) {
    double a, b, c, d;
    const json_t *geom = json_object_get(json_array_get(features, i), "geometry");
    bench_collect(json_object_get(geom, "coordinates"), verts, &nv, vcap);
    if (geo_bbox(g, (int64_t)i, &a, &b, &c, &d)) {
      x0 = fmin(x0, a); y0 = fmin(y0, b); x1 = fmax(x1, c); y1 = fmax(y1, d);
    }
  }
  printf("%s: %zu polygons, %zu vertices, build %.1f ms, index memory %.1f KiB\n", rel,
         geo_index_count(g), nv, tb * 1e3, geo_index_memory(g) / 1024.0);

  for (size_t i = 0; i < n; i++) {
    px[i] = bench_uniform(x0, x1);
    py[i] = bench_uniform(y0, y1);
  }
  ns = bench_run(g, px, py, n, &hits);
  printf("  uniform in bbox: %zu lookups, %5.1f%% hits, %6.1f ns/lookup\n", n,
         100.0 * (double)hits / (double)n, ns);

  for (size_t i = 0; i < n && nv > 0; i++) {
    size_t v = (size_t)(bench_next() % nv);
    px[i] = verts[2 * v] + bench_uniform(-1e-5, 1e-5);
    py[i] = verts[2 * v + 1] + bench_uniform(-1e-5, 1e-5);
  }
  ns = bench_run(g, px, py, n, &hits);
  printf("  near borders   : %zu lookups, %5.1f%% hits, %6.1f ns/lookup\n", n,
         100.0 * (double)hits / (double)n, ns);
  rc = 0;
out:
  geo_index_free(g);
  json_decref(root);
  free(px);
  free(py);
  free(verts);
  return rc;
}

int main(int argc, char **argv)
{
  const char *dir = argc > 1 ? argv[1] : ".";
  size_t n = 1000000;
  int rc = 2;

  if (argc > 2) {
    char *end = NULL;
    unsigned long long v = strtoull(argv[2], &end, 10);
    if (end == argv[2] || *end != '\0' || v == 0) {
      fprintf(stderr, "usage: geo_bench [source-dir] [lookups]\n");
      goto out;
    }
    n = (size_t)v;
  }
  rc = bench_file(dir, "data/units/hanoi-wards-2025.geojson", n);
  rc |= bench_file(dir, "data/units/hanoi-districts.geojson", n);
out:
  return rc;
}
