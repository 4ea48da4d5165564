#include "base/common.h"
#include "http/http.h"

/*
 * Pattern syntax: literal characters, and {name} which captures the rest of one path
 * segment up to an optional literal suffix in the same pattern segment
 * ("/requests/{id}.json" captures "42" from "/requests/42.json"). A capture is never
 * empty and never contains '/'.
 */
bool http_route_match(arena_t *a, const char *pattern, const char *path, int *nparams,
                      const char **names, const char **values) {
  int np = 0;
  const char *p = pattern, *s = path;
  if (!p || !s) return false;
  while (*p && *s) {
    if (*p != '{') {
      if (*p != *s) return false;
      p++;
      s++;
      continue;
    }
    const char *close = strchr(p, '}');
    if (!close || np >= HTTP_MAX_PARAMS) return false;
    const char *suffix = close + 1;
    size_t suflen = strcspn(suffix, "/");
    if (memchr(suffix, '{', suflen)) return false;   /* one capture per segment */
    size_t seglen = strcspn(s, "/");
    if (seglen <= suflen) return false;
    size_t caplen = seglen - suflen;
    if (memcmp(s + caplen, suffix, suflen) != 0) return false;
    if (names && values && a) {
      names[np] = arena_strndup(a, p + 1, (size_t)(close - p - 1));
      values[np] = arena_strndup(a, s, caplen);
    }
    np++;
    p = suffix + suflen;
    s += seglen;
  }
  if (*p || *s) return false;
  if (nparams) *nparams = np;
  return true;
}
