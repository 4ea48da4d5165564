#include "base/common.h"

#include "base/seal.h"
#include "signup/outbox.h"
#include "check.h"

#include <sys/stat.h>
#include <unistd.h>

/* Secrets at rest (base/seal.c): round trips, binding to the row, tampering, the key
 * file; and the outbox back-off (signup/outbox.h). */

static const uint8_t K1[SEAL_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                           17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void test_bytes(void)
{
  const uint8_t secret[20] = "12345678901234567890";
  uint8_t sealed[20 + SEAL_OVERHEAD], back[64];
  size_t n = 0;
  seal_key_clear();
  CHECK(!seal_key_ready());
  CHECK_INT_EQ(seal_bytes(secret, 20, "oidc_totp:1", sealed), -1);   /* no key */
  seal_key_set(K1);
  CHECK_INT_EQ(seal_bytes(secret, 20, "oidc_totp:1", sealed), 0);
  CHECK(seal_is_sealed_bytes(sealed, sizeof sealed));
  CHECK(memcmp(sealed, "CSB1", 4) == 0);
  CHECK(memmem(sealed, sizeof sealed, secret, 20) == NULL);
  CHECK_INT_EQ(seal_open_bytes(sealed, sizeof sealed, "oidc_totp:1", back, sizeof back, &n), 0);
  CHECK_INT_EQ((int64_t)n, 20);
  CHECK(memcmp(back, secret, 20) == 0);
  /* another row, a flipped bit, a clear value, too small a buffer */
  CHECK_INT_EQ(seal_open_bytes(sealed, sizeof sealed, "oidc_totp:2", back, sizeof back, &n), -1);
  sealed[30] ^= 1;
  CHECK_INT_EQ(seal_open_bytes(sealed, sizeof sealed, "oidc_totp:1", back, sizeof back, &n), -1);
  sealed[30] ^= 1;
  CHECK_INT_EQ(seal_open_bytes(secret, 20, "oidc_totp:1", back, sizeof back, &n), -1);
  CHECK_INT_EQ(seal_open_bytes(sealed, sizeof sealed, "oidc_totp:1", back, 10, &n), -1);
  /* two seals of one value differ (random nonce) */
  uint8_t again[20 + SEAL_OVERHEAD];
  seal_bytes(secret, 20, "oidc_totp:1", again);
  CHECK(memcmp(again, sealed, sizeof sealed) != 0);
  /* another key does not open it */
  uint8_t k2[SEAL_KEY_BYTES];
  memcpy(k2, K1, sizeof k2);
  k2[0] ^= 0x80;
  char c1[SEAL_CHECK_HEX], c2[SEAL_CHECK_HEX];
  seal_key_check(c1);
  seal_key_set(k2);
  seal_key_check(c2);
  CHECK(strcmp(c1, c2) != 0);
  CHECK_INT_EQ((int64_t)strlen(c1), 16);
  CHECK_INT_EQ(seal_open_bytes(sealed, sizeof sealed, "oidc_totp:1", back, sizeof back, &n), -1);
  seal_key_set(K1);
}

static void test_text(void)
{
  arena_t *a = arena_new(4096);
  const char *pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----\n";
  char *s = seal_text(a, pem, "oidc_keys:abc");
  CHECK(s != NULL);
  CHECK(seal_is_sealed_text(s));
  CHECK(strstr(s, "BEGIN") == NULL);
  CHECK_STR_EQ(seal_open_text(a, s, "oidc_keys:abc"), pem);
  CHECK(seal_open_text(a, s, "oidc_keys:abd") == NULL);
  CHECK(seal_open_text(a, pem, "oidc_keys:abc") == NULL);
  CHECK(seal_open_text(a, "sealed1:!!!", "oidc_keys:abc") == NULL);
  CHECK(seal_open_text(a, "sealed1:", "oidc_keys:abc") == NULL);
  s[20] = s[20] == 'A' ? 'B' : 'A';
  CHECK(seal_open_text(a, s, "oidc_keys:abc") == NULL);
  arena_free(a);
}

static void test_key_file(void)
{
  char dir[] = "/tmp/cityos-seal-XXXXXX", path[64], err[256];
  uint8_t k[SEAL_KEY_BYTES], k2[SEAL_KEY_BYTES];
  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/m.key", dir);
  CHECK_INT_EQ(seal_key_file(path, false, k, err, sizeof err), 0);   /* missing, not made */
  CHECK(access(path, F_OK) != 0);
  CHECK_INT_EQ(seal_key_file(path, true, k, err, sizeof err), 2);    /* made */
  struct stat st;
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
  CHECK_INT_EQ((int64_t)st.st_size, 65);
  CHECK_INT_EQ(seal_key_file(path, true, k2, err, sizeof err), 1);   /* read back */
  CHECK(memcmp(k, k2, sizeof k) == 0);
  CHECK_STR_EQ(err, "");
  chmod(path, 0644);
  CHECK_INT_EQ(seal_key_file(path, true, k2, err, sizeof err), 1);   /* warns */
  CHECK(strstr(err, "chmod 600") != NULL);
  FILE *f = fopen(path, "w");
  fputs("not a key\n", f);
  fclose(f);
  CHECK_INT_EQ(seal_key_file(path, true, k2, err, sizeof err), -1);
  unlink(path);
  rmdir(dir);
}

static void test_outbox_backoff(void)
{
  CHECK_INT_EQ(outbox_backoff_s(0), 30);
  CHECK_INT_EQ(outbox_backoff_s(1), 30);
  CHECK_INT_EQ(outbox_backoff_s(2), 60);
  CHECK_INT_EQ(outbox_backoff_s(4), 240);
  CHECK_INT_EQ(outbox_backoff_s(100), OUTBOX_BACKOFF_MAX_S);
}

int main(void)
{
  test_bytes();
  test_text();
  test_key_file();
  test_outbox_backoff();
  seal_key_clear();
  return check_summary();
}
