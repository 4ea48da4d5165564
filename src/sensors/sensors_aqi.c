#include "base/common.h"
#include "sensors/sensors.h"

#include <math.h>

/*
 * VN_AQI per Decision 1459/QĐ-TCMT (2019): breakpoint table (µg/m³, CO included),
 * linear interpolation, AQI = the largest sub-index; NowCast for PM in the hourly
 * index. See ../shared/guide/vietnam.md and docs/SENSORS.md.
 */

#define NBP 8
static const int AQI_I[NBP] = {0, 50, 100, 150, 200, 300, 400, 500};
/* -1 = no breakpoint (O3 8h above 300). */
static const double AQI_BP[SENSORS_POLLUTANTS][NBP] = {
  [SENSORS_O3_1H] = {0, 160, 200, 300, 400, 800, 1000, 1200},
  [SENSORS_O3_8H] = {0, 100, 120, 170, 210, 400, -1, -1},
  [SENSORS_CO] = {0, 10000, 30000, 45000, 60000, 90000, 120000, 150000},
  [SENSORS_SO2] = {0, 125, 350, 550, 800, 1600, 2100, 2630},
  [SENSORS_NO2] = {0, 100, 200, 700, 1200, 2350, 3100, 3850},
  [SENSORS_PM10] = {0, 50, 150, 250, 350, 420, 500, 600},
  [SENSORS_PM25] = {0, 25, 50, 80, 150, 250, 350, 500},
};
static const char *const POLLUTANT_NAME[SENSORS_POLLUTANTS] = {"o3", "o3", "co", "so2", "no2", "pm10", "pm25"};

/* Round half up, after removing binary noise below 1e-9 (55.7 -> 109.5 exactly -> 110). */
static int round_half_up(double x)
{
  double r = floor(x * 1e9 + 0.5) / 1e9;
  return (int)floor(r + 0.5);
}

int sensors_aqi_sub(sensors_pollutant_t p, double conc)
{
  if ((int)p < 0 || p >= SENSORS_POLLUTANTS || isnan(conc) || conc < 0) return -1;
  const double *bp = AQI_BP[p];
  for (int i = 0; i + 1 < NBP; i++) {
    if (bp[i + 1] < 0) return -1;   /* O3 8h beyond its table: use the 1-hour index */
    if (conc <= bp[i + 1]) {
      double v = (double)(AQI_I[i + 1] - AQI_I[i]) / (bp[i + 1] - bp[i]) * (conc - bp[i]) + AQI_I[i];
      return round_half_up(v);
    }
  }
  return 500;
}

double sensors_nowcast(const double *c, size_t n)
{
  if (n > 12) n = 12;
  int recent = 0;
  for (size_t i = 0; i < n && i < 3; i++)
    if (!isnan(c[i]) && c[i] >= 0) recent++;
  if (recent < 2) return -1;
  double cmin = INFINITY, cmax = -INFINITY;
  bool complete = n == 12;
  for (size_t i = 0; i < n; i++) {
    if (isnan(c[i]) || c[i] < 0) {
      complete = false;
      continue;
    }
    if (c[i] < cmin) cmin = c[i];
    if (c[i] > cmax) cmax = c[i];
  }
  double w = cmax > 0 ? cmin / cmax : 1.0;
  if (w <= 0.5) {
    w = 0.5;
    if (complete) {
      /* The decision's form for w = 1/2: sum of (1/2)^i * c_i, i = 1..12. */
      double s = 0, f = 0.5;
      for (size_t i = 0; i < n; i++, f *= 0.5) s += f * c[i];
      return s;
    }
  }
  double num = 0, den = 0, f = 1.0;
  for (size_t i = 0; i < n; i++, f *= w) {
    if (isnan(c[i]) || c[i] < 0) continue;
    num += f * c[i];
    den += f;
  }
  return den > 0 ? num / den : -1;
}

static void aqi_finish(sensors_aqi_t *out)
{
  out->aqi = -1;
  out->dominant = NULL;
  if (out->sub[SENSORS_PM10] < 0 && out->sub[SENSORS_PM25] < 0) return;   /* PM required */
  for (int p = 0; p < SENSORS_POLLUTANTS; p++) {
    if (out->sub[p] > out->aqi) {
      out->aqi = out->sub[p];
      out->dominant = POLLUTANT_NAME[p];
    }
  }
}

void sensors_aqi_hourly(double o3, double co, double so2, double no2, const double *pm10, size_t n10,
                        const double *pm25, size_t n25, sensors_aqi_t *out)
{
  out->sub[SENSORS_O3_1H] = sensors_aqi_sub(SENSORS_O3_1H, o3);
  out->sub[SENSORS_O3_8H] = -1;
  out->sub[SENSORS_CO] = sensors_aqi_sub(SENSORS_CO, co);
  out->sub[SENSORS_SO2] = sensors_aqi_sub(SENSORS_SO2, so2);
  out->sub[SENSORS_NO2] = sensors_aqi_sub(SENSORS_NO2, no2);
  double nc10 = pm10 && n10 ? sensors_nowcast(pm10, n10) : -1;
  double nc25 = pm25 && n25 ? sensors_nowcast(pm25, n25) : -1;
  out->sub[SENSORS_PM10] = nc10 < 0 ? -1 : sensors_aqi_sub(SENSORS_PM10, nc10);
  out->sub[SENSORS_PM25] = nc25 < 0 ? -1 : sensors_aqi_sub(SENSORS_PM25, nc25);
  aqi_finish(out);
}

void sensors_aqi_daily(double o3_1h_max, double o3_8h_max, double co_1h_max, double so2_1h_max,
                       double no2_1h_max, double pm10_24h, double pm25_24h, sensors_aqi_t *out)
{
  out->sub[SENSORS_O3_1H] = sensors_aqi_sub(SENSORS_O3_1H, o3_1h_max);
  out->sub[SENSORS_O3_8H] = sensors_aqi_sub(SENSORS_O3_8H, o3_8h_max);
  out->sub[SENSORS_CO] = sensors_aqi_sub(SENSORS_CO, co_1h_max);
  out->sub[SENSORS_SO2] = sensors_aqi_sub(SENSORS_SO2, so2_1h_max);
  out->sub[SENSORS_NO2] = sensors_aqi_sub(SENSORS_NO2, no2_1h_max);
  out->sub[SENSORS_PM10] = sensors_aqi_sub(SENSORS_PM10, pm10_24h);
  out->sub[SENSORS_PM25] = sensors_aqi_sub(SENSORS_PM25, pm25_24h);
  aqi_finish(out);
}

const char *sensors_aqi_band(int aqi, const char **en, const char **colour)
{
  static const struct {
    int upto;
    const char *vi, *en, *colour;
  } BANDS[] = {
    {50, "Tốt", "Good", "#00e400"},          {100, "Trung bình", "Moderate", "#ffff00"},
    {150, "Kém", "Poor", "#ff7e00"},         {200, "Xấu", "Bad", "#ff0000"},
    {300, "Rất xấu", "Very bad", "#8f3f97"}, {INT_MAX, "Nguy hại", "Hazardous", "#7e0023"},
  };
  if (aqi < 0) return NULL;
  for (size_t i = 0; i < ARRAY_LEN(BANDS); i++) {
    if (aqi <= BANDS[i].upto) {
      if (en) *en = BANDS[i].en;
      if (colour) *colour = BANDS[i].colour;
      return BANDS[i].vi;
    }
  }
  return NULL;
}
