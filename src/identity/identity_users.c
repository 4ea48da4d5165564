#include "base/common.h"
#include "identity/identity.h"
#include "identity/identity_internal.h"
#include "base/log.h"
#include "base/text.h"

#include <sodium.h>

/*
 * Account administration over HTTP: list, read, create, change.
 * Reads of other people's accounts are personal-data reads: each request appends one
 * audit entry (in a transaction with the read). An account outside the caller's units
 * answers 404, so its existence is not revealed.
 */

#define IDENTITY_Q_MAX 100

/* --- account JSON ------------------------------------------------------------------- */

json_t *identity_user_json(const app_t *app, db_t *db, int64_t id, int64_t *unit_id, bool *dberr)
{
  json_t *u = NULL;
  int s;
  *dberr = false;
  db_stmt_t *st = db_prepare(db, "SELECT id, kind, username, full_name, cccd, birth_date, sex, unit_id,"
                                 " status, created_at, updated_at, locked_until, failed_count"
                                 " FROM accounts WHERE id = $1");
  if (!st || db_bind_int64(st, 1, id)) goto db_fail;
  s = db_step(st);
  if (s < 0) goto db_fail;
  if (s != DB_ROW) goto done;
  if (unit_id) *unit_id = db_col_int64(st, 7);
  u = json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:o, s:s, s:I, s:I, s:o, s:I}",
                "id", (json_int_t)db_col_int64(st, 0), "kind", db_col_text(st, 1),
                "username", db_col_text(st, 2), "full_name", db_col_text(st, 3),
                "cccd", db_col_text(st, 4), "birth_date", db_col_text(st, 5),
                "sex", db_col_text(st, 6), "unit", identity_unit_json(app, db_col_int64(st, 7)),
                "status", db_col_text(st, 8), "created_at", (json_int_t)db_col_int64(st, 9),
                "updated_at", (json_int_t)db_col_int64(st, 10),
                "locked_until", db_col_is_null(st, 11) ? json_null() : json_integer(db_col_int64(st, 11)),
                "failed_count", (json_int_t)db_col_int64(st, 12));
  db_stmt_done(st);
  st = NULL;
  json_t *roles = identity_roles_json(app, db, id);
  if (!roles) {
    json_decref(u);
    u = NULL;
    *dberr = true;
    goto done;
  }
  json_object_set_new(u, "roles", roles);
  goto done;

db_fail:
  log_error(NULL, "msg=\"reading account failed\" err=\"%s\"", db_errmsg(db));
  *dberr = true;
done:
  if (st) db_stmt_done(st);
  return u;
}

static bool identity_path_id(http_req_t *req, int64_t *id)
{
  const char *s = http_param(req, "id");
  if (!s || text_parse_int64(s, 1, INT64_MAX, id) != 0) {
    http_reply_error(req, ERR_NOT_FOUND, "No such account");
    return false;
  }
  return true;
}

/* --- list ------------------------------------------------------------------------- */

static const char IDENTITY_LIST_WHERE_SQLITE[] =
  " FROM accounts WHERE (CAST($1 AS TEXT) IS NULL OR kind = CAST($1 AS TEXT))"
  " AND (CAST($2 AS TEXT) IS NULL OR unit_id IN (SELECT value FROM json_each(CAST($2 AS TEXT))))"
  " AND (CAST($3 AS TEXT) IS NULL OR name_folded LIKE CAST($3 AS TEXT) ESCAPE '\\'"
  "      OR username LIKE CAST($4 AS TEXT) ESCAPE '\\')";

static const char IDENTITY_LIST_WHERE_PG[] =
  " FROM accounts WHERE (CAST($1 AS TEXT) IS NULL OR kind = CAST($1 AS TEXT))"
  " AND (CAST($2 AS TEXT) IS NULL OR unit_id IN"
  "      (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(CAST($2 AS TEXT) AS JSON))))"
  " AND (CAST($3 AS TEXT) IS NULL OR name_folded LIKE CAST($3 AS TEXT) ESCAPE '\\'"
  "      OR username LIKE CAST($4 AS TEXT) ESCAPE '\\')";

/* "%q%" with LIKE's wildcards escaped. */
static char *identity_like_pattern(arena_t *a, const char *q)
{
  size_t len = strlen(q);
  char *out = arena_alloc(a, 2 * len + 3), *w = out;
  *w++ = '%';
  for (size_t i = 0; i < len; i++) {
    if (q[i] == '%' || q[i] == '_' || q[i] == '\\') *w++ = '\\';
    *w++ = q[i];
  }
  *w++ = '%';
  *w = '\0';
  return out;
}

/* like: the folded name pattern; ulike: the user name pattern (user names keep their
 * dots, dashes and underscores, which folding would turn into spaces). */
static int identity_bind_list(db_stmt_t *st, const char *kind, const char *scope, const char *like,
                              const char *ulike)
{
  return db_bind_text(st, 1, kind) || db_bind_text(st, 2, scope) || db_bind_text(st, 3, like) ||
         db_bind_text(st, 4, ulike);
}

/* The unit of a list read for the audit log: the filter's unit, else the one unit
 * where the caller holds perm (so that unit's administrators see the read), else 0. */
static int64_t identity_single_grant_unit(const principal_t *p, const char *perm)
{
  int64_t unit = 0;
  for (size_t i = 0; p && i < p->ngrants; i++) {
    const grant_t *g = &p->grants[i];
    if (strcmp(g->permission, perm) != 0 && strcmp(g->permission, "*") != 0) continue;
    if (g->unit_id == 0 || (unit && unit != g->unit_id)) return 0;
    unit = g->unit_id;
  }
  return unit;
}

void identity_h_users_list(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  db_stmt_t *st = NULL;
  json_t *items = NULL;
  identity_scope_t scope;
  int limit, offset, s;
  int64_t unit_id = 0, total = 0;
  const char *like = NULL, *ulike = NULL;

  if (http_page(req, 50, 500, &limit, &offset) != 0) goto done;
  const char *kind = http_query(req, "kind");
  const char *unit = http_query(req, "unit");
  const char *q = http_query(req, "q");
  if (kind && !*kind) kind = NULL;
  if (unit && !*unit) unit = NULL;
  if (q && !*q) q = NULL;
  if (kind && strcmp(kind, "citizen") != 0 && strcmp(kind, "official") != 0 &&
      strcmp(kind, "client") != 0) {
    identity_reply_field(req, "kind", "kind must be citizen, official or client");
    goto done;
  }
  if (unit && identity_unit_by_code(app, unit, &unit_id) != 0) {
    identity_reply_field(req, "unit", "No unit with code %s in the active era", unit);
    goto done;
  }
  if (q) {
    if (strlen(q) > IDENTITY_Q_MAX) {
      identity_reply_field(req, "q", "q is longer than %d bytes", IDENTITY_Q_MAX);
      goto done;
    }
    const char *folded = text_fold_arena(req->arena, q);
    if (!folded) {
      identity_reply_field(req, "q", "q is not valid UTF-8");
      goto done;
    }
    if (*folded) {
      char uname[IDENTITY_Q_MAX + 1];
      like = identity_like_pattern(req->arena, folded);
      ulike = identity_username_normalize(q, uname, sizeof uname)
                ? identity_like_pattern(req->arena, uname) : like;
    }
  }
  identity_scope(req->arena, app, req->principal, "users.read", unit_id, &scope);
  const char *scope_json = scope.everywhere ? NULL : scope.json;
  const char *where = NULL;

  db = identity_req_db(req);
  if (!db) goto done;
  where = db_kind(db) == DB_POSTGRES ? IDENTITY_LIST_WHERE_PG : IDENTITY_LIST_WHERE_SQLITE;
  items = json_array();
  if (db_begin(db)) goto db_fail;
  st = db_prepare(db, arena_printf(req->arena, "SELECT COUNT(*)%s", where));
  if (!st || identity_bind_list(st, kind, scope_json, like, ulike) || db_step(st) != DB_ROW) goto db_fail;
  total = db_col_int64(st, 0);
  db_stmt_done(st);
  st = db_prepare(db, arena_printf(req->arena,
                                   "SELECT id, kind, username, full_name, cccd, unit_id, status, created_at"
                                   "%s ORDER BY id LIMIT $5 OFFSET $6", where));
  if (!st || identity_bind_list(st, kind, scope_json, like, ulike) || db_bind_int64(st, 5, limit) ||
      db_bind_int64(st, 6, offset))
    goto db_fail;
  while ((s = db_step(st)) == DB_ROW)
    json_array_append_new(items,
      json_pack("{s:I, s:s, s:s, s:s, s:s?, s:o, s:s, s:I}", "id", (json_int_t)db_col_int64(st, 0),
                "kind", db_col_text(st, 1), "username", db_col_text(st, 2), "full_name",
                db_col_text(st, 3), "cccd", db_col_text(st, 4), "unit",
                identity_unit_json(app, db_col_int64(st, 5)), "status", db_col_text(st, 6),
                "created_at", (json_int_t)db_col_int64(st, 7)));
  if (s < 0) goto db_fail;
  db_stmt_done(st);
  st = NULL;

  audit_entry_t e = audit_entry_from_req(req, "user.list", "account", NULL);
  e.unit_id = unit_id ? unit_id : identity_single_grant_unit(req->principal, "users.read");
  e.detail = audit_detail(req->arena,
                          json_pack("{s:s?, s:s?, s:b, s:i, s:i, s:I, s:I}", "kind", kind, "unit", unit,
                                    "q", q != NULL, "limit", limit, "offset", offset, "total",
                                    (json_int_t)total, "returned", (json_int_t)json_array_size(items)));
  if (audit_append(db, &e) || db_commit(db)) goto db_fail;
  http_reply_json(req, 200, json_pack("{s:O, s:I, s:i, s:i}", "items", items, "total",
                                      (json_int_t)total, "limit", limit, "offset", offset));
  goto done;

db_fail:
  if (st) db_stmt_done(st);
  st = NULL;
  identity_reply_db_error(req, db);
done:
  if (st) db_stmt_done(st);
  json_decref(items);
  if (db) db_pool_release(app->db, db);
}

/* --- read ------------------------------------------------------------------------- */

void identity_h_user_get(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  json_t *u = NULL;
  int64_t id, unit_id = 0;
  bool dberr = false;

  if (!identity_path_id(req, &id)) goto done;
  db = identity_req_db(req);
  if (!db) goto done;
  if (db_begin(db)) goto db_fail;
  u = identity_user_json(app, db, id, &unit_id, &dberr);
  if (!u) {
    if (dberr) goto db_fail;
    db_rollback(db);
    http_reply_error(req, ERR_NOT_FOUND, "No such account");
    goto done;
  }
  if (!identity_can(app, req->principal, "users.read", unit_id)) {
    db_rollback(db);
    http_reply_error(req, ERR_NOT_FOUND, "No such account");
    goto done;
  }
  /* The id as stored ("7", never the "007" of the path): searches by record find it. */
  audit_entry_t e = audit_entry_from_req(req, "user.read", "account",
                                         arena_printf(req->arena, "%" PRId64, id));
  e.unit_id = unit_id;
  if (audit_append(db, &e) || db_commit(db)) goto db_fail;
  http_reply_json(req, 200, u);
  u = NULL;
  goto done;

db_fail:
  identity_reply_db_error(req, db);
done:
  json_decref(u);
  if (db) db_pool_release(app->db, db);
}

/* --- create ----------------------------------------------------------------------- */

/* roles: [{role, unit}] -> refs (unit code in the active era; absent or null = 0). */
int identity_parse_roles(http_req_t *req, const json_t *arr, identity_role_ref_t **refs,
                                size_t *n)
{
  app_t *app = req->app;
  *refs = NULL;
  *n = 0;
  if (!arr || json_is_null(arr)) return 0;
  if (!json_is_array(arr) || json_array_size(arr) > IDENTITY_MAX_ROLES) {
    identity_reply_field(req, "roles", "roles must be an array of at most %d {role, unit}",
                         IDENTITY_MAX_ROLES);
    return -1;
  }
  size_t count = json_array_size(arr);
  identity_role_ref_t *r = arena_alloc(req->arena, (count ? count : 1) * sizeof *r);
  for (size_t i = 0; i < count; i++) {
    json_t *it = json_array_get(arr, i);
    const char *role = NULL, *unit = NULL;
    if (!json_is_object(it) || identity_body_str(req, it, "role", &role) ||
        identity_body_str(req, it, "unit", &unit)) {
      if (!http_replied(req)) identity_reply_field(req, "roles", "Each role is {role, unit}");
      return -1;
    }
    if (!role || !*role) {
      identity_reply_field(req, "roles", "Each role needs a name");
      return -1;
    }
    r[i].role = role;
    r[i].unit_id = 0;
    if (unit && identity_unit_by_code(app, unit, &r[i].unit_id) != 0) {
      identity_reply_field(req, "roles", "No unit with code %s in the active era", unit);
      return -1;
    }
  }
  *refs = r;
  *n = count;
  return 0;
}

/* 1 when the role exists, 0 when not, -1 on a database error (logged). */
static int identity_role_exists(db_t *db, const char *role)
{
  int rc = -1;
  db_stmt_t *st = db_prepare(db, "SELECT 1 FROM roles WHERE name = $1");
  if (!st || db_bind_text(st, 1, role)) goto done;
  int s = db_step(st);
  if (s >= 0) rc = s == DB_ROW ? 1 : 0;
done:
  if (!st || rc < 0) log_error(NULL, "msg=\"role lookup failed\" err=\"%s\"", db_errmsg(db));
  if (st) db_stmt_done(st);
  return rc;
}

/* Every role in refs exists (else 422 on "roles": a typo is a validation error, not a
 * refusal) and may be handed out by the caller (else 403). */
bool identity_check_assign(http_req_t *req, db_t *db, const identity_role_ref_t *refs, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    int e = identity_role_exists(db, refs[i].role);
    if (e < 0) {
      identity_reply_db_error(req, db);
      return false;
    }
    if (e == 0) {
      identity_reply_field(req, "roles", "Unknown role: %s", refs[i].role);
      return false;
    }
    if (!identity_may_assign_role(req->app, db, req->principal, refs[i].role, refs[i].unit_id)) {
      http_reply_error_detail(req, ERR_FORBIDDEN, json_pack("{s:s}", "field", "roles"),
                              "You cannot grant the role %s there (more rights than yours)",
                              refs[i].role);
      return false;
    }
  }
  return true;
}

/* Reads the body into acc (strings borrowed from the body). -1 after answering. */
static int identity_parse_new(http_req_t *req, const json_t *body, identity_new_account_t *acc)
{
  const char *unit = NULL;
  memset(acc, 0, sizeof *acc);
  if (identity_body_str(req, body, "kind", &acc->kind) ||
      identity_body_str(req, body, "username", &acc->username) ||
      identity_body_str(req, body, "password", &acc->password) ||
      identity_body_str(req, body, "full_name", &acc->full_name) ||
      identity_body_str(req, body, "cccd", &acc->cccd) ||
      identity_body_str(req, body, "birth_date", &acc->birth_date) ||
      identity_body_str(req, body, "sex", &acc->sex) || identity_body_str(req, body, "unit", &unit))
    return -1;
  if (unit && identity_unit_by_code(req->app, unit, &acc->unit_id) != 0) {
    identity_reply_field(req, "unit", "No unit with code %s in the active era", unit);
    return -1;
  }
  identity_role_ref_t *refs;
  if (identity_parse_roles(req, json_object_get(body, "roles"), &refs, &acc->nroles)) return -1;
  acc->roles = refs;
  return 0;
}

void identity_h_user_create(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  identity_new_account_t acc;
  identity_problem_t prob;
  char hash[IDENTITY_HASH_MAX] = "";
  int64_t id = 0;
  bool dberr = false;

  json_t *body = http_body_object(req);
  if (!body || identity_parse_new(req, body, &acc)) goto done;
  if (acc.kind && strcmp(acc.kind, "client") == 0) {
    identity_reply_field(req, "kind", "Create API clients with POST /api/v1/clients");
    goto done;
  }
  if (identity_account_validate(req->arena, &acc, &prob)) {
    identity_reply_problem(req, &prob);
    goto done;
  }
  if (!identity_can(app, req->principal, "users.write", acc.unit_id)) {
    http_reply_error_detail(req, ERR_FORBIDDEN, json_pack("{s:s}", "field", "unit"),
                            "You cannot create accounts in that unit");
    goto done;
  }
  db = identity_req_db(req);
  if (!db) goto done;
  if (!identity_check_assign(req, db, acc.roles, acc.nroles)) goto done;
  if (identity_password_hash(app->cfg, acc.password, hash) != 0) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  audit_entry_t ctx = audit_entry_from_req(req, NULL, NULL, NULL);
  if (db_begin(db)) goto db_fail;
  if (identity_account_insert(req->arena, db, &acc, hash, &ctx, &id, &prob)) {
    db_rollback(db);
    identity_reply_problem(req, &prob);
    goto done;
  }
  if (db_commit(db)) goto db_fail;
  json_t *u = identity_user_json(app, db, id, NULL, &dberr);
  if (!u) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  http_reply_json(req, 201, u);
  goto done;

db_fail:
  identity_reply_db_error(req, db);
done:
  sodium_memzero(hash, sizeof hash);
  if (db) db_pool_release(app->db, db);
}

/* --- change ----------------------------------------------------------------------- */

/* true when the caller may manage every role the target holds now. */
static int identity_covers_target(http_req_t *req, db_t *db, int64_t id)
{
  int rc = -1, s;
  db_stmt_t *st = db_prepare(db, "SELECT role, unit_id FROM account_roles WHERE account_id = $1");
  if (!st || db_bind_int64(st, 1, id)) goto done;
  rc = 1;
  /* Roles are few; check after copying them, because the check runs its own queries. */
  identity_role_ref_t held[IDENTITY_MAX_ROLES * 2];
  size_t n = 0;
  while ((s = db_step(st)) == DB_ROW) {
    if (n == ARRAY_LEN(held)) {
      rc = 0;   /* holds more than we can weigh: refuse */
      break;
    }
    held[n].role = arena_strdup(req->arena, db_col_text(st, 0));
    held[n].unit_id = db_col_int64(st, 1);
    n++;
  }
  if (s < 0) rc = -1;
  db_stmt_done(st);
  st = NULL;
  for (size_t i = 0; rc == 1 && i < n; i++)
    if (!identity_may_assign_role(req->app, db, req->principal, held[i].role, held[i].unit_id)) rc = 0;
done:
  if (st) db_stmt_done(st);
  return rc;
}

void identity_h_user_patch(http_req_t *req)
{
  app_t *app = req->app;
  principal_t *p = req->principal;
  db_t *db = NULL;
  db_stmt_t *st = NULL;
  json_t *u = NULL, *changed = json_array();
  const char *full_name = NULL, *status = NULL, *unit = NULL;
  identity_role_ref_t *roles = NULL;
  size_t nroles = 0;
  int64_t id, cur_unit = 0, new_unit = 0;
  bool dberr = false, set_unit = false, set_roles = false;
  int s;

  if (!identity_path_id(req, &id)) goto done;
  json_t *body = http_body_object(req);
  if (!body) goto done;
  if (identity_body_str(req, body, "full_name", &full_name) ||
      identity_body_str(req, body, "status", &status) || identity_body_str(req, body, "unit", &unit))
    goto done;
  set_unit = json_object_get(body, "unit") != NULL;
  set_roles = json_object_get(body, "roles") != NULL;
  if (set_roles && identity_parse_roles(req, json_object_get(body, "roles"), &roles, &nroles)) goto done;
  if (full_name) {
    while (*full_name == ' ') full_name++;
    size_t fl = strlen(full_name);
    if (fl == 0 || fl > IDENTITY_NAME_MAX || !text_utf8_valid(full_name, fl)) {
      identity_reply_field(req, "full_name", "full_name must be 1 to %d bytes of UTF-8", IDENTITY_NAME_MAX);
      goto done;
    }
    for (size_t i = 0; i < fl; i++)
      if ((unsigned char)full_name[i] < 0x20) {
        identity_reply_field(req, "full_name", "full_name has control characters");
        goto done;
      }
  }
  if (status && strcmp(status, "active") != 0 && strcmp(status, "disabled") != 0) {
    identity_reply_field(req, "status", "status must be active or disabled");
    goto done;
  }
  if (unit && identity_unit_by_code(app, unit, &new_unit) != 0) {
    identity_reply_field(req, "unit", "No unit with code %s in the active era", unit);
    goto done;
  }
  if (id == p->account_id && (status || set_roles)) {
    http_reply_error(req, ERR_FORBIDDEN, "You cannot change your own status or roles");
    goto done;
  }

  db = identity_req_db(req);
  if (!db) goto done;
  if (db_begin(db)) goto db_fail;
  st = db_prepare(db, arena_printf(req->arena, "SELECT kind, unit_id, full_name, status FROM accounts"
                                               " WHERE id = $1%s", identity_for_update(db)));
  if (!st || db_bind_int64(st, 1, id)) goto db_fail;
  s = db_step(st);
  if (s < 0) goto db_fail;
  if (s != DB_ROW || !identity_can(app, p, "users.read", db_col_int64(st, 1))) {
    db_stmt_done(st);
    st = NULL;
    db_rollback(db);
    http_reply_error(req, ERR_NOT_FOUND, "No such account");
    goto done;
  }
  const char *kind = arena_strdup(req->arena, db_col_text(st, 0));
  cur_unit = db_col_int64(st, 1);
  const char *cur_name = arena_strdup(req->arena, db_col_text(st, 2));
  const char *cur_status = arena_strdup(req->arena, db_col_text(st, 3));
  db_stmt_done(st);
  st = NULL;

  /* May the caller manage this account at all, and hand out what is asked? */
  int cover = identity_covers_target(req, db, id);
  if (cover < 0) goto db_fail;
  if (!identity_can(app, p, "users.write", cur_unit) || cover == 0 ||
      (set_unit && !identity_can(app, p, "users.write", new_unit))) {
    db_rollback(db);
    http_reply_error(req, ERR_FORBIDDEN, "You cannot change this account");
    goto done;
  }
  if (set_roles && strcmp(kind, "citizen") == 0 && nroles > 0) {
    db_rollback(db);
    identity_reply_field(req, "roles", "Citizens hold no roles");
    goto done;
  }
  if (set_roles && !identity_check_assign(req, db, roles, nroles)) {
    db_rollback(db);
    goto done;
  }

  const char *name = full_name ? full_name : cur_name;
  const char *stat = status ? status : cur_status;
  int64_t unit_id = set_unit ? new_unit : cur_unit;
  int64_t now = clock_now_ms();
  const char *folded = text_fold_arena(req->arena, name);
  st = db_prepare(db, "UPDATE accounts SET full_name = $2, name_folded = $3, status = $4,"
                      " unit_id = $5, updated_at = $6 WHERE id = $1");
  if (!st || db_bind_int64(st, 1, id) || db_bind_text(st, 2, name) ||
      db_bind_text(st, 3, folded ? folded : "") || db_bind_text(st, 4, stat) ||
      (unit_id ? db_bind_int64(st, 5, unit_id) : db_bind_null(st, 5)) || db_bind_int64(st, 6, now) ||
      db_step(st) != DB_DONE)
    goto db_fail;
  db_stmt_done(st);
  st = NULL;
  if (full_name && strcmp(full_name, cur_name) != 0) json_array_append_new(changed, json_string("full_name"));
  if (set_unit && unit_id != cur_unit) json_array_append_new(changed, json_string("unit"));

  if (status && strcmp(status, cur_status) != 0) {
    json_array_append_new(changed, json_string("status"));
    if (strcmp(status, "disabled") == 0) {
      st = db_prepare(db, "UPDATE tokens SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL");
      if (!st || db_bind_int64(st, 1, id) || db_bind_int64(st, 2, now) || db_step(st) != DB_DONE)
        goto db_fail;
      db_stmt_done(st);
      st = NULL;
    }
  }
  json_t *role_log = NULL;
  if (set_roles) {
    json_array_append_new(changed, json_string("roles"));
    role_log = json_array();
    st = db_prepare(db, "DELETE FROM account_roles WHERE account_id = $1");
    if (!st || db_bind_int64(st, 1, id) || db_step(st) != DB_DONE) {
      json_decref(role_log);
      goto db_fail;
    }
    db_stmt_done(st);
    st = NULL;
    for (size_t i = 0; i < nroles; i++) {
      st = db_prepare(db, "INSERT INTO account_roles (account_id, role, unit_id) VALUES ($1, $2, $3)"
                          " ON CONFLICT DO NOTHING");
      if (!st || db_bind_int64(st, 1, id) || db_bind_text(st, 2, roles[i].role) ||
          db_bind_int64(st, 3, roles[i].unit_id) || db_step(st) != DB_DONE) {
        json_decref(role_log);
        goto db_fail;
      }
      db_stmt_done(st);
      st = NULL;
      json_array_append_new(role_log, json_pack("{s:s, s:I}", "role", roles[i].role, "unit_id",
                                                (json_int_t)roles[i].unit_id));
    }
  }

  audit_entry_t e = audit_entry_from_req(req, "user.update", "account",
                                         arena_printf(req->arena, "%" PRId64, id));
  e.unit_id = unit_id;
  json_t *detail = json_pack("{s:O}", "changed", changed);
  if (status) json_object_set_new(detail, "status", json_string(stat));
  if (role_log) json_object_set_new(detail, "roles", role_log);
  e.detail = audit_detail(req->arena, detail);
  if (audit_append(db, &e) || db_commit(db)) goto db_fail;
  u = identity_user_json(app, db, id, NULL, &dberr);
  if (!u) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    goto done;
  }
  http_reply_json(req, 200, u);
  u = NULL;
  goto done;

db_fail:
  if (st) db_stmt_done(st);
  st = NULL;
  identity_reply_db_error(req, db);
done:
  if (st) db_stmt_done(st);
  json_decref(u);
  json_decref(changed);
  if (db) db_pool_release(app->db, db);
}
