/*
 * sensors_sched.h - street-light schedules by sunset/sunrise at Hanoi or a fixed time.
 *
 * sensors_sun_times() is the NOAA solar calculator (the spreadsheet algorithm: Julian
 * century, equation of time, declination, hour angle at a zenith of 90.833 degrees for
 * refraction and the solar disc). Pure; accurate to about a minute between ±60 degrees.
 *
 * A schedule (table sensor_schedules) names street lights, an action (on, off, dim with
 * a level) and a trigger: sunset or sunrise at Hanoi plus an offset in minutes, or a
 * fixed local time HH:MM (UTC+7). next_at is its next firing time. The sweeper calls
 * sensors_schedules_run(): in one transaction, under a PostgreSQL advisory lock (one node
 * at a time; SQLite is a single node), each due schedule creates one ordinary command
 * per light (sensor_commands, schedule_id set, not_before = the firing time; a unique
 * index on (schedule_id, device_id, not_before) makes a second copy impossible) and moves
 * next_at to its next occurrence.
 */
#ifndef CITYOS_SENSORS_SCHED_H
#define CITYOS_SENSORS_SCHED_H

#include "base/common.h"
#include "store/db.h"
#include "http/http.h"

#define SENSORS_HANOI_LAT 21.0285
#define SENSORS_HANOI_LON 105.8542
#define SENSORS_HANOI_TZ_H 7

/* Sunrise and sunset of the civil date y-m-d at (lat, lon), in minutes after local
 * midnight of time zone tz_hours. 0, or -1 when the sun neither rises nor sets. */
int sensors_sun_times(int y, int m, int d, double lat, double lon, double tz_hours, double *rise_min,
                      double *set_min);

/* Trigger kinds. */
typedef enum { SENSORS_AT_SUNSET = 1, SENSORS_AT_SUNRISE = 2, SENSORS_AT_TIME = 3 } sensors_trigger_t;

/* The first firing strictly after `after` (ms UTC) of a trigger at Hanoi: sunset or
 * sunrise plus offset_min, or the local time minute_of_day (0..1439) plus offset_min.
 * Pure. */
int64_t sensors_sched_next(sensors_trigger_t kind, int minute_of_day, int offset_min, int64_t after);

/* Fires the due schedules (see above); its own transaction. Count fired, 0 when another
 * node holds the lock, -1 on a database error (logged, rolled back). Schedules more than
 * SENSORS_SCHED_STALE_MS late (the cluster was down) are moved on without firing. */
#define SENSORS_SCHED_STALE_MS (3600 * 1000LL)
int sensors_schedules_run(db_t *db, int64_t now);

/* HTTP: GET/POST /api/v1/sensors/schedules, DELETE /api/v1/sensors/schedules/{id},
 * GET /api/v1/sensors/sun?date=YYYY-MM-DD. */
void sensors_h_schedules_list(http_req_t *req);
void sensors_h_schedule_create(http_req_t *req);
void sensors_h_schedule_delete(http_req_t *req);
void sensors_h_sun(http_req_t *req);

#endif
