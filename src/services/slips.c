/*
 * slips.c - PDF rendering of slips (see slips.h).
 */
#include "base/common.h"
#include "services/slips.h"
#include <hpdf.h>
#include <qrencode.h>
#include <setjmp.h>

typedef struct {
  jmp_buf jb;
  unsigned long code;
} hpdf_err_t;

static void on_error(HPDF_STATUS error_no, HPDF_STATUS detail_no, void *user) {
  hpdf_err_t *e = user;
  (void)detail_no;
  e->code = error_no;
  longjmp(e->jb, 1);
}

static void draw_qr(HPDF_Page page, const QRcode *qr, float x, float y, float size) {
  float cell = size / (float)(qr->width + 8);   /* 4-module quiet zone each side */
  HPDF_Page_SetRGBFill(page, 0, 0, 0);
  for (int r = 0; r < qr->width; r++)
    for (int c = 0; c < qr->width; c++)
      if (qr->data[r * qr->width + c] & 1)
        HPDF_Page_Rectangle(page, x + (float)(c + 4) * cell, y + size - (float)(r + 5) * cell, cell, cell);
  HPDF_Page_Fill(page);
}

/* Splits a line into pieces that fit `width` at the current font (by UTF-8 bytes). */
static float text_line(HPDF_Page page, HPDF_Font font, float size, float x, float y, float width, const char *s) {
  char buf[1024];
  while (*s) {
    size_t n = strlen(s);
    if (n >= sizeof buf) n = sizeof buf - 1;
    HPDF_UINT fit = HPDF_Font_MeasureText(font, (const HPDF_BYTE *)s, (HPDF_UINT)n, width, size, 0, 0, HPDF_TRUE, NULL);
    if (fit == 0) fit = (HPDF_UINT)n;
    while (fit < n && fit > 0 && ((unsigned char)s[fit] & 0xC0) == 0x80) fit--;   /* not inside a character */
    memcpy(buf, s, fit);
    buf[fit] = 0;
    HPDF_Page_BeginText(page);
    HPDF_Page_SetFontAndSize(page, font, size);
    HPDF_Page_TextOut(page, x, y, buf);
    HPDF_Page_EndText(page);
    y -= size * 1.5f;
    s += fit;
    while (*s == ' ') s++;
  }
  return y;
}

/* libharu 2.3 embeds a subset of the font and follows composite glyphs one level only;
 * DejaVu builds the stacked Vietnamese letters (ồ = ô + grave...) from nested composites,
 * whose inner parts would be left out. Using every Vietnamese letter once, invisibly,
 * puts each precomposed glyph in the subset directly, so their components come along. */
static const char VIETNAMESE_LETTERS[] =
    "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
    "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴĐ";

static void use_all_letters(HPDF_Page page, HPDF_Font font) {
  HPDF_Page_BeginText(page);
  HPDF_Page_SetTextRenderingMode(page, HPDF_INVISIBLE);
  HPDF_Page_SetFontAndSize(page, font, 1);
  HPDF_Page_TextOut(page, 1, 1, VIETNAMESE_LETTERS);
  HPDF_Page_SetTextRenderingMode(page, HPDF_FILL);
  HPDF_Page_EndText(page);
}

int slips_render(const slip_t *s, unsigned char **out, size_t *len, char *why, size_t whylen) {
  *out = NULL;
  *len = 0;
  QRcode *qr = QRcode_encodeString(s->qr_text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (!qr) {
    snprintf(why, whylen, "QR code: cannot encode the text");
    return -1;
  }
  hpdf_err_t err = {.code = 0};
  HPDF_Doc pdf = HPDF_New(on_error, &err);
  if (!pdf) {
    QRcode_free(qr);
    snprintf(why, whylen, "libharu: cannot create a document");
    return -1;
  }
  if (setjmp(err.jb)) {
    snprintf(why, whylen, "libharu error 0x%04lX", err.code);
    HPDF_Free(pdf);
    QRcode_free(qr);
    free(*out);
    *out = NULL;
    return -1;
  }
  HPDF_SetCompressionMode(pdf, HPDF_COMP_ALL);
  HPDF_UseUTFEncodings(pdf);
  HPDF_SetCurrentEncoder(pdf, "UTF-8");
  const char *regular = HPDF_LoadTTFontFromFile(pdf, SLIPS_FONT, HPDF_TRUE);
  const char *bold = HPDF_LoadTTFontFromFile(pdf, SLIPS_FONT_BOLD, HPDF_TRUE);
  HPDF_Font font = HPDF_GetFont(pdf, regular, "UTF-8"), fbold = HPDF_GetFont(pdf, bold, "UTF-8");
  HPDF_Page page = HPDF_AddPage(pdf);
  HPDF_Page_SetSize(page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
  float W = HPDF_Page_GetWidth(page), H = HPDF_Page_GetHeight(page), m = 50;
  use_all_letters(page, font);
  use_all_letters(page, fbold);
  draw_qr(page, qr, m - 10, H - m - 90, 100);
  float y = H - m - 10;
  y = text_line(page, fbold, 11, 200, y, W - 200 - m, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM");
  y = text_line(page, fbold, 10, 240, y, W - 240 - m, "Độc lập - Tự do - Hạnh phúc");
  y = text_line(page, font, 10, 200, y - 6, W - 200 - m, s->issuer);
  y = H - m - 130;
  y = text_line(page, fbold, 14, m, y, W - 2 * m, s->title) - 10;
  for (size_t i = 0; i < s->nlines && i < SLIPS_MAX_LINES && y > m; i++)
    y = text_line(page, font, 11, m, y, W - 2 * m, s->lines[i]);
  HPDF_SaveToStream(pdf);
  HPDF_UINT32 size = HPDF_GetStreamSize(pdf);
  *out = malloc(size ? size : 1);
  if (!*out) {
    HPDF_Free(pdf);
    QRcode_free(qr);
    snprintf(why, whylen, "out of memory");
    return -1;
  }
  HPDF_UINT32 got = size;
  HPDF_ReadFromStream(pdf, *out, &got);
  *len = got;
  HPDF_Free(pdf);
  QRcode_free(qr);
  return 0;
}
