/*
 * oidc.h - the city's identity provider: second factor (TOTP, recovery codes, policy,
 * brute-force protection) and the OpenID Connect building blocks (JWT with RS256/ES256
 * keys kept in the database, PKCE, form bodies).
 *
 * Module "oidc" (order 110). Tables: oidc_totp, oidc_recovery_codes, oidc_mfa_throttle,
 * oidc_mfa_policy, oidc_mfa_account, oidc_mfa_sessions, oidc_keys.
 *
 * Second factor (RFC 6238 TOTP: HMAC-SHA-1, 6 digits, 30 s steps, accepted within one
 * step either side; a step once used is refused afterwards, so a code cannot be
 * replayed). An account needs the second factor when its per-account flag says so
 * (oidc_mfa_account.required), or when it is an official and the policy
 * require_for_officials is on (oidc_mfa_policy: '1', or 'default' with the setting
 * mfa_officials = 1, the default). Such a session is "pending" until
 * POST /api/v1/me/totp/verify accepts a code or a recovery code; a pending session may
 * only reach the routes that complete the second factor (see oidc_mfa_gate).
 *
 * Brute-force protection on codes (per account AND per source address, counters in the
 * database so every node agrees):
 *   account: after OIDC_MFA_SLOW_AFTER consecutive failures each further attempt must
 *            wait 2^(n - SLOW_AFTER) s (capped at 300 s): guessing stays impossibly
 *            slow, yet the account is never locked, so an attacker who knows a password
 *            cannot keep its owner out for long;
 *   address: OIDC_MFA_IP_MAX failures within OIDC_MFA_IP_WINDOW_S block that address
 *            for OIDC_MFA_IP_WINDOW_S; other addresses are unaffected.
 * Recovery codes: 10 codes of 10 characters shown once, stored as SHA-256 hex, each
 * usable once.
 */
#ifndef CITYOS_OIDC_H
#define CITYOS_OIDC_H

#include "base/common.h"
#include "base/arena.h"
#include "store/db.h"
#include "http/http.h"

#define OIDC_TOTP_SECRET_BYTES 20
#define OIDC_TOTP_DIGITS 6
#define OIDC_TOTP_STEP_S 30
#define OIDC_TOTP_WINDOW 1
#define OIDC_RECOVERY_CODES 10
#define OIDC_RECOVERY_LEN 10
#define OIDC_MFA_SLOW_AFTER 3
#define OIDC_MFA_MAX_DELAY_S 300
#define OIDC_MFA_IP_MAX 30
#define OIDC_MFA_IP_WINDOW_S 900
#define OIDC_ISSUER_NAME "cityos"

/* --- TOTP (pure) ------------------------------------------------------------------- */

/* RFC 4226 HOTP value (digits 6..8) of key for counter. */
uint32_t oidc_hotp(const uint8_t *key, size_t keylen, uint64_t counter, int digits);
/* RFC 6238 TOTP for the time t (seconds since the epoch), HMAC-SHA-1, 30 s step. */
uint32_t oidc_totp_at(const uint8_t *key, size_t keylen, int64_t t, int digits);
/* Checks a 6-digit code text against steps t/30 - 1 .. t/30 + 1, skipping steps at or
 * below last_step (replay). Returns the matching step, or -1. Constant work per step. */
int64_t oidc_totp_check(const uint8_t *key, size_t keylen, const char *code, int64_t t,
                        int64_t last_step);
/* RFC 4648 base32 (upper case, no padding) of in into out; returns the length.
 * out needs (len * 8 + 4) / 5 + 1 bytes. */
size_t oidc_base32_encode(const uint8_t *in, size_t len, char *out, size_t outcap);
/* Decodes base32 (case-insensitive, padding and spaces ignored). Bytes written or -1. */
int oidc_base32_decode(const char *in, uint8_t *out, size_t outcap);
/* otpauth://totp/ISSUER:LABEL?secret=...&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
 * with ISSUER and LABEL percent-encoded, in the arena. */
char *oidc_otpauth_uri(arena_t *a, const char *issuer, const char *label, const char *secret_b32);
/* The QR code of text as an SVG document (libqrencode, level M), in the arena; NULL on
 * failure. */
char *oidc_qr_svg(arena_t *a, const char *text);
/* The account throttle's delay after n consecutive failures (0 below SLOW_AFTER). */
int64_t oidc_mfa_delay_s(int64_t failures);

/* --- second factor service (oidc_mfa.c) -------------------------------------------- */

/* The gate for requests on sessions that still owe a second factor: 0 to go on, or -1
 * after answering 401 {"error":{"code":"unauthenticated","message":...,"second_factor":
 * "required"|"enrolment_required"}}. Called after authentication with req->principal
 * set; routes under /api/v1/me/totp, /api/v1/auth/logout and /api/v1/me stay open. */
int oidc_mfa_gate(http_req_t *req);

/* --- routes, migrations -------------------------------------------------------------- */
const db_migration_t *oidc_migrations(db_kind_t kind, size_t *n);
const http_route_t *oidc_routes(size_t *n);

#endif
