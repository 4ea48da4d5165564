/*
 * fuzz_route.c - the route matcher on arbitrary patterns and paths.
 * Input: pattern, a NUL byte, path. Checks: no crash; captures are non-empty, hold no
 * '/', and substituting them back into the pattern gives the path again.
 */
#include "base/common.h"
#include "base/arena.h"
#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  const uint8_t *nul = memchr(data, 0, size);
  if (!nul) return 0;
  arena_t *a = arena_new(0);
  char *pattern = arena_strndup(a, (const char *)data, (size_t)(nul - data));
  char *path = arena_strndup(a, (const char *)nul + 1, size - (size_t)(nul - data) - 1);
  int np = 0;
  const char *names[HTTP_MAX_PARAMS], *values[HTTP_MAX_PARAMS];
  if (http_route_match(a, pattern, path, &np, names, values)) {
    if (np < 0 || np > HTTP_MAX_PARAMS) abort();
    /* Rebuild the path from the pattern and the captures. */
    char *out = arena_alloc(a, strlen(pattern) + strlen(path) + 1);
    size_t o = 0;
    int k = 0;
    for (const char *p = pattern; *p;) {
      if (*p == '{') {
        const char *close = strchr(p, '}');
        if (!close || k >= np) abort();
        size_t vl = strlen(values[k]);
        if (vl == 0 || memchr(values[k], '/', vl)) abort();
        memcpy(out + o, values[k], vl);
        o += vl;
        k++;
        p = close + 1;
      } else {
        out[o++] = *p++;
      }
    }
    out[o] = '\0';
    if (k != np || strcmp(out, path) != 0) abort();
  }
  arena_free(a);
  return 0;
}
