/*
 * calendar_internal.h - the calendar's representation, shared by calendar.c (overrides)
 * and calendar_days.c (tables and arithmetic). Not part of the contract.
 */
#ifndef CITYOS_CALENDAR_INTERNAL_H
#define CITYOS_CALENDAR_INTERNAL_H

#include "base/common.h"
#include "services/calendar.h"
#include <pthread.h>

#define CAL_MIN_YEAR 1800
#define CAL_MAX_YEAR 2199
#define CAL_YEARS (CAL_MAX_YEAR - CAL_MIN_YEAR + 1)
#define CAL_MAX_DAYS 96
#define CAL_MAX_OVERRIDE 64

typedef struct {
  int32_t jdn;
  char *name;
} named_day_t;

typedef struct {
  int year;
  json_t *doc;
  int32_t tet_from, tet_to;
  named_day_t off[CAL_MAX_OVERRIDE];
  size_t noff;
  named_day_t work[CAL_MAX_OVERRIDE];
  size_t nwork;
} year_override_t;

typedef struct {
  size_t n;
  calendar_day_t days[CAL_MAX_DAYS];
} year_table_t;

struct calendar {
  int open_min, close_min;
  year_override_t *ovr[CAL_YEARS];
  year_table_t *table[CAL_YEARS];
  pthread_mutex_t mu;
};

#endif
