#include "base/common.h"
#include "reports/reports_o311.h"
#include "base/buf.h"
#include "base/log.h"

/*
 * Open311 response formats: JSON as is, XML by a fixed mapping of the JSON shape
 * (arrays name their items: services/service, service_requests/request,
 * attributes/attribute, values/value, errors/error, endpoints/endpoint,
 * formats/format). Errors are [{"code":N,"description":".."}] with HTTP status N.
 */

#define O311_XML_MAX (16u * 1024 * 1024)

bool o311_is_xml(const http_req_t *req) {
  size_t n = strlen(req->path);
  return n > 4 && strcmp(req->path + n - 4, ".xml") == 0;
}

static const char *xml_item_name(const char *list) {
  static const char *const map[][2] = {
    {"services", "service"}, {"service_requests", "request"}, {"attributes", "attribute"}, {"values", "value"},
    {"errors", "error"},     {"endpoints", "endpoint"},       {"formats", "format"},
  };
  for (size_t i = 0; i < ARRAY_LEN(map); i++)
    if (strcmp(map[i][0], list) == 0) return map[i][1];
  return "item";
}

static void xml_text(buf_t *b, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    switch (c) {
    case '&': buf_puts(b, "&amp;"); break;
    case '<': buf_puts(b, "&lt;"); break;
    case '>': buf_puts(b, "&gt;"); break;
    case '"': buf_puts(b, "&quot;"); break;
    case '\'': buf_puts(b, "&apos;"); break;
    default:
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') break; /* not allowed in XML 1.0 */
      buf_append(b, s, 1);
    }
  }
}

static void xml_value(buf_t *b, const char *name, const json_t *v) {
  if (json_is_null(v)) {
    buf_printf(b, "<%s/>", name);
    return;
  }
  buf_printf(b, "<%s>", name);
  if (json_is_object(v)) {
    const char *k;
    json_t *c;
    json_object_foreach((json_t *)v, k, c) xml_value(b, k, c);
  } else if (json_is_array(v)) {
    size_t i;
    json_t *c;
    const char *item = xml_item_name(name);
    json_array_foreach(v, i, c) xml_value(b, item, c);
  } else if (json_is_string(v)) {
    xml_text(b, json_string_value(v));
  } else if (json_is_integer(v)) {
    buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
  } else if (json_is_real(v)) {
    buf_printf(b, "%.8f", json_real_value(v));
  } else {
    buf_puts(b, json_is_true(v) ? "true" : "false");
  }
  buf_printf(b, "</%s>", name);
}

void o311_reply(http_req_t *req, int status, json_t *body, const char *xml_root) {
  if (!o311_is_xml(req)) {
    http_reply_json(req, status, body);
    return;
  }
  buf_t b;
  buf_init(&b, O311_XML_MAX);
  buf_puts(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
  xml_value(&b, xml_root, body);
  buf_puts(&b, "\n");
  json_decref(body);
  size_t len = 0;
  char *out = buf_detach(&b, &len);
  if (!out) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  http_reply_raw(req, status, "text/xml; charset=utf-8", out, len, false);
  free(out);
}

void o311_error(http_req_t *req, int code, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  o311_reply(req, code, json_pack("[{s:i, s:s}]", "code", code, "description", msg), "errors");
}

void o311_db_fail(http_req_t *req, db_t *db) {
  log_error(req->request_id, "msg=\"database error\" path=\"%s\" err=\"%s\"", req->path, db ? db_errmsg(db) : "no connection");
  if (db) db_rollback(db);
  if (!http_replied(req)) o311_error(req, 500, "Internal error");
}
