/*
 * fuzz_pdf.c - libFuzzer target for the PDF reading shared by the signer and the
 * verifier: xref tables and streams, object streams, inflate, the page tree, and the
 * whole verification walk (signature fields, byte ranges, CMS parsing).
 */
#include "base/common.h"
#include "signing/pdf.h"
#include "signing/signing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 20)) return 0;
  arena_t *a = arena_new(0);
  char err[256];
  pdf_doc_t *d = pdf_open(a, data, size, err, sizeof err);
  if (d) {
    for (size_t i = 1; i < d->xref_n && i < 2000; i++) {
      pdf_obj_t *o = pdf_get(d, (int)i);
      if (o && o->type == PDF_STREAM) {
        uint8_t *out;
        size_t n;
        (void)pdf_stream_decode(d, o, &out, &n);
      }
      if (o && o->type != PDF_STREAM) {
        buf_t b;
        buf_init(&b, 1 << 16);
        (void)pdf_write_obj(&b, o);
        buf_release(&b);
      }
    }
    int count = 0;
    (void)pdf_page_ref(d, 0, &count);
    if (count > 1) (void)pdf_page_ref(d, count - 1, NULL);
  }
  arena_free(a);
  static signing_trust_t *t;
  if (!t) t = signing_trust_new();
  json_t *r = signing_verify_pdf(t, data, size, err, sizeof err);
  json_decref(r);
  return 0;
}
