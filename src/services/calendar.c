/*
 * calendar.c - holidays, overrides, working days and office hours (see calendar.h).
 *
 * Each year's days off are built on first use into a small sorted table; the tables
 * are built under a mutex and never change afterwards (overrides are set only while
 * the calendar is being built, before it is shared), so lookups need no lock once the
 * table exists.
 */
#include "base/common.h"
#include "services/calendar_internal.h"

/* snprintf for JSON paths in messages: truncation of an absurdly long path is fine. */
static void pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out, n, fmt, ap);
  va_end(ap);
}

calendar_t *calendar_new(void) {
  calendar_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->open_min = 8 * 60;
  c->close_min = 17 * 60;
  pthread_mutex_init(&c->mu, NULL);
  return c;
}

static void override_free(year_override_t *o) {
  if (!o) return;
  for (size_t i = 0; i < o->noff; i++) free(o->off[i].name);
  for (size_t i = 0; i < o->nwork; i++) free(o->work[i].name);
  json_decref(o->doc);
  free(o);
}

void calendar_free(calendar_t *c) {
  if (!c) return;
  for (int i = 0; i < CAL_YEARS; i++) {
    override_free(c->ovr[i]);
    free(c->table[i]);
  }
  pthread_mutex_destroy(&c->mu);
  free(c);
}

int calendar_set_office_hours(calendar_t *c, int open_min, int close_min) {
  if (open_min < 0 || close_min > 1440 || open_min >= close_min) return -1;
  c->open_min = open_min;
  c->close_min = close_min;
  return 0;
}

void calendar_office_hours(const calendar_t *c, int *open_min, int *close_min) {
  *open_min = c->open_min;
  *close_min = c->close_min;
}

/* --- overrides ------------------------------------------------------------------------- */

static int fail(char *why, size_t whylen, const char *path, const char *what) {
  snprintf(why, whylen, "%s%s%s", path ? path : "", path && *path ? ": " : "", what);
  return -1;
}

/* Checks a list of {"date","name"} in `year`; fills out (may be NULL) with copies. */
static int check_list(const json_t *list, int year, const char *path, named_day_t *out, size_t *nout, char *why,
                      size_t whylen) {
  char p[160];
  if (!json_is_array(list)) return fail(why, whylen, path, "must be an array");
  if (json_array_size(list) > CAL_MAX_OVERRIDE) return fail(why, whylen, path, "too many entries (at most 64)");
  size_t i;
  json_t *it;
  json_array_foreach(list, i, it) {
    pathf(p, sizeof p, "%s[%zu]", path, i);
    if (!json_is_object(it)) return fail(why, whylen, p, "must be an object {\"date\", \"name\"}");
    const char *d = json_string_value(json_object_get(it, "date"));
    const char *name = json_string_value(json_object_get(it, "name"));
    int32_t j;
    pathf(p, sizeof p, "%s[%zu].date", path, i);
    if (!d || calendar_parse_date(d, &j) < 0) return fail(why, whylen, p, "not a date YYYY-MM-DD");
    int y, m, dd;
    calendar_ymd(j, &y, &m, &dd);
    if (y != year) return fail(why, whylen, p, "outside the year");
    pathf(p, sizeof p, "%s[%zu].name", path, i);
    if (name && (strlen(name) == 0 || strlen(name) > 200)) return fail(why, whylen, p, "must be 1-200 characters");
    const json_t *src = json_object_get(it, "source");
    pathf(p, sizeof p, "%s[%zu].source", path, i);
    if (src && !json_is_string(src)) return fail(why, whylen, p, "must be a string");
    if (out) {
      out[*nout].jdn = j;
      out[*nout].name = strdup(name ? name : "");
      (*nout)++;
    }
  }
  return 0;
}

static int parse_year(const json_t *y, int expect_year, const char *path, year_override_t *o, char *why,
                      size_t whylen) {
  char p[160];
  const char *base = path ? path : "";
  if (!json_is_object(y)) return fail(why, whylen, path, "must be an object");
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)y, key, v) {
    if (strcmp(key, "year") && strcmp(key, "tet") && strcmp(key, "off") && strcmp(key, "work") &&
        strcmp(key, "note")) {
      pathf(p, sizeof p, "%s%s%s", base, *base ? "." : "", key);
      return fail(why, whylen, p, "unknown key (year, tet, off, work, note)");
    }
  }
  pathf(p, sizeof p, "%s%syear", base, *base ? "." : "");
  json_t *jy = json_object_get(y, "year");
  if (!json_is_integer(jy) || json_integer_value(jy) < CAL_MIN_YEAR || json_integer_value(jy) > CAL_MAX_YEAR)
    return fail(why, whylen, p, "must be a year 1800-2199");
  int year = (int)json_integer_value(jy);
  if (expect_year && year != expect_year) return fail(why, whylen, p, "does not match the year in the path");
  if (o) o->year = year;
  json_t *tet = json_object_get(y, "tet");
  if (tet && !json_is_null(tet)) {
    pathf(p, sizeof p, "%s%stet", base, *base ? "." : "");
    if (!json_is_object(tet)) return fail(why, whylen, p, "must be an object {\"from\", \"to\"}");
    int32_t a, b;
    pathf(p, sizeof p, "%s%stet.from", base, *base ? "." : "");
    if (calendar_parse_date(json_string_value(json_object_get(tet, "from")), &a) < 0)
      return fail(why, whylen, p, "not a date YYYY-MM-DD");
    pathf(p, sizeof p, "%s%stet.to", base, *base ? "." : "");
    if (calendar_parse_date(json_string_value(json_object_get(tet, "to")), &b) < 0)
      return fail(why, whylen, p, "not a date YYYY-MM-DD");
    if (b < a || b - a > 15) return fail(why, whylen, p, "must be 0-15 days after tet.from");
    int32_t t = calendar_tet(year);
    if (a > t + 7 || b < t - 7) return fail(why, whylen, p, "range is not around the lunar new year");
    if (o) {
      o->tet_from = a;
      o->tet_to = b;
    }
  }
  const char *lists[2] = {"off", "work"};
  for (int k = 0; k < 2; k++) {
    json_t *l = json_object_get(y, lists[k]);
    if (!l) continue;
    pathf(p, sizeof p, "%s%s%s", base, *base ? "." : "", lists[k]);
    named_day_t *dst = o ? (k == 0 ? o->off : o->work) : NULL;
    size_t *nd = o ? (k == 0 ? &o->noff : &o->nwork) : NULL;
    if (check_list(l, year, p, dst, nd, why, whylen) < 0) return -1;
  }
  json_t *note = json_object_get(y, "note");
  pathf(p, sizeof p, "%s%snote", base, *base ? "." : "");
  if (note && !json_is_string(note)) return fail(why, whylen, p, "must be a string");
  return 0;
}

int calendar_check_year(const json_t *year, int expect_year, char *why, size_t whylen) {
  return parse_year(year, expect_year, NULL, NULL, why, whylen);
}

int calendar_set_year(calendar_t *c, const json_t *year, const char *path, char *why, size_t whylen) {
  if (parse_year(year, 0, path, NULL, why, whylen) < 0) return -1;
  year_override_t *o = calloc(1, sizeof *o);
  if (!o) return fail(why, whylen, path, "out of memory");
  if (parse_year(year, 0, path, o, why, whylen) < 0) {
    override_free(o);
    return -1;
  }
  o->doc = json_deep_copy(year);
  int i = o->year - CAL_MIN_YEAR;
  pthread_mutex_lock(&c->mu);
  override_free(c->ovr[i]);
  c->ovr[i] = o;
  free(c->table[i]);
  c->table[i] = NULL;
  pthread_mutex_unlock(&c->mu);
  return 0;
}

void calendar_clear_year(calendar_t *c, int year) {
  if (year < CAL_MIN_YEAR || year > CAL_MAX_YEAR) return;
  int i = year - CAL_MIN_YEAR;
  pthread_mutex_lock(&c->mu);
  override_free(c->ovr[i]);
  c->ovr[i] = NULL;
  free(c->table[i]);
  c->table[i] = NULL;
  pthread_mutex_unlock(&c->mu);
}

json_t *calendar_year_json(const calendar_t *c, int year) {
  if (year < CAL_MIN_YEAR || year > CAL_MAX_YEAR) return NULL;
  const year_override_t *o = c->ovr[year - CAL_MIN_YEAR];
  return o ? json_deep_copy(o->doc) : NULL;
}

static int parse_hhmm(const char *s, int *out) {
  if (!s || strlen(s) != 5 || s[2] != ':') return -1;
  int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[3] < '0' || s[3] > '5' || s[4] < '0' ||
      s[4] > '9' || h > 24 || (h == 24 && m))
    return -1;
  *out = h * 60 + m;
  return 0;
}

int calendar_load_json(calendar_t *c, const json_t *doc, char *why, size_t whylen) {
  if (!json_is_object(doc)) return fail(why, whylen, "", "the document must be an object");
  json_t *oh = json_object_get(doc, "office_hours");
  if (oh) {
    int a, b;
    if (parse_hhmm(json_string_value(json_object_get(oh, "open")), &a) < 0)
      return fail(why, whylen, "office_hours.open", "not a time HH:MM");
    if (parse_hhmm(json_string_value(json_object_get(oh, "close")), &b) < 0 ||
        calendar_set_office_hours(c, a, b) < 0)
      return fail(why, whylen, "office_hours.close", "not a time HH:MM after open");
  }
  json_t *years = json_object_get(doc, "years");
  if (years && !json_is_array(years)) return fail(why, whylen, "years", "must be an array");
  size_t i;
  json_t *y;
  char p[32];
  json_array_foreach(years, i, y) {
    pathf(p, sizeof p, "years[%zu]", i);
    if (calendar_set_year(c, y, p, why, whylen) < 0) return -1;
  }
  return 0;
}

int calendar_load_file(calendar_t *c, const char *path, char *why, size_t whylen) {
  json_error_t e;
  json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
  if (!doc) {
    snprintf(why, whylen, "%s line %d column %d: %s", path, e.line, e.column, e.text);
    return -1;
  }
  int rc = calendar_load_json(c, doc, why, whylen);
  json_decref(doc);
  return rc;
}
