#include "base/common.h"
#include "base/log.h"
#include <sodium.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

static log_level_t g_level = LOG_INFO;
static const char *LEVEL_NAMES[] = {"debug", "info", "warn", "error", "off"};

void log_set_level(log_level_t lvl) { g_level = lvl; }
log_level_t log_get_level(void) { return g_level; }

int log_level_parse(const char *s) {
  for (int i = 0; i <= LOG_OFF; i++)
    if (s && strcmp(s, LEVEL_NAMES[i]) == 0) return i;
  return -1;
}

int64_t clock_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t clock_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void clock_format_iso(int64_t t_ms, char *out, size_t outlen) {
  /* Vietnam has used UTC+7 without daylight saving since 1975. */
  time_t secs = (time_t)(t_ms / 1000) + 7 * 3600;
  struct tm tm;
  gmtime_r(&secs, &tm);
  int n = snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+07:00", tm.tm_year + 1900, tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(t_ms % 1000));
  if (n < 0 || (size_t)n >= outlen) {
    if (outlen) out[0] = '\0';   /* callers pass >= 32 bytes; never a cut-off time */
  }
}

void log_raw(const char *line, size_t len) {
  while (len > 0) {
    ssize_t n = write(STDERR_FILENO, line, len);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;
    }
    line += n;
    len -= (size_t)n;
  }
}

void log_write(log_level_t lvl, const char *rid, const char *fmt, ...) {
  if (lvl < g_level || lvl >= LOG_OFF) return;
  char line[2048];
  char ts[40];
  clock_format_iso(clock_now_ms(), ts, sizeof ts);
  int n = snprintf(line, sizeof line, "ts=%s level=%s%s%s ", ts, LEVEL_NAMES[lvl],
                   rid ? " rid=" : "", rid ? rid : "");
  if (n < 0) return;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if (m < 0) return;
  size_t len = (size_t)n + (size_t)m;
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  log_raw(line, len);
}

void random_bytes(void *buf, size_t n) { randombytes_buf(buf, n); }

void random_hex(char *out, size_t n) {
  static const char hex[] = "0123456789abcdef";
  unsigned char tmp[64];
  size_t o = 0;
  while (n > 0) {
    size_t k = n < sizeof tmp ? n : sizeof tmp;
    randombytes_buf(tmp, k);
    for (size_t i = 0; i < k; i++) {
      out[o++] = hex[tmp[i] >> 4];
      out[o++] = hex[tmp[i] & 15];
    }
    n -= k;
  }
  out[o] = '\0';
}

/* --- buffered access log ----------------------------------------------------------
 * Each thread appends to its own buffer (its own mutex, uncontended); a buffer is
 * written out when full, and a flusher thread writes every buffer out every 200 ms,
 * so a line is never held longer than that. Like nginx's access_log buffer=. */

#define ACCESS_BUF 16384

typedef struct access_buf {
  pthread_mutex_t mu;
  size_t len;
  char data[ACCESS_BUF];
  struct access_buf *next;
} access_buf_t;

static pthread_mutex_t g_bufs_mu = PTHREAD_MUTEX_INITIALIZER;
static access_buf_t *g_bufs;
static pthread_once_t g_flusher_once = PTHREAD_ONCE_INIT;
static _Thread_local access_buf_t *t_buf;

static void access_flush_locked(access_buf_t *b) {
  if (b->len) log_raw(b->data, b->len);
  b->len = 0;
}

void log_access_flush(void) {
  pthread_mutex_lock(&g_bufs_mu);
  for (access_buf_t *b = g_bufs; b; b = b->next) {
    pthread_mutex_lock(&b->mu);
    access_flush_locked(b);
    pthread_mutex_unlock(&b->mu);
  }
  pthread_mutex_unlock(&g_bufs_mu);
}

static void *flusher(void *arg) {
  (void)arg;
  for (;;) {
    struct timespec ts = {0, 200 * 1000000};
    nanosleep(&ts, NULL);
    log_access_flush();
  }
  return NULL;
}

static void start_flusher(void) {
  pthread_t t;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);   /* signals stay with the main thread */
  if (pthread_create(&t, NULL, flusher, NULL) == 0) pthread_detach(t);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void log_access(const char *line, size_t len) {
  access_buf_t *b = t_buf;
  if (!b) {
    b = calloc(1, sizeof *b);
    if (!b) {
      log_raw(line, len);
      return;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_lock(&g_bufs_mu);
    b->next = g_bufs;
    g_bufs = b;
    pthread_mutex_unlock(&g_bufs_mu);
    t_buf = b;   /* buffers live as long as the process: worker threads are few and fixed */
    pthread_once(&g_flusher_once, start_flusher);
  }
  pthread_mutex_lock(&b->mu);
  if (b->len + len > ACCESS_BUF) access_flush_locked(b);
  if (len > ACCESS_BUF) {
    log_raw(line, len);
  } else {
    memcpy(b->data + b->len, line, len);
    b->len += len;
  }
  pthread_mutex_unlock(&b->mu);
}
