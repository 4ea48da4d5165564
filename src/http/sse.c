#include "base/common.h"
#include "http/sse.h"
#include "http/http_internal.h"
#include "base/log.h"
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#define SSE_RING 256
#define SSE_EVENT_MAX 16384
#define SSE_PING_S 15

typedef struct sse_stream {
  struct sse_stream *next, *prev;
  http_sse_hub_t *hub;
  struct MHD_Connection *conn;
  uint64_t next_id;        /* the id of the next event to send */
  bool suspended;
  bool greeted;            /* "retry:" line sent */
  bool want_ping;
} sse_stream_t;

typedef struct sse_event {
  uint64_t id;
  char *text;              /* "id: N\nevent: E\ndata: D\n\n" */
  size_t len;
} sse_event_t;

struct http_sse_hub {
  pthread_mutex_t mu;
  char name[32];
  uint64_t next_id;        /* ids start at 1 */
  sse_event_t ring[SSE_RING];
  sse_stream_t *streams;
  size_t nstreams;
  bool closing;
  struct http_sse_hub *next_hub;
};

static pthread_mutex_t g_hubs_mu = PTHREAD_MUTEX_INITIALIZER;
static http_sse_hub_t *g_hubs;
static pthread_once_t g_ticker_once = PTHREAD_ONCE_INIT;

/* Wakes every suspended stream of the hub (hub->mu held). */
static void wake_all(http_sse_hub_t *h, bool ping) {
  for (sse_stream_t *s = h->streams; s; s = s->next) {
    if (ping) s->want_ping = true;
    if (s->suspended) {
      s->suspended = false;
      MHD_resume_connection(s->conn);
    }
  }
}

static void *ticker(void *arg) {
  (void)arg;
  for (;;) {
    sleep(SSE_PING_S);
    pthread_mutex_lock(&g_hubs_mu);
    for (http_sse_hub_t *h = g_hubs; h; h = h->next_hub) {
      pthread_mutex_lock(&h->mu);
      wake_all(h, true);
      pthread_mutex_unlock(&h->mu);
    }
    pthread_mutex_unlock(&g_hubs_mu);
  }
  return NULL;
}

static void start_ticker(void) {
  pthread_t t;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  if (pthread_create(&t, NULL, ticker, NULL) == 0) pthread_detach(t);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

http_sse_hub_t *http_sse_hub_new(const char *name) {
  http_sse_hub_t *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  pthread_mutex_init(&h->mu, NULL);
  snprintf(h->name, sizeof h->name, "%s", name ? name : "events");
  h->next_id = 1;
  pthread_mutex_lock(&g_hubs_mu);
  h->next_hub = g_hubs;
  g_hubs = h;
  pthread_mutex_unlock(&g_hubs_mu);
  pthread_once(&g_ticker_once, start_ticker);
  return h;
}

void http_sse_hub_free(http_sse_hub_t *h) {
  if (!h) return;
  pthread_mutex_lock(&g_hubs_mu);
  for (http_sse_hub_t **p = &g_hubs; *p; p = &(*p)->next_hub)
    if (*p == h) {
      *p = h->next_hub;
      break;
    }
  pthread_mutex_unlock(&g_hubs_mu);
  /* Streams must be gone (the server stopped); detach any left so their free
   * callbacks, if they ever run, find no hub. */
  pthread_mutex_lock(&h->mu);
  for (sse_stream_t *s = h->streams; s; s = s->next) s->hub = NULL;
  pthread_mutex_unlock(&h->mu);
  for (size_t i = 0; i < SSE_RING; i++) free(h->ring[i].text);
  pthread_mutex_destroy(&h->mu);
  free(h);
}

uint64_t http_sse_publish(http_sse_hub_t *h, const char *event, const char *data) {
  char *text = malloc(SSE_EVENT_MAX);
  if (!text) return 0;
  pthread_mutex_lock(&h->mu);
  uint64_t id = h->next_id++;
  int n = snprintf(text, SSE_EVENT_MAX, "id: %" PRIu64 "\nevent: %s\ndata: ", id, event);
  size_t len = n > 0 ? (size_t)n : 0;
  for (const char *p = data; *p && len < SSE_EVENT_MAX - 3; p++) text[len++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
  text[len++] = '\n';
  text[len++] = '\n';
  sse_event_t *slot = &h->ring[id % SSE_RING];
  free(slot->text);
  slot->id = id;
  slot->text = text;
  slot->len = len;
  wake_all(h, false);
  pthread_mutex_unlock(&h->mu);
  return id;
}

/* libmicrohttpd asks for the next bytes of the stream. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  sse_stream_t *s = cls;
  (void)pos;
  http_sse_hub_t *h = s->hub;
  if (!h) return MHD_CONTENT_READER_END_OF_STREAM;
  pthread_mutex_lock(&h->mu);
  ssize_t out = 0;
  if (h->closing) {
    out = MHD_CONTENT_READER_END_OF_STREAM;
    goto done;
  }
  if (!s->greeted) {
    static const char hello[] = "retry: 3000\n: connected\n\n";
    memcpy(buf, hello, sizeof hello - 1);
    out = (ssize_t)(sizeof hello - 1);
    s->greeted = true;
    goto done;
  }
  /* Events the ring no longer holds are skipped. */
  uint64_t oldest = h->next_id > SSE_RING ? h->next_id - SSE_RING : 1;
  if (s->next_id < oldest) s->next_id = oldest;
  size_t used = 0;
  while (s->next_id < h->next_id) {
    const sse_event_t *e = &h->ring[s->next_id % SSE_RING];
    if (e->len > max - used) break;
    memcpy(buf + used, e->text, e->len);
    used += e->len;
    s->next_id++;
  }
  if (used == 0 && s->want_ping) {
    static const char ping[] = ": ping\n\n";
    memcpy(buf, ping, sizeof ping - 1);
    used = sizeof ping - 1;
  }
  s->want_ping = false;
  if (used > 0) {
    out = (ssize_t)used;
    goto done;
  }
  /* Nothing to send: park the connection until a publish or the ticker. */
  s->suspended = true;
  MHD_suspend_connection(s->conn);
  out = 0;
done:
  pthread_mutex_unlock(&h->mu);
  return out;
}

static void stream_free(void *cls) {
  sse_stream_t *s = cls;
  http_sse_hub_t *h = s->hub;
  if (h) {
    pthread_mutex_lock(&h->mu);
    if (s->prev) s->prev->next = s->next;
    else h->streams = s->next;
    if (s->next) s->next->prev = s->prev;
    h->nstreams--;
    pthread_mutex_unlock(&h->mu);
  }
  free(s);
}

void http_reply_sse(http_req_t *req, http_sse_hub_t *h) {
  req_state_t *st = req_state(req);
  sse_stream_t *s = calloc(1, sizeof *s);
  if (!s) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  s->conn = st->conn;
  s->hub = h;
  pthread_mutex_lock(&h->mu);
  s->next_id = h->next_id;
  const char *last = http_header(req, "Last-Event-ID");
  if (last) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(last, &end, 10);
    if (errno == 0 && *end == '\0' && end != last && v < h->next_id) s->next_id = (uint64_t)v + 1;
  }
  if (h->closing) {
    pthread_mutex_unlock(&h->mu);
    free(s);
    http_reply_error(req, ERR_UNAVAILABLE, "The server is stopping");
    return;
  }
  s->next = h->streams;
  if (h->streams) h->streams->prev = s;
  h->streams = s;
  h->nstreams++;
  pthread_mutex_unlock(&h->mu);
  struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, s, stream_free);
  if (!r) {
    stream_free(s);
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
  MHD_add_response_header(r, "X-Accel-Buffering", "no");
  http_add_header(req, "Cache-Control", "no-store");
  st->replied = true;
  st->status = 200;
  st->resp = r;
  st->resp_len = 0;
}

void http_sse_close_all(void) {
  pthread_mutex_lock(&g_hubs_mu);
  for (http_sse_hub_t *h = g_hubs; h; h = h->next_hub) {
    pthread_mutex_lock(&h->mu);
    h->closing = true;
    wake_all(h, false);
    pthread_mutex_unlock(&h->mu);
  }
  pthread_mutex_unlock(&g_hubs_mu);
}

size_t http_sse_stream_count(void) {
  size_t n = 0;
  pthread_mutex_lock(&g_hubs_mu);
  for (http_sse_hub_t *h = g_hubs; h; h = h->next_hub) {
    pthread_mutex_lock(&h->mu);
    n += h->nstreams;
    pthread_mutex_unlock(&h->mu);
  }
  pthread_mutex_unlock(&g_hubs_mu);
  return n;
}
