/*
 * calendar.h - the Vietnamese working-day calendar: lunar calendar, public holidays,
 * weekends, yearly overrides and office hours. Pure C (libc, libm, jansson); reusable by
 * any module that counts deadlines in working days (services, Open311, ...).
 *
 * Days are Julian Day Numbers (int32_t "jdn"; 2440588 = 1970-01-01), always in
 * Vietnam time (UTC+7). Instants are milliseconds since the epoch (int64_t).
 *
 * Lunar calendar: the Hồ Ngọc Đức algorithm (new moons and sun longitude after Jean
 * Meeus, time zone UTC+7, leap month = the first month without a major solar term in a
 * lunar year of 13 months). Valid for 1800-2199.
 *
 * Holidays (Labour Code 2019, Art. 112), the default rule for a year:
 *   1 Jan; Tết = the last day of the lunar year + lunar 1/1..1/4 (5 days); Hùng Kings'
 *   day (lunar 10/3); 30 Apr; 1 May; 2 Sep plus one adjacent day (1 Sep when 2 Sep is a
 *   Tuesday, Friday or Saturday, else 3 Sep); a holiday falling on Saturday/Sunday gives
 *   a compensatory day off on the next working day after the block (Art. 112(3)).
 * Yearly overrides (the government's decisions) then correct the rule:
 *   {"year": 2024,
 *    "tet": {"from": "2024-02-08", "to": "2024-02-14", "source": "..."},   replaces
 *            the default Tết days and their compensation by exactly that range;
 *    "off":  [{"date": "2024-04-29", "name": "...", "source": "..."}],  extra days off;
 *    "work": [{"date": "2024-05-04", "name": "...", "source": "..."}]}  working days
 *            (a swapped Saturday, or a default day off cancelled).
 * "work" wins over everything, then "off", then holidays, then weekends.
 * A file holds {"office_hours": {"open": "08:00", "close": "17:00"}, "years": [...]}.
 *
 * Office hours: a submission at or after closing time, before opening time, or on a
 * day that is not a working day counts from the next working day's opening.
 * A deadline of N working days from an effective start on working day S ends at the
 * closing time of the N-th working day after S (N = 0: S itself).
 *
 * Ownership and threads: a calendar_t is built by one thread (calendar_new, then
 * calendar_set_year / calendar_load_*), after which it is read-only and may be shared.
 * Errors: functions returning int give 0 or -1 with a one-line English reason in `why`
 * (for overrides it names the path, e.g. "years[2].off[0].date: not a date").
 */
#ifndef CITYOS_CALENDAR_H
#define CITYOS_CALENDAR_H

#include <jansson.h>
#include "base/common.h"

#define CALENDAR_TZ_HOURS 7
#define CALENDAR_JDN_EPOCH 2440588   /* 1970-01-01 */

/* --- days ----------------------------------------------------------------------------- */
int32_t calendar_jdn(int y, int m, int d);
void calendar_ymd(int32_t jdn, int *y, int *m, int *d);
int calendar_weekday(int32_t jdn);                 /* 0 Monday .. 6 Sunday */
/* "YYYY-MM-DD" -> jdn; -1 when malformed or not a real date. */
int calendar_parse_date(const char *s, int32_t *out);
/* jdn -> "YYYY-MM-DD" (out >= 11 bytes). */
void calendar_format_date(int32_t jdn, char *out, size_t outlen);
/* The Vietnam-time day of an instant, and minutes since local midnight. */
int32_t calendar_jdn_of_ms(int64_t t_ms);
int calendar_minute_of_ms(int64_t t_ms);
/* The instant of minute `minute` of day jdn, Vietnam time. */
int64_t calendar_ms_of(int32_t jdn, int minute);

/* --- lunar calendar ----------------------------------------------------------------- */
typedef struct {
  int year, month, day;   /* lunar year is the year in which its month 1 begins */
  bool leap;              /* a leap (intercalary) month */
} calendar_lunar_t;

void calendar_solar_to_lunar(int32_t jdn, calendar_lunar_t *out);
/* The solar day of a lunar date; -1 when it does not exist (e.g. a leap month that
 * year does not have). */
int32_t calendar_lunar_to_solar(const calendar_lunar_t *l);
int32_t calendar_tet(int year);          /* lunar 1/1 falling in solar `year` */
int32_t calendar_hung_kings(int year);   /* lunar 10/3 */

/* --- the working-day calendar --------------------------------------------------------- */
typedef struct calendar calendar_t;

typedef struct {
  int32_t jdn;
  const char *name;   /* Vietnamese name; owned by the calendar */
  bool working;       /* only for calendar_day_info: a forced working day */
} calendar_day_t;

calendar_t *calendar_new(void);          /* default rules, office hours 08:00-17:00 */
void calendar_free(calendar_t *c);
/* Office hours as minutes after midnight; 0 <= open < close <= 1440. */
int calendar_set_office_hours(calendar_t *c, int open_min, int close_min);
void calendar_office_hours(const calendar_t *c, int *open_min, int *close_min);
/* Adds or replaces one year's overrides (see above). Validates the whole object
 * first: on error nothing changes. `path` prefixes messages ("years[3]"), may be NULL. */
int calendar_set_year(calendar_t *c, const json_t *year, const char *path, char *why, size_t whylen);
/* Removes a year's overrides (back to the default rule). */
void calendar_clear_year(calendar_t *c, int year);
/* A year's overrides as JSON (new reference), or NULL when it has none. */
json_t *calendar_year_json(const calendar_t *c, int year);
/* A whole overrides document (office_hours + years), e.g. data/calendar/overrides.json. */
int calendar_load_json(calendar_t *c, const json_t *doc, char *why, size_t whylen);
int calendar_load_file(calendar_t *c, const char *path, char *why, size_t whylen);
/* Validates one year object without a calendar (API input). */
int calendar_check_year(const json_t *year, int expect_year, char *why, size_t whylen);

bool calendar_is_working_day(const calendar_t *c, int32_t jdn);
/* The name of a day off ("Tết Nguyên đán", "Thứ Bảy", ...) or of a forced working day;
 * false when it is an ordinary working day. */
bool calendar_day_info(const calendar_t *c, int32_t jdn, calendar_day_t *out);
/* Every day off of `year` that is not an ordinary weekend (holidays, compensation,
 * extra days off), in date order, up to max. Returns the number found (may exceed max). */
size_t calendar_days_off(const calendar_t *c, int year, calendar_day_t *out, size_t max);
/* jdn + n working days (n >= 0; n = 0 gives jdn when it is a working day, else the
 * next one). */
int32_t calendar_add_working_days(const calendar_t *c, int32_t jdn, int n);
/* Working days in (from, to]; 0 when to <= from. */
int calendar_working_days_between(const calendar_t *c, int32_t from, int32_t to);
/* The instant from which a submission at t counts (itself during office hours of a
 * working day, else the next working day's opening). */
int64_t calendar_effective_start(const calendar_t *c, int64_t t_ms);
/* The due instant of `days` working days from a submission at t (closing time). */
int64_t calendar_due(const calendar_t *c, int64_t t_ms, int days);
/* The same with a deadline in office minutes (a share of a deadline): the closing time
 * of the effective start day plus `minutes` of office time, so N x (close - open)
 * minutes give calendar_due(t, N) and 0 gives that closing time. */
int64_t calendar_due_minutes(const calendar_t *c, int64_t t_ms, int64_t minutes);

#endif
