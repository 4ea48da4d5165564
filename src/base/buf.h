/*
 * buf.h - growable byte buffer with a hard cap (after curl's dynbuf).
 *
 * A buf_t always keeps its content NUL-terminated. Appends that would take it past
 * `cap` fail with -1 and leave the content as it was; the caller turns that into a
 * clear error (413, "too large"). Memory comes from malloc; buf_release() frees it.
 */
#ifndef CITYOS_BUF_H
#define CITYOS_BUF_H

#include "base/common.h"

typedef struct buf {
  char *data;   /* NUL-terminated; NULL until the first append */
  size_t len;
  size_t alloc;
  size_t cap;   /* the most bytes it may hold */
} buf_t;

void buf_init(buf_t *b, size_t cap);
void buf_release(buf_t *b);            /* frees, and leaves the buf empty and reusable */
void buf_reset(buf_t *b);              /* empties, keeps memory */
int buf_append(buf_t *b, const void *data, size_t len);   /* 0 or -1 (cap or OOM) */
int buf_puts(buf_t *b, const char *s);
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the content over (caller frees) and empties the buf. */
char *buf_detach(buf_t *b, size_t *len);

#endif
