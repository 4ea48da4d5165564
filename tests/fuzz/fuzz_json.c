#include "base/common.h"

#include "base/json.h"

/*
 * fuzz_json - json_parse_limited() on arbitrary bytes with the default depth (32).
 * Whatever parses must dump, reparse under the same limit, and compare equal.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char why[256];
  json_t *v = NULL, *again = NULL;
  char *dump = NULL;
  int depth;

  v = json_parse_limited((const char *)data, size, JSON_DEFAULT_MAX_DEPTH, why, sizeof why);
  depth = json_text_depth((const char *)data, size);
  if (v == NULL) {
    if (why[0] == '\0')
      abort(); /* every rejection carries a reason */
    goto done;
  }
  /* A parsed text is balanced and within the limit. */
  if (depth < 1 || depth > JSON_DEFAULT_MAX_DEPTH)
    abort();
  dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (dump == NULL)
    abort();
  if (json_text_depth(dump, strlen(dump)) != depth)
    abort();
  again = json_parse_limited(dump, strlen(dump), JSON_DEFAULT_MAX_DEPTH, why, sizeof why);
  if (again == NULL || !json_equal(v, again))
    abort();

done:
  free(dump);
  json_decref(again);
  json_decref(v);
  return 0;
}
