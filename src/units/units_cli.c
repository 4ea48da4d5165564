#include "base/common.h"
#include "module.h"
#include "units/units.h"
#include "base/log.h"
#include <pthread.h>
#include <time.h>

static int cmd_import(app_t *app, int argc, char **argv) {
  const config_t *cfg = app ? app->cfg : NULL;
  if (cli_wants_help(argc, argv) || argc < 2) {
    printf("Usage:\n"
           "  cityos import units FILE.csv --era ERA        (header level,code,name,type,parent_code)\n"
           "  cityos import boundaries FILE.geojson --era ERA (features with properties.code)\n"
           "  cityos import reference                        (the shipped Hanoi data: eras 2024 and 2025)\n"
           "  cityos import population FILE.csv              (the population register: cityos population --help)\n"
           "  cityos import procedures FILE.json             (the procedure catalog: cityos procedures --help)\n"
           "Each import is all or nothing: a bad row names its line and nothing is written.\n"
           "A running server picks up new units when restarted.\n");
    return argc < 2 && !cli_wants_help(argc, argv) ? 2 : 0;
  }
  if (!cfg) return 2;
  const char *what = argv[1];
  const char *era = cli_take_flag(&argc, argv, "--era");
  char err[256];
  db_t *db = db_open(cfg->db, err, sizeof err);
  if (!db) {
    fprintf(stderr, "cityos import: %s\n", err);
    return 1;
  }
  int rc = 1;
  size_t nmig;
  const db_migration_t *migs = units_migrations(&nmig);
  if (db_migrate(db, migs, nmig, stdout) < 0) {
    fprintf(stderr, "cityos import: migrations failed: %s\n", db_errmsg(db));
    goto done;
  }
  if (strcmp(what, "reference") == 0) {
    rc = units_import_reference(db, cfg->data_dir, stdout) < 0 ? 1 : 0;
  } else if (strcmp(what, "units") == 0 || strcmp(what, "boundaries") == 0) {
    if (argc != 3 || !era) {
      fprintf(stderr, "cityos import %s: needs FILE and --era ERA\n", what);
      rc = 2;
      goto done;
    }
    long n = strcmp(what, "units") == 0 ? units_import_csv(db, era, argv[2], stdout)
                                         : units_import_boundaries(db, era, argv[2], stdout);
    rc = n < 0 ? 1 : 0;
  } else {
    fprintf(stderr, "cityos import: unknown kind '%s' (units, boundaries or reference)\n", what);
    rc = 2;
  }
done:
  db_close(db);
  return rc;
}

static const db_migration_t *units_module_migrations(db_kind_t kind, size_t *n) {
  (void)kind;
  return units_migrations(n);
}

static const cli_command_t UNITS_COMMANDS[] = {
  {"import", "import units|boundaries|reference   import administrative units and their boundaries", cmd_import,
   false},
};

/* --- `serve`: pick up imports made while running (on this node or another) ------------ */

#define UNITS_RECHECK_S 5

static struct {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool running, stop;
} g_watch = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void *watch_main(void *arg) {
  app_t *app = arg;
  pthread_mutex_lock(&g_watch.lock);
  while (!g_watch.stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += UNITS_RECHECK_S;
    pthread_cond_timedwait(&g_watch.cond, &g_watch.lock, &ts);
    if (g_watch.stop) break;
    pthread_mutex_unlock(&g_watch.lock);
    db_t *db = db_pool_acquire(app->db);
    if (db) {
      char err[256] = "";
      int rc = units_cache_reload(app->units, db, false, err, sizeof err);
      db_pool_release(app->db, db);
      if (rc > 0) log_info(NULL, "msg=\"units reloaded: the units tables changed\"");
      if (rc < 0) log_warn(NULL, "msg=\"units reload failed; keeping the loaded units\" err=\"%s\"", err);
    }
    pthread_mutex_lock(&g_watch.lock);
  }
  pthread_mutex_unlock(&g_watch.lock);
  return NULL;
}

static int units_start(app_t *app) {
  g_watch.stop = false;
  if (pthread_create(&g_watch.thread, NULL, watch_main, app) != 0) return -1;
  g_watch.running = true;
  return 0;
}

static void units_stop(app_t *app) {
  (void)app;
  if (!g_watch.running) return;
  pthread_mutex_lock(&g_watch.lock);
  g_watch.stop = true;
  pthread_cond_signal(&g_watch.cond);
  pthread_mutex_unlock(&g_watch.lock);
  pthread_join(g_watch.thread, NULL);
  g_watch.running = false;
}

static const module_t UNITS_MODULE = {
  .name = "units",
  .order = 10,
  .migrations = units_module_migrations,
  .routes = units_routes,
  .commands = UNITS_COMMANDS,
  .ncommands = ARRAY_LEN(UNITS_COMMANDS),
  .start = units_start,
  .stop = units_stop,
};
MODULE_REGISTER(UNITS_MODULE)
