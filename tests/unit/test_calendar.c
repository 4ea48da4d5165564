/*
 * test_calendar.c - the lunar calendar against the official Tết and Hùng Kings' dates,
 * the Labour Code holidays, overrides, working-day arithmetic and office hours.
 */
#include "base/common.h"
#include "check.h"
#include "services/calendar.h"

/* Tết Nguyên đán (lunar 1/1), 2000-2030, as published in Vietnamese calendars (Hồ
 * Ngọc Đức's tables). Where Vietnam (UTC+7) and China (UTC+8) differ, the new moon
 * falls between 16:00 and 17:00 UTC: 2007 (new moon 2007-02-17 16:14 UTC: Vietnam
 * 17 Feb, China 18 Feb) and 2030 (new moon 2030-02-02 16:07 UTC: Vietnam 2 Feb, China
 * 3 Feb; the brief's table gave the Chinese date 3 Feb). */
static const char *const TET[] = {
    "2000-02-05", "2001-01-24", "2002-02-12", "2003-02-01", "2004-01-22", "2005-02-09", "2006-01-29",
    "2007-02-17", "2008-02-07", "2009-01-26", "2010-02-14", "2011-02-03", "2012-01-23", "2013-02-10",
    "2014-01-31", "2015-02-19", "2016-02-08", "2017-01-28", "2018-02-16", "2019-02-05", "2020-01-25",
    "2021-02-12", "2022-02-01", "2023-01-22", "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06",
    "2028-01-26", "2029-02-13", "2030-02-02",
};

/* Giỗ Tổ Hùng Vương (lunar 10/3), 2000-2030. 2004: leap 2nd month, month 3 begins with
 * the new moon of 2004-04-19 13:21 UTC -> 28 Apr. 2009: new moon 2009-03-26 16:06 UTC
 * (23:06 in Vietnam) -> 4 Apr (China: 5 Apr). */
static const char *const HUNG[] = {
    "2000-04-14", "2001-04-03", "2002-04-22", "2003-04-11", "2004-04-28", "2005-04-18", "2006-04-07",
    "2007-04-26", "2008-04-15", "2009-04-04", "2010-04-23", "2011-04-12", "2012-03-31", "2013-04-19",
    "2014-04-09", "2015-04-28", "2016-04-16", "2017-04-06", "2018-04-25", "2019-04-14", "2020-04-02",
    "2021-04-21", "2022-04-10", "2023-04-29", "2024-04-18", "2025-04-07", "2026-04-26", "2027-04-16",
    "2028-04-04", "2029-04-23", "2030-04-12",
};

static void d2s(int32_t j, char *out) { calendar_format_date(j, out, 11); }

static int32_t D(const char *s) {
  int32_t j = 0;
  CHECK(calendar_parse_date(s, &j) == 0);
  return j;
}

static void test_days(void) {
  CHECK_INT_EQ(calendar_jdn(1970, 1, 1), CALENDAR_JDN_EPOCH);
  CHECK_INT_EQ(calendar_weekday(D("2024-02-10")), 5);   /* Saturday */
  CHECK_INT_EQ(calendar_weekday(D("2026-11-23")), 0);   /* Monday */
  int32_t j;
  CHECK(calendar_parse_date("2023-02-29", &j) < 0);
  CHECK(calendar_parse_date("2024-02-29", &j) == 0);
  CHECK(calendar_parse_date("2024-2-9", &j) < 0);
  CHECK(calendar_parse_date(NULL, &j) < 0);
  /* 2024-02-07T16:59:00+07:00 = 2024-02-07T09:59:00Z */
  int64_t t = 1707299940000LL;
  CHECK_INT_EQ(calendar_jdn_of_ms(t), D("2024-02-07"));
  CHECK_INT_EQ(calendar_minute_of_ms(t), 16 * 60 + 59);
  CHECK(calendar_ms_of(D("2024-02-07"), 16 * 60 + 59) == t);
  /* 23:30 UTC is already the next day in Vietnam */
  CHECK_INT_EQ(calendar_jdn_of_ms(1707348600000LL), D("2024-02-08"));
}

static void test_lunar(void) {
  char got[16];
  for (int y = 2000; y <= 2030; y++) {
    d2s(calendar_tet(y), got);
    CHECK_STR_EQ(got, TET[y - 2000]);
    d2s(calendar_hung_kings(y), got);
    CHECK_STR_EQ(got, HUNG[y - 2000]);
    calendar_lunar_t l;
    calendar_solar_to_lunar(D(TET[y - 2000]), &l);
    CHECK(l.year == y && l.month == 1 && l.day == 1 && !l.leap);
    calendar_solar_to_lunar(D(TET[y - 2000]) - 1, &l);   /* the last day of the year before */
    CHECK(l.year == y - 1 && l.month == 12 && (l.day == 29 || l.day == 30));
  }
  /* 2023 had a leap 2nd month (Quý Mão): 2023-03-22 = leap 2/1. */
  calendar_lunar_t l;
  calendar_solar_to_lunar(D("2023-03-22"), &l);
  CHECK(l.year == 2023 && l.month == 2 && l.day == 1 && l.leap);
  calendar_lunar_t q = {2023, 2, 1, true};
  CHECK_INT_EQ(calendar_lunar_to_solar(&q), D("2023-03-22"));
  calendar_lunar_t bad = {2024, 2, 1, true};   /* 2024 has no leap month */
  CHECK_INT_EQ(calendar_lunar_to_solar(&bad), -1);
  /* Mid-Autumn 2024 (lunar 15/8) = 2024-09-17 */
  calendar_lunar_t mid = {2024, 8, 15, false};
  CHECK_INT_EQ(calendar_lunar_to_solar(&mid), D("2024-09-17"));
}

static bool off(const calendar_t *c, const char *d) { return !calendar_is_working_day(c, D(d)); }

static void test_default_rule(void) {
  calendar_t *c = calendar_new();
  /* 2025 default: Tết = lunar 30/12 (28 Jan... lunar year Giáp Thìn ended 2025-01-28) + 29 Jan..1 Feb */
  CHECK(off(c, "2025-01-01"));
  CHECK(off(c, "2025-01-28"));
  CHECK(off(c, "2025-01-29") && off(c, "2025-02-01"));
  CHECK(!off(c, "2025-01-27"));
  /* 1 Feb 2025 (Sat) is a Tết day on a weekend: compensation Mon 3 Feb */
  CHECK(off(c, "2025-02-03"));
  CHECK(!off(c, "2025-02-04"));
  CHECK(off(c, "2025-04-07"));   /* Hùng Kings */
  CHECK(off(c, "2025-04-30") && off(c, "2025-05-01"));
  CHECK(off(c, "2025-09-01") && off(c, "2025-09-02"));   /* 2 Sep Tue + Mon 1 Sep */
  CHECK(!off(c, "2025-09-03"));
  /* 2024: 2 Sep Monday -> adjacent 3 Sep */
  CHECK(off(c, "2024-09-03"));
  /* 2023: 2 Sep Saturday -> 1 Sep (Fri) and compensation Mon 4 Sep */
  CHECK(off(c, "2023-09-01") && off(c, "2023-09-04"));
  CHECK(!off(c, "2023-09-05"));
  /* 2023: Hùng Kings Sat 29 Apr, 30 Apr Sun, 1 May Mon -> 2 and 3 May compensation */
  CHECK(off(c, "2023-05-02") && off(c, "2023-05-03"));
  CHECK(!off(c, "2023-05-04"));
  CHECK(off(c, "2024-11-23") && !off(c, "2024-11-22"));   /* weekend / weekday */
  calendar_day_t info;
  CHECK(calendar_day_info(c, D("2025-04-07"), &info));
  CHECK_STR_EQ(info.name, "Giỗ Tổ Hùng Vương");
  calendar_day_t days[64];
  size_t n = calendar_days_off(c, 2025, days, 64);
  CHECK(n >= 11 && n <= 14);
  for (size_t i = 1; i < n && i < 64; i++) CHECK(days[i].jdn > days[i - 1].jdn);
  calendar_free(c);
}

static void test_overrides(void) {
  calendar_t *c = calendar_new();
  char why[256];
  json_error_t je;
  json_t *y = json_loads("{\"year\":2024,\"tet\":{\"from\":\"2024-02-08\",\"to\":\"2024-02-14\"},"
                         "\"off\":[{\"date\":\"2024-04-29\",\"name\":\"Nghỉ hoán đổi\"}],"
                         "\"work\":[{\"date\":\"2024-05-04\",\"name\":\"Làm bù\"}]}",
                         0, &je);
  CHECK(calendar_set_year(c, y, NULL, why, sizeof why) == 0);
  json_decref(y);
  CHECK(off(c, "2024-02-08") && off(c, "2024-02-14"));
  CHECK(!off(c, "2024-02-07") && !off(c, "2024-02-15"));
  CHECK(off(c, "2024-04-29"));
  CHECK(!off(c, "2024-05-04"));   /* a Saturday made a working day */
  json_t *back = calendar_year_json(c, 2024);
  CHECK(back && json_integer_value(json_object_get(back, "year")) == 2024);
  json_decref(back);
  /* Errors name the path. */
  y = json_loads("{\"year\":2024,\"off\":[{\"date\":\"2024-13-01\"}]}", 0, &je);
  CHECK(calendar_set_year(c, y, "years[0]", why, sizeof why) < 0);
  CHECK(strstr(why, "years[0].off[0].date") != NULL);
  json_decref(y);
  y = json_loads("{\"year\":2024,\"off\":[{\"date\":\"2025-01-01\"}]}", 0, &je);
  CHECK(calendar_check_year(y, 2024, why, sizeof why) < 0);
  json_decref(y);
  y = json_loads("{\"year\":2024,\"holidays\":[]}", 0, &je);
  CHECK(calendar_check_year(y, 2024, why, sizeof why) < 0);
  CHECK(strstr(why, "holidays") != NULL);
  json_decref(y);
  y = json_loads("{\"year\":2025}", 0, &je);
  CHECK(calendar_check_year(y, 2024, why, sizeof why) < 0);
  json_decref(y);
  /* The failed set left 2024 as it was. */
  CHECK(off(c, "2024-04-29"));
  calendar_clear_year(c, 2024);
  CHECK(!off(c, "2024-04-29"));
  calendar_free(c);
}

static void test_arithmetic(void) {
  calendar_t *c = calendar_new();
  char why[256];
  json_error_t je;
  json_t *y = json_loads("{\"year\":2024,\"tet\":{\"from\":\"2024-02-08\",\"to\":\"2024-02-14\"}}", 0, &je);
  CHECK(calendar_set_year(c, y, NULL, why, sizeof why) == 0);
  json_decref(y);
  char got[16];
  d2s(calendar_add_working_days(c, D("2024-02-07"), 1), got);
  CHECK_STR_EQ(got, "2024-02-15");
  d2s(calendar_add_working_days(c, D("2024-02-10"), 0), got);
  CHECK_STR_EQ(got, "2024-02-15");
  d2s(calendar_add_working_days(c, D("2024-11-22"), 3), got);   /* Fri + 3 = Wed */
  CHECK_STR_EQ(got, "2024-11-27");
  CHECK_INT_EQ(calendar_working_days_between(c, D("2024-02-07"), D("2024-02-16")), 2);
  CHECK_INT_EQ(calendar_working_days_between(c, D("2024-02-16"), D("2024-02-07")), 0);
  /* Office hours 08:00-17:00 */
  int64_t wed_10 = calendar_ms_of(D("2024-11-20"), 10 * 60);
  CHECK(calendar_effective_start(c, wed_10) == wed_10);
  int64_t wed_1730 = calendar_ms_of(D("2024-11-20"), 17 * 60 + 30);
  CHECK(calendar_effective_start(c, wed_1730) == calendar_ms_of(D("2024-11-21"), 8 * 60));
  int64_t wed_0700 = calendar_ms_of(D("2024-11-20"), 7 * 60);
  CHECK(calendar_effective_start(c, wed_0700) == calendar_ms_of(D("2024-11-20"), 8 * 60));
  int64_t fri_18 = calendar_ms_of(D("2024-11-22"), 18 * 60);
  CHECK(calendar_effective_start(c, fri_18) == calendar_ms_of(D("2024-11-25"), 8 * 60));
  /* Due: closing time of the N-th working day after the effective start. */
  CHECK(calendar_due(c, wed_10, 2) == calendar_ms_of(D("2024-11-22"), 17 * 60));
  CHECK(calendar_due(c, wed_1730, 2) == calendar_ms_of(D("2024-11-25"), 17 * 60));
  CHECK(calendar_due(c, fri_18, 0) == calendar_ms_of(D("2024-11-25"), 17 * 60));
  /* A share of a deadline in office minutes after the start day's closing. */
  CHECK(calendar_due_minutes(c, wed_10, 2 * 540) == calendar_due(c, wed_10, 2));
  CHECK(calendar_due_minutes(c, wed_10, 0) == calendar_ms_of(D("2024-11-20"), 17 * 60));
  CHECK(calendar_due_minutes(c, wed_10, 270) == calendar_ms_of(D("2024-11-21"), 12 * 60 + 30));
  CHECK(calendar_due_minutes(c, fri_18, 540 + 60) == calendar_ms_of(D("2024-11-27"), 9 * 60)); /* Mon start */
  CHECK(calendar_due_minutes(c, calendar_ms_of(D("2024-02-07"), 9 * 60), 60) ==
        calendar_ms_of(D("2024-02-15"), 9 * 60)); /* across Tết 2024 (default rule: 8-14 Feb) */
  CHECK(calendar_set_office_hours(c, 17 * 60, 8 * 60) < 0);
  calendar_free(c);
}

static void test_shipped_file(void) {
  calendar_t *c = calendar_new();
  char why[256] = "", path[1024];
  const char *root = getenv("CITYOS_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/data/calendar/overrides.json", root ? root : ".");
  int rc = calendar_load_file(c, path, why, sizeof why);
  if (rc < 0) fprintf(stderr, "overrides.json: %s\n", why);
  CHECK(rc == 0);
  CHECK(off(c, "2024-02-08") && off(c, "2024-02-14") && !off(c, "2024-02-15"));
  CHECK(off(c, "2025-01-25") && off(c, "2025-02-02") && !off(c, "2025-02-03"));
  calendar_free(c);
}

int main(void) {
  test_days();
  test_lunar();
  test_default_rule();
  test_overrides();
  test_arithmetic();
  test_shipped_file();
  return check_summary();
}
