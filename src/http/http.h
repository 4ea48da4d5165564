/*
 * http.h - the HTTP core on libmicrohttpd: route tables as data, request context,
 * limits, authentication hook, JSON responses, static files, metrics.
 *
 * A handler gets a http_req_t whose arena lives until libmicrohttpd reports the
 * request complete. It answers exactly once, with http_reply_json(), http_reply_error()
 * or http_reply_raw(); a handler that returns without answering produces a 500.
 * Handlers run on libmicrohttpd's worker threads; several run at once.
 *
 * Before the handler runs the core has: matched the route (404 / 405 with a JSON
 * body otherwise), checked the body size against route->body_limit (413), required
 * Content-Type application/json for a non-empty body on a JSON route (415), run the
 * authentication hook (401 on a bad or expired token), and, when route->permission is
 * set, checked that the principal holds it somewhere (401 when anonymous, 403 when not
 * granted). Unit-scoped checks (is this official's unit above the record's unit?) are
 * the handler's job, through identity_can().
 */
#ifndef CITYOS_HTTP_H
#define CITYOS_HTTP_H

#include <jansson.h>
#include "base/common.h"
#include "base/arena.h"
#include "base/err.h"

typedef struct http_server http_server_t;
typedef struct http_req http_req_t;
typedef struct principal principal_t;   /* see http/auth.h */

typedef void (*http_handler_fn)(http_req_t *req);

/* Route.permission values besides a permission name: */
#define HTTP_PUBLIC NULL             /* anyone, signed in or not */
#define HTTP_SIGNED_IN "@signed_in"  /* any authenticated principal */

typedef struct http_route {
  const char *method;       /* "GET", "POST", "PUT", "PATCH", "DELETE" */
  const char *pattern;      /* "/api/v1/units/{code}": {name} captures one segment */
  http_handler_fn handler;
  const char *permission;   /* HTTP_PUBLIC, HTTP_SIGNED_IN or e.g. "users.read" */
  size_t body_limit;        /* 0: the route takes no body (a body gets 413) */
  const char *summary;      /* one line for the generated OpenAPI description */
  /* Media types the body may have, comma-separated (parameters ignored), e.g.
   * "application/x-www-form-urlencoded, multipart/form-data, application/json" or
   * "application/pdf". NULL means "application/json" only. Anything else gets 415.
   * Form and multipart bodies are parsed before the handler runs: see http_form_*. */
  const char *accept;
} http_route_t;

#define HTTP_MAX_PARAMS 8

struct http_req {
  arena_t *arena;
  const char *method;
  const char *path;            /* without the query string, percent-decoded */
  const char *request_id;      /* from a sane X-Request-Id, else generated */
  const char *client_ip;
  const http_route_t *route;   /* NULL for static files */
  int nparams;
  const char *param_names[HTTP_MAX_PARAMS];
  const char *param_values[HTTP_MAX_PARAMS];
  const char *body;            /* NUL-terminated; NULL when there was none */
  size_t body_len;
  principal_t *principal;      /* NULL when anonymous; allocated in the arena */
  const char *token;           /* the bearer/session token presented, if any */
  void *app;                   /* the application context (app_t *, see app.h) */
  void *internal;              /* the core's own state */
};

/* --- request accessors --------------------------------------------------------- */
const char *http_param(const http_req_t *req, const char *name);   /* path parameter */
const char *http_query(const http_req_t *req, const char *name);   /* query argument */
const char *http_header(const http_req_t *req, const char *name);
const char *http_cookie(const http_req_t *req, const char *name);
/* Parses the body as a JSON object (depth-limited). On failure it has already
 * answered 400 (invalid_json, with the reason) and returns NULL. Owned by the arena. */
json_t *http_body_object(http_req_t *req);
/* The body's media type without parameters ("application/pdf"), lower-case; NULL
 * when there is no body. */
const char *http_body_type(const http_req_t *req);

/* Fields of an application/x-www-form-urlencoded or multipart/form-data body (parsed by
 * the core before the handler runs, for routes whose `accept` allows those types).
 * Values live in the request arena; `data` is NUL-terminated and may hold binary
 * (file parts: use len). A repeated name appears once per occurrence, in order. */
typedef struct http_form_field {
  const char *name;
  const char *filename;       /* file parts only, else NULL */
  const char *content_type;   /* file parts only, else NULL */
  const char *data;
  size_t len;
} http_form_field_t;
/* The first field of that name, or NULL. */
const http_form_field_t *http_form_get(const http_req_t *req, const char *name);
/* All fields; returns the count. */
size_t http_form_fields(const http_req_t *req, const http_form_field_t **out);

/* Pagination from ?limit=&offset= (limit 1..max, default def; offset >= 0). On bad
 * values it answers 400 and returns -1. */
int http_page(http_req_t *req, int def, int max, int *limit, int *offset);

/* --- replies (exactly one per request) ----------------------------------------- */
/* Takes a reference to `body` (steals it: do not decref afterwards). */
void http_reply_json(http_req_t *req, int status, json_t *body);
/* {"error":{"code":..,"message":..}}; msg NULL = the table's default. Extra fields
 * (e.g. {"field":"cccd"}) may be merged in with http_reply_error_detail. */
void http_reply_error(http_req_t *req, err_t e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void http_reply_error_detail(http_req_t *req, err_t e, json_t *detail, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Bytes as they are; `persistent` memory must outlive the response (static/cache). */
void http_reply_raw(http_req_t *req, int status, const char *content_type,
                    const void *data, size_t len, bool persistent);
/* Adds a response header; call before the reply. Strings are copied. */
void http_add_header(http_req_t *req, const char *name, const char *value);
bool http_replied(const http_req_t *req);

/* --- the server ------------------------------------------------------------------ */
typedef struct http_limits {
  size_t max_connections;         /* default 1024 */
  unsigned connection_timeout_s;  /* idle timeout, default 30 */
  size_t header_memory;           /* per connection, for headers: default 32 KiB */
  int json_max_depth;             /* default 32 */
  unsigned threads;               /* worker threads, default 2 x cores, at least 4 */
} http_limits_t;

typedef struct http_config {
  const char *listen;             /* "HOST:PORT" */
  const char *web_dir;            /* static files; NULL: none */
  http_limits_t limits;
  void *app;
  /* Sets req->principal from the request's token. Return 0 (anonymous or signed in)
   * or -1 after answering (e.g. 401 for a bad token). May be NULL. */
  int (*authenticate)(http_req_t *req);
  /* true when the principal holds `perm` at any unit. */
  bool (*has_permission)(const principal_t *p, const char *perm);
  /* Extra lines for /metrics (e.g. database pool); appends to out. May be NULL. */
  void (*metrics_extra)(void *app, char **out, size_t *len, arena_t *a);
  /* /readyz: 0 when ready. May be NULL. */
  int (*ready)(void *app);
} http_config_t;

/* Adds a route table (the pointer must stay valid). Call before http_server_start.
 * The first matching pattern wins, so put literal routes before parameter ones. */
int http_server_add_routes(http_server_t *s, const http_route_t *routes, size_t n);
http_server_t *http_server_new(const http_config_t *cfg);
int http_server_start(http_server_t *s, char *errbuf, size_t errlen);
/* Stops accepting, waits up to grace_ms for in-flight requests, then stops. */
void http_server_stop(http_server_t *s, unsigned grace_ms);
void http_server_free(http_server_t *s);
/* The port actually bound (useful with port 0). */
unsigned http_server_port(const http_server_t *s);
/* All routes (for OpenAPI generation and the routes x roles test). */
size_t http_server_routes(const http_server_t *s, const http_route_t ***out);

/* --- route matching (pure, fuzzed) ------------------------------------------------ */
/* Matches `path` against `pattern`. On a match returns true and fills up to
 * HTTP_MAX_PARAMS names/values (allocated in the arena). Segments are compared
 * literally; {name} matches one non-empty segment. Trailing slashes are significant. */
bool http_route_match(arena_t *a, const char *pattern, const char *path,
                      int *nparams, const char **names, const char **values);

#endif
