#include "base/common.h"
#include "http/http_internal.h"
#include "http/auth.h"
#include "http/sse.h"
#include "base/log.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static void handle_healthz(http_req_t *req) {
  http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static void handle_readyz(http_req_t *req) {
  http_server_t *s = req_state(req)->srv;
  if (s->cfg.ready && s->cfg.ready(s->cfg.app) != 0) {
    http_reply_error(req, ERR_UNAVAILABLE, "The database is not reachable");
    return;
  }
  http_reply_json(req, 200, json_pack("{s:s}", "status", "ready"));
}

static const http_route_t BUILTIN_ROUTES[] = {
  {"GET", "/healthz", handle_healthz, HTTP_PUBLIC, 0, "Liveness: the process answers"},
  {"GET", "/readyz", handle_readyz, HTTP_PUBLIC, 0, "Readiness: the database answers"},
  {"GET", "/metrics", http_handle_metrics, HTTP_PUBLIC, 0, "Prometheus metrics"},
  {"GET", "/api/v1/openapi.json", http_handle_openapi, HTTP_PUBLIC, 0, "This API, described as OpenAPI 3"},
};

int http_server_add_routes(http_server_t *s, const http_route_t *routes, size_t n) {
  if (s->nroutes + n > s->cap) {
    size_t cap = (s->nroutes + n) * 2;
    const http_route_t **r = realloc(s->routes, cap * sizeof *r);
    route_metrics_t *m = realloc(s->metrics, cap * sizeof *m);
    if (!r || !m) {
      /* realloc kept whichever it could; either way the tables are still valid. */
      if (r) s->routes = r;
      if (m) s->metrics = m;
      return -1;
    }
    s->routes = r;
    s->metrics = m;
    s->cap = cap;
  }
  for (size_t i = 0; i < n; i++) {
    s->routes[s->nroutes] = &routes[i];
    route_metrics_t *m = &s->metrics[s->nroutes];
    memset(m, 0, sizeof *m);
    m->method = routes[i].method;
    m->label = routes[i].pattern;
    s->nroutes++;
  }
  return 0;
}

size_t http_server_routes(const http_server_t *s, const http_route_t ***out) {
  *out = s->routes;
  return s->nroutes;
}

http_server_t *http_server_new(const http_config_t *cfg) {
  http_server_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->cfg = *cfg;
  http_limits_t *l = &s->cfg.limits;
  if (!l->max_connections) l->max_connections = 1024;
  if (!l->connection_timeout_s) l->connection_timeout_s = 30;
  if (!l->header_memory) l->header_memory = 32 * 1024;
  if (!l->json_max_depth) l->json_max_depth = 32;
  if (!l->threads) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    l->threads = n > 0 ? (unsigned)n * 2 : 4;
    if (l->threads < 4) l->threads = 4;
  }
  s->m_static.method = "GET";
  s->m_static.label = "static";
  s->m_unmatched.method = "ANY";
  s->m_unmatched.label = "unmatched";
  http_server_add_routes(s, BUILTIN_ROUTES, ARRAY_LEN(BUILTIN_ROUTES));
  return s;
}

/* --- per request ------------------------------------------------------------------ */

static bool request_id_ok(const char *s) {
  size_t n = 0;
  for (; s[n]; n++) {
    char c = s[n];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      return false;
    if (n >= 64) return false;
  }
  return n > 0;
}

/* Request ids need to be unique, not secret: a per-thread splitmix64 sequence seeded
 * once from the system's random source, so no system call per request. */
static void new_request_id(char out[17]) {
  static _Thread_local uint64_t state;
  static _Thread_local bool seeded;
  if (!seeded) {
    random_bytes(&state, sizeof state);
    seeded = true;
  }
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  static const char hex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; i--, z >>= 4) out[i] = hex[z & 15];
  out[16] = '\0';
}

static const char *client_ip(arena_t *a, struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  char buf[INET6_ADDRSTRLEN] = "unknown";
  if (ci && ci->client_addr) {
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
      inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, sizeof buf);
    else if (sa->sa_family == AF_INET6)
      inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, sizeof buf);
  }
  return arena_strdup(a, buf);
}

static bool is_api_path(const char *path) {
  static const char *const prefixes[] = {"/api/",     "/healthz",  "/readyz", "/metrics",
                                         "/ngsi-ld/", "/open311/", "/.well-known/"};
  for (size_t i = 0; i < ARRAY_LEN(prefixes); i++)
    if (strncmp(path, prefixes[i], strlen(prefixes[i])) == 0) return true;
  return false;
}

/* Finds the route; sets st->req.route and params. Returns 0 found, 404 or 405. */
static int route_request(req_state_t *st) {
  http_server_t *s = st->srv;
  http_req_t *req = &st->req;
  bool path_matched = false;
  for (size_t i = 0; i < s->nroutes; i++) {
    const http_route_t *r = s->routes[i];
    int np = 0;
    const char *names[HTTP_MAX_PARAMS], *values[HTTP_MAX_PARAMS];
    if (!http_route_match(NULL, r->pattern, req->path, &np, NULL, NULL)) continue;
    if (strcmp(r->method, req->method) != 0) {
      path_matched = true;
      continue;
    }
    http_route_match(req->arena, r->pattern, req->path, &np, names, values);
    req->nparams = np;
    for (int k = 0; k < np; k++) {
      req->param_names[k] = names[k];
      req->param_values[k] = values[k];
    }
    req->route = r;
    st->metrics = &s->metrics[i];
    st->body_limit = r->body_limit;
    return 0;
  }
  return path_matched ? 405 : 404;
}

static void allow_header(req_state_t *st) {
  http_server_t *s = st->srv;
  char allow[128] = "";
  size_t n = 0;
  for (size_t i = 0; i < s->nroutes; i++) {
    if (!http_route_match(NULL, s->routes[i]->pattern, st->req.path, NULL, NULL, NULL)) continue;
    if (strstr(allow, s->routes[i]->method)) continue;
    int w = snprintf(allow + n, sizeof allow - n, "%s%s", n ? ", " : "", s->routes[i]->method);
    if (w < 0 || (size_t)w >= sizeof allow - n) break;
    n += (size_t)w;
  }
  http_add_header(&st->req, "Allow", allow);
}

/* true when the media type of `ct` (parameters ignored) is one of the comma-separated
 * `accept` list (NULL: application/json). */
static bool content_type_ok(const char *ct, const char *accept) {
  if (!ct) return false;
  size_t ctlen = strcspn(ct, "; \t");
  const char *list = accept ? accept : "application/json";
  while (*list) {
    while (*list == ' ' || *list == ',') list++;
    size_t n = strcspn(list, ", ");
    if (n && n == ctlen && strncasecmp(ct, list, n) == 0) return true;
    list += n;
  }
  return false;
}

static bool is_form_type(const char *ct) {
  return ct && (strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 ||
                strncasecmp(ct, "multipart/form-data", 19) == 0);
}

static void dispatch(req_state_t *st) {
  http_req_t *req = &st->req;
  http_server_t *s = st->srv;
  const http_route_t *r = req->route;
  if (!r) {
    http_serve_static(req);
    return;
  }
  const char *ct = http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (req->body_len > 0 && !content_type_ok(ct, r->accept)) {
    http_reply_error(req, ERR_UNSUPPORTED_MEDIA, "Send the body as %s", r->accept ? r->accept : "application/json");
    return;
  }
  if (req->body_len > 0 && is_form_type(ct) && http_form_parse(st) < 0) return;
  if (s->cfg.authenticate && s->cfg.authenticate(req) != 0) {
    if (!http_replied(req)) http_reply_error(req, ERR_UNAUTHENTICATED, NULL);
    return;
  }
  if (r->permission) {
    if (!req->principal) {
      http_reply_error(req, ERR_UNAUTHENTICATED, NULL);
      return;
    }
    if (strcmp(r->permission, HTTP_SIGNED_IN) != 0 &&
        !(s->cfg.has_permission && s->cfg.has_permission(req->principal, r->permission))) {
      http_reply_error(req, ERR_FORBIDDEN, "This needs the permission %s", r->permission);
      return;
    }
  }
  r->handler(req);
}

/* Connections accepted once the stop has begun carry this mark in their socket context. */
static char g_late_mark;

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
  (void)conn;
  http_server_t *s = cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED && atomic_load(&s->draining)) *socket_context = &g_late_mark;
}

static bool accepted_while_draining(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci && ci->socket_context == &g_late_mark;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
  http_server_t *s = cls;
  req_state_t *st = *con_cls;
  if (!st) {
    arena_t *a = arena_new(4096);
    st = arena_alloc(a, sizeof *st);
    st->srv = s;
    st->conn = conn;
    st->start_ns = clock_mono_ns();
    buf_init(&st->body, 0);
    st->req.arena = a;
    st->req.internal = st;
    st->req.app = s->cfg.app;
    st->req.method = arena_strdup(a, method);
    st->req.path = arena_strdup(a, url);
    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (rid && request_id_ok(rid)) {
      st->req.request_id = arena_strdup(a, rid);
    } else {
      char *id = arena_alloc(a, 17);
      new_request_id(id);
      st->req.request_id = id;
    }
    st->req.client_ip = client_ip(a, conn);
    *con_cls = st;
    atomic_fetch_add(&s->inflight, 1);

    if (accepted_while_draining(conn)) {
      /* Stopping, and this client connected after the stop began: the load balancer should
       * send it elsewhere. Requests on connections accepted earlier are still served (with
       * the connection closed after them). MHD_quiesce_daemon would refuse connections
       * instead, but in 0.9.75 it races the epoll workers for the listen socket and can
       * abort the process. */
      st->metrics = &s->m_unmatched;
      http_add_header(&st->req, "Retry-After", "1");
      http_reply_error(&st->req, ERR_UNAVAILABLE, "The server is stopping; try again");
    } else if (is_api_path(url)) {
      int rc = route_request(st);
      if (rc) {
        st->metrics = &s->m_unmatched;
        if (rc == 405) {
          allow_header(st);
          http_reply_error(&st->req, ERR_METHOD_NOT_ALLOWED, "%s is not allowed on %s", method, url);
        } else {
          http_reply_error(&st->req, ERR_NOT_FOUND, "No such endpoint: %s", url);
        }
      }
    } else {
      st->metrics = &s->m_static;
      if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        http_add_header(&st->req, "Allow", "GET, HEAD");
        http_reply_error(&st->req, ERR_METHOD_NOT_ALLOWED, "%s is not allowed on %s", method, url);
      }
    }
    /* Body size known up front: refuse it. A modest body is read and thrown away, so
     * the client sees the answer and the connection stays usable; a huge one is
     * answered at once and the connection closes. */
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!st->replied && cl) {
      char *end;
      errno = 0;
      unsigned long long n = strtoull(cl, &end, 10);
      if (errno == 0 && *end == '\0' && n > 0 && n > st->body_limit) {
        if (st->body_limit == 0)
          http_reply_error(&st->req, ERR_TOO_LARGE, "This endpoint takes no request body");
        else
          http_reply_error(&st->req, ERR_TOO_LARGE, "The body is larger than %zu bytes", st->body_limit);
        if (n > HTTP_DRAIN_MAX) return http_queue_reply(st);
      }
    }
    st->body.cap = st->body_limit;
    return MHD_YES;
  }

  if (*upload_data_size > 0) {
    if (st->replied) {   /* already answered (404, 413...): read and throw away */
      st->drained += *upload_data_size;
      *upload_data_size = 0;
      if (st->drained > HTTP_DRAIN_MAX && !st->queued) return http_queue_reply(st);
      return MHD_YES;
    }
    if (buf_append(&st->body, upload_data, *upload_data_size) < 0) {
      if (st->body_limit)
        http_reply_error(&st->req, ERR_TOO_LARGE, "The body is larger than %zu bytes", st->body_limit);
      else
        http_reply_error(&st->req, ERR_TOO_LARGE, "This endpoint takes no request body");
      buf_release(&st->body);
    }
    *upload_data_size = 0;
    return MHD_YES;
  }

  if (st->queued) return MHD_YES;
  if (!st->replied) {
    if (st->body.len > 0) {
      st->req.body = st->body.data;
      st->req.body_len = st->body.len;
    }
    dispatch(st);
  }
  (void)version;
  return http_queue_reply(st);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  http_server_t *s = cls;
  req_state_t *st = *con_cls;
  (void)conn;
  if (!st) return;
  uint64_t ns = clock_mono_ns() - st->start_ns;
  int status = st->queued ? st->status : 0;
  if (st->metrics) http_metrics_observe(st->metrics, status ? status : 500, ns);
  atomic_fetch_add(&s->total_requests, 1);
  if (log_get_level() <= LOG_INFO) {
    char line[1024], ts[40];
    clock_format_iso(clock_now_ms(), ts, sizeof ts);
    const principal_t *p = st->req.principal;
    int n = snprintf(line, sizeof line,
                     "ts=%s level=info rid=%s msg=access method=%s path=\"%.300s\" status=%d bytes=%zu "
                     "ms=%.3f ip=%s principal=%" PRId64 "%s\n",
                     ts, st->req.request_id, st->req.method, st->req.path, status, st->resp_len,
                     (double)ns / 1e6, st->req.client_ip, p ? p->account_id : (int64_t)0,
                     toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    if (n > 0) log_access(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
  }
  if (st->resp) MHD_destroy_response(st->resp);
  buf_release(&st->body);
  arena_t *a = st->req.arena;
  *con_cls = NULL;
  atomic_fetch_sub(&s->inflight, 1);
  arena_free(a);
}

/* --- start / stop ---------------------------------------------------------------- */

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len, char *err, size_t errlen) {
  char host[256];
  const char *colon = strrchr(listen, ':');
  if (!colon) {
    snprintf(err, errlen, "listen address must be HOST:PORT (got '%s')", listen);
    return -1;
  }
  size_t hl = (size_t)(colon - listen);
  if (hl >= sizeof host) {
    snprintf(err, errlen, "listen host too long");
    return -1;
  }
  memcpy(host, listen, hl);
  host[hl] = '\0';
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535 || colon[1] == '\0') {
    snprintf(err, errlen, "bad port in listen address '%s'", listen);
    return -1;
  }
  memset(ss, 0, sizeof *ss);
  char *h = host;
  if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
    h[hl - 1] = '\0';
    h++;
  }
  if (*h == '\0' || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "*") == 0) h = (char *)"0.0.0.0";
  if (strcmp(h, "localhost") == 0) h = (char *)"127.0.0.1";
  struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, h, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    *len = sizeof *in4;
  } else if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    *len = sizeof *in6;
  } else {
    snprintf(err, errlen, "listen host must be an IP address (got '%s')", host);
    return -1;
  }
  return 0;
}

int http_server_start(http_server_t *s, char *errbuf, size_t errlen) {
  struct sockaddr_storage ss;
  socklen_t sl;
  if (parse_listen(s->cfg.listen, &ss, &sl, errbuf, errlen) < 0) return -1;
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
  if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  s->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, s,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->cfg.limits.threads,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.limits.max_connections,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.limits.connection_timeout_s,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)s->cfg.limits.header_memory,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
      MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
      MHD_OPTION_END);
  if (!s->daemon) {
    snprintf(errbuf, errlen, "cannot listen on %s (address in use or not allowed?)", s->cfg.listen);
    return -1;
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = di ? di->port : 0;
  return 0;
}

unsigned http_server_port(const http_server_t *s) { return s->port; }

void http_server_stop(http_server_t *s, unsigned grace_ms) {
  if (!s->daemon) return;
  atomic_store(&s->draining, 1);
  http_sse_close_all();   /* event streams never finish on their own */
  uint64_t deadline = clock_mono_ns() + (uint64_t)grace_ms * 1000000u;
  while (atomic_load(&s->inflight) > 0 && clock_mono_ns() < deadline) {
    struct timespec ts = {0, 10 * 1000000};
    nanosleep(&ts, NULL);
  }
  int left = atomic_load(&s->inflight);
  if (left > 0) log_warn(NULL, "msg=\"stopping with requests still in flight\" count=%d", left);
  MHD_stop_daemon(s->daemon);
  s->daemon = NULL;
  log_access_flush();
}

void http_server_free(http_server_t *s) {
  if (!s) return;
  if (s->daemon) http_server_stop(s, 0);
  free(s->routes);
  free(s->metrics);
  free(s);
}
