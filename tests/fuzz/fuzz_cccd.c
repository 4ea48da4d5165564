#include "base/common.h"

#include "base/cccd.h"
#include "base/text.h"

/*
 * fuzz_cccd - cccd_parse/cccd_validate on arbitrary bytes (as a NUL-terminated copy,
 * also split at the first two '|' into id|birth date|sex), and text_fold on the same
 * bytes: a fold of valid UTF-8 succeeds, is valid UTF-8, is no longer than the input
 * and folds to itself; a fold of invalid UTF-8 fails.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_status(cccd_status_t st)
{
  if (st < CCCD_OK || st > CCCD_BAD_BIRTH_DATE)
    abort();
  if (cccd_status_message(st) == NULL)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = NULL, *folded = NULL, *refolded = NULL;
  cccd_info_t info;
  cccd_status_t st;
  size_t len;
  long n;

  s = malloc(size + 1);
  folded = malloc(size + 1);
  refolded = malloc(size + 1);
  if (s == NULL || folded == NULL || refolded == NULL)
    goto done;
  memcpy(s, data, size);
  s[size] = '\0';
  len = strlen(s);

  st = cccd_parse(s, &info);
  fuzz_check_status(st);
  if (st == CCCD_OK) {
    if (len != 12 || info.birth_year < 1800 || info.birth_year > 2299 ||
        strlen(info.province) != 3 || memcmp(info.province, s, 3) != 0)
      abort();
  }
  fuzz_check_status(cccd_validate(s, s, s));
  fuzz_check_status(cccd_validate(s, NULL, NULL));
  cccd_date_valid(s, NULL, NULL, NULL);
  {
    char *date = strchr(s, '|'), *sex = NULL;
    if (date != NULL) {
      *date++ = '\0';
      sex = strchr(date, '|');
      if (sex != NULL)
        *sex++ = '\0';
      fuzz_check_status(cccd_validate(s, date, sex));
    }
  }
  memcpy(s, data, size); /* undo the splitting */

  n = text_fold(s, folded, len + 1);
  if (text_utf8_valid(s, len)) {
    if (n < 0 || (size_t)n > len || strlen(folded) != (size_t)n)
      abort();
    if (!text_utf8_valid(folded, (size_t)n))
      abort();
    if (text_fold(folded, refolded, (size_t)n + 1) != n || strcmp(folded, refolded) != 0)
      abort(); /* idempotent */
  } else if (n != -1 || folded[0] != '\0') {
    abort();
  }

done:
  free(refolded);
  free(folded);
  free(s);
  return 0;
}
