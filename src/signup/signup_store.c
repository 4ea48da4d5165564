#include "base/common.h"
#include "signup/signup.h"
#include "base/text.h"

#include <sodium.h>

/*
 * One-time codes, the throttle and the outbox (see signup.h).
 */

#define SALT_BYTES 16
#define HASH_BYTES 32

/* --- pure helpers ------------------------------------------------------------------- */

static bool all_digits(const char *s, size_t min, size_t max)
{
  size_t n = strlen(s);
  if (n < min || n > max) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

int outbox_enqueue(db_t *db, const char *channel, const char *destination, const char *subject, const char *body,
                   int64_t now)
{
  db_stmt_t *st = db_prepare(db, "INSERT INTO notification_outbox (channel, destination, subject, body, created_at)"
                                 " VALUES ($1, $2, $3, $4, $5)");
  if (!st) return -1;
  db_bind_text(st, 1, channel);
  db_bind_text(st, 2, destination);
  db_bind_text(st, 3, subject);
  db_bind_text(st, 4, body);
  db_bind_int64(st, 5, now);
  int r = db_step(st);
  db_stmt_done(st);
  return r < 0 ? -1 : 0;
}

bool signup_destination_valid(const char *channel, const char *d)
{
  if (!channel || !d) return false;
  if (strcmp(channel, "sms") == 0) {
    if (strncmp(d, "+84", 3) == 0) return all_digits(d + 3, 9, 10);
    return d[0] == '0' && all_digits(d + 1, 9, 10);
  }
  if (strcmp(channel, "email") != 0) return false;
  size_t n = strlen(d);
  if (n < 5 || n > SIGNUP_DEST_MAX) return false;
  const char *at = strchr(d, '@');
  if (!at || at == d || strchr(at + 1, '@')) return false;
  for (size_t i = 0; i < n; i++)
    if (d[i] <= ' ' || d[i] >= 127) return false;
  const char *dot = strrchr(at + 1, '.');
  return dot && dot > at + 1 && dot[1] != '\0';
}

void signup_code_new(char out[7])
{
  uint32_t v = randombytes_uniform(1000000);
  snprintf(out, 7, "%06u", (unsigned)v);
}

static void code_digest(const unsigned char salt[SALT_BYTES], const char *code, unsigned char out[HASH_BYTES])
{
  crypto_generichash(out, HASH_BYTES, (const unsigned char *)code, strlen(code), salt, SALT_BYTES);
}

void signup_code_hash(const char *code, char out[SIGNUP_CODE_HASH_MAX])
{
  unsigned char salt[SALT_BYTES], h[HASH_BYTES];
  randombytes_buf(salt, sizeof salt);
  code_digest(salt, code, h);
  text_hex(salt, SALT_BYTES, out);
  out[2 * SALT_BYTES] = '$';
  text_hex(h, HASH_BYTES, out + 2 * SALT_BYTES + 1);
}

bool signup_code_matches(const char *stored, const char *code)
{
  unsigned char salt[SALT_BYTES], want[HASH_BYTES], got[HASH_BYTES];
  size_t n = 0;
  if (!stored || strlen(stored) != 2 * SALT_BYTES + 1 + 2 * HASH_BYTES || stored[2 * SALT_BYTES] != '$')
    return false;
  if (sodium_hex2bin(salt, SALT_BYTES, stored, 2 * SALT_BYTES, NULL, &n, NULL) != 0 || n != SALT_BYTES)
    return false;
  if (sodium_hex2bin(want, HASH_BYTES, stored + 2 * SALT_BYTES + 1, 2 * HASH_BYTES, NULL, &n, NULL) != 0 ||
      n != HASH_BYTES)
    return false;
  code_digest(salt, code, got);
  return text_ct_equal(want, got, HASH_BYTES);
}

/* --- throttle ------------------------------------------------------------------------- */

int signup_throttle_hit(db_t *db, const char *key, int64_t max, int64_t now, int64_t *retry_s)
{
  int rc = -1;
  int64_t start = now, hits = 0;
  *retry_s = 0;
  db_stmt_t *st = db_prepare(db, "INSERT INTO signup_throttle (key, window_start, hits) VALUES ($1, $2, 0)"
                                 " ON CONFLICT (key) DO NOTHING");
  if (!st) goto done;
  db_bind_text(st, 1, key);
  db_bind_int64(st, 2, now);
  int r = db_step(st);
  db_stmt_done(st);
  if (r < 0) goto done;
  st = db_prepare(db, db_kind(db) == DB_POSTGRES
                          ? "SELECT window_start, hits FROM signup_throttle WHERE key = $1 FOR UPDATE"
                          : "SELECT window_start, hits FROM signup_throttle WHERE key = $1");
  if (!st) goto done;
  db_bind_text(st, 1, key);
  r = db_step(st);
  if (r == DB_ROW) {
    start = db_col_int64(st, 0);
    hits = db_col_int64(st, 1);
  }
  db_stmt_done(st);
  if (r != DB_ROW) goto done;
  if (start + SIGNUP_WINDOW_S * 1000LL <= now) {
    start = now;
    hits = 0;
  }
  if (hits >= max) {
    *retry_s = (start + SIGNUP_WINDOW_S * 1000LL - now + 999) / 1000;
    if (*retry_s < 1) *retry_s = 1;
    rc = 1;
    goto done;
  }
  st = db_prepare(db, "UPDATE signup_throttle SET window_start = $2, hits = $3 WHERE key = $1");
  if (!st) goto done;
  db_bind_text(st, 1, key);
  db_bind_int64(st, 2, start);
  db_bind_int64(st, 3, hits + 1);
  r = db_step(st);
  db_stmt_done(st);
  rc = r < 0 ? -1 : 0;
done:
  return rc;
}

/* --- codes and the outbox --------------------------------------------------------------- */

static const char BODY_SIGNUP[] =
    "Mã xác nhận đăng ký tài khoản cityos của bạn là %s. Mã có hiệu lực trong 10 phút. "
    "Không chia sẻ mã này với bất kỳ ai. Nếu bạn không yêu cầu, hãy bỏ qua tin nhắn này.";
static const char BODY_RESET[] =
    "Mã xác nhận đặt lại mật khẩu cityos của bạn là %s. Mã có hiệu lực trong 10 phút. "
    "Không chia sẻ mã này với bất kỳ ai. Nếu bạn không yêu cầu, hãy bỏ qua tin nhắn này.";

int signup_code_issue(db_t *db, const char *purpose, const char *subject, const char *channel,
                      const char *destination, int64_t now)
{
  int rc = -1;
  char code[7], hash[SIGNUP_CODE_HASH_MAX], body[400];
  bool reset = strcmp(purpose, "reset") == 0;
  signup_code_new(code);
  signup_code_hash(code, hash);
  snprintf(body, sizeof body, reset ? BODY_RESET : BODY_SIGNUP, code);
  db_stmt_t *st = db_prepare(db, "DELETE FROM signup_codes WHERE purpose = $1 AND subject = $2");
  if (!st) goto done;
  db_bind_text(st, 1, purpose);
  db_bind_text(st, 2, subject);
  int r = db_step(st);
  db_stmt_done(st);
  if (r < 0) goto done;
  st = db_prepare(db, "INSERT INTO signup_codes (purpose, subject, code_hash, channel, destination, tries,"
                      " created_at, expires_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $7)");
  if (!st) goto done;
  db_bind_text(st, 1, purpose);
  db_bind_text(st, 2, subject);
  db_bind_text(st, 3, hash);
  db_bind_text(st, 4, channel);
  db_bind_text(st, 5, destination);
  db_bind_int64(st, 6, now);
  db_bind_int64(st, 7, now + SIGNUP_CODE_TTL_S * 1000LL);
  r = db_step(st);
  db_stmt_done(st);
  if (r < 0) goto done;
  rc = outbox_enqueue(db, channel, destination, reset ? "Đặt lại mật khẩu cityos" : "Đăng ký tài khoản cityos",
                      body, now);
done:
  sodium_memzero(code, sizeof code);
  sodium_memzero(body, sizeof body);
  return rc;
}

static const char CODE_LIVE[] =
    "SELECT id FROM signup_codes WHERE purpose = $1 AND subject = $2 AND used_at IS NULL"
    " AND expires_at > $3 AND tries < $4";

int signup_code_live(db_t *db, const char *purpose, const char *subject, int64_t now)
{
  db_stmt_t *st = db_prepare(db, CODE_LIVE);
  if (!st) return -1;
  db_bind_text(st, 1, purpose);
  db_bind_text(st, 2, subject);
  db_bind_int64(st, 3, now);
  db_bind_int64(st, 4, SIGNUP_CODE_TRIES);
  int r = db_step(st);
  db_stmt_done(st);
  return r < 0 ? -1 : r == DB_ROW ? 1 : 0;
}

int signup_code_consume(db_t *db, const char *purpose, const char *subject, const char *code, int64_t now)
{
  int rc = -1;
  int64_t id = 0;
  char hash[SIGNUP_CODE_HASH_MAX] = "";
  db_stmt_t *st = db_prepare(db, db_kind(db) == DB_POSTGRES
                                     ? "SELECT id, code_hash FROM signup_codes WHERE purpose = $1 AND subject = $2"
                                       " AND used_at IS NULL AND expires_at > $3 AND tries < $4 FOR UPDATE"
                                     : "SELECT id, code_hash FROM signup_codes WHERE purpose = $1 AND subject = $2"
                                       " AND used_at IS NULL AND expires_at > $3 AND tries < $4");
  if (!st) goto done;
  db_bind_text(st, 1, purpose);
  db_bind_text(st, 2, subject);
  db_bind_int64(st, 3, now);
  db_bind_int64(st, 4, SIGNUP_CODE_TRIES);
  int r = db_step(st);
  if (r == DB_ROW) {
    id = db_col_int64(st, 0);
    const char *h = db_col_text(st, 1);
    snprintf(hash, sizeof hash, "%s", h ? h : "");
  }
  db_stmt_done(st);
  if (r < 0) goto done;
  if (r != DB_ROW) {
    rc = 0;
    goto done;
  }
  bool ok = signup_code_matches(hash, code);
  st = db_prepare(db, ok ? "UPDATE signup_codes SET used_at = $2 WHERE id = $1"
                         : "UPDATE signup_codes SET tries = tries + 1 WHERE id = $1");
  if (!st) goto done;
  db_bind_int64(st, 1, id);
  if (ok) db_bind_int64(st, 2, now);
  r = db_step(st);
  db_stmt_done(st);
  if (r < 0) goto done;
  rc = ok ? 1 : 0;
done:
  return rc;
}
