/*
 * identity_internal.h - helpers shared by the identity .c files. Not for use outside
 * src/identity/.
 */
#ifndef CITYOS_IDENTITY_INTERNAL_H
#define CITYOS_IDENTITY_INTERNAL_H

#include "base/common.h"
#include "identity/identity.h"

/* {id, code, name, era} of a unit (from the cache), {id} when the cache does not know
 * it, JSON null for 0. New reference. */
json_t *identity_unit_json(const app_t *app, int64_t unit_id);

/* The account's role assignments as [{role, unit}] (new reference), NULL on a
 * database error (logged). */
json_t *identity_roles_json(const app_t *app, db_t *db, int64_t account_id);

/* Lower-cases ASCII and trims spaces of a user name into out (cap bytes). false when
 * empty or too long. */
bool identity_username_normalize(const char *in, char *out, size_t cap);

/* " FOR UPDATE" on PostgreSQL (row lock), "" on SQLite (BEGIN IMMEDIATE already
 * serializes writers). */
const char *identity_for_update(const db_t *db);

/* Sets prob (err, field, printf message); returns -1 for `return identity_fail(...)`. */
int identity_fail(identity_problem_t *prob, err_t err, const char *field, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));

/* Checks the password of a signed-in account (before a password change) under the
 * sign-in throttle (identity_throttle_check): out->err is OK, BAD_CREDENTIALS (counted
 * as a failed sign-in, audited "auth.login_failed" with detail during=password_change),
 * RATE_LIMITED or LOCKED (out->retry_after_s), or VALIDATION when the account has no
 * password. A success forgives earlier failures. db must not be in a transaction.
 * 0 when it reached a decision, -1 on a database error (logged). identity_login.c. */
int identity_password_recheck(const app_t *app, db_t *db, int64_t account_id, const char *password,
                              const audit_entry_t *ctx, identity_login_result_t *out);

/* --- HTTP helpers (identity_http.c) ------------------------------------------------ */

/* Answers with prob: {"error":{code, message, field?}}. */
void identity_reply_problem(http_req_t *req, const identity_problem_t *prob);
/* Answers 422 validation_failed naming field. */
void identity_reply_field(http_req_t *req, const char *field, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
/* A connection from the pool, or NULL after answering 503. Give it back with
 * db_pool_release(app->db, db). */
db_t *identity_req_db(http_req_t *req);
/* Answers 409 for a constraint violation, 503 for busy/connection, 500 otherwise, and
 * logs the database message. Rolls back an open transaction. */
void identity_reply_db_error(http_req_t *req, db_t *db);
/* A string member: 0 with *out (NULL when absent or JSON null), -1 after answering 422
 * when it is there but not a string. */
int identity_body_str(http_req_t *req, const json_t *body, const char *key, const char **out);
/* The id of the unit with `code` in the active era. 0, or -1 when unknown (or no
 * units are loaded). */
int identity_unit_by_code(const app_t *app, const char *code, int64_t *id);
/* Sets Retry-After from seconds. */
void identity_retry_after(http_req_t *req, int64_t seconds);

/* An account as JSON: {id, kind, username, full_name, cccd, birth_date, sex, unit,
 * status, roles, created_at, updated_at, locked_until}. *unit_id (may be NULL) gets
 * its unit. NULL when absent (*dberr false) or on error (*dberr true). */
json_t *identity_user_json(const app_t *app, db_t *db, int64_t id, int64_t *unit_id, bool *dberr);

/* roles: [{role, unit}] from a request body (unit: a code in the active era; absent or
 * null = everywhere) into refs allocated in the arena. 0, or -1 after answering 422. */
int identity_parse_roles(http_req_t *req, const json_t *arr, identity_role_ref_t **refs, size_t *n);
/* true when every role in refs exists and the caller may hand it out
 * (identity_may_assign_role); else answers (422 on "roles" for an unknown role, 403
 * for one the caller may not grant, 503/500 on a database error) and returns false. */
bool identity_check_assign(http_req_t *req, db_t *db, const identity_role_ref_t *refs, size_t n);

/* Handlers in identity_users.c and identity_clients.c. */
void identity_h_users_list(http_req_t *req);
void identity_h_user_get(http_req_t *req);
void identity_h_user_create(http_req_t *req);
void identity_h_user_patch(http_req_t *req);
void identity_h_client_create(http_req_t *req);

#endif
