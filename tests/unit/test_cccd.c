#include "base/common.h"

#include "base/cccd.h"
#include "check.h"

static void test_parse_valid(void)
{
  cccd_info_t info;

  CHECK_INT_EQ(cccd_parse("001099012345", &info), CCCD_OK);
  CHECK_STR_EQ(info.province, "001");
  CHECK_INT_EQ(info.birth_year, 1999);
  CHECK_INT_EQ(info.sex, CCCD_SEX_MALE);

  CHECK_INT_EQ(cccd_parse("001305012345", &info), CCCD_OK);
  CHECK_INT_EQ(info.birth_year, 2005);
  CHECK_INT_EQ(info.sex, CCCD_SEX_FEMALE);

  CHECK_INT_EQ(cccd_parse("079200000001", &info), CCCD_OK);
  CHECK_STR_EQ(info.province, "079");
  CHECK_INT_EQ(info.birth_year, 2000);
  CHECK_INT_EQ(info.sex, CCCD_SEX_MALE);

  /* Every century digit. */
  static const struct {
    const char *id;
    int year;
    cccd_sex_t sex;
  } centuries[] = {
      {"096000000000", 1900, CCCD_SEX_MALE},   {"096199000000", 1999, CCCD_SEX_FEMALE},
      {"096250000000", 2050, CCCD_SEX_MALE},   {"096301000000", 2001, CCCD_SEX_FEMALE},
      {"096410000000", 2110, CCCD_SEX_MALE},   {"096510000000", 2110, CCCD_SEX_FEMALE},
      {"096699000000", 2299, CCCD_SEX_MALE},   {"096700000000", 2200, CCCD_SEX_FEMALE},
      {"001899012345", 1899, CCCD_SEX_MALE},   {"001999012345", 1899, CCCD_SEX_FEMALE},
      {"001800000000", 1800, CCCD_SEX_MALE},
  };
  for (size_t i = 0; i < ARRAY_LEN(centuries); i++) {
    CHECK_INT_EQ(cccd_parse(centuries[i].id, &info), CCCD_OK);
    CHECK_INT_EQ(info.birth_year, centuries[i].year);
    CHECK_INT_EQ(info.sex, centuries[i].sex);
  }
  /* out may be NULL. */
  CHECK_INT_EQ(cccd_parse("001099012345", NULL), CCCD_OK);
}

static void test_parse_bad(void)
{
  cccd_info_t info;

  CHECK_INT_EQ(cccd_parse("", &info), CCCD_BAD_FORMAT);
  CHECK_INT_EQ(cccd_parse(NULL, &info), CCCD_BAD_FORMAT);
  CHECK_INT_EQ(cccd_parse("00109901234", &info), CCCD_BAD_FORMAT);   /* 11 */
  CHECK_INT_EQ(cccd_parse("0010990123456", &info), CCCD_BAD_FORMAT); /* 13 */
  CHECK_INT_EQ(cccd_parse("00109901234a", &info), CCCD_BAD_FORMAT);
  CHECK_INT_EQ(cccd_parse("a01099012345", &info), CCCD_BAD_FORMAT);
  CHECK_INT_EQ(cccd_parse(" 001099012345", &info), CCCD_BAD_FORMAT);
  CHECK_INT_EQ(cccd_parse("001099012345 ", &info), CCCD_BAD_FORMAT);
  CHECK_INT_EQ(cccd_parse("001 099012345", &info), CCCD_BAD_FORMAT);
  CHECK_INT_EQ(cccd_parse("-01099012345", &info), CCCD_BAD_FORMAT);
  CHECK_INT_EQ(cccd_parse("００1099012345", &info), CCCD_BAD_FORMAT); /* full-width */
  CHECK_INT_EQ(cccd_parse("000099012345", &info), CCCD_BAD_PROVINCE);
  CHECK_INT_EQ(cccd_parse("099099012345", &info), CCCD_BAD_PROVINCE);
  CHECK_INT_EQ(cccd_parse("003099012345", &info), CCCD_BAD_PROVINCE);
  CHECK_INT_EQ(cccd_parse("097099012345", &info), CCCD_BAD_PROVINCE);
  CHECK_INT_EQ(cccd_parse("101099012345", &info), CCCD_BAD_PROVINCE); /* not zero-padded */
  CHECK_INT_EQ(cccd_parse("179099012345", &info), CCCD_BAD_PROVINCE);
  CHECK_INT_EQ(cccd_parse("901099012345", &info), CCCD_BAD_PROVINCE);
  CHECK_STR_EQ(info.province, ""); /* cleared on failure */
}

/* Every code of data/units/vn-provinces.csv is accepted and nothing else is. */
static void test_provinces_match_csv(void)
{
  const char *dir = getenv("CITYOS_SOURCE_DIR");
  char path[1024], line[256], id[32];
  bool listed[100] = {false};
  int rows = 0, distinct = 0;
  FILE *f;

  snprintf(path, sizeof path, "%s/data/units/vn-provinces.csv", dir ? dir : ".");
  f = fopen(path, "r");
  CHECK(f != NULL);
  if (f == NULL) {
    fprintf(stderr, "cannot open %s (set CITYOS_SOURCE_DIR)\n", path);
    return;
  }
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "code,", 5) == 0)
      continue;
    CHECK(line[0] >= '0' && line[0] <= '9' && line[1] >= '0' && line[1] <= '9' &&
          line[2] == ',');
    int code = (line[0] - '0') * 10 + (line[1] - '0');
    if (!listed[code])
      distinct++;
    listed[code] = true;
    rows++;
  }
  fclose(f);
  CHECK(rows >= 63);
  CHECK_INT_EQ(distinct, 63);
  for (int code = 0; code < 100; code++) {
    snprintf(id, sizeof id, "%03d099012345", code);
    cccd_status_t st = cccd_parse(id, NULL);
    if ((st == CCCD_OK) != listed[code])
      fprintf(stderr, "province %03d: parse says %d, csv says %s\n", code, (int)st,
              listed[code] ? "listed" : "not listed");
    CHECK_INT_EQ(st, listed[code] ? CCCD_OK : CCCD_BAD_PROVINCE);
  }
}

static void test_dates(void)
{
  int y = 0, m = 0, d = 0;

  CHECK(cccd_date_valid("1999-12-31", &y, &m, &d));
  CHECK_INT_EQ(y, 1999);
  CHECK_INT_EQ(m, 12);
  CHECK_INT_EQ(d, 31);
  CHECK(cccd_date_valid("2000-02-29", NULL, NULL, NULL)); /* divisible by 400 */
  CHECK(cccd_date_valid("2004-02-29", NULL, NULL, NULL));
  CHECK(cccd_date_valid("2024-02-29", NULL, NULL, NULL));
  CHECK(!cccd_date_valid("1900-02-29", NULL, NULL, NULL)); /* divisible by 100 */
  CHECK(!cccd_date_valid("2100-02-29", NULL, NULL, NULL));
  CHECK(!cccd_date_valid("2023-02-29", NULL, NULL, NULL));
  CHECK(cccd_date_valid("2023-02-28", NULL, NULL, NULL));
  CHECK(!cccd_date_valid("2001-04-31", NULL, NULL, NULL));
  CHECK(cccd_date_valid("2001-04-30", NULL, NULL, NULL));
  CHECK(!cccd_date_valid("2001-13-01", NULL, NULL, NULL));
  CHECK(!cccd_date_valid("2001-00-10", NULL, NULL, NULL));
  CHECK(!cccd_date_valid("2001-01-00", NULL, NULL, NULL));
  CHECK(!cccd_date_valid("2001-01-32", NULL, NULL, NULL));
  CHECK(!cccd_date_valid("0000-01-01", NULL, NULL, NULL));
  CHECK(!cccd_date_valid("2001-1-01", NULL, NULL, NULL));
  CHECK(!cccd_date_valid("2001/01/01", NULL, NULL, NULL));
  CHECK(!cccd_date_valid("2001-01-01T00:00", NULL, NULL, NULL));
  CHECK(!cccd_date_valid("2001-01-0", NULL, NULL, NULL));
  CHECK(!cccd_date_valid("+001-01-01", NULL, NULL, NULL));
  CHECK(!cccd_date_valid("", NULL, NULL, NULL));
  CHECK(!cccd_date_valid(NULL, NULL, NULL, NULL));
}

/* Date `days` from today in Vietnam (UTC+7) as YYYY-MM-DD, and a matching CCCD. */
static void vn_date(int days, char *date, size_t datecap, char *id, size_t idcap)
{
  time_t t = time(NULL) + 7 * 3600 + (time_t)days * 86400;
  struct tm tm;

  gmtime_r(&t, &tm);
  int year = tm.tm_year + 1900;
  snprintf(date, datecap, "%04d-%02d-%02d", year, tm.tm_mon + 1, tm.tm_mday);
  /* century digit for males: 1900 -> 0, 2000 -> 2, 2100 -> 4 */
  snprintf(id, idcap, "001%d%02d000001", (year / 100 - 19) * 2, year % 100);
}

static void test_validate(void)
{
  char date[32], id[32];

  CHECK_INT_EQ(cccd_validate("001099012345", "1999-05-17", "M"), CCCD_OK);
  CHECK_INT_EQ(cccd_validate("001099012345", "1999-05-17", "male"), CCCD_OK);
  CHECK_INT_EQ(cccd_validate("001099012345", "1999-05-17", "NAM"), CCCD_OK);
  CHECK_INT_EQ(cccd_validate("001099012345", "1999-05-17", "Nam"), CCCD_OK);
  CHECK_INT_EQ(cccd_validate("001305012345", "2005-01-01", "F"), CCCD_OK);
  CHECK_INT_EQ(cccd_validate("001305012345", "2005-01-01", "f"), CCCD_OK);
  CHECK_INT_EQ(cccd_validate("001305012345", "2005-01-01", "Female"), CCCD_OK);
  CHECK_INT_EQ(cccd_validate("001305012345", "2005-01-01", "nữ"), CCCD_OK);
  CHECK_INT_EQ(cccd_validate("001305012345", "2005-01-01", "NỮ"), CCCD_OK);
  CHECK_INT_EQ(cccd_validate("001305012345", "2005-01-01", "Nữ"), CCCD_OK);
  CHECK_INT_EQ(cccd_validate("001305012345", "2005-01-01", "nu\xcc\x9b\xcc\x83"), CCCD_OK);
  CHECK_INT_EQ(cccd_validate("079200000001", "2000-02-29", "M"), CCCD_OK);
  CHECK_INT_EQ(cccd_validate("079200000001", NULL, NULL), CCCD_OK);
  CHECK_INT_EQ(cccd_validate("001899012345", "1899-12-31", "M"), CCCD_OK);
  CHECK_INT_EQ(cccd_validate("001999012345", "1899-01-01", "F"), CCCD_OK);

  /* Sex mismatch and values we do not read. */
  CHECK_INT_EQ(cccd_validate("001099012345", "1999-05-17", "F"), CCCD_SEX_MISMATCH);
  CHECK_INT_EQ(cccd_validate("001099012345", "1999-05-17", "nữ"), CCCD_SEX_MISMATCH);
  CHECK_INT_EQ(cccd_validate("001305012345", "2005-01-01", "M"), CCCD_SEX_MISMATCH);
  CHECK_INT_EQ(cccd_validate("001305012345", "2005-01-01", "nam"), CCCD_SEX_MISMATCH);
  CHECK_INT_EQ(cccd_validate("001305012345", NULL, "male"), CCCD_SEX_MISMATCH);
  CHECK_INT_EQ(cccd_validate("001305012345", NULL, ""), CCCD_SEX_MISMATCH);
  CHECK_INT_EQ(cccd_validate("001305012345", NULL, "nu"), CCCD_SEX_MISMATCH);
  CHECK_INT_EQ(cccd_validate("001305012345", NULL, "nú"), CCCD_SEX_MISMATCH);
  CHECK_INT_EQ(cccd_validate("001305012345", NULL, "x"), CCCD_SEX_MISMATCH);
  CHECK_INT_EQ(cccd_validate("001305012345", NULL, "females"), CCCD_SEX_MISMATCH);

  /* Year mismatch: same two digits, wrong century, or another year. */
  CHECK_INT_EQ(cccd_validate("001099012345", "2099-05-17", "M"), CCCD_YEAR_MISMATCH);
  CHECK_INT_EQ(cccd_validate("001099012345", "1998-05-17", "M"), CCCD_YEAR_MISMATCH);
  CHECK_INT_EQ(cccd_validate("001305012345", "1905-01-01", "F"), CCCD_YEAR_MISMATCH);
  CHECK_INT_EQ(cccd_validate("001899012345", "1999-01-01", NULL), CCCD_YEAR_MISMATCH);

  /* Bad dates. */
  CHECK_INT_EQ(cccd_validate("001096012345", "1996-02-29", "M"), CCCD_OK);
  CHECK_INT_EQ(cccd_validate("001097012345", "1997-02-29", "M"), CCCD_BAD_BIRTH_DATE);
  CHECK_INT_EQ(cccd_validate("001000012345", "1900-02-29", "M"), CCCD_BAD_BIRTH_DATE);
  CHECK_INT_EQ(cccd_validate("001099012345", "1999-5-17", "M"), CCCD_BAD_BIRTH_DATE);
  CHECK_INT_EQ(cccd_validate("001099012345", "", "M"), CCCD_BAD_BIRTH_DATE);
  CHECK_INT_EQ(cccd_validate("001299012345", "2099-01-01", "M"), CCCD_BAD_BIRTH_DATE);
  CHECK_INT_EQ(cccd_validate("001400012345", "2100-01-01", NULL), CCCD_BAD_BIRTH_DATE);

  /* Today is fine, tomorrow is in the future. */
  vn_date(0, date, sizeof date, id, sizeof id);
  CHECK_INT_EQ(cccd_validate(id, date, "M"), CCCD_OK);
  vn_date(-1, date, sizeof date, id, sizeof id);
  CHECK_INT_EQ(cccd_validate(id, date, "M"), CCCD_OK);
  vn_date(1, date, sizeof date, id, sizeof id);
  CHECK_INT_EQ(cccd_validate(id, date, "M"), CCCD_BAD_BIRTH_DATE);

  /* Format and province are checked first. */
  CHECK_INT_EQ(cccd_validate("00109901234", "1999-05-17", "M"), CCCD_BAD_FORMAT);
  CHECK_INT_EQ(cccd_validate("000099012345", "1999-05-17", "M"), CCCD_BAD_PROVINCE);
  CHECK_INT_EQ(cccd_validate(NULL, NULL, NULL), CCCD_BAD_FORMAT);
}

static void test_messages(void)
{
  for (int st = CCCD_OK; st <= CCCD_BAD_BIRTH_DATE; st++) {
    const char *msg = cccd_status_message((cccd_status_t)st);
    CHECK(msg != NULL && msg[0] != '\0');
  }
  CHECK(strstr(cccd_status_message(CCCD_BAD_FORMAT), "12 digits") != NULL);
  CHECK(cccd_status_message(CCCD_BAD_PROVINCE) != cccd_status_message(CCCD_BAD_FORMAT));
}

int main(void)
{
  test_parse_valid();
  test_parse_bad();
  test_provinces_match_csv();
  test_dates();
  test_validate();
  test_messages();
  return check_summary();
}
