/*
 * pades_verify.c - explaining and checking every signature of a PDF, and the trust
 * store (anchors + CRLs) it checks against. See signing.h.
 */
#include "base/common.h"
#include "signing/signing.h"
#include "signing/pdf.h"
#include "signing/pades_internal.h"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>

struct signing_trust {
  X509_STORE *store;
  STACK_OF(X509_CRL) *crls;
  int nanchors;
};

signing_trust_t *signing_trust_new(void) {
  signing_trust_t *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->store = X509_STORE_new();
  t->crls = sk_X509_CRL_new_null();
  if (!t->store || !t->crls) {
    signing_trust_free(t);
    return NULL;
  }
  return t;
}

void signing_trust_free(signing_trust_t *t) {
  if (!t) return;
  X509_STORE_free(t->store);
  sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
  free(t);
}

int signing_trust_add_cert(signing_trust_t *t, X509 *cert) {
  if (!X509_STORE_add_cert(t->store, cert)) {
    unsigned long e = ERR_peek_last_error();
    ERR_clear_error();
    if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE) return -1;
  }
  t->nanchors++;
  return 0;
}

int signing_trust_add_crl(signing_trust_t *t, X509_CRL *crl) {
  if (!X509_CRL_up_ref(crl)) return -1;
  sk_X509_CRL_push(t->crls, crl);
  return 0;
}

int signing_trust_add_pem_file(signing_trust_t *t, const char *path) {
  BIO *b = BIO_new_file(path, "r");
  if (!b) return -1;
  STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
  BIO_free(b);
  int n = 0;
  for (int i = 0; infos && i < sk_X509_INFO_num(infos); i++) {
    X509_INFO *xi = sk_X509_INFO_value(infos, i);
    if (xi->x509 && signing_trust_add_cert(t, xi->x509) == 0) n++;
    if (xi->crl && signing_trust_add_crl(t, xi->crl) == 0) n++;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  ERR_clear_error();
  if (n == 0) {   /* a DER CRL? */
    b = BIO_new_file(path, "rb");
    X509_CRL *crl = b ? d2i_X509_CRL_bio(b, NULL) : NULL;
    BIO_free(b);
    if (crl && signing_trust_add_crl(t, crl) == 0) n++;
    X509_CRL_free(crl);
    ERR_clear_error();
  }
  return n > 0 ? 0 : -1;
}

/* --- helpers -------------------------------------------------------------------------- */

static json_t *name_field(X509_NAME *nm, int nid) {
  int idx = X509_NAME_get_index_by_NID(nm, nid, -1);
  if (idx < 0) return json_null();
  unsigned char *u = NULL;
  int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, idx)));
  if (n < 0) return json_null();
  json_t *s = json_stringn((const char *)u, (size_t)n);
  OPENSSL_free(u);
  return s ? s : json_null();
}

static json_t *asn1_time_iso(const ASN1_TIME *t) {
  struct tm tm;
  if (!t || !ASN1_TIME_to_tm(t, &tm)) return json_null();
  char s[80];
  snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
           tm.tm_min, tm.tm_sec);
  return json_string(s);
}

static json_t *cert_json(X509 *c) {
  X509_NAME *nm = X509_get_subject_name(c);
  json_t *o = json_object();
  json_object_set_new(o, "name", name_field(nm, NID_commonName));
  json_object_set_new(o, "title", name_field(nm, NID_title));
  json_object_set_new(o, "unit", name_field(nm, NID_organizationalUnitName));
  json_object_set_new(o, "organization", name_field(nm, NID_organizationName));
  json_object_set_new(o, "email", name_field(nm, NID_pkcs9_emailAddress));
  json_object_set_new(o, "issuer", name_field(X509_get_issuer_name(c), NID_commonName));
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c), NULL);
  char *hex = bn ? BN_bn2hex(bn) : NULL;
  json_object_set_new(o, "serial", hex ? json_string(hex) : json_null());
  OPENSSL_free(hex);
  BN_free(bn);
  json_object_set_new(o, "not_before", asn1_time_iso(X509_get0_notBefore(c)));
  json_object_set_new(o, "not_after", asn1_time_iso(X509_get0_notAfter(c)));
  return o;
}

/* "D:YYYYMMDDHHmmSS+07'00'" -> "YYYY-MM-DDTHH:MM:SS+07:00" (missing parts default). */
static json_t *pdf_date_iso(const pdf_obj_t *m) {
  if (!m || m->type != PDF_STRING) return json_null();
  const char *s = m->s;
  size_t n = m->slen, p = 0;
  if (n >= 2 && s[0] == 'D' && s[1] == ':') p = 2;
  int f[6] = {0, 1, 1, 0, 0, 0}, w[6] = {4, 2, 2, 2, 2, 2};
  for (int k = 0; k < 6; k++) {
    if (p + (size_t)w[k] > n) break;
    int v = 0;
    for (int j = 0; j < w[k]; j++) {
      char c = s[p + (size_t)j];
      if (c < '0' || c > '9') return json_null();
      v = v * 10 + (c - '0');
    }
    f[k] = v;
    p += (size_t)w[k];
  }
  char tz[8] = "Z";
  if (p < n && (s[p] == '+' || s[p] == '-') && p + 3 <= n) {
    char hh[3] = {s[p + 1], s[p + 2], 0}, mm[3] = {'0', '0', 0};
    if (p + 6 <= n && s[p + 3] == '\'') {
      mm[0] = s[p + 4];
      mm[1] = s[p + 5];
    }
    tz[0] = s[p];
    memcpy(tz + 1, hh, 2);
    tz[3] = ':';
    memcpy(tz + 4, mm, 2);
    tz[6] = 0;
  }
  char out[64];
  snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d%s", f[0], f[1], f[2], f[3], f[4], f[5], tz);
  return json_string(out);
}

static const char *object_kind(pdf_doc_t *d, int num) {
  pdf_obj_t *o = pdf_get(d, num);
  if (!o) return "missing";
  if (o->type == PDF_ARRAY) return "array";
  if (o->type != PDF_DICT && o->type != PDF_STREAM) return "value";
  pdf_obj_t *type = pdf_dict_get(o, "Type");
  if (pdf_name_is(type, "Sig") || pdf_name_is(type, "DocTimeStamp")) return "signature";
  if (pdf_name_is(pdf_dict_get(o, "FT"), "Sig")) return "signature_field";
  if (pdf_name_is(type, "Catalog")) return "catalog";
  if (pdf_name_is(type, "Page")) return "page";
  if (pdf_name_is(type, "XObject") || pdf_name_is(type, "Font")) return "appearance";
  if (pdf_name_is(type, "XRef") || pdf_name_is(type, "ObjStm")) return "structure";
  if (pdf_dict_get(o, "Fields")) return "form";
  if (pdf_name_is(type, "Annot")) return "annotation";
  if (pdf_name_is(type, "Metadata")) return "metadata";
  return o->type == PDF_STREAM ? "content" : "other";
}

static bool kind_is_signing(const char *k) {
  static const char *const OK[] = {"signature", "signature_field", "catalog", "page", "appearance",
                                   "structure", "form", "array", "metadata"};
  for (size_t i = 0; i < ARRAY_LEN(OK); i++)
    if (strcmp(k, OK[i]) == 0) return true;
  return false;
}

/* Marks the objects of revision `rev` reachable from a signature widget's /AP. */
static void mark_appearance(pdf_doc_t *d, pdf_obj_t *o, int rev, uint8_t *mark, int depth) {
  if (!o || depth > 12) return;
  if (o->type == PDF_REF) {
    if (o->i <= 0 || (size_t)o->i >= d->xref_n || mark[o->i] || d->xref[o->i].revision != rev) return;
    mark[o->i] = 1;
    mark_appearance(d, pdf_get(d, (int)o->i), rev, mark, depth + 1);
  } else if (o->type == PDF_ARRAY || o->type == PDF_DICT || o->type == PDF_STREAM) {
    for (size_t i = 0; i < o->n; i++) mark_appearance(d, o->items[i], rev, mark, depth + 1);
  }
}

typedef struct vctx {
  pdf_doc_t *doc;
  const signing_trust_t *trust;
  json_t *list;
} vctx_t;

static bool cert_revoked(const signing_trust_t *t, X509 *c, json_t *out) {
  for (int i = 0; i < sk_X509_CRL_num(t->crls); i++) {
    X509_CRL *crl = sk_X509_CRL_value(t->crls, i);
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(c)) != 0) continue;
    X509_REVOKED *rv = NULL;
    if (X509_CRL_get0_by_cert(crl, &rv, c) == 1 && rv) {
      json_object_set_new(out, "revoked_at", asn1_time_iso(X509_REVOKED_get0_revocationDate(rv)));
      return true;
    }
  }
  return false;
}

static void check_chain(const signing_trust_t *t, X509 *signer, STACK_OF(X509) *certs, json_t *sig) {
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  bool ok = false;
  const char *why = "no trusted certification authority configured";
  if (ctx && t->nanchors > 0 && X509_STORE_CTX_init(ctx, t->store, signer, certs)) {
    ok = X509_verify_cert(ctx) == 1;
    why = ok ? NULL : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
    if (ok) {
      STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
      X509 *top = chain && sk_X509_num(chain) ? sk_X509_value(chain, sk_X509_num(chain) - 1) : NULL;
      if (top) json_object_set_new(sig, "trust_anchor", name_field(X509_get_subject_name(top), NID_commonName));
    }
  }
  X509_STORE_CTX_free(ctx);
  ERR_clear_error();
  json_object_set_new(sig, "chain_trusted", json_boolean(ok));
  json_object_set_new(sig, "chain_error", why ? json_string(why) : json_null());
}

/* The cryptographic part: CMS over the byte ranges. */
static void check_cms(vctx_t *v, const int64_t br[4], const pdf_obj_t *contents, json_t *sig) {
  const uint8_t *p = (const uint8_t *)contents->s;
  CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)contents->slen);
  STACK_OF(X509) *certs = NULL;
  BIO *content = NULL;
  uint8_t *joined = NULL;
  if (!cms || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
    json_object_set_new(sig, "error", json_string("the /Contents is not a CMS SignedData"));
    goto done;
  }
  STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
  certs = CMS_get1_certs(cms);
  X509 *signer = NULL;
  CMS_SignerInfo *si = NULL;
  if (sk_CMS_SignerInfo_num(sis) == 1) {
    si = sk_CMS_SignerInfo_value(sis, 0);
    for (int i = 0; certs && i < sk_X509_num(certs); i++)
      if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0) signer = sk_X509_value(certs, i);
    json_object_set_new(sig, "signing_certificate_v2",
                        json_boolean(CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, -1) >= 0));
    json_object_set_new(sig, "cms_signing_time",
                        json_boolean(CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1) >= 0));
  }
  if (!signer) {
    json_object_set_new(sig, "error", json_string("the signer's certificate is not embedded"));
    goto done;
  }
  json_object_set_new(sig, "signer", cert_json(signer));
  size_t n1 = (size_t)br[1], n2 = (size_t)br[3];
  joined = malloc(n1 + n2 + 1);
  if (!joined) goto done;
  memcpy(joined, v->doc->data, n1);
  memcpy(joined + n1, v->doc->data + br[2], n2);
  content = BIO_new_mem_buf(joined, (int)(n1 + n2));
  bool intact = content && CMS_verify(cms, certs, NULL, content, NULL,
                                      CMS_DETACHED | CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN) == 1;
  ERR_clear_error();
  json_object_set_new(sig, "intact", json_boolean(intact));
  json_object_set_new(sig, "altered", json_boolean(!intact));
  check_chain(v->trust, signer, certs, sig);
  json_t *ts = pades_tsa_check(si, v->trust->store);
  json_object_set_new(sig, "timestamp", ts ? ts : json_null());
  json_object_set_new(sig, "revoked", json_boolean(cert_revoked(v->trust, signer, sig)));
done:
  BIO_free(content);
  free(joined);
  sk_X509_pop_free(certs, X509_free);
  CMS_ContentInfo_free(cms);
  ERR_clear_error();
}

static void coverage(vctx_t *v, int64_t end, json_t *sig) {
  pdf_doc_t *d = v->doc;
  json_object_set_new(sig, "covers_whole_document", json_boolean((size_t)end == d->len));
  json_t *later = json_array();
  bool only_signing = true;
  int rev = -1;
  for (size_t r = 0; r < d->nrevs; r++) {
    if (d->revs[r].end == (size_t)end) rev = (int)r;
    if (d->revs[r].xref_offset < (size_t)end) continue;
    json_t *objs = json_array();
    uint8_t *apmark = calloc(d->xref_n, 1);   /* objects drawn by a signature's appearance */
    for (size_t k = 0; apmark && k < d->revs[r].nobjs; k++) {
      pdf_obj_t *o = pdf_get(d, d->revs[r].objs[k]);
      if (o && pdf_name_is(pdf_dict_get(o, "FT"), "Sig")) mark_appearance(d, pdf_dict_get(o, "AP"), (int)r, apmark, 0);
    }
    for (size_t k = 0; k < d->revs[r].nobjs; k++) {
      int num = d->revs[r].objs[k];
      const char *kind = apmark && (size_t)num < d->xref_n && apmark[num] ? "appearance" : object_kind(d, num);
      if (!kind_is_signing(kind)) only_signing = false;
      json_array_append_new(objs, json_pack("{s:i,s:s}", "object", num, "kind", kind));
    }
    free(apmark);
    json_array_append_new(later, json_pack("{s:i,s:o}", "revision", (int)r + 1, "objects", objs));
  }
  json_object_set_new(sig, "revision", rev >= 0 ? json_integer(rev + 1) : json_null());
  json_object_set_new(sig, "later_revisions", later);
  json_object_set_new(sig, "later_changes_only_signatures", json_boolean(only_signing));
}

static void explain(json_t *sig) {
  bool intact = json_is_true(json_object_get(sig, "intact"));
  bool trusted = json_is_true(json_object_get(sig, "chain_trusted"));
  bool revoked = json_is_true(json_object_get(sig, "revoked"));
  bool whole = json_is_true(json_object_get(sig, "covers_whole_document"));
  bool error = json_object_get(sig, "error") != NULL;
  bool valid = !error && intact && trusted && !revoked;
  json_object_set_new(sig, "valid", json_boolean(valid));
  const char *vi, *en;
  if (error) {
    vi = "Chữ ký không đọc được.";
    en = "The signature cannot be read.";
  } else if (!intact) {
    vi = "Tài liệu đã bị sửa sau khi ký: chữ ký không còn giá trị.";
    en = "The document was altered after signing: the signature is not valid.";
  } else if (revoked) {
    vi = "Chứng thư số của người ký đã bị thu hồi.";
    en = "The signer's certificate has been revoked.";
  } else if (!trusted) {
    vi = "Nội dung nguyên vẹn, nhưng chứng thư số không thuộc tổ chức chứng thực tin cậy.";
    en = "The content is intact, but the certificate does not chain to a trusted authority.";
  } else if (whole) {
    vi = "Chữ ký hợp lệ và bao trùm toàn bộ tài liệu.";
    en = "The signature is valid and covers the whole document.";
  } else {
    vi = "Chữ ký hợp lệ cho phiên bản đã ký; tài liệu có thêm phần bổ sung sau đó.";
    en = "The signature is valid for the signed revision; the document was extended afterwards.";
  }
  json_object_set_new(sig, "summary_vi", json_string(vi));
  json_object_set_new(sig, "summary_en", json_string(en));
}

static void verify_field(vctx_t *v, pdf_obj_t *field, const char *name) {
  pdf_doc_t *d = v->doc;
  pdf_obj_t *sd = pdf_dict_getr(d, field, "V");
  if (!sd || sd->type != PDF_DICT) return;   /* an empty signature field */
  json_t *sig = json_object();
  json_object_set_new(sig, "index", json_integer((json_int_t)json_array_size(v->list) + 1));
  json_object_set_new(sig, "field", json_string(name));
  pdf_obj_t *sf = pdf_dict_getr(d, sd, "SubFilter");
  json_object_set_new(sig, "sub_filter", sf && sf->type == PDF_NAME ? json_string(sf->s) : json_null());
  json_object_set_new(sig, "time", pdf_date_iso(pdf_dict_getr(d, sd, "M")));
  pdf_obj_t *reason = pdf_dict_getr(d, sd, "Reason");
  if (reason && reason->type == PDF_STRING && reason->slen < 1024 && reason->slen > 0 && (uint8_t)reason->s[0] < 0x80)
    json_object_set_new(sig, "reason", json_stringn(reason->s, reason->slen));
  pdf_obj_t *bro = pdf_dict_getr(d, sd, "ByteRange");
  pdf_obj_t *contents = pdf_dict_getr(d, sd, "Contents");
  int64_t br[4] = {0};
  bool ok = bro && bro->type == PDF_ARRAY && bro->n == 4 && contents && contents->type == PDF_STRING;
  for (int k = 0; ok && k < 4; k++) ok = pdf_int_of(bro->items[k], &br[k]) && br[k] >= 0;
  ok = ok && br[0] == 0 && br[1] <= br[2] && (uint64_t)br[2] <= d->len && (uint64_t)br[3] <= d->len - (size_t)br[2];
  /* the gap must be exactly the /Contents string */
  bool gap_ok = ok && contents->end > contents->start && contents->start == (size_t)br[1] && contents->end == (size_t)br[2];
  json_object_set_new(sig, "byte_range", ok ? json_pack("[I,I,I,I]", br[0], br[1], br[2], br[3]) : json_null());
  json_object_set_new(sig, "byte_range_ok", json_boolean(gap_ok));
  if (!ok) {
    json_object_set_new(sig, "error", json_string("missing or malformed /ByteRange or /Contents"));
  } else {
    check_cms(v, br, contents, sig);
    if (!gap_ok && json_is_true(json_object_get(sig, "intact"))) {
      json_object_set_new(sig, "intact", json_false());
      json_object_set_new(sig, "altered", json_true());
    }
    coverage(v, br[2] + br[3], sig);
  }
  explain(sig);
  json_array_append_new(v->list, sig);
}

static void walk_fields(vctx_t *v, pdf_obj_t *arr, const char *prefix, bool parent_sig, int depth, int *budget) {
  if (!arr || arr->type != PDF_ARRAY || depth > 16) return;
  for (size_t i = 0; i < arr->n && --*budget > 0; i++) {
    pdf_obj_t *f = pdf_resolve(v->doc, arr->items[i]);
    if (!f || f->type != PDF_DICT) continue;
    pdf_obj_t *t = pdf_dict_getr(v->doc, f, "T");
    char name[256];
    snprintf(name, sizeof name, "%s%s%.*s", prefix, *prefix ? "." : "", t && t->type == PDF_STRING ? (int)(t->slen > 120 ? 120 : t->slen) : 0,
             t && t->type == PDF_STRING ? t->s : "");
    pdf_obj_t *ft = pdf_dict_getr(v->doc, f, "FT");
    bool is_sig = ft ? pdf_name_is(ft, "Sig") : parent_sig;
    if (is_sig && pdf_dict_get(f, "V")) verify_field(v, f, name);
    walk_fields(v, pdf_dict_getr(v->doc, f, "Kids"), name, is_sig, depth + 1, budget);
  }
}

json_t *signing_verify_pdf(const signing_trust_t *t, const uint8_t *pdf, size_t len, char *err, size_t errlen) {
  arena_t *a = arena_new(1 << 16);
  json_t *res = NULL;
  pdf_doc_t *d = pdf_open(a, pdf, len, err, errlen);
  if (!d) goto done;
  vctx_t v = {.doc = d, .trust = t, .list = json_array()};
  pdf_obj_t *root = pdf_dict_getr(d, d->trailer, "Root");
  pdf_obj_t *af = root ? pdf_dict_getr(d, root, "AcroForm") : NULL;
  int budget = 10000;
  walk_fields(&v, af ? pdf_dict_getr(d, af, "Fields") : NULL, "", false, 0, &budget);
  res = json_pack("{s:o,s:I,s:i}", "signatures", v.list, "size", (json_int_t)len, "revisions", (int)d->nrevs);
done:
  arena_free(a);
  return res;
}
