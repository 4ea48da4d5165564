/*
 * pades_tsa.c - RFC 3161 signature timestamps (PAdES B-T): asking a timestamp authority
 * over HTTP (plain http://, POST application/timestamp-query, 10 s timeout, answer at
 * most 64 KiB) for a token over SHA-256 of the CMS signature value, and checking such a
 * token when verifying. See pades_internal.h.
 */
#include "base/common.h"
#include "signing/pades_internal.h"

#include <netdb.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define TSA_MAX_ANSWER (64 * 1024)
#define TSA_TIMEOUT_MS 10000

/* "http://host[:port]/path" -> parts; false when not that form. */
static bool parse_url(const char *url, char *host, size_t hl, char *port, size_t pl, const char **path) {
  if (strncmp(url, "http://", 7) != 0) return false;
  const char *h = url + 7, *slash = strchr(h, '/'), *colon = strchr(h, ':');
  const char *hend = slash ? slash : h + strlen(h);
  if (colon && colon > hend) colon = NULL;
  size_t n = (size_t)((colon ? colon : hend) - h);
  if (n == 0 || n >= hl) return false;
  memcpy(host, h, n);
  host[n] = 0;
  size_t m = colon ? (size_t)(hend - colon - 1) : 2;
  if (m == 0 || m >= pl) return false;
  if (colon) {
    memcpy(port, colon + 1, m);
    port[m] = 0;
  } else {
    snprintf(port, pl, "80");
  }
  *path = slash ? slash : "/";
  return true;
}

static int io_wait(int fd, short ev) {
  struct pollfd p = {.fd = fd, .events = ev};
  return poll(&p, 1, TSA_TIMEOUT_MS) == 1 ? 0 : -1;
}

/* POSTs body; the response body (malloc'd) or NULL. */
static unsigned char *http_post(const char *url, const unsigned char *body, size_t blen, size_t *outlen, char *err, size_t errlen) {
  char host[256], port[16];
  const char *path;
  if (!parse_url(url, host, sizeof host, port, sizeof port, &path)) {
    snprintf(err, errlen, "the timestamp authority URL must be http://host[:port]/path");
    return NULL;
  }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
  if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
    snprintf(err, errlen, "cannot resolve the timestamp authority %s", host);
    return NULL;
  }
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool ok = fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
  freeaddrinfo(ai);
  buf_t b;
  buf_init(&b, TSA_MAX_ANSWER + 4096);
  unsigned char *out = NULL;
  if (!ok) {
    snprintf(err, errlen, "cannot connect to the timestamp authority %s:%s", host, port);
    goto done;
  }
  char hdr[512];
  int hn = snprintf(hdr, sizeof hdr,
                    "POST %s HTTP/1.0\r\nHost: %s\r\nContent-Type: application/timestamp-query\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                    path, host, blen);
  if (hn < 0 || (size_t)hn >= sizeof hdr || write(fd, hdr, (size_t)hn) != hn || write(fd, body, blen) != (ssize_t)blen) {
    snprintf(err, errlen, "cannot send to the timestamp authority");
    goto done;
  }
  char tmp[4096];
  for (;;) {
    if (io_wait(fd, POLLIN) < 0) {
      snprintf(err, errlen, "the timestamp authority did not answer in time");
      goto done;
    }
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r < 0) goto done;
    if (r == 0) break;
    if (buf_append(&b, tmp, (size_t)r) < 0) {
      snprintf(err, errlen, "the timestamp authority's answer is too large");
      goto done;
    }
  }
  const char *sep = b.data ? strstr(b.data, "\r\n\r\n") : NULL;
  if (!sep || strncmp(b.data, "HTTP/1.", 7) != 0 || strncmp(b.data + 8, " 200", 4) != 0) {
    snprintf(err, errlen, "the timestamp authority refused the request");
    goto done;
  }
  size_t off = (size_t)(sep + 4 - b.data);
  *outlen = b.len - off;
  out = malloc(*outlen + 1);
  if (out) memcpy(out, b.data + off, *outlen);
done:
  if (fd >= 0) close(fd);
  buf_release(&b);
  return out;
}

int pades_tsa_stamp(const char *url, CMS_SignerInfo *si, char *err, size_t errlen) {
  int rc = -1;
  unsigned char md[32], nonce_bytes[8], *req_der = NULL, *ans = NULL, *tok_der = NULL;
  size_t anslen = 0;
  TS_REQ *req = TS_REQ_new();
  TS_MSG_IMPRINT *imp = TS_MSG_IMPRINT_new();
  X509_ALGOR *alg = X509_ALGOR_new();
  ASN1_INTEGER *nonce = NULL;
  TS_RESP *resp = NULL;
  const ASN1_OCTET_STRING *sig = CMS_SignerInfo_get0_signature(si);
  if (!req || !imp || !alg || !sig || !EVP_Digest(ASN1_STRING_get0_data(sig), (size_t)ASN1_STRING_length(sig), md, NULL, EVP_sha256(), NULL) ||
      !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) || !TS_MSG_IMPRINT_set_algo(imp, alg) ||
      !TS_MSG_IMPRINT_set_msg(imp, md, 32) || !TS_REQ_set_version(req, 1) || !TS_REQ_set_msg_imprint(req, imp) ||
      RAND_bytes(nonce_bytes, sizeof nonce_bytes) != 1)
    goto fail;
  BIGNUM *bn = BN_bin2bn(nonce_bytes, sizeof nonce_bytes, NULL);
  nonce = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
  BN_free(bn);
  if (!nonce || !TS_REQ_set_nonce(req, nonce) || !TS_REQ_set_cert_req(req, 1)) goto fail;
  int reqlen = i2d_TS_REQ(req, &req_der);
  if (reqlen <= 0) goto fail;
  ans = http_post(url, req_der, (size_t)reqlen, &anslen, err, errlen);
  if (!ans) goto done;
  const unsigned char *p = ans;
  resp = d2i_TS_RESP(NULL, &p, (long)anslen);
  PKCS7 *token = resp ? TS_RESP_get_token(resp) : NULL;
  TS_TST_INFO *info = resp ? TS_RESP_get_tst_info(resp) : NULL;
  if (!resp || ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp))) > 1 || !token || !info) {
    snprintf(err, errlen, "the timestamp authority did not grant a timestamp");
    goto done;
  }
  const ASN1_INTEGER *rn = TS_TST_INFO_get_nonce(info);
  TS_MSG_IMPRINT *ri = TS_TST_INFO_get_msg_imprint(info);
  ASN1_OCTET_STRING *rmd = ri ? TS_MSG_IMPRINT_get_msg(ri) : NULL;
  if (!rn || ASN1_INTEGER_cmp(rn, nonce) != 0 || !rmd || ASN1_STRING_length(rmd) != 32 ||
      memcmp(ASN1_STRING_get0_data(rmd), md, 32) != 0) {
    snprintf(err, errlen, "the timestamp does not match the request");
    goto done;
  }
  int toklen = i2d_PKCS7(token, &tok_der);
  if (toklen <= 0 || !CMS_unsigned_add1_attr_by_NID(si, NID_id_smime_aa_timeStampToken, V_ASN1_SEQUENCE, tok_der, toklen))
    goto fail;
  rc = 0;
  goto done;
fail:
  snprintf(err, errlen, "building the timestamp request failed");
done:
  ERR_clear_error();
  OPENSSL_free(req_der);
  OPENSSL_free(tok_der);
  free(ans);
  TS_RESP_free(resp);
  TS_REQ_free(req);
  TS_MSG_IMPRINT_free(imp);
  X509_ALGOR_free(alg);
  ASN1_INTEGER_free(nonce);
  return rc;
}

json_t *pades_tsa_check(CMS_SignerInfo *si, X509_STORE *store) {
  int idx = CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, -1);
  if (idx < 0) return NULL;
  json_t *o = json_object();
  X509_ATTRIBUTE *attr = CMS_unsigned_get_attr(si, idx);
  ASN1_TYPE *t = attr ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;
  PKCS7 *token = NULL;
  TS_TST_INFO *info = NULL;
  TS_VERIFY_CTX *vctx = NULL;
  bool valid = false;
  if (!t || t->type != V_ASN1_SEQUENCE) goto done;
  const unsigned char *p = t->value.sequence->data;
  token = d2i_PKCS7(NULL, &p, t->value.sequence->length);
  info = token ? PKCS7_to_TS_TST_INFO(token) : NULL;
  if (!info) goto done;
  struct tm tm;
  const ASN1_GENERALIZEDTIME *gt = TS_TST_INFO_get_time(info);
  if (gt && ASN1_TIME_to_tm(gt, &tm)) {
    char s[80];
    snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
    json_object_set_new(o, "time", json_string(s));
  }
  const ASN1_OCTET_STRING *sig = CMS_SignerInfo_get0_signature(si);
  unsigned char md[32];
  vctx = TS_VERIFY_CTX_new();
  unsigned char *imp = OPENSSL_malloc(32);
  if (!vctx || !imp || !EVP_Digest(ASN1_STRING_get0_data(sig), (size_t)ASN1_STRING_length(sig), md, NULL, EVP_sha256(), NULL)) {
    OPENSSL_free(imp);
    goto done;
  }
  memcpy(imp, md, 32);
  TS_VERIFY_CTX_set_imprint(vctx, imp, 32);
  TS_VERIFY_CTX_set_flags(vctx, TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_IMPRINT);
  if (store && X509_STORE_up_ref(store)) TS_VERIFY_CTX_set_store(vctx, store);
  valid = TS_RESP_verify_token(vctx, token) == 1;
done:
  json_object_set_new(o, "valid", json_boolean(valid));
  ERR_clear_error();
  TS_VERIFY_CTX_free(vctx);
  TS_TST_INFO_free(info);
  PKCS7_free(token);
  return o;
}
