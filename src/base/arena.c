#include "base/common.h"
#include "base/arena.h"
#include "base/log.h"

typedef struct block {
  struct block *next;
  size_t size;    /* usable bytes after the header */
  size_t used;
  max_align_t data[];
} block_t;

typedef struct cleanup {
  struct cleanup *next;
  arena_cleanup_fn fn;
  void *ptr;
} cleanup_t;

struct arena {
  block_t *head;
  cleanup_t *cleanups;
  size_t total;
  size_t next_size;
};

#define ARENA_ALIGN (_Alignof(max_align_t))
#define ARENA_DEFAULT 4096

static void arena_oom(size_t n) {
  fprintf(stderr, "arena: out of memory allocating %zu bytes\n", n);
  abort();
}

static block_t *block_new(size_t size) {
  block_t *b = malloc(sizeof(block_t) + size);
  if (!b) arena_oom(size);
  b->next = NULL;
  b->size = size;
  b->used = 0;
  return b;
}

arena_t *arena_new(size_t first_block) {
  arena_t *a = malloc(sizeof(*a));
  if (!a) arena_oom(sizeof(*a));
  size_t sz = first_block ? first_block : ARENA_DEFAULT;
  a->head = block_new(sz);
  a->cleanups = NULL;
  a->total = 0;
  a->next_size = sz * 2;
  return a;
}

void arena_free(arena_t *a) {
  if (!a) return;
  for (cleanup_t *c = a->cleanups; c; c = c->next) c->fn(c->ptr);
  block_t *b = a->head;
  while (b) {
    block_t *n = b->next;
    free(b);
    b = n;
  }
  free(a);
}

void *arena_alloc(arena_t *a, size_t size) {
  size_t need = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
  if (need < size) arena_oom(size);
  block_t *b = a->head;
  if (b->size - b->used < need) {
    size_t sz = a->next_size;
    if (sz < need) sz = need;
    if (a->next_size < (1u << 20)) a->next_size *= 2;
    block_t *nb = block_new(sz);
    nb->next = a->head;
    a->head = nb;
    b = nb;
  }
  void *p = (char *)b->data + b->used;
  b->used += need;
  a->total += need;
  memset(p, 0, size);
  return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t n) {
  if (!s) return NULL;
  char *p = arena_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *arena_strdup(arena_t *a, const char *s) {
  return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_vprintf(arena_t *a, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap2);
  va_end(ap2);
  if (n < 0) return arena_strdup(a, "");
  char *p = arena_alloc(a, (size_t)n + 1);
  if ((size_t)n < sizeof small) {
    memcpy(p, small, (size_t)n + 1);
  } else {
    vsnprintf(p, (size_t)n + 1, fmt, ap);
  }
  return p;
}

char *arena_printf(arena_t *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *p = arena_vprintf(a, fmt, ap);
  va_end(ap);
  return p;
}

void arena_on_free(arena_t *a, arena_cleanup_fn fn, void *ptr) {
  cleanup_t *c = arena_alloc(a, sizeof(*c));
  c->fn = fn;
  c->ptr = ptr;
  c->next = a->cleanups;
  a->cleanups = c;
}

size_t arena_used(const arena_t *a) { return a->total; }
