/*
 * config.h - cityos configuration: built-in defaults, then a config file, then
 * environment variables, then command-line flags (each later source overrides).
 *
 * File format: "key = value" lines, '#' comments, keys as in the table in config.c
 * (e.g. `listen = 127.0.0.1:8080`, `db = /var/lib/cityos/cityos.db`).
 * Environment: CITYOS_<KEY upper-cased, dots as _> (e.g. CITYOS_DB, CITYOS_LISTEN,
 * CITYOS_UNITS_ERA). Flags: --<key> VALUE or --<key>=VALUE (e.g. --db, --listen).
 */
#ifndef CITYOS_CONFIG_H
#define CITYOS_CONFIG_H

#include "base/common.h"

typedef struct config {
  char *listen;            /* "127.0.0.1:8080" */
  char *db;                /* SQLite path or postgresql:// URL; default "cityos.db" */
  char *web_dir;           /* static files; default "<data root>/web" */
  char *data_dir;          /* reference data; default "<data root>/data" */
  char *units_era;         /* active era: "2025" (default) or "2024" */
  char *log_level;         /* "info" */
  int threads;             /* 0 = automatic */
  int db_pool;             /* connections; 0 = threads + 2 */
  int max_connections;     /* 1024 */
  int timeout_s;           /* 30 */
  int session_ttl_s;       /* 8 h */
  int login_max_failures;  /* failures before a lock: 10 */
  int login_lock_s;        /* lock duration: 900 */
  int login_slow_after;    /* failures before slowing down: 3 */
  int argon_ops;           /* argon2id opslimit: 2 */
  int argon_mem_kib;       /* argon2id memlimit in KiB: 19456 */
  int mfa_officials;       /* officials need a second factor until an administrator sets the policy: 1 */
  int auto_import;         /* serve: import the shipped reference data into an empty db: 1 */
  char *mqtt;              /* MQTT broker URL for sensor ingestion ("mqtt://HOST:PORT"); "" = off */
  char *public_url;        /* the public base URL (QR codes, OIDC issuer); "" = http://<listen>/ */
  char *master_key_file;   /* key sealing secrets at rest; "" = <db>.key (SQLite), ./cityos-master.key */
} config_t;

/* Fills cfg with defaults. */
void config_defaults(config_t *cfg);
/* Reads a file (missing file is an error only when `required`). 0 or -1 (message on stderr). */
int config_load_file(config_t *cfg, const char *path, bool required);
/* Applies CITYOS_* environment variables. 0 or -1. */
int config_load_env(config_t *cfg);
/* Sets one key ("db", "listen", ...) from text. 0, or -1 for an unknown key or bad value. */
int config_set(config_t *cfg, const char *key, const char *value);
/* Consumes the flags it knows from argv (--key VALUE / --key=VALUE, and --config FILE),
 * leaving the rest in order; returns the new argc or -1 on a bad value. */
int config_parse_flags(config_t *cfg, int argc, char **argv);
/* Loads everything in order for a subcommand: defaults, --config file (or
 * $CITYOS_CONFIG, or ./cityos.conf if present), env, flags. Returns new argc or -1. */
int config_load_all(config_t *cfg, int argc, char **argv);
void config_release(config_t *cfg);
/* Prints the keys with their current values (no secrets) to f. */
void config_print(const config_t *cfg, FILE *f);
/* Help text for the common flags. */
void config_print_help(FILE *f);

#endif
