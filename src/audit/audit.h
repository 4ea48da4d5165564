/*
 * audit.h - the append-only, hash-chained audit log.
 *
 * Every touch of personal data and every security event (sign-in, sign-out, account
 * created / changed / read, API client created) leaves one row in audit_log, written
 * in the SAME transaction as the change it describes, so the two commit or vanish
 * together. Rows are numbered by `seq` (1, 2, 3, ... without gaps) and chained:
 *
 *   hash(n) = SHA-256 hex of the canonical encoding of row n's fields and hash(n-1)
 *
 * with hash(0) = 64 zeros. The single row of audit_head holds the last seq and hash,
 * so a deleted tail is noticed too. Triggers refuse UPDATE, DELETE (and TRUNCATE on
 * PostgreSQL) on audit_log and DELETE or rewinding of audit_head; audit_verify()
 * catches what someone with enough database rights did after dropping them (an edited
 * row, a deleted row, a deleted tail). It cannot catch a writer who recomputes every
 * later hash and the head: record the head hash printed by `cityos audit verify`
 * somewhere else (a ticket, a signed mail) to anchor it.
 *
 * Canonical encoding (version 1) fed to SHA-256, so outside tools can re-check:
 *   "cityos-audit-v1\n", then for each field in this order
 *     seq, at, actor_id, actor_kind, action, record_type, record_id, unit_id,
 *     ip, request_id, detail, prev_hash
 *   either "N;" for SQL NULL, or "<decimal byte length>:<bytes>;" (integers are written
 *   in decimal first). actor_id and unit_id are NULL when 0.
 *
 * Concurrency: audit_append() first runs
 *   UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, last_hash
 * which on PostgreSQL row-locks the head until the caller's transaction ends (so
 * appenders serialize and commit in seq order); on SQLite db_begin() is BEGIN
 * IMMEDIATE, which serializes writers already. Keep transactions that append short.
 *
 * Migrations differ per backend (trigger syntax), hence audit_migrations(kind, ...):
 * both tables have module "audit" and the same numbers, only the trigger text differs.
 */
#ifndef CITYOS_AUDIT_H
#define CITYOS_AUDIT_H

#include "base/common.h"
#include "base/arena.h"
#include "store/db.h"
#include "http/http.h"
#include "app.h"

#include <jansson.h>

#define AUDIT_HASH_HEX 65   /* 64 hex digits + NUL */
#define AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* One entry as the caller describes it. Strings are borrowed for the call; NULL is
 * stored as SQL NULL. `action` is required ("user.read", "user.create", "auth.login",
 * "auth.login_failed", "auth.logout", ...). `detail` is a JSON text without secrets
 * (no passwords, tokens or password hashes). `unit_id` is the administrative unit the
 * record belongs to (0 = none): unit-scoped readers of the log see only entries of
 * their units. */
typedef struct audit_entry {
  int64_t at;                /* ms since the epoch; 0 = now */
  int64_t actor_id;          /* account id; 0 = nobody signed in / the system */
  const char *actor_kind;    /* "citizen" | "official" | "client" | "system" | "anonymous" */
  const char *action;
  const char *record_type;   /* "account", "token", ... */
  const char *record_id;
  int64_t unit_id;
  const char *ip;
  const char *request_id;
  const char *detail;
} audit_entry_t;

/* The migrations for that backend (static table; n set to its length). */
const db_migration_t *audit_migrations(db_kind_t kind, size_t *n);

/* An entry filled from the request: actor (principal id and kind, or "anonymous"),
 * client IP, request id; at = 0 (now). The strings point into req (its arena), so the
 * entry lives as long as the request. req may be NULL (then only action/record set,
 * actor_kind "system"). */
audit_entry_t audit_entry_from_req(const http_req_t *req, const char *action,
                                   const char *record_type, const char *record_id);

/* Compact JSON text of obj (keys sorted) copied into the arena; STEALS obj (decrefs
 * it), so audit_detail(a, json_pack(...)) is fine. NULL obj gives NULL. */
const char *audit_detail(arena_t *a, json_t *obj);

/* Appends e. MUST run inside the caller's open transaction (db_begin); returns -1
 * without writing when none is open, when e->action is NULL, or on a database error
 * (logged; the caller rolls back). On success 0 and, when seq_out is not NULL, the
 * entry's seq. */
int audit_append(db_t *db, const audit_entry_t *e);
int audit_append_seq(db_t *db, const audit_entry_t *e, int64_t *seq_out);

/* The hash of row `seq` with fields e and predecessor hash prev_hash (64 hex), as
 * described above, into out. Pure; exposed for tests and tooling. */
void audit_compute_hash(int64_t seq, const audit_entry_t *e, const char *prev_hash,
                        char out[AUDIT_HASH_HEX]);

typedef struct audit_verify_result {
  int64_t entries;           /* rows checked */
  int64_t head_seq;          /* audit_head.seq at the start */
  char head_hash[AUDIT_HASH_HEX];
  int64_t first_bad_seq;     /* 0 when intact */
  char reason[160];          /* "" when intact, else e.g. "hash mismatch (row edited)" */
} audit_verify_result_t;

/* Walks audit_log in seq order up to the head seen at the start (later appends are
 * left for the next run), recomputing every hash. Reports the first broken link:
 * an edited row (hash mismatch), a deleted row (a gap in seq, reported as the missing
 * seq, or a prev_hash that does not match), a deleted tail (the head is ahead of the
 * last row), a deleted head row (reported at the seq after the last row). Prints progress every 100,000 entries to `out` (may be NULL), nothing
 * else. Reads in pages, so it runs outside a transaction on a log of any size.
 * Returns 0 intact, 1 broken (res->first_bad_seq, res->reason), -1 on a database
 * error. */
int audit_verify_ex(db_t *db, FILE *out, audit_verify_result_t *res);
/* The same; *first_bad_seq (may be NULL) is 0 when intact. */
int audit_verify(db_t *db, FILE *out, int64_t *first_bad_seq);

/* Routes: GET /api/v1/audit (audit.read; newest first, filtered, paginated; a reader
 * whose audit.read is unit-scoped sees the entries of units within those grants) and
 * GET /api/v1/audit/verify (audit.read held everywhere). Static table. */
const http_route_t *audit_routes(size_t *n);

/* `cityos audit verify` (exit 0 intact, 1 broken: "audit: broken at seq N: reason",
 * 2 on error) and `cityos audit list [--limit N] [--offset N] [--action A]`.
 * argv[0] is the subcommand name ("audit"); argv[1] the action. Prints to stdout,
 * errors to stderr. Returns the process exit status. */
int audit_cli(app_t *app, int argc, char **argv);

#endif
