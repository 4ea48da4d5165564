/*
 * pades_sign.c - signing a PDF: the incremental update with the signature field,
 * signature dictionary, optional visible stamp (pades_stamp.c), the /ByteRange +
 * /Contents placeholder filled with the CMS. See signing.h.
 */
#include "base/common.h"
#include "signing/signing.h"
#include "signing/pdf.h"
#include "signing/pades_internal.h"


#define BYTERANGE_FIELD 44   /* width between '[' and ']' */

int pades_begin_obj(signer_state_t *st, int num, int gen) {
  if (st->nobjs == 16) return -1;
  st->objs[st->nobjs].num = num;
  st->objs[st->nobjs].gen = gen;
  st->objs[st->nobjs++].offset = st->out->len;
  return buf_printf(st->out, "%d %d obj\n", num, gen);
}

static int write_whole_obj(signer_state_t *st, int num, const pdf_obj_t *v) {
  int gen = (size_t)num < st->doc->xref_n && st->doc->xref[num].type == 1 ? st->doc->xref[num].gen : 0;
  if (pades_begin_obj(st, num, gen) < 0 || pdf_write_obj(st->out, v) < 0) return -1;
  return buf_puts(st->out, "\nendobj\n");
}

static pdf_obj_t *pstr(arena_t *a, const char *s) {
  pdf_obj_t *o = pdf_new(a, PDF_STRING);
  o->s = arena_strdup(a, s);
  o->slen = strlen(s);
  return o;
}

/* UTF-8 -> UTF-16BE text string with BOM (for /Name, /Reason, /T). */
static pdf_obj_t *ptext(arena_t *a, const char *s) {
  size_t n = strlen(s);
  bool ascii = true;
  for (size_t i = 0; i < n; i++) ascii = ascii && (uint8_t)s[i] < 0x80;
  if (ascii) return pstr(a, s);
  pdf_obj_t *o = pdf_new(a, PDF_STRING);
  o->s = arena_alloc(a, 2 * n + 4);
  o->s[0] = (char)0xFE;
  o->s[1] = (char)0xFF;
  size_t k = 2;
  for (size_t i = 0; i < n;) {
    uint32_t cp = (uint8_t)s[i];
    int extra = cp >= 0xF0 ? 3 : cp >= 0xE0 ? 2 : cp >= 0xC0 ? 1 : 0;
    if (extra) cp &= (uint32_t)(0x3F >> extra);
    i++;
    for (int e = 0; e < extra && i < n; e++, i++) cp = (cp << 6) | ((uint8_t)s[i] & 0x3F);
    if (cp > 0xFFFF) cp = '?';
    o->s[k++] = (char)(cp >> 8);
    o->s[k++] = (char)cp;
  }
  o->slen = k;
  o->hex = true;
  return o;
}

static char *cert_field(arena_t *a, X509 *cert, int nid) {
  X509_NAME *nm = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(nm, nid, -1);
  if (idx < 0) return NULL;
  unsigned char *u = NULL;
  int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, idx)));
  if (n < 0) return NULL;
  char *s = arena_strndup(a, (const char *)u, (size_t)n);
  OPENSSL_free(u);
  return s;
}

/* --- the update -------------------------------------------------------------------------- */

static int cmp_newobj(const void *x, const void *y) {
  return ((const newobj_t *)x)->num - ((const newobj_t *)y)->num;
}

static int write_xref_trailer(signer_state_t *st, int size, const pdf_obj_t *trailer) {
  qsort(st->objs, (size_t)st->nobjs, sizeof st->objs[0], cmp_newobj);
  size_t xref_at = st->out->len;
  if (buf_puts(st->out, "xref\n0 1\n0000000000 65535 f\r\n") < 0) return -1;
  for (int i = 0; i < st->nobjs;) {
    int j = i;
    while (j + 1 < st->nobjs && st->objs[j + 1].num == st->objs[j].num + 1) j++;
    if (buf_printf(st->out, "%d %d\n", st->objs[i].num, j - i + 1) < 0) return -1;
    for (int k = i; k <= j; k++)
      if (buf_printf(st->out, "%010zu %05d n\r\n", st->objs[k].offset, st->objs[k].gen) < 0) return -1;
    i = j + 1;
  }
  if (buf_printf(st->out, "trailer\n<</Size %d/Root ", size) < 0 ||
      pdf_write_obj(st->out, pdf_dict_get(trailer, "Root")) < 0)
    return -1;
  const char *keep[] = {"Info", "ID"};
  for (size_t k = 0; k < ARRAY_LEN(keep); k++) {
    pdf_obj_t *v = pdf_dict_get(trailer, keep[k]);
    if (v && (buf_printf(st->out, "/%s ", keep[k]) < 0 || pdf_write_obj(st->out, v) < 0)) return -1;
  }
  return buf_printf(st->out, "/Prev %zu>>\nstartxref\n%zu\n%%%%EOF\n", st->doc->last_xref, xref_at);
}

static void fmt_pdf_date(time_t t, char *out, size_t n, char *human, size_t hn) {
  time_t vn = t + 7 * 3600;   /* Vietnam: UTC+7, no daylight saving */
  struct tm tm;
  gmtime_r(&vn, &tm);
  snprintf(out, n, "D:%04d%02d%02d%02d%02d%02d+07'00'", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
           tm.tm_min, tm.tm_sec);
  snprintf(human, hn, "%02d/%02d/%04d %02d:%02d:%02d (GMT+7)", tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900,
           tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Adds the field to the catalog's /AcroForm (rewriting the catalog, the AcroForm or
 * the Fields array, whichever holds the list) and the widget to the page's /Annots. */
static int link_field(signer_state_t *st, int field, int pagenum, pdf_obj_t *page) {
  arena_t *a = st->a;
  pdf_doc_t *d = st->doc;
  pdf_obj_t *rootref = pdf_dict_get(d->trailer, "Root");
  pdf_obj_t *root = pdf_resolve(d, rootref);
  if (!rootref || rootref->type != PDF_REF || !root || root->type != PDF_DICT) return -1;
  pdf_obj_t *afref = pdf_dict_get(root, "AcroForm");
  pdf_obj_t *af = pdf_resolve(d, afref);
  pdf_obj_t *naf = af && af->type == PDF_DICT ? pdf_copy(a, af, 2) : pdf_new(a, PDF_DICT);
  pdf_obj_t *fref = pdf_dict_get(naf, "Fields");
  pdf_obj_t *fields = pdf_resolve(d, fref);
  pdf_obj_t *nf = fields && fields->type == PDF_ARRAY ? pdf_copy(a, fields, 1) : pdf_new(a, PDF_ARRAY);
  pdf_array_push(a, nf, pdf_new_ref(a, field));
  pdf_obj_t *flags = pdf_new(a, PDF_INT);
  flags->i = 3;
  pdf_dict_set(a, naf, "SigFlags", flags);
  if (fref && fref->type == PDF_REF && fields && fields->type == PDF_ARRAY) {
    if (write_whole_obj(st, (int)fref->i, nf) < 0) return -1;
  } else {
    pdf_dict_set(a, naf, "Fields", nf);
  }
  if (afref && afref->type == PDF_REF && af && af->type == PDF_DICT) {
    if (write_whole_obj(st, (int)afref->i, naf) < 0) return -1;
  } else {
    pdf_obj_t *nroot = pdf_copy(a, root, 1);
    pdf_dict_set(a, nroot, "AcroForm", naf);
    if (write_whole_obj(st, (int)rootref->i, nroot) < 0) return -1;
  }
  /* the page's annotations */
  pdf_obj_t *aref = pdf_dict_get(page, "Annots");
  pdf_obj_t *annots = pdf_resolve(d, aref);
  pdf_obj_t *na = annots && annots->type == PDF_ARRAY ? pdf_copy(a, annots, 1) : pdf_new(a, PDF_ARRAY);
  pdf_array_push(a, na, pdf_new_ref(a, field));
  if (aref && aref->type == PDF_REF && annots && annots->type == PDF_ARRAY && (int)aref->i != pagenum)
    return write_whole_obj(st, (int)aref->i, na);
  pdf_obj_t *np = pdf_copy(a, page, 1);
  pdf_dict_set(a, np, "Annots", na);
  return write_whole_obj(st, pagenum, np);
}

static void page_box(pdf_doc_t *d, int pagenum, double box[4]) {
  box[0] = box[1] = 0;
  box[2] = 595;
  box[3] = 842;
  pdf_obj_t *node = pdf_get(d, pagenum);
  for (int depth = 0; node && depth < 32; depth++) {
    pdf_obj_t *mb = pdf_dict_getr(d, node, "MediaBox");
    if (mb && mb->type == PDF_ARRAY && mb->n == 4) {
      for (int k = 0; k < 4; k++) {
        pdf_obj_t *v = pdf_resolve(d, mb->items[k]);
        box[k] = v && v->type == PDF_REAL ? v->r : v && v->type == PDF_INT ? (double)v->i : box[k];
      }
      return;
    }
    node = pdf_dict_getr(d, node, "Parent");
  }
}

static size_t contents_capacity(const signing_signer_t *s) {
  size_t n = (size_t)i2d_X509(s->cert, NULL) + (size_t)EVP_PKEY_get_size(s->key) + 1200;
  for (int i = 0; s->chain && i < sk_X509_num(s->chain); i++) n += (size_t)i2d_X509(sk_X509_value(s->chain, i), NULL);
  return (n + 1023) & ~(size_t)1023;
}

int signing_sign_pdf(const signing_signer_t *s, const uint8_t *pdf, size_t len, const signing_opts_t *opts,
                     buf_t *out, char *err, size_t errlen) {
  static const signing_opts_t defaults = {.page = 0};
  if (!opts) opts = &defaults;
  int rc = -1;
  unsigned char *der = NULL;
  arena_t *a = arena_new(1 << 16);
  size_t base = out->len;
  signer_state_t st = {.a = a, .out = out};
  if (len > SIGNING_MAX_PDF) {
    snprintf(err, errlen, "the PDF is larger than %u MiB", SIGNING_MAX_PDF >> 20);
    goto done;
  }
  pdf_doc_t *d = st.doc = pdf_open(a, pdf, len, err, errlen);
  if (!d) goto done;
  if (pdf_dict_get(d->trailer, "Encrypt")) {
    snprintf(err, errlen, "encrypted PDFs cannot be signed (remove the password protection first)");
    goto done;
  }
  int npages = 0;
  int pagenum = pdf_page_ref(d, opts->page < 0 ? 0 : opts->page, &npages);
  if (opts->page < 0 && npages > 0) pagenum = pdf_page_ref(d, npages - 1, NULL);
  pdf_obj_t *page = pdf_get(d, pagenum);
  if (pagenum < 0 || !page || page->type != PDF_DICT) {
    snprintf(err, errlen, "page %d not found in the document", opts->page + 1);
    goto done;
  }
  int64_t size64 = 0;
  pdf_int_of(pdf_dict_get(d->trailer, "Size"), &size64);
  int next = (int)((size_t)size64 > d->xref_n ? (size_t)size64 : d->xref_n);
  if (next <= 0 || next > 999000) {
    snprintf(err, errlen, "bad /Size in the trailer");
    goto done;
  }
  int signum = next, fieldnum = next + 1, apnum = next + 2, fontnum = next + 3;
  next += opts->visible ? 2 + PADES_STAMP_OBJECTS : 2;

  char *cn = cert_field(a, s->cert, NID_commonName);
  const char *name = opts->name ? opts->name : cn ? cn : "";
  char mdate[40], human[48];
  fmt_pdf_date(opts->when ? opts->when : time(NULL), mdate, sizeof mdate, human, sizeof human);

  if (buf_append(out, pdf, len) < 0 || (len && pdf[len - 1] != '\n' && buf_puts(out, "\n") < 0)) goto toolarge;
  /* signature dictionary with placeholders */
  size_t cap = contents_capacity(s) + (opts->tsa_url ? 8192 : 0);
  if (pades_begin_obj(&st, signum, 0) < 0 ||
      buf_puts(out, "<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/ETSI.CAdES.detached/ByteRange[") < 0)
    goto toolarge;
  size_t br_at = out->len;
  if (buf_printf(out, "%-*s]/Contents", BYTERANGE_FIELD, "0 0 0 0") < 0) goto toolarge;
  size_t lt_at = out->len;
  if (buf_append(out, "<", 1) < 0) goto toolarge;
  for (size_t i = 0; i < cap; i++)
    if (buf_append(out, "00", 2) < 0) goto toolarge;
  if (buf_append(out, ">", 1) < 0) goto toolarge;
  size_t gt_end = out->len;
  pdf_obj_t *extra = pdf_new(a, PDF_DICT);
  pdf_dict_set(a, extra, "M", pstr(a, mdate));
  pdf_dict_set(a, extra, "Name", ptext(a, name));
  if (opts->reason) pdf_dict_set(a, extra, "Reason", ptext(a, opts->reason));
  if (opts->location) pdf_dict_set(a, extra, "Location", ptext(a, opts->location));
  buf_t tmp;
  buf_init(&tmp, 1 << 16);
  int wrc = pdf_write_obj(&tmp, extra);
  if (wrc == 0) wrc = buf_append(out, tmp.data + 2, tmp.len - 2);   /* the keys, and ">>" */
  buf_release(&tmp);
  if (wrc < 0 || buf_puts(out, "\nendobj\n") < 0) goto toolarge;

  /* the field + widget */
  double box[4], r[4];
  page_box(d, pagenum, box);
  memcpy(r, opts->rect, sizeof r);
  if (opts->visible && r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 0) {
    r[2] = box[2] - 30;
    r[0] = r[2] - 250;
    r[1] = box[1] + 30;
    r[3] = r[1] + 70;
  }
  if (!opts->visible) r[0] = r[1] = r[2] = r[3] = 0;
  if (pades_begin_obj(&st, fieldnum, 0) < 0 ||
      buf_printf(out, "<</Type/Annot/Subtype/Widget/FT/Sig/F 132/T(Signature%d)/V %d 0 R/P %d 0 R/Rect[%.2f %.2f %.2f %.2f]",
                 signum, signum, pagenum, r[0], r[1], r[2], r[3]) < 0)
    goto toolarge;
  if (opts->visible && buf_printf(out, "/AP<</N %d 0 R>>", apnum) < 0) goto toolarge;
  if (buf_puts(out, ">>\nendobj\n") < 0) goto toolarge;
  if (opts->visible) {
    const char *title = cert_field(a, s->cert, NID_title);
    const char *unit = cert_field(a, s->cert, NID_organizationalUnitName);
    if (pades_write_stamp(&st, apnum, fontnum, r[2] - r[0], r[3] - r[1], name, title, unit, human) < 0) goto toolarge;
  }
  if (link_field(&st, fieldnum, pagenum, page) < 0 || write_xref_trailer(&st, next, d->trailer) < 0) {
    snprintf(err, errlen, "cannot add the signature field (unusual document structure or too large)");
    goto done;
  }

  /* byte ranges, digest, CMS */
  size_t total = out->len - base;
  size_t b1 = lt_at - base, b2 = gt_end - base;
  char brs[BYTERANGE_FIELD + 1];
  int n = snprintf(brs, sizeof brs, "0 %zu %zu %zu", b1, b2, total - b2);
  if (n < 0 || n > BYTERANGE_FIELD) goto toolarge;
  memset(out->data + br_at, ' ', BYTERANGE_FIELD);
  memcpy(out->data + br_at, brs, (size_t)n);
  unsigned char md[32];
  EVP_MD_CTX *mdc = EVP_MD_CTX_new();
  int mdok = mdc && EVP_DigestInit_ex(mdc, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(mdc, out->data + base, b1) == 1 &&
             EVP_DigestUpdate(mdc, out->data + base + b2, total - b2) == 1 && EVP_DigestFinal_ex(mdc, md, NULL) == 1;
  EVP_MD_CTX_free(mdc);
  if (!mdok) {
    snprintf(err, errlen, "SHA-256 failed");
    goto done;
  }
  int derlen = 0;
  if (signing_cms_sign(s, md, opts->tsa_url, &der, &derlen, err, errlen) < 0) goto done;
  if ((size_t)derlen > cap) {
    snprintf(err, errlen, "the signature (%d bytes) does not fit its placeholder", derlen);
    goto done;
  }
  static const char HEX[] = "0123456789abcdef";
  char *h = out->data + lt_at + 1;
  for (int i = 0; i < derlen; i++) {
    h[2 * i] = HEX[der[i] >> 4];
    h[2 * i + 1] = HEX[der[i] & 15];
  }
  rc = 0;
  goto done;
toolarge:
  snprintf(err, errlen, "the signed document would be too large");
done:
  if (rc < 0) {
    out->len = base;
    if (out->data) out->data[base] = 0;
  }
  OPENSSL_free(der);
  arena_free(a);
  return rc;
}
