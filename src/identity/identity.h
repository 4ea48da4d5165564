/*
 * identity.h - accounts, passwords, tokens, sign-in and authorization.
 *
 * An account is a citizen (user name = their CCCD), an official (home unit, roles at
 * units) or an API client (roles, API keys, no password). Roles are data (roles,
 * role_permissions); an account holds a role at a unit (account_roles.unit_id, 0 =
 * everywhere) and each of the role's permissions then applies to that unit's subtree.
 * Built-in roles: admin ("*" everywhere when held at unit 0), unit_admin (users.read,
 * users.write, roles.read, audit.read), officer (users.read).
 *
 * Secrets: passwords are stored as argon2id strings (libsodium crypto_pwhash_str with
 * cfg->argon_ops / argon_mem_kib); tokens are 32 random bytes in base64url with a
 * prefix ("cs_" session, "ck_" API key) and only their SHA-256 hex is stored. Neither
 * is ever logged or put into the audit log.
 *
 * Sign-in throttling lives in the accounts row (failed_count, last_failed_at,
 * locked_until), so every node agrees. See identity_throttle_check() for the rule.
 * An attempt is counted as a failure BEFORE the (slow) password check and forgiven on
 * success, so parallel guesses cannot slip past the throttle, and no transaction is
 * held open during argon2. User names that match no account are counted the same way
 * (table login_unknown), so a 429/423 never reveals whether an account exists, and
 * failures older than max(24 h, lock + 60 s) are forgotten for both. The same counter
 * guards the current password of POST /api/v1/me/password.
 *
 * Authorization: the HTTP core calls identity_authenticate() for every API request and
 * identity_has_permission() for a route's permission ("held somewhere"); handlers
 * check the unit with identity_can().
 *
 * Every write runs in one transaction together with its audit entry (audit.h).
 * Thread rules: all functions are safe to call from several threads at once, each with
 * its own db_t / request.
 */
#ifndef CITYOS_IDENTITY_H
#define CITYOS_IDENTITY_H

#include "base/common.h"
#include "base/arena.h"
#include "base/err.h"
#include "app.h"
#include "config.h"
#include "store/db.h"
#include "http/http.h"
#include "http/auth.h"
#include "audit/audit.h"

#include <jansson.h>

#define IDENTITY_SESSION_COOKIE "cityos_session"
#define IDENTITY_PASSWORD_MIN_CHARS 10
#define IDENTITY_PASSWORD_MAX_BYTES 1024
#define IDENTITY_HASH_MAX 128          /* crypto_pwhash_STRBYTES */
#define IDENTITY_TOKEN_MAX 64          /* "cs_" + 43 base64url characters + NUL fits */
#define IDENTITY_TOKEN_HASH_HEX 65
#define IDENTITY_USERNAME_MAX 64
#define IDENTITY_NAME_MAX 200          /* bytes of full_name */
#define IDENTITY_MAX_ROLES 32          /* role assignments per request */

/* --- schema and routes ------------------------------------------------------------ */

/* Module "identity" migrations (same SQL for both backends). Static table. */
const db_migration_t *identity_migrations(size_t *n);
/* Static route table: auth/login, auth/logout, me, me/password, users, users/{id},
 * roles, clients (see identity_http.c for each route's permission). */
const http_route_t *identity_routes(size_t *n);

/* --- passwords -------------------------------------------------------------------- */

typedef enum {
  IDENTITY_PW_OK = 0,
  IDENTITY_PW_TOO_SHORT,     /* fewer than 10 characters (code points) */
  IDENTITY_PW_TOO_LONG,      /* more than IDENTITY_PASSWORD_MAX_BYTES */
  IDENTITY_PW_BAD_UTF8,
  IDENTITY_PW_ALL_DIGITS,
  IDENTITY_PW_IS_USERNAME,   /* equal to the user name, ignoring ASCII case */
} identity_pw_status_t;

/* Policy check; username may be NULL. Pure. */
identity_pw_status_t identity_password_check(const char *password, const char *username);
/* English message for a status. */
const char *identity_password_problem(identity_pw_status_t st);
/* argon2id string of password into out. 0, or -1 (out of memory: logged). Slow (tens
 * of ms by design): never call it inside a transaction. */
int identity_password_hash(const config_t *cfg, const char *password, char out[IDENTITY_HASH_MAX]);
/* 1 when password matches hash, 0 when not (also for a NULL or malformed hash, after
 * spending the same time on a dummy hash). *needs_rehash (may be NULL) is set when the
 * hash was made with other parameters than cfg's. */
int identity_password_verify(const config_t *cfg, const char *hash, const char *password,
                             bool *needs_rehash);
/* Spends one verify's worth of time against a dummy hash made with cfg's parameters
 * (for unknown user names). */
void identity_password_dummy_verify(const config_t *cfg, const char *password);
/* A random password of len characters (letters and digits without look-alikes, at
 * least one letter) into out (len + 1 bytes). len >= IDENTITY_PASSWORD_MIN_CHARS. */
void identity_password_generate(char *out, size_t len);

/* --- tokens ----------------------------------------------------------------------- */

typedef enum { IDENTITY_TOKEN_SESSION = 1, IDENTITY_TOKEN_APIKEY = 2 } identity_token_kind_t;

/* A fresh token ("cs_..." or "ck_...", 46 characters) into out. */
void identity_token_new(identity_token_kind_t kind, char out[IDENTITY_TOKEN_MAX]);
/* SHA-256 hex of the token text. */
void identity_token_hash(const char *token, char out[IDENTITY_TOKEN_HASH_HEX]);
/* true when token has a known prefix and 43 base64url characters after it. */
bool identity_token_well_formed(const char *token);

/* --- sign-in throttling (pure) ------------------------------------------------------ */

typedef struct identity_throttle_state {
  int64_t failed_count;      /* consecutive failures (attempts not yet forgiven) */
  int64_t last_failed_at;    /* ms; 0 = never */
  int64_t locked_until;      /* ms; 0 = not locked */
} identity_throttle_state_t;

typedef enum {
  IDENTITY_THROTTLE_ALLOW = 0,
  IDENTITY_THROTTLE_SLOW,      /* 429 rate_limited, Retry-After */
  IDENTITY_THROTTLE_LOCKED,    /* 423 account_locked, Retry-After */
} identity_throttle_t;

/* The rule, at now_ms:
 *   locked_until > now                            -> LOCKED until locked_until;
 *   failed_count >= login_slow_after and
 *   now < last_failed_at + min(2^(failed_count - login_slow_after), 60) s -> SLOW;
 *   otherwise ALLOW.
 * *retry_after_s (may be NULL) gets the whole seconds to wait (at least 1) or 0. */
identity_throttle_t identity_throttle_check(const config_t *cfg, const identity_throttle_state_t *st,
                                            int64_t now_ms, int64_t *retry_after_s);
/* The delay in seconds after failed_count consecutive failures (0 below slow_after). */
int64_t identity_throttle_delay_s(const config_t *cfg, int64_t failed_count);
/* An allowed attempt starts: count it as a failure until proven otherwise. */
void identity_throttle_begin(identity_throttle_state_t *st, int64_t now_ms);
/* The attempt failed: when failed_count reached login_max_failures, lock until now +
 * login_lock_s and start counting afresh. Returns true when this failure locked. */
bool identity_throttle_fail(const config_t *cfg, identity_throttle_state_t *st, int64_t now_ms);
/* The attempt succeeded: everything reset. */
void identity_throttle_success(identity_throttle_state_t *st);

/* --- sign-in service ---------------------------------------------------------------- */

typedef struct identity_login_result {
  err_t err;                 /* OK, BAD_CREDENTIALS, RATE_LIMITED, LOCKED, INTERNAL */
  int64_t retry_after_s;     /* for RATE_LIMITED / LOCKED */
  int64_t account_id;        /* on OK */
  int64_t session_id;        /* the token row, on OK */
  int64_t expires_at;        /* ms, on OK */
  char token[IDENTITY_TOKEN_MAX];   /* on OK; wipe after use (sodium_memzero) */
} identity_login_result_t;

/* Checks username/password with throttling and, on success, creates a session token
 * (ttl cfg->session_ttl_s). Appends "auth.login" or "auth.login_failed" to the audit
 * log in the same transaction as the throttle columns; ctx (may be NULL) supplies ip / request id
 * (its action and record fields are ignored). db must not be in a transaction.
 * Returns 0 when it reached a decision (see out->err), -1 on a database error. */
int identity_login(const app_t *app, db_t *db, const char *username, const char *password,
                   const audit_entry_t *ctx, identity_login_result_t *out);

/* --- principals and authorization ---------------------------------------------------- */

/* Loads the account (active or not: check status yourself) and expands its grants from
 * account_roles x role_permissions, into the arena. NULL when absent or on error
 * (*dberr set to true on error; may be NULL). *status (may be NULL) gets "active" or
 * "disabled" (arena). */
principal_t *identity_principal_load(arena_t *a, db_t *db, int64_t account_id,
                                     const char **status, bool *dberr);

/* The HTTP authenticate hook: token from "Authorization: Bearer <t>", else the cookie
 * cityos_session. No token: anonymous (0). A valid token: req->principal and
 * req->token set (0). A bad, expired or revoked token, or a disabled account: 401 and
 * -1 - except that a stale session COOKIE on a public route (HTTP_PUBLIC, e.g. the
 * sign-in itself) is ignored so a browser with an old cookie can sign in again.
 * 503 and -1 when the database is unreachable. */
int identity_authenticate(http_req_t *req);
/* An optional check run by identity_authenticate after a token authenticated the
 * request (req->principal set, no database connection held): 0 to go on, or -1 after
 * answering. The oidc module uses it for sessions that still owe a second factor.
 * Set once at start, before the server runs; NULL (the default) changes nothing. */
typedef int (*identity_session_gate_fn)(http_req_t *req);
void identity_set_session_gate(identity_session_gate_fn fn);

/* The sign-out hook: called by POST /api/v1/auth/logout inside its transaction, after the
 * session (req->principal->session_id) is revoked; 0, or -1 to fail the sign-out. The
 * oidc module uses it to end the provider session and what was issued from it (the
 * cookie session IS the provider session). Set once at start; NULL changes nothing. */
typedef int (*identity_logout_hook_fn)(http_req_t *req, db_t *db);
void identity_set_logout_hook(identity_logout_hook_fn fn);

/* The has_permission hook: true when p holds perm (or "*") at any unit.
 * HTTP_SIGNED_IN: true for any principal. NULL p: false. */
bool identity_has_permission(const principal_t *p, const char *perm);

/* "is unit_id within ancestor_id (or equal)?" for identity_grants_allow. */
typedef bool (*identity_within_fn)(const void *ctx, int64_t unit_id, int64_t ancestor_id);

/* Pure core of identity_can: true when a grant for perm (or "*") has unit_id 0, or a
 * unit for which within(ctx, unit_id, grant.unit_id) holds. unit_id 0 (a record with
 * no unit) is covered only by grants at unit 0. within may be NULL (equality only). */
bool identity_grants_allow(const principal_t *p, const char *perm, int64_t unit_id,
                           identity_within_fn within, const void *ctx);
/* identity_grants_allow with app->units (units_is_within). app->units may be NULL. */
bool identity_can(const app_t *app, const principal_t *p, const char *perm, int64_t unit_id);

/* The units where p may use perm, for filtering lists in SQL.
 * everywhere: p holds perm at unit 0 and within_unit is 0 (no filter needed).
 * Otherwise ids/n is the sorted set of unit ids (every unit of each granted subtree,
 * from the units cache; just the granted unit when the cache is absent), restricted to
 * the subtree of within_unit when that is not 0; json is the same set as a JSON array
 * text ("[12,13]", "[]" when empty) for json_each / json_array_elements_text.
 * Everything in the arena. */
typedef struct identity_scope {
  bool everywhere;
  size_t n;
  int64_t *ids;
  const char *json;
} identity_scope_t;
void identity_scope(arena_t *a, const app_t *app, const principal_t *p, const char *perm,
                    int64_t within_unit, identity_scope_t *out);

/* The principal as JSON for /me and the sign-in answer: {id, kind, username, name,
 * cccd?, unit?, grants:[{permission, unit}]}. New reference. */
json_t *identity_principal_json(const app_t *app, const principal_t *p);

/* --- accounts (service layer used by the routes and the CLI) ------------------------- */

typedef struct identity_role_ref {
  const char *role;
  int64_t unit_id;           /* 0 = everywhere */
} identity_role_ref_t;

typedef struct identity_new_account {
  const char *kind;          /* "citizen" | "official" | "client" */
  const char *username;      /* citizens: NULL or equal to cccd */
  const char *password;      /* NULL for clients (and only for clients) */
  const char *full_name;
  const char *cccd;          /* citizens: required */
  const char *birth_date;    /* citizens: required, "YYYY-MM-DD" */
  const char *sex;           /* citizens: required, "male" | "female" (or M/F) */
  int64_t unit_id;           /* 0 = none */
  size_t nroles;
  const identity_role_ref_t *roles;
} identity_new_account_t;

/* Why a request was refused: an error from the table, the JSON field at fault (or
 * NULL) and an English message. */
typedef struct identity_problem {
  err_t err;
  const char *field;
  char message[200];
} identity_problem_t;

/* Validates and normalizes a (user names lower-cased, citizens' user name = CCCD, sex
 * "male"/"female"); strings normalized are put in the arena. Pure apart from that.
 * 0, or -1 with prob filled (VALIDATION). */
int identity_account_validate(arena_t *a, identity_new_account_t *acc, identity_problem_t *prob);

/* Inserts a validated account and its roles (roles must exist: else VALIDATION on
 * "roles"; duplicate username/CCCD: CONFLICT) and appends "user.create" (detail:
 * kind, username, roles; no password) - inside the caller's open transaction.
 * password_hash is NULL for clients. 0 with *id_out, or -1 with prob (INTERNAL after
 * a database error, already logged; the caller rolls back). */
int identity_account_insert(arena_t *a, db_t *db, const identity_new_account_t *acc,
                            const char *password_hash, const audit_entry_t *ctx,
                            int64_t *id_out, identity_problem_t *prob);

/* Sets a new password hash, clears the lock and failed count, and revokes the
 * account's sessions except keep_session_id (0 = revoke all). Inside the caller's
 * transaction. 0 or -1 (logged). */
int identity_account_set_password(db_t *db, int64_t account_id, const char *password_hash,
                                  int64_t keep_session_id);

/* Creates a token row for the account (kind session: expires after
 * cfg->session_ttl_s; API key: expires_at_ms, 0 = never) inside the caller's
 * transaction, writing the token into out. 0 with *token_id / *expires_at (may be
 * NULL), or -1 (logged). */
int identity_token_issue(const app_t *app, db_t *db, int64_t account_id, identity_token_kind_t kind,
                         int64_t expires_at_ms, const char *ip, char out[IDENTITY_TOKEN_MAX],
                         int64_t *token_id, int64_t *expires_at);

/* true when p may hand out (or take away) role at unit_id: it holds every permission
 * of the role within that unit (so nobody grants more than they have). Reads
 * role_permissions; false on a database error or an unknown role. */
bool identity_may_assign_role(const app_t *app, db_t *db, const principal_t *p, const char *role,
                              int64_t unit_id);

/* --- command line --------------------------------------------------------------------- */

/* `cityos user add|list|passwd ...` (see `cityos user --help`). argv[0] is the
 * subcommand name ("user"). Prints to stdout, errors to stderr; a generated password
 * is printed once. Returns the process exit status (0 ok, 1 refused, 2 usage/error). */
int identity_cli_user(app_t *app, int argc, char **argv);

/* When no account holds the admin role: creates (or, when the user name "admin" exists
 * without it, resets and promotes) the official "admin" with a generated 20-character
 * password, grants admin at unit 0, and prints the password once with the sign-in
 * hint to out. Safe with several nodes starting at once (a unique violation means
 * another node did it). 0 (done or nothing to do) or -1. */
int identity_ensure_first_admin(app_t *app, FILE *out);

#endif
