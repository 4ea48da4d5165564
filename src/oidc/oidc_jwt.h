/*
 * oidc_jwt.h - JSON Web Tokens for the provider: signing keys (RS256: RSA 2048,
 * ES256: P-256) made with OpenSSL EVP and kept as PKCS#8 PEM, their public JWKs,
 * compact JWS signing and verification, base64url, and PKCE (RFC 7636 S256).
 *
 * Ownership: strings and JSON returned go into the arena given (JSON objects are
 * new references the caller decrefs unless stated); EVP_PKEY pointers are the
 * caller's to EVP_PKEY_free. Errors: NULL / -1 (OpenSSL's reason logged at debug).
 */
#ifndef CITYOS_OIDC_JWT_H
#define CITYOS_OIDC_JWT_H

#include "base/common.h"
#include "base/arena.h"

#include <jansson.h>
#include <openssl/evp.h>

#define OIDC_PKCE_CHALLENGE_LEN 43

/* base64url without padding. encode: NULL on failure. decode: bytes or -1. */
char *oidc_b64url(arena_t *a, const void *data, size_t len);
int oidc_b64url_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap);

/* alg "RS256" or "ES256": a new private key as PEM text (arena). NULL on failure. */
char *oidc_key_generate(arena_t *a, const char *alg);
/* The key in PEM text (private or public). NULL on failure. */
EVP_PKEY *oidc_key_load(const char *pem);
/* {kty, kid, use:"sig", alg, n, e} or {kty:"EC", crv:"P-256", x, y, ...}. New ref. */
json_t *oidc_jwk_public(arena_t *a, EVP_PKEY *key, const char *alg, const char *kid);

/* header {alg, typ (default "JWT"), kid} . payload (not stolen) . signature. */
char *oidc_jws_sign(arena_t *a, EVP_PKEY *key, const char *alg, const char *kid, const char *typ,
                    const json_t *payload);
/* Splits a compact JWS: header (new ref) and the signing input length. -1 when it is
 * not three base64url parts with a JSON header. */
int oidc_jws_header(const char *token, json_t **header);
/* Verifies the signature with key and alg (the header's alg must equal alg) and
 * returns the payload (new ref) in *payload. 0, or -1 (bad form or signature). */
int oidc_jws_verify(EVP_PKEY *key, const char *alg, const char *token, json_t **payload);

/* RFC 7636: true when verifier is 43-128 unreserved characters. */
bool oidc_pkce_verifier_ok(const char *verifier);
/* BASE64URL(SHA256(verifier)) into out (44 bytes). */
void oidc_pkce_s256(const char *verifier, char out[OIDC_PKCE_CHALLENGE_LEN + 1]);
/* Constant-time: challenge == S256(verifier) and the verifier is well formed. */
bool oidc_pkce_check(const char *challenge, const char *verifier);

#endif
