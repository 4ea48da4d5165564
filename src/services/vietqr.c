/*
 * vietqr.c - VietQR payload builder and CRC (see vietqr.h).
 */
#include "base/common.h"
#include "services/vietqr.h"

uint16_t vietqr_crc16(const void *data, size_t len) {
  const unsigned char *p = data;
  uint16_t crc = 0xFFFF;
  for (size_t i = 0; i < len; i++) {
    crc ^= (uint16_t)(p[i] << 8);
    for (int b = 0; b < 8; b++) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
  }
  return crc;
}

typedef struct {
  char *p;
  size_t len, cap;
  bool overflow;
} out_t;

static void put_tlv(out_t *o, const char *id, const char *v) {
  size_t n = strlen(v);
  if (n > 99 || o->len + 4 + n + 1 > o->cap) {
    o->overflow = true;
    return;
  }
  snprintf(o->p + o->len, o->cap - o->len, "%s%02zu%s", id, n, v);
  o->len += 4 + n;
}

static bool all_digits(const char *s, size_t min, size_t max) {
  size_t n = s ? strlen(s) : 0;
  if (n < min || n > max) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

static bool printable_ascii(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) return false;
  return true;
}

static long bad(char *why, size_t whylen, const char *msg) {
  snprintf(why, whylen, "%s", msg);
  return -1;
}

long vietqr_build(const vietqr_t *q, char *out, size_t outlen, char *why, size_t whylen) {
  if (!all_digits(q->bank_bin, 6, 6)) return bad(why, whylen, "bank_bin: must be 6 digits");
  size_t an = q->account ? strlen(q->account) : 0;
  if (an < 1 || an > 19) return bad(why, whylen, "account: must be 1-19 characters");
  for (size_t i = 0; i < an; i++) {
    char ch = q->account[i];
    if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')))
      return bad(why, whylen, "account: only letters and digits");
  }
  if (q->purpose && (strlen(q->purpose) > 25 * 3 || !printable_ascii(q->purpose)))
    return bad(why, whylen, "purpose: unaccented printable ASCII, at most 75 characters");
  if (q->amount > 9999999999999ULL) return bad(why, whylen, "amount: too large");
  char acct[64], merchant[128], amount[24], extra[96];
  out_t a = {acct, 0, sizeof acct, false};
  put_tlv(&a, "00", q->bank_bin);
  put_tlv(&a, "01", q->account);
  out_t m = {merchant, 0, sizeof merchant, false};
  put_tlv(&m, "00", "A000000727");
  put_tlv(&m, "01", acct);
  put_tlv(&m, "02", "QRIBFTTA");
  out_t o = {out, 0, outlen, false};
  if (outlen) out[0] = 0;
  put_tlv(&o, "00", "01");
  put_tlv(&o, "01", q->amount ? "12" : "11");
  put_tlv(&o, "38", merchant);
  put_tlv(&o, "53", "704");
  if (q->amount) {
    snprintf(amount, sizeof amount, "%" PRIu64, q->amount);
    put_tlv(&o, "54", amount);
  }
  put_tlv(&o, "58", "VN");
  if (q->purpose && *q->purpose) {
    out_t e = {extra, 0, sizeof extra, false};
    put_tlv(&e, "08", q->purpose);
    if (e.overflow) return bad(why, whylen, "purpose: too long");
    put_tlv(&o, "62", extra);
  }
  if (a.overflow || m.overflow || o.overflow || o.len + 8 + 1 > outlen)
    return bad(why, whylen, "output buffer too small");
  memcpy(out + o.len, "6304", 4);
  o.len += 4;
  snprintf(out + o.len, outlen - o.len, "%04X", vietqr_crc16(out, o.len));
  o.len += 4;
  return (long)o.len;
}

bool vietqr_check(const char *payload) {
  size_t n = payload ? strlen(payload) : 0, i = 0;
  if (n < 8) return false;
  while (i + 4 <= n) {
    if (!all_digits((char[]){payload[i], payload[i + 1], 0}, 2, 2)) return false;
    char lb[3] = {payload[i + 2], payload[i + 3], 0};
    if (!all_digits(lb, 2, 2)) return false;
    size_t len = (size_t)((lb[0] - '0') * 10 + (lb[1] - '0'));
    if (payload[i] == '6' && payload[i + 1] == '3') {
      if (len != 4 || i + 8 != n) return false;
      char want[5];
      snprintf(want, sizeof want, "%04X", vietqr_crc16(payload, i + 4));
      return memcmp(want, payload + i + 4, 4) == 0;
    }
    i += 4 + len;
  }
  return false;
}

/* Finds field `id` in the TLV run p[0..n); its value and length. */
static bool tlv_find(const char *p, size_t n, const char *id, const char **v, size_t *vlen) {
  size_t i = 0;
  while (i + 4 <= n) {
    size_t len = (size_t)((p[i + 2] - '0') * 10 + (p[i + 3] - '0'));
    if (p[i + 2] < '0' || p[i + 2] > '9' || p[i + 3] < '0' || p[i + 3] > '9' || i + 4 + len > n) return false;
    if (p[i] == id[0] && p[i + 1] == id[1]) {
      *v = p + i + 4;
      *vlen = len;
      return true;
    }
    i += 4 + len;
  }
  return false;
}

int vietqr_parse(const char *payload, char bin[7], char account[20], uint64_t *amount, char purpose[100]) {
  if (!vietqr_check(payload)) return -1;
  size_t n = strlen(payload), ml, al, bl, cl, xl, pl, sl;
  const char *m, *a, *b, *c, *x, *pv, *sv;
  if (!tlv_find(payload, n, "38", &m, &ml) || !tlv_find(m, ml, "01", &a, &al) || !tlv_find(a, al, "00", &b, &bl) ||
      !tlv_find(a, al, "01", &c, &cl) || bl != 6 || cl < 1 || cl > 19)
    return -1;
  memcpy(bin, b, 6);
  bin[6] = 0;
  memcpy(account, c, cl);
  account[cl] = 0;
  *amount = 0;
  if (tlv_find(payload, n, "54", &sv, &sl))
    for (size_t i = 0; i < sl && sv[i] >= '0' && sv[i] <= '9'; i++) *amount = *amount * 10 + (uint64_t)(sv[i] - '0');
  purpose[0] = 0;
  if (tlv_find(payload, n, "62", &x, &xl) && tlv_find(x, xl, "08", &pv, &pl)) {
    memcpy(purpose, pv, pl);
    purpose[pl] = 0;
  }
  return 0;
}
