/*
 * pdf_obj.c - PDF object syntax: the tokenizer/parser for values and the serialiser
 * used by the signer for the objects it rewrites. See pdf.h.
 */
#include "base/common.h"
#include "signing/pdf.h"

#define PDF_MAX_DEPTH 64
#define PDF_MAX_ITEMS 1000000

static bool is_ws(uint8_t c) { return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '; }
static bool is_delim(uint8_t c) {
  return c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' || c == '{' || c == '}' ||
         c == '/' || c == '%';
}
static bool is_regular(uint8_t c) { return !is_ws(c) && !is_delim(c); }

static void skip_ws(const uint8_t *d, size_t len, size_t *pos) {
  size_t p = *pos;
  while (p < len) {
    if (is_ws(d[p])) {
      p++;
    } else if (d[p] == '%') {
      while (p < len && d[p] != '\n' && d[p] != '\r') p++;
    } else {
      break;
    }
  }
  *pos = p;
}

pdf_obj_t *pdf_new(arena_t *a, pdf_type_t t) {
  pdf_obj_t *o = arena_alloc(a, sizeof *o);
  o->type = t;
  return o;
}

pdf_obj_t *pdf_new_ref(arena_t *a, int num) {
  pdf_obj_t *o = pdf_new(a, PDF_REF);
  o->i = num;
  return o;
}

pdf_obj_t *pdf_new_name(arena_t *a, const char *name) {
  pdf_obj_t *o = pdf_new(a, PDF_NAME);
  o->s = arena_strdup(a, name);
  o->slen = strlen(name);
  return o;
}

static void grow(arena_t *a, pdf_obj_t *o, size_t *cap) {
  size_t ncap = *cap ? *cap * 2 : 8;
  pdf_obj_t **items = arena_alloc(a, ncap * sizeof *items);
  if (o->n) memcpy(items, o->items, o->n * sizeof *items);
  o->items = items;
  if (o->type == PDF_DICT || o->type == PDF_STREAM) {
    char **keys = arena_alloc(a, ncap * sizeof *keys);
    if (o->n) memcpy(keys, o->keys, o->n * sizeof *keys);
    o->keys = keys;
  }
  *cap = ncap;
}

pdf_obj_t *pdf_copy(arena_t *a, const pdf_obj_t *o, size_t extra) {
  pdf_obj_t *c = pdf_new(a, o->type == PDF_STREAM ? PDF_DICT : o->type);
  *c = *o;
  if (o->type == PDF_STREAM) c->type = PDF_DICT;
  size_t cap = o->n + extra + 1;
  c->items = arena_alloc(a, cap * sizeof *c->items);
  if (o->n) memcpy(c->items, o->items, o->n * sizeof *c->items);
  if (c->type == PDF_DICT) {
    c->keys = arena_alloc(a, cap * sizeof *c->keys);
    if (o->n) memcpy(c->keys, o->keys, o->n * sizeof *c->keys);
  }
  return c;
}

void pdf_dict_set(arena_t *a, pdf_obj_t *dict, const char *key, pdf_obj_t *v) {
  for (size_t i = 0; i < dict->n; i++) {
    if (strcmp(dict->keys[i], key) == 0) {
      dict->items[i] = v;
      return;
    }
  }
  size_t cap = dict->n;
  grow(a, dict, &cap);   /* always reallocates: items may be shared with a parsed original */
  dict->keys[dict->n] = arena_strdup(a, key);
  dict->items[dict->n++] = v;
}

void pdf_array_push(arena_t *a, pdf_obj_t *arr, pdf_obj_t *v) {
  size_t cap = arr->n;
  grow(a, arr, &cap);
  arr->items[arr->n++] = v;
}

pdf_obj_t *pdf_dict_get(const pdf_obj_t *dict, const char *key) {
  if (!dict || (dict->type != PDF_DICT && dict->type != PDF_STREAM)) return NULL;
  for (size_t i = 0; i < dict->n; i++)
    if (strcmp(dict->keys[i], key) == 0) return dict->items[i];
  return NULL;
}

bool pdf_name_is(const pdf_obj_t *o, const char *name) {
  return o && o->type == PDF_NAME && strcmp(o->s, name) == 0;
}

bool pdf_int_of(const pdf_obj_t *o, int64_t *out) {
  if (!o) return false;
  if (o->type == PDF_INT) {
    *out = o->i;
    return true;
  }
  if (o->type == PDF_REAL && o->r > -1e15 && o->r < 1e15) {
    *out = (int64_t)o->r;
    return true;
  }
  return false;
}

static int hexval(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static pdf_obj_t *parse_name(arena_t *a, const uint8_t *d, size_t len, size_t *pos) {
  size_t p = *pos + 1, start = p;
  while (p < len && is_regular(d[p])) p++;
  char *s = arena_alloc(a, p - start + 1);
  size_t n = 0;
  for (size_t i = start; i < p; i++) {
    if (d[i] == '#' && i + 2 < p && hexval(d[i + 1]) >= 0 && hexval(d[i + 2]) >= 0) {
      s[n++] = (char)(hexval(d[i + 1]) * 16 + hexval(d[i + 2]));
      i += 2;
    } else {
      s[n++] = (char)d[i];
    }
  }
  pdf_obj_t *o = pdf_new(a, PDF_NAME);
  o->s = s;
  o->slen = n;
  *pos = p;
  return o;
}

static pdf_obj_t *parse_literal(arena_t *a, const uint8_t *d, size_t len, size_t *pos) {
  size_t p = *pos + 1;
  int nest = 1;
  size_t end = p;
  /* find the end first to size the output */
  while (end < len) {
    if (d[end] == '\\') {
      end += 2;
      continue;
    }
    if (d[end] == '(') nest++;
    if (d[end] == ')' && --nest == 0) break;
    end++;
  }
  if (end >= len) return NULL;
  char *s = arena_alloc(a, end - p + 1);
  size_t n = 0;
  while (p < end) {
    uint8_t c = d[p++];
    if (c != '\\') {
      s[n++] = (char)c;
      continue;
    }
    if (p >= end) break;
    c = d[p++];
    switch (c) {
      case 'n': s[n++] = '\n'; break;
      case 'r': s[n++] = '\r'; break;
      case 't': s[n++] = '\t'; break;
      case 'b': s[n++] = '\b'; break;
      case 'f': s[n++] = '\f'; break;
      case '\r': if (p < end && d[p] == '\n') p++; break;
      case '\n': break;
      default:
        if (c >= '0' && c <= '7') {
          int v = c - '0';
          for (int k = 0; k < 2 && p < end && d[p] >= '0' && d[p] <= '7'; k++) v = v * 8 + (d[p++] - '0');
          s[n++] = (char)(v & 0xff);
        } else {
          s[n++] = (char)c;
        }
    }
  }
  pdf_obj_t *o = pdf_new(a, PDF_STRING);
  o->s = s;
  o->slen = n;
  *pos = end + 1;
  return o;
}

static pdf_obj_t *parse_hex(arena_t *a, const uint8_t *d, size_t len, size_t *pos) {
  size_t p = *pos + 1, end = p;
  while (end < len && d[end] != '>') end++;
  if (end >= len) return NULL;
  char *s = arena_alloc(a, (end - p) / 2 + 2);
  size_t n = 0;
  int hi = -1;
  for (; p < end; p++) {
    int v = hexval(d[p]);
    if (v < 0) {
      if (is_ws(d[p])) continue;
      return NULL;
    }
    if (hi < 0) {
      hi = v;
    } else {
      s[n++] = (char)(hi * 16 + v);
      hi = -1;
    }
  }
  if (hi >= 0) s[n++] = (char)(hi * 16);
  pdf_obj_t *o = pdf_new(a, PDF_STRING);
  o->s = s;
  o->slen = n;
  o->hex = true;
  *pos = end + 1;
  return o;
}

/* An unsigned integer token at p (no sign, no dot), for the "N G R" lookahead. */
static bool peek_uint(const uint8_t *d, size_t len, size_t *p, int64_t *v) {
  size_t q = *p;
  int64_t x = 0;
  size_t start = q;
  while (q < len && d[q] >= '0' && d[q] <= '9' && q - start < 12) x = x * 10 + (d[q++] - '0');
  if (q == start || (q < len && is_regular(d[q]))) return false;
  *v = x;
  *p = q;
  return true;
}

static pdf_obj_t *parse_number(arena_t *a, const uint8_t *d, size_t len, size_t *pos) {
  size_t p = *pos, start = p;
  if (p < len && (d[p] == '+' || d[p] == '-')) p++;
  bool dot = false, digit = false;
  while (p < len && ((d[p] >= '0' && d[p] <= '9') || d[p] == '.')) {
    if (d[p] == '.') dot = true; else digit = true;
    p++;
  }
  if (!digit || p - start > 32 || (p < len && is_regular(d[p]))) return NULL;
  char tmp[40];
  memcpy(tmp, d + start, p - start);
  tmp[p - start] = 0;
  pdf_obj_t *o;
  if (dot) {
    o = pdf_new(a, PDF_REAL);
    o->r = strtod(tmp, NULL);
  } else {
    o = pdf_new(a, PDF_INT);
    o->i = strtoll(tmp, NULL, 10);
    /* "N G R" */
    size_t q = p;
    int64_t gen;
    if (d[start] != '-' && d[start] != '+' && o->i >= 0 && o->i < INT32_MAX) {
      skip_ws(d, len, &q);
      if (peek_uint(d, len, &q, &gen) && gen < 65536) {
        skip_ws(d, len, &q);
        if (q < len && d[q] == 'R' && (q + 1 >= len || !is_regular(d[q + 1]))) {
          o->type = PDF_REF;
          o->gen = (int)gen;
          p = q + 1;
        }
      }
    }
  }
  *pos = p;
  return o;
}

pdf_obj_t *pdf_parse_value(arena_t *a, const uint8_t *d, size_t len, size_t *pos, int depth) {
  if (depth > PDF_MAX_DEPTH) return NULL;
  skip_ws(d, len, pos);
  size_t p = *pos;
  if (p >= len) return NULL;
  pdf_obj_t *o = NULL;
  uint8_t c = d[p];
  if (c == '/') {
    o = parse_name(a, d, len, &p);
  } else if (c == '(') {
    o = parse_literal(a, d, len, &p);
  } else if (c == '<' && p + 1 < len && d[p + 1] == '<') {
    o = pdf_new(a, PDF_DICT);
    size_t cap = 0;
    p += 2;
    for (;;) {
      skip_ws(d, len, &p);
      if (p + 1 < len && d[p] == '>' && d[p + 1] == '>') {
        p += 2;
        break;
      }
      if (p >= len || d[p] != '/' || o->n >= PDF_MAX_ITEMS) return NULL;
      pdf_obj_t *k = parse_name(a, d, len, &p);
      pdf_obj_t *v = pdf_parse_value(a, d, len, &p, depth + 1);
      if (!v) return NULL;
      if (o->n == cap) grow(a, o, &cap);
      o->keys[o->n] = k->s;
      o->items[o->n++] = v;
    }
  } else if (c == '<') {
    o = parse_hex(a, d, len, &p);
  } else if (c == '[') {
    o = pdf_new(a, PDF_ARRAY);
    size_t cap = 0;
    p++;
    for (;;) {
      skip_ws(d, len, &p);
      if (p < len && d[p] == ']') {
        p++;
        break;
      }
      if (p >= len || o->n >= PDF_MAX_ITEMS) return NULL;
      pdf_obj_t *v = pdf_parse_value(a, d, len, &p, depth + 1);
      if (!v) return NULL;
      if (o->n == cap) grow(a, o, &cap);
      o->items[o->n++] = v;
    }
  } else if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.') {
    o = parse_number(a, d, len, &p);
  } else if (len - p >= 4 && memcmp(d + p, "true", 4) == 0) {
    o = pdf_new(a, PDF_BOOL);
    o->i = 1;
    p += 4;
  } else if (len - p >= 5 && memcmp(d + p, "false", 5) == 0) {
    o = pdf_new(a, PDF_BOOL);
    p += 5;
  } else if (len - p >= 4 && memcmp(d + p, "null", 4) == 0) {
    o = pdf_new(a, PDF_NULL);
    p += 4;
  }
  if (!o) return NULL;
  o->start = *pos;
  o->end = p;
  *pos = p;
  return o;
}

/* --- serialiser ------------------------------------------------------------------ */

static int write_name(buf_t *b, const char *s, size_t n) {
  if (buf_append(b, "/", 1) < 0) return -1;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = (uint8_t)s[i];
    if (c > 0x20 && c < 0x7f && c != '#' && is_regular(c)) {
      if (buf_append(b, &s[i], 1) < 0) return -1;
    } else if (buf_printf(b, "#%02X", c) < 0) {
      return -1;
    }
  }
  return 0;
}

static int write_string(buf_t *b, const pdf_obj_t *o) {
  bool printable = !o->hex;
  for (size_t i = 0; printable && i < o->slen; i++) {
    uint8_t c = (uint8_t)o->s[i];
    if (c < 0x20 || c > 0x7e) printable = false;
  }
  if (!printable) {
    if (buf_append(b, "<", 1) < 0) return -1;
    for (size_t i = 0; i < o->slen; i++)
      if (buf_printf(b, "%02X", (uint8_t)o->s[i]) < 0) return -1;
    return buf_append(b, ">", 1);
  }
  if (buf_append(b, "(", 1) < 0) return -1;
  for (size_t i = 0; i < o->slen; i++) {
    char c = o->s[i];
    if ((c == '(' || c == ')' || c == '\\') && buf_append(b, "\\", 1) < 0) return -1;
    if (buf_append(b, &c, 1) < 0) return -1;
  }
  return buf_append(b, ")", 1);
}

int pdf_write_obj(buf_t *b, const pdf_obj_t *o) {
  if (!o) return buf_puts(b, "null");
  switch (o->type) {
    case PDF_NULL: return buf_puts(b, "null");
    case PDF_BOOL: return buf_puts(b, o->i ? "true" : "false");
    case PDF_INT: return buf_printf(b, "%" PRId64, o->i);
    case PDF_REAL: {
      char tmp[64];
      snprintf(tmp, sizeof tmp, "%.5f", o->r);
      size_t n = strlen(tmp);
      while (n > 1 && tmp[n - 1] == '0') tmp[--n] = 0;
      if (n > 1 && tmp[n - 1] == '.') tmp[--n] = 0;
      return buf_puts(b, tmp);
    }
    case PDF_STRING: return write_string(b, o);
    case PDF_NAME: return write_name(b, o->s, o->slen);
    case PDF_REF: return buf_printf(b, "%" PRId64 " %d R", o->i, o->gen);
    case PDF_ARRAY:
      if (buf_append(b, "[", 1) < 0) return -1;
      for (size_t i = 0; i < o->n; i++) {
        if (i && buf_append(b, " ", 1) < 0) return -1;
        if (pdf_write_obj(b, o->items[i]) < 0) return -1;
      }
      return buf_append(b, "]", 1);
    case PDF_DICT:
      if (buf_append(b, "<<", 2) < 0) return -1;
      for (size_t i = 0; i < o->n; i++) {
        if (write_name(b, o->keys[i], strlen(o->keys[i])) < 0 || buf_append(b, " ", 1) < 0) return -1;
        if (pdf_write_obj(b, o->items[i]) < 0) return -1;
        if (i + 1 < o->n && buf_append(b, " ", 1) < 0) return -1;
      }
      return buf_append(b, ">>", 2);
    case PDF_STREAM: return -1;
  }
  return -1;
}
