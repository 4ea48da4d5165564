#include "base/common.h"
#include "http/http_internal.h"

const double HTTP_BUCKET_LE[METRIC_BUCKETS - 1] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,    0.25,  0.5,    1,     2.5,   5};

void http_metrics_observe(route_metrics_t *m, int status, uint64_t ns) {
  int cls = status / 100;
  if (cls < 1 || cls > 5) cls = 5;
  atomic_fetch_add_explicit(&m->by_class[cls], 1, memory_order_relaxed);
  double secs = (double)ns / 1e9;
  int b = 0;
  while (b < METRIC_BUCKETS - 1 && secs > HTTP_BUCKET_LE[b]) b++;
  atomic_fetch_add_explicit(&m->buckets[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&m->sum_us, ns / 1000, memory_order_relaxed);
}

static uint64_t route_total(const route_metrics_t *m) {
  uint64_t total = 0;
  for (int c = 1; c <= 5; c++) total += atomic_load_explicit(&m->by_class[c], memory_order_relaxed);
  return total;
}

static void emit_counters(buf_t *o, const route_metrics_t *m) {
  for (int c = 1; c <= 5; c++) {
    uint64_t n = atomic_load_explicit(&m->by_class[c], memory_order_relaxed);
    if (n)
      buf_printf(o, "cityos_http_requests_total{method=\"%s\",route=\"%s\",status=\"%dxx\"} %" PRIu64 "\n",
                 m->method, m->label, c, n);
  }
}

static void emit_histogram(buf_t *o, const route_metrics_t *m) {
  if (!route_total(m)) return;
  uint64_t cum = 0;
  for (int b = 0; b < METRIC_BUCKETS; b++) {
    cum += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
    char le[32];
    if (b < METRIC_BUCKETS - 1)
      snprintf(le, sizeof le, "%g", HTTP_BUCKET_LE[b]);
    else
      snprintf(le, sizeof le, "+Inf");
    buf_printf(o, "cityos_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%s\"} %" PRIu64 "\n",
               m->method, m->label, le, cum);
  }
  buf_printf(o, "cityos_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n", m->method,
             m->label, (double)atomic_load_explicit(&m->sum_us, memory_order_relaxed) / 1e6);
  buf_printf(o, "cityos_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %" PRIu64 "\n",
             m->method, m->label, cum);
}

void http_handle_metrics(http_req_t *req) {
  http_server_t *s = req_state(req)->srv;
  const route_metrics_t *extra_routes[2] = {&s->m_static, &s->m_unmatched};
  size_t n = s->nroutes + 2;
  buf_t o;
  buf_init(&o, 8 << 20);
  /* Each metric family stays together, as the text format requires. */
  buf_puts(&o, "# HELP cityos_http_requests_total HTTP requests answered, by route and status class.\n"
               "# TYPE cityos_http_requests_total counter\n");
  for (size_t i = 0; i < n; i++)
    emit_counters(&o, i < s->nroutes ? &s->metrics[i] : extra_routes[i - s->nroutes]);
  buf_puts(&o, "# HELP cityos_http_request_duration_seconds Time from request start to completion.\n"
               "# TYPE cityos_http_request_duration_seconds histogram\n");
  for (size_t i = 0; i < n; i++)
    emit_histogram(&o, i < s->nroutes ? &s->metrics[i] : extra_routes[i - s->nroutes]);
  buf_printf(&o, "# HELP cityos_http_in_flight Requests being handled now.\n# TYPE cityos_http_in_flight gauge\n"
                 "cityos_http_in_flight %d\n", atomic_load(&s->inflight));
  if (s->cfg.metrics_extra) {
    char *extra = NULL;
    size_t elen = 0;
    s->cfg.metrics_extra(s->cfg.app, &extra, &elen, req->arena);
    if (extra) buf_append(&o, extra, elen);
  }
  http_reply_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", o.data ? o.data : "", o.len, false);
  buf_release(&o);
}

void http_handle_openapi(http_req_t *req) {
  http_server_t *s = req_state(req)->srv;
  json_t *paths = json_object();
  for (size_t i = 0; i < s->nroutes; i++) {
    const http_route_t *r = s->routes[i];
    json_t *item = json_object_get(paths, r->pattern);
    if (!item) {
      item = json_object();
      json_object_set_new(paths, r->pattern, item);
    }
    char method[16];
    size_t k = 0;
    for (; r->method[k] && k < sizeof method - 1; k++) method[k] = (char)(r->method[k] | 0x20);
    method[k] = '\0';
    json_t *op = json_pack("{s:s}", "summary", r->summary ? r->summary : "");
    json_t *params = json_array();
    for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
      const char *e = strchr(p, '}');
      if (!e) break;
      json_array_append_new(params, json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", p + 1, (size_t)(e - p - 1),
                                              "in", "path", "required", 1, "schema", "type", "string"));
    }
    if (json_array_size(params))
      json_object_set_new(op, "parameters", params);
    else
      json_decref(params);
    if (r->permission) {
      json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
      json_object_set_new(op, "x-permission", json_string(r->permission));
    }
    if (r->body_limit) json_object_set_new(op, "x-body-limit", json_integer((json_int_t)r->body_limit));
    if (r->accept) json_object_set_new(op, "x-accept", json_string(r->accept));
    json_object_set_new(op, "responses", json_pack("{s:{s:s}}", "default", "description", "JSON; errors as {\"error\":{\"code\",\"message\"}}"));
    json_object_set_new(item, method, op);
  }
  json_t *doc = json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:{s:{s:s, s:s}}}}", "openapi", "3.0.3", "info",
                          "title", "cityos API", "version", CITYOS_VERSION, "paths", paths, "components",
                          "securitySchemes", "bearer", "type", "http", "scheme", "bearer");
  http_reply_json(req, 200, doc);
}
