#include "base/common.h"

#include <math.h>
#include <pthread.h>

#include <jansson.h>

#include "units/geo.h"

#include "check.h"

/*
 * test_geo.c - the point-in-polygon index (src/units/geo.c).
 *
 * Real data: data/units/hanoi-wards-2025.geojson and hanoi-districts.geojson, found under
 * $CITYOS_SOURCE_DIR (default "."). Ids given to the index are feature positions, so a hit
 * maps back to the feature's properties. Landmark codes are confirmed against the CSVs.
 */

static double now_sec(void)
{
  struct timespec ts;
  timespec_get(&ts, TIME_UTC);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint64_t rng_next(void)
{
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double rng_uniform(double lo, double hi)
{
  return lo + (hi - lo) * ((double)(rng_next() >> 11) * (1.0 / 9007199254740992.0));
}

/* ---- brute force over all polygons, independent of geo.c --------------------------- */

typedef struct {
  double *xy;        /* all vertices of the feature, rings one after the other */
  size_t *ring_end;  /* vertex index one past each ring */
  size_t nrings;
  double minx, miny, maxx, maxy;
} bf_feature_t;

typedef struct {
  bf_feature_t *f;
  size_t n;
} bf_set_t;

static void bf_add_ring(bf_feature_t *f, const json_t *ring, size_t *nxy)
{
  size_t n = json_array_size(ring);
  for (size_t k = 0; k < n; k++) {
    const json_t *p = json_array_get(ring, k);
    double x = json_number_value(json_array_get(p, 0)), y = json_number_value(json_array_get(p, 1));
    f->xy[2 * *nxy] = x;
    f->xy[2 * *nxy + 1] = y;
    (*nxy)++;
    f->minx = fmin(f->minx, x); f->maxx = fmax(f->maxx, x);
    f->miny = fmin(f->miny, y); f->maxy = fmax(f->maxy, y);
  }
  f->ring_end[f->nrings++] = *nxy;
}

static void bf_load(bf_set_t *s, const json_t *features)
{
  s->n = json_array_size(features);
  s->f = calloc(s->n, sizeof(*s->f));
  for (size_t i = 0; i < s->n; i++) {
    const json_t *geom = json_object_get(json_array_get(features, i), "geometry");
    const json_t *coords = json_object_get(geom, "coordinates");
    bool multi = strcmp(json_string_value(json_object_get(geom, "type")), "MultiPolygon") == 0;
    size_t nparts = multi ? json_array_size(coords) : 1, nv = 0, nr = 0, nxy = 0;
    bf_feature_t *f = &s->f[i];

    for (size_t p = 0; p < nparts; p++) {
      const json_t *poly = multi ? json_array_get(coords, p) : coords;
      for (size_t r = 0; r < json_array_size(poly); r++) {
        nv += json_array_size(json_array_get(poly, r));
        nr++;
      }
    }
    f->xy = malloc(2 * nv * sizeof(double));
    f->ring_end = malloc(nr * sizeof(size_t));
    f->minx = f->miny = INFINITY;
    f->maxx = f->maxy = -INFINITY;
    for (size_t p = 0; p < nparts; p++) {
      const json_t *poly = multi ? json_array_get(coords, p) : coords;
      for (size_t r = 0; r < json_array_size(poly); r++)
        bf_add_ring(f, json_array_get(poly, r), &nxy);
    }
  }
}

static void bf_free(bf_set_t *s)
{
  for (size_t i = 0; i < s->n; i++) {
    free(s->f[i].xy);
    free(s->f[i].ring_end);
  }
  free(s->f);
}

/* W. Randolph Franklin's pnpoly over every ring (even-odd), first feature that contains. */
static int64_t bf_locate(const bf_set_t *s, double x, double y)
{
  for (size_t i = 0; i < s->n; i++) {
    const bf_feature_t *f = &s->f[i];
    bool c = false;
    size_t start = 0;
    if (x < f->minx || x > f->maxx || y < f->miny || y > f->maxy)
      continue;
    for (size_t r = 0; r < f->nrings; r++) {
      size_t end = f->ring_end[r];
      for (size_t a = start, b = end - 1; a < end; b = a++) {
        double xa = f->xy[2 * a], ya = f->xy[2 * a + 1], xb = f->xy[2 * b], yb = f->xy[2 * b + 1];
        if (((ya > y) != (yb > y)) && (x < (xb - xa) * (y - ya) / (yb - ya) + xa))
          c = !c;
      }
      start = end;
    }
    if (c)
      return (int64_t)i;
  }
  return -1;
}

/* ---- loading the real data --------------------------------------------------------- */

static const char *source_dir(void)
{
  const char *d = getenv("CITYOS_SOURCE_DIR");
  return d && *d ? d : ".";
}

static json_t *load_features(const char *rel)
{
  char path[4096];
  json_error_t err;
  json_t *root, *features = NULL;

  snprintf(path, sizeof(path), "%s/%s", source_dir(), rel);
  root = json_load_file(path, 0, &err);
  if (root == NULL) {
    fprintf(stderr, "cannot load %s: %s (line %d)\n", path, err.text, err.line);
    return NULL;
  }
  features = json_incref(json_object_get(root, "features"));
  json_decref(root);
  return features;
}

static geo_index_t *index_features(const json_t *features, double *build_ms)
{
  geo_index_t *g = geo_index_new();
  char why[256];
  double t0 = now_sec();

  CHECK(g != NULL);
  for (size_t i = 0; i < json_array_size(features); i++) {
    const json_t *geom = json_object_get(json_array_get(features, i), "geometry");
    int rc = geo_index_add_geometry(g, (int64_t)i, geom, why, sizeof(why));
    if (rc != 0)
      fprintf(stderr, "feature %zu rejected: %s\n", i, why);
    CHECK_INT_EQ(rc, 0);
  }
  CHECK_INT_EQ(geo_index_build(g), 0);
  *build_ms = (now_sec() - t0) * 1e3;
  CHECK_INT_EQ(geo_index_count(g), json_array_size(features));
  return g;
}

static const char *feature_prop(const json_t *features, int64_t i, const char *key)
{
  if (i < 0)
    return "(none)";
  return json_string_value(json_object_get(json_object_get(json_array_get(features, (size_t)i),
                                                           "properties"), key));
}

/* True when the CSV has a line starting with `prefix` (e.g. "ward,00070,Phường Hoàn Kiếm,"). */
static bool csv_has(const char *rel, const char *prefix)
{
  char path[4096], line[512];
  bool found = false;
  FILE *f;

  snprintf(path, sizeof(path), "%s/%s", source_dir(), rel);
  f = fopen(path, "r");
  if (f == NULL)
    return false;
  while (!found && fgets(line, sizeof(line), f) != NULL)
    found = strncmp(line, prefix, strlen(prefix)) == 0;
  fclose(f);
  return found;
}

typedef struct {
  const char *what;
  double lat, lon;
  const char *ward_code, *ward_name;          /* NULL: outside every ward */
  const char *district_code, *district_name;  /* NULL: outside every district */
} landmark_t;

static const landmark_t landmarks[] = {
  {"Ho Hoan Kiem", 21.0287, 105.8524, "00070", "Phường Hoàn Kiếm", "002", "Quận Hoàn Kiếm"},
  {"Lang Bac / Ba Dinh square", 21.0368, 105.8346, "00004", "Phường Ba Đình", "001", "Quận Ba Đình"},
  {"Noi Bai airport", 21.2187, 105.8042, "00433", "Xã Nội Bài", "016", "Huyện Sóc Sơn"},
  {"Chua Huong", 20.6170, 105.7470, "10489", "Xã Hương Sơn", "282", "Huyện Mỹ Đức"},
  {"Ho Chi Minh City", 10.77, 106.70, NULL, NULL, NULL, NULL},
  {"South China Sea", 20.0, 107.5, NULL, NULL, NULL, NULL},
};

static void check_landmarks(const geo_index_t *g, const json_t *features, bool wards)
{
  const char *csv = wards ? "data/units/hanoi-units-2025.csv" : "data/units/hanoi-units-2024.csv";

  for (size_t i = 0; i < ARRAY_LEN(landmarks); i++) {
    const landmark_t *l = &landmarks[i];
    const char *code = wards ? l->ward_code : l->district_code;
    const char *name = wards ? l->ward_name : l->district_name;
    int64_t hit = geo_locate(g, l->lon, l->lat);

    printf("  %-26s -> %s %s\n", l->what, feature_prop(features, hit, "code"),
           feature_prop(features, hit, "name"));
    if (code == NULL) {
      CHECK_INT_EQ(hit, -1);
      continue;
    }
    {
      char prefix[256];
      snprintf(prefix, sizeof(prefix), "%s,%s,%s,", wards ? "ward" : "district", code, name);
      CHECK(csv_has(csv, prefix));  /* the expected code really is that unit */
    }
    CHECK(hit >= 0);
    CHECK_STR_EQ(feature_prop(features, hit, "code"), code);
    CHECK_STR_EQ(feature_prop(features, hit, "name"), name);
  }
}

/* Random points in the index bbox: geo_locate must agree with the brute force. */
static void cross_check(const geo_index_t *g, const bf_set_t *bf, size_t n, const char *label)
{
  double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
  double *px = malloc(n * sizeof(double)), *py = malloc(n * sizeof(double));
  int64_t *want = malloc(n * sizeof(int64_t));
  size_t mismatches = 0, inside = 0;
  volatile int64_t sink = 0;
  double t0, t1;
  const int passes = 20;

  for (size_t i = 0; i < bf->n; i++) {
    x0 = fmin(x0, bf->f[i].minx); x1 = fmax(x1, bf->f[i].maxx);
    y0 = fmin(y0, bf->f[i].miny); y1 = fmax(y1, bf->f[i].maxy);
  }
  for (size_t i = 0; i < n; i++) {
    px[i] = rng_uniform(x0, x1);
    py[i] = rng_uniform(y0, y1);
    want[i] = bf_locate(bf, px[i], py[i]);
    inside += want[i] >= 0;
  }
  for (size_t i = 0; i < n; i++) {
    int64_t got = geo_locate(g, px[i], py[i]);
    if (got != want[i]) {
      if (mismatches < 10)
        fprintf(stderr, "  %s mismatch at (%.9f, %.9f): index %" PRId64 ", brute force %" PRId64 "\n",
                label, px[i], py[i], got, want[i]);
      mismatches++;
    }
  }
  CHECK_INT_EQ(mismatches, 0);
  CHECK(inside > n / 4);  /* the sample really exercises the polygons */

  t0 = now_sec();
  for (int p = 0; p < passes; p++)
    for (size_t i = 0; i < n; i++)
      sink += geo_locate(g, px[i], py[i]);
  t1 = now_sec();
  printf("  %s: %zu random points, %zu inside, %zu mismatches vs brute force; "
         "average lookup %.0f ns\n", label, n, inside, mismatches,
         (t1 - t0) * 1e9 / ((double)n * passes));

  /* the hard part: points within about a metre of the borders (random vertices, jittered) */
  mismatches = 0;
  for (size_t i = 0; i < n; i++) {
    const bf_feature_t *f = &bf->f[rng_next() % bf->n];
    size_t v = (size_t)(rng_next() % f->ring_end[f->nrings - 1]);
    px[i] = f->xy[2 * v] + rng_uniform(-1e-5, 1e-5);
    py[i] = f->xy[2 * v + 1] + rng_uniform(-1e-5, 1e-5);
    want[i] = bf_locate(bf, px[i], py[i]);
  }
  for (size_t i = 0; i < n; i++) {
    int64_t got = geo_locate(g, px[i], py[i]);
    if (got != want[i]) {
      if (mismatches < 10)
        fprintf(stderr, "  %s near-border mismatch at (%.9f, %.9f): index %" PRId64
                ", brute force %" PRId64 "\n", label, px[i], py[i], got, want[i]);
      mismatches++;
    }
  }
  CHECK_INT_EQ(mismatches, 0);
  t0 = now_sec();
  for (int p = 0; p < passes; p++)
    for (size_t i = 0; i < n; i++)
      sink += geo_locate(g, px[i], py[i]);
  t1 = now_sec();
  printf("  %s: %zu points near borders, %zu mismatches vs brute force; average lookup %.0f ns\n",
         label, n, mismatches, (t1 - t0) * 1e9 / ((double)n * passes));
  UNUSED(sink);
  free(px);
  free(py);
  free(want);
}

/* ---- threads: geo_locate is read-only after build ---------------------------------- */

typedef struct {
  const geo_index_t *g;
  const double *px, *py;
  const int64_t *want;
  size_t n;
  size_t bad;
} thread_job_t;

static void *thread_main(void *arg)
{
  thread_job_t *j = arg;
  for (int rep = 0; rep < 5; rep++)
    for (size_t i = 0; i < j->n; i++)
      j->bad += geo_locate(j->g, j->px[i], j->py[i]) != j->want[i];
  return NULL;
}

static void check_threads(const geo_index_t *g)
{
  enum { N = 20000, T = 4 };
  double *px = malloc(N * sizeof(double)), *py = malloc(N * sizeof(double));
  int64_t *want = malloc(N * sizeof(int64_t));
  pthread_t th[T];
  thread_job_t jobs[T];
  size_t bad = 0;

  for (size_t i = 0; i < N; i++) {
    px[i] = rng_uniform(105.28, 106.03);
    py[i] = rng_uniform(20.56, 21.39);
    want[i] = geo_locate(g, px[i], py[i]);
  }
  for (int t = 0; t < T; t++) {
    jobs[t] = (thread_job_t){g, px, py, want, N, 0};
    CHECK_INT_EQ(pthread_create(&th[t], NULL, thread_main, &jobs[t]), 0);
  }
  for (int t = 0; t < T; t++) {
    pthread_join(th[t], NULL);
    bad += jobs[t].bad;
  }
  CHECK_INT_EQ(bad, 0);
  free(px);
  free(py);
  free(want);
}

/* ---- synthetic geometry ------------------------------------------------------------- */

static int add_json(geo_index_t *g, int64_t id, const char *text, char *why, size_t whylen)
{
  json_error_t err;
  json_t *j = json_loads(text, 0, &err);
  int rc;

  if (j == NULL) {
    fprintf(stderr, "bad test JSON: %s\n", err.text);
    CHECK(j != NULL);
    return -2;
  }
  rc = geo_index_add_geometry(g, id, j, why, whylen);
  json_decref(j);
  return rc;
}

#define SQUARE_A "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}"
#define SQUARE_B "{\"type\":\"Polygon\",\"coordinates\":[[[1,0],[2,0],[2,1],[1,1],[1,0]]]}"
#define SQUARE_C "{\"type\":\"Polygon\",\"coordinates\":[[[0,1],[1,1],[1,2],[0,2],[0,1]]]}"

static void check_shared_edges(void)
{
  char why[256];
  geo_index_t *g1 = geo_index_new(), *g2 = geo_index_new();
  int64_t first;

  /* the same three squares, added in opposite orders */
  CHECK_INT_EQ(add_json(g1, 1, SQUARE_A, why, sizeof(why)), 0);
  CHECK_INT_EQ(add_json(g1, 2, SQUARE_B, why, sizeof(why)), 0);
  CHECK_INT_EQ(add_json(g1, 3, SQUARE_C, why, sizeof(why)), 0);
  CHECK_INT_EQ(add_json(g2, 3, SQUARE_C, why, sizeof(why)), 0);
  CHECK_INT_EQ(add_json(g2, 2, SQUARE_B, why, sizeof(why)), 0);
  CHECK_INT_EQ(add_json(g2, 1, SQUARE_A, why, sizeof(why)), 0);
  CHECK_INT_EQ(geo_index_build(g1), 0);
  CHECK_INT_EQ(geo_index_build(g2), 0);

  CHECK_INT_EQ(geo_locate(g1, 0.5, 0.5), 1);
  CHECK_INT_EQ(geo_locate(g1, 1.5, 0.5), 2);
  CHECK_INT_EQ(geo_locate(g1, 0.5, 1.5), 3);

  /* on the shared edge of A and B: one of them, every time, whatever the insertion order */
  first = geo_locate(g1, 1.0, 0.5);
  CHECK(first == 1 || first == 2);
  for (int i = 0; i < 100; i++)
    CHECK_INT_EQ(geo_locate(g1, 1.0, 0.5), first);
  CHECK_INT_EQ(geo_locate(g2, 1.0, 0.5), first);
  CHECK_INT_EQ(first, 2);  /* the documented rule: east of a north-south border */
  CHECK_INT_EQ(geo_locate(g1, 0.5, 1.0), 3);  /* north of an east-west border */
  CHECK_INT_EQ(geo_index_build(g1), 0);  /* a second build is a no-op */
  CHECK_INT_EQ(geo_locate(g1, 1.0, 0.5), first);
  /* many points along both shared edges (A|B vertical, A|C horizontal) */
  for (int i = 1; i < 1000; i++) {
    double t = i / 1000.0;
    int64_t v = geo_locate(g1, 1.0, t), h = geo_locate(g1, t, 1.0);
    CHECK(v == 1 || v == 2);
    CHECK(h == 1 || h == 3);
    CHECK_INT_EQ(geo_locate(g2, 1.0, t), v);
    CHECK_INT_EQ(geo_locate(g2, t, 1.0), h);
  }
  /* the corner shared by all three */
  first = geo_locate(g1, 1.0, 1.0);
  CHECK_INT_EQ(geo_locate(g2, 1.0, 1.0), first);
  /* outside */
  CHECK_INT_EQ(geo_locate(g1, 1.5, 1.5), -1);
  CHECK_INT_EQ(geo_locate(g1, -0.5, 0.5), -1);
  CHECK_INT_EQ(geo_locate(g1, NAN, 0.5), -1);
  geo_index_free(g1);
  geo_index_free(g2);
}

static void check_holes_and_multipolygons(void)
{
  char why[256];
  geo_index_t *g = geo_index_new();
  double x0, y0, x1, y1;

  /* exterior counter-clockwise, hole clockwise (RFC 7946) */
  CHECK_INT_EQ(add_json(g, 7, "{\"type\":\"Polygon\",\"coordinates\":["
                              "[[0,0],[10,0],[10,10],[0,10],[0,0]],"
                              "[[4,4],[4,6],[6,6],[6,4],[4,4]]]}", why, sizeof(why)), 0);
  /* an island inside a second polygon's hole, different winding on purpose */
  CHECK_INT_EQ(add_json(g, 8, "{\"type\":\"Polygon\",\"coordinates\":["
                              "[[4.5,4.5],[4.5,5],[5,5],[5,4.5],[4.5,4.5]]]}", why, sizeof(why)), 0);
  /* a multipolygon: two squares, one with a triangular hole */
  CHECK_INT_EQ(add_json(g, 9, "{\"type\":\"MultiPolygon\",\"coordinates\":["
                              "[[[20,0],[21,0],[21,1],[20,1],[20,0]]],"
                              "[[[30,0],[32,0],[32,2],[30,2],[30,0]],"
                              " [[30.5,0.5],[31.5,0.5],[31,1.5],[30.5,0.5]]]]}", why, sizeof(why)), 0);
  CHECK_INT_EQ(geo_index_build(g), 0);
  CHECK_INT_EQ(geo_index_count(g), 3);

  CHECK_INT_EQ(geo_locate(g, 2, 2), 7);
  CHECK_INT_EQ(geo_locate(g, 9.9, 0.1), 7);
  CHECK_INT_EQ(geo_locate(g, 5.5, 5.5), -1);   /* in the hole */
  CHECK_INT_EQ(geo_locate(g, 5.9, 4.1), -1);   /* in the hole */
  CHECK_INT_EQ(geo_locate(g, 4.7, 4.7), 8);    /* on the island in the hole */
  CHECK_INT_EQ(geo_locate(g, 11, 5), -1);
  CHECK_INT_EQ(geo_locate(g, 20.5, 0.5), 9);
  CHECK_INT_EQ(geo_locate(g, 30.2, 1.8), 9);
  CHECK_INT_EQ(geo_locate(g, 31.0, 1.0), -1);  /* in the triangle hole */
  CHECK_INT_EQ(geo_locate(g, 25, 0.5), -1);    /* between the parts */
  CHECK_INT_EQ(geo_locate(g, 40, 0.5), -1);

  CHECK(geo_bbox(g, 9, &x0, &y0, &x1, &y1));
  CHECK(x0 == 20 && y0 == 0 && x1 == 32 && y1 == 2);
  CHECK(geo_bbox(g, 7, &x0, &y0, &x1, &y1));
  CHECK(x0 == 0 && y0 == 0 && x1 == 10 && y1 == 10);
  CHECK(!geo_bbox(g, 12345, &x0, &y0, &x1, &y1));

  /* adding after build is refused */
  CHECK_INT_EQ(add_json(g, 10, SQUARE_A, why, sizeof(why)), -1);
  CHECK(strstr(why, "built") != NULL);
  CHECK_INT_EQ(geo_index_count(g), 3);
  geo_index_free(g);

  /* an empty index answers -1 */
  g = geo_index_new();
  CHECK_INT_EQ(geo_index_build(g), 0);
  CHECK_INT_EQ(geo_locate(g, 0, 0), -1);
  geo_index_free(g);
  /* not yet built: -1, no crash */
  g = geo_index_new();
  CHECK_INT_EQ(add_json(g, 1, SQUARE_A, why, sizeof(why)), 0);
  CHECK_INT_EQ(geo_locate(g, 0.5, 0.5), -1);
  CHECK_INT_EQ(geo_index_build(g), 0);
  CHECK_INT_EQ(geo_locate(g, 0.5, 0.5), 1);
  geo_index_free(g);
}

static void check_invalid(void)
{
  static const struct {
    const char *json, *reason;  /* reason: a substring the explanation must contain */
  } bad[] = {
    {"{\"type\":\"Point\",\"coordinates\":[105.8,21.0]}", "Point"},
    {"{\"type\":\"LineString\",\"coordinates\":[[0,0],[1,1]]}", "LineString"},
    {"{\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}", "type"},
    {"{\"type\":\"Polygon\"}", "coordinates"},
    {"[1,2,3]", "object"},
    {"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[0,0]]]}", "3 positions"},
    {"{\"type\":\"Polygon\",\"coordinates\":[]}", "no rings"},
    {"{\"type\":\"MultiPolygon\",\"coordinates\":[]}", "no polygons"},
    {"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,1]]]}", "not closed"},
    {"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,95],[0,0]]]}", "latitude 95"},
    {"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[200,0],[1,1],[0,0]]]}", "longitude 200"},
    {"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[\"NaN\",1],[0,0]]]}", "not numbers"},
    {"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[null,1],[0,0]]]}", "not numbers"},
    {"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1],[0,0]]]}", "position 2"},
    /* a good first polygon, a bad second one: nothing of it may stay in the index */
    {"{\"type\":\"MultiPolygon\",\"coordinates\":[[[[0,0],[1,0],[1,1],[0,0]]],"
     "[[[5,5],[6,5],[6,95],[5,5]]]]}", "polygon 1 ring 0"},
  };
  char why[256];
  geo_index_t *g = geo_index_new();

  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    why[0] = '\0';
    CHECK_INT_EQ(add_json(g, (int64_t)i, bad[i].json, why, sizeof(why)), -1);
    if (strstr(why, bad[i].reason) == NULL)
      fprintf(stderr, "  case %zu: reason \"%s\" lacks \"%s\"\n", i, why, bad[i].reason);
    CHECK(strstr(why, bad[i].reason) != NULL);
  }
  /* jansson cannot hold NaN or infinity at all, so such values never reach the index */
  CHECK(json_real(NAN) == NULL);
  CHECK(json_real(INFINITY) == NULL);
  CHECK_INT_EQ(geo_index_add_geometry(g, 1, NULL, why, sizeof(why)), -1);
  CHECK_INT_EQ(geo_index_add_geometry(g, 1, NULL, NULL, 0), -1);  /* no reason buffer: fine */
  {
    char tiny[8];
    CHECK_INT_EQ(add_json(g, 1, bad[0].json, tiny, sizeof(tiny)), -1);
    CHECK_INT_EQ(strlen(tiny), sizeof(tiny) - 1);  /* truncated, terminated */
  }

  CHECK_INT_EQ(geo_index_count(g), 0);
  /* the failed adds left nothing behind: a good polygon still indexes cleanly */
  CHECK_INT_EQ(add_json(g, 42, SQUARE_B, why, sizeof(why)), 0);
  CHECK_INT_EQ(geo_index_build(g), 0);
  CHECK_INT_EQ(geo_index_count(g), 1);
  CHECK_INT_EQ(geo_locate(g, 1.5, 0.5), 42);
  CHECK_INT_EQ(geo_locate(g, 0.5, 0.5), -1);
  CHECK_INT_EQ(geo_locate(g, 5.5, 5.2), -1);
  geo_index_free(g);
}

/* ---- real data ---------------------------------------------------------------------- */

static void check_real(const char *rel, bool wards, size_t expect_features)
{
  json_t *features = load_features(rel);
  geo_index_t *g;
  bf_set_t bf;
  double build_ms = 0, x0, y0, x1, y1;

  CHECK(features != NULL);
  if (features == NULL)
    return;
  CHECK_INT_EQ(json_array_size(features), expect_features);
  g = index_features(features, &build_ms);
  printf("%s: %zu features, built in %.1f ms, index %.2f MiB\n", rel, geo_index_count(g), build_ms,
         geo_index_memory(g) / 1048576.0);
  check_landmarks(g, features, wards);

  CHECK(geo_bbox(g, 0, &x0, &y0, &x1, &y1));
  CHECK(x0 > 105.0 && x1 < 106.5 && y0 > 20.4 && y1 < 21.5 && x0 < x1 && y0 < y1);

  bf_load(&bf, features);
  cross_check(g, &bf, 20000, wards ? "wards" : "districts");
  if (wards)
    check_threads(g);
  bf_free(&bf);
  geo_index_free(g);
  json_decref(features);
}

int main(void)
{
  check_shared_edges();
  check_holes_and_multipolygons();
  check_invalid();
  check_real("data/units/hanoi-wards-2025.geojson", true, 126);
  check_real("data/units/hanoi-districts.geojson", false, 30);

  printf("test_geo: ");
  return check_summary();
}
