#include "base/common.h"
#include "identity/identity.h"

/*
 * The identity tables. One text for both backends: {{ID}} is the only difference.
 * account_roles.unit_id is 0 for "everywhere" (it is part of the primary key, so it
 * cannot be NULL). accounts.unit_id points at units(id) of the units module without
 * a foreign key, so the modules stay independent. name_folded is text_fold(full_name),
 * kept for accent-insensitive search.
 */
static const char IDENTITY_SQL_1[] =
  "CREATE TABLE accounts ("
  "  id {{ID}},"
  "  kind TEXT NOT NULL CHECK (kind IN ('citizen', 'official', 'client')),"
  "  username TEXT NOT NULL UNIQUE,"
  "  cccd TEXT UNIQUE,"
  "  full_name TEXT NOT NULL,"
  "  name_folded TEXT NOT NULL DEFAULT '',"
  "  birth_date TEXT,"
  "  sex TEXT CHECK (sex IS NULL OR sex IN ('male', 'female')),"
  "  unit_id BIGINT,"
  "  password_hash TEXT,"
  "  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),"
  "  failed_count INTEGER NOT NULL DEFAULT 0,"
  "  last_failed_at BIGINT,"
  "  locked_until BIGINT,"
  "  created_at BIGINT NOT NULL,"
  "  updated_at BIGINT NOT NULL"
  ");"
  "CREATE INDEX accounts_kind ON accounts (kind, id);"
  "CREATE INDEX accounts_unit ON accounts (unit_id, id);"
  "CREATE TABLE tokens ("
  "  id {{ID}},"
  "  account_id BIGINT NOT NULL REFERENCES accounts (id),"
  "  kind TEXT NOT NULL CHECK (kind IN ('session', 'apikey')),"
  "  token_hash TEXT NOT NULL UNIQUE,"
  "  created_at BIGINT NOT NULL,"
  "  expires_at BIGINT,"
  "  revoked_at BIGINT,"
  "  last_ip TEXT"
  ");"
  "CREATE INDEX tokens_account ON tokens (account_id, kind);"
  "CREATE TABLE roles ("
  "  name TEXT PRIMARY KEY,"
  "  description TEXT NOT NULL"
  ");"
  "CREATE TABLE role_permissions ("
  "  role TEXT NOT NULL REFERENCES roles (name),"
  "  permission TEXT NOT NULL,"
  "  PRIMARY KEY (role, permission)"
  ");"
  "CREATE TABLE account_roles ("
  "  account_id BIGINT NOT NULL REFERENCES accounts (id),"
  "  role TEXT NOT NULL REFERENCES roles (name),"
  "  unit_id BIGINT NOT NULL DEFAULT 0,"
  "  PRIMARY KEY (account_id, role, unit_id)"
  ");"
  "CREATE INDEX account_roles_role ON account_roles (role);"
  "INSERT INTO roles (name, description) VALUES"
  "  ('admin', 'Everything, everywhere'),"
  "  ('unit_admin', 'Manages the accounts of a unit and reads its audit log'),"
  "  ('officer', 'Looks up the accounts of a unit');"
  "INSERT INTO role_permissions (role, permission) VALUES"
  "  ('admin', '*'),"
  "  ('unit_admin', 'users.read'),"
  "  ('unit_admin', 'users.write'),"
  "  ('unit_admin', 'roles.read'),"
  "  ('unit_admin', 'audit.read'),"
  "  ('officer', 'users.read');";

/* Sign-in counters of user names that match no account: throttled like accounts, so
 * a 429/423 does not reveal which names (CCCDs) have an account. Rows older than the
 * forgetting horizon are deleted as new ones come (identity_login.c). */
static const char IDENTITY_SQL_2[] =
  "CREATE TABLE login_unknown ("
  "  username TEXT PRIMARY KEY,"
  "  failed_count INTEGER NOT NULL DEFAULT 0,"
  "  last_failed_at BIGINT,"
  "  locked_until BIGINT,"
  "  updated_at BIGINT NOT NULL"
  ");"
  "CREATE INDEX login_unknown_updated ON login_unknown (updated_at);";

static const db_migration_t IDENTITY_MIGRATIONS[] = {
  {"identity", 1, IDENTITY_SQL_1},
  {"identity", 2, IDENTITY_SQL_2},
};

const db_migration_t *identity_migrations(size_t *n)
{
  *n = ARRAY_LEN(IDENTITY_MIGRATIONS);
  return IDENTITY_MIGRATIONS;
}
