/*
 * sensors_rules.h - threshold, rate-of-change and device-offline rules; alerts raised,
 * acknowledged and cleared, each change kept in sensor_alert_events and queued in
 * sensor_outbox. All functions run inside the caller's transaction unless said otherwise.
 */
#ifndef CITYOS_SENSORS_RULES_H
#define CITYOS_SENSORS_RULES_H

#include "base/common.h"
#include "store/db.h"

#define SENSORS_MAX_RULES 256
/* PostgreSQL NOTIFY channel of alert events (sensors_live.c listens). */
#define SENSORS_ALERTS_CHANNEL "cityos_sensor_alerts"

typedef struct sensors_rule {
  int64_t id;
  bool rate;                 /* rate of change per minute instead of the value */
  bool below;                /* op "<" */
  double threshold;
  int64_t duration_ms;       /* the condition must hold this long (by reading time) */
  char device_type[40];      /* "" = any */
  char device_id[65];        /* "" = any */
  char attr[40];
  char severity[16];
  char name[120];
} sensors_rule_t;

typedef struct sensors_rules {
  size_t n;
  sensors_rule_t r[SENSORS_MAX_RULES];
} sensors_rules_t;

/* The enabled threshold and rate rules. 0 or -1. */
int sensors_rules_load(db_t *db, sensors_rules_t *out);
/* Evaluates the matching rules for one newly stored reading. 0 or -1. */
int sensors_rules_eval(db_t *db, const sensors_rules_t *rules, const char *dev, const char *type,
                       const char *attr, int64_t ts, double v, int64_t now);
/* The device reported: clears its open offline alerts. Count cleared or -1. */
int sensors_rules_device_seen(db_t *db, const char *dev, int64_t now);
/* Raises offline alerts for silent devices, in its own transaction. Count or -1. */
int sensors_rules_sweep_offline(db_t *db, int64_t now);
/* Raises an alert unless one is open for (rule, device) or the rule is gone or disabled
 * (a batch that loaded it before a concurrent change). 0 or -1. */
int sensors_alert_raise(db_t *db, int64_t rule_id, const char *dev, const char *severity, const char *message,
                        double value, int64_t at);
/* Clears every open alert of the rule with history event `event` by `actor` and forgets
 * its evaluation state (rule replaced, disabled or deleted). Alerts cleared or -1. */
int sensors_rule_reset(db_t *db, int64_t rule_id, int64_t at, const char *event, int64_t actor);
/* Appends a history event (and an outbox row). 0 or -1. */
int sensors_alert_event(db_t *db, int64_t alert_id, int64_t at, const char *event, int64_t actor);
/* A counter bumped after every commit that changed alerts (for live views). */
uint64_t sensors_alerts_version(void);
void sensors_alerts_bump(void);
/* Events appended by this thread since the last call (call after commit/rollback). */
int sensors_alerts_take_pending(void);

#endif
