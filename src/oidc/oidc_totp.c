#include "base/common.h"
#include "oidc/oidc.h"
#include "base/buf.h"
#include "base/text.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <qrencode.h>

/*
 * TOTP (RFC 6238 over RFC 4226 HOTP), base32 (RFC 4648), otpauth:// URIs and the QR
 * code as SVG. Pure apart from allocation.
 */

uint32_t oidc_hotp(const uint8_t *key, size_t keylen, uint64_t counter, int digits)
{
  uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
  unsigned maclen = 0;
  for (int i = 7; i >= 0; i--) {
    msg[i] = (uint8_t)(counter & 0xff);
    counter >>= 8;
  }
  if (!HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof msg, mac, &maclen) || maclen < 20) return 0;
  int off = mac[maclen - 1] & 0x0f;
  uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                 ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
  uint32_t mod = 1;
  for (int i = 0; i < digits; i++) mod *= 10;
  return bin % mod;
}

uint32_t oidc_totp_at(const uint8_t *key, size_t keylen, int64_t t, int digits)
{
  return oidc_hotp(key, keylen, (uint64_t)(t / OIDC_TOTP_STEP_S), digits);
}

int64_t oidc_totp_check(const uint8_t *key, size_t keylen, const char *code, int64_t t,
                        int64_t last_step)
{
  int64_t found = -1;
  if (!code || strlen(code) != OIDC_TOTP_DIGITS) return -1;
  uint32_t want = 0;
  for (int i = 0; i < OIDC_TOTP_DIGITS; i++) {
    if (code[i] < '0' || code[i] > '9') return -1;
    want = want * 10 + (uint32_t)(code[i] - '0');
  }
  int64_t step = t / OIDC_TOTP_STEP_S;
  for (int64_t s = step - OIDC_TOTP_WINDOW; s <= step + OIDC_TOTP_WINDOW; s++) {
    uint32_t v = oidc_hotp(key, keylen, (uint64_t)s, OIDC_TOTP_DIGITS);
    if (v == want && s > last_step && found < 0) found = s;
  }
  return found;
}

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

size_t oidc_base32_encode(const uint8_t *in, size_t len, char *out, size_t outcap)
{
  size_t n = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    acc = (acc << 8) | in[i];
    bits += 8;
    while (bits >= 5) {
      if (n + 1 < outcap) out[n++] = B32[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0 && n + 1 < outcap) out[n++] = B32[(acc << (5 - bits)) & 31];
  if (outcap) out[n] = '\0';
  return n;
}

int oidc_base32_decode(const char *in, uint8_t *out, size_t outcap)
{
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (const char *p = in; *p; p++) {
    char c = *p;
    if (c == '=' || c == ' ' || c == '-') continue;
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    const char *hit = strchr(B32, c);
    if (!hit || c == '\0') return -1;
    acc = (acc << 5) | (uint32_t)(hit - B32);
    bits += 5;
    if (bits >= 8) {
      if (n >= outcap) return -1;
      out[n++] = (uint8_t)(acc >> (bits - 8));
      bits -= 8;
    }
  }
  return (int)n;
}

static void pct(buf_t *b, const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
        *p == '.' || *p == '_' || *p == '~')
      buf_append(b, p, 1);
    else
      buf_printf(b, "%%%02X", *p);
  }
}

char *oidc_otpauth_uri(arena_t *a, const char *issuer, const char *label, const char *secret_b32)
{
  buf_t b;
  buf_init(&b, 4096);
  buf_puts(&b, "otpauth://totp/");
  pct(&b, issuer);
  buf_puts(&b, ":");
  pct(&b, label);
  buf_printf(&b, "?secret=%s&issuer=", secret_b32);
  pct(&b, issuer);
  buf_printf(&b, "&algorithm=SHA1&digits=%d&period=%d", OIDC_TOTP_DIGITS, OIDC_TOTP_STEP_S);
  size_t len = 0;
  char *s = buf_detach(&b, &len);
  char *r = s ? arena_strndup(a, s, len) : NULL;
  free(s);
  return r;
}

char *oidc_qr_svg(arena_t *a, const char *text)
{
  char *r = NULL;
  buf_t b;
  buf_init(&b, 1 << 20);
  QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (!q) goto done;
  int w = q->width, quiet = 4, size = w + 2 * quiet;
  buf_printf(&b,
             "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
             "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
             size, size, size, size);
  for (int y = 0; y < w; y++)
    for (int x = 0; x < w; x++)
      if (q->data[y * w + x] & 1) buf_printf(&b, "M%d %dh1v1h-1z", x + quiet, y + quiet);
  buf_puts(&b, "\"/></svg>");
  size_t len = 0;
  char *s = buf_detach(&b, &len);
  if (s) r = arena_strndup(a, s, len);
  free(s);
done:
  if (q) QRcode_free(q);
  buf_release(&b);
  return r;
}

int64_t oidc_mfa_delay_s(int64_t failures)
{
  if (failures < OIDC_MFA_SLOW_AFTER) return 0;
  int64_t e = failures - OIDC_MFA_SLOW_AFTER;
  if (e > 20) return OIDC_MFA_MAX_DELAY_S;
  int64_t d = (int64_t)1 << e;
  return d > OIDC_MFA_MAX_DELAY_S ? OIDC_MFA_MAX_DELAY_S : d;
}
