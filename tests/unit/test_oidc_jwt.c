#include "base/common.h"

#include "oidc/oidc_jwt.h"
#include "check.h"

static void test_pkce_rfc7636(void)
{
  /* RFC 7636 appendix B. */
  char c[OIDC_PKCE_CHALLENGE_LEN + 1];
  oidc_pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", c);
  CHECK_STR_EQ(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  CHECK(oidc_pkce_check("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
  CHECK(!oidc_pkce_check("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"));
  CHECK(!oidc_pkce_check("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", NULL));
  CHECK(!oidc_pkce_verifier_ok("short"));
  CHECK(!oidc_pkce_verifier_ok("dBjftJeZ4CVP-mJ92IXVPgcp9QOsfSI3mYCGkuuO+BM"));   /* '+' */
  CHECK(oidc_pkce_verifier_ok("dBjftJeZ4CVP-mJ92IXVPgcp9QOsfSI3mYCGkuuO~BM"));
}

static void roundtrip(const char *alg)
{
  arena_t *a = arena_new(4096);
  char *pem = oidc_key_generate(a, alg);
  CHECK(pem && strstr(pem, "BEGIN PRIVATE KEY"));
  EVP_PKEY *k = pem ? oidc_key_load(pem) : NULL;
  CHECK(k != NULL);
  if (!k) goto done;
  json_t *claims = json_pack("{s:s,s:s,s:i}", "iss", "http://127.0.0.1:8080", "sub", "42", "exp", 2000000000);
  char *jwt = oidc_jws_sign(a, k, alg, "k1", NULL, claims);
  CHECK(jwt != NULL);
  json_t *h = NULL, *p = NULL;
  CHECK_INT_EQ(oidc_jws_header(jwt, &h), 0);
  CHECK_STR_EQ(json_string_value(json_object_get(h, "alg")), alg);
  CHECK_STR_EQ(json_string_value(json_object_get(h, "kid")), "k1");
  CHECK_INT_EQ(oidc_jws_verify(k, alg, jwt, &p), 0);
  CHECK(p && json_equal(p, claims));
  json_decref(p);
  p = NULL;
  /* the other algorithm name is refused (no alg confusion) */
  CHECK_INT_EQ(oidc_jws_verify(k, strcmp(alg, "RS256") == 0 ? "ES256" : "RS256", jwt, &p), -1);
  /* a changed payload fails */
  json_t *other = json_pack("{s:s,s:s,s:i}", "iss", "http://127.0.0.1:8080", "sub", "43", "exp", 2000000000);
  char *jwt2 = oidc_jws_sign(a, k, alg, "k1", NULL, other);
  char *d1 = strchr(jwt, '.'), *d2 = strchr(jwt2, '.');
  char *mixed = arena_printf(a, "%.*s%.*s%s", (int)(d1 - jwt), jwt, (int)(strchr(d2 + 1, '.') - d2), d2,
                             strchr(d1 + 1, '.'));
  CHECK_INT_EQ(oidc_jws_verify(k, alg, mixed, &p), -1);
  /* a flipped signature character fails */
  char *bad = arena_strdup(a, jwt);
  size_t L = strlen(bad);
  bad[L - 5] = bad[L - 5] == 'A' ? 'B' : 'A';
  CHECK_INT_EQ(oidc_jws_verify(k, alg, bad, &p), -1);
  CHECK_INT_EQ(oidc_jws_verify(k, alg, "a.b", &p), -1);
  CHECK_INT_EQ(oidc_jws_verify(k, alg, "a.b.c.d", &p), -1);
  /* another key of the same kind fails */
  EVP_PKEY *k2 = oidc_key_load(oidc_key_generate(a, alg));
  CHECK_INT_EQ(oidc_jws_verify(k2, alg, jwt, &p), -1);
  json_t *jwk = oidc_jwk_public(a, k, alg, "k1");
  CHECK(jwk != NULL);
  if (strcmp(alg, "ES256") == 0) {
    CHECK_STR_EQ(json_string_value(json_object_get(jwk, "crv")), "P-256");
    CHECK_INT_EQ(strlen(json_string_value(json_object_get(jwk, "x"))), 43);
    CHECK_INT_EQ(strlen(json_string_value(json_object_get(jwk, "y"))), 43);
    CHECK_INT_EQ(strlen(strrchr(jwt, '.') + 1), 86);   /* 64 bytes R || S */
  } else {
    CHECK_STR_EQ(json_string_value(json_object_get(jwk, "e")), "AQAB");
    CHECK_INT_EQ(strlen(json_string_value(json_object_get(jwk, "n"))), 342);   /* 256 bytes */
  }
  CHECK(json_object_get(jwk, "d") == NULL);
  json_decref(jwk);
  json_decref(h);
  json_decref(claims);
  json_decref(other);
  EVP_PKEY_free(k2);
  EVP_PKEY_free(k);
done:
  arena_free(a);
}

static void test_b64url(void)
{
  arena_t *a = arena_new(1024);
  uint8_t out[16];
  CHECK_STR_EQ(oidc_b64url(a, "\xfb\xff", 2), "-_8");
  CHECK_INT_EQ(oidc_b64url_decode("-_8", 3, out, sizeof out), 2);
  CHECK(out[0] == 0xfb && out[1] == 0xff);
  CHECK_INT_EQ(oidc_b64url_decode("+/8", 3, out, sizeof out), -1);
  arena_free(a);
}

int main(void)
{
  test_pkce_rfc7636();
  test_b64url();
  roundtrip("RS256");
  roundtrip("ES256");
  return check_summary();
}
