/*
 * module.h - how a module plugs into cityos without editing main.c or app.c.
 *
 * Each module defines one module_t and registers it with MODULE_REGISTER(var) in one
 * of its .c files. Registration runs before main() (a constructor); the library is
 * linked as an object library, so every module's object file is present.
 *
 * What a module may declare (any member may be NULL / 0):
 *   order        migrations and start-up run by ascending order (units 10, identity 20,
 *                audit 30; modules that reference those tables use 100 and up)
 *   migrations   its numbered migrations for a backend
 *   routes       its route table (public or permission-checked, see http.h)
 *   commands     subcommands of the `cityos` binary ("pki", "calendar", ...)
 *   start/stop   background work of `cityos serve` (jobs, MQTT), after the database and
 *                units are ready and before / after the HTTP server runs. start returns
 *                0 or -1 (serve then exits with an error).
 */
#ifndef CITYOS_MODULE_H
#define CITYOS_MODULE_H

#include "base/common.h"
#include "app.h"
#include "http/http.h"
#include "store/db.h"

typedef struct cli_command {
  const char *name;      /* "user" */
  const char *usage;     /* one line for `cityos --help`: "user add|list|passwd ...  manage accounts" */
  /* argv[0] is the command name. With `needs_app`, app is open (database migrated,
   * units loaded) — except when argv holds --help, where app is NULL. Returns the exit
   * code. */
  int (*run)(app_t *app, int argc, char **argv);
  bool needs_app;
} cli_command_t;

typedef struct module {
  const char *name;
  int order;
  const db_migration_t *(*migrations)(db_kind_t kind, size_t *n);
  const http_route_t *(*routes)(size_t *n);
  const cli_command_t *commands;
  size_t ncommands;
  int (*start)(app_t *app);
  void (*stop)(app_t *app);
} module_t;

void module_register(const module_t *m);
/* Every registered module, sorted by order then name. */
size_t modules_all(const module_t *const **out);
/* The subcommand of that name, or NULL. */
const cli_command_t *modules_find_command(const char *name);

/* Command-line helpers for subcommands. */
bool cli_wants_help(int argc, char **argv);   /* --help or -h anywhere */
/* Removes "--name VALUE" or "--name=VALUE" from argv and returns VALUE (NULL if absent). */
const char *cli_take_flag(int *argc, char **argv, const char *name);

#define MODULE_REGISTER(var) \
  __attribute__((constructor)) static void var##_register_module(void) { module_register(&(var)); }

#endif
