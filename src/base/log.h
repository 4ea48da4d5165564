/*
 * log.h - one line per event on stderr, logfmt style:
 *   ts=2026-11-22T12:00:00.123+07:00 level=info rid=3f2a.. msg="..." key=value ...
 * Thread-safe (each line is one write). The level threshold is set once at start.
 * Never log secrets (passwords, tokens, keys) or personal data beyond ids.
 */
#ifndef CITYOS_LOG_H
#define CITYOS_LOG_H

#include "base/common.h"

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level_t;

void log_set_level(log_level_t lvl);
log_level_t log_get_level(void);
/* Parses "debug|info|warn|error|off"; -1 when unknown. */
int log_level_parse(const char *s);
/* rid may be NULL (no request). fmt is the message and any key=value pairs. */
void log_write(log_level_t lvl, const char *rid, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Writes an already formatted line at once. */
void log_raw(const char *line, size_t len);
/* Access-log lines: buffered per thread, written when a buffer fills and at least
 * every 200 ms by a background thread; log_access_flush() writes everything now
 * (call it at shutdown). */
void log_access(const char *line, size_t len);
void log_access_flush(void);

#define log_debug(rid, ...) do { if (log_get_level() <= LOG_DEBUG) log_write(LOG_DEBUG, rid, __VA_ARGS__); } while (0)
#define log_info(rid, ...)  log_write(LOG_INFO, rid, __VA_ARGS__)
#define log_warn(rid, ...)  log_write(LOG_WARN, rid, __VA_ARGS__)
#define log_error(rid, ...) log_write(LOG_ERROR, rid, __VA_ARGS__)

/* Milliseconds since the epoch (wall clock) and a monotonic clock in nanoseconds. */
int64_t clock_now_ms(void);
uint64_t clock_mono_ns(void);
/* "2026-11-22T12:00:00.123+07:00" for t (ms) in Vietnam time (UTC+7); out >= 32 bytes. */
void clock_format_iso(int64_t t_ms, char *out, size_t outlen);

/* Fills buf with n cryptographically random bytes (libsodium). */
void random_bytes(void *buf, size_t n);
/* n random bytes as lower-case hex into out (2n+1 bytes). */
void random_hex(char *out, size_t n);

#endif
