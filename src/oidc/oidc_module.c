#include "base/common.h"
#include "oidc/oidc_internal.h"
#include "base/log.h"
#include "base/seal.h"
#include "identity/identity.h"
#include "module.h"

/*
 * The oidc module: schema, routes, and at start the identity session gate for the
 * second factor.
 */

static const char OIDC_SQL_1[] =
    "CREATE TABLE oidc_totp ("
    "  account_id BIGINT PRIMARY KEY REFERENCES accounts (id),"
    "  secret {{BLOB}} NOT NULL,"
    "  confirmed_at BIGINT,"          /* NULL while the enrolment is pending */
    "  last_step BIGINT NOT NULL,"    /* the last accepted time step (no replay) */
    "  created_at BIGINT NOT NULL);"
    "CREATE TABLE oidc_recovery_codes ("
    "  id {{ID}},"
    "  account_id BIGINT NOT NULL REFERENCES accounts (id),"
    "  code_hash TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  used_at BIGINT);"
    "CREATE INDEX oidc_recovery_codes_account ON oidc_recovery_codes (account_id, code_hash);"
    "CREATE TABLE oidc_mfa_throttle ("
    "  key TEXT PRIMARY KEY,"         /* 'a:<account id>' or 'ip:<address>' */
    "  failures BIGINT NOT NULL,"
    "  window_start BIGINT NOT NULL,"
    "  last_failed_at BIGINT NOT NULL,"
    "  blocked_until BIGINT NOT NULL);"
    "CREATE TABLE oidc_mfa_policy ("
    "  name TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL);"
    "INSERT INTO oidc_mfa_policy (name, value) VALUES ('require_for_officials', '0');"
    "CREATE TABLE oidc_mfa_account ("
    "  account_id BIGINT PRIMARY KEY REFERENCES accounts (id),"
    "  required INTEGER NOT NULL);"
    "CREATE TABLE oidc_mfa_sessions ("
    "  session_id BIGINT PRIMARY KEY,"   /* tokens.id of a session that passed */
    "  verified_at BIGINT NOT NULL);"
    "INSERT INTO roles (name, description) VALUES"
    "  ('security_admin', 'Sets the two-factor policy') ON CONFLICT DO NOTHING;"
    "INSERT INTO role_permissions (role, permission) VALUES"
    "  ('security_admin', 'mfa.policy') ON CONFLICT DO NOTHING;";

static const char OIDC_SQL_2[] =
    "CREATE TABLE oidc_keys ("
    "  kid TEXT PRIMARY KEY,"
    "  alg TEXT NOT NULL CHECK (alg IN ('RS256', 'ES256')),"
    "  private_pem TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  retired_at BIGINT,"              /* no longer signs */
    "  publish_until BIGINT);"          /* still in the JWKS until then */
    "CREATE TABLE oidc_clients ("
    "  client_id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  type TEXT NOT NULL CHECK (type IN ('public', 'confidential')),"
    "  secret_hash TEXT,"
    "  redirect_uris TEXT NOT NULL,"    /* JSON array, exact match */
    "  post_logout_redirect_uris TEXT NOT NULL,"
    "  scope TEXT NOT NULL,"
    "  backchannel_logout_uri TEXT,"
    "  first_party INTEGER NOT NULL DEFAULT 0,"
    "  id_token_alg TEXT NOT NULL DEFAULT 'RS256',"
    "  created_at BIGINT NOT NULL,"
    "  disabled_at BIGINT);"
    "CREATE TABLE oidc_requests ("
    "  id TEXT PRIMARY KEY,"
    "  client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL, scope TEXT NOT NULL,"
    "  state TEXT, nonce TEXT, code_challenge TEXT,"
    "  created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);"
    "CREATE TABLE oidc_codes ("
    "  code_hash TEXT PRIMARY KEY,"
    "  client_id TEXT NOT NULL, account_id BIGINT NOT NULL, session_id BIGINT NOT NULL,"
    "  redirect_uri TEXT NOT NULL, scope TEXT NOT NULL, nonce TEXT, code_challenge TEXT,"
    "  auth_time BIGINT, expires_at BIGINT NOT NULL, used_at BIGINT);"
    "CREATE TABLE oidc_refresh ("
    "  id {{ID}},"
    "  token_hash TEXT NOT NULL UNIQUE,"
    "  family TEXT NOT NULL,"
    "  client_id TEXT NOT NULL, account_id BIGINT NOT NULL, session_id BIGINT NOT NULL,"
    "  scope TEXT NOT NULL, auth_time BIGINT,"
    "  created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT, revoked_at BIGINT);"
    "CREATE INDEX oidc_refresh_family ON oidc_refresh (family);"
    "CREATE INDEX oidc_refresh_session ON oidc_refresh (session_id);"
    "CREATE TABLE oidc_access ("
    "  token_id BIGINT PRIMARY KEY,"    /* tokens.id of the access token */
    "  client_id TEXT NOT NULL, session_id BIGINT NOT NULL, family TEXT NOT NULL,"
    "  scope TEXT NOT NULL, first_party INTEGER NOT NULL, expires_at BIGINT NOT NULL);"
    "CREATE INDEX oidc_access_family ON oidc_access (family);"
    "CREATE INDEX oidc_access_session ON oidc_access (session_id);"
    "CREATE TABLE oidc_logout_outbox ("
    "  id {{ID}},"
    "  client_id TEXT NOT NULL, uri TEXT NOT NULL, logout_token TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL, next_at BIGINT NOT NULL, attempts INTEGER NOT NULL,"
    "  sent_at BIGINT, last_error TEXT);"
    "INSERT INTO roles (name, description) VALUES"
    "  ('oidc_admin', 'Registers OIDC clients and rotates signing keys') ON CONFLICT DO NOTHING;"
    "INSERT INTO role_permissions (role, permission) VALUES"
    "  ('oidc_admin', 'oidc.clients'), ('oidc_admin', 'oidc.keys') ON CONFLICT DO NOTHING;";

/* The check value of the master key sealing oidc_totp.secret and oidc_keys.private_pem
 * (oidc_seal.c): a node with another key refuses to start. */
static const char OIDC_SQL_3[] =
    "CREATE TABLE server_keys ("
    "  name TEXT PRIMARY KEY,"
    "  check_value TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL);";

/* The two-factor policy for officials follows the setting mfa_officials (default on)
 * until an administrator sets it through the API ('1' or '0'). */
static const char OIDC_SQL_4[] =
    "UPDATE oidc_mfa_policy SET value = 'default' WHERE name = 'require_for_officials' AND value = '0';";

/* prompt=login / max_age (the sign-in must be at least this recent, ms) and
 * prompt=consent on a stored authorization request. */
static const char OIDC_SQL_5[] =
    "ALTER TABLE oidc_requests ADD COLUMN min_auth_time BIGINT;"
    "ALTER TABLE oidc_requests ADD COLUMN ask_consent INTEGER NOT NULL DEFAULT 0;";

static const db_migration_t OIDC_MIGRATIONS[] = {
  {"oidc", 1, OIDC_SQL_1},
  {"oidc", 2, OIDC_SQL_2},
  {"oidc", 3, OIDC_SQL_3},
  {"oidc", 4, OIDC_SQL_4},
  {"oidc", 5, OIDC_SQL_5},
};

const db_migration_t *oidc_migrations(db_kind_t kind, size_t *n)
{
  (void)kind;
  *n = ARRAY_LEN(OIDC_MIGRATIONS);
  return OIDC_MIGRATIONS;
}

static int oidc_start(app_t *app)
{
  oidc_mfa_set_policy_default(app->cfg->mfa_officials != 0);
  db_t *db = db_pool_acquire(app->db);
  int rc = db ? oidc_seal_start(app, db) : -1;
  if (rc == 0) {
    rc = oidc_keys_ensure(db);
    if (rc < 0) log_error(NULL, "msg=\"oidc signing keys could not be made\" err=\"%s\"", db_errmsg(db));
  }
  if (rc == 0 && (rc = oidc_builtin_clients(db)) < 0)
    log_error(NULL, "msg=\"oidc first-party clients could not be registered\" err=\"%s\"", db_errmsg(db));
  db_pool_release(app->db, db);
  if (rc < 0) return -1;
  identity_set_session_gate(oidc_mfa_gate);
  identity_set_logout_hook(oidc_logout_hook);
  oidc_backchannel_start(app);
  return 0;
}

static void oidc_stop(app_t *app)
{
  (void)app;
  oidc_backchannel_stop();
  identity_set_session_gate(NULL);
  identity_set_logout_hook(NULL);
  oidc_keys_cache_clear();
  seal_key_clear();
}

static int oidc_cli_secrets(app_t *app, int argc, char **argv)
{
  if (cli_wants_help(argc, argv) || !app) {
    printf("Usage:\n"
           "  cityos secrets rekey --new-key-file FILE\n"
           "Re-seals every secret kept at rest (TOTP secrets, OIDC private signing keys) with a new\n"
           "master key, in one transaction: the current key file (setting master_key_file, default\n"
           "<db>.key for SQLite) must match the database; FILE must not exist and is written with\n"
           "mode 0600. Stop every node first; afterwards start them all with the new key\n"
           "(docs/IDENTITY.md, \"Changing the master key\").\n");
    return app || cli_wants_help(argc, argv) ? 0 : 2;
  }
  const char *path = cli_take_flag(&argc, argv, "--new-key-file");
  if (argc != 2 || strcmp(argv[1], "rekey") != 0 || !path || !*path) {
    fprintf(stderr, "usage: cityos secrets rekey --new-key-file FILE\n");
    return 2;
  }
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    fprintf(stderr, "cityos secrets: no database connection\n");
    return 1;
  }
  int rc = oidc_seal_rekey(app->cfg, db, path, stdout) < 0 ? 1 : 0;
  db_pool_release(app->db, db);
  return rc;
}

static const cli_command_t OIDC_COMMANDS[] = {
  {"secrets", "secrets rekey --new-key-file FILE   re-seal secrets at rest with a new master key", oidc_cli_secrets,
   true},
};

static const module_t OIDC_MODULE = {
  .name = "oidc",
  .order = 110,
  .migrations = oidc_migrations,
  .routes = oidc_routes,
  .start = oidc_start,
  .stop = oidc_stop,
  .commands = OIDC_COMMANDS,
  .ncommands = ARRAY_LEN(OIDC_COMMANDS),
};
MODULE_REGISTER(OIDC_MODULE)
