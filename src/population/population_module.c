#include "base/common.h"
#include "population/population.h"
#include "module.h"

/*
 * The population module: schema (residents, the population.read permission and the
 * population_clerk role), the `cityos population import` command, registration.
 */

/* SQLite keeps residents WITHOUT ROWID: the CCCD is the table's own B-tree key, so a
 * lookup is one tree descent and the load writes one tree instead of two. */
static const char POP_SQL_SQLITE[] =
    "CREATE TABLE residents ("
    "  cccd TEXT PRIMARY KEY,"
    "  full_name TEXT NOT NULL,"
    "  birth_date TEXT NOT NULL,"
    "  sex TEXT NOT NULL CHECK (sex IN ('male','female')),"
    "  perm_era TEXT NOT NULL, perm_code TEXT NOT NULL, perm_unit BIGINT NOT NULL,"
    "  cur_era TEXT, cur_code TEXT, cur_unit BIGINT,"
    "  household_id TEXT,"
    "  updated_at BIGINT NOT NULL"
    ") WITHOUT ROWID;";

static const char POP_SQL_PG[] =
    "CREATE TABLE residents ("
    "  cccd TEXT PRIMARY KEY,"
    "  full_name TEXT NOT NULL,"
    "  birth_date TEXT NOT NULL,"
    "  sex TEXT NOT NULL CHECK (sex IN ('male','female')),"
    "  perm_era TEXT NOT NULL, perm_code TEXT NOT NULL, perm_unit BIGINT NOT NULL,"
    "  cur_era TEXT, cur_code TEXT, cur_unit BIGINT,"
    "  household_id TEXT,"
    "  updated_at BIGINT NOT NULL"
    ");";

static const char POP_SQL_ROLES[] =
    "INSERT INTO roles (name, description) VALUES"
    "  ('population_clerk', 'Looks up residents of the population register in a unit')"
    "  ON CONFLICT DO NOTHING;"
    "INSERT INTO role_permissions (role, permission) VALUES"
    "  ('population_clerk', 'population.read') ON CONFLICT DO NOTHING;";

static const db_migration_t POP_MIGRATIONS_SQLITE[] = {
  {"population", 1, POP_SQL_SQLITE},
  {"population", 2, POP_SQL_ROLES},
};
static const db_migration_t POP_MIGRATIONS_PG[] = {
  {"population", 1, POP_SQL_PG},
  {"population", 2, POP_SQL_ROLES},
};

const db_migration_t *population_migrations(db_kind_t kind, size_t *n)
{
  *n = 2;
  return kind == DB_POSTGRES ? POP_MIGRATIONS_PG : POP_MIGRATIONS_SQLITE;
}

static int population_cli(app_t *app, int argc, char **argv)
{
  if (cli_wants_help(argc, argv) || argc < 2 || strcmp(argv[1], "import") != 0) {
    printf("Usage:\n"
           "  cityos population import FILE.csv [--report REPORT.csv]\n"
           "Header: cccd,full_name,birth_date,sex,permanent_era,permanent_unit,current_era,"
           "current_unit,household_id\n"
           "Bad rows go to the report (default FILE.csv.rejected.csv) with their line and\n"
           "reason; the import goes on. Rows are upserted by CCCD.\n");
    return cli_wants_help(argc, argv) ? 0 : 2;
  }
  const char *report = cli_take_flag(&argc, argv, "--report");
  if (argc != 3) {
    fprintf(stderr, "cityos population import: needs exactly one FILE\n");
    return 2;
  }
  char defreport[4096];
  if (!report) {
    snprintf(defreport, sizeof defreport, "%s.rejected.csv", argv[2]);
    report = defreport;
  }
  db_t *db = db_pool_acquire(app->db);
  if (!db) return 1;
  population_import_stats_t st;
  int rc = population_import(db, app->units, argv[2], report, stdout, &st);
  db_pool_release(app->db, db);
  if (rc < 0) return 1;
  printf("population: done: %lld lines, %lld loaded, %lld rejected in %.1f s (%.0f rows/s); report %s\n",
         (long long)st.lines, (long long)st.loaded, (long long)st.rejected, st.seconds,
         st.seconds > 0 ? (double)st.lines / st.seconds : 0.0, report);
  return 0;
}

static const cli_command_t POPULATION_COMMANDS[] = {
  {"population", "population import FILE.csv          load the population register (cityos population --help)",
   population_cli, true},
};

static const module_t POPULATION_MODULE = {
  .name = "population",
  .order = 100,
  .migrations = population_migrations,
  .routes = population_routes,
  .commands = POPULATION_COMMANDS,
  .ncommands = ARRAY_LEN(POPULATION_COMMANDS),
};
MODULE_REGISTER(POPULATION_MODULE)
