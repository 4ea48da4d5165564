/* Internal to src/http: the server and per-request state. */
#ifndef CITYOS_HTTP_INTERNAL_H
#define CITYOS_HTTP_INTERNAL_H

#include "base/common.h"
#include "base/buf.h"
#include "http/http.h"
#include <microhttpd.h>
#include <stdatomic.h>

#define METRIC_BUCKETS 14
extern const double HTTP_BUCKET_LE[METRIC_BUCKETS - 1];   /* seconds; the last is +Inf */

typedef struct route_metrics {
  const char *method;
  const char *label;
  atomic_uint_fast64_t by_class[6];          /* index status/100 (1..5), 0 unused */
  atomic_uint_fast64_t buckets[METRIC_BUCKETS];
  atomic_uint_fast64_t sum_us;
} route_metrics_t;

typedef struct resp_header {
  struct resp_header *next;
  const char *name, *value;
} resp_header_t;

struct http_server {
  http_config_t cfg;
  struct MHD_Daemon *daemon;
  const http_route_t **routes;
  route_metrics_t *metrics;        /* one per route */
  size_t nroutes, cap;
  route_metrics_t m_static, m_unmatched;
  atomic_int inflight;
  atomic_int draining;   /* set by http_server_stop: new requests get 503 and a closed connection */
  atomic_uint_fast64_t total_requests;
  unsigned port;
  const char *web_dir_real;
};

/* A refused body up to this size is read and discarded so that the client gets the
 * answer on a live connection; past it, the answer goes out and the connection closes. */
#define HTTP_DRAIN_MAX ((size_t)8 << 20)

typedef struct req_state {
  http_server_t *srv;
  struct MHD_Connection *conn;
  buf_t body;
  size_t body_limit;
  size_t drained;
  bool replied;
  bool queued;
  int status;
  struct MHD_Response *resp;
  size_t resp_len;
  resp_header_t *headers;
  http_form_field_t *form;       /* parsed form fields (arena) */
  size_t nform, form_cap;
  uint64_t start_ns;
  route_metrics_t *metrics;
  http_req_t req;
} req_state_t;

static inline req_state_t *req_state(const http_req_t *req) { return (req_state_t *)req->internal; }

/* form.c: parses a form or multipart body into st->form; 0, or -1 after answering 400. */
int http_form_parse(req_state_t *st);

/* static.c */
void http_serve_static(http_req_t *req);
/* metrics.c */
void http_metrics_observe(route_metrics_t *m, int status, uint64_t ns);
void http_handle_metrics(http_req_t *req);
void http_handle_openapi(http_req_t *req);
/* reply.c: queue the stored response on the connection. */
enum MHD_Result http_queue_reply(req_state_t *st);

#endif
