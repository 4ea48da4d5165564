#include "base/common.h"
#include "config.h"
#include "base/text.h"
#include "base/log.h"
#include <ctype.h>
#include <unistd.h>

typedef enum { KEY_STR, KEY_INT } key_kind_t;

typedef struct {
  const char *key;
  key_kind_t kind;
  size_t offset;
  int64_t min, max;    /* for ints */
  const char *help;
} key_def_t;

#define S(k, field, help) {k, KEY_STR, offsetof(config_t, field), 0, 0, help}
#define I(k, field, lo, hi, help) {k, KEY_INT, offsetof(config_t, field), lo, hi, help}

static const key_def_t KEYS[] = {
  S("listen", listen, "HOST:PORT to listen on (default 127.0.0.1:8080)"),
  S("db", db, "SQLite file path or postgresql:// URL (default cityos.db)"),
  S("web_dir", web_dir, "folder of the static web files"),
  S("data_dir", data_dir, "folder of the shipped reference data"),
  S("units_era", units_era, "active era of administrative units: 2025 or 2024"),
  S("log_level", log_level, "debug, info, warn, error or off"),
  I("threads", threads, 0, 256, "HTTP worker threads (0 = automatic)"),
  I("db_pool", db_pool, 0, 512, "database connections (0 = threads + 2)"),
  I("max_connections", max_connections, 1, 100000, "simultaneous HTTP connections"),
  I("timeout", timeout_s, 1, 3600, "idle connection timeout in seconds"),
  I("session_ttl", session_ttl_s, 60, 30 * 86400, "sign-in session lifetime in seconds"),
  I("login_max_failures", login_max_failures, 1, 1000, "failed sign-ins before the account locks"),
  I("login_lock", login_lock_s, 1, 86400, "account lock duration in seconds"),
  I("login_slow_after", login_slow_after, 0, 1000, "failed sign-ins before each try must wait"),
  I("argon_ops", argon_ops, 1, 20, "argon2id time cost"),
  I("argon_mem_kib", argon_mem_kib, 8, 4 * 1024 * 1024, "argon2id memory cost in KiB"),
  I("auto_import", auto_import, 0, 1, "import the shipped Hanoi data into an empty database"),
  I("mfa_officials", mfa_officials, 0, 1,
    "1: officials need a second factor (TOTP) unless an administrator turned the policy off"),
  S("mqtt", mqtt, "MQTT broker for sensor ingestion: mqtt://HOST:PORT (empty: off)"),
  S("public_url", public_url, "public base URL used in links, QR codes and the OIDC issuer"),
  S("master_key_file", master_key_file, "file of the key sealing secrets at rest (default <db>.key for SQLite)"),
};

static char *dupstr(const char *s) {
  char *p = strdup(s);
  if (!p) abort();
  return p;
}

/* The folder the binary's data lives in: the source tree in a developer build
 * (binary in build/), or the current directory. */
static char *default_root(void) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    for (int up = 0; up < 3 && slash; up++) {
      *slash = '\0';
      char probe[4200];
      snprintf(probe, sizeof probe, "%s/data/units/hanoi-units-2025.csv", exe);
      if (access(probe, R_OK) == 0) return dupstr(exe);
      slash = strrchr(exe, '/');
    }
  }
  return dupstr(".");
}

void config_defaults(config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  char *root = default_root();
  char tmp[4200];
  cfg->listen = dupstr("127.0.0.1:8080");
  cfg->db = dupstr("cityos.db");
  snprintf(tmp, sizeof tmp, "%s/web", root);
  cfg->web_dir = dupstr(tmp);
  snprintf(tmp, sizeof tmp, "%s/data", root);
  cfg->data_dir = dupstr(tmp);
  free(root);
  cfg->units_era = dupstr("2025");
  cfg->log_level = dupstr("info");
  cfg->threads = 0;
  cfg->db_pool = 0;
  cfg->max_connections = 1024;
  cfg->timeout_s = 30;
  cfg->session_ttl_s = 8 * 3600;
  cfg->login_max_failures = 10;
  cfg->login_lock_s = 900;
  cfg->login_slow_after = 3;
  cfg->argon_ops = 2;
  cfg->argon_mem_kib = 19456;
  cfg->auto_import = 1;
  cfg->mfa_officials = 1;
  cfg->mqtt = dupstr("");
  cfg->public_url = dupstr("");
  cfg->master_key_file = dupstr("");
}

static const key_def_t *find_key(const char *key) {
  for (size_t i = 0; i < ARRAY_LEN(KEYS); i++)
    if (strcmp(KEYS[i].key, key) == 0) return &KEYS[i];
  /* Accept dashes for underscores on the command line: --web-dir. */
  char norm[64];
  size_t n = strlen(key);
  if (n >= sizeof norm) return NULL;
  for (size_t i = 0; i <= n; i++) norm[i] = key[i] == '-' ? '_' : key[i];
  for (size_t i = 0; i < ARRAY_LEN(KEYS); i++)
    if (strcmp(KEYS[i].key, norm) == 0) return &KEYS[i];
  return NULL;
}

int config_set(config_t *cfg, const char *key, const char *value) {
  const key_def_t *k = find_key(key);
  if (!k) {
    fprintf(stderr, "config: unknown setting '%s'\n", key);
    return -1;
  }
  char *base = (char *)cfg;
  if (k->kind == KEY_STR) {
    char **slot = (char **)(base + k->offset);
    if (strcmp(k->key, "log_level") == 0 && log_level_parse(value) < 0) {
      fprintf(stderr, "config: log_level must be debug, info, warn, error or off\n");
      return -1;
    }
    free(*slot);
    *slot = dupstr(value);
  } else {
    int64_t v;
    if (text_parse_int64(value, k->min, k->max, &v) < 0) {
      fprintf(stderr, "config: %s must be a whole number from %" PRId64 " to %" PRId64 " (got '%s')\n",
              k->key, k->min, k->max, value);
      return -1;
    }
    *(int *)(base + k->offset) = (int)v;
  }
  return 0;
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  return s;
}

int config_load_file(config_t *cfg, const char *path, bool required) {
  FILE *f = fopen(path, "r");
  if (!f) {
    if (!required && errno == ENOENT) return 0;
    fprintf(stderr, "config: cannot read %s: %s\n", path, strerror(errno));
    return -1;
  }
  char line[4096];
  int lineno = 0, rc = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    char *s = trim(line);
    if (*s == '\0' || *s == '#') continue;
    char *eq = strchr(s, '=');
    if (!eq) {
      fprintf(stderr, "config: %s:%d: expected key = value\n", path, lineno);
      rc = -1;
      break;
    }
    *eq = '\0';
    char *key = trim(s), *val = trim(eq + 1);
    size_t vl = strlen(val);
    if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
      val[vl - 1] = '\0';
      val++;
    }
    if (config_set(cfg, key, val) < 0) {
      fprintf(stderr, "config: %s:%d: bad setting\n", path, lineno);
      rc = -1;
      break;
    }
  }
  fclose(f);
  return rc;
}

int config_load_env(config_t *cfg) {
  for (size_t i = 0; i < ARRAY_LEN(KEYS); i++) {
    char name[80] = "CITYOS_";
    size_t n = strlen(name);
    for (const char *k = KEYS[i].key; *k && n < sizeof name - 1; k++)
      name[n++] = (char)toupper((unsigned char)*k);
    name[n] = '\0';
    const char *v = getenv(name);
    if (v && config_set(cfg, KEYS[i].key, v) < 0) {
      fprintf(stderr, "config: bad value in environment variable %s\n", name);
      return -1;
    }
  }
  return 0;
}

int config_parse_flags(config_t *cfg, int argc, char **argv) {
  int out = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0 || strcmp(a, "--") == 0) {
      argv[out++] = argv[i];
      continue;
    }
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    char key[64];
    size_t kl = eq ? (size_t)(eq - name) : strlen(name);
    if (kl >= sizeof key) {
      argv[out++] = argv[i];
      continue;
    }
    memcpy(key, name, kl);
    key[kl] = '\0';
    if (strcmp(key, "config") == 0) {  /* handled by config_load_all */
      if (!eq) i++;
      continue;
    }
    if (!find_key(key)) {
      argv[out++] = argv[i];
      continue;
    }
    const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!val) {
      fprintf(stderr, "cityos: --%s needs a value\n", key);
      return -1;
    }
    if (config_set(cfg, key, val) < 0) return -1;
  }
  argv[out] = NULL;
  return out;
}

int config_load_all(config_t *cfg, int argc, char **argv) {
  config_defaults(cfg);
  const char *file = getenv("CITYOS_CONFIG");
  bool required = file != NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      file = argv[i + 1];
      required = true;
    } else if (strncmp(argv[i], "--config=", 9) == 0) {
      file = argv[i] + 9;
      required = true;
    }
  }
  if (!file) file = "cityos.conf";
  if (config_load_file(cfg, file, required) < 0) return -1;
  if (config_load_env(cfg) < 0) return -1;
  int n = config_parse_flags(cfg, argc, argv);
  if (n < 0) return -1;
  return n;
}

void config_release(config_t *cfg) {
  for (size_t i = 0; i < ARRAY_LEN(KEYS); i++)
    if (KEYS[i].kind == KEY_STR) {
      char **slot = (char **)((char *)cfg + KEYS[i].offset);
      free(*slot);
      *slot = NULL;
    }
}

void config_print(const config_t *cfg, FILE *f) {
  for (size_t i = 0; i < ARRAY_LEN(KEYS); i++) {
    const char *base = (const char *)cfg;
    if (KEYS[i].kind == KEY_STR) {
      const char *v = *(char *const *)(base + KEYS[i].offset);
      /* A PostgreSQL URL may carry a password: show it masked. */
      if (strcmp(KEYS[i].key, "db") == 0 && v && strstr(v, "://") && strchr(v, '@'))
        fprintf(f, "%s = %.*s***@%s\n", KEYS[i].key, (int)(strstr(v, "://") - v + 3), v, strchr(v, '@') + 1);
      else
        fprintf(f, "%s = %s\n", KEYS[i].key, v ? v : "");
    } else {
      fprintf(f, "%s = %d\n", KEYS[i].key, *(const int *)(base + KEYS[i].offset));
    }
  }
}

void config_print_help(FILE *f) {
  fprintf(f, "Settings (file < CITYOS_<KEY> environment < --key flag):\n"
             "  --config FILE            read settings from FILE (default ./cityos.conf if present)\n");
  for (size_t i = 0; i < ARRAY_LEN(KEYS); i++) {
    char flag[64];
    snprintf(flag, sizeof flag, "--%s", KEYS[i].key);
    for (char *p = flag + 2; *p; p++) if (*p == '_') *p = '-';
    fprintf(f, "  %-24s %s\n", flag, KEYS[i].help);
  }
}
