/*
 * pades_cms.c - the CMS SignedData of a PAdES B-B signature, and signer loading.
 *
 * OpenSSL's CMS_SignerInfo_sign() always adds a signingTime attribute, which PAdES
 * forbids (the time goes in /M). So the SignerInfo is built with CMS_PARTIAL and
 * CMS_CADES (which adds signingCertificateV2 with the SHA-256 certificate hash),
 * contentType and messageDigest are added explicitly, the signed attributes are
 * DER-encoded as a SET OF (sorted, as the encoder writes them) and signed here, and
 * the signature value is stored in the SignerInfo.
 */
#include "base/common.h"
#include "signing/signing.h"
#include "signing/pades_internal.h"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

typedef struct der_item {
  unsigned char *p;
  int len;
} der_item_t;

static int der_cmp(const void *a, const void *b) {
  const der_item_t *x = a, *y = b;
  int n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->p, y->p, (size_t)n);
  return c ? c : x->len - y->len;
}

static void ossl_reason(char *err, size_t errlen, const char *what) {
  unsigned long e = ERR_get_error();
  char tmp[200] = "";
  if (e) ERR_error_string_n(e, tmp, sizeof tmp);
  ERR_clear_error();
  snprintf(err, errlen, "%s%s%s", what, tmp[0] ? ": " : "", tmp);
}

/* DER of the signed attributes as the SET OF the signature covers. */
static unsigned char *encode_signed_attrs(CMS_SignerInfo *si, size_t *outlen) {
  int n = CMS_signed_get_attr_count(si);
  if (n <= 0 || n > 32) return NULL;
  der_item_t items[32];
  size_t total = 0;
  int got = 0;
  unsigned char *out = NULL;
  for (int i = 0; i < n; i++) {
    items[i].p = NULL;
    items[i].len = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i), &items[i].p);
    if (items[i].len <= 0) goto done;
    got++;
    total += (size_t)items[i].len;
  }
  qsort(items, (size_t)n, sizeof items[0], der_cmp);
  out = malloc(total + 8);
  if (!out) goto done;
  size_t p = 0;
  out[p++] = 0x31;
  if (total < 0x80) {
    out[p++] = (unsigned char)total;
  } else if (total < 0x100) {
    out[p++] = 0x81;
    out[p++] = (unsigned char)total;
  } else if (total < 0x10000) {
    out[p++] = 0x82;
    out[p++] = (unsigned char)(total >> 8);
    out[p++] = (unsigned char)total;
  } else {
    out[p++] = 0x83;
    out[p++] = (unsigned char)(total >> 16);
    out[p++] = (unsigned char)(total >> 8);
    out[p++] = (unsigned char)total;
  }
  for (int i = 0; i < n; i++) {
    memcpy(out + p, items[i].p, (size_t)items[i].len);
    p += (size_t)items[i].len;
  }
  *outlen = p;
done:
  for (int i = 0; i < got; i++) OPENSSL_free(items[i].p);
  return out;
}

int signing_cms_sign(const signing_signer_t *s, const uint8_t *digest32, const char *tsa_url, unsigned char **der,
                     int *derlen, char *err, size_t errlen) {
  int rc = -1;
  unsigned char *tbs = NULL, *sig = NULL;
  EVP_MD_CTX *mctx = NULL;
  CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY);
  if (!cms) {
    ossl_reason(err, errlen, "CMS");
    goto done;
  }
  CMS_SignerInfo *si = CMS_add1_signer(cms, s->cert, s->key, EVP_sha256(),
                                       CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP | CMS_CADES);
  if (!si) {
    ossl_reason(err, errlen, "the key does not match the certificate");
    goto done;
  }
  for (int i = 0; s->chain && i < sk_X509_num(s->chain); i++) {
    X509 *c = sk_X509_value(s->chain, i);
    if (X509_cmp(c, s->cert) != 0 && !CMS_add1_cert(cms, c)) {
      ERR_clear_error();   /* duplicates are fine */
    }
  }
  if (!CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT, OBJ_nid2obj(NID_pkcs7_data), -1) ||
      !CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, digest32, 32)) {
    ossl_reason(err, errlen, "CMS attributes");
    goto done;
  }
  size_t tbslen = 0;
  tbs = encode_signed_attrs(si, &tbslen);
  if (!tbs) {
    ossl_reason(err, errlen, "encoding the signed attributes");
    goto done;
  }
  mctx = EVP_MD_CTX_new();
  size_t siglen = 0;
  if (!mctx || EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL, s->key) != 1 ||
      EVP_DigestSign(mctx, NULL, &siglen, tbs, tbslen) != 1 || !(sig = OPENSSL_malloc(siglen)) ||
      EVP_DigestSign(mctx, sig, &siglen, tbs, tbslen) != 1) {
    ossl_reason(err, errlen, "signing");
    goto done;
  }
  if (!ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int)siglen) || !CMS_set_detached(cms, 1)) {
    ossl_reason(err, errlen, "CMS");
    goto done;
  }
  if (tsa_url && pades_tsa_stamp(tsa_url, si, err, errlen) < 0) goto done;
  *der = NULL;
  *derlen = i2d_CMS_ContentInfo(cms, der);
  if (*derlen <= 0) {
    ossl_reason(err, errlen, "encoding the CMS");
    goto done;
  }
  rc = 0;
done:
  EVP_MD_CTX_free(mctx);
  OPENSSL_free(sig);
  free(tbs);
  CMS_ContentInfo_free(cms);
  return rc;
}

/* --- loading signers -------------------------------------------------------------------- */

void signing_signer_free(signing_signer_t *s) {
  if (!s) return;
  EVP_PKEY_free(s->key);
  X509_free(s->cert);
  sk_X509_pop_free(s->chain, X509_free);
  memset(s, 0, sizeof *s);
}

static int pass_cb(char *buf, int size, int rwflag, void *u) {
  (void)rwflag;
  const char *p = u;
  if (!p) return 0;
  int n = (int)strlen(p);
  if (n > size) n = size;
  memcpy(buf, p, (size_t)n);
  return n;
}

static STACK_OF(X509) *read_certs(BIO *b) {
  STACK_OF(X509) *sk = sk_X509_new_null();
  X509 *c;
  while (sk && (c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) sk_X509_push(sk, c);
  ERR_clear_error();
  return sk;
}

int signing_signer_load_pem(signing_signer_t *s, const char *key_path, const char *cert_path,
                            const char *chain_path, const char *pass, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  BIO *b = BIO_new_file(key_path, "r");
  if (b) s->key = PEM_read_bio_PrivateKey(b, NULL, pass_cb, (void *)pass);
  BIO_free(b);
  if (!s->key) {
    ossl_reason(err, errlen, "cannot read the private key (file or passphrase)");
    goto fail;
  }
  b = BIO_new_file(cert_path, "r");
  STACK_OF(X509) *certs = b ? read_certs(b) : NULL;
  BIO_free(b);
  if (!certs || sk_X509_num(certs) == 0) {
    sk_X509_pop_free(certs, X509_free);
    snprintf(err, errlen, "cannot read a certificate from %s", cert_path);
    goto fail;
  }
  s->cert = sk_X509_shift(certs);
  s->chain = certs;   /* further certificates in the cert file count as chain */
  if (chain_path) {
    b = BIO_new_file(chain_path, "r");
    STACK_OF(X509) *more = b ? read_certs(b) : NULL;
    BIO_free(b);
    if (!more || sk_X509_num(more) == 0) {
      sk_X509_pop_free(more, X509_free);
      snprintf(err, errlen, "cannot read certificates from %s", chain_path);
      goto fail;
    }
    while (sk_X509_num(more) > 0) sk_X509_push(s->chain, sk_X509_shift(more));
    sk_X509_free(more);
  }
  if (X509_check_private_key(s->cert, s->key) != 1) {
    ERR_clear_error();
    snprintf(err, errlen, "the private key does not match the certificate");
    goto fail;
  }
  return 0;
fail:
  signing_signer_free(s);
  return -1;
}

int signing_signer_load_p12(signing_signer_t *s, const char *p12_path, const char *pass, char *err,
                            size_t errlen) {
  memset(s, 0, sizeof *s);
  BIO *b = BIO_new_file(p12_path, "rb");
  PKCS12 *p12 = b ? d2i_PKCS12_bio(b, NULL) : NULL;
  BIO_free(b);
  int rc = -1;
  if (!p12) {
    ossl_reason(err, errlen, "cannot read the PKCS#12 file");
    goto done;
  }
  if (!PKCS12_parse(p12, pass ? pass : "", &s->key, &s->cert, &s->chain) || !s->key || !s->cert) {
    ossl_reason(err, errlen, "cannot open the PKCS#12 file (passphrase?)");
    signing_signer_free(s);
    goto done;
  }
  rc = 0;
done:
  PKCS12_free(p12);
  return rc;
}
