/*
 * check.h - tiny assertion helpers for the unit tests (plain C, no framework).
 *
 * CHECK(cond), CHECK_STR_EQ(a, b), CHECK_INT_EQ(a, b) count passes and failures and
 * print file:line with the values on failure; they do not stop the test.
 * main() ends with `return check_summary();` which prints "N passed, M failed" and
 * returns 0 only when nothing failed. Include "base/common.h" before this header.
 */
#ifndef CITYOS_TEST_CHECK_H
#define CITYOS_TEST_CHECK_H

static int check_passed_count;
static int check_failed_count;

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (cond) {                                                                  \
      check_passed_count++;                                                      \
    } else {                                                                     \
      check_failed_count++;                                                      \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);   \
    }                                                                            \
  } while (0)

#define CHECK_STR_EQ(a, b)                                                       \
  do {                                                                           \
    const char *check_sa_ = (a);                                                 \
    const char *check_sb_ = (b);                                                 \
    if (check_sa_ != NULL && check_sb_ != NULL && strcmp(check_sa_, check_sb_) == 0) { \
      check_passed_count++;                                                      \
    } else {                                                                     \
      check_failed_count++;                                                      \
      fprintf(stderr, "%s:%d: CHECK_STR_EQ(%s, %s) failed: \"%s\" != \"%s\"\n",  \
              __FILE__, __LINE__, #a, #b, check_sa_ ? check_sa_ : "(null)",      \
              check_sb_ ? check_sb_ : "(null)");                                 \
    }                                                                            \
  } while (0)

#define CHECK_INT_EQ(a, b)                                                       \
  do {                                                                           \
    long long check_ia_ = (long long)(a);                                        \
    long long check_ib_ = (long long)(b);                                        \
    if (check_ia_ == check_ib_) {                                                \
      check_passed_count++;                                                      \
    } else {                                                                     \
      check_failed_count++;                                                      \
      fprintf(stderr, "%s:%d: CHECK_INT_EQ(%s, %s) failed: %lld != %lld\n",      \
              __FILE__, __LINE__, #a, #b, check_ia_, check_ib_);                 \
    }                                                                            \
  } while (0)

static inline int check_summary(void)
{
  printf("%d passed, %d failed\n", check_passed_count, check_failed_count);
  return check_failed_count == 0 ? 0 : 1;
}

#endif
