#include "base/common.h"
#include "units/units_internal.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/text.h"
#include <jansson.h>

static const db_migration_t MIGRATIONS[] = {
  {"units", 1,
   "CREATE TABLE eras ("
   "  name TEXT PRIMARY KEY,"
   "  description TEXT,"
   "  created_at BIGINT NOT NULL);"
   "CREATE TABLE units ("
   "  id {{ID}},"
   "  era TEXT NOT NULL REFERENCES eras(name),"
   "  code TEXT NOT NULL,"
   "  name TEXT NOT NULL,"
   "  name_folded TEXT NOT NULL,"
   "  type TEXT NOT NULL,"
   "  level TEXT NOT NULL,"
   "  parent_id BIGINT REFERENCES units(id),"
   "  updated_at BIGINT NOT NULL,"
   "  UNIQUE (era, code));"
   "CREATE INDEX units_parent ON units(parent_id);"
   "CREATE TABLE unit_boundaries ("
   "  unit_id BIGINT PRIMARY KEY REFERENCES units(id),"
   "  geometry TEXT NOT NULL,"
   "  min_lon DOUBLE PRECISION NOT NULL, min_lat DOUBLE PRECISION NOT NULL,"
   "  max_lon DOUBLE PRECISION NOT NULL, max_lat DOUBLE PRECISION NOT NULL,"
   "  updated_at BIGINT NOT NULL);"},
};

const db_migration_t *units_migrations(size_t *n) {
  *n = ARRAY_LEN(MIGRATIONS);
  return MIGRATIONS;
}

/* --- CSV ---------------------------------------------------------------------------- */

#define CSV_MAX_FIELDS 8

/* Splits one CSV line (RFC 4180 quoting, no embedded newlines) in place. */
static int csv_split(char *line, char **fields, int max) {
  int n = 0;
  char *p = line;
  for (;;) {
    if (n == max) return -1;
    if (*p == '"') {
      char *w = ++p, *start = p;
      for (;;) {
        if (*p == '\0') return -1;
        if (*p == '"') {
          if (p[1] == '"') {
            *w++ = '"';
            p += 2;
            continue;
          }
          p++;
          break;
        }
        *w++ = *p++;
      }
      if (*p != ',' && *p != '\0') return -1;
      char end = *p;
      *w = '\0';
      fields[n++] = start;
      if (end == '\0') return n;
      p++;
    } else {
      fields[n++] = p;
      char *comma = strchr(p, ',');
      if (!comma) return n;
      *comma = '\0';
      p = comma + 1;
    }
  }
}

static bool all_digits(const char *s, size_t minlen, size_t maxlen) {
  size_t n = strlen(s);
  if (n < minlen || n > maxlen) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

static bool level_ok(const char *l) {
  return strcmp(l, "province") == 0 || strcmp(l, "district") == 0 || strcmp(l, "ward") == 0;
}

static int ensure_era(db_t *db, const char *era, const char *description) {
  db_stmt_t *st = db_prepare(db, "INSERT INTO eras(name, description, created_at) VALUES ($1, $2, $3) "
                                 "ON CONFLICT (name) DO NOTHING");
  if (!st) return -1;
  db_bind_text(st, 1, era);
  db_bind_text(st, 2, description);
  db_bind_int64(st, 3, clock_now_ms());
  int rc = db_step(st);
  db_stmt_done(st);
  return rc < 0 ? -1 : 0;
}

static bool era_name_ok(const char *era) {
  size_t n = strlen(era);
  if (n == 0 || n > 32) return false;
  for (size_t i = 0; i < n; i++)
    if (!((era[i] >= '0' && era[i] <= '9') || (era[i] >= 'a' && era[i] <= 'z') || era[i] == '-')) return false;
  return true;
}

long units_import_csv(db_t *db, const char *era, const char *path, FILE *progress) {
  long rows = 0, ret = -1;
  FILE *f = NULL;
  char line[2048];
  int lineno = 0;
  if (!era_name_ok(era)) {
    fprintf(stderr, "import: era must be lower-case letters, digits or '-' (got '%s')\n", era);
    return -1;
  }
  f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "import: cannot open %s: %s\n", path, strerror(errno));
    return -1;
  }
  if (db_begin(db) < 0) goto fail_db;
  if (ensure_era(db, era, NULL) < 0) goto fail_db;
  db_stmt_t *up = db_prepare(db,
      "INSERT INTO units(era, code, name, name_folded, type, level, parent_id, updated_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, NULL, $7) "
      "ON CONFLICT (era, code) DO UPDATE SET name = excluded.name, name_folded = excluded.name_folded, "
      "type = excluded.type, level = excluded.level, updated_at = excluded.updated_at");
  db_stmt_t *par = db_prepare(db,
      "UPDATE units SET parent_id = (SELECT p.id FROM units p WHERE p.era = $1 AND p.code = $3) "
      "WHERE era = $1 AND code = $2");
  if (!up || !par) goto fail_db;
  int64_t now = clock_now_ms();
  while (fgets(line, sizeof line, f)) {
    lineno++;
    size_t len = strlen(line);
    if (len == sizeof line - 1 && line[len - 1] != '\n') {
      fprintf(stderr, "import: %s:%d: line too long\n", path, lineno);
      goto fail;
    }
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (lineno == 1 && len >= 3 && (unsigned char)line[0] == 0xEF) {   /* UTF-8 BOM */
      memmove(line, line + 3, len - 2);
      len -= 3;
    }
    if (len == 0) continue;
    char *fl[CSV_MAX_FIELDS];
    int nf = csv_split(line, fl, CSV_MAX_FIELDS);
    if (lineno == 1) {
      if (nf != 5 || strcmp(fl[0], "level") || strcmp(fl[1], "code") || strcmp(fl[2], "name") ||
          strcmp(fl[3], "type") || strcmp(fl[4], "parent_code")) {
        fprintf(stderr, "import: %s:1: the header must be level,code,name,type,parent_code\n", path);
        goto fail;
      }
      continue;
    }
    if (nf != 5) {
      fprintf(stderr, "import: %s:%d: expected 5 fields, found %d\n", path, lineno, nf);
      goto fail;
    }
    const char *level = fl[0], *code = fl[1], *name = fl[2], *type = fl[3], *parent = fl[4];
    if (!level_ok(level)) {
      fprintf(stderr, "import: %s:%d: level must be province, district or ward (got '%s')\n", path, lineno, level);
      goto fail;
    }
    if (!all_digits(code, 2, 5)) {
      fprintf(stderr, "import: %s:%d: code must be 2 to 5 digits (got '%s')\n", path, lineno, code);
      goto fail;
    }
    if (*parent && !all_digits(parent, 2, 5)) {
      fprintf(stderr, "import: %s:%d: parent_code must be 2 to 5 digits (got '%s')\n", path, lineno, parent);
      goto fail;
    }
    if (!*name || !text_utf8_valid(name, strlen(name)) || !*type || !text_utf8_valid(type, strlen(type))) {
      fprintf(stderr, "import: %s:%d: name and type must be non-empty UTF-8 text\n", path, lineno);
      goto fail;
    }
    char folded[1024];
    if (text_fold(name, folded, sizeof folded) < 0) {
      fprintf(stderr, "import: %s:%d: name cannot be folded\n", path, lineno);
      goto fail;
    }
    db_bind_text(up, 1, era);
    db_bind_text(up, 2, code);
    db_bind_text(up, 3, name);
    db_bind_text(up, 4, folded);
    db_bind_text(up, 5, type);
    db_bind_text(up, 6, level);
    db_bind_int64(up, 7, now);
    int rc = db_step(up);
    db_stmt_done(up);
    if (rc < 0) goto fail_db;
    rows++;
  }
  if (ferror(f)) {
    fprintf(stderr, "import: %s: read error\n", path);
    goto fail;
  }
  /* Second pass: parents, now that every code of the file exists. */
  rewind(f);
  lineno = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (lineno == 1 || len == 0) continue;
    char *fl[CSV_MAX_FIELDS];
    if (csv_split(line, fl, CSV_MAX_FIELDS) != 5) continue;
    if (!*fl[4]) continue;
    if (strcmp(fl[4], fl[1]) == 0) {
      fprintf(stderr, "import: %s:%d: a unit cannot be its own parent\n", path, lineno);
      goto fail;
    }
    db_bind_text(par, 1, era);
    db_bind_text(par, 2, fl[1]);
    db_bind_text(par, 3, fl[4]);
    int rc = db_step(par);
    db_stmt_done(par);
    if (rc < 0) goto fail_db;
  }
  /* Every stated parent must exist in the era. */
  db_stmt_t *chk = db_prepare(db, "SELECT COUNT(*) FROM units WHERE era = $1 AND parent_id IS NULL AND level <> 'province'");
  if (!chk) goto fail_db;
  db_bind_text(chk, 1, era);
  int64_t orphans = db_step(chk) == DB_ROW ? db_col_int64(chk, 0) : -1;
  db_stmt_done(chk);
  if (orphans != 0) {
    fprintf(stderr, "import: %s: %" PRId64 " units name a parent_code that is not in era %s\n", path, orphans, era);
    goto fail;
  }
  if (db_commit(db) < 0) goto fail_db;
  if (progress) fprintf(progress, "import: %s: %ld units into era %s\n", path, rows, era);
  ret = rows;
  goto out;
fail_db:
  fprintf(stderr, "import: %s: database error: %s\n", path, db_errmsg(db));
fail:
  db_rollback(db);
  ret = -1;
out:
  fclose(f);
  return ret;
}

/* --- boundaries --------------------------------------------------------------------- */

long units_import_boundaries(db_t *db, const char *era, const char *path, FILE *progress) {
  json_error_t jerr;
  long count = -1;
  geo_index_t *check = geo_index_new();
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    fprintf(stderr, "import: %s:%d: %s\n", path, jerr.line, jerr.text);
    goto out;
  }
  json_t *features = json_object_get(root, "features");
  if (!json_is_array(features)) {
    fprintf(stderr, "import: %s: not a GeoJSON FeatureCollection\n", path);
    goto out;
  }
  if (db_begin(db) < 0) goto fail_db;
  db_stmt_t *find = db_prepare(db, "SELECT id FROM units WHERE era = $1 AND code = $2");
  db_stmt_t *put = db_prepare(db,
      "INSERT INTO unit_boundaries(unit_id, geometry, min_lon, min_lat, max_lon, max_lat, updated_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (unit_id) DO UPDATE SET geometry = excluded.geometry, "
      "min_lon = excluded.min_lon, min_lat = excluded.min_lat, max_lon = excluded.max_lon, "
      "max_lat = excluded.max_lat, updated_at = excluded.updated_at");
  if (!find || !put) goto fail_db;
  size_t i;
  json_t *feat;
  int64_t now = clock_now_ms();
  json_array_foreach(features, i, feat) {
    const char *code = json_string_value(json_object_get(json_object_get(feat, "properties"), "code"));
    json_t *geom = json_object_get(feat, "geometry");
    if (!code) {
      fprintf(stderr, "import: %s: feature %zu has no properties.code\n", path, i);
      goto fail;
    }
    db_bind_text(find, 1, era);
    db_bind_text(find, 2, code);
    int64_t id = db_step(find) == DB_ROW ? db_col_int64(find, 0) : 0;
    db_stmt_done(find);
    if (!id) {
      fprintf(stderr, "import: %s: feature %zu: no unit %s in era %s (import the units first)\n", path, i, code, era);
      goto fail;
    }
    char why[160];
    if (geo_index_add_geometry(check, id, geom, why, sizeof why) < 0) {
      fprintf(stderr, "import: %s: feature %zu (%s): %s\n", path, i, code, why);
      goto fail;
    }
    double b[4];
    geo_bbox(check, id, &b[0], &b[1], &b[2], &b[3]);
    char *text = json_dumps(geom, JSON_COMPACT | JSON_REAL_PRECISION(10));
    db_bind_int64(put, 1, id);
    db_bind_text(put, 2, text);
    for (int k = 0; k < 4; k++) db_bind_double(put, 3 + k, b[k]);
    db_bind_int64(put, 7, now);
    int rc = db_step(put);
    db_stmt_done(put);
    free(text);
    if (rc < 0) goto fail_db;
  }
  if (db_commit(db) < 0) goto fail_db;
  count = (long)json_array_size(features);
  if (progress) fprintf(progress, "import: %s: %ld boundaries into era %s\n", path, count, era);
  goto out;
fail_db:
  fprintf(stderr, "import: %s: database error: %s\n", path, db_errmsg(db));
fail:
  db_rollback(db);
  count = -1;
out:
  json_decref(root);
  geo_index_free(check);
  return count;
}

static int set_era_description(db_t *db, const char *era, const char *d) {
  db_stmt_t *st = db_prepare(db, "UPDATE eras SET description = $2 WHERE name = $1");
  if (!st) return -1;
  db_bind_text(st, 1, era);
  db_bind_text(st, 2, d);
  int rc = db_step(st);
  db_stmt_done(st);
  return rc < 0 ? -1 : 0;
}

int units_import_reference(db_t *db, const char *data_dir, FILE *progress) {
  static const struct { const char *era, *csv, *geo, *desc; } REF[] = {
    {"2024", "hanoi-units-2024.csv", "hanoi-districts.geojson",
     "Hà Nội 3 cấp (thành phố, 30 quận/huyện/thị xã, 579 xã/phường/thị trấn), GSO 01/11/2024"},
    {"2025", "hanoi-units-2025.csv", "hanoi-wards-2025.geojson",
     "Hà Nội 2 cấp (thành phố, 126 xã/phường), từ 01/07/2025"},
  };
  for (size_t i = 0; i < ARRAY_LEN(REF); i++) {
    char csv[4096], geo[4096];
    snprintf(csv, sizeof csv, "%s/units/%s", data_dir, REF[i].csv);
    snprintf(geo, sizeof geo, "%s/units/%s", data_dir, REF[i].geo);
    if (units_import_csv(db, REF[i].era, csv, progress) < 0) return -1;
    if (set_era_description(db, REF[i].era, REF[i].desc) < 0) return -1;
    if (units_import_boundaries(db, REF[i].era, geo, progress) < 0) return -1;
  }
  return 0;
}
