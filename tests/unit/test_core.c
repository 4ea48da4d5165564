/* Unit tests for the core pieces: arena, capped buffers, route matching, the error
 * table and configuration precedence. */
#include "base/common.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "config.h"
#include "http/http.h"
#include "check.h"
#include <unistd.h>

static int cleanup_order[4];
static int cleanup_n;
static void record_cleanup(void *p) { cleanup_order[cleanup_n++] = *(int *)p; }

static void test_arena(void) {
  arena_t *a = arena_new(64);
  /* Alignment and zeroing across many blocks. */
  for (int i = 1; i < 2000; i++) {
    unsigned char *p = arena_alloc(a, (size_t)(i % 97) + 1);
    CHECK(((uintptr_t)p % _Alignof(max_align_t)) == 0);
    bool zero = true;
    for (int k = 0; k < i % 97 + 1; k++) zero = zero && p[k] == 0;
    CHECK(zero);
    memset(p, 0xAB, (size_t)(i % 97) + 1);
  }
  /* A single allocation larger than any block. */
  char *big = arena_alloc(a, 5u << 20);
  big[(5u << 20) - 1] = 'x';
  CHECK(arena_used(a) >= (5u << 20));
  CHECK_STR_EQ(arena_strdup(a, "Phường Hoàn Kiếm"), "Phường Hoàn Kiếm");
  CHECK(arena_strdup(a, NULL) == NULL);
  CHECK_STR_EQ(arena_strndup(a, "abcdef", 3), "abc");
  CHECK_STR_EQ(arena_printf(a, "%s-%06d", "00070", 42), "00070-000042");
  char longfmt[600];
  memset(longfmt, 'z', sizeof longfmt - 1);
  longfmt[sizeof longfmt - 1] = '\0';
  CHECK_STR_EQ(arena_printf(a, "%s", longfmt), longfmt);   /* longer than the stack buffer */
  static int one = 1, two = 2, three = 3;
  arena_on_free(a, record_cleanup, &one);
  arena_on_free(a, record_cleanup, &two);
  arena_on_free(a, record_cleanup, &three);
  arena_free(a);
  CHECK_INT_EQ(cleanup_n, 3);
  CHECK_INT_EQ(cleanup_order[0], 3);   /* newest first */
  CHECK_INT_EQ(cleanup_order[2], 1);
  arena_free(NULL);
}

static void test_buf(void) {
  buf_t b;
  buf_init(&b, 10);
  CHECK_INT_EQ(buf_puts(&b, "12345"), 0);
  CHECK_INT_EQ(buf_printf(&b, "%d", 6789), 0);
  CHECK_STR_EQ(b.data, "123456789");
  CHECK_INT_EQ(buf_puts(&b, "ab"), -1);        /* would pass the cap of 10 */
  CHECK_STR_EQ(b.data, "123456789");           /* unchanged */
  CHECK_INT_EQ(buf_puts(&b, "a"), 0);          /* exactly at the cap */
  CHECK_INT_EQ(b.len, 10);
  CHECK_INT_EQ(buf_printf(&b, "%s", "x"), -1);
  buf_reset(&b);
  CHECK_INT_EQ(b.len, 0);
  CHECK_STR_EQ(b.data, "");
  size_t n;
  buf_puts(&b, "xyz");
  char *d = buf_detach(&b, &n);
  CHECK_STR_EQ(d, "xyz");
  CHECK_INT_EQ(n, 3);
  CHECK(b.data == NULL);
  free(d);
  buf_release(&b);
}

static void test_route(void) {
  arena_t *a = arena_new(0);
  int np = -1;
  const char *names[HTTP_MAX_PARAMS], *values[HTTP_MAX_PARAMS];
  CHECK(http_route_match(a, "/api/v1/units/{code}", "/api/v1/units/00070", &np, names, values));
  CHECK_INT_EQ(np, 1);
  CHECK_STR_EQ(names[0], "code");
  CHECK_STR_EQ(values[0], "00070");
  CHECK(http_route_match(a, "/api/v1/units/{code}/path", "/api/v1/units/01/path", &np, names, values));
  CHECK_STR_EQ(values[0], "01");
  CHECK(!http_route_match(a, "/api/v1/units/{code}", "/api/v1/units/", &np, names, values));      /* empty */
  CHECK(!http_route_match(a, "/api/v1/units/{code}", "/api/v1/units/1/2", &np, names, values));   /* two segments */
  CHECK(!http_route_match(a, "/api/v1/units/{code}", "/api/v1/units/1/", &np, names, values));    /* trailing slash */
  CHECK(!http_route_match(a, "/api/v1/units", "/api/v1/units/", &np, names, values));
  CHECK(!http_route_match(a, "/api/v1/units", "/api/v1/unit", &np, names, values));
  CHECK(http_route_match(a, "/healthz", "/healthz", &np, names, values));
  CHECK_INT_EQ(np, 0);
  CHECK(http_route_match(a, "/a/{x}/b/{y}", "/a/1/b/2", &np, names, values));
  CHECK_INT_EQ(np, 2);
  CHECK_STR_EQ(names[1], "y");
  CHECK_STR_EQ(values[1], "2");
  /* Literal suffix in the same segment (Open311 style). */
  CHECK(http_route_match(a, "/requests/{id}.json", "/requests/42.json", &np, names, values));
  CHECK_STR_EQ(values[0], "42");
  CHECK(!http_route_match(a, "/requests/{id}.json", "/requests/.json", &np, names, values));
  CHECK(!http_route_match(a, "/requests/{id}.json", "/requests/42.xml", &np, names, values));
  /* Malformed patterns never match. */
  CHECK(!http_route_match(a, "/a/{x", "/a/1", &np, names, values));
  CHECK(!http_route_match(a, "/a/{x}{y}", "/a/12", &np, names, values));
  /* Without an arena it only answers yes or no. */
  CHECK(http_route_match(NULL, "/x/{id}", "/x/9", NULL, NULL, NULL));
  /* Too many parameters. */
  CHECK(!http_route_match(a, "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", "/1/2/3/4/5/6/7/8/9", &np, names, values));
  arena_free(a);
}

static void test_err(void) {
  CHECK_INT_EQ(err_status(ERR_NOT_FOUND), 404);
  CHECK_STR_EQ(err_code(ERR_NOT_FOUND), "not_found");
  CHECK_INT_EQ(err_status(ERR_VALIDATION), 422);
  CHECK_INT_EQ(err_status(ERR_TOO_LARGE), 413);
  CHECK_INT_EQ(err_status((err_t)999), 500);
  /* Every row has a distinct code. */
  for (int i = 0; i < ERR__COUNT; i++)
    for (int j = i + 1; j < ERR__COUNT; j++) CHECK(strcmp(err_code((err_t)i), err_code((err_t)j)) != 0);
}

static void test_config(void) {
  char path[] = "/tmp/cityos-config-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fprintf(f, "# a comment\nlisten = 0.0.0.0:9000\ndb = \"/tmp/from-file.db\"\nthreads = 3\n");
  fclose(f);
  setenv("CITYOS_CONFIG", path, 1);
  setenv("CITYOS_DB", "/tmp/from-env.db", 1);
  char a0[] = "serve", a1[] = "--threads", a2[] = "5", a3[] = "--units-era=2024", a4[] = "extra";
  char *argv[] = {a0, a1, a2, a3, a4, NULL};
  config_t cfg;
  int n = config_load_all(&cfg, 5, argv);
  CHECK_INT_EQ(n, 2);                           /* "serve" and "extra" remain */
  CHECK_STR_EQ(argv[1], "extra");
  CHECK_STR_EQ(cfg.listen, "0.0.0.0:9000");     /* file */
  CHECK_STR_EQ(cfg.db, "/tmp/from-env.db");     /* env beats file */
  CHECK_INT_EQ(cfg.threads, 5);                 /* flag beats file */
  CHECK_STR_EQ(cfg.units_era, "2024");
  config_release(&cfg);
  /* Bad values are refused with a message. */
  config_defaults(&cfg);
  CHECK_INT_EQ(config_set(&cfg, "threads", "many"), -1);
  CHECK_INT_EQ(config_set(&cfg, "threads", "100000"), -1);
  CHECK_INT_EQ(config_set(&cfg, "nonsense", "1"), -1);
  CHECK_INT_EQ(config_set(&cfg, "log_level", "loud"), -1);
  CHECK_INT_EQ(config_set(&cfg, "timeout", "60"), 0);
  CHECK_INT_EQ(cfg.timeout_s, 60);
  config_release(&cfg);
  unsetenv("CITYOS_CONFIG");
  unsetenv("CITYOS_DB");
  unlink(path);
}

int main(void) {
  test_arena();
  test_buf();
  test_route();
  test_err();
  test_config();
  return check_summary();
}
