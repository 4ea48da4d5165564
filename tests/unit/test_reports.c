#include "base/common.h"
#include "base/arena.h"
#include "reports/reports.h"
#include "reports/reports_internal.h"
#include "check.h"

/* Unit tests of the reports module's pure parts: photo metadata stripping, working
 * days, ISO dates, distances and the urlencoded form parser. */

static size_t seg(uint8_t *p, uint8_t marker, const char *payload, size_t n) {
  p[0] = 0xFF;
  p[1] = marker;
  p[2] = (uint8_t)((n + 2) >> 8);
  p[3] = (uint8_t)(n + 2);
  memcpy(p + 4, payload, n);
  return n + 4;
}

static bool contains(const uint8_t *h, size_t hn, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= hn; i++)
    if (memcmp(h + i, needle, n) == 0) return true;
  return false;
}

static void test_jpeg(void) {
  uint8_t in[512], out[512];
  size_t n = 0, outlen = 0;
  in[n++] = 0xFF;
  in[n++] = 0xD8;
  n += seg(in + n, 0xE0, "JFIF\0\1\1", 7);
  n += seg(in + n, 0xE1, "Exif\0\0GPSLatitude", 17);
  n += seg(in + n, 0xED, "Photoshop 3.0\0IPTC", 18);
  n += seg(in + n, 0xFE, "camera owner", 12);
  n += seg(in + n, 0xDB, "\0qtable", 7);
  n += seg(in + n, 0xDA, "\1\1\0\0\77\0", 6);
  static const uint8_t scan[] = {0x11, 0xFF, 0x00, 0x22, 0xFF, 0xD0, 0x33, 0xFF, 0xD9};
  memcpy(in + n, scan, sizeof scan);
  n += sizeof scan;
  CHECK_INT_EQ(reports_jpeg_strip(in, n, out, sizeof out, &outlen), REPORTS_IMG_OK);
  CHECK(!contains(out, outlen, "GPS") && !contains(out, outlen, "Exif"));
  CHECK(!contains(out, outlen, "IPTC") && !contains(out, outlen, "camera owner"));
  CHECK(contains(out, outlen, "JFIF") && contains(out, outlen, "qtable"));
  CHECK_INT_EQ(outlen, n - (17 + 4) - (18 + 4) - (12 + 4));
  CHECK(memcmp(out + outlen - sizeof scan, scan, sizeof scan) == 0); /* scan kept byte for byte */
  /* Trailing bytes after EOI are dropped. */
  in[n] = 'X';
  CHECK_INT_EQ(reports_jpeg_strip(in, n + 1, out, sizeof out, &outlen), REPORTS_IMG_OK);
  CHECK(out[outlen - 1] == 0xD9);
  /* Truncations and damage. */
  for (size_t cut = 4; cut < n - 1; cut += 5) CHECK_INT_EQ(reports_jpeg_strip(in, cut, out, sizeof out, &outlen), REPORTS_IMG_MALFORMED);
  in[6] = 0x00; /* APP0 length high byte: now fine; set an impossible one */
  in[4] = 0xFF;
  in[5] = 0xFF;
  CHECK(reports_jpeg_strip(in, n, out, sizeof out, &outlen) != REPORTS_IMG_OK);
  CHECK_INT_EQ(reports_jpeg_strip((const uint8_t *)"GIF89a", 6, out, sizeof out, &outlen), REPORTS_IMG_UNSUPPORTED);
  CHECK_INT_EQ(reports_jpeg_strip(in, n, out, 10, &outlen), REPORTS_IMG_MALFORMED); /* output too small */
}

static size_t chunk(uint8_t *p, const char *type, const char *data, size_t n) {
  p[0] = (uint8_t)(n >> 24);
  p[1] = (uint8_t)(n >> 16);
  p[2] = (uint8_t)(n >> 8);
  p[3] = (uint8_t)n;
  memcpy(p + 4, type, 4);
  memcpy(p + 8, data, n);
  memset(p + 8 + n, 0xAB, 4); /* CRC: not checked by the stripper */
  return n + 12;
}

static void test_png(void) {
  uint8_t in[256], out[256];
  size_t n = 8, outlen = 0;
  const char *mime = NULL;
  memcpy(in, "\x89PNG\r\n\x1a\n", 8);
  n += chunk(in + n, "IHDR", "0123456789abc", 13);
  n += chunk(in + n, "tEXt", "GPS\0secret", 10);
  n += chunk(in + n, "eXIf", "MM*", 3);
  n += chunk(in + n, "IDAT", "pixels", 6);
  n += chunk(in + n, "IEND", "", 0);
  CHECK_INT_EQ(reports_image_strip(in, n, out, sizeof out, &outlen, &mime), REPORTS_IMG_OK);
  CHECK_STR_EQ(mime, "image/png");
  CHECK(!contains(out, outlen, "secret") && !contains(out, outlen, "eXIf") && contains(out, outlen, "pixels"));
  CHECK_INT_EQ(outlen, n - 22 - 15);
  CHECK_INT_EQ(reports_png_strip(in, n - 12, out, sizeof out, &outlen), REPORTS_IMG_MALFORMED); /* no IEND */
}

static void test_working_days(void) {
  int64_t fri = 0, sat = 0, mon = 0, t = 0;
  CHECK_INT_EQ(reports_parse_iso("2026-11-20T09:00:00+07:00", &fri), 0); /* a Friday */
  CHECK_INT_EQ(reports_parse_iso("2026-11-21T09:00:00+07:00", &sat), 0);
  CHECK_INT_EQ(reports_parse_iso("2026-11-23T09:00:00+07:00", &mon), 0);
  CHECK_INT_EQ(reports_add_working_days(fri, 1), mon);
  CHECK_INT_EQ(reports_add_working_days(sat, 1), mon);
  CHECK_INT_EQ(reports_add_working_days(mon, 5), mon + 7LL * 86400000);
  CHECK_INT_EQ(reports_add_working_days(mon, 0), mon);
  /* Friday 23:30 in Hanoi is Friday 16:30 UTC: the next working day is Monday. */
  CHECK_INT_EQ(reports_parse_iso("2026-11-20T23:30:00+07:00", &t), 0);
  CHECK_INT_EQ(reports_add_working_days(t, 1), t + 3LL * 86400000);
}

static void test_iso(void) {
  int64_t t = 0;
  CHECK_INT_EQ(reports_parse_iso("1970-01-01T00:00:00Z", &t), 0);
  CHECK_INT_EQ(t, 0);
  CHECK_INT_EQ(reports_parse_iso("1970-01-01", &t), 0);
  CHECK_INT_EQ(t, -7LL * 3600000); /* a bare date is midnight in Vietnam */
  CHECK_INT_EQ(reports_parse_iso("2026-11-22T10:00:00.123-05:30", &t), 0);
  CHECK_INT_EQ(t, 1795361400000LL); /* 2026-11-22T15:30:00Z */
  CHECK(reports_parse_iso("2026-13-01", &t) != 0);
  CHECK(reports_parse_iso("2026-11-22T25:00", &t) != 0);
  CHECK(reports_parse_iso("2026-11-22junk", &t) != 0);
  CHECK(reports_parse_iso("yesterday", &t) != 0);
  CHECK(reports_parse_iso(NULL, &t) != 0);
}

static void test_distance_and_form(void) {
  double d = reports_distance_m(21.0287, 105.8524, 21.0287, 105.8534);
  CHECK(d > 100 && d < 106); /* 0.001 degree of longitude at 21 N is about 103.8 m */
  CHECK(reports_distance_m(21, 105, 21, 105) == 0);
  arena_t *a = arena_new(4096);
  reports_fields_t fs;
  memset(&fs, 0, sizeof fs);
  const char *body = "service_code=road_damage&description=%C3%94+g%C3%A0&attribute%5Bseverity%5D=major&empty=&flag";
  CHECK_INT_EQ(reports_form_parse(a, body, strlen(body), &fs), 0);
  CHECK_INT_EQ(fs.n, 5);
  CHECK_STR_EQ(reports_field(&fs, "description"), "Ô gà");
  CHECK_STR_EQ(reports_field(&fs, "attribute[severity]"), "major");
  CHECK_STR_EQ(reports_field(&fs, "empty"), "");
  CHECK_STR_EQ(reports_field(&fs, "flag"), "");
  CHECK(reports_field(&fs, "missing") == NULL);
  memset(&fs, 0, sizeof fs);
  CHECK(reports_form_parse(a, "a=%4", 4, &fs) != 0);
  memset(&fs, 0, sizeof fs);
  CHECK(reports_form_parse(a, "a=%zz", 5, &fs) != 0);
  memset(&fs, 0, sizeof fs);
  CHECK(reports_form_parse(a, "a%00b=1", 7, &fs) != 0); /* NUL in a name */
  arena_free(a);
}

int main(void) {
  test_jpeg();
  test_png();
  test_working_days();
  test_iso();
  test_distance_and_form();
  return check_summary();
}
