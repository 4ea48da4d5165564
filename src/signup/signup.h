/*
 * signup.h - citizen sign-up bound to the population register, and password reset,
 * both through a one-time code sent via the notification outbox.
 *
 * Routes (all HTTP_PUBLIC; they carry their own checks):
 *   POST /api/v1/signup/start          {cccd, birth_date, channel: "sms"|"email", destination}
 *   POST /api/v1/signup/finish         {cccd, code, password}
 *   POST /api/v1/password-reset/start  {username}
 *   POST /api/v1/password-reset/finish {username, code, new_password}
 *
 * start always answers 202 {"status":"accepted","expires_in":600} once its input is
 * well-formed and the throttle allows it - whether the CCCD is unknown, the birth date
 * wrong, an account already exists, or a code was really sent - so the register and
 * the account list cannot be probed. A code is sent only when the CCCD is in the
 * register with that birth date and has no account yet (sign-up), or the user name is
 * an active account with a contact recorded at sign-up (reset).
 *
 * Throttle (table signup_throttle, fixed windows of SIGNUP_WINDOW_S, counted in the
 * same transaction as the decision whatever the outcome): per source address
 * SIGNUP_IP_MAX starts (sign-up and reset together), per CCCD / user name
 * SIGNUP_SUBJECT_MAX starts. Over the limit: 429 rate_limited with Retry-After.
 *
 * Codes (table signup_codes): 6 random digits, valid SIGNUP_CODE_TTL_S, stored as
 * "salt$hex(BLAKE2b keyed by the salt)", at most SIGNUP_CODE_TRIES wrong tries; a new
 * start replaces the subject's earlier code; a used code is spent. A wrong, expired,
 * spent or exhausted code all answer 422 on "code" alike.
 *
 * Outbox (table notification_outbox: id, channel, destination, subject, body,
 * created_at, sent_at NULL, and the gateway's columns): the message (Vietnamese) is
 * written in the transaction of the code; an SMS or mail gateway drains it through the
 * outbox routes (signup/outbox.h, docs/OUTBOX.md), which blank the body once sent.
 *
 * finish (sign-up) creates the account with identity_account_insert (kind citizen,
 * user name = CCCD, full name / birth date / sex from the register, the identity
 * password policy), records the channel and destination in signup_contacts (used by
 * password reset), spends the code and audits "signup.complete" - one transaction.
 * finish (reset) sets the password with identity_account_set_password (revokes every
 * session, clears the lock) and audits "password.reset" in the same transaction.
 * The password hash is computed before the transaction, only when a live code exists.
 */
#ifndef CITYOS_SIGNUP_H
#define CITYOS_SIGNUP_H

#include "base/common.h"
#include "store/db.h"
#include "http/http.h"

#define SIGNUP_CODE_TTL_S 600
#define SIGNUP_CODE_TRIES 5
#define SIGNUP_WINDOW_S 3600
#define SIGNUP_SUBJECT_MAX 5
#define SIGNUP_IP_MAX 20
#define SIGNUP_DEST_MAX 254
#define SIGNUP_CODE_HASH_MAX 112

const db_migration_t *signup_migrations(db_kind_t kind, size_t *n);
const http_route_t *signup_routes(size_t *n);

/* --- pure helpers (signup_store.c) ---------------------------------------------------- */

/* true when destination is a plausible address for channel: "sms" a Vietnamese phone
 * number (0 or +84 then 9-10 digits), "email" printable ASCII local@domain.tld of at
 * most SIGNUP_DEST_MAX bytes. */
bool signup_destination_valid(const char *channel, const char *destination);
/* A fresh 6-digit code into out (7 bytes). */
void signup_code_new(char out[7]);
/* "salt$hash" of code into out. */
void signup_code_hash(const char *code, char out[SIGNUP_CODE_HASH_MAX]);
/* true when code matches stored (constant time on the hash). */
bool signup_code_matches(const char *stored, const char *code);

/* --- storage (signup_store.c), inside the caller's transaction ------------------------ */

/* Counts one attempt on key within the window; 0 allowed, 1 over the limit (nothing
 * counted, *retry_s set), -1 database error. */
int signup_throttle_hit(db_t *db, const char *key, int64_t max, int64_t now, int64_t *retry_s);
/* Replaces the subject's code for purpose ("signup" | "reset") with a new one and puts
 * the message into the outbox. 0 or -1. */
int signup_code_issue(db_t *db, const char *purpose, const char *subject, const char *channel,
                      const char *destination, int64_t now);
/* Puts one message into notification_outbox (drained by the SMS / mail gateway, see
 * outbox.h), inside the caller's transaction. Other modules notify people with it
 * (sensors: alert recipients). 0 or -1. */
int outbox_enqueue(db_t *db, const char *channel, const char *destination, const char *subject, const char *body,
                   int64_t now);
/* true (1) when the subject has a live code (unspent, unexpired, tries left); 0 when
 * not; -1 on error. */
int signup_code_live(db_t *db, const char *purpose, const char *subject, int64_t now);
/* Checks code against the subject's live code: 1 right (the code is spent), 0 wrong
 * (a try is counted) or no live code, -1 error. */
int signup_code_consume(db_t *db, const char *purpose, const char *subject, const char *code, int64_t now);

#endif
