#include "base/common.h"
#include "reports/reports.h"
#include "reports/reports_internal.h"
#include "base/log.h"
#include "base/text.h"
#include "base/json.h"
#include "units/units.h"

#include <sodium.h>

/*
 * Shared services of the reports module: statuses, request fields (form or JSON),
 * categories, events, the notification outbox, photos, routing and times.
 */

static const char *const REPORTS_STATUSES[] = {"open", "acknowledged", "in_progress", "resolved", "closed", "duplicate"};

bool reports_status_valid(const char *s) {
  for (size_t i = 0; s && i < ARRAY_LEN(REPORTS_STATUSES); i++)
    if (strcmp(s, REPORTS_STATUSES[i]) == 0) return true;
  return false;
}

const char *reports_status_open311(const char *s) {
  return (strcmp(s, "resolved") == 0 || strcmp(s, "closed") == 0 || strcmp(s, "duplicate") == 0) ? "closed" : "open";
}

/* --- fields ----------------------------------------------------------------------- */

#define REPORTS_FIELDS_MAX 256

static reports_field_t *fields_push(arena_t *a, reports_fields_t *fs) {
  if (fs->n >= REPORTS_FIELDS_MAX) return NULL;
  if (fs->n == 0) fs->f = arena_alloc(a, REPORTS_FIELDS_MAX * sizeof *fs->f);
  reports_field_t *f = &fs->f[fs->n++];
  memset(f, 0, sizeof *f);
  return f;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes one urlencoded token ('+' is a space); NULL on a bad escape. */
static char *form_decode(arena_t *a, const char *s, size_t n, size_t *outlen) {
  char *o = arena_alloc(a, n + 1);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '+') {
      o[k++] = ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= n) return NULL;
      int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
      if (h < 0 || l < 0) return NULL;
      o[k++] = (char)(h * 16 + l);
      i += 2;
    } else {
      o[k++] = s[i];
    }
  }
  o[k] = '\0';
  *outlen = k;
  return o;
}

int reports_form_parse(arena_t *a, const char *body, size_t len, reports_fields_t *out) {
  size_t i = 0;
  while (i < len) {
    size_t end = i;
    while (end < len && body[end] != '&') end++;
    if (end > i) {
      size_t eq = i;
      while (eq < end && body[eq] != '=') eq++;
      size_t nl = 0, vl = 0;
      char *name = form_decode(a, body + i, eq - i, &nl);
      char *val = eq < end ? form_decode(a, body + eq + 1, end - eq - 1, &vl) : arena_strdup(a, "");
      if (!name || !val || strlen(name) != nl) return -1;
      reports_field_t *f = fields_push(a, out);
      if (!f) return -1;
      f->name = name;
      f->value = val;
      f->len = vl;
    }
    i = end + 1;
  }
  return 0;
}

static int json_scalar_text(arena_t *a, const json_t *v, const char **out) {
  if (json_is_string(v)) *out = arena_strdup(a, json_string_value(v));
  else if (json_is_integer(v)) *out = arena_printf(a, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
  else if (json_is_real(v)) *out = arena_printf(a, "%.10g", json_real_value(v));
  else if (json_is_boolean(v)) *out = json_is_true(v) ? "true" : "false";
  else return -1;
  return 0;
}

static int fields_from_json(arena_t *a, const json_t *obj, reports_fields_t *out, const char **why) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    if (strcmp(key, "attributes") == 0 && json_is_object(v)) {
      const char *ak;
      json_t *av;
      json_object_foreach(v, ak, av) {
        if (json_is_array(av)) {
          size_t i;
          json_t *e;
          json_array_foreach(av, i, e) {
            reports_field_t *f = fields_push(a, out);
            if (!f || json_scalar_text(a, e, &f->value)) goto bad;
            f->name = arena_printf(a, "attribute[%s][]", ak);
            f->len = strlen(f->value);
          }
        } else {
          reports_field_t *f = fields_push(a, out);
          if (!f || json_scalar_text(a, av, &f->value)) goto bad;
          f->name = arena_printf(a, "attribute[%s]", ak);
          f->len = strlen(f->value);
        }
      }
      continue;
    }
    if (json_is_null(v) || json_is_object(v) || json_is_array(v)) continue; /* unknown shapes ignored */
    reports_field_t *f = fields_push(a, out);
    if (!f) goto bad;
    json_scalar_text(a, v, &f->value);
    f->name = arena_strdup(a, key);
    f->len = strlen(f->value);
  }
  return 0;
bad:
  *why = "attributes must be scalars or lists of scalars (at most 256 fields)";
  return -1;
}

int reports_fields_read(http_req_t *req, reports_fields_t *out, const char **why) {
  memset(out, 0, sizeof *out);
  if (!req->body || req->body_len == 0) return 0;
  const char *ct = http_header(req, "Content-Type");
  size_t ctlen = ct ? strcspn(ct, "; \t") : 0;
  if (ct && ctlen == 16 && strncasecmp(ct, "application/json", 16) == 0) {
    char reason[160] = "";
    json_t *o = json_parse_limited(req->body, req->body_len, 16, reason, sizeof reason);
    if (!o || !json_is_object(o)) {
      if (o) json_decref(o);
      *why = arena_printf(req->arena, "The body is not a JSON object%s%s", *reason ? ": " : "", reason);
      return -1;
    }
    json_arena_own(req->arena, o);
    return fields_from_json(req->arena, o, out, why);
  }
  if (ct && ctlen == 19 && strncasecmp(ct, "multipart/form-data", 19) == 0) {
    const http_form_field_t *ff = NULL;
    size_t n = http_form_fields(req, &ff);
    for (size_t i = 0; i < n; i++) {
      reports_field_t *f = fields_push(req->arena, out);
      if (!f) goto too_many;
      f->name = ff[i].name;
      f->value = ff[i].data;
      f->len = ff[i].len;
      f->filename = ff[i].filename;
      f->content_type = ff[i].content_type;
    }
    return 0;
  }
  /* application/x-www-form-urlencoded (also when the core has parsed it: same result) */
  if (reports_form_parse(req->arena, req->body, req->body_len, out) == 0) return 0;
too_many:
  *why = "The form body is malformed or has too many fields";
  return -1;
}

const char *reports_field(const reports_fields_t *fs, const char *name) {
  for (size_t i = 0; i < fs->n; i++)
    if (strcmp(fs->f[i].name, name) == 0) return fs->f[i].value;
  return NULL;
}

/* --- categories -------------------------------------------------------------------- */

#define CAT_COLS "code, name_vi, name_en, description_vi, description_en, group_name, keywords, " \
                 "responsible_kind, department, target_days"

static void cat_from_row(arena_t *a, db_stmt_t *st, reports_category_t *c) {
  const char **f[] = {&c->code, &c->name_vi, &c->name_en, &c->description_vi, &c->description_en,
                      &c->group_name, &c->keywords, &c->responsible_kind, &c->department};
  for (int i = 0; i < (int)ARRAY_LEN(f); i++) {
    const char *t = db_col_text(st, i);
    *f[i] = t ? arena_strdup(a, t) : NULL;
  }
  c->target_days = (int)db_col_int64(st, 9);
  c->attributes = json_arena_own(a, json_array());
}

static int cat_attributes(arena_t *a, db_t *db, reports_category_t *cats, size_t n) {
  db_stmt_t *st = db_prepare(db,
                             "SELECT category_code, code, datatype, required, sort_order, description_vi, description_en,"
                             " datatype_description, choices FROM report_category_attributes"
                             " ORDER BY category_code, sort_order");
  int rc = -1, s;
  if (!st) return -1;
  while ((s = db_step(st)) == DB_ROW) {
    const char *cc = db_col_text(st, 0);
    for (size_t i = 0; i < n; i++) {
      if (strcmp(cats[i].code, cc) != 0) continue;
      const char *choices = db_col_text(st, 8);
      json_t *vals = json_loads(choices ? choices : "[]", 0, NULL);
      json_array_append_new(cats[i].attributes,
                            json_pack("{s:s, s:s, s:b, s:I, s:s, s:s, s:s, s:o}", "code", db_col_text(st, 1),
                                      "datatype", db_col_text(st, 2), "required", (int)db_col_int64(st, 3),
                                      "order", (json_int_t)db_col_int64(st, 4), "description_vi", db_col_text(st, 5),
                                      "description_en", db_col_text(st, 6), "datatype_description",
                                      db_col_text(st, 7), "values", vals ? vals : json_array()));
    }
  }
  if (s == DB_DONE) rc = 0;
  db_stmt_done(st);
  (void)a;
  return rc;
}

int reports_categories_all(arena_t *a, db_t *db, reports_category_t **out, size_t *n) {
  db_stmt_t *st = db_prepare(db, "SELECT " CAT_COLS " FROM report_categories WHERE active = 1 ORDER BY sort_order, code");
  size_t cap = 64, k = 0;
  int s;
  reports_category_t *cats = arena_alloc(a, cap * sizeof *cats);
  if (!st) return -1;
  while ((s = db_step(st)) == DB_ROW && k < cap) cat_from_row(a, st, &cats[k++]);
  db_stmt_done(st);
  if (s < 0) return -1;
  *out = cats;
  *n = k;
  return cat_attributes(a, db, cats, k);
}

int reports_category_load(arena_t *a, db_t *db, const char *code, reports_category_t *out, bool *found) {
  db_stmt_t *st = db_prepare(db, "SELECT " CAT_COLS " FROM report_categories WHERE active = 1 AND code = $1");
  *found = false;
  if (!st) return -1;
  db_bind_text(st, 1, code);
  int s = db_step(st);
  if (s == DB_ROW) {
    cat_from_row(a, st, out);
    *found = true;
  }
  db_stmt_done(st);
  if (s < 0) return -1;
  return *found ? cat_attributes(a, db, out, 1) : 0;
}

/* --- events, notifications, photos -------------------------------------------------------- */

int reports_event_add(db_t *db, int64_t report_id, int64_t actor_id, const char *kind, const char *status,
                      const char *note, const char *reason, int64_t *id_out) {
  db_stmt_t *st = db_prepare(db,
                             "INSERT INTO report_events (report_id, at, actor_id, kind, status, note, reason)"
                             " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id");
  if (!st) return -1;
  db_bind_int64(st, 1, report_id);
  db_bind_int64(st, 2, clock_now_ms());
  if (actor_id) db_bind_int64(st, 3, actor_id);
  else db_bind_null(st, 3);
  db_bind_text(st, 4, kind);
  db_bind_text(st, 5, status);
  db_bind_text(st, 6, note);
  db_bind_text(st, 7, reason);
  int s = db_step(st);
  if (s == DB_ROW && id_out) *id_out = db_col_int64(st, 0);
  db_stmt_done(st);
  return s == DB_ROW ? 0 : -1;
}

int reports_notify(db_t *db, int64_t report_id, const char *kind, const char *message) {
  db_stmt_t *st = db_prepare(db,
                             "INSERT INTO report_notifications (report_id, account_id, recipient, kind, message, created_at)"
                             " SELECT id, reporter_account_id, COALESCE(reporter_email, reporter_phone), $2, $3, $4"
                             " FROM reports WHERE id = $1 AND (reporter_account_id IS NOT NULL"
                             " OR reporter_email IS NOT NULL OR reporter_phone IS NOT NULL)");
  if (!st) return -1;
  db_bind_int64(st, 1, report_id);
  db_bind_text(st, 2, kind);
  db_bind_text(st, 3, message);
  db_bind_int64(st, 4, clock_now_ms());
  int s = db_step(st);
  db_stmt_done(st);
  return s < 0 ? -1 : 0;
}

int reports_photo_store(arena_t *a, db_t *db, int64_t report_id, int64_t event_id, const char *kind,
                        const uint8_t *data, size_t len, int64_t *photo_id, const char **why, bool *dberr) {
  const char *mime = NULL;
  size_t outlen = 0;
  *dberr = false;
  if (len == 0 || len > REPORTS_PHOTO_MAX) {
    *why = "The photo must be 1 byte to 5 MiB";
    return -1;
  }
  uint8_t *clean = arena_alloc(a, len);
  reports_img_status_t rc = reports_image_strip(data, len, clean, len, &outlen, &mime);
  if (rc != REPORTS_IMG_OK) {
    *why = rc == REPORTS_IMG_UNSUPPORTED ? "The photo must be a JPEG or PNG image" : "The photo is damaged";
    return -1;
  }
  db_stmt_t *st = db_prepare(db,
                             "INSERT INTO report_photos (report_id, event_id, kind, content_type, data, created_at)"
                             " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id");
  if (!st) goto fail;
  db_bind_int64(st, 1, report_id);
  if (event_id) db_bind_int64(st, 2, event_id);
  else db_bind_null(st, 2);
  db_bind_text(st, 3, kind);
  db_bind_text(st, 4, mime);
  db_bind_blob(st, 5, clean, outlen);
  db_bind_int64(st, 6, clock_now_ms());
  int s = db_step(st);
  if (s == DB_ROW) *photo_id = db_col_int64(st, 0);
  db_stmt_done(st);
  if (s == DB_ROW) return 0;
fail:
  *dberr = true;
  return -1;
}

/* --- routing ----------------------------------------------------------------------------------- */

static int64_t city_root(const app_t *app) {
  const unit_t *const *roots = NULL;
  size_t n = units_roots(app->units, units_active_era(app->units), &roots);
  return n > 0 ? roots[0]->id : 0;
}

int reports_route(const app_t *app, const reports_category_t *cat, bool located, double lat, double lon,
                  int64_t *unit_id, int64_t *ward_id, const char **department) {
  *ward_id = 0;
  *department = NULL;
  if (located) {
    const unit_t *w = app->units ? units_locate(app->units, units_active_era(app->units), lon, lat) : NULL;
    if (!w) return -1;
    *ward_id = w->id;
  }
  if (strcmp(cat->responsible_kind, "department") == 0 && cat->department) {
    *department = cat->department;
    *unit_id = city_root(app);
  } else {
    *unit_id = *ward_id ? *ward_id : city_root(app);
  }
  return 0;
}

const char *reports_responsible_name(arena_t *a, const app_t *app, int64_t unit_id, const char *department) {
  if (department && *department) return arena_strdup(a, department);
  const unit_t *u = app->units ? units_by_id(app->units, unit_id) : NULL;
  return u ? u->name : "";
}

/* --- times --------------------------------------------------------------------------------------- */

const char *reports_iso(arena_t *a, int64_t ms) {
  char buf[40];
  if (!ms) return NULL;
  clock_format_iso(ms, buf, sizeof buf);
  return arena_strdup(a, buf);
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static bool digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

int reports_parse_iso(const char *s, int64_t *ms) {
  int y, mo, d, h = 0, mi = 0, se = 0, oh = 7, om = 0, sign = 1;
  if (!s || strlen(s) < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
      !digits(s + 8, 2, &d))
    return -1;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || y < 1970 || y > 9999) return -1;
  const char *p = s + 10;
  if (*p == 'T' || *p == ' ') {
    if (!digits(p + 1, 2, &h) || p[3] != ':' || !digits(p + 4, 2, &mi)) return -1;
    p += 6;
    if (*p == ':') {
      if (!digits(p + 1, 2, &se)) return -1;
      p += 3;
      if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') p++;
      }
    }
    if (h > 23 || mi > 59 || se > 60) return -1;
    if (*p == 'Z') {
      oh = 0;
      p++;
    } else if (*p == '+' || *p == '-') {
      sign = *p == '-' ? -1 : 1;
      if (!digits(p + 1, 2, &oh)) return -1;
      p += 3;
      if (*p == ':') p++;
      if (!digits(p, 2, &om)) return -1;
      p += 2;
    }
  }
  if (*p) return -1;
  int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - sign * (oh * 3600 + om * 60);
  *ms = secs * 1000;
  return 0;
}

/* --- request helpers --------------------------------------------------------------------------- */

db_t *reports_req_db(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = db_pool_acquire(app->db);
  if (!db) http_reply_error(req, ERR_UNAVAILABLE, NULL);
  return db;
}

void reports_db_fail(http_req_t *req, db_t *db) {
  db_error_t e = db ? db_last_error(db) : DB_ERR_OTHER;
  log_error(req->request_id, "msg=\"database error\" path=\"%s\" err=\"%s\"", req->path, db ? db_errmsg(db) : "no connection");
  if (db) db_rollback(db);
  if (http_replied(req)) return;
  if (e == DB_ERR_CONSTRAINT) http_reply_error(req, ERR_CONFLICT, NULL);
  else if (e == DB_ERR_BUSY || e == DB_ERR_CONNECTION) http_reply_error(req, ERR_UNAVAILABLE, NULL);
  else http_reply_error(req, ERR_INTERNAL, NULL);
}
