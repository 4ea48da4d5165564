/*
 * arena.h - region allocator: one per HTTP request, MQTT message or job step.
 *
 * Everything allocated from an arena lives until arena_free(). Helpers that allocate
 * take the arena as their first argument. Cleanup callbacks registered with
 * arena_on_free() run in reverse order of registration when the arena is freed
 * (release statements, close files, json_decref, wipe secrets).
 *
 * Allocation never returns NULL: on out-of-memory the process aborts with a log line
 * (a server that cannot allocate a few bytes cannot answer sensibly either).
 * An arena is not thread-safe: one owner at a time.
 */
#ifndef CITYOS_ARENA_H
#define CITYOS_ARENA_H

#include "base/common.h"

typedef struct arena arena_t;
typedef void (*arena_cleanup_fn)(void *ptr);

/* A new arena; the first block holds about `first_block` bytes (0 = default 4 KiB). */
arena_t *arena_new(size_t first_block);
/* Runs cleanups (newest first), then frees every block. NULL is a no-op. */
void arena_free(arena_t *a);

/* Zeroed memory, aligned for any type. */
void *arena_alloc(arena_t *a, size_t size);
/* Copy of s (NULL gives NULL). */
char *arena_strdup(arena_t *a, const char *s);
/* Copy of the first n bytes of s, NUL-terminated. */
char *arena_strndup(arena_t *a, const char *s, size_t n);
/* printf into the arena. */
char *arena_printf(arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena_t *a, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Registers fn(ptr) to run when the arena is freed. */
void arena_on_free(arena_t *a, arena_cleanup_fn fn, void *ptr);
/* Bytes handed out so far (for metrics and tests). */
size_t arena_used(const arena_t *a);

#endif
