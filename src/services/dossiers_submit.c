/*
 * dossiers_submit.c - POST /api/v1/dossiers: online submission by a citizen, counter or
 * post submission by an officer on a citizen's behalf. One transaction: the per-unit
 * per-day counter (row-locked upsert, so several nodes on one PostgreSQL never issue the
 * same code), the dossier, its attachments (stored once by SHA-256), the first events,
 * the audit entry.
 */
#include "base/common.h"
#include "services/dossiers_internal.h"
#include "services/calendar.h"
#include "services/procedures.h"
#include "audit/audit.h"
#include "base/cccd.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "http/auth.h"
#include "identity/identity.h"
#include "units/units.h"
#include <sodium.h>

#define MAX_ATTACHMENTS 10
#define MAX_ATTACHMENT_BYTES (5u << 20)

typedef struct {
  const char *name, *type;
  unsigned char *data;   /* NULL for a reused document */
  size_t len;
  char hash[65];
  const char *origin;    /* "upload" or "reuse:<dossier code>" */
} upload_t;

static int reply_field(http_req_t *req, const char *field, const char *msg) {
  http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", field), "%s", msg);
  return -1;
}

static bool magic_ok(const char *type, const unsigned char *d, size_t n) {
  if (!strcmp(type, "application/pdf")) return n >= 5 && !memcmp(d, "%PDF-", 5);
  if (!strcmp(type, "image/jpeg")) return n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF;
  if (!strcmp(type, "image/png")) return n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8);
  return false;
}

/* Decodes and checks the attachments array; answers 422 itself on failure. */
static int parse_uploads(http_req_t *req, const json_t *arr, upload_t *up, size_t *n) {
  *n = 0;
  if (!arr) return 0;
  if (!json_is_array(arr) || json_array_size(arr) > MAX_ATTACHMENTS)
    return reply_field(req, "attachments", "attachments must be an array of at most 10 files");
  size_t i;
  json_t *a;
  json_array_foreach(arr, i, a) {
    char field[48];
    snprintf(field, sizeof field, "attachments[%zu]", i);
    const char *name = json_get_str(a, "name"), *type = json_get_str(a, "content_type"), *b64 = json_get_str(a, "data");
    if (!name || !*name || strlen(name) > 200 || !text_utf8_valid(name, strlen(name)) || strchr(name, '/'))
      return reply_field(req, field, "name must be a file name of 1-200 characters");
    for (size_t j = 0; j < i; j++)
      if (!strcmp(up[j].name, name)) return reply_field(req, field, "two attachments have the same name");
    const char *reuse = json_get_str(a, "reuse");
    if (reuse) {   /* a document from the applicant's earlier dossiers (checked in the transaction) */
      bool hex = strlen(reuse) == 64;
      for (size_t k = 0; hex && k < 64; k++) hex = (reuse[k] >= '0' && reuse[k] <= '9') || (reuse[k] >= 'a' && reuse[k] <= 'f');
      if (!hex) return reply_field(req, field, "reuse must be the sha256 of one of your earlier documents");
      memcpy(up[i].hash, reuse, 65);
      up[i].name = name;
      up[i].data = NULL;
      up[i].len = 0;
      up[i].type = NULL;
      (*n)++;
      continue;
    }
    if (!type || (strcmp(type, "application/pdf") && strcmp(type, "image/jpeg") && strcmp(type, "image/png")))
      return reply_field(req, field, "content_type must be application/pdf, image/jpeg or image/png");
    size_t b64len = b64 ? strlen(b64) : 0;
    if (b64len == 0 || b64len > (MAX_ATTACHMENT_BYTES / 3 + 1) * 4)
      return reply_field(req, field, "data must be base64 of at most 5 MiB");
    up[i].data = arena_alloc(req->arena, b64len);
    if (sodium_base642bin(up[i].data, b64len, b64, b64len, NULL, &up[i].len, NULL, sodium_base64_VARIANT_ORIGINAL) ||
        up[i].len == 0 || up[i].len > MAX_ATTACHMENT_BYTES)
      return reply_field(req, field, "data must be base64 of at most 5 MiB");
    if (!magic_ok(type, up[i].data, up[i].len))
      return reply_field(req, field, "the file's content does not match its content_type");
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, up[i].data, up[i].len);
    text_hex(digest, sizeof digest, up[i].hash);
    up[i].name = name;
    up[i].type = type;
    up[i].origin = "upload";
    (*n)++;
  }
  return 0;
}

/* Next number of the unit's day; -1 on error. Row-locked on PostgreSQL until commit. */
static int64_t next_number(db_t *db, const char *unit_code, const char *day) {
  db_stmt_t *st = db_prepare(db, "INSERT INTO dossier_counters (unit_code, day, n) VALUES ($1, $2, 1) "
                                 "ON CONFLICT (unit_code, day) DO UPDATE SET n = dossier_counters.n + 1 "
                                 "RETURNING n");
  if (!st) return -1;
  int64_t n = -1;
  if (!db_bind_text(st, 1, unit_code) && !db_bind_text(st, 2, day) && db_step(st) == DB_ROW) n = db_col_int64(st, 0);
  db_stmt_done(st);
  return n;
}

/* Resolves reused documents: each must be in the applicant's warehouse (same CCCD): an
 * upload of an earlier dossier, or a result or e-receipt issued to them. Sets origin;
 * returns the index of a bad one, -1 when all are fine, -2 on a database error. */
static int resolve_reuse(arena_t *a, db_t *db, const char *cccd, upload_t *up, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (up[i].data) continue;
    int rc = dossier_warehouse_resolve(a, db, cccd, up[i].hash, &up[i].origin);
    if (rc < 0) return -2;
    if (rc == 0) return (int)i;
  }
  return -1;
}

static int store_uploads(db_t *db, int64_t dossier_id, const upload_t *up, size_t n, int64_t now) {
  for (size_t i = 0; i < n; i++) {
    db_stmt_t *st;
    if (up[i].data) {   /* a new file: stored once by content hash */
      st = db_prepare(db, "INSERT INTO attachments (hash, size, content_type, body, created_at) "
                          "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING");
      if (!st || db_bind_text(st, 1, up[i].hash) || db_bind_int64(st, 2, (int64_t)up[i].len) ||
          db_bind_text(st, 3, up[i].type) || db_bind_blob(st, 4, up[i].data, up[i].len) ||
          db_bind_int64(st, 5, now) || db_step(st) != DB_DONE) {
        if (st) db_stmt_done(st);
        return -1;
      }
      db_stmt_done(st);
    }
    st = db_prepare(db, "INSERT INTO dossier_attachments (dossier_id, hash, name, origin) VALUES ($1, $2, $3, $4)");
    if (!st || db_bind_int64(st, 1, dossier_id) || db_bind_text(st, 2, up[i].hash) || db_bind_text(st, 3, up[i].name) ||
        db_bind_text(st, 4, up[i].origin) || db_step(st) != DB_DONE) {
      if (st) db_stmt_done(st);
      return -1;
    }
    db_stmt_done(st);
  }
  return 0;
}

void services_dossier_submit(http_req_t *req) {
  app_t *app = req->app;
  const principal_t *p = req->principal;
  json_t *body = http_body_object(req);
  if (!body) return;
  const char *proc_code = json_get_str(body, "procedure"), *unit_code = json_get_str(body, "unit");
  const char *channel = json_get_str(body, "channel");
  const json_t *form = json_object_get(body, "form");
  bool citizen = p->kind == PRINCIPAL_CITIZEN;
  if (!channel) channel = citizen ? "online" : "counter";
  if (citizen ? strcmp(channel, "online") : (strcmp(channel, "counter") && strcmp(channel, "post"))) {
    reply_field(req, "channel", citizen ? "citizens submit online" : "channel must be counter or post");
    return;
  }
  if (!proc_code) {
    reply_field(req, "procedure", "procedure (its code) is required");
    return;
  }
  const unit_t *unit = unit_code ? units_by_code(app->units, units_active_era(app->units), unit_code) : NULL;
  if (!unit) {
    reply_field(req, "unit", "unit must be the code of a unit of the active era");
    return;
  }
  const char *cccd = citizen ? p->cccd : NULL, *name = citizen ? p->display_name : NULL;
  if (!citizen) {
    const json_t *ap = json_object_get(body, "applicant");
    cccd = json_get_str(ap, "cccd");
    name = json_get_str(ap, "name");
    bool ok = cccd && strlen(cccd) == 12;
    for (size_t i = 0; ok && i < 12; i++) ok = cccd[i] >= '0' && cccd[i] <= '9';
    if (!ok) {
      reply_field(req, "applicant.cccd", "the applicant's 12-digit CCCD is required at the counter");
      return;
    }
    if (!name || !*name || strlen(name) > 100) {
      reply_field(req, "applicant.name", "the applicant's name is required (at most 100 bytes)");
      return;
    }
    if (!identity_can(app, p, "dossiers.receive", unit->id)) {
      http_reply_error(req, ERR_FORBIDDEN, "You cannot receive dossiers for this unit");
      return;
    }
  }
  if (!cccd || !name) {
    http_reply_error(req, ERR_FORBIDDEN, "Only citizens and officers submit dossiers");
    return;
  }
  upload_t up[MAX_ATTACHMENTS];
  size_t nup;
  if (parse_uploads(req, json_object_get(body, "attachments"), up, &nup) < 0) return;

  db_t *db = db_pool_acquire(app->db);
  calendar_t *cal = NULL;
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  json_t *proc = dossier_procedure(req, db, proc_code, "procedure");
  if (!proc) goto done;
  bool level_ok = false;
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(proc, "levels"), i, v) if (!strcmp(json_string_value(v), unit->level)) level_ok = true;
  if (!level_ok) {
    reply_field(req, "unit", "this procedure is not received at that unit's level");
    goto done;
  }
  const char *bad_field = NULL;
  char why[256];
  if (proc_form_check(json_object_get(proc, "form"), form ? form : json_object(), &bad_field, why, sizeof why) < 0) {
    char *f = arena_printf(req->arena, "form.%s", bad_field ? bad_field : "");
    http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", f), "%s", why);
    goto done;
  }
  if (!(cal = services_calendar(req, db))) goto done;
  const json_t *wf = json_object_get(proc, "workflow_definition");
  const char *initial = json_string_value(json_object_get(wf, "initial"));
  int init_status = (int)json_integer_value(json_object_get(dossier_wf_state(wf, initial), "status"));
  int64_t now = clock_now_ms();
  int days = (int)json_integer_value(json_object_get(proc, "days"));
  int64_t due = calendar_due(cal, now, days);
  int64_t step_due = dossier_step_due(cal, dossier_wf_state(wf, initial), days, now, due);
  int y, m, d;
  calendar_ymd(calendar_jdn_of_ms(now), &y, &m, &d);
  char day[8];
  snprintf(day, sizeof day, "%02d%02d%02d", y % 100, m, d);
  char *form_text = json_dumps(form ? form : json_object(), JSON_COMPACT | JSON_SORT_KEYS);
  char *form_copy = arena_strdup(req->arena, form_text ? form_text : "{}");
  free(form_text);
  if (db_begin(db)) goto db_fail;
  /* A counter submission for a citizen who has an account shows in their dossiers. */
  int64_t applicant_id = citizen ? p->account_id : 0;
  if (!citizen) {
    db_stmt_t *as = db_prepare(db, "SELECT id FROM accounts WHERE cccd = $1 AND kind = 'citizen'");
    if (!as || db_bind_text(as, 1, cccd)) {
      if (as) db_stmt_done(as);
      goto db_fail;
    }
    if (db_step(as) == DB_ROW) applicant_id = db_col_int64(as, 0);
    db_stmt_done(as);
  }
  int bad_reuse = resolve_reuse(req->arena, db, cccd, up, nup);
  if (bad_reuse == -2) goto db_fail;
  if (bad_reuse >= 0) {
    db_rollback(db);
    reply_field(req, arena_printf(req->arena, "attachments[%d]", bad_reuse),
                "reuse must be the sha256 of a document from one of the applicant's earlier dossiers");
    goto done;
  }
  int64_t n = next_number(db, unit->code, day);
  if (n < 0) goto db_fail;
  char *code = arena_printf(req->arena, "%s-%s-%04" PRId64, unit->code, day, n);
  db_stmt_t *st = db_prepare(db, "INSERT INTO dossiers (code, procedure_code, unit_id, holder_unit_id, state, status, "
                                 "channel, applicant_account_id, applicant_cccd, applicant_name, form, submitted_at, "
                                 "due_at, created_by, updated_at, step_state, step_started_at, step_due_at) "
                                 "VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $11, $14, $15, $16) "
                                 "RETURNING id");
  if (!st || db_bind_text(st, 1, code) || db_bind_text(st, 2, json_string_value(json_object_get(proc, "code"))) ||
      db_bind_int64(st, 3, unit->id) || db_bind_text(st, 4, initial) || db_bind_int64(st, 5, init_status) ||
      db_bind_text(st, 6, channel) || (applicant_id ? db_bind_int64(st, 7, applicant_id) : db_bind_null(st, 7)) ||
      db_bind_text(st, 8, cccd) || db_bind_text(st, 9, name) || db_bind_text(st, 10, form_copy) ||
      db_bind_int64(st, 11, now) || db_bind_int64(st, 12, due) || db_bind_int64(st, 13, p->account_id) ||
      db_bind_text(st, 14, step_due ? initial : NULL) ||
      (step_due ? db_bind_int64(st, 15, now) : db_bind_null(st, 15)) ||
      (step_due ? db_bind_int64(st, 16, step_due) : db_bind_null(st, 16)) || db_step(st) != DB_ROW) {
    if (st) db_stmt_done(st);
    goto db_fail;
  }
  int64_t id = db_col_int64(st, 0);
  db_stmt_done(st);
  if (dossier_event_step(db, id, p, "submit", NULL, 0, initial, init_status, unit->id, NULL, now, step_due) ||
      store_uploads(db, id, up, nup, now))
    goto db_fail;
  audit_entry_t e = audit_entry_from_req(req, "dossier.submit", "dossier", code);
  e.unit_id = unit->id;
  e.detail = audit_detail(req->arena, json_pack("{s:s, s:s, s:I}", "procedure", proc_code, "channel", channel,
                                                "attachments", (json_int_t)nup));
  if (audit_append(db, &e) || db_commit(db)) goto db_fail;
  dossier_t dd;
  if (dossier_load(req->arena, db, code, &dd) != 1) goto db_fail;
  json_t *out = dossier_full_json(app, &dd);
  json_object_set_new(out, "timeline", dossier_timeline(db, id, true));
  http_reply_json(req, 201, out);
  goto done;
db_fail:
  log_error(req->request_id, "msg=\"dossier submit failed\" err=\"%s\"", db_errmsg(db));
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  json_decref(proc);
  calendar_free(cal);
  db_pool_release(app->db, db);
}
