#include "base/common.h"
#include "oidc/oidc_jwt.h"
#include "base/text.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <sodium.h>

/*
 * JWS with OpenSSL 3 EVP: RS256 = RSASSA-PKCS1-v1_5 with SHA-256; ES256 = ECDSA P-256
 * with SHA-256, the signature as the 64-byte R || S (RFC 7518 3.4), not DER.
 */

#define JWT_MAX 16384

char *oidc_b64url(arena_t *a, const void *data, size_t len)
{
  size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char *out = arena_alloc(a, cap);
  if (!out) return NULL;
  sodium_bin2base64(out, cap, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return out;
}

int oidc_b64url_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap)
{
  size_t n = 0;
  const char *end = NULL;
  if (sodium_base642bin(out, outcap, in, inlen, NULL, &n, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != in + inlen)
    return -1;
  return (int)n;
}

/* --- keys ------------------------------------------------------------------------------ */

char *oidc_key_generate(arena_t *a, const char *alg)
{
  EVP_PKEY *k = NULL;
  BIO *bio = NULL;
  char *r = NULL;
  if (strcmp(alg, "RS256") == 0)
    k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  else if (strcmp(alg, "ES256") == 0)
    k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  if (!k) goto done;
  bio = BIO_new(BIO_s_mem());
  if (!bio || !PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL)) goto done;
  char *p = NULL;
  long n = BIO_get_mem_data(bio, &p);
  if (n > 0) r = arena_strndup(a, p, (size_t)n);
done:
  BIO_free(bio);
  EVP_PKEY_free(k);
  return r;
}

EVP_PKEY *oidc_key_load(const char *pem)
{
  BIO *bio = BIO_new_mem_buf(pem, -1);
  if (!bio) return NULL;
  EVP_PKEY *k = NULL;
  if (strstr(pem, "PRIVATE KEY"))
    k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  else
    k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
  BIO_free(bio);
  return k;
}

static char *bn_b64(arena_t *a, EVP_PKEY *k, const char *param, int pad)
{
  BIGNUM *bn = NULL;
  char *r = NULL;
  uint8_t buf[1024];
  if (!EVP_PKEY_get_bn_param(k, param, &bn)) return NULL;
  int n = pad ? pad : BN_num_bytes(bn);
  if (n > 0 && (size_t)n <= sizeof buf && BN_bn2binpad(bn, buf, n) == n) r = oidc_b64url(a, buf, (size_t)n);
  BN_free(bn);
  return r;
}

json_t *oidc_jwk_public(arena_t *a, EVP_PKEY *key, const char *alg, const char *kid)
{
  if (strcmp(alg, "RS256") == 0) {
    char *n = bn_b64(a, key, OSSL_PKEY_PARAM_RSA_N, 0), *e = bn_b64(a, key, OSSL_PKEY_PARAM_RSA_E, 0);
    if (!n || !e) return NULL;
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "kid", kid, "use", "sig", "alg", alg, "n", n, "e", e);
  }
  char *x = bn_b64(a, key, OSSL_PKEY_PARAM_EC_PUB_X, 32), *y = bn_b64(a, key, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
  if (!x || !y) return NULL;
  return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "kid", kid, "use", "sig", "alg", alg, "crv",
                   "P-256", "x", x, "y", y);
}

/* --- JWS -------------------------------------------------------------------------------- */

static int raw_sign(EVP_PKEY *key, bool ec, const char *in, size_t inlen, uint8_t *sig, size_t *siglen)
{
  int rc = -1;
  uint8_t der[512];
  size_t derlen = sizeof der;
  ECDSA_SIG *es = NULL;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1) goto done;
  if (!ec) {
    if (EVP_DigestSign(ctx, sig, siglen, (const uint8_t *)in, inlen) != 1) goto done;
    rc = 0;
    goto done;
  }
  if (EVP_DigestSign(ctx, der, &derlen, (const uint8_t *)in, inlen) != 1) goto done;
  const uint8_t *p = der;
  es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
  if (!es) goto done;
  const BIGNUM *r = NULL, *s = NULL;
  ECDSA_SIG_get0(es, &r, &s);
  if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32) goto done;
  *siglen = 64;
  rc = 0;
done:
  ECDSA_SIG_free(es);
  EVP_MD_CTX_free(ctx);
  return rc;
}

char *oidc_jws_sign(arena_t *a, EVP_PKEY *key, const char *alg, const char *kid, const char *typ,
                    const json_t *payload)
{
  bool ec = strcmp(alg, "ES256") == 0;
  if (!ec && strcmp(alg, "RS256") != 0) return NULL;
  json_t *h = json_pack("{s:s,s:s,s:s}", "alg", alg, "typ", typ ? typ : "JWT", "kid", kid);
  char *hs = h ? json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  char *ps = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(h);
  char *r = NULL;
  if (!hs || !ps) goto done;
  char *input = arena_printf(a, "%s.%s", oidc_b64url(a, hs, strlen(hs)), oidc_b64url(a, ps, strlen(ps)));
  uint8_t sig[512];
  size_t siglen = sizeof sig;
  if (!input || raw_sign(key, ec, input, strlen(input), sig, &siglen) < 0) goto done;
  r = arena_printf(a, "%s.%s", input, oidc_b64url(a, sig, siglen));
done:
  free(hs);
  free(ps);
  return r;
}

static json_t *decode_json_part(const char *s, size_t len)
{
  if (len == 0 || len > JWT_MAX) return NULL;
  uint8_t *buf = malloc(len + 1);
  if (!buf) return NULL;
  int n = oidc_b64url_decode(s, len, buf, len);
  json_t *j = NULL;
  if (n > 0) j = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
  free(buf);
  if (j && !json_is_object(j)) {
    json_decref(j);
    j = NULL;
  }
  return j;
}

int oidc_jws_header(const char *token, json_t **header)
{
  const char *d1 = token ? strchr(token, '.') : NULL;
  const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
  *header = NULL;
  if (!d2 || strchr(d2 + 1, '.') || strlen(token) > JWT_MAX) return -1;
  *header = decode_json_part(token, (size_t)(d1 - token));
  return *header ? 0 : -1;
}

int oidc_jws_verify(EVP_PKEY *key, const char *alg, const char *token, json_t **payload)
{
  int rc = -1;
  json_t *h = NULL;
  EVP_MD_CTX *ctx = NULL;
  ECDSA_SIG *es = NULL;
  uint8_t *der = NULL;
  *payload = NULL;
  if (oidc_jws_header(token, &h) < 0) goto done;
  const char *halg = json_string_value(json_object_get(h, "alg"));
  if (!halg || strcmp(halg, alg) != 0) goto done;
  const char *d1 = strchr(token, '.'), *d2 = strchr(d1 + 1, '.');
  uint8_t sig[512];
  int siglen = oidc_b64url_decode(d2 + 1, strlen(d2 + 1), sig, sizeof sig);
  if (siglen <= 0) goto done;
  const uint8_t *vsig = sig;
  size_t vlen = (size_t)siglen;
  if (strcmp(alg, "ES256") == 0) {
    if (siglen != 64) goto done;
    es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
      BN_free(r);
      BN_free(s);
      goto done;
    }
    int n = i2d_ECDSA_SIG(es, &der);
    if (n <= 0) goto done;
    vsig = der;
    vlen = (size_t)n;
  } else if (strcmp(alg, "RS256") != 0) {
    goto done;
  }
  ctx = EVP_MD_CTX_new();
  if (!ctx || EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) != 1) goto done;
  if (EVP_DigestVerify(ctx, vsig, vlen, (const uint8_t *)token, (size_t)(d2 - token)) != 1) goto done;
  *payload = decode_json_part(d1 + 1, (size_t)(d2 - d1 - 1));
  rc = *payload ? 0 : -1;
done:
  OPENSSL_free(der);
  ECDSA_SIG_free(es);
  EVP_MD_CTX_free(ctx);
  json_decref(h);
  return rc;
}

/* --- PKCE -------------------------------------------------------------------------------- */

bool oidc_pkce_verifier_ok(const char *v)
{
  size_t n = v ? strlen(v) : 0;
  if (n < 43 || n > 128) return false;
  for (size_t i = 0; i < n; i++) {
    char c = v[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
          c == '_' || c == '~'))
      return false;
  }
  return true;
}

void oidc_pkce_s256(const char *verifier, char out[OIDC_PKCE_CHALLENGE_LEN + 1])
{
  uint8_t h[SHA256_DIGEST_LENGTH];
  SHA256((const uint8_t *)verifier, strlen(verifier), h);
  sodium_bin2base64(out, OIDC_PKCE_CHALLENGE_LEN + 1, h, sizeof h, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

bool oidc_pkce_check(const char *challenge, const char *verifier)
{
  char want[OIDC_PKCE_CHALLENGE_LEN + 1];
  if (!challenge || strlen(challenge) != OIDC_PKCE_CHALLENGE_LEN || !oidc_pkce_verifier_ok(verifier)) return false;
  oidc_pkce_s256(verifier, want);
  return text_ct_equal(want, challenge, OIDC_PKCE_CHALLENGE_LEN);
}
