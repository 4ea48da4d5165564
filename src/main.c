#include "base/common.h"
#include "app.h"
#include "base/log.h"
#include "module.h"
#include <pthread.h>
#include <signal.h>
#include <sodium.h>

static const char USAGE[] =
  "cityos - the digital government and urban operations platform of a city\n"
  "\n"
  "Usage: cityos COMMAND [OPTIONS]\n"
  "\n"
  "Commands:\n"
  "  serve                               run the HTTP server (migrates first)\n"
  "  migrate                             apply database migrations and exit\n"
  "  config                              print the effective settings\n"
  "  version                             print the version\n";

static void usage(FILE *f) {
  fputs(USAGE, f);
  const module_t *const *mods;
  size_t n = modules_all(&mods);
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < mods[i]->ncommands; k++) fprintf(f, "  %s\n", mods[i]->commands[k].usage);
  fputs("\nEvery command takes --help, and the settings below.\n\n", f);
  config_print_help(f);
}

static int load_config(config_t *cfg, int *argc, char **argv) {
  int n = config_load_all(cfg, *argc, argv);
  if (n < 0) return -1;
  *argc = n;
  int lvl = log_level_parse(cfg->log_level);
  log_set_level(lvl < 0 ? LOG_INFO : (log_level_t)lvl);
  return 0;
}

static int cmd_serve(config_t *cfg, int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("Usage: cityos serve [--listen HOST:PORT] [--db PATH|URL] [settings]\n"
           "Applies migrations, imports the Hanoi reference data into an empty database,\n"
           "creates the first administrator if there is none (printing the password once),\n"
           "and serves the API and the web pages until SIGTERM or SIGINT.\n\n");
    config_print_help(stdout);
    return 0;
  }
  if (argc > 1) {
    fprintf(stderr, "cityos serve: unexpected argument '%s' (see cityos serve --help)\n", argv[1]);
    return 2;
  }
  /* Block the stop signals in every thread; the main thread waits for them below. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  app_t app;
  if (app_open(&app, cfg, stdout) < 0) return 1;
  if (app_start_modules(&app) < 0) {
    app_close(&app);
    return 1;
  }
  http_config_t hc;
  app_http_config(&app, &hc);
  http_server_t *srv = http_server_new(&hc);
  char err[256];
  if (!srv || app_add_routes(srv) < 0 || http_server_start(srv, err, sizeof err) < 0) {
    fprintf(stderr, "cityos: %s\n", srv ? err : "out of memory");
    http_server_free(srv);
    app_stop_modules(&app);
    app_close(&app);
    return 1;
  }
  const char *colon = strrchr(cfg->listen, ':');
  char host[128];
  snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - cfg->listen) : 0, cfg->listen);
  if (!*host || strcmp(host, "0.0.0.0") == 0) snprintf(host, sizeof host, "127.0.0.1");
  printf("cityos %s listening on http://%s:%u/ (database: %s, era: %s)\n", CITYOS_VERSION, host,
         http_server_port(srv), db_pool_kind(app.db) == DB_POSTGRES ? "PostgreSQL" : cfg->db, cfg->units_era);
  fflush(stdout);
  log_info(NULL, "msg=started listen=%s port=%u", cfg->listen, http_server_port(srv));
  int sig = 0;
  sigwait(&set, &sig);
  log_info(NULL, "msg=\"stopping\" signal=%d", sig);
  http_server_stop(srv, 10000);
  http_server_free(srv);
  app_stop_modules(&app);
  app_close(&app);
  log_info(NULL, "msg=stopped");
  return 0;
}

static int cmd_migrate(config_t *cfg, int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("Usage: cityos migrate [--db PATH|URL]\nApplies every pending database migration.\n");
    return 0;
  }
  char err[256];
  db_t *db = db_open(cfg->db, err, sizeof err);
  if (!db) {
    fprintf(stderr, "cityos migrate: %s\n", err);
    return 1;
  }
  int n = app_migrate(db, stdout);
  if (n < 0) fprintf(stderr, "cityos migrate: failed: %s\n", db_errmsg(db));
  else printf("migrate: %d migration(s) applied, schema up to date\n", n);
  db_close(db);
  return n < 0 ? 1 : 0;
}

/* A module's subcommand: with the application opened when it asks for it. */
static int run_module_command(const cli_command_t *c, config_t *cfg, int argc, char **argv) {
  if (!c->needs_app || cli_wants_help(argc, argv)) {
    if (!c->needs_app) {
      app_t app = {.cfg = cfg};
      return c->run(&app, argc, argv);
    }
    return c->run(NULL, argc, argv);
  }
  app_t app;
  if (app_open(&app, cfg, NULL) < 0) return 1;
  int rc = c->run(&app, argc, argv);
  app_close(&app);
  return rc;
}

int main(int argc, char **argv) {
  if (sodium_init() < 0) {
    fprintf(stderr, "cityos: libsodium cannot start\n");
    return 1;
  }
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *cmd = argv[1];
  /* `cityos import population FILE` is the population module's `population import FILE`. */
  if (strcmp(cmd, "import") == 0 && argc > 2 && strcmp(argv[2], "population") == 0 && modules_find_command("population")) {
    argv[1] = (char *)"population";
    argv[2] = (char *)"import";
    cmd = argv[1];
  }
  /* `cityos import procedures FILE` is the services module's `procedures import FILE`. */
  if (strcmp(cmd, "import") == 0 && argc > 2 && strcmp(argv[2], "procedures") == 0 && modules_find_command("procedures")) {
    argv[1] = (char *)"procedures";
    argv[2] = (char *)"import";
    cmd = argv[1];
  }
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("cityos %s\n", CITYOS_VERSION);
    return 0;
  }
  /* The command's own argv: argv[0] is the command name. */
  int cargc = argc - 1;
  char **cargv = argv + 1;
  config_t cfg;
  if (load_config(&cfg, &cargc, cargv) < 0) {
    config_release(&cfg);
    return 2;
  }
  int rc;
  if (strcmp(cmd, "serve") == 0) rc = cmd_serve(&cfg, cargc, cargv);
  else if (strcmp(cmd, "migrate") == 0) rc = cmd_migrate(&cfg, cargc, cargv);
  else if (modules_find_command(cmd)) rc = run_module_command(modules_find_command(cmd), &cfg, cargc, cargv);
  else if (strcmp(cmd, "config") == 0) {
    config_print(&cfg, stdout);
    rc = 0;
  } else {
    fprintf(stderr, "cityos: unknown command '%s'\n\n", cmd);
    usage(stderr);
    rc = 2;
  }
  config_release(&cfg);
  return rc;
}
