#include "base/common.h"
#include "sensors/sensors.h"
#include "sensors/sensors_internal.h"
#include "check.h"

#include <math.h>

static void test_aqi_example_and_edges(void)
{
  /* Decision 1459's example: PM2.5 24-hour mean 55.7 µg/m³ -> 110. */
  CHECK_INT_EQ(sensors_aqi_sub(SENSORS_PM25, 55.7), 110);
  sensors_aqi_t a;
  sensors_aqi_daily(NAN, NAN, NAN, NAN, NAN, NAN, 55.7, &a);
  CHECK_INT_EQ(a.aqi, 110);
  CHECK_STR_EQ(a.dominant, "pm25");
  /* Band edges: each breakpoint gives exactly its index. */
  static const double pm25[] = {0, 25, 50, 80, 150, 250, 350, 500};
  static const double pm10[] = {0, 50, 150, 250, 350, 420, 500, 600};
  static const double co[] = {0, 10000, 30000, 45000, 60000, 90000, 120000, 150000};
  static const int idx[] = {0, 50, 100, 150, 200, 300, 400, 500};
  for (int i = 0; i < 8; i++) {
    CHECK_INT_EQ(sensors_aqi_sub(SENSORS_PM25, pm25[i]), idx[i]);
    CHECK_INT_EQ(sensors_aqi_sub(SENSORS_PM10, pm10[i]), idx[i]);
    CHECK_INT_EQ(sensors_aqi_sub(SENSORS_CO, co[i]), idx[i]);
  }
  /* Just above an edge starts the next segment; rounding half up. */
  CHECK_INT_EQ(sensors_aqi_sub(SENSORS_PM25, 25.1), 50);    /* 50.2 -> 50 */
  CHECK_INT_EQ(sensors_aqi_sub(SENSORS_PM25, 25.3), 51);    /* 50.6 -> 51 */
  CHECK_INT_EQ(sensors_aqi_sub(SENSORS_PM25, 12.5), 25);
  CHECK_INT_EQ(sensors_aqi_sub(SENSORS_NO2, 150), 75);
  CHECK_INT_EQ(sensors_aqi_sub(SENSORS_SO2, 237.5), 75);
  CHECK_INT_EQ(sensors_aqi_sub(SENSORS_O3_1H, 180), 75);
  CHECK_INT_EQ(sensors_aqi_sub(SENSORS_PM25, 900), 500);
  CHECK_INT_EQ(sensors_aqi_sub(SENSORS_PM25, -1), -1);
  CHECK_INT_EQ(sensors_aqi_sub(SENSORS_PM25, NAN), -1);
  /* O3 8h has no index above 400 µg/m³. */
  CHECK_INT_EQ(sensors_aqi_sub(SENSORS_O3_8H, 400), 300);
  CHECK_INT_EQ(sensors_aqi_sub(SENSORS_O3_8H, 401), -1);
  /* Bands. */
  const char *en = NULL, *col = NULL;
  CHECK_STR_EQ(sensors_aqi_band(50, &en, &col), "Tốt");
  CHECK_STR_EQ(sensors_aqi_band(51, &en, &col), "Trung bình");
  CHECK_STR_EQ(sensors_aqi_band(110, &en, &col), "Kém");
  CHECK_STR_EQ(en, "Poor");
  CHECK_STR_EQ(sensors_aqi_band(151, NULL, NULL), "Xấu");
  CHECK_STR_EQ(sensors_aqi_band(300, NULL, NULL), "Rất xấu");
  CHECK_STR_EQ(sensors_aqi_band(301, NULL, NULL), "Nguy hại");
  CHECK(sensors_aqi_band(-1, NULL, NULL) == NULL);
  /* AQI needs PM: gases alone give no index. */
  sensors_aqi_daily(180, NAN, NAN, NAN, NAN, NAN, NAN, &a);
  CHECK_INT_EQ(a.aqi, -1);
  CHECK_INT_EQ(a.sub[SENSORS_O3_1H], 75);
  /* The largest sub-index wins. */
  sensors_aqi_daily(NAN, NAN, NAN, NAN, 1200, 50, 25, &a);
  CHECK_INT_EQ(a.aqi, 200);
  CHECK_STR_EQ(a.dominant, "no2");
}

static void test_nowcast(void)
{
  /* Constant series: NowCast = the value. */
  double c[12];
  for (int i = 0; i < 12; i++) c[i] = 40;
  CHECK(fabs(sensors_nowcast(c, 12) - 40) < 1e-9);
  /* w > 1/2: weighted mean with weights w^(i-1). Series 60, 40, 40, ... (w = 40/60). */
  c[0] = 60;
  double w = 40.0 / 60.0, num = 0, den = 0, f = 1;
  for (int i = 0; i < 12; i++, f *= w) num += f * c[i], den += f;
  CHECK(fabs(sensors_nowcast(c, 12) - num / den) < 1e-9);
  /* w <= 1/2 and all 12 hours: the decision's sum of (1/2)^i * c_i. */
  c[0] = 100;
  for (int i = 1; i < 12; i++) c[i] = 10;
  double s = 0;
  f = 0.5;
  for (int i = 0; i < 12; i++, f *= 0.5) s += f * c[i];
  CHECK(fabs(sensors_nowcast(c, 12) - s) < 1e-9);
  /* Needs 2 of the latest 3 hours. */
  double d[3] = {NAN, NAN, 30};
  CHECK(sensors_nowcast(d, 3) < 0);
  double e[3] = {NAN, 30, 30};
  CHECK(fabs(sensors_nowcast(e, 3) - 30) < 1e-9);
  /* Hourly AQI from NowCast: PM2.5 constant 55.7 -> 110. */
  double pm[12];
  for (int i = 0; i < 12; i++) pm[i] = 55.7;
  sensors_aqi_t a;
  sensors_aqi_hourly(NAN, NAN, NAN, NAN, NULL, 0, pm, 12, &a);
  CHECK_INT_EQ(a.aqi, 110);
  CHECK_INT_EQ(a.sub[SENSORS_PM25], 110);
  CHECK_INT_EQ(a.sub[SENSORS_PM10], -1);
}

static int validate(const char *type, const char *text, int64_t now, char *why)
{
  json_error_t err;
  json_t *j = json_loads(text, 0, &err);
  sensors_obs_t o;
  int rc = sensors_validate_obs(sensors_type_find(type), j, now, 86400000LL, &o, why, 120);
  json_decref(j);
  return rc;
}

static void test_validation(void)
{
  char why[120];
  int64_t now = 1800000000000LL;
  CHECK_INT_EQ(validate("AirQualityObserved", "{\"ts\":1800000000000,\"values\":{\"pm25\":55.7,\"pm10\":80}}", now, why), 0);
  CHECK_INT_EQ(validate("AirQualityObserved", "{\"values\":{\"pm25\":{\"value\":5,\"unit\":\"µg/m³\"}}}", now, why), 0);
  CHECK_INT_EQ(validate("AirQualityObserved", "{\"values\":{\"pm25\":{\"value\":5,\"unit\":\"ppm\"}}}", now, why), -1);
  CHECK(strncmp(why, "unit_mismatch", 13) == 0);
  CHECK_INT_EQ(validate("AirQualityObserved", "{\"values\":{\"pm25\":-3}}", now, why), -1);
  CHECK_STR_EQ(why, "out_of_range: pm25");
  CHECK_INT_EQ(validate("AirQualityObserved", "{\"values\":{\"pm25\":1001}}", now, why), -1);
  CHECK_INT_EQ(validate("AirQualityObserved", "{\"values\":{\"speed\":3}}", now, why), -1);
  CHECK_STR_EQ(why, "unknown_attribute: speed");
  CHECK_INT_EQ(validate("AirQualityObserved", "{\"values\":{\"pm25\":\"x\"}}", now, why), -1);
  CHECK_INT_EQ(validate("AirQualityObserved", "{\"values\":{}}", now, why), -1);
  CHECK_STR_EQ(why, "no_values");
  CHECK_INT_EQ(validate("AirQualityObserved", "{\"ts\":1800000600000,\"values\":{\"pm25\":1}}", now, why), -1);
  CHECK_STR_EQ(why, "timestamp_in_future");
  CHECK_INT_EQ(validate("AirQualityObserved", "{\"ts\":1800000200000,\"values\":{\"pm25\":1}}", now, why), 0);
  CHECK_INT_EQ(validate("AirQualityObserved", "{\"ts\":1799900000000,\"values\":{\"pm25\":1}}", now, why), -1);
  CHECK_STR_EQ(why, "timestamp_too_old");
  CHECK_INT_EQ(validate("AirQualityObserved", "{\"ts\":\"now\",\"values\":{\"pm25\":1}}", now, why), -1);
  CHECK_INT_EQ(validate("AirQualityObserved", "{\"extra\":1,\"values\":{\"pm25\":1}}", now, why), -1);
  CHECK_INT_EQ(validate("Streetlight", "{\"values\":{\"powerState\":\"low\",\"illuminanceLevel\":0.4}}", now, why), 0);
  CHECK_INT_EQ(validate("Streetlight", "{\"values\":{\"powerState\":\"dim\"}}", now, why), -1);
  CHECK_INT_EQ(validate("TrafficFlowObserved", "{\"values\":{\"congested\":true,\"occupancy\":0.7}}", now, why), 0);
  CHECK_INT_EQ(validate("TrafficFlowObserved", "{\"values\":{\"occupancy\":1.5}}", now, why), -1);
  CHECK_INT_EQ(validate("NoSuchType", "{\"values\":{\"x\":1}}", now, why), -1);
  CHECK(sensors_id_valid("aq-hk.01_x"));
  CHECK(!sensors_id_valid("a/b"));
  CHECK(!sensors_id_valid("+"));
  CHECK(!sensors_id_valid(""));
}

static void test_resolution(void)
{
  CHECK(sensors_pick_resolution("auto", 0, 3600000) == 0);
  CHECK(sensors_pick_resolution(NULL, 0, 6 * 3600000LL) == 0);
  CHECK(sensors_pick_resolution(NULL, 0, 6 * 3600000LL + 1) == 60000);
  CHECK(sensors_pick_resolution(NULL, 0, 7 * 86400000LL) == 60000);
  CHECK(sensors_pick_resolution(NULL, 0, 8 * 86400000LL) == 3600000);
  CHECK(sensors_pick_resolution("1h", 0, 10) == 3600000);
  CHECK(sensors_pick_resolution("raw", 0, 10 * 86400000LL) == 0);
  CHECK(sensors_pick_resolution("5m", 0, 10) == -1);
}

int main(void)
{
  test_aqi_example_and_edges();
  test_nowcast();
  test_validation();
  test_resolution();
  return check_summary();
}
