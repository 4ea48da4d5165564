/*
 * population.h - the population register: the city's copy of the national population
 * data it may hold, one row per resident keyed by CCCD.
 *
 * Table `residents` (module "population", order 100):
 *   cccd (12 digits, primary key), full_name, birth_date "YYYY-MM-DD", sex
 *   "male"|"female", permanent address (era, unit code, unit id), current address
 *   (era, unit code, unit id; empty when the same as or unknown), household_id, updated_at.
 * Unit codes are kept with their era because the register holds addresses written in
 * either era (2024 three-level, 2025 two-level); the unit id points at units(id).
 *
 * Import CSV (UTF-8, header required, columns in this order):
 *   cccd,full_name,birth_date,sex,permanent_era,permanent_unit,current_era,current_unit,household_id
 * sex is male|female|M|F; current_era/current_unit may both be empty; household_id may
 * be empty. Fields may be double-quoted ("" escapes a quote). Every row is validated
 * (cccd_validate against birth date and sex, known unit code in that era, name valid
 * UTF-8 of 1..200 bytes, no CCCD twice in the file); a bad row is written to the
 * report (line,cccd,reason) and the import goes on. Good rows are upserted by CCCD in
 * transactions of POPULATION_TXN_ROWS rows, with multi-row INSERTs through cached
 * prepared statements; on SQLite the connection runs with synchronous=OFF and a large
 * page cache during the load (restored after). One audit entry "population.import"
 * (counts only) is appended in the last transaction.
 *
 * Lookups: GET /api/v1/population/{cccd} (permission population.read, held at a unit
 * covering the resident's permanent or current unit). Every lookup, found or not, is
 * audited ("population.read") in the same transaction as the read.
 */
#ifndef CITYOS_POPULATION_H
#define CITYOS_POPULATION_H

#include "base/common.h"
#include "store/db.h"
#include "http/http.h"
#include "units/units.h"

#define POPULATION_COLUMNS 9
#define POPULATION_TXN_ROWS 50000
#define POPULATION_BATCH_ROWS 100     /* rows per multi-row INSERT */
#define POPULATION_NAME_MAX 200
#define POPULATION_LINE_MAX 4096
#define POPULATION_HOUSEHOLD_MAX 32

/* One parsed CSV row; fields point into a caller-owned buffer. */
typedef struct population_row {
  const char *field[POPULATION_COLUMNS];
} population_row_t;

/* A validated row ready for insert; fields point into the row's buffer. */
typedef struct population_resident {
  const char *cccd;
  const char *full_name;
  const char *birth_date;
  const char *sex;              /* "male" | "female" */
  const char *perm_era, *perm_code;
  int64_t perm_unit;
  const char *cur_era, *cur_code;   /* NULL when empty */
  int64_t cur_unit;                 /* 0 when empty */
  const char *household;            /* NULL when empty */
} population_resident_t;

/* Splits one CSV line (without its newline) in place into exactly POPULATION_COLUMNS
 * fields, unquoting quoted ones. Returns 0, or -1 with *why set (wrong field count,
 * unterminated quote). Pure. */
int population_csv_split(char *line, population_row_t *row, const char **why);

/* Validates a row against the units cache (units may be NULL: then any unit code is
 * refused). 0 with *out filled, or -1 with a reason (static English text) in *why. */
int population_validate(const units_cache_t *units, const population_row_t *row,
                        population_resident_t *out, const char **why);

typedef struct population_import_stats {
  int64_t lines;       /* data lines read (header excluded) */
  int64_t loaded;      /* rows written */
  int64_t rejected;    /* rows written to the report */
  double seconds;
} population_import_stats_t;

/* Imports path into the register. report_path receives the bad rows (created even
 * when empty). progress (may be NULL) gets a line per transaction. Returns 0 (some
 * rows may have been rejected: see stats) or -1 (file unreadable or database error:
 * the transaction in progress is rolled back; earlier ones stay). */
int population_import(db_t *db, const units_cache_t *units, const char *path,
                      const char *report_path, FILE *progress, population_import_stats_t *stats);

const db_migration_t *population_migrations(db_kind_t kind, size_t *n);
const http_route_t *population_routes(size_t *n);

#endif
