/*
 * slips.h - statutory papers as PDF (libharu): a title, lines of text, and a QR code at
 * the top left (libqrencode). Vietnamese text is UTF-8, rendered with an embedded Unicode
 * TrueType font (DejaVu Sans from fonts-dejavu-core; the whole font is embedded, so a
 * slip weighs ~0.4-0.8 MB until subsetting is added).
 *
 * slips_render() allocates *out with malloc (caller frees). Returns 0, or -1 with a
 * reason in `why` (font missing, QR text too long, libharu error).
 */
#ifndef CITYOS_SLIPS_H
#define CITYOS_SLIPS_H

#include "base/common.h"

#define SLIPS_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
#define SLIPS_FONT_BOLD "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
#define SLIPS_MAX_LINES 40

typedef struct {
  const char *issuer;                 /* "UBND Phường Ba Đình" */
  const char *title;                  /* "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" */
  const char *qr_text;                /* what the QR code holds */
  const char *lines[SLIPS_MAX_LINES]; /* body lines; long lines are wrapped */
  size_t nlines;
} slip_t;

int slips_render(const slip_t *s, unsigned char **out, size_t *len, char *why, size_t whylen);

#endif
