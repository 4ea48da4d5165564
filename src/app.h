/*
 * app.h - the application context shared by every module at run time.
 *
 * Built once by main.c (app_open) before the server starts, read-only afterwards
 * apart from what the members protect themselves (the pool has its own lock).
 * Handlers reach it as (app_t *)req->app.
 */
#ifndef CITYOS_APP_H
#define CITYOS_APP_H

#include "base/common.h"
#include "config.h"
#include "store/db.h"
#include "http/http.h"

typedef struct units_cache units_cache_t;

typedef struct app {
  config_t *cfg;
  db_pool_t *db;
  units_cache_t *units;     /* the unit hierarchy of every era, in memory */
} app_t;

/* Opens the pool, applies migrations (printing progress to `progress`), loads the
 * units cache. 0 or -1 with a message on stderr. */
int app_open(app_t *app, config_t *cfg, FILE *progress);
void app_close(app_t *app);
/* Applies every registered module's migrations in module order (see module.h).
 * Returns the number applied or -1. */
int app_migrate(db_t *db, FILE *progress);
/* Runs every module's start hook in order (stop hooks in reverse). */
int app_start_modules(app_t *app);
void app_stop_modules(app_t *app);
/* Registers every module's routes on the server. 0 or -1. */
int app_add_routes(http_server_t *s);
/* Hooks for the HTTP core (authentication, permissions, metrics, readiness). */
void app_http_config(app_t *app, http_config_t *hc);

#endif
