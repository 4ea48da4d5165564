#include "base/common.h"
#include "http/http_internal.h"

#define FORM_MAX_FIELDS 256

typedef struct {
  req_state_t *st;
  buf_t cur;            /* the value being assembled */
  bool open;            /* cur belongs to st->form[st->nform - 1] */
  bool overflow;
} form_ctx_t;

static void finish_field(form_ctx_t *c) {
  if (!c->open) return;
  http_form_field_t *f = &c->st->form[c->st->nform - 1];
  f->data = arena_strndup(c->st->req.arena, c->cur.data ? c->cur.data : "", c->cur.len);
  f->len = c->cur.len;
  buf_reset(&c->cur);
  c->open = false;
}

static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                const char *content_type, const char *transfer_encoding, const char *data,
                                uint64_t off, size_t size) {
  form_ctx_t *c = cls;
  req_state_t *st = c->st;
  (void)kind;
  (void)transfer_encoding;
  bool same = c->open && off > 0 && strcmp(st->form[st->nform - 1].name, key) == 0;
  if (!same) {
    finish_field(c);
    if (st->nform == FORM_MAX_FIELDS) {
      c->overflow = true;
      return MHD_NO;
    }
    if (st->nform == st->form_cap) {
      size_t cap = st->form_cap ? st->form_cap * 2 : 16;
      http_form_field_t *nf = arena_alloc(st->req.arena, cap * sizeof *nf);
      if (st->nform) memcpy(nf, st->form, st->nform * sizeof *nf);
      st->form = nf;
      st->form_cap = cap;
    }
    http_form_field_t *f = &st->form[st->nform++];
    memset(f, 0, sizeof *f);
    f->name = arena_strdup(st->req.arena, key);
    f->filename = filename ? arena_strdup(st->req.arena, filename) : NULL;
    f->content_type = filename && content_type ? arena_strdup(st->req.arena, content_type) : NULL;
    c->open = true;
  }
  if (size && buf_append(&c->cur, data, size) < 0) {
    c->overflow = true;
    return MHD_NO;
  }
  return MHD_YES;
}

int http_form_parse(req_state_t *st) {
  http_req_t *req = &st->req;
  form_ctx_t c = {.st = st};
  buf_init(&c.cur, st->body_limit ? st->body_limit : 1);
  struct MHD_PostProcessor *pp = MHD_create_post_processor(st->conn, 64 * 1024, on_field, &c);
  if (!pp) {
    http_reply_error(req, ERR_BAD_REQUEST, "The form body cannot be read (missing multipart boundary?)");
    buf_release(&c.cur);
    return -1;
  }
  enum MHD_Result ok = MHD_post_process(pp, req->body, req->body_len);
  MHD_destroy_post_processor(pp);
  finish_field(&c);
  buf_release(&c.cur);
  if (c.overflow) {
    http_reply_error(req, ERR_BAD_REQUEST, "The form has more than %d fields", FORM_MAX_FIELDS);
    return -1;
  }
  if (ok != MHD_YES) {
    http_reply_error(req, ERR_BAD_REQUEST, "The form body is malformed");
    return -1;
  }
  return 0;
}

const http_form_field_t *http_form_get(const http_req_t *req, const char *name) {
  const req_state_t *st = req_state(req);
  for (size_t i = 0; i < st->nform; i++)
    if (strcmp(st->form[i].name, name) == 0) return &st->form[i];
  return NULL;
}

size_t http_form_fields(const http_req_t *req, const http_form_field_t **out) {
  const req_state_t *st = req_state(req);
  *out = st->form;
  return st->nform;
}

const char *http_body_type(const http_req_t *req) {
  if (!req->body) return NULL;
  const char *ct = http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (!ct) return NULL;
  size_t n = strcspn(ct, "; \t");
  char *t = arena_strndup(req->arena, ct, n);
  for (char *p = t; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
  return t;
}
