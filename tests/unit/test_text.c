#include "base/common.h"

#include "base/arena.h"
#include "base/text.h"
#include "check.h"

/* The 134 precomposed Vietnamese letters: 12 vowels x 5 tones x 2 cases, the 6
 * toneless modified vowels (ă â ê ô ơ ư) x 2 cases, and đ Đ. */
static const char vn_letters[] =
    "àÀáÁảẢãÃạẠăĂằẰắẮẳẲẵẴặẶâÂầẦấẤẩẨẫẪậẬèÈéÉẻẺẽẼẹẸêÊềỀếẾểỂễỄệỆìÌíÍỉỈĩĨịỊ"
    "òÒóÓỏỎõÕọỌôÔồỒốỐổỔỗỖộỘơƠờỜớỚởỞỡỠợỢùÙúÚủỦũŨụỤưƯừỪứỨửỬữỮựỰỳỲýÝỷỶỹỸỵỴđĐ";
/* The base letter of each, in the same order. */
static const char vn_bases[] =
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaeeeeeeeeeeeeeeeeeeeeeeiiiiiiiiii"
    "oooooooooooooooooooooooooooooooooouuuuuuuuuuuuuuuuuuuuuuyyyyyyyyyydd";
/* The same letters, space-separated, in NFD (base letter + combining marks). */
static const char vn_letters_nfd[] =
    "a\u0300 A\u0300 a\u0301 A\u0301 a\u0309 A\u0309 a\u0303 A\u0303 "
    "a\u0323 A\u0323 a\u0306 A\u0306 a\u0306\u0300 A\u0306\u0300 "
    "a\u0306\u0301 A\u0306\u0301 a\u0306\u0309 A\u0306\u0309 "
    "a\u0306\u0303 A\u0306\u0303 a\u0323\u0306 A\u0323\u0306 a\u0302 "
    "A\u0302 a\u0302\u0300 A\u0302\u0300 a\u0302\u0301 A\u0302\u0301 "
    "a\u0302\u0309 A\u0302\u0309 a\u0302\u0303 A\u0302\u0303 "
    "a\u0323\u0302 A\u0323\u0302 e\u0300 E\u0300 e\u0301 E\u0301 e\u0309 "
    "E\u0309 e\u0303 E\u0303 e\u0323 E\u0323 e\u0302 E\u0302 "
    "e\u0302\u0300 E\u0302\u0300 e\u0302\u0301 E\u0302\u0301 "
    "e\u0302\u0309 E\u0302\u0309 e\u0302\u0303 E\u0302\u0303 "
    "e\u0323\u0302 E\u0323\u0302 i\u0300 I\u0300 i\u0301 I\u0301 i\u0309 "
    "I\u0309 i\u0303 I\u0303 i\u0323 I\u0323 o\u0300 O\u0300 o\u0301 "
    "O\u0301 o\u0309 O\u0309 o\u0303 O\u0303 o\u0323 O\u0323 o\u0302 "
    "O\u0302 o\u0302\u0300 O\u0302\u0300 o\u0302\u0301 O\u0302\u0301 "
    "o\u0302\u0309 O\u0302\u0309 o\u0302\u0303 O\u0302\u0303 "
    "o\u0323\u0302 O\u0323\u0302 o\u031B O\u031B o\u031B\u0300 "
    "O\u031B\u0300 o\u031B\u0301 O\u031B\u0301 o\u031B\u0309 "
    "O\u031B\u0309 o\u031B\u0303 O\u031B\u0303 o\u031B\u0323 "
    "O\u031B\u0323 u\u0300 U\u0300 u\u0301 U\u0301 u\u0309 U\u0309 "
    "u\u0303 U\u0303 u\u0323 U\u0323 u\u031B U\u031B u\u031B\u0300 "
    "U\u031B\u0300 u\u031B\u0301 U\u031B\u0301 u\u031B\u0309 "
    "U\u031B\u0309 u\u031B\u0303 U\u031B\u0303 u\u031B\u0323 "
    "U\u031B\u0323 y\u0300 Y\u0300 y\u0301 Y\u0301 y\u0309 Y\u0309 "
    "y\u0303 Y\u0303 y\u0323 Y\u0323 \u0111 \u0110";

static const char *fold(const char *in, char *out, size_t cap)
{
  long n = text_fold(in, out, cap);
  return n < 0 ? "(fold failed)" : out;
}

static void test_examples(void)
{
  char out[256];

  CHECK_STR_EQ(fold("Phường Hoàn Kiếm", out, sizeof out), "phuong hoan kiem");
  CHECK_INT_EQ(text_fold("Phường Hoàn Kiếm", out, sizeof out), 16);
  CHECK_STR_EQ(fold("ĐỐNG ĐA", out, sizeof out), "dong da");
  CHECK_STR_EQ(fold("Yên Hoà", out, sizeof out), "yen hoa");
  CHECK_STR_EQ(fold("Yên Hòa", out, sizeof out), "yen hoa");
  CHECK_STR_EQ(fold("Thành phố Hồ Chí Minh", out, sizeof out), "thanh pho ho chi minh");
  CHECK_STR_EQ(fold("Tỉnh Bà Rịa - Vũng Tàu", out, sizeof out), "tinh ba ria vung tau");
  CHECK_STR_EQ(fold("Đắk Lắk", out, sizeof out), "dak lak");
  CHECK_STR_EQ(fold("  \t Quận   1,\n Phường\u00a0Bến Nghé!! ", out, sizeof out),
               "quan 1 phuong ben nghe");
  CHECK_STR_EQ(fold("", out, sizeof out), "");
  CHECK_STR_EQ(fold(" ,.;- \t", out, sizeof out), "");
  CHECK_STR_EQ(fold("ABC-xyz_09", out, sizeof out), "abc xyz 09");
  /* Dashes and quotes from General Punctuation are separators. */
  CHECK_STR_EQ(fold("Hà Nội \u2013 “Thủ đô”", out, sizeof out), "ha noi thu do");
  /* Eth (often typed for Đ), Latin-1 and Latin Extended-A letters. */
  CHECK_STR_EQ(fold("\u00d0ông Façade Łódź", out, sizeof out), "dong facade lodz");
  /* Zero-width joiners, soft hyphens and BOM vanish without splitting the word. */
  CHECK_STR_EQ(fold("\ufeffHo\u200bàn Ki\u00ade\u0301m", out, sizeof out), "hoan kiem");
  /* Unknown code points are copied; non-ASCII letters without a mapping stay. */
  CHECK_STR_EQ(fold("Москва 東京", out, sizeof out), "Москва 東京");
  CHECK_STR_EQ(fold("ÆTHER", out, sizeof out), "æther");
  CHECK_STR_EQ(fold("ĲSSEL ŊA ŒUVRE", out, sizeof out), "ĳssel ŋa œuvre");
  /* Superscript digits and ordinal indicators become ASCII (found by fuzz_cccd:
   * ¹ once folded to º). */
  CHECK_STR_EQ(fold("m² x³ ¹ ª º", out, sizeof out), "m2 x3 1 a o");
  CHECK_STR_EQ(fold("«µ·¼»", out, sizeof out), "µ ¼");
  /* NFD Phường Hoàn Kiếm. */
  CHECK_STR_EQ(fold("Phu\xcc\x9bo\xcc\x9b\xcc\x80ng Hoa\xcc\x80n Kie\xcc\x82\xcc\x81m", out,
                    sizeof out),
               "phuong hoan kiem");
  /* A combining mark alone between separators leaves one space. */
  CHECK_STR_EQ(fold("a \xcc\x81 b", out, sizeof out), "a b");
}

static void test_all_vietnamese_letters(void)
{
  char one[8], folded[8], nfc_joined[1024], expect[512], out[1024], out2[1024];
  const unsigned char *p = (const unsigned char *)vn_letters;
  size_t count = 0, nj = 0, ne = 0;

  CHECK_INT_EQ(strlen(vn_bases), 134);
  while (*p) {
    size_t len = (*p >= 0xE0) ? 3 : 2; /* every letter is 2 or 3 bytes */
    CHECK(*p >= 0xC0);
    memcpy(one, p, len);
    one[len] = '\0';
    CHECK(text_utf8_valid(one, len));
    if (count < 134) {
      char want[2] = {vn_bases[count], '\0'};
      long n = text_fold(one, folded, sizeof folded);
      CHECK_INT_EQ(n, 1);
      if (n != 1 || folded[0] != want[0])
        fprintf(stderr, "letter #%zu (%s) folds to \"%s\", expected \"%s\"\n", count, one,
                n < 0 ? "(error)" : folded, want);
      CHECK_STR_EQ(folded, want);
      if (nj > 0) {
        nfc_joined[nj++] = ' ';
        expect[ne++] = ' ';
      }
      memcpy(nfc_joined + nj, one, len);
      nj += len;
      expect[ne++] = want[0];
    }
    p += len;
    count++;
  }
  nfc_joined[nj] = '\0';
  expect[ne] = '\0';
  CHECK_INT_EQ(count, 134);
  /* NFD folds exactly like NFC. */
  CHECK_STR_EQ(fold(nfc_joined, out, sizeof out), expect);
  CHECK_STR_EQ(fold(vn_letters_nfd, out2, sizeof out2), expect);
  /* The whole run folds to the base letters glued together. */
  CHECK_STR_EQ(fold(vn_letters, out, sizeof out), vn_bases);
}

static void test_utf8_validation(void)
{
  static const struct {
    const char *s;
    bool ok;
  } cases[] = {
      {"", true},
      {"plain ascii", true},
      {"\xc2\x80", true},                 /* U+0080 */
      {"\xdf\xbf", true},                 /* U+07FF */
      {"\xe0\xa0\x80", true},             /* U+0800 */
      {"\xed\x9f\xbf", true},             /* U+D7FF */
      {"\xee\x80\x80", true},             /* U+E000 */
      {"\xef\xbf\xbf", true},             /* U+FFFF */
      {"\xf0\x90\x80\x80", true},         /* U+10000 */
      {"\xf4\x8f\xbf\xbf", true},         /* U+10FFFF */
      {"\xc0\xaf", false},                /* overlong '/' */
      {"\xc1\xbf", false},                /* overlong */
      {"\xe0\x80\xaf", false},            /* overlong 3-byte */
      {"\xe0\x9f\xbf", false},            /* overlong 3-byte (U+07FF) */
      {"\xf0\x80\x80\xaf", false},        /* overlong 4-byte */
      {"\xf0\x8f\xbf\xbf", false},        /* overlong 4-byte (U+FFFF) */
      {"\x80", false},                    /* lone continuation */
      {"a\xbf" "b", false},               /* lone continuation inside */
      {"\xed\xa0\x80", false},            /* U+D800 high surrogate */
      {"\xed\xbf\xbf", false},            /* U+DFFF low surrogate */
      {"\xed\xa0\xbd\xed\xb8\x80", false}, /* CESU-8 surrogate pair */
      {"\xf4\x90\x80\x80", false},        /* U+110000 */
      {"\xf5\x80\x80\x80", false},        /* lead F5 */
      {"\xff", false},
      {"\xfe\xff", false},
      {"\xc3", false},                    /* truncated 2-byte */
      {"\xe1\xba", false},                /* truncated 3-byte */
      {"\xf0\x9f\x98", false},            /* truncated 4-byte */
      {"\xe1\x41\x80", false},            /* bad continuation */
      {"Hà Nội", true},
  };
  char out[64];

  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    bool got = text_utf8_valid(cases[i].s, strlen(cases[i].s));
    if (got != cases[i].ok)
      fprintf(stderr, "utf8 case %zu: expected %s\n", i, cases[i].ok ? "valid" : "invalid");
    CHECK(got == cases[i].ok);
    long n = text_fold(cases[i].s, out, sizeof out);
    CHECK(cases[i].ok ? n >= 0 : n == -1);
    if (!cases[i].ok)
      CHECK_STR_EQ(out, "");
  }
  /* Length-bounded: the bad byte after len is not looked at; NUL inside is valid. */
  CHECK(text_utf8_valid("ab\xff", 2));
  CHECK(text_utf8_valid("a\0b", 3));
  CHECK(!text_utf8_valid("\xc3\xa0", 1));
  CHECK(text_utf8_valid(NULL, 0));
}

static void test_fold_buffer(void)
{
  char out[32];
  char big[64];

  /* Output never longer than input; exact fit needs len + 1. */
  CHECK_INT_EQ(text_fold("Hoàn", out, 5), 4);
  CHECK_STR_EQ(out, "hoan");
  CHECK_INT_EQ(text_fold("hoan", out, 5), 4);
  CHECK_INT_EQ(text_fold("hoan", out, 4), -1);
  CHECK_STR_EQ(out, "");
  CHECK_INT_EQ(text_fold("a b", out, 3), -1);
  CHECK_INT_EQ(text_fold("x", out, 0), -1);
  CHECK_INT_EQ(text_fold(NULL, out, sizeof out), -1);
  CHECK_INT_EQ(text_fold("x", NULL, 10), -1);
  /* Fold is idempotent. */
  CHECK(text_fold("  Ngõ 12/3 Đường Láng, ĐỐNG ĐA  ", big, sizeof big) > 0);
  CHECK_STR_EQ(fold(big, out, sizeof out), big);
  CHECK_STR_EQ(big, "ngo 12 3 duong lang dong da");

  arena_t *a = arena_new(0);
  CHECK_STR_EQ(text_fold_arena(a, "Quận Cầu Giấy"), "quan cau giay");
  CHECK(text_fold_arena(a, "bad \xc3") == NULL);
  CHECK(text_fold_arena(a, NULL) == NULL);
  CHECK_STR_EQ(text_fold_arena(a, ""), "");
  arena_free(a);
}

static void test_parse_int(void)
{
  int64_t v = 42;

  CHECK_INT_EQ(text_parse_int64("0", 0, 10, &v), 0);
  CHECK_INT_EQ(v, 0);
  CHECK_INT_EQ(text_parse_int64("-17", -100, 100, &v), 0);
  CHECK_INT_EQ(v, -17);
  CHECK_INT_EQ(text_parse_int64("007", 0, 10, &v), 0);
  CHECK_INT_EQ(v, 7);
  CHECK_INT_EQ(text_parse_int64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
  CHECK(v == INT64_MAX);
  CHECK_INT_EQ(text_parse_int64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
  CHECK(v == INT64_MIN);
  v = 42;
  CHECK_INT_EQ(text_parse_int64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -1);
  CHECK_INT_EQ(text_parse_int64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -1);
  CHECK_INT_EQ(text_parse_int64("11", 0, 10, &v), -1);
  CHECK_INT_EQ(text_parse_int64("-1", 0, 10, &v), -1);
  CHECK_INT_EQ(text_parse_int64("", 0, 10, &v), -1);
  CHECK_INT_EQ(text_parse_int64("-", 0, 10, &v), -1);
  CHECK_INT_EQ(text_parse_int64("+1", 0, 10, &v), -1);
  CHECK_INT_EQ(text_parse_int64(" 1", 0, 10, &v), -1);
  CHECK_INT_EQ(text_parse_int64("1 ", 0, 10, &v), -1);
  CHECK_INT_EQ(text_parse_int64("1x", 0, 10, &v), -1);
  CHECK_INT_EQ(text_parse_int64("0x1", 0, 10, &v), -1);
  CHECK_INT_EQ(text_parse_int64("--1", -10, 10, &v), -1);
  CHECK_INT_EQ(text_parse_int64(NULL, 0, 10, &v), -1);
  CHECK_INT_EQ(v, 42); /* untouched on failure */
}

static void test_parse_double(void)
{
  double d = 0;

  CHECK_INT_EQ(text_parse_double("3.25", &d), 0);
  CHECK(d == 3.25);
  CHECK_INT_EQ(text_parse_double("-0.5", &d), 0);
  CHECK(d == -0.5);
  CHECK_INT_EQ(text_parse_double("21.0285", &d), 0);
  CHECK_INT_EQ(text_parse_double("1e3", &d), 0);
  CHECK(d == 1000.0);
  CHECK_INT_EQ(text_parse_double(".5", &d), 0);
  CHECK(d == 0.5);
  CHECK_INT_EQ(text_parse_double("105", &d), 0);
  CHECK(d == 105.0);
  d = 7;
  CHECK_INT_EQ(text_parse_double("1e999", &d), -1);
  CHECK_INT_EQ(text_parse_double("-1e999", &d), -1);
  CHECK_INT_EQ(text_parse_double("inf", &d), -1);
  CHECK_INT_EQ(text_parse_double("nan", &d), -1);
  CHECK_INT_EQ(text_parse_double("0x10", &d), -1);
  CHECK_INT_EQ(text_parse_double("", &d), -1);
  CHECK_INT_EQ(text_parse_double(" 1", &d), -1);
  CHECK_INT_EQ(text_parse_double("+1", &d), -1);
  CHECK_INT_EQ(text_parse_double("1.5x", &d), -1);
  CHECK_INT_EQ(text_parse_double("1,5", &d), -1);
  CHECK_INT_EQ(text_parse_double("-", &d), -1);
  CHECK_INT_EQ(text_parse_double(".", &d), -1);
  CHECK_INT_EQ(text_parse_double("1e", &d), -1);
  CHECK_INT_EQ(text_parse_double(NULL, &d), -1);
  CHECK(d == 7);
}

static void test_ct_equal_and_hex(void)
{
  unsigned char bytes[] = {0x00, 0x01, 0xab, 0xff, 0x7f};
  char hex[2 * sizeof bytes + 1];

  CHECK(text_ct_equal("abcdef", "abcdef", 6));
  CHECK(!text_ct_equal("abcdef", "abcdeg", 6));
  CHECK(!text_ct_equal("xbcdef", "abcdef", 6));
  CHECK(text_ct_equal("a", "b", 0));
  text_hex(bytes, sizeof bytes, hex);
  CHECK_STR_EQ(hex, "0001abff7f");
  text_hex(bytes, 0, hex);
  CHECK_STR_EQ(hex, "");
}

int main(void)
{
  test_examples();
  test_all_vietnamese_letters();
  test_utf8_validation();
  test_fold_buffer();
  test_parse_int();
  test_parse_double();
  test_ct_equal_and_hex();
  return check_summary();
}
