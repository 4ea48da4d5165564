#include "base/common.h"

#include "base/cccd.h"

/*
 * cccd.c - the 12-digit citizen identity number (see cccd.h for the layout).
 */

/* The distinct 2-digit GSO province codes of both eras (pre-2025: 63 provinces;
 * post-2025: 34, all of which reuse a pre-2025 code), sorted.
 * Source: data/units/vn-provinces.csv (columns code,name,era). Keep in step with it. */
static const unsigned char cccd_provinces[] = {
    1,  2,  4,  6,  8,  10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25,
    26, 27, 30, 31, 33, 34, 35, 36, 37, 38, 40, 42, 44, 45, 46, 48,
    49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75,
    77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96,
};

/* Vietnam keeps Indochina Time, UTC+7, all year. */
#define CCCD_TZ_OFFSET_SECONDS (7 * 3600)

static bool cccd_province_known(int code)
{
  size_t lo = 0, hi = ARRAY_LEN(cccd_provinces);

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cccd_provinces[mid] < code)
      lo = mid + 1;
    else if (cccd_provinces[mid] > code)
      hi = mid;
    else
      return true;
  }
  return false;
}

static bool cccd_is_digit(char c)
{
  return c >= '0' && c <= '9';
}

cccd_status_t cccd_parse(const char *s, cccd_info_t *out)
{
  /* Digit 4 -> first year of the century. */
  static const int century[10] = {1900, 1900, 2000, 2000, 2100, 2100, 2200, 2200, 1800, 1800};
  int province, c;

  if (out != NULL)
    memset(out, 0, sizeof *out);
  if (s == NULL)
    return CCCD_BAD_FORMAT;
  for (size_t i = 0; i < 12; i++) {
    if (!cccd_is_digit(s[i])) /* stops at the NUL of a short string */
      return CCCD_BAD_FORMAT;
  }
  if (s[12] != '\0')
    return CCCD_BAD_FORMAT;

  province = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
  if (province >= 100 || !cccd_province_known(province))
    return CCCD_BAD_PROVINCE;

  c = s[3] - '0';
  if (out != NULL) {
    memcpy(out->province, s, 3);
    out->province[3] = '\0';
    out->birth_year = century[c] + (s[4] - '0') * 10 + (s[5] - '0');
    out->sex = (c % 2 == 0) ? CCCD_SEX_MALE : CCCD_SEX_FEMALE;
  }
  return CCCD_OK;
}

static bool cccd_leap(int y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool cccd_date_valid(const char *date, int *y, int *m, int *d)
{
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int yy, mm, dd, dim;

  if (date == NULL)
    return false;
  for (size_t i = 0; i < 10; i++) {
    bool ok = (i == 4 || i == 7) ? date[i] == '-' : cccd_is_digit(date[i]);
    if (!ok) /* also stops at the NUL of a short string */
      return false;
  }
  if (date[10] != '\0')
    return false;
  yy = (date[0] - '0') * 1000 + (date[1] - '0') * 100 + (date[2] - '0') * 10 + (date[3] - '0');
  mm = (date[5] - '0') * 10 + (date[6] - '0');
  dd = (date[8] - '0') * 10 + (date[9] - '0');
  if (yy < 1 || mm < 1 || mm > 12)
    return false;
  dim = days[mm - 1] + ((mm == 2 && cccd_leap(yy)) ? 1 : 0);
  if (dd < 1 || dd > dim)
    return false;
  if (y != NULL)
    *y = yy;
  if (m != NULL)
    *m = mm;
  if (d != NULL)
    *d = dd;
  return true;
}

/* Today's date in Vietnam as yyyymmdd. */
static long cccd_today(void)
{
  time_t now = time(NULL) + CCCD_TZ_OFFSET_SECONDS;
  struct tm tm;

  if (gmtime_r(&now, &tm) == NULL)
    return LONG_MAX; /* cannot tell: treat nothing as being in the future */
  return (long)(tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

/* 0 male, 1 female, -1 not a sex we recognise. Accepts, case-insensitively, "M", "F",
 * "male", "female", "nam" and "nữ" (precomposed or decomposed). */
static int cccd_sex_value(const char *sex)
{
  /* "nữ" after the "n": ữ/Ữ precomposed, ư/Ư + tilde, u/U + horn + tilde. */
  static const char *const nu_tails[] = {
      "\xe1\xbb\xaf", "\xe1\xbb\xae", "\xc6\xb0\xcc\x83", "\xc6\xaf\xcc\x83",
      "u\xcc\x9b\xcc\x83", "U\xcc\x9b\xcc\x83",
  };

  if (strcasecmp(sex, "m") == 0 || strcasecmp(sex, "male") == 0 ||
      strcasecmp(sex, "nam") == 0)
    return CCCD_SEX_MALE;
  if (strcasecmp(sex, "f") == 0 || strcasecmp(sex, "female") == 0)
    return CCCD_SEX_FEMALE;
  if (sex[0] == 'n' || sex[0] == 'N') {
    for (size_t i = 0; i < ARRAY_LEN(nu_tails); i++) {
      if (strcmp(sex + 1, nu_tails[i]) == 0)
        return CCCD_SEX_FEMALE;
    }
  }
  return -1;
}

cccd_status_t cccd_validate(const char *s, const char *birth_date, const char *sex)
{
  cccd_info_t info;
  cccd_status_t st = cccd_parse(s, &info);
  int y, m, d;

  if (st != CCCD_OK)
    return st;
  if (birth_date != NULL) {
    if (!cccd_date_valid(birth_date, &y, &m, &d))
      return CCCD_BAD_BIRTH_DATE;
    if (y != info.birth_year)
      return CCCD_YEAR_MISMATCH;
    if ((long)y * 10000 + m * 100 + d > cccd_today())
      return CCCD_BAD_BIRTH_DATE;
  }
  if (sex != NULL) {
    /* A value we cannot read cannot confirm digit 4 either. */
    if (cccd_sex_value(sex) != (int)info.sex)
      return CCCD_SEX_MISMATCH;
  }
  return CCCD_OK;
}

const char *cccd_status_message(cccd_status_t st)
{
  switch (st) {
  case CCCD_OK:
    return "OK";
  case CCCD_BAD_FORMAT:
    return "The citizen ID must be exactly 12 digits";
  case CCCD_BAD_PROVINCE:
    return "The first three digits of the citizen ID are not a province code";
  case CCCD_YEAR_MISMATCH:
    return "The citizen ID does not match the year of birth";
  case CCCD_SEX_MISMATCH:
    return "The citizen ID does not match the sex";
  case CCCD_BAD_BIRTH_DATE:
    return "The date of birth is not a valid past date";
  }
  return "Unknown citizen ID status";
}
