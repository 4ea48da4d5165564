/*
 * test_signing.c - PAdES signing and verification in memory: a test PKI, libharu
 * PDFs (1 and 50 pages), one to three signatures, altered bytes, revocation,
 * untrusted chains, a PDF 1.5 file with xref and object streams.
 * External tools (pdfsig, openssl cms -verify) are run by tests/api/test_signing.py.
 */
#include "base/common.h"
#include "check.h"
#include "signing/signing.h"
#include "signing/pdf.h"
#include "signing_test_util.h"

#include <openssl/pem.h>

typedef struct pki {
  EVP_PKEY *root_key, *ca_key;
  X509 *root, *ca;
} pki_t;

static void pki_make(pki_t *p) {
  signing_subject_t r = {.cn = "Test Root CA", .org = "Thành phố Hà Nội"};
  signing_subject_t i = {.cn = "Test Issuing CA", .org = "Thành phố Hà Nội"};
  p->root_key = signing_keygen("ec");
  p->root = signing_make_cert(&r, p->root_key, NULL, p->root_key, true, 3650);
  p->ca_key = signing_keygen("ec");
  p->ca = signing_make_cert(&i, p->ca_key, p->root, p->root_key, true, 1825);
}

static void signer_make(const pki_t *p, const char *keytype, const char *cn, signing_signer_t *s) {
  signing_subject_t sub = {.cn = cn, .title = "Chủ tịch", .unit = "UBND phường Hoàn Kiếm",
                           .org = "Thành phố Hà Nội", .email = "chutich@example.vn"};
  s->key = signing_keygen(keytype);
  s->cert = signing_make_cert(&sub, s->key, p->ca, p->ca_key, false, 730);
  s->chain = sk_X509_new_null();
  X509_up_ref(p->ca);
  X509_up_ref(p->root);
  sk_X509_push(s->chain, p->ca);
  sk_X509_push(s->chain, p->root);
}

/* With CITYOS_SIGNING_DUMP=DIR the signed files are kept for a look with pdfsig. */
static void dump(const char *name, const void *data, size_t len) {
  const char *dir = getenv("CITYOS_SIGNING_DUMP");
  if (!dir) return;
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (f) {
    fwrite(data, 1, len, f);
    fclose(f);
  }
}

static void dump_cert(const char *name, X509 *c) {
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, c);
  char *p;
  long n = BIO_get_mem_data(b, &p);
  dump(name, p, (size_t)n);
  BIO_free(b);
}

static json_t *sig_at(json_t *res, size_t i) { return json_array_get(json_object_get(res, "signatures"), i); }
static bool jtrue(json_t *sig, const char *k) { return json_is_true(json_object_get(sig, k)); }

static json_t *verify(const signing_trust_t *t, const buf_t *b) {
  char err[256] = "";
  json_t *r = signing_verify_pdf(t, (const uint8_t *)b->data, b->len, err, sizeof err);
  if (!r) fprintf(stderr, "verify: %s\n", err);
  return r;
}

static int sign_into(const signing_signer_t *s, const uint8_t *in, size_t len, const signing_opts_t *o, buf_t *out) {
  char err[256] = "";
  buf_init(out, SIGNING_MAX_PDF + (1 << 20));
  int rc = signing_sign_pdf(s, in, len, o, out, err, sizeof err);
  if (rc < 0) fprintf(stderr, "sign: %s\n", err);
  return rc;
}

static void test_one_two_three(const pki_t *p, signing_trust_t *t) {
  size_t len;
  uint8_t *pdf = signing_test_pdf(1, &len);
  CHECK(pdf != NULL);
  signing_signer_t a = {0}, b = {0}, c = {0};
  signer_make(p, "rsa", "Nguyễn Văn An", &a);
  signer_make(p, "ec", "Trần Thị Bình", &b);
  signer_make(p, "rsa", "Lê Văn Cường", &c);
  buf_t s1, s2, s3;
  signing_opts_t o = {.reason = "Phê duyệt", .when = 1700000000};
  CHECK_INT_EQ(sign_into(&a, pdf, len, &o, &s1), 0);
  json_t *r = verify(t, &s1);
  CHECK(r != NULL);
  CHECK_INT_EQ(json_array_size(json_object_get(r, "signatures")), 1);
  json_t *sg = sig_at(r, 0);
  CHECK(jtrue(sg, "valid") && jtrue(sg, "intact") && jtrue(sg, "chain_trusted") && jtrue(sg, "covers_whole_document"));
  CHECK(!jtrue(sg, "revoked") && !jtrue(sg, "altered") && jtrue(sg, "byte_range_ok"));
  CHECK(jtrue(sg, "signing_certificate_v2"));
  CHECK(!jtrue(sg, "cms_signing_time"));
  CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(sg, "signer"), "name")), "Nguyễn Văn An");
  CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(sg, "signer"), "title")), "Chủ tịch");
  CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(sg, "signer"), "unit")), "UBND phường Hoàn Kiếm");
  CHECK_STR_EQ(json_string_value(json_object_get(sg, "time")), "2023-11-15T05:13:20+07:00");
  CHECK_STR_EQ(json_string_value(json_object_get(sg, "sub_filter")), "ETSI.CAdES.detached");
  json_decref(r);

  /* an encrypted document is refused (strings would be written in clear) */
  {
    buf_t enc, so;
    buf_init(&enc, 1 << 20);
    const char *tr = memmem(pdf, len, "trailer", 7);
    CHECK(tr != NULL);
    if (tr) {
      const char *lt = memmem(tr, len - (size_t)(tr - (const char *)pdf), "<<", 2);
      size_t at = (size_t)(lt + 2 - (const char *)pdf);
      buf_append(&enc, pdf, at);
      buf_puts(&enc, "/Encrypt 99 0 R");
      buf_append(&enc, pdf + at, len - at);
      char err[256] = "";
      buf_init(&so, 1 << 22);
      CHECK_INT_EQ(signing_sign_pdf(&a, (uint8_t *)enc.data, enc.len, NULL, &so, err, sizeof err), -1);
      CHECK(strstr(err, "encrypted") != NULL);
      CHECK_INT_EQ(so.len, 0);
      buf_release(&so);
    }
    buf_release(&enc);
  }

  signing_opts_t ov = {.visible = true, .page = 0};
  CHECK_INT_EQ(sign_into(&b, (uint8_t *)s1.data, s1.len, &ov, &s2), 0);
  CHECK_INT_EQ(sign_into(&c, (uint8_t *)s2.data, s2.len, NULL, &s3), 0);
  CHECK(memcmp(s3.data, s1.data, s1.len) == 0);
  dump("one.pdf", s1.data, s1.len);
  dump("two.pdf", s2.data, s2.len);
  dump("three.pdf", s3.data, s3.len);
  dump_cert("root.pem", p->root);
  dump_cert("ca.pem", p->ca);   /* incremental: the old bytes are untouched */
  r = verify(t, &s3);
  CHECK_INT_EQ(json_array_size(json_object_get(r, "signatures")), 3);
  CHECK_INT_EQ(json_integer_value(json_object_get(r, "revisions")), 4);
  for (size_t i = 0; i < 3; i++) {
    json_t *x = sig_at(r, i);
    CHECK(jtrue(x, "valid"));
    CHECK_INT_EQ(json_is_true(json_object_get(x, "covers_whole_document")), i == 2);
    CHECK(jtrue(x, "later_changes_only_signatures"));
    CHECK_INT_EQ(json_array_size(json_object_get(x, "later_revisions")), 2 - i);
  }
  CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(sig_at(r, 1), "signer"), "name")), "Trần Thị Bình");
  json_decref(r);

  /* one byte changed inside the first signed range: every signature reports it */
  char *hit = memmem(s3.data, s1.len, "Trang", 5);
  CHECK(hit != NULL);
  if (hit) hit[0] = 'X';
  r = verify(t, &s3);
  for (size_t i = 0; i < 3; i++) {
    CHECK(jtrue(sig_at(r, i), "altered"));
    CHECK(!jtrue(sig_at(r, i), "valid"));
  }
  json_decref(r);
  if (hit) hit[0] = 'T';
  /* a byte appended after the last signature: intact but no longer the whole document */
  buf_append(&s3, "%x\n", 3);
  r = verify(t, &s3);
  CHECK(jtrue(sig_at(r, 2), "intact") && !jtrue(sig_at(r, 2), "covers_whole_document"));
  json_decref(r);

  /* revocation of b's certificate through a CRL */
  STACK_OF(X509) *rev = sk_X509_new_null();
  sk_X509_push(rev, b.cert);
  X509_CRL *crl = signing_make_crl(p->ca, p->ca_key, rev, NULL, 1, 7);
  sk_X509_free(rev);
  CHECK(crl != NULL);
  signing_trust_t *t2 = signing_trust_new();
  signing_trust_add_cert(t2, p->root);
  signing_trust_add_crl(t2, crl);
  X509_CRL_free(crl);
  s3.len -= 3;
  r = verify(t2, &s3);
  CHECK(!jtrue(sig_at(r, 0), "revoked") && jtrue(sig_at(r, 0), "valid"));
  CHECK(jtrue(sig_at(r, 1), "revoked") && !jtrue(sig_at(r, 1), "valid"));
  CHECK(json_is_string(json_object_get(sig_at(r, 1), "revoked_at")));
  json_decref(r);
  signing_trust_free(t2);

  /* no trust anchors: intact, but the chain is not trusted */
  signing_trust_t *none = signing_trust_new();
  r = verify(none, &s1);
  CHECK(jtrue(sig_at(r, 0), "intact") && !jtrue(sig_at(r, 0), "chain_trusted") && !jtrue(sig_at(r, 0), "valid"));
  json_decref(r);
  signing_trust_free(none);

  buf_release(&s1);
  buf_release(&s2);
  buf_release(&s3);
  signing_signer_free(&a);
  signing_signer_free(&b);
  signing_signer_free(&c);
  free(pdf);
}

static void test_fifty_pages_and_xref_stream(const pki_t *p, signing_trust_t *t) {
  size_t len;
  uint8_t *pdf = signing_test_pdf(50, &len);
  signing_signer_t a = {0};
  signer_make(p, "ec", "Phạm Minh Đức", &a);
  signing_opts_t o = {.visible = true, .page = -1};
  buf_t s;
  CHECK_INT_EQ(sign_into(&a, pdf, len, &o, &s), 0);
  json_t *r = verify(t, &s);
  CHECK(r && jtrue(sig_at(r, 0), "valid"));
  json_decref(r);
  dump("fifty.pdf", s.data, s.len);
  buf_release(&s);
  free(pdf);

  /* PDF 1.5: xref stream with PNG predictor, catalog inside a compressed object stream */
  const char *src = getenv("CITYOS_SOURCE_DIR");
  char path[1024];
  if (src) snprintf(path, sizeof path, "%s/tests/unit/data/xrefstream.pdf", src);
  else snprintf(path, sizeof path, "%.*sdata/xrefstream.pdf", (int)(strlen(__FILE__) - strlen("test_signing.c")), __FILE__);
  uint8_t *x = signing_test_read(path, &len);
  CHECK(x != NULL);
  if (x) {
    arena_t *ar = arena_new(0);
    char err[200] = "";
    pdf_doc_t *d = pdf_open(ar, x, len, err, sizeof err);
    CHECK(d != NULL);
    if (d) {
      CHECK(d->any_xref_stream);
      pdf_obj_t *root = pdf_dict_getr(d, d->trailer, "Root");
      CHECK(pdf_name_is(pdf_dict_get(root, "Type"), "Catalog"));
      int count = 0;
      CHECK_INT_EQ(pdf_page_ref(d, 0, &count), 3);
      CHECK_INT_EQ(count, 1);
    }
    arena_free(ar);
    CHECK_INT_EQ(sign_into(&a, x, len, NULL, &s), 0);
    r = verify(t, &s);
    CHECK(r && jtrue(sig_at(r, 0), "valid") && jtrue(sig_at(r, 0), "covers_whole_document"));
    json_decref(r);
    dump("xrefstream.pdf", s.data, s.len);
    buf_release(&s);
    free(x);
  }
  signing_signer_free(&a);
}

static void test_parser_rejects(void) {
  static const char *const bad[] = {
    "", "%PDF-1.4\n", "%PDF-1.4\nstartxref\n99999\n%%EOF", "%PDF-1.4\nxref\n0 1\n0000000000 65535 f \ntrailer<<>>\nstartxref\n9\n%%EOF",
    "%PDF-1.4\nxref\n0 99999999\nstartxref\n9\n%%EOF", "%PDF-1.4\nxref\n0 1\n0000000000 65535 f \ntrailer<</Root 1 0 R/Prev 9>>\nstartxref\n9\n%%EOF",
  };
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    arena_t *a = arena_new(0);
    char err[200];
    pdf_doc_t *d = pdf_open(a, (const uint8_t *)bad[i], strlen(bad[i]), err, sizeof err);
    CHECK(d == NULL);
    arena_free(a);
  }
  /* value parser round trip */
  const char *txt = "<</A [1 2.5 (x\\)y) <0aff> /N#20m 3 0 R true null] /B<</C -4>>>>";
  arena_t *a = arena_new(0);
  size_t pos = 0;
  pdf_obj_t *o = pdf_parse_value(a, (const uint8_t *)txt, strlen(txt), &pos, 0);
  CHECK(o && o->type == PDF_DICT && o->n == 2);
  buf_t b;
  buf_init(&b, 4096);
  CHECK_INT_EQ(pdf_write_obj(&b, o), 0);
  CHECK_STR_EQ(b.data, "<</A [1 2.5 (x\\)y) <0AFF> /N#20m 3 0 R true null] /B <</C -4>>>>");
  buf_release(&b);
  arena_free(a);
}

int main(void) {
  pki_t p;
  pki_make(&p);
  CHECK(p.root && p.ca);
  signing_trust_t *t = signing_trust_new();
  CHECK_INT_EQ(signing_trust_add_cert(t, p.root), 0);
  test_one_two_three(&p, t);
  test_fifty_pages_and_xref_stream(&p, t);
  test_parser_rejects();
  signing_trust_free(t);
  X509_free(p.root);
  X509_free(p.ca);
  EVP_PKEY_free(p.root_key);
  EVP_PKEY_free(p.ca_key);
  return check_summary();
}
