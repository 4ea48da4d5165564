#include "base/common.h"
#include "oidc/oidc_internal.h"
#include "audit/audit.h"
#include "base/log.h"
#include "base/seal.h"
#include "config.h"

#include <sodium.h>
#include <unistd.h>

/*
 * Secrets at rest for the provider (see base/seal.h and docs/IDENTITY.md): at start the
 * server master key is loaded (or made), checked against the database's check value,
 * and TOTP seeds and private signing keys still stored in clear are sealed.
 */

const char *oidc_totp_ad(char buf[OIDC_AD_MAX], int64_t account_id)
{
  snprintf(buf, OIDC_AD_MAX, "oidc_totp:%lld", (long long)account_id);
  return buf;
}

const char *oidc_key_ad(char buf[OIDC_AD_MAX], const char *kid)
{
  snprintf(buf, OIDC_AD_MAX, "oidc_keys:%s", kid);
  return buf;
}

/* The key file: the setting, else beside the SQLite file, else ./cityos-master.key. */
static char *key_path(arena_t *a, const config_t *cfg)
{
  if (cfg->master_key_file && *cfg->master_key_file) return arena_strdup(a, cfg->master_key_file);
  const char *db = cfg->db ? cfg->db : "";
  if (*db && !strstr(db, "://") && strcmp(db, ":memory:") != 0 && strncmp(db, "file:", 5) != 0)
    return arena_printf(a, "%s.key", db);
  return arena_strdup(a, "cityos-master.key");
}

static int stored_check(db_t *db, char out[SEAL_CHECK_HEX])
{
  out[0] = '\0';
  db_stmt_t *st = db_prepare(db, "SELECT check_value FROM server_keys WHERE name = 'master'");
  if (!st) return -1;
  int r = db_step(st);
  if (r == DB_ROW) snprintf(out, SEAL_CHECK_HEX, "%s", db_col_text(st, 0) ? db_col_text(st, 0) : "");
  db_stmt_done(st);
  return r < 0 ? -1 : r == DB_ROW ? 1 : 0;
}

/* Loads the key and makes sure it is the database's. 0 or -1 (logged). */
static int load_key(arena_t *a, const config_t *cfg, db_t *db)
{
  char have[SEAL_CHECK_HEX], mine[SEAL_CHECK_HEX], err[512];
  uint8_t key[SEAL_KEY_BYTES];
  const char *path = key_path(a, cfg);
  int known = stored_check(db, have);
  if (known < 0) return -1;
  int r = seal_key_file(path, known == 0, key, err, sizeof err);
  if (r < 0) {
    log_error(NULL, "msg=\"master key\" err=\"%s\"", err);
    return -1;
  }
  if (r == 0) {
    log_error(NULL, "msg=\"the database holds secrets sealed with a master key, but the key file is missing;"
                    " restore it or set master_key_file (docs/IDENTITY.md)\" path=\"%s\"", path);
    return -1;
  }
  if (err[0]) log_warn(NULL, "msg=\"master key\" warning=\"%s\"", err);
  if (r == 2) log_info(NULL, "msg=\"a new master key was made; back it up apart from the database\" path=\"%s\"", path);
  seal_key_set(key);
  sodium_memzero(key, sizeof key);
  seal_key_check(mine);
  if (known == 0) {
    db_stmt_t *st = db_prepare(db, "INSERT INTO server_keys (name, check_value, created_at) VALUES ('master', $1, $2)"
                                   " ON CONFLICT (name) DO NOTHING");
    if (!st) return -1;
    db_bind_text(st, 1, mine);
    db_bind_int64(st, 2, clock_now_ms());
    int s = db_step(st);
    db_stmt_done(st);
    if (s < 0 || stored_check(db, have) != 1) return -1;   /* another node may have won */
  }
  if (strcmp(have, mine) != 0) {
    log_error(NULL, "msg=\"the master key file does not match the key this database's secrets are sealed with"
                    " (check value %s, the file's %s)\" path=\"%s\"", have, mine, path);
    seal_key_clear();
    return -1;
  }
  return 0;
}

/* Seals the TOTP seeds still in clear. The count sealed, or -1. */
static int64_t seal_totp(arena_t *a, db_t *db)
{
  typedef struct { int64_t id; uint8_t *secret; size_t n; } row_t;
  row_t *rows = NULL;
  size_t n = 0, cap = 0;
  int64_t done = 0;
  db_stmt_t *st = db_prepare(db, "SELECT account_id, secret FROM oidc_totp");
  if (!st) return -1;
  int r;
  while ((r = db_step(st)) == DB_ROW) {
    size_t len = 0;
    const void *b = db_col_blob(st, 1, &len);
    if (seal_is_sealed_bytes(b, len) || len == 0 || len > 64) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      row_t *nr = arena_alloc(a, cap * sizeof *nr);
      if (n) memcpy(nr, rows, n * sizeof *nr);
      rows = nr;
    }
    rows[n].id = db_col_int64(st, 0);
    rows[n].secret = arena_alloc(a, len);
    memcpy(rows[n].secret, b, len);
    rows[n].n = len;
    n++;
  }
  db_stmt_done(st);
  if (r < 0) return -1;
  for (size_t i = 0; i < n; i++) {
    uint8_t out[64 + SEAL_OVERHEAD];
    char ad[OIDC_AD_MAX];
    if (seal_bytes(rows[i].secret, rows[i].n, oidc_totp_ad(ad, rows[i].id), out) < 0) return -1;
    sodium_memzero(rows[i].secret, rows[i].n);
    st = db_prepare(db, "UPDATE oidc_totp SET secret = $2 WHERE account_id = $1");
    if (!st) return -1;
    db_bind_int64(st, 1, rows[i].id);
    db_bind_blob(st, 2, out, rows[i].n + SEAL_OVERHEAD);
    r = db_step(st);
    db_stmt_done(st);
    if (r < 0) return -1;
    done++;
  }
  return done;
}

/* Seals the private signing keys still in clear. The count sealed, or -1. */
static int64_t seal_signing_keys(arena_t *a, db_t *db)
{
  typedef struct { const char *kid, *pem; } row_t;
  row_t rows[64];
  size_t n = 0;
  int64_t done = 0;
  db_stmt_t *st = db_prepare(db, "SELECT kid, private_pem FROM oidc_keys WHERE private_pem NOT LIKE 'sealed1:%'");
  if (!st) return -1;
  int r;
  while ((r = db_step(st)) == DB_ROW && n < ARRAY_LEN(rows)) {
    rows[n].kid = arena_strdup(a, db_col_text(st, 0));
    rows[n].pem = arena_strdup(a, db_col_text(st, 1));
    n++;
  }
  db_stmt_done(st);
  if (r < 0) return -1;
  for (size_t i = 0; i < n; i++) {
    char ad[OIDC_AD_MAX];
    char *sealed = seal_text(a, rows[i].pem, oidc_key_ad(ad, rows[i].kid));
    sodium_memzero((char *)rows[i].pem, strlen(rows[i].pem));
    if (!sealed) return -1;
    st = db_prepare(db, "UPDATE oidc_keys SET private_pem = $2 WHERE kid = $1");
    if (!st) return -1;
    db_bind_text(st, 1, rows[i].kid);
    db_bind_text(st, 2, sealed);
    r = db_step(st);
    db_stmt_done(st);
    if (r < 0) return -1;
    done++;
  }
  return done;
}

int oidc_seal_start(app_t *app, db_t *db)
{
  arena_t *a = arena_new(16384);
  int rc = -1;
  if (!a) return -1;
  if (load_key(a, app->cfg, db) < 0) goto done;
  if (db_begin(db) < 0) goto fail;
  int64_t totp = seal_totp(a, db);
  int64_t keys = totp < 0 ? -1 : seal_signing_keys(a, db);
  if (keys < 0) goto fail;
  if (totp + keys > 0) {
    audit_entry_t e = audit_entry_from_req(NULL, "secrets.sealed", "server_keys", "master");
    e.detail = audit_detail(a, json_pack("{s:I,s:I}", "totp_secrets", (json_int_t)totp, "signing_keys",
                                         (json_int_t)keys));
    if (audit_append(db, &e) < 0) goto fail;
  }
  if (db_commit(db) < 0) goto fail;
  if (totp + keys > 0)
    log_info(NULL, "msg=\"secrets in clear sealed with the master key\" totp=%lld signing_keys=%lld", (long long)totp,
             (long long)keys);
  rc = 0;
  goto done;
fail:
  log_error(NULL, "msg=\"sealing secrets at rest failed\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
done:
  arena_free(a);
  return rc;
}

/* One sealed secret being moved to the new key: a TOTP seed (account_id) or a private
 * signing key (kid); clear is its plaintext (zeroed when done). */
typedef struct resealed {
  int64_t account_id;
  const char *kid;
  uint8_t *clear;
  size_t n;
} resealed_t;

typedef struct reseal_list {
  resealed_t *v;
  size_t n, cap;
} reseal_list_t;

static resealed_t *reseal_push(arena_t *a, reseal_list_t *l)
{
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 32;
    resealed_t *nv = arena_alloc(a, cap * sizeof *nv);
    if (!nv) return NULL;
    if (l->n) memcpy(nv, l->v, l->n * sizeof *nv);
    l->v = nv;
    l->cap = cap;
  }
  resealed_t *r = &l->v[l->n++];
  memset(r, 0, sizeof *r);
  return r;
}

/* Opens every TOTP seed (with the key in use) into l. 0, or -1 (message in err). */
static int rekey_read_totp(arena_t *a, db_t *db, reseal_list_t *l, char *err, size_t errlen)
{
  db_stmt_t *st = db_prepare(db, "SELECT account_id, secret FROM oidc_totp ORDER BY account_id");
  if (!st) return -1;
  int r;
  while ((r = db_step(st)) == DB_ROW) {
    size_t len = 0;
    const uint8_t *b = db_col_blob(st, 1, &len);
    resealed_t *x = reseal_push(a, l);
    if (!x) break;
    x->account_id = db_col_int64(st, 0);
    x->clear = arena_alloc(a, len ? len : 1);
    if (!x->clear) break;
    char ad[OIDC_AD_MAX];
    if (!seal_is_sealed_bytes(b, len)) {   /* still in clear (sealed at the next start otherwise) */
      if (len == 0 || len > 64) continue;
      memcpy(x->clear, b, len);
      x->n = len;
    } else if (seal_open_bytes(b, len, oidc_totp_ad(ad, x->account_id), x->clear, len, &x->n) < 0) {
      snprintf(err, errlen, "the TOTP secret of account %lld does not open with the current key", (long long)x->account_id);
      db_stmt_done(st);
      return -1;
    }
  }
  db_stmt_done(st);
  if (r == DB_ROW) snprintf(err, errlen, "out of memory");
  return r == DB_DONE ? 0 : -1;
}

/* Opens every private signing key (retired ones too) into l. 0, or -1 (message in err). */
static int rekey_read_keys(arena_t *a, db_t *db, reseal_list_t *l, char *err, size_t errlen)
{
  db_stmt_t *st = db_prepare(db, "SELECT kid, private_pem FROM oidc_keys ORDER BY kid");
  if (!st) return -1;
  int r;
  while ((r = db_step(st)) == DB_ROW) {
    resealed_t *x = reseal_push(a, l);
    if (!x) break;
    x->kid = arena_strdup(a, db_col_text(st, 0));
    const char *pem = db_col_text(st, 1);
    char ad[OIDC_AD_MAX];
    char *clear = seal_is_sealed_text(pem) ? seal_open_text(a, pem, oidc_key_ad(ad, x->kid)) : arena_strdup(a, pem);
    if (!clear) {
      snprintf(err, errlen, "the signing key %s does not open with the current key", x->kid);
      db_stmt_done(st);
      return -1;
    }
    x->clear = (uint8_t *)clear;
    x->n = strlen(clear);
  }
  db_stmt_done(st);
  if (r == DB_ROW) snprintf(err, errlen, "out of memory");
  return r == DB_DONE ? 0 : -1;
}

/* Seals l's secrets with the key in use and writes them back. 0 or -1. */
static int rekey_write(arena_t *a, db_t *db, const reseal_list_t *totp, const reseal_list_t *keys)
{
  char ad[OIDC_AD_MAX];
  for (size_t i = 0; i < totp->n; i++) {
    const resealed_t *x = &totp->v[i];
    if (x->n == 0) continue;
    uint8_t out[64 + SEAL_OVERHEAD];
    if (x->n > 64 || seal_bytes(x->clear, x->n, oidc_totp_ad(ad, x->account_id), out) < 0) return -1;
    db_stmt_t *st = db_prepare(db, "UPDATE oidc_totp SET secret = $2 WHERE account_id = $1");
    if (!st) return -1;
    db_bind_int64(st, 1, x->account_id);
    db_bind_blob(st, 2, out, x->n + SEAL_OVERHEAD);
    int r = db_step(st);
    db_stmt_done(st);
    if (r < 0) return -1;
  }
  for (size_t i = 0; i < keys->n; i++) {
    const resealed_t *x = &keys->v[i];
    char *sealed = seal_text(a, (const char *)x->clear, oidc_key_ad(ad, x->kid));
    if (!sealed) return -1;
    db_stmt_t *st = db_prepare(db, "UPDATE oidc_keys SET private_pem = $2 WHERE kid = $1");
    if (!st) return -1;
    db_bind_text(st, 1, x->kid);
    db_bind_text(st, 2, sealed);
    int r = db_step(st);
    db_stmt_done(st);
    if (r < 0) return -1;
  }
  return 0;
}

static void reseal_wipe(reseal_list_t *l)
{
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i].clear) sodium_memzero(l->v[i].clear, l->v[i].n);
}

int oidc_seal_rekey(const config_t *cfg, db_t *db, const char *new_path, FILE *out)
{
  arena_t *a = arena_new(65536);
  if (!a) return -1;
  char have[SEAL_CHECK_HEX], old_check[SEAL_CHECK_HEX], new_check[SEAL_CHECK_HEX], err[512] = "";
  uint8_t key[SEAL_KEY_BYTES];
  reseal_list_t totp = {0}, keys = {0};
  bool created = false, in_tx = false;
  int rc = -1;
  const char *old_path = key_path(a, cfg);
  int known = stored_check(db, have);
  if (known < 0) goto db_fail;
  if (known == 0) {
    fprintf(stderr, "cityos secrets rekey: this database has no master key yet (the server makes one at its first"
                    " start); nothing to re-seal\n");
    goto done;
  }
  int r = seal_key_file(old_path, false, key, err, sizeof err);
  if (r <= 0) {
    fprintf(stderr, "cityos secrets rekey: the current key file %s: %s\n", old_path, r == 0 ? "missing" : err);
    goto done;
  }
  seal_key_set(key);
  seal_key_check(old_check);
  if (strcmp(have, old_check) != 0) {
    fprintf(stderr, "cityos secrets rekey: the key file %s is not the key this database's secrets are sealed with"
                    " (check value %s, the file's %s)\n", old_path, have, old_check);
    goto done;
  }
  r = seal_key_file(new_path, true, key, err, sizeof err);
  if (r < 0) {
    fprintf(stderr, "cityos secrets rekey: %s\n", err);
    goto done;
  }
  if (r != 2) {
    fprintf(stderr, "cityos secrets rekey: %s already exists; name a new file (a key file is never overwritten)\n",
            new_path);
    goto done;
  }
  created = true;
  if (db_begin(db) < 0) goto db_fail;
  in_tx = true;
  /* every secret opened with the current key first: one that does not open stops the
   * whole re-key before anything is written */
  err[0] = '\0';
  if (rekey_read_totp(a, db, &totp, err, sizeof err) < 0 || rekey_read_keys(a, db, &keys, err, sizeof err) < 0) {
    if (!err[0]) goto db_fail;
    fprintf(stderr, "cityos secrets rekey: %s; nothing was changed\n", err);
    goto done;
  }
  seal_key_set(key);
  seal_key_check(new_check);
  if (rekey_write(a, db, &totp, &keys) < 0) goto db_fail;
  db_stmt_t *st = db_prepare(db, "UPDATE server_keys SET check_value = $1, created_at = $2 WHERE name = 'master'");
  if (!st) goto db_fail;
  db_bind_text(st, 1, new_check);
  db_bind_int64(st, 2, clock_now_ms());
  r = db_step(st);
  db_stmt_done(st);
  if (r < 0) goto db_fail;
  audit_entry_t e = audit_entry_from_req(NULL, "secrets.rekeyed", "server_keys", "master");
  e.detail = audit_detail(a, json_pack("{s:I,s:I,s:s,s:s}", "totp_secrets", (json_int_t)totp.n, "signing_keys",
                                       (json_int_t)keys.n, "old_check", old_check, "new_check", new_check));
  if (audit_append(db, &e) < 0 || db_commit(db) < 0) goto db_fail;
  in_tx = false;
  created = false;   /* the new key is the database's now: keep its file */
  fprintf(out,
          "re-sealed %zu TOTP secret(s) and %zu signing key(s) with the new master key (check value %s, was %s)\n"
          "new key file: %s (mode 0600)\n"
          "every node must now start with this key (setting master_key_file, or put the file in place of %s);\n"
          "keep the old key only beside backups of the database taken before now\n",
          totp.n, keys.n, new_check, old_check, new_path, old_path);
  rc = 0;
  goto done;
db_fail:
  fprintf(stderr, "cityos secrets rekey: database error: %s; nothing was changed\n", db_errmsg(db));
done:
  if (in_tx) db_rollback(db);
  if (created) unlink(new_path);
  reseal_wipe(&totp);
  reseal_wipe(&keys);
  sodium_memzero(key, sizeof key);
  seal_key_clear();
  arena_free(a);
  return rc;
}
