/*
 * services_calendar_api.c - the /api/v1/calendar routes and `cityos calendar`.
 */
#include "base/common.h"
#include "services/services_internal.h"
#include "services/calendar_store.h"
#include "audit/audit.h"
#include "base/log.h"
#include "base/text.h"
#include "http/auth.h"

calendar_t *services_calendar(http_req_t *req, db_t *db) {
  app_t *app = req->app;
  char why[256];
  calendar_t *c = calendar_store_load(db, app->cfg->data_dir, why, sizeof why);
  if (!c) {
    log_error(req->request_id, "msg=\"calendar load failed\" why=\"%s\"", why);
    http_reply_error(req, ERR_INTERNAL, NULL);
  }
  return c;
}

/* "YYYY-MM-DD" (opening of that day counts as the start) or "YYYY-MM-DDTHH:MM[:SS]"
 * in Vietnam time. -1 when malformed. */
static int parse_start(const calendar_t *c, const char *s, int64_t *out) {
  char date[11];
  int32_t j;
  if (!s || strlen(s) < 10) return -1;
  memcpy(date, s, 10);
  date[10] = 0;
  if (calendar_parse_date(date, &j) < 0) return -1;
  int open_min, close_min;
  calendar_office_hours(c, &open_min, &close_min);
  if (s[10] == 0) {
    *out = calendar_ms_of(j, open_min);
    return 0;
  }
  const char *t = s + 10;
  size_t n = strlen(t);
  if ((n != 6 && n != 9) || t[0] != 'T' || t[3] != ':' || (n == 9 && t[6] != ':')) return -1;
  for (size_t i = 1; i < n; i++)
    if (i != 3 && i != 6 && (t[i] < '0' || t[i] > '9')) return -1;
  int h = (t[1] - '0') * 10 + (t[2] - '0'), m = (t[4] - '0') * 10 + (t[5] - '0');
  int sec = n == 9 ? (t[7] - '0') * 10 + (t[8] - '0') : 0;
  if (h > 23 || m > 59 || sec > 59) return -1;
  *out = calendar_ms_of(j, h * 60 + m) + sec * 1000;
  return 0;
}

static json_t *day_list(const calendar_day_t *d, size_t n) {
  json_t *a = json_array();
  char buf[16];
  for (size_t i = 0; i < n; i++) {
    calendar_format_date(d[i].jdn, buf, sizeof buf);
    json_array_append_new(a, json_pack("{s:s, s:s}", "date", buf, "name", d[i].name));
  }
  return a;
}

static json_t *year_json(const calendar_t *c, int year, json_t *stored) {
  calendar_day_t days[128];
  size_t n = calendar_days_off(c, year, days, ARRAY_LEN(days));
  if (n > ARRAY_LEN(days)) n = ARRAY_LEN(days);
  json_t *work = json_array();
  char buf[16];
  for (int32_t j = calendar_jdn(year, 1, 1); j < calendar_jdn(year + 1, 1, 1); j++) {
    calendar_day_t d;
    if (calendar_day_info(c, j, &d) && d.working) {
      calendar_format_date(j, buf, sizeof buf);
      json_array_append_new(work, json_pack("{s:s, s:s}", "date", buf, "name", d.name));
    }
  }
  int open_min, close_min;
  calendar_office_hours(c, &open_min, &close_min);
  char tet[16], hung[16], oh[24], ch[24];
  calendar_format_date(calendar_tet(year), tet, sizeof tet);
  calendar_format_date(calendar_hung_kings(year), hung, sizeof hung);
  snprintf(oh, sizeof oh, "%02d:%02d", open_min / 60, open_min % 60);
  snprintf(ch, sizeof ch, "%02d:%02d", close_min / 60, close_min % 60);
  json_t *effective = calendar_year_json(c, year);
  return json_pack("{s:i, s:s, s:s, s:{s:s, s:s}, s:o, s:o, s:o, s:o, s:s?}", "year", year, "tet", tet,
                   "hung_kings", hung, "office_hours", "open", oh, "close", ch, "days_off", day_list(days, n),
                   "working_days", work, "overrides", effective ? effective : json_null(), "stored",
                   stored ? json_incref(stored) : json_null(), "overrides_source",
                   stored ? "database" : (effective ? "file" : NULL));
}

static int req_year(http_req_t *req, int *year) {
  int64_t y;
  if (text_parse_int64(http_param(req, "year"), 1900, 2199, &y) < 0) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "year"),
                            "The year must be a number 1900-2199");
    return -1;
  }
  *year = (int)y;
  return 0;
}

void services_calendar_get(http_req_t *req) {
  app_t *app = req->app;
  int year;
  if (req_year(req, &year) < 0) return;
  db_t *db = db_pool_acquire(app->db);
  calendar_t *c = NULL;
  json_t *stored = NULL;
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  if (!(c = services_calendar(req, db))) goto done;
  if (calendar_store_get(db, year, &stored) < 0) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  http_add_header(req, "Cache-Control", "no-cache");
  http_reply_json(req, 200, year_json(c, year, stored));
done:
  json_decref(stored);
  calendar_free(c);
  db_pool_release(app->db, db);
}

void services_calendar_put(http_req_t *req) {
  app_t *app = req->app;
  int year;
  if (req_year(req, &year) < 0) return;
  json_t *body = http_body_object(req);
  if (!body) return;
  if (!json_object_get(body, "year")) json_object_set_new(body, "year", json_integer(year));
  char why[256];
  if (calendar_check_year(body, year, why, sizeof why) < 0) {
    char field[64];
    size_t k = strcspn(why, ":");
    snprintf(field, sizeof field, "%.*s", (int)(k < 60 ? k : 60), why);
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", field), "%s", why);
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  calendar_t *c = NULL;
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  const principal_t *p = req->principal;
  char rid[8];
  snprintf(rid, sizeof rid, "%d", year);
  audit_entry_t e = audit_entry_from_req(req, "calendar.update", "calendar_year", rid);
  e.detail = audit_detail(req->arena, json_deep_copy(body));
  if (db_begin(db) || calendar_store_put(db, year, body, p ? p->account_id : 0) || audit_append(db, &e) ||
      db_commit(db)) {
    log_error(req->request_id, "msg=\"calendar put failed\" err=\"%s\"", db_errmsg(db));
    db_rollback(db);
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  if (!(c = services_calendar(req, db))) goto done;
  http_reply_json(req, 200, year_json(c, year, body));
done:
  calendar_free(c);
  db_pool_release(app->db, db);
}

void services_calendar_due(http_req_t *req) {
  app_t *app = req->app;
  int64_t days;
  if (text_parse_int64(http_query(req, "days"), 0, 3650, &days) < 0) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "days"),
                            "days must be a whole number 0-3650");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  calendar_t *c = NULL;
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  if (!(c = services_calendar(req, db))) goto done;
  int64_t start;
  const char *s = http_query(req, "start");
  if (!s) {
    start = clock_now_ms();
  } else if (parse_start(c, s, &start) < 0) {
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "start"),
                            "start must be YYYY-MM-DD or YYYY-MM-DDTHH:MM (Vietnam time)");
    goto done;
  }
  int64_t eff = calendar_effective_start(c, start), due = calendar_due(c, start, (int)days);
  char a[40], b[40], d[16];
  clock_format_iso(eff, a, sizeof a);
  clock_format_iso(due, b, sizeof b);
  calendar_format_date(calendar_jdn_of_ms(due), d, sizeof d);
  http_reply_json(req, 200, json_pack("{s:I, s:s, s:s, s:s}", "days", (json_int_t)days, "effective_start", a,
                                      "due", b, "due_date", d));
done:
  calendar_free(c);
  db_pool_release(app->db, db);
}

/* --- cityos calendar ------------------------------------------------------------------ */

int services_cli_calendar(app_t *app, int argc, char **argv) {
  if (cli_wants_help(argc, argv) || argc < 2) {
    printf("Usage:\n"
           "  cityos calendar holidays YEAR     that year's days off: ISO date and name, one per line\n"
           "                                   (weekends only when a holiday or override names them)\n"
           "  cityos calendar due START DAYS    the due date of DAYS working days from START\n"
           "                                   (YYYY-MM-DD, or YYYY-MM-DDTHH:MM in Vietnam time)\n"
           "The calendar is the Labour Code rule + data/calendar/overrides.json + the years\n"
           "stored through PUT /api/v1/calendar/{year}.\n");
    return argc < 2 && !cli_wants_help(argc, argv) ? 2 : 0;
  }
  char why[256];
  db_t *db = db_pool_acquire(app->db);
  calendar_t *c = db ? calendar_store_load(db, app->cfg->data_dir, why, sizeof why) : NULL;
  int rc = 1;
  if (!c) {
    fprintf(stderr, "cityos calendar: %s\n", db ? why : "no database connection");
    goto done;
  }
  if (strcmp(argv[1], "holidays") == 0 && argc == 3) {
    int64_t y;
    if (text_parse_int64(argv[2], 1900, 2199, &y) < 0) {
      fprintf(stderr, "cityos calendar holidays: YEAR must be 1900-2199\n");
      rc = 2;
      goto done;
    }
    calendar_day_t days[128];
    size_t n = calendar_days_off(c, (int)y, days, ARRAY_LEN(days));
    char d[16];
    for (size_t i = 0; i < n && i < ARRAY_LEN(days); i++) {
      calendar_format_date(days[i].jdn, d, sizeof d);
      printf("%s %s\n", d, days[i].name);
    }
    rc = 0;
  } else if (strcmp(argv[1], "due") == 0 && argc == 4) {
    int64_t start, days;
    if (parse_start(c, argv[2], &start) < 0 || text_parse_int64(argv[3], 0, 3650, &days) < 0) {
      fprintf(stderr, "cityos calendar due: START is YYYY-MM-DD[THH:MM], DAYS 0-3650\n");
      rc = 2;
      goto done;
    }
    char d[16];
    calendar_format_date(calendar_jdn_of_ms(calendar_due(c, start, (int)days)), d, sizeof d);
    printf("%s\n", d);
    rc = 0;
  } else {
    fprintf(stderr, "cityos calendar: expected 'holidays YEAR' or 'due START DAYS'\n");
    rc = 2;
  }
done:
  calendar_free(c);
  db_pool_release(app->db, db);
  return rc;
}
