/*
 * services_internal.h - shared between the services module's files (not a contract for
 * other modules: those use calendar.h, calendar_store.h, vietqr.h).
 */
#ifndef CITYOS_SERVICES_INTERNAL_H
#define CITYOS_SERVICES_INTERNAL_H

#include "base/common.h"
#include "app.h"
#include "http/http.h"
#include "module.h"
#include "services/calendar.h"

/* The deployment's calendar (file + database), or NULL after answering 500. */
calendar_t *services_calendar(http_req_t *req, db_t *db);

/* Route handlers. */
void services_calendar_get(http_req_t *req);
void services_calendar_put(http_req_t *req);
void services_calendar_due(http_req_t *req);
void services_procedures_list(http_req_t *req);
void services_procedures_get(http_req_t *req);
void services_procedures_import(http_req_t *req);

/* CLI. */
int services_cli_calendar(app_t *app, int argc, char **argv);
int services_cli_procedures(app_t *app, int argc, char **argv);

const db_migration_t *services_migrations(db_kind_t kind, size_t *n);

#endif
