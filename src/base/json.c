#include "base/common.h"

#include "base/json.h"

/*
 * json.c - depth-limited parsing and small helpers on top of jansson (>= 2.13).
 */

/* Scans data[0..len) counting [ and { nesting outside strings (a backslash inside a
 * string escapes the next byte). Stops as soon as the depth passes `limit` (when
 * limit >= 0) and returns that depth. Otherwise returns the deepest nesting, or -1
 * when the brackets do not balance or a string is left open. */
static int json_scan_depth(const char *data, size_t len, int limit)
{
  int depth = 0, max = 0;
  bool in_string = false;

  for (size_t i = 0; i < len; i++) {
    char c = data[i];
    if (in_string) {
      if (c == '\\')
        i++; /* skip the escaped byte, whatever it is */
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
    case '"':
      in_string = true;
      break;
    case '[':
    case '{':
      depth++;
      if (depth > max) {
        max = depth;
        if (limit >= 0 && max > limit)
          return max;
      }
      break;
    case ']':
    case '}':
      if (--depth < 0)
        return -1;
      break;
    default:
      break;
    }
  }
  if (in_string || depth != 0)
    return -1;
  return max;
}

int json_text_depth(const char *data, size_t len)
{
  if (data == NULL)
    return len == 0 ? 0 : -1;
  return json_scan_depth(data, len, -1);
}

json_t *json_parse_limited(const char *data, size_t len, int max_depth, char *why, size_t whylen)
{
  json_error_t err;
  json_t *v;
  int depth;

  if (why != NULL && whylen > 0)
    why[0] = '\0';
  if (max_depth < 0)
    max_depth = 0;
  if (data == NULL || len == 0) {
    if (why != NULL && whylen > 0)
      snprintf(why, whylen, "empty body");
    return NULL;
  }
  /* An unbalanced text (-1) goes on to jansson, which says where it goes wrong. */
  depth = json_scan_depth(data, len, max_depth);
  if (depth > max_depth) {
    if (why != NULL && whylen > 0)
      snprintf(why, whylen, "nesting deeper than %d levels", max_depth);
    return NULL;
  }
  /* No JSON_DISABLE_EOF_CHECK: anything but white space after the value is an error.
   * jansson also rejects invalid UTF-8, NUL bytes and \u0000, and numbers that
   * overflow json_int_t or a double. */
  v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
  if (v == NULL && why != NULL && whylen > 0) {
    if (err.line > 0 && err.column > 0)
      snprintf(why, whylen, "line %d column %d: %s", err.line, err.column, err.text);
    else
      snprintf(why, whylen, "%s", err.text);
  }
  return v;
}

static void json_arena_decref(void *ptr)
{
  json_decref(ptr);
}

json_t *json_arena_own(arena_t *a, json_t *v)
{
  if (v != NULL)
    arena_on_free(a, json_arena_decref, v);
  return v;
}

const char *json_get_str(const json_t *obj, const char *key)
{
  const json_t *v;

  if (!json_is_object(obj) || key == NULL)
    return NULL;
  v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

bool json_get_int(const json_t *obj, const char *key, json_int_t *out)
{
  const json_t *v;

  if (!json_is_object(obj) || key == NULL)
    return false;
  v = json_object_get(obj, key);
  if (!json_is_integer(v))
    return false;
  if (out != NULL)
    *out = json_integer_value(v);
  return true;
}
