/*
 * sensors_internal.h - helpers shared by the sensors module's HTTP files.
 */
#ifndef CITYOS_SENSORS_INTERNAL_H
#define CITYOS_SENSORS_INTERNAL_H

#include "base/common.h"
#include "http/http.h"
#include "store/db.h"
#include "app.h"

#include <jansson.h>

/* The columns sensors_device_row_json() reads, in order. */
#define SENSORS_DEVICE_COLS \
  "id, type, name, lon, lat, unit_id, status, last_seen_at, created_at, latest, latest_ts"

/* Broker credentials (sensors_broker.c). */
#define SENSORS_BROKER_HASH_MAX 160
/* mosquitto's "$7$101$salt$hash" (PBKDF2-SHA512) of a password, fresh salt. 0 or -1. */
int sensors_broker_hash(const char *password, char out[SENSORS_BROKER_HASH_MAX]);
/* Writes DIR/passwd and DIR/acl (each atomically) for the active devices and the service
 * account svc_user (NULL: none). *devices written, *skipped without a broker hash. 0 or -1. */
int sensors_broker_write(db_t *db, const char *dir, const char *svc_user, const char *svc_password, int *devices,
                         int *skipped);
/* Keeps CITYOS_MQTT_AUTH_DIR up to date (the sweeper calls it; see sensors_broker.c). */
void sensors_broker_sync(db_t *db);

/* A pooled connection for the request, or NULL after answering 503. Release it. */
db_t *sensors_req_db(http_req_t *req);
/* 422 validation_failed naming the field. */
void sensors_reply_field(http_req_t *req, const char *field, const char *msg);
/* Checks a street-light order shared by commands and schedules: devices a list of 1-1000
 * ids, action on|off|dim, level 0..1 (required for dim). Sets *level (off -> 0, on
 * without a level -> 1). 0, or -1 after answering 422 naming the field. */
int sensors_light_order_check(http_req_t *req, const json_t *devs, const char *action, const json_t *lv,
                              double *level);
/* The device row (columns of DEVICE_COLS) as JSON; state from last_seen_at. New ref. */
json_t *sensors_device_row_json(const app_t *app, db_stmt_t *st, int64_t now);
/* Loads device `id` when the caller holds perm at its unit: 1 with *out (arena-owned)
 * and *unit_id, or 0 after answering (404 also when not allowed, 500 on error). */
int sensors_device_load(http_req_t *req, db_t *db, const char *id, const char *perm, json_t **out,
                        int64_t *unit_id);

/* Resolution choice for a time range: 0 raw, 60000 or 3600000 (pure). "auto" picks raw
 * up to 6 hours, 1 minute up to 7 days, 1 hour beyond. -1 for an unknown word. */
int64_t sensors_pick_resolution(const char *word, int64_t from, int64_t to);

void sensors_h_readings(http_req_t *req);
void sensors_h_aqi(http_req_t *req);
void sensors_h_aqi_history(http_req_t *req);
void sensors_h_rules_list(http_req_t *req);
void sensors_h_rule_create(http_req_t *req);
void sensors_h_rule_update(http_req_t *req);
void sensors_h_rule_delete(http_req_t *req);
void sensors_h_alerts_list(http_req_t *req);
void sensors_h_alert_get(http_req_t *req);
void sensors_h_alert_ack(http_req_t *req);
void sensors_h_commands_create(http_req_t *req);
void sensors_h_commands_list(http_req_t *req);
void sensors_h_devices_import(http_req_t *req);
void sensors_reply_devices_csv(http_req_t *req, const json_t *items);
void sensors_h_ngsi_entities(http_req_t *req);
void sensors_h_ngsi_entity(http_req_t *req);
void sensors_h_ngsi_temporal(http_req_t *req);

/* sensors_live.c: the SSE feed of alert events */
int sensors_live_start(app_t *app);
void sensors_live_stop(void);
void sensors_h_stream(http_req_t *req);

#endif
