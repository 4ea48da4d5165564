#include "base/common.h"
#include "reports/reports.h"
#include "reports/reports_internal.h"
#include "reports/reports_o311.h"
#include "base/log.h"
#include "base/text.h"
#include "base/json.h"
#include "identity/identity.h"
#include "audit/audit.h"
#include "units/units.h"

#include <sodium.h>

/*
 * POST /open311/v2/requests.{json,xml}: a new report. Callers: an API client with
 * api_key (an identity API client's key, "ck_..."), or any signed-in principal (the
 * phone page of a citizen). Bodies: application/x-www-form-urlencoded (the
 * specification), multipart/form-data (a "media" file part) or, as an extension, a
 * JSON object (same names; "attributes":{code: value}; "media_base64"). Unknown
 * fields are ignored.
 */

/* The API client behind api_key: its account id, 0 when unknown/revoked/expired. */
static int64_t submit_client(db_t *db, const char *key, bool *dberr) {
  char hash[IDENTITY_TOKEN_HASH_HEX];
  int64_t id = 0;
  *dberr = false;
  if (!identity_token_well_formed(key)) return 0;
  identity_token_hash(key, hash);
  db_stmt_t *st = db_prepare(db,
                             "SELECT t.account_id FROM tokens t JOIN accounts a ON a.id = t.account_id"
                             " WHERE t.token_hash = $1 AND t.kind = 'apikey' AND t.revoked_at IS NULL"
                             " AND (t.expires_at IS NULL OR t.expires_at = 0 OR t.expires_at > $2)"
                             " AND a.status = 'active'");
  if (!st) {
    *dberr = true;
    return 0;
  }
  db_bind_text(st, 1, hash);
  db_bind_int64(st, 2, clock_now_ms());
  int s = db_step(st);
  if (s == DB_ROW) id = db_col_int64(st, 0);
  if (s < 0) *dberr = true;
  db_stmt_done(st);
  return id;
}

static bool choice_ok(const json_t *values, const char *v) {
  size_t i;
  json_t *c;
  json_array_foreach(values, i, c) {
    const char *k = json_get_str(c, "key");
    if (k && strcmp(k, v) == 0) return true;
  }
  return false;
}

/* Validates the attribute[...] fields against the definition. NULL and *problem set
 * on a bad value. */
static json_t *submit_attributes(arena_t *a, const reports_fields_t *fs, const reports_category_t *cat,
                                 const char **problem) {
  json_t *out = json_arena_own(a, json_object());
  size_t i;
  json_t *def;
  json_array_foreach(cat->attributes, i, def) {
    const char *code = json_get_str(def, "code"), *type = json_get_str(def, "datatype");
    const json_t *values = json_object_get(def, "values");
    bool required = json_is_true(json_object_get(def, "required"));
    if (strcmp(type, "multivaluelist") == 0) {
      const char *n1 = arena_printf(a, "attribute[%s][]", code), *n2 = arena_printf(a, "attribute[%s]", code);
      json_t *list = json_array();
      for (size_t k = 0; k < fs->n; k++) {
        if (strcmp(fs->f[k].name, n1) != 0 && strcmp(fs->f[k].name, n2) != 0) continue;
        if (!choice_ok(values, fs->f[k].value)) {
          json_decref(list);
          *problem = arena_printf(a, "attribute[%s]: %s is not one of its values", code, fs->f[k].value);
          return NULL;
        }
        json_array_append_new(list, json_string(fs->f[k].value));
      }
      if (required && json_array_size(list) == 0) {
        json_decref(list);
        *problem = arena_printf(a, "attribute[%s] is required", code);
        return NULL;
      }
      if (json_array_size(list)) json_object_set_new(out, code, list);
      else json_decref(list);
      continue;
    }
    const char *v = reports_field(fs, arena_printf(a, "attribute[%s]", code));
    if (!v || !*v) {
      if (required) {
        *problem = arena_printf(a, "attribute[%s] is required", code);
        return NULL;
      }
      continue;
    }
    double d;
    int64_t t;
    bool ok = text_utf8_valid(v, strlen(v));
    if (strcmp(type, "singlevaluelist") == 0) ok = ok && choice_ok(values, v);
    else if (strcmp(type, "number") == 0) ok = ok && text_parse_double(v, &d) == 0;
    else if (strcmp(type, "datetime") == 0) ok = ok && reports_parse_iso(v, &t) == 0;
    else if (strcmp(type, "string") == 0) ok = ok && strlen(v) <= 200;
    else ok = ok && strlen(v) <= 2000;
    if (!ok) {
      *problem = arena_printf(a, "attribute[%s] is not a valid %s", code, type);
      return NULL;
    }
    json_object_set_new(out, code, json_string(v));
  }
  return out;
}

/* Optional text field: NULL when absent/empty; *bad when too long or not UTF-8. */
static const char *submit_text(const reports_fields_t *fs, const char *name, size_t max, const char **bad) {
  const char *v = reports_field(fs, name);
  if (!v || !*v) return NULL;
  if (strlen(v) > max || !text_utf8_valid(v, strlen(v))) *bad = name;
  return v;
}

/* The photo: a multipart "media" file part, or base64 in "media_base64". */
static int submit_media(arena_t *a, const reports_fields_t *fs, const uint8_t **data, size_t *len,
                        const char **problem) {
  *data = NULL;
  *len = 0;
  for (size_t i = 0; i < fs->n; i++) {
    if (strcmp(fs->f[i].name, "media") == 0 && fs->f[i].filename) {
      *data = (const uint8_t *)fs->f[i].value;
      *len = fs->f[i].len;
      return 0;
    }
  }
  const char *b64 = reports_field(fs, "media_base64");
  if (!b64 || !*b64) return 0;
  size_t cap = strlen(b64) / 4 * 3 + 3, outlen = 0;
  uint8_t *bin = arena_alloc(a, cap);
  if (sodium_base642bin(bin, cap, b64, strlen(b64), "\r\n", &outlen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
    *problem = "media_base64 is not base64";
    return -1;
  }
  *data = bin;
  *len = outlen;
  return 0;
}

void reports_o311_submit(http_req_t *req) {
  app_t *app = req->app;
  db_t *db = NULL;
  reports_fields_t fs;
  reports_category_t cat;
  const char *why = NULL, *bad = NULL;
  bool found = false, dberr = false, located = false;
  double lat = 0, lon = 0;
  int64_t client_id = 0, unit_id = 0, ward_id = 0, id = 0, photo_id = 0;
  const char *department = NULL;

  if (reports_fields_read(req, &fs, &why)) {
    o311_error(req, 400, "%s", why);
    goto done;
  }
  db = db_pool_acquire(app->db);
  if (!db) {
    o311_error(req, 503, "The service is not ready");
    goto done;
  }
  const char *key = reports_field(&fs, "api_key");
  if (!key) key = http_query(req, "api_key");
  if (key && *key) {
    client_id = submit_client(db, key, &dberr);
    if (dberr) goto db_fail;
    if (!client_id) {
      o311_error(req, 403, "api_key is invalid, revoked or expired");
      goto done;
    }
  } else if (!req->principal) {
    o311_error(req, 400, "api_key is required");
    goto done;
  }
  const char *code = reports_field(&fs, "service_code");
  if (!code || !*code) {
    o311_error(req, 400, "service_code is required");
    goto done;
  }
  if (reports_category_load(req->arena, db, code, &cat, &found)) goto db_fail;
  if (!found) {
    o311_error(req, 400, "service_code %s is not a service of this jurisdiction", code);
    goto done;
  }
  const char *slat = reports_field(&fs, "lat"), *slon = reports_field(&fs, "long");
  const char *address = submit_text(&fs, "address_string", 500, &bad);
  const char *address_id = submit_text(&fs, "address_id", 100, &bad);
  if ((slat && *slat) || (slon && *slon)) {
    if (!slat || !slon || text_parse_double(slat, &lat) || text_parse_double(slon, &lon) || lat < -90 || lat > 90 ||
        lon < -180 || lon > 180) {
      o311_error(req, 400, "lat and long must both be decimal degrees (WGS84)");
      goto done;
    }
    located = true;
  } else if (!address && !address_id) {
    o311_error(req, 400, "A location is required: lat and long, address_string or address_id");
    goto done;
  }
  const char *desc = submit_text(&fs, "description", REPORTS_TEXT_MAX, &bad);
  const char *email = submit_text(&fs, "email", 200, &bad), *phone = submit_text(&fs, "phone", 40, &bad);
  const char *first = submit_text(&fs, "first_name", 100, &bad), *last = submit_text(&fs, "last_name", 100, &bad);
  const char *device = submit_text(&fs, "device_id", 200, &bad), *media_url = submit_text(&fs, "media_url", 1000, &bad);
  if (bad) {
    o311_error(req, 400, "%s is too long or not UTF-8", bad);
    goto done;
  }
  json_t *attrs = submit_attributes(req->arena, &fs, &cat, &why);
  if (!attrs) {
    o311_error(req, 400, "%s", why);
    goto done;
  }
  const uint8_t *photo = NULL;
  size_t photo_len = 0;
  if (submit_media(req->arena, &fs, &photo, &photo_len, &why)) {
    o311_error(req, 400, "%s", why);
    goto done;
  }
  if (!desc && !photo && !media_url) {
    o311_error(req, 400, "A description or a photo is required");
    goto done;
  }
  if (reports_route(app, &cat, located, lat, lon, &unit_id, &ward_id, &department)) {
    o311_error(req, 400, "The location is outside the area served here (Hà Nội)");
    goto done;
  }
  const char *name = first || last ? arena_printf(req->arena, "%s%s%s", first ? first : "", first && last ? " " : "",
                                                  last ? last : "")
                                   : NULL;
  int64_t reporter = req->principal ? req->principal->account_id : 0;
  int64_t now = clock_now_ms(), due = reports_due(app, db, now, cat.target_days);
  char tok[40] = "rt_";
  random_hex(tok + 3, 16);
  char *attrs_text = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
  if (!attrs_text) goto db_fail;
  const char *attrs_arena = arena_strdup(req->arena, attrs_text);
  free(attrs_text);

  if (db_begin(db)) goto db_fail;
  db_stmt_t *st = db_prepare(db,
                             "INSERT INTO reports (category_code, description, public_description, lat, lon, address,"
                             " attributes, media_url, status, unit_id, ward_id, department, reporter_account_id,"
                             " reporter_name, reporter_email, reporter_phone, device_id, client_account_id, token,"
                             " created_at, updated_at, due_at) VALUES ($1, $2, $2, $3, $4, $5, $6, $7, 'open', $8, $9,"
                             " $10, $11, $12, $13, $14, $15, $16, $17, $18, $18, $19) RETURNING id");
  if (!st) goto db_fail;
  db_bind_text(st, 1, cat.code);
  db_bind_text(st, 2, desc ? desc : "");
  if (located) {
    db_bind_double(st, 3, lat);
    db_bind_double(st, 4, lon);
  } else {
    db_bind_null(st, 3);
    db_bind_null(st, 4);
  }
  db_bind_text(st, 5, address ? address : address_id);
  db_bind_text(st, 6, attrs_arena);
  db_bind_text(st, 7, media_url);
  db_bind_int64(st, 8, unit_id);
  db_bind_int64(st, 9, ward_id);
  db_bind_text(st, 10, department);
  if (reporter) db_bind_int64(st, 11, reporter);
  else db_bind_null(st, 11);
  db_bind_text(st, 12, name);
  db_bind_text(st, 13, email);
  db_bind_text(st, 14, phone);
  db_bind_text(st, 15, device);
  if (client_id) db_bind_int64(st, 16, client_id);
  else db_bind_null(st, 16);
  db_bind_text(st, 17, tok);
  db_bind_int64(st, 18, now);
  db_bind_int64(st, 19, due);
  int s = db_step(st);
  if (s == DB_ROW) id = db_col_int64(st, 0);
  db_stmt_done(st);
  if (s != DB_ROW) goto db_fail;
  const char *resp = reports_responsible_name(req->arena, app, unit_id, department);
  if (reports_event_add(db, id, reporter, "created", "open", NULL, NULL, NULL)) goto db_fail;
  if (photo && reports_photo_store(req->arena, db, id, 0, "report", photo, photo_len, &photo_id, &why, &dberr)) {
    if (dberr) goto db_fail;
    db_rollback(db);
    o311_error(req, 400, "media: %s", why);
    goto done;
  }
  const char *notice = arena_printf(req->arena, "Đã tiếp nhận phản ánh #%" PRId64 ". Đơn vị xử lý: %s, trong %d ngày làm việc.",
                                    id, resp, cat.target_days);
  if (reports_notify(db, id, "received", notice)) goto db_fail;
  audit_entry_t e = audit_entry_from_req(req, "report.create", "report", arena_printf(req->arena, "%" PRId64, id));
  e.unit_id = unit_id;
  e.detail = audit_detail(req->arena, json_pack("{s:s, s:b, s:b, s:I}", "service_code", cat.code, "contact",
                                                email || phone || name, "photo", photo != NULL, "client",
                                                (json_int_t)client_id));
  if (audit_append(db, &e) || db_commit(db)) goto db_fail;
  json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s}", "service_request_id", (json_int_t)id, "token", tok, "service_notice",
                        notice, "agency_responsible", resp, "expected_datetime", reports_iso(req->arena, due));
  json_object_set_new(o, "account_id", reporter ? json_integer(reporter) : json_null());
  o311_reply(req, 201, json_pack("[o]", o), "service_requests");
  goto done;
db_fail:
  o311_db_fail(req, db);
done:
  if (db) db_pool_release(app->db, db);
}
