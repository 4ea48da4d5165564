#include "base/common.h"
#include "http/http_internal.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct { const char *ext, *type; } TYPES[] = {
  {".html", "text/html; charset=utf-8"},
  {".js", "text/javascript; charset=utf-8"},
  {".mjs", "text/javascript; charset=utf-8"},
  {".css", "text/css; charset=utf-8"},
  {".json", "application/json; charset=utf-8"},
  {".geojson", "application/geo+json"},
  {".svg", "image/svg+xml"},
  {".png", "image/png"},
  {".jpg", "image/jpeg"},
  {".ico", "image/x-icon"},
  {".woff2", "font/woff2"},
  {".txt", "text/plain; charset=utf-8"},
  {".map", "application/json"},
};

static const char *content_type(const char *path) {
  const char *dot = strrchr(path, '.');
  if (dot)
    for (size_t i = 0; i < ARRAY_LEN(TYPES); i++)
      if (strcasecmp(dot, TYPES[i].ext) == 0) return TYPES[i].type;
  return "application/octet-stream";
}

/* A path is safe when every segment is non-empty, not "." or "..", and holds no
 * control characters or backslashes. */
static bool path_safe(const char *p) {
  if (p[0] != '/') return false;
  const char *seg = p + 1;
  for (;;) {
    size_t n = strcspn(seg, "/");
    if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) return false;
    if (n > 0 && seg[0] == '.') return false;   /* no hidden files */
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)seg[i] < 0x20 || seg[i] == '\\') return false;
    if (seg[n] == '\0') return true;
    if (n == 0) return false;
    seg += n + 1;
  }
}

static bool accepts_gzip(http_req_t *req) {
  const char *ae = http_header(req, "Accept-Encoding");
  return ae && strstr(ae, "gzip");
}

void http_serve_static(http_req_t *req) {
  http_server_t *s = req_state(req)->srv;
  if (!s->cfg.web_dir) {
    http_reply_error(req, ERR_NOT_FOUND, "No such page: %s", req->path);
    return;
  }
  const char *rel = req->path;
  if (strcmp(rel, "/") == 0) rel = "/index.html";
  if (!path_safe(rel)) {
    http_reply_error(req, ERR_NOT_FOUND, "No such page");
    return;
  }
  char *file = arena_printf(req->arena, "%s%s", s->cfg.web_dir, rel);
  struct stat sb;
  if (stat(file, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    file = arena_printf(req->arena, "%s/index.html", file);
  }
  if (stat(file, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    http_reply_error(req, ERR_NOT_FOUND, "No such page: %s", req->path);
    return;
  }
  const char *ctype = content_type(file);
  char etag[64];
  snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)sb.st_size,
           (unsigned long long)sb.st_mtime);
  bool vendor = strncmp(rel, "/vendor/", 8) == 0;
  http_add_header(req, "ETag", etag);
  http_add_header(req, "Cache-Control", vendor ? "public, max-age=86400" : "no-cache");
  const char *inm = http_header(req, "If-None-Match");
  if (inm && strcmp(inm, etag) == 0) {
    http_reply_raw(req, 304, NULL, "", 0, true);
    return;
  }
  /* A precompressed neighbour (file.gz, at least as new) is sent to gzip clients. */
  bool gz = false;
  if (accepts_gzip(req)) {
    char *gzfile = arena_printf(req->arena, "%s.gz", file);
    struct stat gb;
    if (stat(gzfile, &gb) == 0 && S_ISREG(gb.st_mode) && gb.st_mtime >= sb.st_mtime) {
      file = gzfile;
      sb = gb;
      gz = true;
    }
  }
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    http_reply_error(req, ERR_NOT_FOUND, "No such page: %s", req->path);
    return;
  }
  struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
  if (!r) {
    close(fd);
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  req_state_t *st = req_state(req);
  st->replied = true;
  st->status = 200;
  st->resp = r;
  st->resp_len = (size_t)sb.st_size;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  if (gz) MHD_add_response_header(r, "Content-Encoding", "gzip");
  MHD_add_response_header(r, "Vary", "Accept-Encoding");
  if (strncmp(ctype, "text/html", 9) == 0) {
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
                            "object-src 'none'; frame-ancestors 'none'; base-uri 'self'");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "same-origin");
  }
}
