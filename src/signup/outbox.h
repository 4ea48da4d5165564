/*
 * outbox.h - the gateway side of notification_outbox (module "outbox", order 111,
 * after signup which makes the table).
 *
 * An SMS or mail gateway, signed in with the API key of a client account holding
 * permission outbox.send (role outbox_gateway), drains the outbox:
 *   POST /api/v1/outbox/claim       {limit? 1..100 (10), lease_seconds? 10..3600 (60),
 *                                    channel? "sms"|"email"}
 *        -> 200 {lease, lease_until, messages: [{id, channel, destination, subject, body, attempt}]}
 *   POST /api/v1/outbox/{id}/sent   {lease}          -> 200 {id, status: "sent"}
 *   POST /api/v1/outbox/{id}/failed {lease, reason}  -> 200 {id, status: "retry", next_at}
 *                                                       or {id, status: "gave_up"}
 * A claim leases due messages (unsent, not given up, next_at passed, no live lease)
 * oldest first, counting an attempt; no two claims ever hold the same message (one
 * UPDATE under SQLite's write lock; FOR UPDATE SKIP LOCKED on PostgreSQL), so several
 * gateway workers and several cityos nodes can drain one outbox. A lease that runs out
 * (a crashed worker) makes the message claimable again. sent/failed need the lease of
 * the claim: 409 when the message is no longer under it, 404 when there is no such
 * message. failed retries after OUTBOX_BACKOFF_BASE_S * 2^(attempts-1) s (at most
 * OUTBOX_BACKOFF_MAX_S); after OUTBOX_MAX_ATTEMPTS attempts (failed, or lease run
 * out) the message is given up (failed_at). Sent and given-up messages have their
 * body (which holds the code) blanked.
 *
 * Audit: outbox.claim (record outbox_lease/<lease>, detail {ids, lease_seconds}) for
 * every claim that returned messages (they carry personal data); outbox.failed and
 * outbox.gave_up with the reason.
 */
#ifndef CITYOS_OUTBOX_H
#define CITYOS_OUTBOX_H

#include "base/common.h"
#include "store/db.h"

#include <jansson.h>

#define OUTBOX_MAX_ATTEMPTS 5
#define OUTBOX_BACKOFF_BASE_S 30
#define OUTBOX_BACKOFF_MAX_S 3600
#define OUTBOX_CLAIM_MAX 100
#define OUTBOX_LEASE_MIN_S 10
#define OUTBOX_LEASE_MAX_S 3600
#define OUTBOX_REASON_MAX 500
#define OUTBOX_LEASE_HEX 33

/* Seconds to wait after the attempts-th failed attempt. Pure. */
int64_t outbox_backoff_s(int64_t attempts);

/* Inside the caller's transaction: leases up to limit due messages of channel (NULL
 * for both) for lease_s seconds under a fresh lease id (written to lease) and appends
 * them to the JSON array out. 0 or -1. */
int outbox_claim(db_t *db, const char *channel, int64_t limit, int64_t lease_s, int64_t now,
                 char lease[OUTBOX_LEASE_HEX], json_t *out);
/* 1 marked sent, 0 not under that lease, -1 error. */
int outbox_mark_sent(db_t *db, int64_t id, const char *lease, int64_t now);
/* Inside the caller's transaction: 1 retried later (*next_at), 2 given up, 0 not under
 * that lease, -1 error. */
int outbox_mark_failed(db_t *db, int64_t id, const char *lease, const char *reason, int64_t now,
                       int64_t *next_at);

#endif
