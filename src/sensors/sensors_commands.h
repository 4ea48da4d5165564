/*
 * sensors_commands.h - street-light commands (on, off, dim) over MQTT with
 * acknowledgement tracking, retries and a timeout. See sensors_commands.c.
 */
#ifndef CITYOS_SENSORS_COMMANDS_H
#define CITYOS_SENSORS_COMMANDS_H

#include "base/common.h"
#include "store/db.h"

/* Publishes one QoS 1 message; 0 when queued, -1 when not connected. */
typedef int (*sensors_publish_fn)(void *ctx, const char *topic, const char *payload, size_t len);

/* CITYOS_SENSORS_CMD_RETRY_MS (default 10000) and CITYOS_SENSORS_CMD_ATTEMPTS (default 3). */
void sensors_cmd_settings(int64_t *retry_ms, int64_t *max_attempts);
/* Publishes the commands that are due (new, or unacknowledged for a retry interval) and
 * fails those whose last attempt timed out; its own transaction. Count handled or -1. */
int sensors_commands_dispatch(db_t *db, int64_t now, sensors_publish_fn publish, void *ctx);
/* An acknowledgement {"id", "status": "ok"|"error", "error"?} from device dev, inside the
 * caller's transaction. 0 (why set when it must become a dead letter) or -1 (db error). */
int sensors_commands_ack(db_t *db, const char *dev, const char *payload, size_t len, int64_t now, char *why,
                         size_t whylen);

#endif
