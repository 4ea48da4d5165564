/*
 * pdf_read.c - cross-reference tables and streams, revisions, object lookup (also
 * inside object streams), stream decoding and the page tree. See pdf.h.
 */
#include "base/common.h"
#include "signing/pdf.h"

#define PDF_MAX_OBJECTS 1000000
#define PDF_MAX_REVS 4096
#define PDF_DECODE_BUDGET (64u << 20)

static pdf_obj_t PDF_LOADING;   /* cache sentinel: object being parsed (cycles) */

static void set_err(char *err, size_t errlen, const char *msg) {
  if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static const uint8_t *find_bytes(const uint8_t *hay, size_t hlen, const char *needle) {
  size_t n = strlen(needle);
  if (n == 0 || hlen < n) return NULL;
  return memmem(hay, hlen, needle, n);
}

static bool skip_keyword(const uint8_t *d, size_t len, size_t *p, const char *kw) {
  size_t q = *p;
  while (q < len && (d[q] == ' ' || d[q] == '\r' || d[q] == '\n' || d[q] == '\t' || d[q] == '\f' || d[q] == 0)) q++;
  size_t n = strlen(kw);
  if (len - q < n || memcmp(d + q, kw, n) != 0) return false;
  *p = q + n;
  return true;
}

pdf_obj_t *pdf_resolve(pdf_doc_t *d, pdf_obj_t *o) {
  for (int i = 0; i < 8 && o && o->type == PDF_REF; i++) o = pdf_get(d, (int)o->i);
  return o && o->type == PDF_REF ? NULL : o;
}

pdf_obj_t *pdf_dict_getr(pdf_doc_t *d, const pdf_obj_t *dict, const char *key) {
  return pdf_resolve(d, pdf_dict_get(dict, key));
}

/* "N G obj value [stream ... endstream]" at offset; NULL when it is not there. */
static pdf_obj_t *parse_indirect(pdf_doc_t *d, size_t off, int expect_num) {
  const uint8_t *s = d->data;
  size_t len = d->len, p = off;
  if (off >= len) return NULL;
  pdf_obj_t *num = pdf_parse_value(d->arena, s, len, &p, 0);
  if (!num || num->type != PDF_INT) return NULL;
  pdf_obj_t *gen = pdf_parse_value(d->arena, s, len, &p, 0);
  if (!gen || gen->type != PDF_INT) return NULL;
  if (expect_num >= 0 && num->i != expect_num) return NULL;
  if (!skip_keyword(s, len, &p, "obj")) return NULL;
  pdf_obj_t *v = pdf_parse_value(d->arena, s, len, &p, 0);
  if (!v) return NULL;
  if (v->type == PDF_DICT && skip_keyword(s, len, &p, "stream")) {
    if (p < len && s[p] == '\r') p++;
    if (p < len && s[p] == '\n') p++;
    size_t data_start = p;
    int64_t slen = -1;
    pdf_obj_t *lo = pdf_dict_get(v, "Length");
    if (lo && lo->type == PDF_REF) lo = pdf_resolve(d, lo);
    if (!pdf_int_of(lo, &slen) || slen < 0 || (uint64_t)slen > len - data_start) slen = -1;
    if (slen >= 0) {
      size_t q = data_start + (size_t)slen;
      if (!skip_keyword(s, len, &q, "endstream")) slen = -1;
    }
    if (slen < 0) {   /* wrong /Length: find endstream */
      const uint8_t *e = find_bytes(s + data_start, len - data_start, "endstream");
      if (!e) return NULL;
      size_t q = (size_t)(e - s);
      if (q > data_start && s[q - 1] == '\n') q--;
      if (q > data_start && s[q - 1] == '\r') q--;
      slen = (int64_t)(q - data_start);
    }
    v->type = PDF_STREAM;
    v->sdata = s + data_start;
    v->sdata_len = (size_t)slen;
  }
  return v;
}

static pdf_obj_t *get_from_objstm(pdf_doc_t *d, int num, const pdf_xref_entry_t *e) {
  size_t sn = e->offset;
  if (sn >= d->xref_n || d->xref[sn].type != 1) return NULL;
  if (!d->objstm[sn]) {
    pdf_obj_t *st = pdf_get(d, (int)sn);
    if (!st || st->type != PDF_STREAM) return NULL;
    uint8_t *data;
    size_t dlen;
    if (pdf_stream_decode(d, st, &data, &dlen) < 0) return NULL;
    d->objstm[sn] = data;
    d->objstm_len[sn] = dlen;
  }
  pdf_obj_t *stm = d->cache[sn];
  int64_t n = 0, first = 0;
  if (!pdf_int_of(pdf_dict_get(stm, "N"), &n) || !pdf_int_of(pdf_dict_get(stm, "First"), &first)) return NULL;
  const uint8_t *data = d->objstm[sn];
  size_t dlen = d->objstm_len[sn], p = 0;
  if (first < 0 || (size_t)first > dlen || n < 0 || (uint64_t)n > dlen) return NULL;
  for (int64_t k = 0; k < n; k++) {
    pdf_obj_t *on = pdf_parse_value(d->arena, data, (size_t)first, &p, 0);
    pdf_obj_t *oo = pdf_parse_value(d->arena, data, (size_t)first, &p, 0);
    if (!on || !oo || on->type != PDF_INT || oo->type != PDF_INT) return NULL;
    if (on->i == num && (size_t)k == e->index) {
      if (oo->i < 0 || (uint64_t)oo->i > dlen - (size_t)first) return NULL;
      size_t q = (size_t)first + (size_t)oo->i;
      pdf_obj_t *v = pdf_parse_value(d->arena, data, dlen, &q, 0);
      if (v) v->start = v->end = 0;   /* no position in the file */
      return v;
    }
  }
  return NULL;
}

pdf_obj_t *pdf_get(pdf_doc_t *d, int num) {
  if (num <= 0 || (size_t)num >= d->xref_n) return NULL;
  /* While the xref sections are still being read (an xref stream whose /Length is an
   * indirect reference), there is no cache yet: nothing can be resolved. */
  if (!d->cache) return NULL;
  if (d->cache[num] == &PDF_LOADING) return NULL;
  if (d->cache[num]) return d->cache[num];
  const pdf_xref_entry_t *e = &d->xref[num];
  if (e->type == 0) return NULL;
  d->cache[num] = &PDF_LOADING;
  pdf_obj_t *o = e->type == 1 ? parse_indirect(d, e->offset, num) : get_from_objstm(d, num, e);
  d->cache[num] = o;
  return o;
}

/* --- xref sections ------------------------------------------------------------------ */

typedef struct section {
  size_t off;
  bool stream;
  int *objs;
  size_t nobjs, cap;
} section_t;

static int ensure_size(pdf_doc_t *d, int64_t n) {
  /* no real file has more objects than bytes: bounds memory for hostile input */
  if (n < 0 || n > PDF_MAX_OBJECTS || (uint64_t)n > d->len + 1024) return -1;
  if ((size_t)n <= d->xref_n) return 0;
  pdf_xref_entry_t *x = arena_alloc(d->arena, (size_t)n * sizeof *x);
  if (d->xref_n) memcpy(x, d->xref, d->xref_n * sizeof *x);
  d->xref = x;
  d->xref_n = (size_t)n;
  return 0;
}

static int add_entry(pdf_doc_t *d, section_t *sec, int rev, int64_t num, uint8_t type, size_t a, size_t b) {
  if (num < 0 || ensure_size(d, num + 1) < 0) return -1;
  pdf_xref_entry_t *e = &d->xref[num];
  if (e->revision != 0 || e->type != 0 || e->offset != 0) return 0;   /* a newer section set it */
  e->revision = rev + 1;   /* provisional: +1 marks "set" (renumbered later) */
  e->type = type;
  if (type == 1) {
    e->offset = a;
    e->gen = (int)b;
  } else if (type == 2) {
    e->offset = a;
    e->index = b;
  }
  if (type != 0 && num > 0) {
    if (sec->nobjs == sec->cap) {
      size_t ncap = sec->cap ? sec->cap * 2 : 16;
      int *o = arena_alloc(d->arena, ncap * sizeof *o);
      if (sec->nobjs) memcpy(o, sec->objs, sec->nobjs * sizeof *o);
      sec->objs = o;
      sec->cap = ncap;
    }
    sec->objs[sec->nobjs++] = (int)num;
  }
  return 0;
}

/* An xref entry field: whitespace, then up to 10 digits (no allocation). */
static bool scan_uint(const uint8_t *s, size_t len, size_t *p, uint64_t *v) {
  size_t q = *p;
  while (q < len && (s[q] == ' ' || s[q] == '\r' || s[q] == '\n' || s[q] == '\t')) q++;
  size_t start = q;
  uint64_t x = 0;
  while (q < len && s[q] >= '0' && s[q] <= '9' && q - start < 10) x = x * 10 + (uint64_t)(s[q++] - '0');
  if (q == start) return false;
  *v = x;
  *p = q;
  return true;
}

static pdf_obj_t *read_xref_table(pdf_doc_t *d, section_t *sec, int rev, size_t off) {
  const uint8_t *s = d->data;
  size_t len = d->len, p = off;
  if (!skip_keyword(s, len, &p, "xref")) return NULL;
  for (;;) {
    size_t save = p;
    if (skip_keyword(s, len, &p, "trailer")) break;
    p = save;
    pdf_obj_t *start = pdf_parse_value(d->arena, s, len, &p, 0);
    pdf_obj_t *count = pdf_parse_value(d->arena, s, len, &p, 0);
    if (!start || !count || start->type != PDF_INT || count->type != PDF_INT || start->i < 0 || count->i < 0 ||
        start->i + count->i > PDF_MAX_OBJECTS)
      return NULL;
    for (int64_t k = 0; k < count->i; k++) {
      uint64_t o, g;
      if (!scan_uint(s, len, &p, &o) || !scan_uint(s, len, &p, &g)) return NULL;
      while (p < len && (s[p] == ' ' || s[p] == '\r' || s[p] == '\n')) p++;
      if (p >= len || (s[p] != 'n' && s[p] != 'f')) return NULL;
      bool used = s[p++] == 'n';
      if (add_entry(d, sec, rev, start->i + k, used ? 1 : 0, (size_t)o, (size_t)(g & 0xffff)) < 0) return NULL;
    }
  }
  pdf_obj_t *t = pdf_parse_value(d->arena, s, len, &p, 0);
  return t && t->type == PDF_DICT ? t : NULL;
}

static pdf_obj_t *read_xref_stream(pdf_doc_t *d, section_t *sec, int rev, size_t off) {
  pdf_obj_t *st = parse_indirect(d, off, -1);
  if (!st || st->type != PDF_STREAM || !pdf_name_is(pdf_dict_get(st, "Type"), "XRef")) return NULL;
  pdf_obj_t *w = pdf_dict_get(st, "W");
  int64_t size = 0, wv[3];
  if (!w || w->type != PDF_ARRAY || w->n != 3 || !pdf_int_of(pdf_dict_get(st, "Size"), &size)) return NULL;
  int64_t rowlen = 0;
  for (int k = 0; k < 3; k++) {
    if (!pdf_int_of(w->items[k], &wv[k]) || wv[k] < 0 || wv[k] > 8) return NULL;
    rowlen += wv[k];
  }
  if (rowlen == 0 || ensure_size(d, size) < 0) return NULL;
  uint8_t *data;
  size_t dlen;
  if (pdf_stream_decode(d, st, &data, &dlen) < 0) return NULL;
  pdf_obj_t *index = pdf_dict_get(st, "Index");
  int64_t defidx[2] = {0, size};
  size_t nidx = index && index->type == PDF_ARRAY ? index->n / 2 : 1;
  size_t p = 0;
  for (size_t r = 0; r < nidx; r++) {
    int64_t start = defidx[0], count = defidx[1];
    if (index && index->type == PDF_ARRAY &&
        (!pdf_int_of(index->items[2 * r], &start) || !pdf_int_of(index->items[2 * r + 1], &count)))
      return NULL;
    if (start < 0 || count < 0 || start + count > PDF_MAX_OBJECTS) return NULL;
    for (int64_t k = 0; k < count; k++) {
      if (dlen - p < (size_t)rowlen) return NULL;
      uint64_t f[3];
      for (int c = 0; c < 3; c++) {
        f[c] = 0;
        for (int64_t b = 0; b < wv[c]; b++) f[c] = (f[c] << 8) | data[p++];
      }
      if (wv[0] == 0) f[0] = 1;
      if (f[0] > 2) continue;   /* unknown types are ignored (spec) */
      if (f[1] > SIZE_MAX / 2 || f[2] > SIZE_MAX / 2) return NULL;
      if (add_entry(d, sec, rev, start + k, (uint8_t)f[0], (size_t)f[1], (size_t)f[2]) < 0) return NULL;
    }
  }
  return st;
}

static size_t find_startxref(const uint8_t *s, size_t len, bool *ok) {
  size_t from = len > 2048 ? len - 2048 : 0;
  const uint8_t *last = NULL, *q = s + from;
  while ((q = find_bytes(q, len - (size_t)(q - s), "startxref")) != NULL) {
    last = q;
    q += 9;
  }
  *ok = false;
  if (!last) return 0;
  size_t p = (size_t)(last - s) + 9;
  while (p < len && (s[p] == ' ' || s[p] == '\r' || s[p] == '\n')) p++;
  size_t v = 0, start = p;
  while (p < len && s[p] >= '0' && s[p] <= '9' && p - start < 15) v = v * 10 + (size_t)(s[p++] - '0');
  *ok = p > start && v < len;
  return v;
}

static size_t revision_end(const pdf_doc_t *d, size_t xref_off) {
  const uint8_t *e = find_bytes(d->data + xref_off, d->len - xref_off, "%%EOF");
  if (!e) return d->len;
  size_t p = (size_t)(e - d->data) + 5;
  if (p < d->len && d->data[p] == '\r') p++;
  if (p < d->len && d->data[p] == '\n') p++;
  return p;
}

pdf_doc_t *pdf_open(arena_t *a, const uint8_t *data, size_t len, char *err, size_t errlen) {
  pdf_doc_t *d = arena_alloc(a, sizeof *d);
  d->arena = a;
  d->data = data;
  d->len = len;
  d->budget = PDF_DECODE_BUDGET;
  if (len < 8 || memcmp(data, "%PDF-", 5) != 0) {
    set_err(err, errlen, "not a PDF (no %PDF- header)");
    return NULL;
  }
  bool ok;
  size_t off = find_startxref(data, len, &ok);
  if (!ok) {
    set_err(err, errlen, "no startxref near the end of the file");
    return NULL;
  }
  d->last_xref = off;
  size_t seccap = 8, nsec = 0;
  section_t *secs = arena_alloc(a, seccap * sizeof *secs);
  while (ok) {
    if (nsec == PDF_MAX_REVS) {
      set_err(err, errlen, "too many revisions");
      return NULL;
    }
    if (nsec == seccap) {
      section_t *ns = arena_alloc(a, 2 * seccap * sizeof *ns);
      memcpy(ns, secs, nsec * sizeof *ns);
      secs = ns;
      seccap *= 2;
    }
    for (size_t k = 0; k < nsec; k++)
      if (secs[k].off == off) {
        set_err(err, errlen, "cross-reference chain loops");
        return NULL;
      }
    section_t *sec = &secs[nsec];
    sec->off = off;
    pdf_obj_t *t = read_xref_table(d, sec, (int)nsec, off);
    if (t) {
      int64_t hyb;
      if (pdf_int_of(pdf_dict_get(t, "XRefStm"), &hyb) && hyb >= 0 && (uint64_t)hyb < len)
        (void)read_xref_stream(d, sec, (int)nsec, (size_t)hyb);
    } else {
      t = read_xref_stream(d, sec, (int)nsec, off);
      sec->stream = t != NULL;
      if (t) d->any_xref_stream = true;
    }
    if (!t) {
      set_err(err, errlen, nsec ? "damaged earlier cross-reference section" : "damaged cross-reference section");
      return NULL;
    }
    if (!d->trailer) d->trailer = t;
    nsec++;
    int64_t prev;
    ok = pdf_int_of(pdf_dict_get(t, "Prev"), &prev) && prev >= 0 && (uint64_t)prev < len;
    off = ok ? (size_t)prev : 0;
  }
  /* revisions oldest first; entries' provisional revision (newest = 1) renumbered */
  d->nrevs = nsec;
  d->revs = arena_alloc(a, nsec * sizeof *d->revs);
  for (size_t k = 0; k < nsec; k++) {
    pdf_revision_t *r = &d->revs[nsec - 1 - k];
    r->xref_offset = secs[k].off;
    r->objs = secs[k].objs;
    r->nobjs = secs[k].nobjs;
    r->xref_stream = secs[k].stream;
    r->end = revision_end(d, secs[k].off);
  }
  for (size_t i = 0; i < d->xref_n; i++)
    if (d->xref[i].revision > 0) d->xref[i].revision = (int)nsec - d->xref[i].revision;
  if (d->xref_n == 0) {
    set_err(err, errlen, "empty cross-reference table");
    return NULL;
  }
  d->cache = arena_alloc(a, d->xref_n * sizeof *d->cache);
  d->objstm = arena_alloc(a, d->xref_n * sizeof *d->objstm);
  d->objstm_len = arena_alloc(a, d->xref_n * sizeof *d->objstm_len);
  if (!pdf_dict_get(d->trailer, "Root")) {
    set_err(err, errlen, "trailer has no /Root");
    return NULL;
  }
  return d;
}

/* --- streams ---------------------------------------------------------------------------- */

static int unpredict(const pdf_obj_t *parms, buf_t *b) {
  int64_t pred = 1, colors = 1, bpc = 8, cols = 1;
  if (parms && parms->type == PDF_DICT) {
    pdf_int_of(pdf_dict_get(parms, "Predictor"), &pred);
    pdf_int_of(pdf_dict_get(parms, "Colors"), &colors);
    pdf_int_of(pdf_dict_get(parms, "BitsPerComponent"), &bpc);
    pdf_int_of(pdf_dict_get(parms, "Columns"), &cols);
  }
  if (pred == 1) return 0;
  if (pred < 10 || colors < 1 || colors > 32 || bpc < 1 || bpc > 16 || cols < 1 || cols > 100000) return -1;
  size_t bpp = (size_t)((colors * bpc + 7) / 8), row = (size_t)((colors * bpc * cols + 7) / 8);
  size_t nrows = b->len / (row + 1);
  uint8_t *in = (uint8_t *)b->data, *prev = calloc(1, row), *out = in;
  if (!prev) return -1;
  for (size_t r = 0; r < nrows; r++) {
    uint8_t ft = in[r * (row + 1)];
    uint8_t *src = in + r * (row + 1) + 1, *dst = out + r * row;
    for (size_t i = 0; i < row; i++) {
      uint8_t left = i >= bpp ? dst[i - bpp] : 0, up = prev[i], ul = i >= bpp ? prev[i - bpp] : 0;
      uint8_t x = src[i];
      switch (ft) {
        case 1: x = (uint8_t)(x + left); break;
        case 2: x = (uint8_t)(x + up); break;
        case 3: x = (uint8_t)(x + ((left + up) >> 1)); break;
        case 4: {
          int pp = left + up - ul, pa = abs(pp - left), pb = abs(pp - up), pc = abs(pp - ul);
          x = (uint8_t)(x + (pa <= pb && pa <= pc ? left : pb <= pc ? up : ul));
          break;
        }
        default: break;
      }
      dst[i] = x;
    }
    memcpy(prev, dst, row);
  }
  free(prev);
  b->len = nrows * row;
  return 0;
}

int pdf_stream_decode(pdf_doc_t *d, const pdf_obj_t *st, uint8_t **out, size_t *outlen) {
  pdf_obj_t *filter = pdf_dict_getr(d, st, "Filter");
  pdf_obj_t *parms = pdf_dict_getr(d, st, "DecodeParms");
  if (filter && filter->type == PDF_ARRAY) {
    if (filter->n > 1) return -1;
    filter = filter->n ? filter->items[0] : NULL;
    if (parms && parms->type == PDF_ARRAY) parms = parms->n ? pdf_resolve(d, parms->items[0]) : NULL;
  }
  if (!filter) {
    *out = arena_alloc(d->arena, st->sdata_len + 1);
    memcpy(*out, st->sdata, st->sdata_len);
    *outlen = st->sdata_len;
    return 0;
  }
  if (!pdf_name_is(filter, "FlateDecode")) return -1;
  buf_t b;
  buf_init(&b, d->budget);
  int rc = -1;
  if (pdf_inflate(st->sdata, st->sdata_len, &b) < 0 && b.len == 0) goto done;
  if (unpredict(parms, &b) < 0) goto done;
  *out = arena_alloc(d->arena, b.len + 1);
  if (b.len) memcpy(*out, b.data, b.len);
  *outlen = b.len;
  d->budget -= b.len < d->budget ? b.len : d->budget;
  rc = 0;
done:
  buf_release(&b);
  return rc;
}

/* --- page tree ---------------------------------------------------------------------------- */

static int walk_pages(pdf_doc_t *d, pdf_obj_t *noderef, int *index, int depth, int *visits) {
  if (depth > 64 || ++*visits > 200000 || !noderef || noderef->type != PDF_REF) return -1;
  pdf_obj_t *node = pdf_get(d, (int)noderef->i);
  if (!node || node->type != PDF_DICT) return -1;
  pdf_obj_t *kids = pdf_dict_getr(d, node, "Kids");
  if (!kids || pdf_name_is(pdf_dict_get(node, "Type"), "Page")) {
    if (*index == 0) return (int)noderef->i;
    (*index)--;
    return -1;
  }
  if (kids->type != PDF_ARRAY) return -1;
  for (size_t k = 0; k < kids->n; k++) {
    int r = walk_pages(d, kids->items[k], index, depth + 1, visits);
    if (r >= 0) return r;
  }
  return -1;
}

int pdf_page_ref(pdf_doc_t *d, int index, int *count) {
  pdf_obj_t *root = pdf_dict_getr(d, d->trailer, "Root");
  if (!root || root->type != PDF_DICT) return -1;
  pdf_obj_t *pages = pdf_dict_get(root, "Pages");
  if (count) {
    int64_t c = 0;
    pdf_obj_t *pd = pdf_resolve(d, pages);
    *count = pd && pdf_int_of(pdf_dict_get(pd, "Count"), &c) && c >= 0 && c < INT_MAX ? (int)c : 0;
  }
  if (index < 0) return -1;
  int idx = index, visits = 0;
  return walk_pages(d, pages, &idx, 0, &visits);
}
