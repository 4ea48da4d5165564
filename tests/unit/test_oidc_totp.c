#include "base/common.h"

#include "oidc/oidc.h"
#include "check.h"

/* RFC 6238 appendix B (SHA-1 seed "12345678901234567890"), 8 digits, and the same
 * values truncated to 6 digits; RFC 4226 appendix D for HOTP. */
static const uint8_t SEED[] = "12345678901234567890";

static void test_rfc6238_vectors(void)
{
  static const struct {
    int64_t t;
    uint32_t totp8;
  } v[] = {
      {59, 94287082},         {1111111109, 7081804}, {1111111111, 14050471},
      {1234567890, 89005924}, {2000000000, 69279037}, {20000000000LL, 65353130},
  };
  for (size_t i = 0; i < ARRAY_LEN(v); i++) {
    CHECK_INT_EQ(oidc_totp_at(SEED, 20, v[i].t, 8), v[i].totp8);
    CHECK_INT_EQ(oidc_totp_at(SEED, 20, v[i].t, 6), v[i].totp8 % 1000000);
  }
}

static void test_rfc4226_vectors(void)
{
  static const uint32_t hotp[] = {755224, 287082, 359152, 969429, 338314,
                                  254676, 287922, 162583, 399871, 520489};
  for (uint64_t c = 0; c < ARRAY_LEN(hotp); c++) CHECK_INT_EQ(oidc_hotp(SEED, 20, c, 6), hotp[c]);
}

static void test_check_window_and_replay(void)
{
  /* t = 59: step 1 -> "287082"; step 0 -> 755224; step 2 -> 359152. */
  CHECK_INT_EQ(oidc_totp_check(SEED, 20, "287082", 59, -1), 1);
  CHECK_INT_EQ(oidc_totp_check(SEED, 20, "755224", 59, -1), 0);    /* one step early */
  CHECK_INT_EQ(oidc_totp_check(SEED, 20, "359152", 59, -1), 2);    /* one step late */
  CHECK_INT_EQ(oidc_totp_check(SEED, 20, "969429", 59, -1), -1);   /* two steps away */
  CHECK_INT_EQ(oidc_totp_check(SEED, 20, "287082", 59, 1), -1);    /* replayed step */
  CHECK_INT_EQ(oidc_totp_check(SEED, 20, "359152", 59, 1), 2);     /* a later step is fine */
  CHECK_INT_EQ(oidc_totp_check(SEED, 20, "28708", 59, -1), -1);
  CHECK_INT_EQ(oidc_totp_check(SEED, 20, "2870822", 59, -1), -1);
  CHECK_INT_EQ(oidc_totp_check(SEED, 20, "28708a", 59, -1), -1);
  CHECK_INT_EQ(oidc_totp_check(SEED, 20, NULL, 59, -1), -1);
}

static void test_base32(void)
{
  char out[64];
  uint8_t back[64];
  /* RFC 4648 section 10 vectors (without padding). */
  oidc_base32_encode((const uint8_t *)"foobar", 6, out, sizeof out);
  CHECK_STR_EQ(out, "MZXW6YTBOI");
  oidc_base32_encode((const uint8_t *)"f", 1, out, sizeof out);
  CHECK_STR_EQ(out, "MY");
  oidc_base32_encode(SEED, 20, out, sizeof out);
  CHECK_STR_EQ(out, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  CHECK_INT_EQ(oidc_base32_decode("gezd gnbv gy3t qojq gezd gnbv gy3t qojq", back, sizeof back), 20);
  CHECK(memcmp(back, SEED, 20) == 0);
  CHECK_INT_EQ(oidc_base32_decode("MZXW6YTBOI======", back, sizeof back), 6);
  CHECK(memcmp(back, "foobar", 6) == 0);
  CHECK_INT_EQ(oidc_base32_decode("MZ1W", back, sizeof back), -1);   /* 1 is not base32 */
  CHECK_INT_EQ(oidc_base32_decode("MZXW6YTBOI", back, 3), -1);      /* too small */
}

static void test_uri_and_qr(void)
{
  arena_t *a = arena_new(4096);
  char *uri = oidc_otpauth_uri(a, "cityos Hà Nội", "nguyen.van.a", "GEZDGNBV");
  CHECK_STR_EQ(uri, "otpauth://totp/cityos%20H%C3%A0%20N%E1%BB%99i:nguyen.van.a?secret=GEZDGNBV"
                    "&issuer=cityos%20H%C3%A0%20N%E1%BB%99i&algorithm=SHA1&digits=6&period=30");
  char *svg = oidc_qr_svg(a, uri);
  CHECK(svg && strncmp(svg, "<svg", 4) == 0);
  CHECK(svg && strstr(svg, "</svg>") != NULL);
  arena_free(a);
}

static void test_delay(void)
{
  CHECK_INT_EQ(oidc_mfa_delay_s(0), 0);
  CHECK_INT_EQ(oidc_mfa_delay_s(OIDC_MFA_SLOW_AFTER - 1), 0);
  CHECK_INT_EQ(oidc_mfa_delay_s(OIDC_MFA_SLOW_AFTER), 1);
  CHECK_INT_EQ(oidc_mfa_delay_s(OIDC_MFA_SLOW_AFTER + 3), 8);
  CHECK_INT_EQ(oidc_mfa_delay_s(1000), OIDC_MFA_MAX_DELAY_S);
}

int main(void)
{
  test_rfc6238_vectors();
  test_rfc4226_vectors();
  test_check_window_and_replay();
  test_base32();
  test_uri_and_qr();
  test_delay();
  return check_summary();
}
