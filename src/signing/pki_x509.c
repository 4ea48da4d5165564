/*
 * pki_x509.c - key generation, certificates and CRLs (pure OpenSSL, no database).
 * See signing.h.
 */
#include "base/common.h"
#include "signing/signing.h"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

EVP_PKEY *signing_keygen(const char *type) {
  if (!type || strcmp(type, "rsa") == 0) return EVP_RSA_gen(2048);
  if (strcmp(type, "rsa3072") == 0) return EVP_RSA_gen(3072);
  if (strcmp(type, "ec") == 0) return EVP_EC_gen("P-256");
  return NULL;
}

static int add_entry(X509_NAME *nm, int nid, const char *v) {
  if (!v || !*v) return 0;
  return X509_NAME_add_entry_by_NID(nm, nid, MBSTRING_UTF8, (const unsigned char *)v, -1, -1, 0) ? 0 : -1;
}

static int add_ext(X509 *c, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : c, c, NULL, NULL, 0);
  X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (!ex) return -1;
  int ok = X509_add_ext(c, ex, -1);
  X509_EXTENSION_free(ex);
  return ok ? 0 : -1;
}

X509 *signing_make_cert(const signing_subject_t *subj, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
                        int days) {
  X509 *c = X509_new();
  X509_NAME *nm = X509_NAME_new();
  BIGNUM *bn = BN_new();
  if (!c || !nm || !bn) goto fail;
  unsigned char rnd[16];
  if (RAND_bytes(rnd, sizeof rnd) != 1) goto fail;
  rnd[0] &= 0x7f;
  rnd[0] |= 0x10;
  if (!BN_bin2bn(rnd, sizeof rnd, bn) || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c))) goto fail;
  if (!X509_set_version(c, 2) || !X509_gmtime_adj(X509_getm_notBefore(c), -300) ||
      !X509_time_adj_ex(X509_getm_notAfter(c), days, 0, NULL))
    goto fail;
  if (add_entry(nm, NID_countryName, "VN") < 0 || add_entry(nm, NID_organizationName, subj->org) < 0 ||
      add_entry(nm, NID_organizationalUnitName, subj->unit) < 0 || add_entry(nm, NID_title, subj->title) < 0 ||
      add_entry(nm, NID_commonName, subj->cn) < 0 || add_entry(nm, NID_pkcs9_emailAddress, subj->email) < 0)
    goto fail;
  if (!X509_set_subject_name(c, nm) || !X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : nm) ||
      !X509_set_pubkey(c, pub))
    goto fail;
  if (add_ext(c, issuer, NID_subject_key_identifier, "hash") < 0) goto fail;
  if (add_ext(c, issuer, NID_authority_key_identifier, "keyid:always") < 0) goto fail;
  if (ca) {
    if (add_ext(c, issuer, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
        add_ext(c, issuer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") < 0)
      goto fail;
  } else {
    if (add_ext(c, issuer, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(c, issuer, NID_key_usage, "critical,digitalSignature,nonRepudiation") < 0)
      goto fail;
    if (subj->email && *subj->email) {
      char *san = NULL;
      if (asprintf(&san, "email:%s", subj->email) < 0) goto fail;
      int r = add_ext(c, issuer, NID_subject_alt_name, san);
      free(san);
      if (r < 0) goto fail;
    }
  }
  if (!X509_sign(c, issuer_key, EVP_sha256())) goto fail;
  X509_NAME_free(nm);
  BN_free(bn);
  return c;
fail:
  ERR_clear_error();
  X509_free(c);
  X509_NAME_free(nm);
  BN_free(bn);
  return NULL;
}

X509_CRL *signing_make_crl(X509 *issuer, EVP_PKEY *issuer_key, STACK_OF(X509) *revoked, const time_t *when, long crl_number,
                           int days) {
  X509_CRL *crl = X509_CRL_new();
  ASN1_TIME *now = ASN1_TIME_new(), *next = ASN1_TIME_new();
  ASN1_INTEGER *num = ASN1_INTEGER_new();
  if (!crl || !now || !next || !num) goto fail;
  X509_gmtime_adj(now, 0);
  X509_time_adj_ex(next, days, 0, NULL);
  if (!X509_CRL_set_version(crl, 1) || !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) ||
      !X509_CRL_set1_lastUpdate(crl, now) || !X509_CRL_set1_nextUpdate(crl, next))
    goto fail;
  for (int i = 0; revoked && i < sk_X509_num(revoked); i++) {
    X509_REVOKED *r = X509_REVOKED_new();
    ASN1_TIME *at = when ? ASN1_TIME_set(NULL, when[i]) : NULL;
    bool ok = r && (!when || at) && X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(sk_X509_value(revoked, i))) &&
              X509_REVOKED_set_revocationDate(r, at ? at : now) && X509_CRL_add0_revoked(crl, r);
    ASN1_TIME_free(at);
    if (!ok) {
      X509_REVOKED_free(r);
      goto fail;
    }
  }
  if (!ASN1_INTEGER_set(num, crl_number) || !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0)) goto fail;
  X509_CRL_sort(crl);
  if (!X509_CRL_sign(crl, issuer_key, EVP_sha256())) goto fail;
  ASN1_TIME_free(now);
  ASN1_TIME_free(next);
  ASN1_INTEGER_free(num);
  return crl;
fail:
  ERR_clear_error();
  X509_CRL_free(crl);
  ASN1_TIME_free(now);
  ASN1_TIME_free(next);
  ASN1_INTEGER_free(num);
  return NULL;
}
