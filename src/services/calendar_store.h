/*
 * calendar_store.h - the effective working-day calendar of a deployment: the shipped
 * overrides file (<data_dir>/calendar/overrides.json) corrected by the years an
 * administrator stored through PUT /api/v1/calendar/{year} (table calendar_overrides,
 * created by the services module's migrations). A year in the table replaces the same
 * year of the file.
 *
 * Any module may use it (services, Open311). The caller owns the returned calendar
 * (calendar_free). Errors: NULL with a reason in `why` (a broken file names its line
 * and path; a database failure says so).
 */
#ifndef CITYOS_CALENDAR_STORE_H
#define CITYOS_CALENDAR_STORE_H

#include "base/common.h"
#include "services/calendar.h"
#include "store/db.h"

calendar_t *calendar_store_load(db_t *db, const char *data_dir, char *why, size_t whylen);

/* Stores (replaces) one year's overrides, already checked with calendar_check_year.
 * Inside the caller's transaction. 0 or -1 (db_errmsg). */
int calendar_store_put(db_t *db, int year, const json_t *overrides, int64_t actor_id);
/* 1 when the year has a stored row (fills *out with a new reference), 0 when not,
 * -1 on a database error. */
int calendar_store_get(db_t *db, int year, json_t **out);

#endif
