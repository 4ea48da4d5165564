/*
 * pades_stamp.c - the visible signature stamp: appearance stream and its font.
 * See pades_internal.h.
 */
#include "base/common.h"
#include "signing/pades_internal.h"
#include "signing/pdf_font.h"

#define STAMP_MAX_GLYPHS 512

static const char *const LABELS[4] = {"Ký bởi: ", "Chức vụ: ", "Đơn vị: ", "Thời gian: "};

/* Next code point of UTF-8 text (invalid bytes give U+FFFD). */
static uint32_t utf8_next(const char *s, size_t n, size_t *i) {
  uint8_t c = (uint8_t)s[*i];
  size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  if (*i + len > n) {
    *i = n;
    return 0xFFFD;
  }
  uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1Fu : len == 3 ? c & 0x0Fu : c & 0x07u;
  for (size_t k = 1; k < len; k++) cp = (cp << 6) | ((uint8_t)s[*i + k] & 0x3Fu);
  *i += len;
  return cp;
}

/* --- Helvetica fallback: WinAnsi text with Vietnamese tone marks folded away -------- */

static const char *const VN_FOLD[][2] = {
  {"ảạ", "a"}, {"ằắẳẵặ", "a"}, {"ă", "a"}, {"ầấẩẫậ", "a"}, {"ẻẽẹ", "e"}, {"ềếểễệ", "e"},
  {"ỉĩị", "i"}, {"ỏọ", "o"}, {"ồốổỗộ", "o"}, {"ơờớởỡợ", "o"}, {"ủũụ", "u"}, {"ưừứửữự", "u"},
  {"ỳỷỹỵ", "y"}, {"đ", "d"}, {"ẢẠẰẮẲẴẶĂẦẤẨẪẬ", "A"}, {"ẺẼẸỀẾỂỄỆ", "E"}, {"ỈĨỊ", "I"},
  {"ỎỌỒỐỔỖỘƠỜỚỞỠỢ", "O"}, {"ỦŨỤƯỪỨỬỮỰ", "U"}, {"ỲỶỸỴ", "Y"}, {"Đ", "D"},
};

static char fold(uint32_t cp) {
  if (cp < 0x80 || (cp >= 0xA0 && cp <= 0xFF)) return (char)cp;
  for (size_t k = 0; k < ARRAY_LEN(VN_FOLD); k++) {
    const char *f = VN_FOLD[k][0];
    size_t n = strlen(f), i = 0;
    while (i < n)
      if (utf8_next(f, n, &i) == cp) return VN_FOLD[k][1][0];
  }
  return '?';
}

static int winansi_text(buf_t *b, const char *s) {
  if (buf_append(b, "(", 1) < 0) return -1;
  size_t n = strlen(s), i = 0;
  while (i < n) {
    char c = fold(utf8_next(s, n, &i));
    if ((c == '(' || c == ')' || c == '\\') && buf_append(b, "\\", 1) < 0) return -1;
    if (buf_append(b, &c, 1) < 0) return -1;
  }
  return buf_append(b, ")", 1);
}

/* --- DejaVuSans: glyph ids as Identity-H codes ------------------------------------------------ */

typedef struct glyphs {
  uint16_t gid[STAMP_MAX_GLYPHS];
  uint32_t cp[STAMP_MAX_GLYPHS];
  size_t n;
} glyphs_t;

static int cid_text(buf_t *b, const pdf_font_t *f, glyphs_t *used, const char *s) {
  if (buf_append(b, "<", 1) < 0) return -1;
  size_t n = strlen(s), i = 0;
  while (i < n) {
    uint32_t cp = utf8_next(s, n, &i);
    uint16_t g = pdf_font_glyph(f, cp);
    bool seen = false;
    for (size_t k = 0; k < used->n && !seen; k++) seen = used->gid[k] == g;
    if (!seen && used->n < STAMP_MAX_GLYPHS) {
      used->gid[used->n] = g;
      used->cp[used->n++] = cp;
    }
    if (buf_printf(b, "%04X", g) < 0) return -1;
  }
  return buf_append(b, ">", 1);
}

static int write_stream(signer_state_t *st, int num, const char *extra, const void *data, size_t len) {
  if (pades_begin_obj(st, num, 0) < 0 || buf_printf(st->out, "<<%s/Length %zu>>\nstream\n", extra, len) < 0 ||
      buf_append(st->out, data, len) < 0)
    return -1;
  return buf_puts(st->out, "\nendstream\nendobj\n");
}

static int write_cid_font(signer_state_t *st, const pdf_font_t *f, int fontnum, glyphs_t *used) {
  buf_t b;
  buf_init(&b, 4 << 20);
  int rc = -1, bbox[4], asc, desc;
  pdf_font_metrics(f, bbox, &asc, &desc);
  if (pades_begin_obj(st, fontnum, 0) < 0 ||
      buf_printf(st->out, "<</Type/Font/Subtype/Type0/BaseFont/CTYOSA+DejaVuSans/Encoding/Identity-H"
                          "/DescendantFonts[%d 0 R]/ToUnicode %d 0 R>>\nendobj\n", fontnum + 1, fontnum + 4) < 0)
    goto done;
  if (pades_begin_obj(st, fontnum + 1, 0) < 0 ||
      buf_printf(st->out, "<</Type/Font/Subtype/CIDFontType2/BaseFont/CTYOSA+DejaVuSans"
                          "/CIDSystemInfo<</Registry(Adobe)/Ordering(Identity)/Supplement 0>>"
                          "/FontDescriptor %d 0 R/CIDToGIDMap/Identity/DW 1000/W[", fontnum + 2) < 0)
    goto done;
  for (size_t k = 0; k < used->n; k++)
    if (buf_printf(st->out, "%u[%d]", used->gid[k], pdf_font_width(f, used->gid[k])) < 0) goto done;
  if (buf_puts(st->out, "]>>\nendobj\n") < 0) goto done;
  if (pades_begin_obj(st, fontnum + 2, 0) < 0 ||
      buf_printf(st->out, "<</Type/FontDescriptor/FontName/CTYOSA+DejaVuSans/Flags 32/FontBBox[%d %d %d %d]"
                          "/ItalicAngle 0/Ascent %d/Descent %d/CapHeight %d/StemV 80/FontFile2 %d 0 R>>\nendobj\n",
                 bbox[0], bbox[1], bbox[2], bbox[3], asc, desc, asc, fontnum + 3) < 0)
    goto done;
  if (pdf_font_subset(f, used->gid, used->n, &b) < 0) goto done;
  char extra[48];
  snprintf(extra, sizeof extra, "/Length1 %zu", b.len);
  if (write_stream(st, fontnum + 3, extra, b.data, b.len) < 0) goto done;
  buf_reset(&b);
  if (buf_puts(&b, "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
                   "/CIDSystemInfo<</Registry(Adobe)/Ordering(UCS)/Supplement 0>> def\n"
                   "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
                   "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n") < 0)
    goto done;
  for (size_t k = 0; k < used->n; k += 100) {
    size_t m = used->n - k < 100 ? used->n - k : 100;
    if (buf_printf(&b, "%zu beginbfchar\n", m) < 0) goto done;
    for (size_t j = k; j < k + m; j++)
      if (buf_printf(&b, "<%04X> <%04X>\n", used->gid[j], used->cp[j] > 0xFFFF ? 0xFFFD : used->cp[j]) < 0) goto done;
    if (buf_puts(&b, "endbfchar\n") < 0) goto done;
  }
  if (buf_puts(&b, "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n") < 0 ||
      write_stream(st, fontnum + 4, "", b.data, b.len) < 0)
    goto done;
  rc = 0;
done:
  buf_release(&b);
  return rc;
}

int pades_write_stamp(signer_state_t *st, int apnum, int fontnum, double w, double h, const char *name,
                      const char *title, const char *unit, const char *when) {
  const pdf_font_t *f = pdf_font_get();
  glyphs_t *used = arena_alloc(st->a, sizeof *used);
  buf_t c;
  buf_init(&c, 16384);
  int rc = -1;
  double fs = h / 7.0;
  if (buf_printf(&c, "q 0.85 0.1 0.1 RG 1.2 w 1 1 %.2f %.2f re S Q\nBT /F1 %.2f Tf 0.1 0.1 0.5 rg\n", w - 2, h - 2, fs) < 0)
    goto done;
  const char *vals[4] = {name, title, unit, when};
  double y = h - fs * 1.4;
  for (int i = 0; i < 4; i++) {
    if (!vals[i] || !*vals[i]) continue;
    char *line = arena_printf(st->a, "%s%s", LABELS[i], vals[i]);
    if (buf_printf(&c, "1 0 0 1 %.2f %.2f Tm ", fs * 0.6, y) < 0 ||
        (f ? cid_text(&c, f, used, line) : winansi_text(&c, line)) < 0 || buf_puts(&c, " Tj\n") < 0)
      goto done;
    y -= fs * 1.45;
  }
  if (buf_puts(&c, "ET\n") < 0) goto done;
  char extra[160];
  snprintf(extra, sizeof extra, "/Type/XObject/Subtype/Form/BBox[0 0 %.2f %.2f]/Resources<</Font<</F1 %d 0 R>>>>", w, h,
           fontnum);
  if (write_stream(st, apnum, extra, c.data, c.len) < 0) goto done;
  if (f) {
    rc = write_cid_font(st, f, fontnum, used);
  } else {
    rc = pades_begin_obj(st, fontnum, 0) < 0 ||
                 buf_puts(st->out, "<</Type/Font/Subtype/Type1/BaseFont/Helvetica/Encoding/WinAnsiEncoding>>\nendobj\n") < 0
             ? -1
             : 0;
  }
done:
  buf_release(&c);
  return rc;
}
