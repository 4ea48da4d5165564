#include "base/common.h"
#include "identity/identity.h"
#include "base/log.h"
#include "base/text.h"

#include <pthread.h>
#include <sodium.h>

/*
 * Passwords (argon2id through libsodium), generated passwords, and tokens.
 */

_Static_assert(IDENTITY_HASH_MAX >= crypto_pwhash_STRBYTES, "hash buffer too small");

static unsigned long long identity_argon_ops(const config_t *cfg)
{
  return cfg->argon_ops > 0 ? (unsigned long long)cfg->argon_ops : crypto_pwhash_OPSLIMIT_INTERACTIVE;
}

static size_t identity_argon_mem(const config_t *cfg)
{
  return cfg->argon_mem_kib > 0 ? (size_t)cfg->argon_mem_kib * 1024u : crypto_pwhash_MEMLIMIT_INTERACTIVE;
}

/* --- policy ----------------------------------------------------------------------- */

identity_pw_status_t identity_password_check(const char *password, const char *username)
{
  if (!password) return IDENTITY_PW_TOO_SHORT;
  size_t len = strlen(password);
  if (len > IDENTITY_PASSWORD_MAX_BYTES) return IDENTITY_PW_TOO_LONG;
  if (!text_utf8_valid(password, len)) return IDENTITY_PW_BAD_UTF8;
  size_t chars = 0;
  bool all_digits = true;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)password[i];
    if ((c & 0xC0) != 0x80) chars++;
    if (c < '0' || c > '9') all_digits = false;
  }
  if (chars < IDENTITY_PASSWORD_MIN_CHARS) return IDENTITY_PW_TOO_SHORT;
  if (all_digits) return IDENTITY_PW_ALL_DIGITS;
  if (username && strcasecmp(password, username) == 0) return IDENTITY_PW_IS_USERNAME;
  return IDENTITY_PW_OK;
}

const char *identity_password_problem(identity_pw_status_t st)
{
  switch (st) {
  case IDENTITY_PW_OK: return "OK";
  case IDENTITY_PW_TOO_SHORT: return "The password must have at least 10 characters";
  case IDENTITY_PW_TOO_LONG: return "The password is too long (at most 1024 bytes)";
  case IDENTITY_PW_BAD_UTF8: return "The password is not valid UTF-8";
  case IDENTITY_PW_ALL_DIGITS: return "The password must not be only digits";
  case IDENTITY_PW_IS_USERNAME: return "The password must not be the user name";
  }
  return "The password is not acceptable";
}

/* --- hashing ---------------------------------------------------------------------- */

int identity_password_hash(const config_t *cfg, const char *password, char out[IDENTITY_HASH_MAX])
{
  if (sodium_init() < 0) {
    log_error(NULL, "msg=\"libsodium cannot start\"");
    return -1;
  }
  if (crypto_pwhash_str(out, password, strlen(password), identity_argon_ops(cfg),
                        identity_argon_mem(cfg)) != 0) {
    log_error(NULL, "msg=\"argon2id hashing failed (out of memory?)\" mem_kib=%d", cfg->argon_mem_kib);
    return -1;
  }
  return 0;
}

/* The dummy hash: made once per parameter set, under a lock, then read-only. */
static pthread_mutex_t identity_dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static char identity_dummy_hash[IDENTITY_HASH_MAX];
static unsigned long long identity_dummy_ops;
static size_t identity_dummy_mem;

static bool identity_dummy_get(const config_t *cfg, char out[IDENTITY_HASH_MAX])
{
  bool ok = true;
  unsigned long long ops = identity_argon_ops(cfg);
  size_t mem = identity_argon_mem(cfg);

  pthread_mutex_lock(&identity_dummy_lock);
  if (identity_dummy_hash[0] == '\0' || identity_dummy_ops != ops || identity_dummy_mem != mem) {
    char pw[24];
    random_hex(pw, 11);
    if (sodium_init() < 0 || crypto_pwhash_str(identity_dummy_hash, pw, strlen(pw), ops, mem) != 0) {
      identity_dummy_hash[0] = '\0';
      ok = false;
    } else {
      identity_dummy_ops = ops;
      identity_dummy_mem = mem;
    }
    sodium_memzero(pw, sizeof pw);
  }
  if (ok) memcpy(out, identity_dummy_hash, IDENTITY_HASH_MAX);
  pthread_mutex_unlock(&identity_dummy_lock);
  return ok;
}

void identity_password_dummy_verify(const config_t *cfg, const char *password)
{
  char dummy[IDENTITY_HASH_MAX];
  if (!identity_dummy_get(cfg, dummy)) return;
  const char *pw = password ? password : "";
  size_t len = strlen(pw);
  if (len > IDENTITY_PASSWORD_MAX_BYTES) len = IDENTITY_PASSWORD_MAX_BYTES;
  volatile int r = crypto_pwhash_str_verify(dummy, pw, len);   /* the result does not matter */
  (void)r;
}

int identity_password_verify(const config_t *cfg, const char *hash, const char *password,
                             bool *needs_rehash)
{
  if (needs_rehash) *needs_rehash = false;
  if (sodium_init() < 0) return 0;
  if (!password || strlen(password) > IDENTITY_PASSWORD_MAX_BYTES || !hash ||
      strncmp(hash, "$argon2id$", 10) != 0) {
    identity_password_dummy_verify(cfg, password);
    return 0;
  }
  if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0) return 0;
  if (needs_rehash)
    *needs_rehash = crypto_pwhash_str_needs_rehash(hash, identity_argon_ops(cfg),
                                                   identity_argon_mem(cfg)) != 0;
  return 1;
}

/* --- generated passwords ----------------------------------------------------------- */

void identity_password_generate(char *out, size_t len)
{
  /* No 0/O, 1/l/I: read aloud or copied from a terminal without mistakes. */
  static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  bool has_letter;
  if (sodium_init() < 0) abort();
  do {
    has_letter = false;
    for (size_t i = 0; i < len; i++) {
      char c = alphabet[randombytes_uniform((uint32_t)(sizeof alphabet - 1))];
      if (c > '9') has_letter = true;
      out[i] = c;
    }
    out[len] = '\0';
  } while (!has_letter);
}

/* --- tokens ----------------------------------------------------------------------- */

#define IDENTITY_TOKEN_RAW 32
#define IDENTITY_TOKEN_B64 43   /* base64url of 32 bytes, no padding */

void identity_token_new(identity_token_kind_t kind, char out[IDENTITY_TOKEN_MAX])
{
  unsigned char raw[IDENTITY_TOKEN_RAW];
  if (sodium_init() < 0) abort();
  randombytes_buf(raw, sizeof raw);
  out[0] = 'c';
  out[1] = kind == IDENTITY_TOKEN_APIKEY ? 'k' : 's';
  out[2] = '_';
  sodium_bin2base64(out + 3, IDENTITY_TOKEN_MAX - 3, raw, sizeof raw,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
}

void identity_token_hash(const char *token, char out[IDENTITY_TOKEN_HASH_HEX])
{
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
  text_hex(digest, sizeof digest, out);
}

bool identity_token_well_formed(const char *token)
{
  if (!token || strlen(token) != 3 + IDENTITY_TOKEN_B64) return false;
  if (token[0] != 'c' || (token[1] != 's' && token[1] != 'k') || token[2] != '_') return false;
  for (size_t i = 3; i < 3 + IDENTITY_TOKEN_B64; i++) {
    char c = token[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_'))
      return false;
  }
  return true;
}
