/*
 * signing_test_util.h - test/bench helpers: PDFs made with libharu, reading files.
 * Header-only (static functions); include after "base/common.h".
 */
#ifndef CITYOS_SIGNING_TEST_UTIL_H
#define CITYOS_SIGNING_TEST_UTIL_H

#include <hpdf.h>

__attribute__((unused)) static void signing_test_hpdf_error(HPDF_STATUS e, HPDF_STATUS d, void *u) {
  (void)u;
  fprintf(stderr, "libharu error %04X %u\n", (unsigned)e, (unsigned)d);
}

/* A PDF of `pages` A4 pages, each with a line of text ("Trang N / M ..."). malloc'd. */
__attribute__((unused)) static uint8_t *signing_test_pdf(int pages, size_t *len) {
  HPDF_Doc pdf = HPDF_New(signing_test_hpdf_error, NULL);
  if (!pdf) return NULL;
  HPDF_Font font = HPDF_GetFont(pdf, "Helvetica", NULL);
  for (int i = 0; i < pages; i++) {
    HPDF_Page page = HPDF_AddPage(pdf);
    HPDF_Page_SetSize(page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
    HPDF_Page_BeginText(page);
    HPDF_Page_SetFontAndSize(page, font, 14);
    HPDF_Page_MoveTextPos(page, 72, 760);
    char line[128];
    snprintf(line, sizeof line, "Trang %d / %d - Quyet dinh so 123/QD-UBND (test document)", i + 1, pages);
    HPDF_Page_ShowText(page, line);
    for (int k = 0; k < 30; k++) {
      HPDF_Page_MoveTextPos(page, 0, -20);
      HPDF_Page_ShowText(page, "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.");
    }
    HPDF_Page_EndText(page);
  }
  uint8_t *out = NULL;
  *len = 0;
  if (HPDF_SaveToStream(pdf) == HPDF_OK) {
    HPDF_UINT32 n = HPDF_GetStreamSize(pdf);
    out = malloc(n ? n : 1);
    HPDF_UINT32 got = n;
    if (out && HPDF_ReadFromStream(pdf, out, &got) <= HPDF_STREAM_EOF) {
      *len = got;
    }
  }
  HPDF_Free(pdf);
  return out;
}

__attribute__((unused)) static uint8_t *signing_test_read(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  if (b) *len = (size_t)n;
  return b;
}

#endif
