/*
 * procedures_catalog.c - validation of a whole catalog document, with the source line
 * of the offending value (see procedures.h).
 */
#include "base/common.h"
#include "services/procedures.h"

/* snprintf for JSON paths in messages: truncation of an absurdly long path is fine. */
static void pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out, n, fmt, ap);
  va_end(ap);
}

/* --- JSON path -> line, by a small scanner over the source text ------------------------ */

typedef struct {
  const char *p, *end;
  int line;
} scan_t;

static void ws(scan_t *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n')) {
    if (*s->p == '\n') s->line++;
    s->p++;
  }
}

static void skip_string(scan_t *s) {
  s->p++;
  while (s->p < s->end && *s->p != '"') {
    if (*s->p == '\\') s->p++;
    s->p++;
  }
  if (s->p < s->end) s->p++;
}

static void skip_value(scan_t *s, int depth) {
  ws(s);
  if (s->p >= s->end || depth > 64) return;
  char c = *s->p;
  if (c == '"') {
    skip_string(s);
  } else if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    s->p++;
    for (;;) {
      ws(s);
      if (s->p >= s->end) return;
      if (*s->p == close) {
        s->p++;
        return;
      }
      if (*s->p == ',') {
        s->p++;
        continue;
      }
      if (c == '{') {
        skip_string(s);
        ws(s);
        if (s->p < s->end && *s->p == ':') s->p++;
      }
      skip_value(s, depth + 1);
    }
  } else {
    while (s->p < s->end && !strchr(",]} \t\r\n", *s->p)) s->p++;
  }
}

/* Line of the value at `path` ("a.b[2].c"), or 0 when not found. */
static int path_line(const char *text, const char *path) {
  scan_t s = {text, text + strlen(text), 1};
  const char *q = path;
  while (*q) {
    ws(&s);
    if (s.p >= s.end) return 0;
    if (*q == '[') {
      long idx = strtol(q + 1, NULL, 10);
      q = strchr(q, ']');
      if (!q || *s.p != '[') return 0;
      q++;
      s.p++;
      for (long i = 0; i < idx; i++) {
        skip_value(&s, 0);
        ws(&s);
        if (s.p >= s.end || *s.p != ',') return 0;
        s.p++;
      }
    } else {
      if (*q == '.') q++;
      size_t klen = strcspn(q, ".[");
      if (*s.p != '{') return 0;
      s.p++;
      bool found = false;
      while (!found) {
        ws(&s);
        if (s.p >= s.end || *s.p == '}') return 0;
        if (*s.p == ',') {
          s.p++;
          continue;
        }
        const char *k = s.p + 1;
        skip_string(&s);
        size_t n = (size_t)(s.p - k - 1);
        ws(&s);
        if (s.p < s.end && *s.p == ':') s.p++;
        if (n == klen && !memcmp(k, q, n)) {
          found = true;
        } else {
          skip_value(&s, 0);
        }
      }
      q += klen;
    }
  }
  ws(&s);
  return s.line;
}

/* --- procedures ---------------------------------------------------------------------------- */

static int fail(char *why, size_t whylen, const char *path, const char *msg) {
  snprintf(why, whylen, "%s: %s", path, msg);
  return -1;
}

static bool code_ok(const char *c) {
  size_t n = c ? strlen(c) : 0;
  if (n >= 8 && c[0] >= '1' && c[0] <= '9' && c[1] == '.') {
    for (size_t i = 2; i < 8; i++)
      if (c[i] < '0' || c[i] > '9') return false;
    if (n == 8) return true;
    if (c[8] != '.' || n > 20) return false;
    for (size_t i = 9; i < n; i++)
      if (!((c[i] >= 'A' && c[i] <= 'Z') || (c[i] >= '0' && c[i] <= '9'))) return false;
    return n > 9;
  }
  if (n >= 4 && n <= 30 && !strncmp(c, "HN-", 3)) {
    for (size_t i = 3; i < n; i++)
      if (!((c[i] >= 'A' && c[i] <= 'Z') || (c[i] >= '0' && c[i] <= '9') || c[i] == '-')) return false;
    return true;
  }
  return false;
}

static bool text_ok(const json_t *v, size_t max) {
  const char *s = json_string_value(v);
  return s && *s && strlen(s) <= max;
}

static int fee_ok(const json_t *fee, const char *path, char *why, size_t whylen) {
  char p[200];
  if (!json_is_object(fee)) return fail(why, whylen, path, "must be an object {counter, online, note}");
  const char *keys[2] = {"counter", "online"};
  for (int i = 0; i < 2; i++) {
    json_t *v = json_object_get(fee, keys[i]);
    pathf(p, sizeof p, "%s.%s", path, keys[i]);
    if (!v || !(json_is_null(v) || (json_is_integer(v) && json_integer_value(v) >= 0)))
      return fail(why, whylen, p, "must be an amount in VND (0 = free) or null when unknown");
  }
  pathf(p, sizeof p, "%s.note", path);
  json_t *note = json_object_get(fee, "note");
  if (note && !text_ok(note, 1000)) return fail(why, whylen, p, "must be text");
  return 0;
}

/* A document type: an optional slug [a-z0-9-] of 1-60 characters ("giay-khai-sinh"). */
static bool doc_type_ok(const json_t *v) {
  if (!v) return true;
  const char *s = json_string_value(v);
  size_t n = s ? strlen(s) : 0;
  if (n < 1 || n > 60) return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) return false;
  return true;
}

static int procedure_ok(const json_t *pr, const json_t *workflows, const char *path, char *why, size_t whylen) {
  char p[200];
  if (!json_is_object(pr)) return fail(why, whylen, path, "must be an object");
  pathf(p, sizeof p, "%s.code", path);
  if (!code_ok(json_string_value(json_object_get(pr, "code"))))
    return fail(why, whylen, p, "must be a national code like 1.000948 (optional suffix .H26) or a local HN-... code");
  const char *texts[] = {"name", "field", "result", "source"};
  for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
    pathf(p, sizeof p, "%s.%s", path, texts[i]);
    if (!text_ok(json_object_get(pr, texts[i]), 1000)) return fail(why, whylen, p, "required text (1-1000 bytes)");
  }
  json_t *levels = json_object_get(pr, "levels"), *v;
  size_t i;
  pathf(p, sizeof p, "%s.levels", path);
  if (!json_is_array(levels) || json_array_size(levels) == 0) return fail(why, whylen, p, "must be a non-empty array");
  json_array_foreach(levels, i, v) {
    const char *l = json_string_value(v);
    if (!l || (strcmp(l, "ward") && strcmp(l, "district") && strcmp(l, "province")))
      return fail(why, whylen, p, "each level must be ward, district or province");
  }
  json_t *days = json_object_get(pr, "days");
  pathf(p, sizeof p, "%s.days", path);
  if (!json_is_integer(days) || json_integer_value(days) < 0 || json_integer_value(days) > 365)
    return fail(why, whylen, p, "must be the processing time in working days (0-365)");
  pathf(p, sizeof p, "%s.fee", path);
  if (fee_ok(json_object_get(pr, "fee"), p, why, whylen) < 0) return -1;
  const char *online = json_string_value(json_object_get(pr, "online"));
  pathf(p, sizeof p, "%s.online", path);
  if (!online || (strcmp(online, "full") && strcmp(online, "partial")))
    return fail(why, whylen, p, "must be \"full\" (toàn trình) or \"partial\" (một phần)");
  json_t *docs = json_object_get(pr, "documents");
  pathf(p, sizeof p, "%s.documents", path);
  if (!json_is_array(docs)) return fail(why, whylen, p, "must be an array");
  json_array_foreach(docs, i, v) {
    pathf(p, sizeof p, "%s.documents[%zu]", path, i);
    if (!text_ok(json_object_get(v, "name"), 500)) return fail(why, whylen, p, "name is required");
    if (!json_is_boolean(json_object_get(v, "required")) || !json_is_boolean(json_object_get(v, "state_held")))
      return fail(why, whylen, p, "required and state_held must be true or false");
    pathf(p, sizeof p, "%s.documents[%zu].type", path, i);
    if (!doc_type_ok(json_object_get(v, "type")))
      return fail(why, whylen, p, "must be a document type: 1-60 characters a-z, 0-9, -");
  }
  pathf(p, sizeof p, "%s.result_type", path);
  if (!doc_type_ok(json_object_get(pr, "result_type")))
    return fail(why, whylen, p, "must be a document type: 1-60 characters a-z, 0-9, -");
  const char *wf = json_string_value(json_object_get(pr, "workflow"));
  pathf(p, sizeof p, "%s.workflow", path);
  bool found = false;
  json_array_foreach(workflows, i, v) if (wf && !strcmp(json_string_value(json_object_get(v, "id")), wf)) found = true;
  if (!found) return fail(why, whylen, p, "must name a workflow of this catalog");
  pathf(p, sizeof p, "%s.form", path);
  json_t *form = json_object_get(pr, "form");
  if (proc_form_validate(form, p, why, whylen) < 0) return -1;
  return 0;
}

static int catalog_check(const json_t *doc, char *why, size_t whylen) {
  char p[64];
  if (!json_is_object(doc)) return fail(why, whylen, "(document)", "must be an object");
  const char *fmt = json_string_value(json_object_get(doc, "format"));
  if (!fmt || strcmp(fmt, PROC_FORMAT)) return fail(why, whylen, "format", "must be \"" PROC_FORMAT "\"");
  json_t *wfs = json_object_get(doc, "workflows"), *prs = json_object_get(doc, "procedures"), *v;
  if (!json_is_array(wfs) || json_array_size(wfs) > 200) return fail(why, whylen, "workflows", "must be an array");
  if (!json_is_array(prs) || json_array_size(prs) > 5000) return fail(why, whylen, "procedures", "must be an array");
  size_t i;
  json_array_foreach(wfs, i, v) {
    pathf(p, sizeof p, "workflows[%zu]", i);
    if (proc_workflow_validate(v, p, why, whylen) < 0) return -1;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(json_string_value(json_object_get(json_array_get(wfs, j), "id")),
                  json_string_value(json_object_get(v, "id"))))
        return fail(why, whylen, p, "duplicate workflow id");
  }
  json_array_foreach(prs, i, v) {
    pathf(p, sizeof p, "procedures[%zu]", i);
    if (procedure_ok(v, wfs, p, why, whylen) < 0) return -1;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(json_string_value(json_object_get(json_array_get(prs, j), "code")),
                  json_string_value(json_object_get(v, "code"))))
        return fail(why, whylen, p, "duplicate procedure code");
  }
  return 0;
}

int proc_catalog_validate(const json_t *doc, const char *text, char *why, size_t whylen) {
  if (catalog_check(doc, why, whylen) == 0) return 0;
  if (text) {
    /* The path is everything before the first ": "; find the deepest prefix that the
     * scanner locates (a missing key has no line of its own: use its parent's). */
    char path[200];
    size_t n = strcspn(why, ":");
    snprintf(path, sizeof path, "%.*s", (int)(n < sizeof path - 1 ? n : sizeof path - 1), why);
    int line = 0;
    while (*path && !(line = path_line(text, path))) {
      char *cut = strrchr(path, '.'), *br = strrchr(path, '[');
      if (br > cut) cut = br;
      if (!cut) break;
      *cut = 0;
    }
    if (line > 0) {
      char tmp[512];
      snprintf(tmp, sizeof tmp, "line %d: %s", line, why);
      snprintf(why, whylen, "%s", tmp);
    }
  }
  return -1;
}
