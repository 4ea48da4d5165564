#include "base/common.h"
#include "sensors/sensors_sched.h"

#include <math.h>

/* NOAA solar calculator (https://gml.noaa.gov/grad/solcalc/), spreadsheet version. */

#define RAD(x) ((x) * M_PI / 180.0)
#define DEG(x) ((x) * 180.0 / M_PI)

/* Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

int sensors_sun_times(int y, int m, int d, double lat, double lon, double tz_hours, double *rise_min,
                      double *set_min)
{
  /* Julian day at local noon of that date. */
  double jd = (double)days_from_civil(y, m, d) + 2440587.5 + 0.5 - tz_hours / 24.0;
  double t = (jd - 2451545.0) / 36525.0;
  double l0 = fmod(280.46646 + t * (36000.76983 + t * 0.0003032), 360.0);
  double ma = 357.52911 + t * (35999.05029 - 0.0001537 * t);
  double e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t);
  double c = sin(RAD(ma)) * (1.914602 - t * (0.004817 + 0.000014 * t)) + sin(RAD(2 * ma)) * (0.019993 - 0.000101 * t) +
             sin(RAD(3 * ma)) * 0.000289;
  double omega = 125.04 - 1934.136 * t;
  double app_long = l0 + c - 0.00569 - 0.00478 * sin(RAD(omega));
  double obliq0 = 23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60.0) / 60.0;
  double obliq = obliq0 + 0.00256 * cos(RAD(omega));
  double decl = DEG(asin(sin(RAD(obliq)) * sin(RAD(app_long))));
  double vy = tan(RAD(obliq / 2)) * tan(RAD(obliq / 2));
  double eqt = 4 * DEG(vy * sin(2 * RAD(l0)) - 2 * e * sin(RAD(ma)) + 4 * e * vy * sin(RAD(ma)) * cos(2 * RAD(l0)) -
                       0.5 * vy * vy * sin(4 * RAD(l0)) - 1.25 * e * e * sin(2 * RAD(ma)));
  double cos_ha = cos(RAD(90.833)) / (cos(RAD(lat)) * cos(RAD(decl))) - tan(RAD(lat)) * tan(RAD(decl));
  if (cos_ha < -1 || cos_ha > 1) return -1;
  double ha = DEG(acos(cos_ha));
  double noon = 720 - 4 * lon - eqt + tz_hours * 60;
  *rise_min = noon - 4 * ha;
  *set_min = noon + 4 * ha;
  return 0;
}

int64_t sensors_sched_next(sensors_trigger_t kind, int minute_of_day, int offset_min, int64_t after)
{
  const int64_t day_ms = 86400000LL, tz_ms = SENSORS_HANOI_TZ_H * 3600000LL;
  int64_t local = after + tz_ms;
  int64_t today = (local >= 0 ? local : local - day_ms + 1) / day_ms;
  for (int64_t day = today - 1; day <= today + 3; day++) {
    double minutes = minute_of_day;
    if (kind != SENSORS_AT_TIME) {
      int y, m, d;
      double rise, set;
      civil_from_days(day, &y, &m, &d);
      if (sensors_sun_times(y, m, d, SENSORS_HANOI_LAT, SENSORS_HANOI_LON, SENSORS_HANOI_TZ_H, &rise, &set)) continue;
      minutes = kind == SENSORS_AT_SUNSET ? set : rise;
    }
    /* Whole minutes: a firing at 18:41:00, not 18:41:27. */
    int64_t at = day * day_ms - tz_ms + ((int64_t)floor(minutes + 0.5) + offset_min) * 60000LL;
    if (at > after) return at;
  }
  return after + day_ms;   /* unreachable at Hanoi's latitude */
}
