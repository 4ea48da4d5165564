#include "base/common.h"
#include "app.h"
#include "base/log.h"
#include "identity/identity.h"
#include "module.h"
#include "units/units.h"

int app_migrate(db_t *db, FILE *progress) {
  const module_t *const *mods;
  size_t nm = modules_all(&mods);
  int total = 0;
  for (size_t i = 0; i < nm; i++) {
    if (!mods[i]->migrations) continue;
    size_t n;
    const db_migration_t *m = mods[i]->migrations(db_kind(db), &n);
    int rc = db_migrate(db, m, n, progress);
    if (rc < 0) return -1;
    total += rc;
  }
  return total;
}

int app_add_routes(http_server_t *s) {
  const module_t *const *mods;
  size_t nm = modules_all(&mods);
  for (size_t i = 0; i < nm; i++) {
    if (!mods[i]->routes) continue;
    size_t n;
    const http_route_t *r = mods[i]->routes(&n);
    if (http_server_add_routes(s, r, n) < 0) return -1;
  }
  return 0;
}

int app_start_modules(app_t *app) {
  const module_t *const *mods;
  size_t nm = modules_all(&mods);
  for (size_t i = 0; i < nm; i++) {
    if (mods[i]->start && mods[i]->start(app) < 0) {
      fprintf(stderr, "cityos: module %s failed to start\n", mods[i]->name);
      while (i-- > 0)
        if (mods[i]->stop) mods[i]->stop(app);
      return -1;
    }
  }
  return 0;
}

void app_stop_modules(app_t *app) {
  const module_t *const *mods;
  size_t nm = modules_all(&mods);
  for (size_t i = nm; i-- > 0;)
    if (mods[i]->stop) mods[i]->stop(app);
}

static void metrics_extra(void *appv, char **out, size_t *len, arena_t *a) {
  app_t *app = appv;
  int size, open, in_use;
  uint64_t waits;
  db_pool_stats(app->db, &size, &open, &in_use, &waits);
  *out = arena_printf(a,
                      "# HELP cityos_db_pool_size Database connections allowed.\n# TYPE cityos_db_pool_size gauge\n"
                      "cityos_db_pool_size %d\n"
                      "# HELP cityos_db_pool_open Database connections open.\n# TYPE cityos_db_pool_open gauge\n"
                      "cityos_db_pool_open %d\n"
                      "# HELP cityos_db_pool_in_use Database connections lent out now.\n# TYPE cityos_db_pool_in_use gauge\n"
                      "cityos_db_pool_in_use %d\n"
                      "# HELP cityos_db_pool_waits_total Times a request waited for a connection.\n"
                      "# TYPE cityos_db_pool_waits_total counter\ncityos_db_pool_waits_total %" PRIu64 "\n",
                      size, open, in_use, waits);
  *len = strlen(*out);
}

static int ready(void *appv) {
  app_t *app = appv;
  db_t *db = db_pool_acquire(app->db);
  if (!db) return -1;
  db_stmt_t *st = db_prepare(db, "SELECT 1");
  int rc = st ? db_step(st) : -1;
  if (st) db_stmt_done(st);
  db_pool_release(app->db, db);
  return rc == DB_ROW ? 0 : -1;
}

void app_http_config(app_t *app, http_config_t *hc) {
  memset(hc, 0, sizeof *hc);
  hc->listen = app->cfg->listen;
  hc->web_dir = app->cfg->web_dir;
  hc->app = app;
  hc->limits.max_connections = (size_t)app->cfg->max_connections;
  hc->limits.connection_timeout_s = (unsigned)app->cfg->timeout_s;
  hc->limits.threads = (unsigned)app->cfg->threads;
  hc->authenticate = identity_authenticate;
  hc->has_permission = identity_has_permission;
  hc->metrics_extra = metrics_extra;
  hc->ready = ready;
}

static bool units_empty(db_t *db) {
  db_stmt_t *st = db_prepare(db, "SELECT COUNT(*) FROM units");
  if (!st) return false;
  bool empty = db_step(st) == DB_ROW && db_col_int64(st, 0) == 0;
  db_stmt_done(st);
  return empty;
}

int app_open(app_t *app, config_t *cfg, FILE *progress) {
  char err[512];
  memset(app, 0, sizeof *app);
  app->cfg = cfg;
  int threads = cfg->threads;
  if (threads <= 0) threads = 8;
  int pool = cfg->db_pool > 0 ? cfg->db_pool : threads + 2;
  app->db = db_pool_open(cfg->db, pool, err, sizeof err);
  if (!app->db) {
    fprintf(stderr, "cityos: cannot open the database: %s\n", err);
    return -1;
  }
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    fprintf(stderr, "cityos: cannot connect to the database\n");
    goto fail;
  }
  if (app_migrate(db, progress) < 0) {
    fprintf(stderr, "cityos: migrations failed: %s\n", db_errmsg(db));
    db_pool_release(app->db, db);
    goto fail;
  }
  if (cfg->auto_import && units_empty(db)) {
    if (progress) fprintf(progress, "cityos: empty database, importing the Hanoi reference data from %s\n", cfg->data_dir);
    if (units_import_reference(db, cfg->data_dir, progress) < 0) {
      db_pool_release(app->db, db);
      goto fail;
    }
  }
  app->units = units_cache_load(db, cfg->units_era, err, sizeof err);
  db_pool_release(app->db, db);
  if (!app->units) {
    fprintf(stderr, "cityos: cannot load units: %s\n", err);
    goto fail;
  }
  if (!units_era_exists(app->units, cfg->units_era))
    log_warn(NULL, "msg=\"the configured units era has no units yet\" era=%s", cfg->units_era);
  return 0;
fail:
  app_close(app);
  return -1;
}

void app_close(app_t *app) {
  units_cache_free(app->units);
  app->units = NULL;
  if (app->db) db_pool_close(app->db);
  app->db = NULL;
}
