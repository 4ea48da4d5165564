#include "base/common.h"

#include "base/arena.h"
#include "base/json.h"
#include "check.h"

/* `depth` nested arrays around `inner`: "[[[1]]]". Caller frees. */
static char *nested(int depth, const char *open, const char *inner, const char *close)
{
  size_t ol = strlen(open), il = strlen(inner), cl = strlen(close);
  size_t n = (size_t)depth * (ol + cl) + il;
  char *s = malloc(n + 1);
  char *p = s;

  if (s == NULL)
    abort();
  for (int i = 0; i < depth; i++, p += ol)
    memcpy(p, open, ol);
  memcpy(p, inner, il);
  p += il;
  for (int i = 0; i < depth; i++, p += cl)
    memcpy(p, close, cl);
  *p = '\0';
  return s;
}

static json_t *parse(const char *s, int max_depth, char *why, size_t whylen)
{
  return json_parse_limited(s, strlen(s), max_depth, why, whylen);
}

/* true when s is rejected; the reason must be non-empty. */
static bool rejected(const char *s, int max_depth)
{
  char why[200] = "unset";
  json_t *v = parse(s, max_depth, why, sizeof why);

  if (v != NULL) {
    json_decref(v);
    fprintf(stderr, "accepted: %s\n", s);
    return false;
  }
  if (why[0] == '\0' || strcmp(why, "unset") == 0) {
    fprintf(stderr, "no reason for: %s\n", s);
    return false;
  }
  return true;
}

static void test_depth(void)
{
  char why[200];
  json_t *v;
  char *s;

  /* Exactly at the limit is fine; one more is rejected before jansson sees it. */
  s = nested(JSON_DEFAULT_MAX_DEPTH, "[", "1", "]");
  CHECK_INT_EQ(json_text_depth(s, strlen(s)), 32);
  v = parse(s, JSON_DEFAULT_MAX_DEPTH, why, sizeof why);
  CHECK(v != NULL);
  CHECK_STR_EQ(why, "");
  json_decref(v);
  free(s);

  s = nested(JSON_DEFAULT_MAX_DEPTH + 1, "[", "1", "]");
  CHECK_INT_EQ(json_text_depth(s, strlen(s)), 33);
  v = parse(s, JSON_DEFAULT_MAX_DEPTH, why, sizeof why);
  CHECK(v == NULL);
  CHECK_STR_EQ(why, "nesting deeper than 32 levels");
  free(s);

  /* Objects count too, and mixed nesting. */
  s = nested(5, "{\"a\":[", "true", "]}");
  CHECK_INT_EQ(json_text_depth(s, strlen(s)), 10);
  v = parse(s, 10, why, sizeof why);
  CHECK(v != NULL);
  json_decref(v);
  CHECK(parse(s, 9, why, sizeof why) == NULL);
  CHECK_STR_EQ(why, "nesting deeper than 9 levels");
  free(s);

  /* An unclosed very deep text is refused by depth, without scanning it all. */
  s = nested(100000, "[", "", "");
  v = parse(s, JSON_DEFAULT_MAX_DEPTH, why, sizeof why);
  CHECK(v == NULL);
  CHECK_STR_EQ(why, "nesting deeper than 32 levels");
  CHECK_INT_EQ(json_text_depth(s, strlen(s)), -1);
  free(s);

  /* Siblings do not add up. */
  CHECK_INT_EQ(json_text_depth("[[1],[2],{\"a\":{}}]", 18), 3);
  CHECK_INT_EQ(json_text_depth("{}", 2), 1);
  CHECK_INT_EQ(json_text_depth("1", 1), 0);
  CHECK_INT_EQ(json_text_depth("", 0), 0);
  CHECK_INT_EQ(json_text_depth("[", 1), -1);
  CHECK_INT_EQ(json_text_depth("]", 1), -1);
  CHECK_INT_EQ(json_text_depth("[]]", 3), -1);
  CHECK_INT_EQ(json_text_depth("[\"]", 3), -1); /* string left open */

  /* max_depth 1: a flat object only. */
  v = parse("{\"a\":1}", 1, why, sizeof why);
  CHECK(v != NULL);
  json_decref(v);
  CHECK(rejected("{\"a\":[]}", 1));
  CHECK(rejected("[]", 0));
}

static void test_strings_in_depth_scan(void)
{
  char why[200];
  json_t *v;

  /* Brackets inside strings do not count. */
  CHECK_INT_EQ(json_text_depth("[\"[[[[{{{{\"]", 12), 1);
  v = parse("{\"k\":\"[[[[[[[[[[[[[[[[[[[[\"}", 2, why, sizeof why);
  CHECK(v != NULL);
  CHECK_STR_EQ(json_get_str(v, "k"), "[[[[[[[[[[[[[[[[[[[[");
  json_decref(v);
  /* Unbalanced brackets inside a string are fine too. */
  v = parse("[\"]]]]}}}\", \"{{{\"]", 1, why, sizeof why);
  CHECK(v != NULL);
  CHECK_INT_EQ(json_array_size(v), 2);
  json_decref(v);

  /* Escaped quotes do not end the string: these brackets are still inside it. */
  const char *esc = "[\"a\\\"[[[[\\\"b\", \"\\\\\"]";
  CHECK_INT_EQ(json_text_depth(esc, strlen(esc)), 1);
  v = parse(esc, 1, why, sizeof why);
  CHECK(v != NULL);
  CHECK_STR_EQ(json_string_value(json_array_get(v, 0)), "a\"[[[[\"b");
  CHECK_STR_EQ(json_string_value(json_array_get(v, 1)), "\\");
  json_decref(v);
  /* An escaped backslash before a quote: the quote ends the string, so [ counts. */
  const char *bs = "[\"x\\\\\",[[1]]]";
  CHECK_INT_EQ(json_text_depth(bs, strlen(bs)), 3);
  CHECK(rejected(bs, 2));
  v = parse(bs, 3, why, sizeof why);
  CHECK(v != NULL);
  json_decref(v);
}

static void test_rejections(void)
{
  char why[200];

  /* Trailing garbage. */
  CHECK(rejected("{} x", 32));
  CHECK(rejected("{}{}", 32));
  CHECK(rejected("[1]]", 32));
  /* A NUL byte after the value is garbage too. */
  CHECK(json_parse_limited("{\"a\":1}\0", 8, 32, why, sizeof why) == NULL);
  CHECK(json_parse_limited("[\"a\0b\"]", 7, 32, why, sizeof why) == NULL);
  /* Trailing white space is fine. */
  json_t *v = parse("  {\"a\":1} \n\t ", 32, why, sizeof why);
  CHECK(v != NULL);
  json_decref(v);

  /* Syntax errors carry line and column. */
  CHECK(parse("{\"a\" 1}", 32, why, sizeof why) == NULL);
  CHECK(strncmp(why, "line 1 column ", 14) == 0);
  CHECK(parse("{\n\"a\": tru}", 32, why, sizeof why) == NULL);
  CHECK(strncmp(why, "line 2 column ", 14) == 0);
  CHECK(rejected("", 32));
  CHECK(rejected("   ", 32));
  CHECK(rejected("[1,]", 32));
  CHECK(rejected("{\"a\":1,}", 32));
  CHECK(rejected("[01]", 32));
  CHECK(rejected("['a']", 32));
  CHECK(rejected("[\"unterminated]", 32));
  CHECK(rejected("[\"\\x\"]", 32));     /* bad escape */
  CHECK(rejected("[\"\\u12\"]", 32));   /* short \u */
  CHECK(rejected("[\"a\tb\"]", 32));    /* raw control character */
  CHECK(rejected("[\"\\u0000\"]", 32)); /* NUL inside strings */
  CHECK(rejected("[\"\\ud800\"]", 32)); /* lone surrogate escape */
  CHECK(rejected("[NaN]", 32));
  CHECK(rejected("[Infinity]", 32));

  /* Invalid UTF-8. */
  CHECK(rejected("[\"\xc3\"]", 32));
  CHECK(rejected("[\"\xc0\xaf\"]", 32));
  CHECK(rejected("[\"\xed\xa0\x80\"]", 32));
  CHECK(rejected("[\"\xf4\x90\x80\x80\"]", 32));
  CHECK(rejected("{\"\xff\":1}", 32));
  v = parse("[\"Hà Nội \\u0110\\ud83d\\ude00\"]", 32, why, sizeof why);
  CHECK(v != NULL);
  CHECK_STR_EQ(json_string_value(json_array_get(v, 0)), "Hà Nội Đ\xf0\x9f\x98\x80");
  json_decref(v);

  /* Duplicate keys, at any level. */
  CHECK(parse("{\"a\":1,\"a\":2}", 32, why, sizeof why) == NULL);
  CHECK(strstr(why, "duplicate") != NULL);
  CHECK(rejected("{\"x\":{\"b\":1,\"b\":1}}", 32));
  v = parse("{\"a\":{\"a\":1}}", 32, why, sizeof why);
  CHECK(v != NULL); /* same key at different levels is fine */
  json_decref(v);

  /* Huge numbers. */
  v = parse("[9223372036854775807,-9223372036854775808,1e308,-1e-400]", 32, why, sizeof why);
  CHECK(v != NULL);
  CHECK(json_integer_value(json_array_get(v, 0)) == INT64_MAX);
  CHECK(json_integer_value(json_array_get(v, 1)) == INT64_MIN);
  CHECK(json_is_real(json_array_get(v, 2)));
  json_decref(v);
  CHECK(parse("[9223372036854775808]", 32, why, sizeof why) == NULL);
  CHECK(strstr(why, "too big") != NULL);
  CHECK(rejected("[-9223372036854775809]", 32));
  CHECK(rejected("[123456789012345678901234567890123456789012345678901234567890]", 32));
  CHECK(rejected("[1e400]", 32));
  CHECK(rejected("[-1e400]", 32));

  /* why may be NULL or tiny. */
  CHECK(json_parse_limited("[", 1, 32, NULL, 0) == NULL);
  char tiny[4] = "xxx";
  CHECK(json_parse_limited("[", 1, 32, tiny, sizeof tiny) == NULL);
  CHECK(strlen(tiny) <= 3);
  CHECK(json_parse_limited(NULL, 0, 32, why, sizeof why) == NULL);
  CHECK_STR_EQ(why, "empty body");
}

static void test_getters(void)
{
  char why[200];
  json_t *v = parse("{\"name\":\"Lan\",\"age\":30,\"height\":1.6,\"nul\":null,\"arr\":[1]}", 32,
                    why, sizeof why);
  json_int_t n = -1;

  CHECK(v != NULL);
  CHECK_STR_EQ(json_get_str(v, "name"), "Lan");
  CHECK(json_get_str(v, "age") == NULL);
  CHECK(json_get_str(v, "nul") == NULL);
  CHECK(json_get_str(v, "missing") == NULL);
  CHECK(json_get_str(NULL, "name") == NULL);
  CHECK(json_get_int(v, "age", &n));
  CHECK_INT_EQ(n, 30);
  n = -1;
  CHECK(!json_get_int(v, "height", &n)); /* a real is not an integer */
  CHECK(!json_get_int(v, "name", &n));
  CHECK(!json_get_int(v, "arr", &n));
  CHECK(!json_get_int(v, "missing", &n));
  CHECK_INT_EQ(n, -1);
  CHECK(!json_get_int(json_object_get(v, "arr"), "x", &n)); /* not an object */
  CHECK(!json_get_int(NULL, "age", &n));
  json_decref(v);
}

static int decref_probe_calls;

static void decref_probe(void *p)
{
  (void)p;
  decref_probe_calls++;
}

static void test_arena_own(void)
{
  arena_t *a = arena_new(0);
  json_t *v = json_pack("{s:s}", "k", "v");
  json_t *kept = json_array();

  CHECK(json_arena_own(a, v) == v);
  CHECK(json_arena_own(a, NULL) == NULL);
  /* The arena holds one extra reference to `kept`: after arena_free we still own ours. */
  json_incref(kept);
  CHECK(json_arena_own(a, kept) == kept);
  arena_on_free(a, decref_probe, NULL);
  arena_free(a); /* drops v (leak checkers would see it otherwise) */
  CHECK_INT_EQ(decref_probe_calls, 1);
  CHECK_INT_EQ(kept->refcount, 1);
  json_decref(kept);
}

int main(void)
{
  test_depth();
  test_strings_in_depth_scan();
  test_rejections();
  test_getters();
  test_arena_own();
  return check_summary();
}
