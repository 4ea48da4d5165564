/*
 * calendar_days.c - one year's days off from the Labour Code rule plus overrides, and
 * the working-day arithmetic built on them (see calendar.h).
 */
#include "base/common.h"
#include "services/calendar_internal.h"

static bool is_weekend(int32_t j) { return calendar_weekday(j) >= 5; }

static calendar_day_t *find(year_table_t *t, int32_t j) {
  for (size_t i = 0; i < t->n; i++)
    if (t->days[i].jdn == j) return &t->days[i];
  return NULL;
}

/* Sets jdn's entry (replacing the name of an existing one). */
static void put(year_table_t *t, int32_t j, const char *name, bool working) {
  calendar_day_t *d = find(t, j);
  if (!d) {
    if (t->n >= CAL_MAX_DAYS) return;
    d = &t->days[t->n++];
    d->jdn = j;
  }
  d->name = name;
  d->working = working;
}

static int cmp_day(const void *a, const void *b) {
  const calendar_day_t *x = a, *y = b;
  return (x->jdn > y->jdn) - (x->jdn < y->jdn);
}

static bool in_table_off(year_table_t *t, int32_t j) {
  calendar_day_t *d = find(t, j);
  return d && !d->working;
}

/* The Labour Code days, then compensation for those on a weekend, then overrides. */
static void build_year(const year_override_t *o, int year, year_table_t *t) {
  t->n = 0;
  typedef struct {
    int32_t j;
    const char *name;
  } hol_t;
  hol_t h[16];
  size_t nh = 0;
  h[nh++] = (hol_t){calendar_jdn(year, 1, 1), "Tết Dương lịch"};
  if (!(o && o->tet_from)) {
    int32_t tet = calendar_tet(year);
    for (int i = -1; i <= 3; i++) h[nh++] = (hol_t){tet + i, "Tết Nguyên đán"};
  }
  h[nh++] = (hol_t){calendar_hung_kings(year), "Giỗ Tổ Hùng Vương"};
  h[nh++] = (hol_t){calendar_jdn(year, 4, 30), "Ngày Chiến thắng"};
  h[nh++] = (hol_t){calendar_jdn(year, 5, 1), "Ngày Quốc tế Lao động"};
  int32_t sep2 = calendar_jdn(year, 9, 2);
  int wd = calendar_weekday(sep2);
  h[nh++] = (hol_t){sep2, "Quốc khánh"};
  h[nh++] = (hol_t){(wd == 1 || wd == 4 || wd == 5) ? sep2 - 1 : sep2 + 1, "Quốc khánh (ngày liền kề)"};
  for (size_t i = 0; i < nh; i++)
    if (!in_table_off(t, h[i].j)) put(t, h[i].j, h[i].name, false);
  qsort(t->days, t->n, sizeof t->days[0], cmp_day);
  /* Compensation: per block of consecutive days off (holidays and weekends), one
   * working day after the block for each holiday in it that fell on a weekend. */
  size_t nhol = t->n;
  int32_t hol_days[CAL_MAX_DAYS];
  for (size_t i = 0; i < nhol; i++) hol_days[i] = t->days[i].jdn;
  int32_t last_end = INT32_MIN;
  for (size_t i = 0; i < nhol; i++) {
    if (hol_days[i] <= last_end) continue;
    int32_t s = hol_days[i];
    while (is_weekend(s - 1) || in_table_off(t, s - 1)) s--;
    int32_t e = s;
    int owed = 0;
    for (;;) {
      bool hol = false;
      for (size_t k = 0; k < nhol; k++)
        if (hol_days[k] == e) hol = true;
      if (hol && is_weekend(e)) owed++;
      if (!(is_weekend(e + 1) || in_table_off(t, e + 1))) break;
      e++;
    }
    last_end = e;
    for (int32_t j = e + 1; owed > 0; j++) {
      if (is_weekend(j) || in_table_off(t, j)) continue;
      put(t, j, "Nghỉ bù", false);
      owed--;
      last_end = j;
    }
  }
  if (o) {
    if (o->tet_from)
      for (int32_t j = o->tet_from; j <= o->tet_to; j++) put(t, j, "Tết Nguyên đán", false);
    for (size_t i = 0; i < o->noff; i++)
      put(t, o->off[i].jdn, *o->off[i].name ? o->off[i].name : "Ngày nghỉ", false);
    for (size_t i = 0; i < o->nwork; i++)
      put(t, o->work[i].jdn, *o->work[i].name ? o->work[i].name : "Ngày làm việc", true);
  }
  qsort(t->days, t->n, sizeof t->days[0], cmp_day);
}

static const year_table_t *year_table(const calendar_t *cc, int year) {
  calendar_t *c = (calendar_t *)cc;
  if (year < CAL_MIN_YEAR || year > CAL_MAX_YEAR) return NULL;
  int i = year - CAL_MIN_YEAR;
  pthread_mutex_lock(&c->mu);
  if (!c->table[i]) {
    year_table_t *t = calloc(1, sizeof *t);
    if (t) build_year(c->ovr[i], year, t);
    c->table[i] = t;
  }
  const year_table_t *t = c->table[i];
  pthread_mutex_unlock(&c->mu);
  return t;
}

bool calendar_day_info(const calendar_t *c, int32_t jdn, calendar_day_t *out) {
  int y, m, d;
  calendar_ymd(jdn, &y, &m, &d);
  const year_table_t *t = year_table(c, y);
  if (t)
    for (size_t i = 0; i < t->n; i++)
      if (t->days[i].jdn == jdn) {
        *out = t->days[i];
        return true;
      }
  if (is_weekend(jdn)) {
    *out = (calendar_day_t){jdn, calendar_weekday(jdn) == 5 ? "Thứ Bảy" : "Chủ nhật", false};
    return true;
  }
  return false;
}

bool calendar_is_working_day(const calendar_t *c, int32_t jdn) {
  calendar_day_t d;
  if (!calendar_day_info(c, jdn, &d)) return true;
  return d.working;
}

size_t calendar_days_off(const calendar_t *c, int year, calendar_day_t *out, size_t max) {
  const year_table_t *t = year_table(c, year);
  size_t n = 0;
  if (!t) return 0;
  for (size_t i = 0; i < t->n; i++) {
    if (t->days[i].working) continue;
    if (n < max) out[n] = t->days[i];
    n++;
  }
  return n;
}

int32_t calendar_add_working_days(const calendar_t *c, int32_t jdn, int n) {
  int32_t j = jdn;
  int guard = 0;
  while (!calendar_is_working_day(c, j) && guard++ < 400) j++;
  while (n > 0 && guard++ < 100000) {
    j++;
    if (calendar_is_working_day(c, j)) n--;
  }
  return j;
}

int calendar_working_days_between(const calendar_t *c, int32_t from, int32_t to) {
  int n = 0;
  for (int32_t j = from + 1; j <= to; j++)
    if (calendar_is_working_day(c, j)) n++;
  return n;
}

int64_t calendar_effective_start(const calendar_t *c, int64_t t_ms) {
  int32_t j = calendar_jdn_of_ms(t_ms);
  int min = calendar_minute_of_ms(t_ms);
  if (calendar_is_working_day(c, j)) {
    if (min < c->open_min) return calendar_ms_of(j, c->open_min);
    if (min < c->close_min) return t_ms;
  }
  return calendar_ms_of(calendar_add_working_days(c, j + 1, 0), c->open_min);
}

int64_t calendar_due(const calendar_t *c, int64_t t_ms, int days) {
  int64_t s = calendar_effective_start(c, t_ms);
  int32_t j = calendar_add_working_days(c, calendar_jdn_of_ms(s), days < 0 ? 0 : days);
  return calendar_ms_of(j, c->close_min);
}

int64_t calendar_due_minutes(const calendar_t *c, int64_t t_ms, int64_t minutes) {
  int64_t s = calendar_effective_start(c, t_ms);
  int32_t start = calendar_jdn_of_ms(s);
  int64_t len = c->close_min - c->open_min;
  if (minutes <= 0 || len <= 0) return calendar_ms_of(start, c->close_min);
  int64_t whole = minutes / len, rest = minutes % len;
  if (whole > 100000) whole = 100000;   /* ~400 years: beyond any deadline */
  if (!rest) return calendar_ms_of(calendar_add_working_days(c, start, (int)whole), c->close_min);
  return calendar_ms_of(calendar_add_working_days(c, start, (int)whole + 1), c->open_min + (int)rest);
}
