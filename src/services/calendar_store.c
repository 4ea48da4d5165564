/*
 * calendar_store.c - the overrides file plus the calendar_overrides table (see
 * calendar_store.h).
 */
#include "base/common.h"
#include "services/calendar_store.h"
#include "base/log.h"
#include <unistd.h>

calendar_t *calendar_store_load(db_t *db, const char *data_dir, char *why, size_t whylen) {
  calendar_t *c = calendar_new();
  db_stmt_t *st = NULL;
  if (!c) {
    snprintf(why, whylen, "out of memory");
    goto fail;
  }
  if (data_dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/calendar/overrides.json", data_dir);
    if (access(path, R_OK) == 0 && calendar_load_file(c, path, why, whylen) < 0) goto fail;
  }
  if (db) {
    st = db_prepare(db, "SELECT year, body FROM calendar_overrides ORDER BY year");
    if (!st) {
      snprintf(why, whylen, "calendar_overrides: %s", db_errmsg(db));
      goto fail;
    }
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
      json_error_t je;
      json_t *y = json_loads(db_col_text(st, 1), JSON_REJECT_DUPLICATES, &je);
      char p[48];
      snprintf(p, sizeof p, "calendar_overrides[%" PRId64 "]", db_col_int64(st, 0));
      int bad = !y || calendar_set_year(c, y, p, why, whylen) < 0;
      json_decref(y);
      if (bad) goto fail;
    }
    if (rc < 0) {
      snprintf(why, whylen, "calendar_overrides: %s", db_errmsg(db));
      goto fail;
    }
    db_stmt_done(st);
  }
  return c;
fail:
  if (st) db_stmt_done(st);
  calendar_free(c);
  return NULL;
}

int calendar_store_put(db_t *db, int year, const json_t *overrides, int64_t actor_id) {
  char *body = json_dumps(overrides, JSON_COMPACT | JSON_SORT_KEYS);
  int rc = -1;
  db_stmt_t *st = NULL;
  if (!body) goto done;
  st = db_prepare(db,
                  "INSERT INTO calendar_overrides (year, body, updated_at, updated_by) VALUES ($1, $2, $3, $4) "
                  "ON CONFLICT (year) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at, "
                  "updated_by = excluded.updated_by");
  if (!st) goto done;
  int64_t now = clock_now_ms();
  if (db_bind_int64(st, 1, year) || db_bind_text(st, 2, body) || db_bind_int64(st, 3, now) ||
      (actor_id ? db_bind_int64(st, 4, actor_id) : db_bind_null(st, 4)))
    goto done;
  rc = db_step(st) == DB_DONE ? 0 : -1;
done:
  if (st) db_stmt_done(st);
  free(body);
  return rc;
}

int calendar_store_get(db_t *db, int year, json_t **out) {
  *out = NULL;
  db_stmt_t *st = db_prepare(db, "SELECT body FROM calendar_overrides WHERE year = $1");
  if (!st) return -1;
  int rc = -1;
  if (db_bind_int64(st, 1, year)) goto done;
  int s = db_step(st);
  if (s == DB_DONE) {
    rc = 0;
  } else if (s == DB_ROW) {
    *out = json_loads(db_col_text(st, 0), 0, NULL);
    rc = *out ? 1 : -1;
  }
done:
  db_stmt_done(st);
  return rc;
}
