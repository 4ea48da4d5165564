#include "base/common.h"
#include "base/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Secrets at rest (see seal.h).
 */

#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES

static uint8_t *g_key;   /* sodium_malloc'd, SEAL_KEY_BYTES; NULL = none */

void seal_key_set(const uint8_t key[SEAL_KEY_BYTES])
{
  if (sodium_init() < 0) abort();
  if (!g_key) {
    g_key = sodium_malloc(SEAL_KEY_BYTES);
    if (!g_key) abort();
  }
  memcpy(g_key, key, SEAL_KEY_BYTES);
}

void seal_key_clear(void)
{
  if (g_key) sodium_free(g_key);   /* zeroes */
  g_key = NULL;
}

bool seal_key_ready(void)
{
  return g_key != NULL;
}

bool seal_key_check(char out[SEAL_CHECK_HEX])
{
  static const char LABEL[] = "cityos master key check v1";
  uint8_t h[8];
  if (!g_key) return false;
  crypto_generichash(h, sizeof h, (const uint8_t *)LABEL, sizeof LABEL - 1, g_key, SEAL_KEY_BYTES);
  sodium_bin2hex(out, SEAL_CHECK_HEX, h, sizeof h);
  return true;
}

int seal_key_file(const char *path, bool create, uint8_t key[SEAL_KEY_BYTES], char *err, size_t errlen)
{
  char text[2 * SEAL_KEY_BYTES + 2];
  if (sodium_init() < 0) {
    snprintf(err, errlen, "libsodium cannot start");
    return -1;
  }
  err[0] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    if (!create) return 0;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      randombytes_buf(key, SEAL_KEY_BYTES);
      sodium_bin2hex(text, sizeof text, key, SEAL_KEY_BYTES);
      text[2 * SEAL_KEY_BYTES] = '\n';
      bool ok = fchmod(fd, 0600) == 0 && write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1) &&
                fsync(fd) == 0;
      ok = close(fd) == 0 && ok;
      sodium_memzero(text, sizeof text);
      if (!ok) {
        snprintf(err, errlen, "cannot write the master key file %s: %s", path, strerror(errno));
        unlink(path);
        return -1;
      }
      return 2;
    }
    if (errno != EEXIST) {
      snprintf(err, errlen, "cannot create the master key file %s: %s", path, strerror(errno));
      return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);   /* another process made it just now */
    for (int i = 0; fd >= 0 && i < 50; i++) {   /* ... and may still be writing it */
      struct stat st;
      if (fstat(fd, &st) == 0 && st.st_size >= 2 * SEAL_KEY_BYTES) break;
      usleep(20000);
    }
  }
  if (fd < 0) {
    snprintf(err, errlen, "cannot open the master key file %s: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  bool loose = fstat(fd, &st) == 0 && (st.st_mode & 077) != 0;
  ssize_t n = read(fd, text, sizeof text);
  close(fd);
  size_t got = 0;
  int rc = 1;
  if (n < 2 * SEAL_KEY_BYTES || (n > 2 * SEAL_KEY_BYTES && text[2 * SEAL_KEY_BYTES] != '\n') ||
      sodium_hex2bin(key, SEAL_KEY_BYTES, text, 2 * SEAL_KEY_BYTES, NULL, &got, NULL) != 0 ||
      got != SEAL_KEY_BYTES) {
    snprintf(err, errlen, "the master key file %s does not hold 64 hex digits", path);
    rc = -1;
  } else if (loose) {
    snprintf(err, errlen, "the master key file %s can be read by other users: chmod 600 it", path);
  }
  sodium_memzero(text, sizeof text);
  return rc;
}

bool seal_is_sealed_bytes(const void *in, size_t len)
{
  return in && len > SEAL_OVERHEAD && memcmp(in, SEAL_MAGIC, 4) == 0;
}

int seal_bytes(const void *pt, size_t n, const char *ad, uint8_t *out)
{
  if (!g_key) return -1;
  memcpy(out, SEAL_MAGIC, 4);
  randombytes_buf(out + 4, NONCE);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out + 4 + NONCE, &clen, pt, n, (const uint8_t *)ad, strlen(ad), NULL,
                                             out + 4, g_key);
  return 0;
}

int seal_open_bytes(const void *in, size_t len, const char *ad, uint8_t *out, size_t cap, size_t *n)
{
  const uint8_t *b = in;
  *n = 0;
  if (!g_key || !seal_is_sealed_bytes(in, len) || len - SEAL_OVERHEAD > cap) return -1;
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, b + 4 + NONCE, len - 4 - NONCE,
                                                 (const uint8_t *)ad, strlen(ad), b + 4, g_key) != 0)
    return -1;
  *n = (size_t)mlen;
  return 0;
}

bool seal_is_sealed_text(const char *s)
{
  return s && strncmp(s, SEAL_TEXT_PREFIX, sizeof SEAL_TEXT_PREFIX - 1) == 0;
}

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

char *seal_text(arena_t *a, const char *pt, const char *ad)
{
  if (!g_key) return NULL;
  size_t n = strlen(pt), blen = NONCE + n + TAG;
  uint8_t *bin = arena_alloc(a, blen);
  randombytes_buf(bin, NONCE);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(bin + NONCE, &clen, (const uint8_t *)pt, n, (const uint8_t *)ad,
                                             strlen(ad), NULL, bin, g_key);
  size_t plen = sizeof SEAL_TEXT_PREFIX - 1, tlen = sodium_base64_ENCODED_LEN(blen, B64);
  char *out = arena_alloc(a, plen + tlen);
  memcpy(out, SEAL_TEXT_PREFIX, plen);
  sodium_bin2base64(out + plen, tlen, bin, blen, B64);
  return out;
}

char *seal_open_text(arena_t *a, const char *s, const char *ad)
{
  if (!g_key || !seal_is_sealed_text(s)) return NULL;
  s += sizeof SEAL_TEXT_PREFIX - 1;
  size_t slen = strlen(s), blen = 0;
  uint8_t *bin = arena_alloc(a, slen + 1);
  if (sodium_base642bin(bin, slen + 1, s, slen, NULL, &blen, NULL, B64) != 0 || blen < NONCE + TAG) return NULL;
  char *out = arena_alloc(a, blen - NONCE - TAG + 1);
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)out, &mlen, NULL, bin + NONCE, blen - NONCE,
                                                 (const uint8_t *)ad, strlen(ad), bin, g_key) != 0)
    return NULL;
  out[mlen] = '\0';
  return out;
}
