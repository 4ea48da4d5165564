/*
 * procedures_store.c - the catalog in the database: import (all or nothing), export,
 * lookup (see procedures.h), and `cityos procedures import|export`.
 */
#include "base/common.h"
#include "services/procedures.h"
#include "services/services_internal.h"
#include "base/log.h"
#include "base/text.h"

static char *dump(const json_t *v) { return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER); }

long proc_import_doc(db_t *db, const json_t *doc, char *why, size_t whylen) {
  if (proc_catalog_validate(doc, NULL, why, whylen) < 0) return -1;
  int64_t now = clock_now_ms();
  size_t i;
  json_t *v;
  db_stmt_t *st = NULL;
  char *body = NULL;
  json_array_foreach(json_object_get(doc, "workflows"), i, v) {
    st = db_prepare(db, "INSERT INTO proc_workflows (id, body, updated_at) VALUES ($1, $2, $3) "
                        "ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at");
    body = dump(v);
    if (!st || !body || db_bind_text(st, 1, json_string_value(json_object_get(v, "id"))) ||
        db_bind_text(st, 2, body) || db_bind_int64(st, 3, now) || db_step(st) != DB_DONE)
      goto db_fail;
    db_stmt_done(st);
    free(body);
    st = NULL;
    body = NULL;
  }
  json_array_foreach(json_object_get(doc, "procedures"), i, v) {
    char folded[1024], levels[64] = "";
    if (text_fold(json_string_value(json_object_get(v, "name")), folded, sizeof folded) < 0) folded[0] = 0;
    size_t k;
    json_t *l;
    json_array_foreach(json_object_get(v, "levels"), k, l) {
      size_t n = strlen(levels);
      snprintf(levels + n, sizeof levels - n, "%s%s", n ? "," : "", json_string_value(l));
    }
    st = db_prepare(db, "INSERT INTO procedures (code, name, name_folded, field, levels, days, online, workflow, "
                        "body, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                        "ON CONFLICT (code) DO UPDATE SET name = excluded.name, name_folded = excluded.name_folded, "
                        "field = excluded.field, levels = excluded.levels, days = excluded.days, "
                        "online = excluded.online, workflow = excluded.workflow, body = excluded.body, "
                        "updated_at = excluded.updated_at");
    body = dump(v);
    if (!st || !body || db_bind_text(st, 1, json_string_value(json_object_get(v, "code"))) ||
        db_bind_text(st, 2, json_string_value(json_object_get(v, "name"))) || db_bind_text(st, 3, folded) ||
        db_bind_text(st, 4, json_string_value(json_object_get(v, "field"))) || db_bind_text(st, 5, levels) ||
        db_bind_int64(st, 6, json_integer_value(json_object_get(v, "days"))) ||
        db_bind_text(st, 7, json_string_value(json_object_get(v, "online"))) ||
        db_bind_text(st, 8, json_string_value(json_object_get(v, "workflow"))) || db_bind_text(st, 9, body) ||
        db_bind_int64(st, 10, now) || db_step(st) != DB_DONE)
      goto db_fail;
    db_stmt_done(st);
    free(body);
    st = NULL;
    body = NULL;
  }
  return (long)json_array_size(json_object_get(doc, "procedures"));
db_fail:
  snprintf(why, whylen, "database: %s", db_errmsg(db));
  if (st) db_stmt_done(st);
  free(body);
  return -1;
}

long proc_import_file(db_t *db, const char *path, FILE *out) {
  char why[512];
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  json_t *doc = NULL;
  long rc = -1;
  if (!f) {
    fprintf(stderr, "cityos procedures import: %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 8u << 20, len = 0;   /* a catalog file is at most 8 MiB */
  text = malloc(cap + 1);
  if (text) len = fread(text, 1, cap + 1, f);
  fclose(f);
  if (!text || len > cap) {
    fprintf(stderr, "cityos procedures import: %s: larger than 8 MiB\n", path);
    goto done;
  }
  text[len] = 0;
  json_error_t je;
  doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!doc) {
    fprintf(stderr, "cityos procedures import: %s line %d column %d: %s\n", path, je.line, je.column, je.text);
    goto done;
  }
  if (proc_catalog_validate(doc, text, why, sizeof why) < 0) {
    fprintf(stderr, "cityos procedures import: %s %s\n", path, why);
    goto done;
  }
  if (db_begin(db) < 0 || (rc = proc_import_doc(db, doc, why, sizeof why)) < 0 || db_commit(db) < 0) {
    fprintf(stderr, "cityos procedures import: %s\n", rc < 0 ? why : db_errmsg(db));
    db_rollback(db);
    rc = -1;
    goto done;
  }
  if (out)
    fprintf(out, "imported %zu workflows and %ld procedures from %s\n",
            json_array_size(json_object_get(doc, "workflows")), rc, path);
done:
  json_decref(doc);
  free(text);
  return rc;
}

/* Appends every row's body (column 0) parsed as JSON to arr. */
static int collect(db_t *db, const char *sql, json_t *arr) {
  db_stmt_t *st = db_prepare(db, sql);
  if (!st) return -1;
  int rc;
  while ((rc = db_step(st)) == DB_ROW) {
    json_t *v = json_loads(db_col_text(st, 0), 0, NULL);
    if (v) json_array_append_new(arr, v);
  }
  db_stmt_done(st);
  return rc < 0 ? -1 : 0;
}

json_t *proc_export(db_t *db) {
  json_t *wfs = json_array(), *prs = json_array();
  if (collect(db, "SELECT body FROM proc_workflows ORDER BY id", wfs) < 0 ||
      collect(db, "SELECT body FROM procedures ORDER BY code", prs) < 0) {
    json_decref(wfs);
    json_decref(prs);
    return NULL;
  }
  return json_pack("{s:s, s:o, s:o}", "format", PROC_FORMAT, "workflows", wfs, "procedures", prs);
}

int proc_get(db_t *db, const char *code, json_t **out) {
  *out = NULL;
  db_stmt_t *st = db_prepare(db, "SELECT p.body, w.body FROM procedures p JOIN proc_workflows w ON w.id = p.workflow "
                                 "WHERE p.code = $1");
  if (!st) return -1;
  int rc = -1;
  if (db_bind_text(st, 1, code)) goto done;
  int s = db_step(st);
  if (s == DB_DONE) {
    rc = 0;
  } else if (s == DB_ROW) {
    *out = json_loads(db_col_text(st, 0), 0, NULL);
    json_t *wf = json_loads(db_col_text(st, 1), 0, NULL);
    if (*out && wf) {
      json_object_set_new(*out, "workflow_definition", wf);
      rc = 1;
    } else {
      json_decref(wf);
      json_decref(*out);
      *out = NULL;
    }
  }
done:
  db_stmt_done(st);
  return rc;
}

/* --- cityos procedures ------------------------------------------------------------------ */

int services_cli_procedures(app_t *app, int argc, char **argv) {
  if (cli_wants_help(argc, argv) || argc < 2) {
    printf("Usage:\n"
           "  cityos procedures import FILE     validate and store a catalog (all or nothing;\n"
           "                                   an error names the line and the JSON path)\n"
           "  cityos procedures export [FILE]   write the stored catalog (default: stdout)\n"
           "  cityos procedures check FILE      validate only\n"
           "The format is described in docs/SERVICES.md; data/procedures/hanoi.json is the\n"
           "starter catalog.\n");
    return argc < 2 && !cli_wants_help(argc, argv) ? 2 : 0;
  }
  int rc = 2;
  db_t *db = NULL;
  if (!strcmp(argv[1], "check") && argc == 3) {
    json_error_t je;
    json_t *doc = json_load_file(argv[2], JSON_REJECT_DUPLICATES, &je);
    char why[512];
    if (!doc) {
      fprintf(stderr, "cityos procedures check: %s line %d column %d: %s\n", argv[2], je.line, je.column, je.text);
      return 1;
    }
    FILE *f = fopen(argv[2], "rb");
    char *text = NULL;
    size_t n = 0;
    if (f) {
      text = calloc(1, 8u << 20);
      if (text) n = fread(text, 1, (8u << 20) - 1, f);
      fclose(f);
    }
    (void)n;
    rc = proc_catalog_validate(doc, text, why, sizeof why) < 0 ? 1 : 0;
    if (rc) fprintf(stderr, "cityos procedures check: %s %s\n", argv[2], why);
    else printf("%s: %zu workflows, %zu procedures: valid\n", argv[2],
                json_array_size(json_object_get(doc, "workflows")), json_array_size(json_object_get(doc, "procedures")));
    free(text);
    json_decref(doc);
    return rc;
  }
  db = db_pool_acquire(app->db);
  if (!db) {
    fprintf(stderr, "cityos procedures: no database connection\n");
    return 1;
  }
  if (!strcmp(argv[1], "import") && argc == 3) {
    rc = proc_import_file(db, argv[2], stdout) < 0 ? 1 : 0;
  } else if (!strcmp(argv[1], "export") && argc <= 3) {
    json_t *doc = proc_export(db);
    rc = 1;
    if (!doc) {
      fprintf(stderr, "cityos procedures export: %s\n", db_errmsg(db));
    } else if (argc == 3) {
      rc = json_dump_file(doc, argv[2], JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? 0 : 1;
      if (rc) fprintf(stderr, "cityos procedures export: cannot write %s\n", argv[2]);
    } else {
      rc = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? 0 : 1;
      printf("\n");
    }
    json_decref(doc);
  } else {
    fprintf(stderr, "cityos procedures: expected import FILE, export [FILE] or check FILE\n");
  }
  db_pool_release(app->db, db);
  return rc;
}
