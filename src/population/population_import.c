#include "base/common.h"
#include "population/population.h"
#include "audit/audit.h"
#include "base/arena.h"
#include "base/cccd.h"
#include "base/log.h"
#include "base/text.h"

#include <jansson.h>

/*
 * CSV splitting and row validation (pure), and the bulk load: validated rows of one
 * transaction are collected in an arena, sorted by CCCD (B-tree locality), and written
 * with multi-row upserts through the connection's statement cache.
 */

/* --- CSV ----------------------------------------------------------------------------- */

int population_csv_split(char *line, population_row_t *row, const char **why)
{
  int n = 0;
  char *p = line;
  for (;;) {
    if (n == POPULATION_COLUMNS) {
      *why = "too many fields (expected 9)";
      return -1;
    }
    if (*p == '"') {
      char *w = ++p, *start = p;
      for (;;) {
        if (*p == '\0') {
          *why = "unterminated quoted field";
          return -1;
        }
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
      if (*p != ',' && *p != '\0') {
        *why = "text after a closing quote";
        return -1;
      }
      char sep = *p;
      *w = '\0';
      row->field[n++] = start;
      if (sep == '\0') break;
      p++;
    } else {
      char *start = p;
      while (*p && *p != ',') p++;
      char sep = *p;
      *p = '\0';
      row->field[n++] = start;
      if (sep == '\0') break;
      p++;
    }
  }
  if (n != POPULATION_COLUMNS) {
    *why = "too few fields (expected 9)";
    return -1;
  }
  return 0;
}

/* --- validation ---------------------------------------------------------------------- */

static const char *norm_sex(const char *s)
{
  if (strcmp(s, "male") == 0 || strcmp(s, "M") == 0 || strcmp(s, "m") == 0) return "male";
  if (strcmp(s, "female") == 0 || strcmp(s, "F") == 0 || strcmp(s, "f") == 0) return "female";
  return NULL;
}

static bool name_ok(const char *s)
{
  size_t len = strlen(s);
  if (len == 0 || len > POPULATION_NAME_MAX || !text_utf8_valid(s, len)) return false;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f) return false;
  return s[0] != ' ' && s[len - 1] != ' ';
}

static bool household_ok(const char *s)
{
  size_t len = strlen(s);
  if (len > POPULATION_HOUSEHOLD_MAX) return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '-'))
      return false;
  return true;
}

int population_validate(const units_cache_t *units, const population_row_t *row,
                        population_resident_t *out, const char **why)
{
  const char *const *f = row->field;
  memset(out, 0, sizeof *out);
  out->cccd = f[0];
  out->full_name = f[1];
  out->birth_date = f[2];
  out->sex = norm_sex(f[3]);
  if (!out->sex) {
    *why = "sex must be male, female, M or F";
    return -1;
  }
  if (!cccd_date_valid(f[2], NULL, NULL, NULL)) {
    *why = "birth_date is not a real date YYYY-MM-DD";
    return -1;
  }
  cccd_status_t st = cccd_validate(f[0], f[2], out->sex);
  if (st != CCCD_OK) {
    *why = cccd_status_message(st);
    return -1;
  }
  if (!name_ok(f[1])) {
    *why = "full_name must be 1-200 bytes of UTF-8 text without control characters";
    return -1;
  }
  const unit_t *u = units ? units_by_code(units, f[4], f[5]) : NULL;
  if (!u) {
    *why = "permanent address: unknown unit code in that era";
    return -1;
  }
  out->perm_era = f[4];
  out->perm_code = f[5];
  out->perm_unit = u->id;
  if (f[6][0] || f[7][0]) {
    const unit_t *c = units ? units_by_code(units, f[6], f[7]) : NULL;
    if (!c) {
      *why = "current address: unknown unit code in that era";
      return -1;
    }
    out->cur_era = f[6];
    out->cur_code = f[7];
    out->cur_unit = c->id;
  }
  if (!household_ok(f[8])) {
    *why = "household_id must be up to 32 letters, digits or '-'";
    return -1;
  }
  out->household = f[8][0] ? f[8] : NULL;
  return 0;
}

/* --- duplicate detection: an open-addressing set of CCCDs as integers ------------------ */

typedef struct cccd_set {
  uint64_t *slots;   /* 0 = empty (no valid CCCD is 0: province 000 does not exist) */
  size_t cap, n;
} cccd_set_t;

static size_t set_hash(uint64_t k, size_t cap)
{
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return (size_t)k & (cap - 1);
}

/* 1 inserted, 0 already present, -1 out of memory. */
static int set_add(cccd_set_t *s, uint64_t k)
{
  if ((s->n + 1) * 2 > s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 1u << 16;
    uint64_t *ns = calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->slots[i]) continue;
      size_t j = set_hash(s->slots[i], ncap);
      while (ns[j]) j = (j + 1) & (ncap - 1);
      ns[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = ns;
    s->cap = ncap;
  }
  size_t j = set_hash(k, s->cap);
  while (s->slots[j]) {
    if (s->slots[j] == k) return 0;
    j = (j + 1) & (s->cap - 1);
  }
  s->slots[j] = k;
  s->n++;
  return 1;
}

/* --- loading ---------------------------------------------------------------------------- */

#define POP_PARAMS_PER_ROW 11

typedef struct loader {
  db_t *db;
  FILE *report;
  arena_t *arena;                  /* the current transaction's rows */
  population_resident_t *rows;     /* POPULATION_TXN_ROWS */
  size_t nrows;
  int64_t now;
  size_t batch;                    /* rows per INSERT statement */
  char *sql[POPULATION_BATCH_ROWS + 1];   /* the INSERT text for k rows, built once */
} loader_t;

static char *build_sql(size_t k)
{
  static const char head[] =
      "INSERT INTO residents_stage (cccd, full_name, birth_date, sex, perm_era, perm_code, perm_unit,"
      " cur_era, cur_code, cur_unit, household_id) VALUES ";
  size_t cap = sizeof head + k * 96;
  char *s = malloc(cap);
  if (!s) return NULL;
  size_t len = (size_t)snprintf(s, cap, "%s", head);
  for (size_t i = 0; i < k; i++) {
    int b = 1 + (int)i * POP_PARAMS_PER_ROW;
    len += (size_t)snprintf(s + len, cap - len, "%s($%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d)", i ? "," : "", b,
                            b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9, b + 10);
  }
  return s;
}

/* The staged rows go into the register in one statement, sorted by CCCD, so the
 * register's B-tree is written in key order instead of at random places. */
static int merge_stage(db_t *db, int64_t now)
{
  char sql[1536];
  snprintf(sql, sizeof sql,
           "INSERT INTO residents (cccd, full_name, birth_date, sex, perm_era, perm_code, perm_unit, cur_era,"
           " cur_code, cur_unit, household_id, updated_at) SELECT cccd, full_name, birth_date, sex, perm_era,"
           " perm_code, perm_unit, cur_era, cur_code, cur_unit, household_id, %lld FROM residents_stage"
           " WHERE true ORDER BY cccd ON CONFLICT (cccd) DO UPDATE SET full_name = excluded.full_name,"
           " birth_date = excluded.birth_date, sex = excluded.sex, perm_era = excluded.perm_era,"
           " perm_code = excluded.perm_code, perm_unit = excluded.perm_unit, cur_era = excluded.cur_era,"
           " cur_code = excluded.cur_code, cur_unit = excluded.cur_unit,"
           " household_id = excluded.household_id, updated_at = excluded.updated_at",
           (long long)now);
  return db_exec(db, sql);
}

static int write_batch(loader_t *L, const population_resident_t *r, size_t k)
{
  if (!L->sql[k] && !(L->sql[k] = build_sql(k))) return -1;
  db_stmt_t *st = db_prepare(L->db, L->sql[k]);
  if (!st) return -1;
  for (size_t i = 0; i < k; i++) {
    int b = 1 + (int)i * POP_PARAMS_PER_ROW;
    db_bind_text(st, b, r[i].cccd);
    db_bind_text(st, b + 1, r[i].full_name);
    db_bind_text(st, b + 2, r[i].birth_date);
    db_bind_text(st, b + 3, r[i].sex);
    db_bind_text(st, b + 4, r[i].perm_era);
    db_bind_text(st, b + 5, r[i].perm_code);
    db_bind_int64(st, b + 6, r[i].perm_unit);
    db_bind_text(st, b + 7, r[i].cur_era);
    db_bind_text(st, b + 8, r[i].cur_code);
    if (r[i].cur_unit)
      db_bind_int64(st, b + 9, r[i].cur_unit);
    else
      db_bind_null(st, b + 9);
    db_bind_text(st, b + 10, r[i].household);
  }
  int rc = db_step(st);
  db_stmt_done(st);
  return rc < 0 ? -1 : 0;
}

/* Stages the collected rows in one transaction. With an audit entry (the end): then
 * merges the stage into the register, appending the entry, in one more transaction. */
static int flush(loader_t *L, const audit_entry_t *audit)
{
  if (L->nrows == 0 && !audit) return 0;
  if (db_begin(L->db) < 0) return -1;
  size_t batch = L->batch;
  for (size_t i = 0; i < L->nrows; i += batch) {
    size_t k = L->nrows - i < batch ? L->nrows - i : batch;
    if (write_batch(L, L->rows + i, k) < 0) goto fail;
  }
  if (db_commit(L->db) < 0) goto fail;
  if (audit && (db_begin(L->db) < 0 || merge_stage(L->db, L->now) < 0 || audit_append(L->db, audit) < 0 ||
                db_commit(L->db) < 0))
    goto fail;
  L->nrows = 0;
  arena_free(L->arena);
  L->arena = arena_new(1 << 20);
  return L->arena ? 0 : -1;
fail:
  db_rollback(L->db);
  return -1;
}

static int atoi_safe(const char *s)
{
  int64_t v = 0;
  return text_parse_int64(s, 0, 1000000, &v) == 0 ? (int)v : -1;
}

static const char *adup(arena_t *a, const char *s) { return s ? arena_strdup(a, s) : NULL; }

static void keep(loader_t *L, const population_resident_t *r)
{
  population_resident_t *d = &L->rows[L->nrows++];
  arena_t *a = L->arena;
  d->cccd = adup(a, r->cccd);
  d->full_name = adup(a, r->full_name);
  d->birth_date = adup(a, r->birth_date);
  d->sex = r->sex;   /* static */
  d->perm_era = adup(a, r->perm_era);
  d->perm_code = adup(a, r->perm_code);
  d->perm_unit = r->perm_unit;
  d->cur_era = adup(a, r->cur_era);
  d->cur_code = adup(a, r->cur_code);
  d->cur_unit = r->cur_unit;
  d->household = adup(a, r->household);
}

static void report_row(FILE *rep, int64_t line, const char *cccd, const char *why)
{
  fprintf(rep, "%lld,\"", (long long)line);
  for (int i = 0; cccd && cccd[i] && i < 40; i++) {
    if (cccd[i] == '"') fputc('"', rep);
    if ((unsigned char)cccd[i] >= 0x20) fputc(cccd[i], rep);
  }
  fprintf(rep, "\",\"%s\"\n", why);
}

static void set_pragmas(db_t *db, bool bulk)
{
  if (db_kind(db) != DB_SQLITE) return;
  if (bulk)
    db_exec(db, "PRAGMA synchronous=OFF; PRAGMA cache_size=-1048576; PRAGMA temp_store=MEMORY");
  else
    db_exec(db, "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-2000; PRAGMA temp_store=DEFAULT");
}

static const char HEADER[] =
    "cccd,full_name,birth_date,sex,permanent_era,permanent_unit,current_era,current_unit,household_id";

int population_import(db_t *db, const units_cache_t *units, const char *path,
                      const char *report_path, FILE *progress, population_import_stats_t *stats)
{
  int rc = -1;
  loader_t L = {.db = db, .now = clock_now_ms(), .batch = POPULATION_BATCH_ROWS};
  bool staged = false;
  const char *bs = getenv("CITYOS_POP_BATCH");   /* benchmark knob */
  if (bs && atoi_safe(bs) > 0 && atoi_safe(bs) <= POPULATION_BATCH_ROWS) L.batch = (size_t)atoi_safe(bs);
  cccd_set_t seen = {0};
  char *line = malloc(POPULATION_LINE_MAX + 2);
  FILE *in = fopen(path, "r");
  memset(stats, 0, sizeof *stats);
  uint64_t t0 = clock_mono_ns();
  L.report = fopen(report_path, "w");
  L.rows = malloc(sizeof *L.rows * POPULATION_TXN_ROWS);
  L.arena = arena_new(1 << 20);
  if (!in) {
    fprintf(stderr, "population import: cannot open %s: %s\n", path, strerror(errno));
    goto done;
  }
  if (!L.report) {
    fprintf(stderr, "population import: cannot write the report %s: %s\n", report_path, strerror(errno));
    goto done;
  }
  if (!line || !L.rows || !L.arena) goto done;
  fprintf(L.report, "line,cccd,reason\n");
  if (!fgets(line, POPULATION_LINE_MAX + 2, in)) {
    fprintf(stderr, "population import: %s is empty\n", path);
    goto done;
  }
  line[strcspn(line, "\r\n")] = '\0';
  if (strncmp(line, "\xEF\xBB\xBF", 3) == 0) memmove(line, line + 3, strlen(line + 3) + 1);
  if (strcmp(line, HEADER) != 0) {
    fprintf(stderr, "population import: line 1 must be the header %s\n", HEADER);
    goto done;
  }
  set_pragmas(db, true);
  if (db_exec(db, "CREATE TEMP TABLE IF NOT EXISTS residents_stage (cccd TEXT, full_name TEXT, birth_date TEXT,"
                  " sex TEXT, perm_era TEXT, perm_code TEXT, perm_unit BIGINT, cur_era TEXT, cur_code TEXT,"
                  " cur_unit BIGINT, household_id TEXT)") < 0 ||
      db_exec(db, "DELETE FROM residents_stage") < 0) {
    fprintf(stderr, "population import: cannot make the staging table: %s\n", db_errmsg(db));
    goto done;
  }
  staged = true;
  int64_t lineno = 1;
  while (fgets(line, POPULATION_LINE_MAX + 2, in)) {
    lineno++;
    size_t len = strlen(line);
    bool too_long = len > POPULATION_LINE_MAX || (len == POPULATION_LINE_MAX + 1 && line[len - 1] != '\n');
    if (too_long) {
      int c;
      while ((c = fgetc(in)) != EOF && c != '\n') {}
    }
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0' && !too_long) {
      lineno--;   /* blank lines (e.g. at the end) are not rows */
      continue;
    }
    stats->lines++;
    population_row_t row;
    population_resident_t res = {0};
    const char *why = NULL;
    if (too_long) {
      why = "line longer than 4096 bytes";
    } else if (population_csv_split(line, &row, &why) == 0 &&
               population_validate(units, &row, &res, &why) == 0) {
      uint64_t key = strtoull(res.cccd, NULL, 10);
      int added = set_add(&seen, key);
      if (added < 0) goto done;
      if (added == 0) why = "CCCD appears earlier in this file";
    }
    if (why) {
      stats->rejected++;
      report_row(L.report, lineno, too_long ? NULL : line, why);
      continue;
    }
    keep(&L, &res);
    stats->loaded++;
    if (L.nrows == POPULATION_TXN_ROWS) {
      if (flush(&L, NULL) < 0) {
        fprintf(stderr, "population import: database error near line %lld: %s\n", (long long)lineno,
                db_errmsg(db));
        goto done;
      }
      if (progress) {
        double s = (double)(clock_mono_ns() - t0) / 1e9;
        fprintf(progress, "population: %lld lines, %lld loaded, %lld rejected, %.0f rows/s\n",
                (long long)stats->lines, (long long)stats->loaded, (long long)stats->rejected,
                s > 0 ? (double)stats->lines / s : 0.0);
        fflush(progress);
      }
    }
  }
  if (ferror(in)) {
    fprintf(stderr, "population import: read error on %s\n", path);
    goto done;
  }
  if (progress) {
    fprintf(progress, "population: %lld rows staged; merging them into the register in CCCD order...\n",
            (long long)stats->loaded);
    fflush(progress);
  }
  {
    arena_t *a = L.arena;
    audit_entry_t e = audit_entry_from_req(NULL, "population.import", "population", NULL);
    e.detail = audit_detail(a, json_pack("{s:I,s:I,s:I}", "lines", (json_int_t)stats->lines, "loaded",
                                         (json_int_t)stats->loaded, "rejected", (json_int_t)stats->rejected));
    if (flush(&L, &e) < 0) {
      fprintf(stderr, "population import: database error at the end: %s\n", db_errmsg(db));
      goto done;
    }
  }
  stats->seconds = (double)(clock_mono_ns() - t0) / 1e9;
  rc = 0;
done:
  if (staged) db_exec(db, "DROP TABLE IF EXISTS residents_stage");
  set_pragmas(db, false);
  if (in) fclose(in);
  if (L.report) fclose(L.report);
  if (L.arena) arena_free(L.arena);
  for (size_t i = 0; i <= POPULATION_BATCH_ROWS; i++) free(L.sql[i]);
  free(L.rows);
  free(line);
  free(seen.slots);
  return rc;
}
