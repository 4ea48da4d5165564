/*
 * cccd.h - the 12-digit Vietnamese citizen identity number (Căn cước công dân).
 *
 * Digits 1-3: province code of birth registration (the 2-digit GSO code zero-padded to
 * 3; pre-2025 and post-2025 province codes are both accepted). Digit 4: century and sex
 * (0/1 1900-1999, 2/3 2000-2099, 4/5 2100-2199, 6/7 2200-2299, 8/9 1800-1899; even male,
 * odd female). Digits 5-6: the last two digits of the birth year. Digits 7-12: random.
 */
#ifndef CITYOS_CCCD_H
#define CITYOS_CCCD_H

#include "base/common.h"

typedef enum { CCCD_SEX_MALE = 0, CCCD_SEX_FEMALE = 1 } cccd_sex_t;

typedef enum {
  CCCD_OK = 0,
  CCCD_BAD_FORMAT,        /* not exactly 12 ASCII digits */
  CCCD_BAD_PROVINCE,      /* digits 1-3 are not a province code */
  CCCD_YEAR_MISMATCH,     /* digits 4-6 contradict the birth year */
  CCCD_SEX_MISMATCH,      /* digit 4 contradicts the sex */
  CCCD_BAD_BIRTH_DATE,    /* birth date not a real date, or in the future */
} cccd_status_t;

typedef struct {
  char province[4];   /* "001" */
  int birth_year;     /* 1800..2299 */
  cccd_sex_t sex;
} cccd_info_t;

/* Decodes s (must be NUL-terminated). Checks format and province only. */
cccd_status_t cccd_parse(const char *s, cccd_info_t *out);
/* Full check against a stated birth date "YYYY-MM-DD" and sex ('M'/'F' or "male"/
 * "female"); either may be NULL to skip that check. */
cccd_status_t cccd_validate(const char *s, const char *birth_date, const char *sex);
/* English message for a status (clients show it; the web translates by status). */
const char *cccd_status_message(cccd_status_t st);
/* true when "YYYY-MM-DD" is a real calendar date. Sets y/m/d when not NULL. */
bool cccd_date_valid(const char *date, int *y, int *m, int *d);

#endif
