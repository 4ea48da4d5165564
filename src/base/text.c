#include "base/common.h"

#include <math.h>

#include "base/text.h"

/*
 * text.c - UTF-8 validation, Vietnamese folding, number parsing, hex.
 *
 * text_fold() runs once per row in searches, so it allocates nothing and decides
 * what to do with each code point by table look-up:
 *   - ASCII: a 128-byte table (letters lower-cased, digits kept, everything else is a
 *     separator: white space, punctuation and symbols all collapse to one space);
 *   - other code points: a sorted table of code point ranges (binary search); a range
 *     either applies one action to all its code points or points to a per-code-point
 *     map string. Code points in no range are copied unchanged.
 * Map string characters: a letter or digit is the ASCII replacement, '*' copy,
 * ' ' separator, '-' drop (combining and invisible format marks), '+' lower-case by
 * adding 0x20 (Latin-1), '>' lower-case by adding 1 (Latin Extended-A pairs).
 * Every replacement is ASCII or encodes in as many bytes as the original, so the
 * output is never longer than the input. The maps were generated from the Unicode
 * canonical decompositions (the base letter of each precomposed letter), plus the
 * letters with a stroke or bar that have no decomposition (đ Đ Ð ð Ø ø Ł ł Ħ ħ Ŧ ŧ ƀ Ɖ).
 */

#define TEXT_SEP 0xFFFFFFFEu
#define TEXT_DROP 0xFFFFFFFFu

static const char text_ascii_fold[129] =
    "                " /* 00 */
    "                " /* 10 */
    "                " /* 20 */
    "0123456789      " /* 30 */
    " abcdefghijklmno" /* 40 */
    "pqrstuvwxyz     " /* 50 */
    " abcdefghijklmno" /* 60 */
    "pqrstuvwxyz     "; /* 70 */

/* U+0080..U+00BF: C1 controls, Latin-1 punctuation and symbols. */
static const char text_map_0080[65] =
    "                " /* 0080 */
    "                " /* 0090 */
    "          a  -  " /* 00A0: NBSP ... ª, soft hyphen dropped */
    "  23 *   1o *** "; /* 00B0: ² ³ µ ¹ º ¼ ½ ¾ */

/* U+00C0..U+024F: Latin-1 letters, Latin Extended-A and B (ơ Ơ ư Ư at 01A0/01AF). */
static const char text_map_00c0[401] =
    "aaaaaa+ceeeeiiii" /* 00C0 */
    "dnooooo ouuuuy+*" /* 00D0 */
    "aaaaaa*ceeeeiiii" /* 00E0 */
    "dnooooo ouuuuy*y" /* 00F0 */
    "aaaaaaccccccccdd" /* 0100 */
    "ddeeeeeeeeeegggg" /* 0110 */
    "gggghhhhiiiiiiii" /* 0120 */
    "ii>*jjkk*lllllll" /* 0130 */
    "lllnnnnnnn>*oooo" /* 0140 */
    "oo>*rrrrrrssssss" /* 0150 */
    "ssttttttuuuuuuuu" /* 0160 */
    "uuuuwwyyyzzzzzzs" /* 0170 */
    "b********d******" /* 0180 */
    "****************" /* 0190 */
    "oo*************u" /* 01A0 */
    "u***************" /* 01B0 */
    "*************aai" /* 01C0 */
    "ioouuuuuuuuuu*aa" /* 01D0 */
    "aa****ggkkoooo**" /* 01E0 */
    "j***gg**nnaa****" /* 01F0 */
    "aaaaeeeeiiiioooo" /* 0200 */
    "rrrruuuusstt**hh" /* 0210 */
    "******aaeeoooooo" /* 0220 */
    "ooyy************" /* 0230 */
    "****************"; /* 0240 */

/* U+1E00..U+1EFF: Latin Extended Additional (Vietnamese at U+1EA0..U+1EF9). */
static const char text_map_1e00[257] =
    "aabbbbbbccdddddd" /* 1E00 */
    "ddddeeeeeeeeeeff" /* 1E10 */
    "gghhhhhhhhhhiiii" /* 1E20 */
    "kkkkkkllllllllmm" /* 1E30 */
    "mmmmnnnnnnnnoooo" /* 1E40 */
    "oooopppprrrrrrrr" /* 1E50 */
    "sssssssssstttttt" /* 1E60 */
    "ttuuuuuuuuuuvvvv" /* 1E70 */
    "wwwwwwwwwwxxxxyy" /* 1E80 */
    "zzzzzzhtwy******" /* 1E90 */
    "aaaaaaaaaaaaaaaa" /* 1EA0 */
    "aaaaaaaaeeeeeeee" /* 1EB0 */
    "eeeeeeeeiiiioooo" /* 1EC0 */
    "oooooooooooooooo" /* 1ED0 */
    "oooouuuuuuuuuuuu" /* 1EE0 */
    "uuyyyyyyyy******"; /* 1EF0 */

typedef struct {
  uint32_t lo, hi;
  const char *map; /* per code point, or NULL: `action` for the whole range */
  char action;
} text_range_t;

/* Sorted by lo, not overlapping. */
static const text_range_t text_ranges[] = {
    {0x0080, 0x00BF, text_map_0080, 0},
    {0x00C0, 0x024F, text_map_00c0, 0},
    {0x0300, 0x036F, NULL, '-'},  /* combining diacritical marks: NFD folds like NFC */
    {0x1680, 0x1680, NULL, ' '},  /* ogham space */
    {0x1AB0, 0x1AFF, NULL, '-'},  /* combining diacritical marks extended */
    {0x1DC0, 0x1DFF, NULL, '-'},  /* combining diacritical marks supplement */
    {0x1E00, 0x1EFF, text_map_1e00, 0},
    {0x2000, 0x200A, NULL, ' '},  /* spaces */
    {0x200B, 0x200F, NULL, '-'},  /* zero-width space/joiners, LRM, RLM */
    {0x2010, 0x2029, NULL, ' '},  /* dashes, quotes, bullets, line/paragraph separators */
    {0x202A, 0x202E, NULL, '-'},  /* bidi embeddings */
    {0x202F, 0x205F, NULL, ' '},  /* narrow NBSP, punctuation, medium math space */
    {0x2060, 0x206F, NULL, '-'},  /* word joiner, invisible operators, bidi isolates */
    {0x20D0, 0x20FF, NULL, '-'},  /* combining marks for symbols */
    {0x3000, 0x3003, NULL, ' '},  /* ideographic space, comma, full stop */
    {0xFE20, 0xFE2F, NULL, '-'},  /* combining half marks */
    {0xFEFF, 0xFEFF, NULL, '-'},  /* byte order mark */
};

_Static_assert(sizeof(text_ascii_fold) == 129, "ASCII fold table size");
_Static_assert(sizeof(text_map_0080) == 0x00BF - 0x0080 + 2, "map 0080 size");
_Static_assert(sizeof(text_map_00c0) == 0x024F - 0x00C0 + 2, "map 00C0 size");
_Static_assert(sizeof(text_map_1e00) == 0x1EFF - 0x1E00 + 2, "map 1E00 size");

/* Decodes one code point from s[0..n) (n >= 1). Returns its length in bytes, or 0 when
 * the sequence is malformed (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
static size_t text_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
  unsigned char b0 = s[0];
  unsigned char lo = 0x80, hi = 0xBF;
  size_t len;
  uint32_t v;

  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    v = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    v = b0 & 0x0Fu;
    if (b0 == 0xE0)
      lo = 0xA0; /* overlong */
    else if (b0 == 0xED)
      hi = 0x9F; /* surrogates U+D800..U+DFFF */
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    v = b0 & 0x07u;
    if (b0 == 0xF0)
      lo = 0x90; /* overlong */
    else if (b0 == 0xF4)
      hi = 0x8F; /* > U+10FFFF */
  } else {
    return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
  }
  if (n < len)
    return 0;
  if (s[1] < lo || s[1] > hi)
    return 0;
  v = (v << 6) | (s[1] & 0x3Fu);
  for (size_t i = 2; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    v = (v << 6) | (s[i] & 0x3Fu);
  }
  *cp = v;
  return len;
}

static size_t text_utf8_encode(uint32_t cp, char *out)
{
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

bool text_utf8_valid(const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  uint32_t cp;

  if (s == NULL)
    return len == 0;
  while (i < len) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t n = text_utf8_decode(p + i, len - i, &cp);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

static uint32_t text_apply(char action, uint32_t cp)
{
  switch (action) {
  case '*':
    return cp;
  case ' ':
    return TEXT_SEP;
  case '-':
    return TEXT_DROP;
  case '+':
    return cp + 0x20;
  case '>':
    return cp + 1;
  default:
    return (unsigned char)action;
  }
}

/* What a non-ASCII code point folds to: a code point, TEXT_SEP or TEXT_DROP. */
static uint32_t text_fold_cp(uint32_t cp)
{
  size_t lo = 0, hi = ARRAY_LEN(text_ranges);

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const text_range_t *r = &text_ranges[mid];
    if (cp < r->lo) {
      hi = mid;
    } else if (cp > r->hi) {
      lo = mid + 1;
    } else {
      return text_apply(r->map ? r->map[cp - r->lo] : r->action, cp);
    }
  }
  return cp;
}

long text_fold(const char *in, char *out, size_t outcap)
{
  const unsigned char *s = (const unsigned char *)in;
  size_t n, i = 0, o = 0;
  bool pending_space = false;
  char enc[4];

  if (out == NULL || outcap == 0)
    return -1;
  out[0] = '\0';
  if (in == NULL)
    return -1;
  n = strlen(in);
  while (i < n) {
    size_t elen;

    if (s[i] < 0x80) {
      char c = text_ascii_fold[s[i]];
      i++;
      if (c == ' ') {
        pending_space = true;
        continue;
      }
      enc[0] = c;
      elen = 1;
    } else {
      uint32_t cp, r;
      size_t len = text_utf8_decode(s + i, n - i, &cp);
      if (len == 0)
        goto fail;
      i += len;
      r = text_fold_cp(cp);
      if (r == TEXT_DROP)
        continue;
      if (r == TEXT_SEP) {
        pending_space = true;
        continue;
      }
      elen = text_utf8_encode(r, enc);
    }
    if (pending_space && o > 0) {
      if (o + 1 >= outcap)
        goto fail;
      out[o++] = ' ';
    }
    pending_space = false;
    if (o + elen >= outcap)
      goto fail;
    memcpy(out + o, enc, elen);
    o += elen;
  }
  out[o] = '\0';
  return (long)o;

fail:
  out[0] = '\0';
  return -1;
}

char *text_fold_arena(arena_t *a, const char *in)
{
  size_t n;
  char *out;

  if (in == NULL)
    return NULL;
  n = strlen(in);
  out = arena_alloc(a, n + 1);
  if (text_fold(in, out, n + 1) < 0)
    return NULL;
  return out;
}

int text_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
  const char *digits;
  char *end = NULL;
  long long v;

  if (s == NULL || out == NULL)
    return -1;
  digits = s[0] == '-' ? s + 1 : s;
  if (*digits < '0' || *digits > '9') /* no empty, "-", "+1", " 1" */
    return -1;
  errno = 0;
  v = strtoll(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0')
    return -1;
  if (v < min || v > max)
    return -1;
  *out = (int64_t)v;
  return 0;
}

int text_parse_double(const char *s, double *out)
{
  char *end = NULL;
  double v;

  if (s == NULL || out == NULL || s[0] == '\0')
    return -1;
  /* Plain decimal only: strtod would also take white space, '+', hex, inf and nan. */
  if (!(s[0] == '-' || s[0] == '.' || (s[0] >= '0' && s[0] <= '9')))
    return -1;
  for (const char *p = s; *p; p++) {
    char c = *p;
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' ||
          c == 'E'))
      return -1;
  }
  errno = 0;
  v = strtod(s, &end); /* the process runs in the "C" locale: '.' is the decimal point */
  if (end == s || *end != '\0')
    return -1;
  if (!isfinite(v)) /* overflow (ERANGE with HUGE_VAL); underflow to 0 is accepted */
    return -1;
  *out = v;
  return 0;
}

bool text_ct_equal(const void *a, const void *b, size_t len)
{
  const volatile unsigned char *x = a;
  const volatile unsigned char *y = b;
  unsigned char diff = 0;

  for (size_t i = 0; i < len; i++)
    diff |= (unsigned char)(x[i] ^ y[i]);
  return diff == 0;
}

void text_hex(const unsigned char *in, size_t n, char *out)
{
  static const char digits[] = "0123456789abcdef";

  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 0x0F];
  }
  out[2 * n] = '\0';
}
