#include "base/common.h"
#include "signup/signup.h"
#include "module.h"

/*
 * The signup module (order 110, after identity and population): schema and
 * registration. Same SQL for both backends.
 */

static const char SIGNUP_SQL_1[] =
    "CREATE TABLE notification_outbox ("
    "  id {{ID}},"
    "  channel TEXT NOT NULL CHECK (channel IN ('sms', 'email')),"
    "  destination TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  sent_at BIGINT"
    ");"
    "CREATE INDEX notification_outbox_unsent ON notification_outbox (sent_at, id);"
    "CREATE TABLE signup_codes ("
    "  id {{ID}},"
    "  purpose TEXT NOT NULL CHECK (purpose IN ('signup', 'reset')),"
    "  subject TEXT NOT NULL,"
    "  code_hash TEXT NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  destination TEXT NOT NULL,"
    "  tries INTEGER NOT NULL DEFAULT 0,"
    "  created_at BIGINT NOT NULL,"
    "  expires_at BIGINT NOT NULL,"
    "  used_at BIGINT,"
    "  UNIQUE (purpose, subject)"
    ");"
    "CREATE TABLE signup_throttle ("
    "  key TEXT PRIMARY KEY,"
    "  window_start BIGINT NOT NULL,"
    "  hits BIGINT NOT NULL"
    ");"
    "CREATE TABLE signup_contacts ("
    "  account_id BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,"
    "  channel TEXT NOT NULL CHECK (channel IN ('sms', 'email')),"
    "  destination TEXT NOT NULL,"
    "  updated_at BIGINT NOT NULL"
    ");";

static const db_migration_t SIGNUP_MIGRATIONS[] = {
  {"signup", 1, SIGNUP_SQL_1},
};

const db_migration_t *signup_migrations(db_kind_t kind, size_t *n)
{
  (void)kind;
  *n = ARRAY_LEN(SIGNUP_MIGRATIONS);
  return SIGNUP_MIGRATIONS;
}

static const module_t SIGNUP_MODULE = {
  .name = "signup",
  .order = 110,
  .migrations = signup_migrations,
  .routes = signup_routes,
};
MODULE_REGISTER(SIGNUP_MODULE)
