#include "base/common.h"
#include "sensors/sensors.h"

#include <math.h>

/*
 * The device-type catalogue (FIWARE Smart Data Models attribute names and units) and
 * the validation of one observation. Pure: no database, no clock.
 */

static const char *const POWER_STATE[] = {"off", "on", "low", NULL};
static const char *const SPOT_STATUS[] = {"free", "occupied", "closed", NULL};
static const char *const BOOL_WORDS[] = {"false", "true", NULL};

#define UG "µg/m³"
static const sensors_attr_t AIR[] = {
  {"pm25", UG, 0, 1000, NULL},      {"pm10", UG, 0, 2000, NULL},
  {"no2", UG, 0, 5000, NULL},       {"so2", UG, 0, 5000, NULL},
  {"o3", UG, 0, 2000, NULL},        {"co", UG, 0, 200000, NULL},
  {"temperature", "°C", -10, 60, NULL}, {"relativeHumidity", "1", 0, 1, NULL},
};
static const sensors_attr_t TRAFFIC[] = {
  {"intensity", "vehicles", 0, 100000, NULL}, {"occupancy", "1", 0, 1, NULL},
  {"averageVehicleSpeed", "km/h", 0, 200, NULL}, {"congested", "bool", 0, 1, BOOL_WORDS},
};
static const sensors_attr_t FLOOD[] = {
  {"currentLevel", "m", -5, 30, NULL}, {"alertLevel", "m", -5, 30, NULL},
  {"dangerLevel", "m", -5, 30, NULL},  {"precipitation", "mm", 0, 500, NULL},
};
static const sensors_attr_t WATER[] = {
  {"pH", "pH", 0, 14, NULL},           {"temperature", "°C", 0, 50, NULL},
  {"turbidity", "NTU", 0, 4000, NULL}, {"conductivity", "S/m", 0, 20, NULL},
  {"O2", "mg/L", 0, 25, NULL},         {"NH4", "mg/L", 0, 100, NULL},
};
static const sensors_attr_t LIGHT[] = {
  {"powerState", "state", 0, 2, POWER_STATE}, {"illuminanceLevel", "1", 0, 1, NULL},
  {"powerConsumption", "W", 0, 5000, NULL},
};
static const sensors_attr_t WASTE[] = {
  {"fillingLevel", "1", 0, 1, NULL}, {"temperature", "°C", -10, 90, NULL},
};
static const sensors_attr_t PARKING[] = {
  {"status", "state", 0, 2, SPOT_STATUS},
};

static const sensors_type_t TYPES[] = {
  {"AirQualityObserved", ARRAY_LEN(AIR), AIR},
  {"TrafficFlowObserved", ARRAY_LEN(TRAFFIC), TRAFFIC},
  {"FloodMonitoring", ARRAY_LEN(FLOOD), FLOOD},
  {"WaterQualityObserved", ARRAY_LEN(WATER), WATER},
  {"Streetlight", ARRAY_LEN(LIGHT), LIGHT},
  {"WasteContainer", ARRAY_LEN(WASTE), WASTE},
  {"ParkingSpot", ARRAY_LEN(PARKING), PARKING},
};

size_t sensors_types(const sensors_type_t **out)
{
  *out = TYPES;
  return ARRAY_LEN(TYPES);
}

const sensors_type_t *sensors_type_find(const char *name)
{
  for (size_t i = 0; name && i < ARRAY_LEN(TYPES); i++)
    if (strcmp(TYPES[i].name, name) == 0) return &TYPES[i];
  return NULL;
}

const sensors_attr_t *sensors_attr_find(const sensors_type_t *t, const char *name)
{
  for (size_t i = 0; t && name && i < t->nattrs; i++)
    if (strcmp(t->attrs[i].name, name) == 0) return &t->attrs[i];
  return NULL;
}

bool sensors_id_valid(const char *id)
{
  if (!id) return false;
  size_t n = strlen(id);
  if (n == 0 || n > SENSORS_ID_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return false;
  }
  return true;
}

/* One attribute value: a number, {"value": number, "unit": text} or an enum word. */
static int value_of(const sensors_attr_t *a, const json_t *v, double *out, char *why, size_t whylen)
{
  if (json_is_object(v)) {
    const json_t *unit = json_object_get(v, "unit");
    if (unit && (!json_is_string(unit) || strcmp(json_string_value(unit), a->unit) != 0)) {
      snprintf(why, whylen, "unit_mismatch: %s (expected %s)", a->name, a->unit);
      return -1;
    }
    v = json_object_get(v, "value");
  }
  if (json_is_boolean(v) && a->enums == BOOL_WORDS) {
    *out = json_is_true(v) ? 1 : 0;
    return 0;
  }
  if (json_is_string(v) && a->enums) {
    for (int i = 0; a->enums[i]; i++) {
      if (strcmp(a->enums[i], json_string_value(v)) == 0) {
        *out = i;
        return 0;
      }
    }
    snprintf(why, whylen, "bad_value: %s", a->name);
    return -1;
  }
  if (!json_is_number(v)) {
    snprintf(why, whylen, "not_a_number: %s", a->name);
    return -1;
  }
  double d = json_number_value(v);
  if (!isfinite(d) || d < a->min || d > a->max) {
    snprintf(why, whylen, "out_of_range: %s", a->name);
    return -1;
  }
  *out = d;
  return 0;
}

int sensors_validate_obs(const sensors_type_t *t, const json_t *obj, int64_t now_ms,
                         int64_t max_age_ms, sensors_obs_t *out, char *why, size_t whylen)
{
  out->n = 0;
  out->ts = now_ms;
  if (!t) {
    snprintf(why, whylen, "unknown_type");
    return -1;
  }
  if (!json_is_object(obj)) {
    snprintf(why, whylen, "not_an_object");
    return -1;
  }
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)obj, key, val) {
    if (strcmp(key, "ts") != 0 && strcmp(key, "values") != 0 && strcmp(key, "seq") != 0) {
      snprintf(why, whylen, "unknown_field: %.60s", key);
      return -1;
    }
  }
  const json_t *ts = json_object_get(obj, "ts");
  if (ts) {
    if (!json_is_integer(ts)) {
      snprintf(why, whylen, "bad_timestamp");
      return -1;
    }
    out->ts = (int64_t)json_integer_value(ts);
    if (out->ts > now_ms + SENSORS_FUTURE_SLACK_MS) {
      snprintf(why, whylen, "timestamp_in_future");
      return -1;
    }
    if (out->ts < now_ms - max_age_ms || out->ts <= 0) {
      snprintf(why, whylen, "timestamp_too_old");
      return -1;
    }
  }
  const json_t *values = json_object_get(obj, "values");
  if (!json_is_object(values) || json_object_size(values) == 0) {
    snprintf(why, whylen, "no_values");
    return -1;
  }
  if (json_object_size(values) > SENSORS_MAX_VALUES) {
    snprintf(why, whylen, "too_many_values");
    return -1;
  }
  json_object_foreach((json_t *)values, key, val) {
    const sensors_attr_t *a = sensors_attr_find(t, key);
    if (!a) {
      snprintf(why, whylen, "unknown_attribute: %.60s", key);
      return -1;
    }
    if (value_of(a, val, &out->v[out->n].value, why, whylen)) return -1;
    out->v[out->n].attr = a->name;
    out->n++;
  }
  return 0;
}
