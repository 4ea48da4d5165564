/*
 * calendar_lunar.c - day numbers and the Vietnamese lunar calendar (UTC+7), after
 * Hồ Ngọc Đức's "Âm lịch Việt Nam" algorithm (astronomical formulas from Jean Meeus,
 * "Astronomical Algorithms", 1998).
 */
#include "base/common.h"
#include "services/calendar.h"
#include <math.h>

#define CAL_PI 3.14159265358979323846
#define TZ ((double)CALENDAR_TZ_HOURS)
#define SYNODIC 29.530588853
#define K0 2415021.076998695   /* new moon of 1900-01-01 */

int32_t calendar_jdn(int y, int m, int d) {
  int a = (14 - m) / 12;
  int yy = y + 4800 - a;
  int mm = m + 12 * a - 3;
  return d + (153 * mm + 2) / 5 + 365 * yy + yy / 4 - yy / 100 + yy / 400 - 32045;
}

void calendar_ymd(int32_t jdn, int *y, int *m, int *d) {
  int a = jdn + 32044;
  int b = (4 * a + 3) / 146097;
  int c = a - b * 146097 / 4;
  int dd = (4 * c + 3) / 1461;
  int e = c - 1461 * dd / 4;
  int mm = (5 * e + 2) / 153;
  *d = e - (153 * mm + 2) / 5 + 1;
  *m = mm + 3 - 12 * (mm / 10);
  *y = b * 100 + dd - 4800 + mm / 10;
}

int calendar_weekday(int32_t jdn) { return (int)(((jdn % 7) + 7) % 7); }

int calendar_parse_date(const char *s, int32_t *out) {
  if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return -1;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return -1;
  int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  int m = (s[5] - '0') * 10 + (s[6] - '0');
  int d = (s[8] - '0') * 10 + (s[9] - '0');
  if (y < 1800 || y > 2199 || m < 1 || m > 12 || d < 1 || d > 31) return -1;
  int32_t j = calendar_jdn(y, m, d);
  int y2, m2, d2;
  calendar_ymd(j, &y2, &m2, &d2);
  if (y2 != y || m2 != m || d2 != d) return -1;
  *out = j;
  return 0;
}

void calendar_format_date(int32_t jdn, char *out, size_t outlen) {
  int y, m, d;
  calendar_ymd(jdn, &y, &m, &d);
  snprintf(out, outlen, "%04d-%02d-%02d", y, m, d);
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int32_t calendar_jdn_of_ms(int64_t t_ms) {
  int64_t local_s = floor_div(t_ms, 1000) + CALENDAR_TZ_HOURS * 3600;
  return (int32_t)(floor_div(local_s, 86400) + CALENDAR_JDN_EPOCH);
}

int calendar_minute_of_ms(int64_t t_ms) {
  int64_t local_s = floor_div(t_ms, 1000) + CALENDAR_TZ_HOURS * 3600;
  return (int)((local_s - floor_div(local_s, 86400) * 86400) / 60);
}

int64_t calendar_ms_of(int32_t jdn, int minute) {
  int64_t s = ((int64_t)jdn - CALENDAR_JDN_EPOCH) * 86400 + (int64_t)minute * 60 - CALENDAR_TZ_HOURS * 3600;
  return s * 1000;
}

/* --- astronomy -------------------------------------------------------------------- */

/* Julian day of the k-th new moon after 1900-01-01 (Meeus, ch. 49, simplified). */
static double new_moon(int k) {
  double T = k / 1236.85, T2 = T * T, T3 = T2 * T, dr = CAL_PI / 180;
  double jd1 = 2415020.75933 + 29.53058868 * k + 0.0001178 * T2 - 0.000000155 * T3;
  jd1 += 0.00033 * sin((166.56 + 132.87 * T - 0.009173 * T2) * dr);
  double M = 359.2242 + 29.10535608 * k - 0.0000333 * T2 - 0.00000347 * T3;
  double Mpr = 306.0253 + 385.81691806 * k + 0.0107306 * T2 + 0.00001236 * T3;
  double F = 21.2964 + 390.67050646 * k - 0.0016528 * T2 - 0.00000239 * T3;
  double C1 = (0.1734 - 0.000393 * T) * sin(M * dr) + 0.0021 * sin(2 * dr * M);
  C1 = C1 - 0.4068 * sin(Mpr * dr) + 0.0161 * sin(dr * 2 * Mpr);
  C1 = C1 - 0.0004 * sin(dr * 3 * Mpr);
  C1 = C1 + 0.0104 * sin(dr * 2 * F) - 0.0051 * sin(dr * (M + Mpr));
  C1 = C1 - 0.0074 * sin(dr * (M - Mpr)) + 0.0004 * sin(dr * (2 * F + M));
  C1 = C1 - 0.0004 * sin(dr * (2 * F - M)) - 0.0006 * sin(dr * (2 * F + Mpr));
  C1 = C1 + 0.0010 * sin(dr * (2 * F - Mpr)) + 0.0005 * sin(dr * (2 * Mpr + M));
  double deltat;
  if (T < -11)
    deltat = 0.001 + 0.000839 * T + 0.0002261 * T2 - 0.00000845 * T3 - 0.000000081 * T * T3;
  else
    deltat = -0.000278 + 0.000265 * T + 0.000262 * T2;
  return jd1 + C1 - deltat;
}

/* Sun's apparent longitude in radians [0, 2pi) at Julian day jdn (Meeus, ch. 25). */
static double sun_longitude(double jdn) {
  double T = (jdn - 2451545.0) / 36525, T2 = T * T, dr = CAL_PI / 180;
  double M = 357.52910 + 35999.05030 * T - 0.0001559 * T2 - 0.00000048 * T * T2;
  double L0 = 280.46645 + 36000.76983 * T + 0.0003032 * T2;
  double DL = (1.914600 - 0.004817 * T - 0.000014 * T2) * sin(dr * M);
  DL = DL + (0.019993 - 0.000101 * T) * sin(dr * 2 * M) + 0.000290 * sin(dr * 3 * M);
  double L = (L0 + DL) * dr;
  L = L - CAL_PI * 2 * floor(L / (CAL_PI * 2));
  return L;
}

/* The solar term sector (0..11, 30 degrees each) at the start of local day jdn. */
static int sun_sector(int32_t jdn) { return (int)floor(sun_longitude(jdn - 0.5 - TZ / 24) / CAL_PI * 6); }

static int32_t new_moon_day(int k) { return (int32_t)floor(new_moon(k) + 0.5 + TZ / 24); }

/* The first day of lunar month 11 (the month holding the winter solstice) of year y. */
static int32_t lunar_month11(int y) {
  double off = calendar_jdn(y, 12, 31) - 2415021;
  int k = (int)floor(off / SYNODIC);
  int32_t nm = new_moon_day(k);
  if (sun_sector(nm) >= 9) nm = new_moon_day(k - 1);
  return nm;
}

/* Offset after month 11 of the leap month in the 13-month year starting at a11. */
static int leap_month_offset(int32_t a11) {
  int k = (int)floor((a11 - K0) / SYNODIC + 0.5);
  int i = 1, last;
  int arc = sun_sector(new_moon_day(k + i));
  do {
    last = arc;
    i++;
    arc = sun_sector(new_moon_day(k + i));
  } while (arc != last && i < 14);
  return i - 1;
}

void calendar_solar_to_lunar(int32_t jdn, calendar_lunar_t *out) {
  int y, m, d;
  calendar_ymd(jdn, &y, &m, &d);
  int k = (int)floor((jdn - K0) / SYNODIC);
  int32_t month_start = new_moon_day(k + 1);
  if (month_start > jdn) month_start = new_moon_day(k);
  int32_t a11 = lunar_month11(y), b11 = a11;
  int lyear;
  if (a11 >= month_start) {
    lyear = y;
    a11 = lunar_month11(y - 1);
  } else {
    lyear = y + 1;
    b11 = lunar_month11(y + 1);
  }
  int lday = jdn - month_start + 1;
  int diff = (int)floor((month_start - a11) / 29.0);
  bool leap = false;
  int lmonth = diff + 11;
  if (b11 - a11 > 365) {
    int leap_diff = leap_month_offset(a11);
    if (diff >= leap_diff) {
      lmonth = diff + 10;
      if (diff == leap_diff) leap = true;
    }
  }
  if (lmonth > 12) lmonth -= 12;
  if (lmonth >= 11 && diff < 4) lyear -= 1;
  out->year = lyear;
  out->month = lmonth;
  out->day = lday;
  out->leap = leap;
}

int32_t calendar_lunar_to_solar(const calendar_lunar_t *l) {
  if (l->month < 1 || l->month > 12 || l->day < 1 || l->day > 30) return -1;
  int32_t a11, b11;
  if (l->month < 11) {
    a11 = lunar_month11(l->year - 1);
    b11 = lunar_month11(l->year);
  } else {
    a11 = lunar_month11(l->year);
    b11 = lunar_month11(l->year + 1);
  }
  int k = (int)floor(0.5 + (a11 - K0) / SYNODIC);
  int off = l->month - 11;
  if (off < 0) off += 12;
  if (b11 - a11 > 365) {
    int leap_off = leap_month_offset(a11);
    int leap_month = leap_off - 2;
    if (leap_month < 0) leap_month += 12;
    if (l->leap && l->month != leap_month) return -1;
    if (l->leap || off >= leap_off) off += 1;
  } else if (l->leap) {
    return -1;
  }
  int32_t month_start = new_moon_day(k + off);
  int32_t next_start = new_moon_day(k + off + 1);
  if (month_start + l->day - 1 >= next_start) return -1;   /* day 30 of a 29-day month */
  return month_start + l->day - 1;
}

int32_t calendar_tet(int year) {
  calendar_lunar_t l = {.year = year, .month = 1, .day = 1, .leap = false};
  return calendar_lunar_to_solar(&l);
}

int32_t calendar_hung_kings(int year) {
  calendar_lunar_t l = {.year = year, .month = 3, .day = 10, .leap = false};
  return calendar_lunar_to_solar(&l);
}
