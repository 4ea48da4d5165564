#include "base/common.h"
#include "oidc/oidc_internal.h"
#include "audit/audit.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/seal.h"
#include "config.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <sodium.h>

/*
 * Signing keys (generation, rotation, publication), the discovery document, JWKS, and
 * small helpers shared by the provider (issuer, hashing, form bodies, redirects).
 */

/* --- helpers -------------------------------------------------------------------------- */

const char *oidc_issuer(http_req_t *req)
{
  app_t *app = req->app;
  const char *base = app->cfg->public_url;
  char *b;
  if (base && *base) {
    b = arena_strdup(req->arena, base);
  } else {
    const char *host = http_header(req, "Host");
    b = arena_printf(req->arena, "http://%s", host && *host ? host : "localhost");
  }
  size_t n = strlen(b);
  while (n > 0 && b[n - 1] == '/') b[--n] = '\0';
  return arena_printf(req->arena, "%s/api/v1/oidc", b);
}

void oidc_hash(const char *s, char out[65])
{
  uint8_t h[SHA256_DIGEST_LENGTH];
  SHA256((const uint8_t *)s, strlen(s), h);
  for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

char *oidc_random_token(arena_t *a)
{
  uint8_t r[32];
  random_bytes(r, sizeof r);
  return oidc_b64url(a, r, sizeof r);
}

bool oidc_json_has_string(const json_t *arr, const char *s)
{
  size_t i;
  json_t *v;
  if (!s) return false;
  json_array_foreach(arr, i, v) if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return true;
  return false;
}

bool oidc_uri_registered(http_req_t *req, const json_t *arr, const char *uri)
{
  size_t i;
  json_t *v;
  if (!uri) return false;
  const char *iss = oidc_issuer(req);
  size_t olen = strlen(iss) - strlen("/api/v1/oidc");   /* the origin the issuer is derived from */
  json_array_foreach(arr, i, v)
  {
    const char *r = json_string_value(v);
    if (!r) continue;
    if (r[0] == '/') {
      if (strncmp(uri, iss, olen) == 0 && strcmp(uri + olen, r) == 0) return true;
    } else if (strcmp(r, uri) == 0) {
      return true;
    }
  }
  return false;
}

bool oidc_scope_has(const char *scope, const char *word)
{
  size_t wl = strlen(word);
  for (const char *p = scope; p && *p;) {
    while (*p == ' ') p++;
    const char *e = p;
    while (*e && *e != ' ') e++;
    if ((size_t)(e - p) == wl && strncmp(p, word, wl) == 0) return true;
    p = e;
  }
  return false;
}

bool oidc_scope_subset(const char *scope, const char *allowed)
{
  char w[64];
  for (const char *p = scope; p && *p;) {
    while (*p == ' ') p++;
    const char *e = p;
    while (*e && *e != ' ') e++;
    if (e > p) {
      if ((size_t)(e - p) >= sizeof w) return false;
      memcpy(w, p, (size_t)(e - p));
      w[e - p] = '\0';
      if (!oidc_scope_has(allowed, w)) return false;
    }
    p = e;
  }
  return true;
}

void oidc_reply_oauth_error(http_req_t *req, int status, const char *error, const char *desc)
{
  http_add_header(req, "Cache-Control", "no-store");
  if (status == 401) http_add_header(req, "WWW-Authenticate", "Basic realm=\"cityos\"");
  http_reply_json(req, status, json_pack("{s:s,s:s}", "error", error, "error_description", desc));
}

void oidc_reply_redirect(http_req_t *req, const char *location)
{
  http_add_header(req, "Location", location);
  http_add_header(req, "Cache-Control", "no-store");
  http_reply_raw(req, 302, "text/plain; charset=utf-8", "", 0, true);
}

char *oidc_url_add(arena_t *a, const char *url, const char *name, const char *value)
{
  buf_t b;
  buf_init(&b, 16384);
  buf_puts(&b, url);
  buf_puts(&b, strchr(url, '?') ? "&" : "?");
  buf_puts(&b, name);
  buf_puts(&b, "=");
  for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
        *p == '.' || *p == '_' || *p == '~')
      buf_append(&b, p, 1);
    else
      buf_printf(&b, "%%%02X", *p);
  }
  size_t n = 0;
  char *s = buf_detach(&b, &n);
  char *r = s ? arena_strndup(a, s, n) : NULL;
  free(s);
  return r;
}

/* --- keys ---------------------------------------------------------------------------- */

/* Parsed keys by kid (a kid's key never changes), so a token costs a signature, not a
 * PEM decode. Small and bounded: rotation adds two keys at a time. */
#define KEY_CACHE_MAX 32
static struct {
  char kid[24];
  EVP_PKEY *key;
} key_cache[KEY_CACHE_MAX];
static size_t key_cache_n;
static pthread_mutex_t key_cache_mu = PTHREAD_MUTEX_INITIALIZER;

/* A new reference to the parsed key of kid (pem parsed on a miss). NULL on failure. */
static EVP_PKEY *key_cached(const char *kid, const char *pem)
{
  EVP_PKEY *k = NULL;
  pthread_mutex_lock(&key_cache_mu);
  for (size_t i = 0; i < key_cache_n; i++)
    if (strcmp(key_cache[i].kid, kid) == 0) {
      k = key_cache[i].key;
      EVP_PKEY_up_ref(k);
      break;
    }
  pthread_mutex_unlock(&key_cache_mu);
  if (k) return k;
  /* stored sealed (base/seal.h), bound to its kid */
  arena_t *a = arena_new(8192);
  char ad[OIDC_AD_MAX];
  char *clear = a && pem ? seal_open_text(a, pem, oidc_key_ad(ad, kid)) : NULL;
  if (clear) {
    k = oidc_key_load(clear);
    sodium_memzero(clear, strlen(clear));
  } else if (pem) {
    log_error(NULL, "msg=\"signing key does not open with the master key\" kid=\"%s\"", kid);
  }
  if (a) arena_free(a);
  if (!k || strlen(kid) >= sizeof key_cache[0].kid) return k;
  pthread_mutex_lock(&key_cache_mu);
  size_t slot = key_cache_n < KEY_CACHE_MAX ? key_cache_n++ : 0;   /* full: replace the oldest */
  if (key_cache[slot].key) EVP_PKEY_free(key_cache[slot].key);
  snprintf(key_cache[slot].kid, sizeof key_cache[slot].kid, "%s", kid);
  key_cache[slot].key = k;
  EVP_PKEY_up_ref(k);
  pthread_mutex_unlock(&key_cache_mu);
  return k;
}

void oidc_keys_cache_clear(void)
{
  pthread_mutex_lock(&key_cache_mu);
  for (size_t i = 0; i < key_cache_n; i++) {
    EVP_PKEY_free(key_cache[i].key);
    key_cache[i].key = NULL;
  }
  key_cache_n = 0;
  pthread_mutex_unlock(&key_cache_mu);
}

static int key_insert(db_t *db, const char *alg)
{
  arena_t *a = arena_new(8192);
  int rc = -1;
  char *pem = a ? oidc_key_generate(a, alg) : NULL;
  char kid[17];
  random_hex(kid, 8);
  char ad[OIDC_AD_MAX];
  char *sealed = pem ? seal_text(a, pem, oidc_key_ad(ad, kid)) : NULL;
  if (pem) sodium_memzero(pem, strlen(pem));
  if (!sealed) goto done;
  db_stmt_t *st = db_prepare(db, "INSERT INTO oidc_keys (kid, alg, private_pem, created_at) VALUES ($1, $2, $3, $4)");
  if (!st) goto done;
  db_bind_text(st, 1, kid);
  db_bind_text(st, 2, alg);
  db_bind_text(st, 3, sealed);
  db_bind_int64(st, 4, clock_now_ms());
  rc = db_step(st) < 0 ? -1 : 0;
  db_stmt_done(st);
done:
  if (a) arena_free(a);
  return rc;
}

int oidc_keys_ensure(db_t *db)
{
  static const char *const algs[] = {"RS256", "ES256"};
  for (size_t i = 0; i < ARRAY_LEN(algs); i++) {
    db_stmt_t *st = db_prepare(db, "SELECT COUNT(*) FROM oidc_keys WHERE alg = $1 AND retired_at IS NULL");
    if (!st) return -1;
    db_bind_text(st, 1, algs[i]);
    int r = db_step(st);
    int64_t n = r == DB_ROW ? db_col_int64(st, 0) : 0;
    db_stmt_done(st);
    if (r < 0) return -1;
    if (n == 0 && key_insert(db, algs[i]) < 0) return -1;
  }
  return 0;
}

EVP_PKEY *oidc_signing_key(arena_t *a, db_t *db, const char *alg, const char **kid)
{
  EVP_PKEY *k = NULL;
  db_stmt_t *st = db_prepare(db, "SELECT kid, private_pem FROM oidc_keys WHERE alg = $1 AND retired_at IS NULL"
                                 " ORDER BY created_at DESC, kid LIMIT 1");
  if (!st) return NULL;
  db_bind_text(st, 1, alg);
  if (db_step(st) == DB_ROW) {
    *kid = arena_strdup(a, db_col_text(st, 0));
    k = key_cached(db_col_text(st, 0), db_col_text(st, 1));
  }
  db_stmt_done(st);
  return k;
}

EVP_PKEY *oidc_published_key(arena_t *a, db_t *db, const char *kid, const char **alg)
{
  EVP_PKEY *k = NULL;
  db_stmt_t *st = db_prepare(db, "SELECT alg, private_pem FROM oidc_keys WHERE kid = $1"
                                 " AND (retired_at IS NULL OR publish_until > $2)");
  if (!st) return NULL;
  db_bind_text(st, 1, kid);
  db_bind_int64(st, 2, clock_now_ms());
  if (db_step(st) == DB_ROW) {
    *alg = arena_strdup(a, db_col_text(st, 0));
    k = key_cached(kid, db_col_text(st, 1));
  }
  db_stmt_done(st);
  return k;
}

/* --- routes ---------------------------------------------------------------------------- */

void oidc_h_discovery(http_req_t *req)
{
  const char *iss = oidc_issuer(req);
  json_t *d = json_pack(
      "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:[s],s:[s,s],s:[s],s:[s,s],s:[s,s,s],s:[s],s:b,s:b,s:[s,s,s,s,s,s],"
      "s:[s,s,s,s,s,s,s,s,s,s,s,s,s]}",
      "issuer", iss, "authorization_endpoint", arena_printf(req->arena, "%s/authorize", iss), "token_endpoint",
      arena_printf(req->arena, "%s/token", iss), "userinfo_endpoint", arena_printf(req->arena, "%s/userinfo", iss),
      "jwks_uri", arena_printf(req->arena, "%s/jwks", iss), "end_session_endpoint",
      arena_printf(req->arena, "%s/logout", iss), "registration_endpoint",
      arena_printf(req->arena, "%s/clients", iss), "response_types_supported", "code", "response_modes_supported",
      "query", "grant_types_supported", "authorization_code", "refresh_token", "subject_types_supported", "public",
      "id_token_signing_alg_values_supported", "RS256", "ES256", "token_endpoint_auth_methods_supported",
      "client_secret_basic", "client_secret_post", "none", "code_challenge_methods_supported", "S256",
      "backchannel_logout_supported", 1, "backchannel_logout_session_supported", 1, "scopes_supported", "openid",
      "profile", "cccd", "unit", "roles", "offline_access", "claims_supported", "sub", "iss", "aud", "exp", "iat",
      "auth_time", "nonce", "sid", "name", "preferred_username", "cccd", "unit", "roles");
  json_object_del(d, "registration_endpoint");   /* administrators register clients */
  json_object_set_new(d, "prompt_values_supported", json_pack("[s,s,s,s]", "none", "login", "consent", "select_account"));
  http_add_header(req, "Cache-Control", "public, max-age=300");
  http_reply_json(req, 200, d);
}

void oidc_h_jwks(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  json_t *keys = json_array();
  if (!db) {
    json_decref(keys);
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  db_stmt_t *st = db_prepare(db, "SELECT kid, alg, private_pem FROM oidc_keys WHERE retired_at IS NULL"
                                 " OR publish_until > $1 ORDER BY created_at DESC, kid");
  int r = -1;
  if (st) {
    db_bind_int64(st, 1, clock_now_ms());
    while ((r = db_step(st)) == DB_ROW) {
      EVP_PKEY *k = key_cached(db_col_text(st, 0), db_col_text(st, 2));
      json_t *jwk = k ? oidc_jwk_public(req->arena, k, db_col_text(st, 1), db_col_text(st, 0)) : NULL;
      EVP_PKEY_free(k);
      if (jwk) json_array_append_new(keys, jwk);
    }
    db_stmt_done(st);
  }
  db_pool_release(app->db, db);
  if (r < 0) {
    json_decref(keys);
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  http_add_header(req, "Cache-Control", "public, max-age=300");
  http_reply_json(req, 200, json_pack("{s:o}", "keys", keys));
}

/* POST /api/v1/oidc/keys/rotate: new keys sign from now on; the old ones stay published
 * for OIDC_KEY_GRACE_S (longer than any token they signed lives). */
void oidc_h_rotate(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  int64_t now = clock_now_ms();
  db_stmt_t *st = NULL;
  if (db_begin(db) < 0) goto fail;
  st = db_prepare(db, "UPDATE oidc_keys SET retired_at = $1, publish_until = $2 WHERE retired_at IS NULL");
  if (!st) goto fail;
  db_bind_int64(st, 1, now);
  db_bind_int64(st, 2, now + OIDC_KEY_GRACE_S * 1000LL);
  int r = db_step(st);
  db_stmt_done(st);
  audit_entry_t e = audit_entry_from_req(req, "oidc.keys_rotated", "oidc_keys", NULL);
  if (r < 0 || oidc_keys_ensure(db) < 0 || audit_append(db, &e) < 0 || db_commit(db) < 0) goto fail;
  db_pool_release(app->db, db);
  http_reply_json(req, 200, json_pack("{s:b,s:i}", "rotated", 1, "old_keys_published_for_s", OIDC_KEY_GRACE_S));
  return;
fail:
  log_error(req->request_id, "msg=\"key rotation failed\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  db_pool_release(app->db, db);
  http_reply_error(req, ERR_INTERNAL, NULL);
}

