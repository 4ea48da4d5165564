#include "base/common.h"
#include "identity/identity.h"
#include "module.h"

static const db_migration_t *identity_module_migrations(db_kind_t kind, size_t *n) {
  (void)kind;
  return identity_migrations(n);
}

/* At serve start: the first administrator, if there is none (password printed once). */
static int identity_start(app_t *app) { return identity_ensure_first_admin(app, stdout) < 0 ? -1 : 0; }

static const cli_command_t IDENTITY_COMMANDS[] = {
  {"user", "user add|list|passwd ...            manage accounts (cityos user --help)", identity_cli_user, true},
};

static const module_t IDENTITY_MODULE = {
  .name = "identity",
  .order = 20,
  .migrations = identity_module_migrations,
  .routes = identity_routes,
  .commands = IDENTITY_COMMANDS,
  .ncommands = ARRAY_LEN(IDENTITY_COMMANDS),
  .start = identity_start,
};
MODULE_REGISTER(IDENTITY_MODULE)
