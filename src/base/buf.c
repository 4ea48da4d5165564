#include "base/common.h"
#include "base/buf.h"

void buf_init(buf_t *b, size_t cap) {
  b->data = NULL;
  b->len = 0;
  b->alloc = 0;
  b->cap = cap;
}

void buf_release(buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->alloc = 0;
}

void buf_reset(buf_t *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

static int buf_reserve(buf_t *b, size_t extra) {
  if (extra > b->cap || b->len > b->cap - extra) return -1;
  size_t need = b->len + extra + 1;
  if (need <= b->alloc) return 0;
  size_t n = b->alloc ? b->alloc : 64;
  while (n < need) n = n > SIZE_MAX / 2 ? need : n * 2;
  if (n > b->cap + 1) n = b->cap + 1;
  char *p = realloc(b->data, n);
  if (!p) return -1;
  b->data = p;
  b->alloc = n;
  return 0;
}

int buf_append(buf_t *b, const void *data, size_t len) {
  if (buf_reserve(b, len) < 0) return -1;
  if (len) memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

int buf_puts(buf_t *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_printf(buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || buf_reserve(b, (size_t)n) < 0) return -1;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

char *buf_detach(buf_t *b, size_t *len) {
  if (!b->data && buf_reserve(b, 0) < 0) return NULL;
  if (!b->data) {
    b->data = malloc(1);
    if (!b->data) return NULL;
    b->data[0] = '\0';
  }
  char *p = b->data;
  if (len) *len = b->len;
  b->data = NULL;
  b->len = b->alloc = 0;
  return p;
}
