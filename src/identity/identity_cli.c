#include "base/common.h"
#include "identity/identity.h"
#include "identity/identity_internal.h"
#include "base/log.h"
#include "base/text.h"
#include "units/units.h"

#include <sodium.h>
#include <termios.h>
#include <unistd.h>

/*
 * `cityos user ...` and the first administrator.
 */

#define IDENTITY_GENERATED_LEN 20
#define IDENTITY_CLI_MAX_ROLES 16

static const char IDENTITY_CLI_HELP[] =
  "usage:\n"
  "  cityos user add --kind official --username NAME --name \"Full Name\"\n"
  "                  [--unit CODE] [--role ROLE[@UNITCODE]]... [--password P]\n"
  "  cityos user add --kind citizen --cccd 12DIGITS --birth-date YYYY-MM-DD\n"
  "                  --sex male|female --name \"Full Name\" [--unit CODE] [--password P]\n"
  "  cityos user list [--kind KIND] [--limit N]\n"
  "  cityos user passwd USERNAME [--password P]\n"
  "\n"
  "Without --password, a terminal is asked for the password (twice); otherwise a\n"
  "20-character password is generated and printed once. Unit codes are those of the\n"
  "active era. --role admin (no unit) grants everything everywhere.\n";

static audit_entry_t identity_cli_ctx(const char *action)
{
  audit_entry_t e = audit_entry_from_req(NULL, action, NULL, NULL);
  e.actor_kind = "system";
  return e;
}

/* Value of option `name` at argv[*i] ("--name V" or "--name=V"); advances *i. */
static const char *identity_cli_opt(int argc, char **argv, int *i, const char *name, bool *matched)
{
  const char *a = argv[*i];
  size_t n = strlen(name);
  *matched = false;
  if (strncmp(a, name, n) != 0) return NULL;
  if (a[n] == '=') {
    *matched = true;
    return a + n + 1;
  }
  if (a[n] != '\0') return NULL;
  *matched = true;
  if (*i + 1 >= argc) return NULL;
  (*i)++;
  return argv[*i];
}

/* Reads a password from the terminal without echo. 0 or -1. */
static int identity_cli_read_tty(const char *prompt, char *out, size_t cap)
{
  struct termios old, quiet;
  int rc = -1;
  bool restore = false;

  fputs(prompt, stderr);
  fflush(stderr);
  if (tcgetattr(STDIN_FILENO, &old) == 0) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0) restore = true;
  }
  if (!fgets(out, (int)cap, stdin)) goto done;
  size_t len = strlen(out);
  if (len > 0 && out[len - 1] == '\n') out[--len] = '\0';
  rc = 0;
done:
  if (restore) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  fputc('\n', stderr);
  return rc;
}

/* The password to use: given, typed twice on a terminal, or generated (*generated). */
static int identity_cli_password(const char *given, const char *username, char *out, size_t cap,
                                 bool *generated)
{
  *generated = false;
  if (given) {
    snprintf(out, cap, "%s", given);
  } else if (isatty(STDIN_FILENO)) {
    char again[IDENTITY_PASSWORD_MAX_BYTES + 2];
    int rc = identity_cli_read_tty("New password: ", out, cap) ||
             identity_cli_read_tty("Repeat it: ", again, sizeof again);
    bool same = rc == 0 && strcmp(out, again) == 0;
    sodium_memzero(again, sizeof again);
    if (!same) {
      fprintf(stderr, "user: the passwords differ\n");
      return -1;
    }
  } else {
    identity_password_generate(out, IDENTITY_GENERATED_LEN);
    *generated = true;
  }
  identity_pw_status_t ps = identity_password_check(out, username);
  if (ps != IDENTITY_PW_OK) {
    fprintf(stderr, "user: %s\n", identity_password_problem(ps));
    return -1;
  }
  return 0;
}

/* --- add -------------------------------------------------------------------------- */

static int identity_cli_add(app_t *app, int argc, char **argv)
{
  identity_new_account_t acc;
  identity_role_ref_t roles[IDENTITY_CLI_MAX_ROLES];
  identity_problem_t prob;
  char pw[IDENTITY_PASSWORD_MAX_BYTES + 2] = "";
  char hash[IDENTITY_HASH_MAX] = "";
  const char *given = NULL, *unit = NULL;
  arena_t *a = arena_new(0);
  db_t *db = NULL;
  int64_t id = 0;
  bool generated = false;
  int rc = 2;

  memset(&acc, 0, sizeof acc);
  acc.roles = roles;
  for (int i = 2; i < argc; i++) {
    bool m;
    const char *v;
#define OPT(flag, dest)                                                       \
    v = identity_cli_opt(argc, argv, &i, flag, &m);                           \
    if (m) {                                                                  \
      if (!v) { fprintf(stderr, "user: %s needs a value\n", flag); goto done; } \
      dest = v;                                                               \
      continue;                                                               \
    }
    OPT("--kind", acc.kind)
    OPT("--username", acc.username)
    OPT("--name", acc.full_name)
    OPT("--cccd", acc.cccd)
    OPT("--birth-date", acc.birth_date)
    OPT("--sex", acc.sex)
    OPT("--unit", unit)
    OPT("--password", given)
#undef OPT
    v = identity_cli_opt(argc, argv, &i, "--role", &m);
    if (m) {
      if (!v || acc.nroles == IDENTITY_CLI_MAX_ROLES) {
        fprintf(stderr, "user: --role needs ROLE[@UNITCODE] (at most %d)\n", IDENTITY_CLI_MAX_ROLES);
        goto done;
      }
      const char *at = strchr(v, '@');
      roles[acc.nroles].role = at ? arena_strndup(a, v, (size_t)(at - v)) : v;
      roles[acc.nroles].unit_id = 0;
      if (at && identity_unit_by_code(app, at + 1, &roles[acc.nroles].unit_id) != 0) {
        fprintf(stderr, "user: no unit with code %s in the active era\n", at + 1);
        goto done;
      }
      acc.nroles++;
      continue;
    }
    fprintf(stderr, "user: unknown option %s\n%s", argv[i], IDENTITY_CLI_HELP);
    goto done;
  }
  if (!acc.kind) acc.kind = acc.cccd ? "citizen" : "official";
  if (strcmp(acc.kind, "client") == 0) {
    fprintf(stderr, "user: create API clients through POST /api/v1/clients\n");
    goto done;
  }
  if (unit && identity_unit_by_code(app, unit, &acc.unit_id) != 0) {
    fprintf(stderr, "user: no unit with code %s in the active era\n", unit);
    goto done;
  }
  /* A placeholder that passes the policy, so validation reports other fields first. */
  acc.password = "placeholder-password";
  if (identity_account_validate(a, &acc, &prob)) {
    fprintf(stderr, "user: %s%s%s\n", prob.field ? prob.field : "", prob.field ? ": " : "", prob.message);
    rc = 1;
    goto done;
  }
  if (identity_cli_password(given, acc.username, pw, sizeof pw, &generated)) {
    rc = 1;
    goto done;
  }
  acc.password = pw;
  if (identity_password_hash(app->cfg, pw, hash)) goto done;

  db = db_pool_acquire(app->db);
  if (!db) {
    fprintf(stderr, "user: cannot reach the database\n");
    goto done;
  }
  audit_entry_t ctx = identity_cli_ctx(NULL);
  if (db_begin(db)) goto db_fail;
  if (identity_account_insert(a, db, &acc, hash, &ctx, &id, &prob)) {
    db_rollback(db);
    fprintf(stderr, "user: %s\n", prob.message);
    rc = 1;
    goto done;
  }
  if (db_commit(db)) goto db_fail;
  printf("created %s account %s (id %" PRId64 ")\n", acc.kind, acc.username, id);
  if (generated) printf("password: %s\n(shown only this once)\n", pw);
  rc = 0;
  goto done;

db_fail:
  fprintf(stderr, "user: database error: %s\n", db_errmsg(db));
  db_rollback(db);
done:
  sodium_memzero(pw, sizeof pw);
  sodium_memzero(hash, sizeof hash);
  if (db) db_pool_release(app->db, db);
  arena_free(a);
  return rc;
}

/* --- list ------------------------------------------------------------------------- */

static int identity_cli_list(app_t *app, int argc, char **argv)
{
  const char *kind = NULL, *limit_s = NULL;
  int64_t limit = 100;
  db_t *db = NULL;
  db_stmt_t *st = NULL;
  arena_t *a = arena_new(0);
  int rc = 2, s;
  int64_t count = 0;

  for (int i = 2; i < argc; i++) {
    bool m;
    const char *v = identity_cli_opt(argc, argv, &i, "--kind", &m);
    if (m && v) { kind = v; continue; }
    v = identity_cli_opt(argc, argv, &i, "--limit", &m);
    if (m && v) { limit_s = v; continue; }
    fprintf(stderr, "user: bad option %s\n%s", argv[i], IDENTITY_CLI_HELP);
    goto done;
  }
  if (limit_s && text_parse_int64(limit_s, 1, 1000000, &limit) != 0) {
    fprintf(stderr, "user: --limit must be a whole number from 1\n");
    goto done;
  }
  db = db_pool_acquire(app->db);
  if (!db) {
    fprintf(stderr, "user: cannot reach the database\n");
    goto done;
  }
  if (db_begin(db)) goto db_fail;
  st = db_prepare(db, "SELECT a.id, a.kind, a.username, a.full_name, a.unit_id, a.status,"
                      " (SELECT COUNT(*) FROM account_roles r WHERE r.account_id = a.id)"
                      " FROM accounts a WHERE (CAST($1 AS TEXT) IS NULL OR a.kind = CAST($1 AS TEXT))"
                      " ORDER BY a.id LIMIT $2");
  if (!st || db_bind_text(st, 1, kind) || db_bind_int64(st, 2, limit)) goto db_fail;
  printf("%-6s %-9s %-20s %-8s %-8s %-5s %s\n", "ID", "KIND", "USERNAME", "UNIT", "STATUS", "ROLES", "NAME");
  while ((s = db_step(st)) == DB_ROW) {
    int64_t uid = db_col_int64(st, 4);
    const unit_t *u = uid && app->units ? units_by_id(app->units, uid) : NULL;
    char unit_buf[24];
    if (u) snprintf(unit_buf, sizeof unit_buf, "%s", u->code);
    else if (uid) snprintf(unit_buf, sizeof unit_buf, "#%" PRId64, uid);
    else snprintf(unit_buf, sizeof unit_buf, "-");
    printf("%-6" PRId64 " %-9s %-20s %-8s %-8s %-5" PRId64 " %s\n", db_col_int64(st, 0),
           db_col_text(st, 1), db_col_text(st, 2), unit_buf, db_col_text(st, 5), db_col_int64(st, 6),
           db_col_text(st, 3));
    count++;
  }
  if (s < 0) goto db_fail;
  db_stmt_done(st);
  st = NULL;
  audit_entry_t e = identity_cli_ctx("user.list");
  e.record_type = "account";
  e.detail = audit_detail(a, json_pack("{s:s?, s:I, s:s}", "kind", kind, "returned", (json_int_t)count,
                                       "via", "cli"));
  if (audit_append(db, &e) || db_commit(db)) goto db_fail;
  rc = 0;
  goto done;

db_fail:
  fprintf(stderr, "user: database error: %s\n", db_errmsg(db));
  if (st) db_stmt_done(st);
  st = NULL;
  db_rollback(db);
done:
  if (st) db_stmt_done(st);
  if (db) db_pool_release(app->db, db);
  arena_free(a);
  return rc;
}

/* --- passwd ----------------------------------------------------------------------- */

static int identity_cli_passwd(app_t *app, int argc, char **argv)
{
  char uname[IDENTITY_USERNAME_MAX + 1];
  char pw[IDENTITY_PASSWORD_MAX_BYTES + 2] = "";
  char hash[IDENTITY_HASH_MAX] = "";
  const char *who = NULL, *given = NULL;
  db_t *db = NULL;
  db_stmt_t *st = NULL;
  arena_t *a = arena_new(0);
  bool generated = false;
  int64_t id = 0, unit_id = 0;
  int rc = 2, s;

  for (int i = 2; i < argc; i++) {
    bool m;
    const char *v = identity_cli_opt(argc, argv, &i, "--password", &m);
    if (m && v) { given = v; continue; }
    if (argv[i][0] != '-' && !who) { who = argv[i]; continue; }
    fprintf(stderr, "user: bad argument %s\n%s", argv[i], IDENTITY_CLI_HELP);
    goto done;
  }
  if (!who || !identity_username_normalize(who, uname, sizeof uname)) {
    fprintf(stderr, "user passwd: which user?\n%s", IDENTITY_CLI_HELP);
    goto done;
  }
  db = db_pool_acquire(app->db);
  if (!db) {
    fprintf(stderr, "user: cannot reach the database\n");
    goto done;
  }
  st = db_prepare(db, "SELECT id, kind, unit_id FROM accounts WHERE username = $1");
  if (!st || db_bind_text(st, 1, uname)) goto db_fail;
  s = db_step(st);
  if (s < 0) goto db_fail;
  if (s != DB_ROW) {
    fprintf(stderr, "user: no account %s\n", uname);
    rc = 1;
    goto done;
  }
  id = db_col_int64(st, 0);
  bool client = db_col_text(st, 1) && strcmp(db_col_text(st, 1), "client") == 0;
  unit_id = db_col_int64(st, 2);
  db_stmt_done(st);
  st = NULL;
  if (client) {
    fprintf(stderr, "user: %s is an API client; it has no password\n", uname);
    rc = 1;
    goto done;
  }
  if (identity_cli_password(given, uname, pw, sizeof pw, &generated)) {
    rc = 1;
    goto done;
  }
  if (identity_password_hash(app->cfg, pw, hash)) goto done;
  if (db_begin(db) || identity_account_set_password(db, id, hash, 0)) goto db_fail;
  audit_entry_t e = identity_cli_ctx("user.password_reset");
  e.record_type = "account";
  e.record_id = arena_printf(a, "%" PRId64, id);
  e.unit_id = unit_id;
  if (audit_append(db, &e) || db_commit(db)) goto db_fail;
  printf("password of %s changed; its sessions are signed out\n", uname);
  if (generated) printf("password: %s\n(shown only this once)\n", pw);
  rc = 0;
  goto done;

db_fail:
  fprintf(stderr, "user: database error: %s\n", db_errmsg(db));
  if (st) db_stmt_done(st);
  st = NULL;
  db_rollback(db);
done:
  if (st) db_stmt_done(st);
  sodium_memzero(pw, sizeof pw);
  sodium_memzero(hash, sizeof hash);
  if (db) db_pool_release(app->db, db);
  arena_free(a);
  return rc;
}

int identity_cli_user(app_t *app, int argc, char **argv)
{
  const char *action = argc > 1 ? argv[1] : NULL;
  if (!action || strcmp(action, "--help") == 0 || strcmp(action, "-h") == 0 ||
      strcmp(action, "help") == 0) {
    fputs(IDENTITY_CLI_HELP, action ? stdout : stderr);
    return action ? 0 : 2;
  }
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(IDENTITY_CLI_HELP, stdout);
      return 0;
    }
  if (!app) {
    fprintf(stderr, "user: no application context\n");
    return 2;
  }
  if (strcmp(action, "add") == 0) return identity_cli_add(app, argc, argv);
  if (strcmp(action, "list") == 0) return identity_cli_list(app, argc, argv);
  if (strcmp(action, "passwd") == 0) return identity_cli_passwd(app, argc, argv);
  fprintf(stderr, "user: unknown action %s\n%s", action, IDENTITY_CLI_HELP);
  return 2;
}

/* --- the first administrator --------------------------------------------------------- */

int identity_ensure_first_admin(app_t *app, FILE *out)
{
  char pw[IDENTITY_GENERATED_LEN + 1] = "";
  char hash[IDENTITY_HASH_MAX] = "";
  identity_role_ref_t admin_role = {"admin", 0};
  identity_new_account_t acc;
  identity_problem_t prob;
  arena_t *a = arena_new(0);
  db_t *db = NULL;
  db_stmt_t *st = NULL;
  int64_t id = 0;
  int rc = -1, s;
  bool promoted = false;

  db = db_pool_acquire(app->db);
  if (!db) goto done;
  st = db_prepare(db, "SELECT 1 FROM account_roles WHERE role = 'admin' AND unit_id = 0 LIMIT 1");
  if (!st) goto db_fail;
  s = db_step(st);
  if (s < 0) goto db_fail;
  db_stmt_done(st);
  st = NULL;
  if (s == DB_ROW) {
    rc = 0;
    goto done;
  }

  identity_password_generate(pw, IDENTITY_GENERATED_LEN);
  if (identity_password_hash(app->cfg, pw, hash)) goto done;
  audit_entry_t ctx = identity_cli_ctx(NULL);

  if (db_begin(db)) goto db_fail;
  st = db_prepare(db, "SELECT id FROM accounts WHERE username = 'admin'");
  if (!st) goto db_fail;
  s = db_step(st);
  if (s < 0) goto db_fail;
  id = s == DB_ROW ? db_col_int64(st, 0) : 0;
  db_stmt_done(st);
  st = NULL;
  if (id) {
    /* "admin" exists but nobody holds the role: nobody can administer. Take it over. */
    promoted = true;
    if (identity_account_set_password(db, id, hash, 0)) goto db_fail;
    st = db_prepare(db, "UPDATE accounts SET status = 'active', kind = 'official' WHERE id = $1");
    if (!st || db_bind_int64(st, 1, id) || db_step(st) != DB_DONE) goto db_fail;
    db_stmt_done(st);
    st = db_prepare(db, "INSERT INTO account_roles (account_id, role, unit_id) VALUES ($1, 'admin', 0)"
                        " ON CONFLICT DO NOTHING");
    if (!st || db_bind_int64(st, 1, id) || db_step(st) != DB_DONE) goto db_fail;
    db_stmt_done(st);
    st = NULL;
    audit_entry_t e = ctx;
    e.action = "user.update";
    e.record_type = "account";
    e.record_id = arena_printf(a, "%" PRId64, id);
    e.detail = audit_detail(a, json_pack("{s:b}", "first_admin", true));
    if (audit_append(db, &e)) goto db_fail;
  } else {
    memset(&acc, 0, sizeof acc);
    acc.kind = "official";
    acc.username = "admin";
    acc.full_name = "Administrator";
    acc.password = pw;
    acc.nroles = 1;
    acc.roles = &admin_role;
    if (identity_account_validate(a, &acc, &prob) ||
        identity_account_insert(a, db, &acc, hash, &ctx, &id, &prob)) {
      db_rollback(db);
      if (prob.err == ERR_CONFLICT) {
        rc = 0;   /* another node created it a moment ago */
        goto done;
      }
      log_error(NULL, "msg=\"first admin not created\" why=\"%s\"", prob.message);
      goto done;
    }
  }
  if (db_commit(db)) {
    if (db_last_error(db) == DB_ERR_CONSTRAINT) {
      db_rollback(db);
      rc = 0;
      goto done;
    }
    goto db_fail;
  }
  if (out) {
    fprintf(out,
            "\n"
            "cityos: %s the administrator account.\n"
            "  user name: admin\n"
            "  password:  %s\n"
            "Sign in with these (POST /api/v1/auth/login, or the web console), then change the\n"
            "password (POST /api/v1/me/password). The password is shown only this once.\n\n",
            promoted ? "no account held the admin role; reset and promoted" : "created", pw);
    fflush(out);
  }
  rc = 0;
  goto done;

db_fail:
  log_error(NULL, "msg=\"first admin: database error\" err=\"%s\"", db_errmsg(db));
  if (st) db_stmt_done(st);
  st = NULL;
  db_rollback(db);
done:
  if (st) db_stmt_done(st);
  sodium_memzero(pw, sizeof pw);
  sodium_memzero(hash, sizeof hash);
  if (db) db_pool_release(app->db, db);
  arena_free(a);
  return rc;
}
