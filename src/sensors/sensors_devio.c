#include "base/common.h"
#include "sensors/sensors.h"
#include "sensors/sensors_internal.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "identity/identity.h"
#include "units/units.h"

#include <math.h>
#include <sodium.h>

/*
 * Device import and export. POST /api/v1/devices/import takes {"devices": [{id, type, name,
 * lon, lat}, ...]} or {"csv": "id,type,name,lon,lat\n..."} (up to 5,000), registers all or
 * none (a bad or duplicate row names its index / line), and returns each new device's key
 * once. Export: GET /api/v1/devices?format=csv (see sensors_api.c) or the JSON list.
 */

#define IMPORT_MAX 5000

/* Splits one CSV line (RFC 4180 quotes) into up to max fields, in place. Count or -1. */
static int csv_fields(char *line, char **out, int max)
{
  int n = 0;
  char *p = line;
  while (n < max) {
    char *w = p;
    out[n++] = w;
    if (*p == '"') {
      p++;
      while (*p) {
        if (*p == '"' && p[1] == '"') {
          *w++ = '"';
          p += 2;
        } else if (*p == '"') {
          p++;
          break;
        } else {
          *w++ = *p++;
        }
      }
      if (*p && *p != ',') return -1;
    } else {
      while (*p && *p != ',') *w++ = *p++;
    }
    bool more = *p == ',';
    if (*p) p++;
    *w = 0;
    if (!more) return n;
  }
  return -1;
}

/* The CSV text as a JSON array of device objects; NULL with why on a bad line. */
static json_t *csv_devices(const char *text, char *why, size_t whylen)
{
  char *copy = strdup(text);
  json_t *arr = json_array();
  int line_no = 0;
  char *save = NULL;
  if (!copy) goto fail;
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    line_no++;
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') line[--len] = 0;
    char *f[6];
    int n = csv_fields(line, f, 6);
    if (line_no == 1) {
      if (n != 5 || strcmp(f[0], "id") || strcmp(f[1], "type") || strcmp(f[2], "name") || strcmp(f[3], "lon") ||
          strcmp(f[4], "lat")) {
        snprintf(why, whylen, "the header must be id,type,name,lon,lat");
        goto fail;
      }
      continue;
    }
    double lon, lat;
    if (n != 5 || text_parse_double(f[3], &lon) || text_parse_double(f[4], &lat)) {
      snprintf(why, whylen, "line %d: five fields with numeric lon and lat expected", line_no);
      goto fail;
    }
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:f, s:f}", "id", f[0], "type", f[1], "name", f[2], "lon",
                                         lon, "lat", lat));
  }
  free(copy);
  return arr;
fail:
  free(copy);
  json_decref(arr);
  return NULL;
}

void sensors_h_devices_import(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  json_t *body = http_body_object(req);
  if (!body) return;
  json_t *devs = json_object_get(body, "devices");
  const char *csv = json_string_value(json_object_get(body, "csv"));
  char why[160];
  if (csv) {
    devs = csv_devices(csv, why, sizeof why);
    if (!devs) {
      sensors_reply_field(req, "csv", why);
      return;
    }
    json_arena_own(req->arena, devs);
  }
  if (!json_is_array(devs) || json_array_size(devs) == 0 || json_array_size(devs) > IMPORT_MAX) {
    sensors_reply_field(req, "devices", "devices is a list of 1-5000 devices (or send csv)");
    return;
  }
  json_t *keys = json_arena_own(req->arena, json_array());
  db = sensors_req_db(req);
  if (!db) return;
  if (db_begin(db)) goto fail;
  size_t i;
  json_t *d;
  json_array_foreach(devs, i, d) {
    const char *id = json_string_value(json_object_get(d, "id"));
    const char *type = json_string_value(json_object_get(d, "type"));
    const char *name = json_string_value(json_object_get(d, "name"));
    json_t *jlon = json_object_get(d, "lon"), *jlat = json_object_get(d, "lat");
    const char *problem = NULL;
    if (!sensors_id_valid(id)) problem = "id";
    else if (!sensors_type_find(type)) problem = "type";
    else if (!name || !*name || strlen(name) > 200 || !text_utf8_valid(name, strlen(name))) problem = "name";
    else if (!json_is_number(jlon) || fabs(json_number_value(jlon)) > 180) problem = "lon";
    else if (!json_is_number(jlat) || fabs(json_number_value(jlat)) > 90) problem = "lat";
    if (problem) {
      db_rollback(db);
      http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s, s:i}", "field", problem, "index", (int)i),
                              "devices[%zu]: bad %s", i, problem);
      goto done;
    }
    double lon = json_number_value(jlon), lat = json_number_value(jlat);
    const unit_t *u = app->units ? units_locate(app->units, units_active_era(app->units), lon, lat) : NULL;
    if (!identity_can(app, req->principal, "sensors.write", u ? u->id : 0)) {
      db_rollback(db);
      http_reply_error_detail(req, ERR_FORBIDDEN, json_pack("{s:i}", "index", (int)i),
                              "devices[%zu] lies outside your units", i);
      goto done;
    }
    char hex[49], key[64], hash[IDENTITY_TOKEN_HASH_HEX], broker[SENSORS_BROKER_HASH_MAX];
    random_hex(hex, 24);
    snprintf(key, sizeof key, "dk_%s", hex);
    identity_token_hash(key, hash);
    if (sensors_broker_hash(key, broker)) goto fail;
    db_stmt_t *st = db_prepare(db, "INSERT INTO sensor_devices(id, type, name, lon, lat, unit_id, secret_hash,"
                                   " broker_hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (id) DO NOTHING");
    if (!st) goto fail;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, type);
    db_bind_text(st, 3, name);
    db_bind_double(st, 4, lon);
    db_bind_double(st, 5, lat);
    db_bind_int64(st, 6, u ? u->id : 0);
    db_bind_text(st, 7, hash);
    db_bind_text(st, 8, broker);
    int rc = db_step(st);
    int64_t changed = db_changes(st);
    db_stmt_done(st);
    if (rc < 0) goto fail;
    if (changed != 1) {
      db_rollback(db);
      http_reply_error_detail(req, ERR_CONFLICT, json_pack("{s:s, s:i}", "field", "id", "index", (int)i),
                              "devices[%zu]: a device with id %s exists (or is repeated)", i, id);
      goto done;
    }
    json_array_append_new(keys, json_pack("{s:s, s:s}", "id", id, "key", key));
    sodium_memzero(key, sizeof key);
  }
  audit_entry_t e = audit_entry_from_req(req, "device.import", "device", NULL);
  e.detail = audit_detail(req->arena, json_pack("{s:I}", "count", (json_int_t)json_array_size(keys)));
  if (audit_append(db, &e) || db_commit(db)) goto fail;
  http_reply_json(req, 201, json_pack("{s:I, s:O}", "created", (json_int_t)json_array_size(keys), "keys", keys));
  goto done;
fail:
  log_error(req->request_id, "msg=\"database error\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}

/* The device list (JSON items) as CSV. */
void sensors_reply_devices_csv(http_req_t *req, const json_t *items)
{
  buf_t out;
  buf_init(&out, 64u << 20);
  int bad = buf_puts(&out, "id,type,name,lon,lat,unit_code,unit_name,status,state,last_seen_at\n");
  size_t i;
  json_t *d;
  json_array_foreach(items, i, d) {
    json_t *u = json_object_get(d, "unit"), *loc = json_object_get(d, "location");
    const char *cells[2] = {json_string_value(json_object_get(d, "name")), json_string_value(json_object_get(u, "name"))};
    char *q[2];
    for (int k = 0; k < 2; k++) {   /* quote the free-text cells */
      const char *c = cells[k] ? cells[k] : "";
      size_t extra = 0;
      for (const char *p = c; *p; p++) extra += *p == '"';
      q[k] = arena_alloc(req->arena, strlen(c) + extra + 3);
      char *w = q[k];
      *w++ = '"';
      for (const char *p = c; *p; p++) {
        if (*p == '"') *w++ = '"';
        *w++ = *p;
      }
      *w++ = '"';
      *w = 0;
    }
    json_t *seen = json_object_get(d, "last_seen_at");
    bad |= buf_printf(&out, "%s,%s,%s,%.7f,%.7f,%s,%s,%s,%s,%" PRId64 "\n", json_string_value(json_object_get(d, "id")),
                      json_string_value(json_object_get(d, "type")), q[0],
                      json_number_value(json_object_get(loc, "lon")), json_number_value(json_object_get(loc, "lat")),
                      u ? json_string_value(json_object_get(u, "code")) : "", q[1],
                      json_string_value(json_object_get(d, "status")), json_string_value(json_object_get(d, "state")),
                      json_is_integer(seen) ? (int64_t)json_integer_value(seen) : 0);
  }
  if (bad) http_reply_error(req, ERR_TOO_LARGE, "Too many devices for one export; filter by type");
  else http_reply_raw(req, 200, "text/csv; charset=utf-8", out.data, out.len, false);
  buf_release(&out);
}
