#include "base/common.h"
#include "http/http_internal.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"

const char *http_param(const http_req_t *req, const char *name) {
  for (int i = 0; i < req->nparams; i++)
    if (strcmp(req->param_names[i], name) == 0) return req->param_values[i];
  return NULL;
}

const char *http_query(const http_req_t *req, const char *name) {
  return MHD_lookup_connection_value(req_state(req)->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const http_req_t *req, const char *name) {
  return MHD_lookup_connection_value(req_state(req)->conn, MHD_HEADER_KIND, name);
}

const char *http_cookie(const http_req_t *req, const char *name) {
  return MHD_lookup_connection_value(req_state(req)->conn, MHD_COOKIE_KIND, name);
}

bool http_replied(const http_req_t *req) { return req_state(req)->replied; }

void http_add_header(http_req_t *req, const char *name, const char *value) {
  req_state_t *st = req_state(req);
  resp_header_t *h = arena_alloc(req->arena, sizeof *h);
  h->name = arena_strdup(req->arena, name);
  h->value = arena_strdup(req->arena, value);
  h->next = st->headers;
  st->headers = h;
}

static void set_response(http_req_t *req, int status, struct MHD_Response *resp,
                         const char *content_type, size_t len) {
  req_state_t *st = req_state(req);
  if (st->replied) {
    log_error(req->request_id, "msg=\"second reply ignored\" path=\"%s\" status=%d", req->path, status);
    if (resp) MHD_destroy_response(resp);
    return;
  }
  if (!resp) {
    log_error(req->request_id, "msg=\"cannot create response\"");
    return;
  }
  st->replied = true;
  st->status = status;
  st->resp = resp;
  st->resp_len = len;
  if (content_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
}

void http_reply_raw(http_req_t *req, int status, const char *content_type, const void *data,
                    size_t len, bool persistent) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      len, (void *)data, persistent ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_COPY);
  set_response(req, status, r, content_type, len);
}

void http_reply_json(http_req_t *req, int status, json_t *body) {
  if (!body) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  size_t len = json_dumpb(body, NULL, 0, JSON_COMPACT);
  char *out = malloc(len + 1);
  if (!out) abort();
  json_dumpb(body, out, len, JSON_COMPACT);
  out[len] = '\n';
  json_decref(body);
  struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len + 1, out, free);
  set_response(req, status, r, "application/json; charset=utf-8", len + 1);
}

static void reply_open311_error(http_req_t *req, int status, const char *msg) {
  size_t plen = strlen(req->path);
  if (plen >= 4 && strcmp(req->path + plen - 4, ".xml") == 0) {
    buf_t b;
    buf_init(&b, 4096);
    buf_printf(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<errors><error><code>%d</code><description>", status);
    for (const char *c = msg; *c; c++) {
      switch (*c) {
        case '&': buf_puts(&b, "&amp;"); break;
        case '<': buf_puts(&b, "&lt;"); break;
        case '>': buf_puts(&b, "&gt;"); break;
        case '"': buf_puts(&b, "&quot;"); break;
        default: buf_append(&b, c, 1);
      }
    }
    buf_puts(&b, "</description></error></errors>\n");
    http_reply_raw(req, status, "text/xml; charset=utf-8", b.data ? b.data : "", b.len, false);
    buf_release(&b);
    return;
  }
  http_reply_json(req, status, json_pack("[{s:i, s:s}]", "code", status, "description", msg));
}

__attribute__((format(printf, 4, 0)))
static void reply_error_v(http_req_t *req, err_t e, json_t *detail, const char *fmt, va_list ap) {
  char msg[512];
  if (fmt)
    vsnprintf(msg, sizeof msg, fmt, ap);
  else
    snprintf(msg, sizeof msg, "%s", err_message(e));
  /* Open311 GeoReport v2 clients expect that API's own error list, also for what the
   * core refuses before a handler runs (unknown path, 405, 413, 415, 401). */
  if (req->path && strncmp(req->path, "/open311/", 9) == 0) {
    reply_open311_error(req, err_status(e), msg);
    if (detail) json_decref(detail);
    return;
  }
  json_t *err = json_pack("{s:s, s:s}", "code", err_code(e), "message", msg);
  if (detail) {
    json_object_update(err, detail);
    json_decref(detail);
  }
  if (err_status(e) >= 500)
    log_error(req->request_id, "msg=\"%s\" path=\"%s\"", msg, req->path ? req->path : "");
  http_reply_json(req, err_status(e), json_pack("{s:o}", "error", err));
}

void http_reply_error(http_req_t *req, err_t e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  reply_error_v(req, e, NULL, fmt, ap);
  va_end(ap);
}

void http_reply_error_detail(http_req_t *req, err_t e, json_t *detail, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  reply_error_v(req, e, detail, fmt, ap);
  va_end(ap);
}

json_t *http_body_object(http_req_t *req) {
  if (!req->body || req->body_len == 0) {
    http_reply_error(req, ERR_INVALID_JSON, "A JSON object body is required");
    return NULL;
  }
  char why[200];
  http_server_t *srv = req_state(req)->srv;
  json_t *v = json_parse_limited(req->body, req->body_len, srv->cfg.limits.json_max_depth, why, sizeof why);
  if (!v) {
    http_reply_error(req, ERR_INVALID_JSON, "The body is not valid JSON: %s", why);
    return NULL;
  }
  json_arena_own(req->arena, v);
  if (!json_is_object(v)) {
    http_reply_error(req, ERR_INVALID_JSON, "The body must be a JSON object");
    return NULL;
  }
  return v;
}

int http_page(http_req_t *req, int def, int max, int *limit, int *offset) {
  const char *l = http_query(req, "limit"), *o = http_query(req, "offset");
  int64_t v;
  *limit = def;
  *offset = 0;
  if (l) {
    if (text_parse_int64(l, 1, max, &v) < 0) {
      http_reply_error_detail(req, ERR_BAD_REQUEST, json_pack("{s:s}", "field", "limit"),
                              "limit must be a whole number from 1 to %d", max);
      return -1;
    }
    *limit = (int)v;
  }
  if (o) {
    if (text_parse_int64(o, 0, 100000000, &v) < 0) {
      http_reply_error_detail(req, ERR_BAD_REQUEST, json_pack("{s:s}", "field", "offset"),
                              "offset must be a whole number from 0");
      return -1;
    }
    *offset = (int)v;
  }
  return 0;
}

enum MHD_Result http_queue_reply(req_state_t *st) {
  http_req_t *req = &st->req;
  if (!st->replied) {
    log_error(req->request_id, "msg=\"handler gave no reply\" path=\"%s\"", req->path);
    http_reply_error(req, ERR_INTERNAL, NULL);
  }
  struct MHD_Response *r = st->resp;
  MHD_add_response_header(r, "X-Request-Id", req->request_id);
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  bool has_cache = false;
  for (resp_header_t *h = st->headers; h; h = h->next) {
    MHD_add_response_header(r, h->name, h->value);
    if (strcasecmp(h->name, "Cache-Control") == 0) has_cache = true;
  }
  if (!has_cache && req->route) MHD_add_response_header(r, "Cache-Control", "no-store");
  if (atomic_load(&st->srv->draining)) MHD_add_response_header(r, "Connection", "close");
  st->queued = true;
  enum MHD_Result ret = MHD_queue_response(st->conn, (unsigned)st->status, r);
  MHD_destroy_response(r);
  st->resp = NULL;
  return ret;
}
