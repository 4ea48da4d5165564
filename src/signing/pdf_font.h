/*
 * pdf_font.h - the TrueType font of the visible signature stamp (DejaVuSans from
 * fonts-dejavu-core, or $CITYOS_STAMP_FONT), loaded once and shared read-only by all
 * threads, embedded per signature as a glyph subset (see pdf_font.c).
 */
#ifndef CITYOS_SIGNING_PDF_FONT_H
#define CITYOS_SIGNING_PDF_FONT_H

#include "base/common.h"
#include "base/buf.h"

typedef struct pdf_font pdf_font_t;

/* The font, or NULL when it is not installed (the stamp then uses Helvetica). */
const pdf_font_t *pdf_font_get(void);
/* Glyph id of a Unicode code point (0 = .notdef). */
uint16_t pdf_font_glyph(const pdf_font_t *f, uint32_t cp);
/* Advance width in 1/1000 em. */
int pdf_font_width(const pdf_font_t *f, uint16_t gid);
void pdf_font_metrics(const pdf_font_t *f, int bbox[4], int *ascent, int *descent);
/* A font program with only these glyphs (ids unchanged) appended to out. 0 or -1. */
int pdf_font_subset(const pdf_font_t *f, const uint16_t *gids, size_t n, buf_t *out);

#endif
