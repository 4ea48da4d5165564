/*
 * text.h - UTF-8 and Vietnamese text helpers.
 *
 * text_fold() turns a UTF-8 string into a search key: Vietnamese diacritics removed
 * (both precomposed letters U+00C0..U+1EF9 and combining marks U+0300..U+036F, so NFC
 * and NFD input fold alike), đ/Đ -> d, ASCII lower case, runs of white space and
 * punctuation collapsed to one space, leading/trailing space trimmed.
 * "Phường Hoàn Kiếm" -> "phuong hoan kiem"; "Yên Hoà" and "Yên Hòa" -> "yen hoa".
 * Code points it does not know are lower-cased when ASCII and copied otherwise.
 */
#ifndef CITYOS_TEXT_H
#define CITYOS_TEXT_H

#include "base/common.h"
#include "base/arena.h"

/* true when s[0..len) is well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF). */
bool text_utf8_valid(const char *s, size_t len);

/* Folds `in` into `out` (capacity outcap, always NUL-terminated when outcap > 0).
 * Returns the folded length, or -1 when `in` is not valid UTF-8 or out is too small.
 * The folded text is never longer than the input. */
long text_fold(const char *in, char *out, size_t outcap);
/* Same, into the arena; NULL when `in` is not valid UTF-8. */
char *text_fold_arena(arena_t *a, const char *in);

/* Parses a whole decimal integer (optional leading '-') within [min, max].
 * Returns 0 and sets *out, or -1 on empty input, junk, or out of range. */
int text_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Parses a whole decimal floating-point number (finite). 0 or -1. */
int text_parse_double(const char *s, double *out);

/* Constant-time comparison of two equal-length byte strings. */
bool text_ct_equal(const void *a, const void *b, size_t len);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void text_hex(const unsigned char *in, size_t n, char *out);

#endif
