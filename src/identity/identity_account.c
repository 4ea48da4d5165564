#include "base/common.h"
#include "identity/identity.h"
#include "identity/identity_internal.h"
#include "base/cccd.h"
#include "base/log.h"
#include "base/text.h"

/*
 * Accounts: validation of new accounts, the insert with roles and audit entry,
 * password changes, and small shared helpers.
 */

/* --- helpers ---------------------------------------------------------------------- */

int identity_fail(identity_problem_t *prob, err_t err, const char *field, const char *fmt, ...)
{
  va_list ap;
  prob->err = err;
  prob->field = field;
  va_start(ap, fmt);
  vsnprintf(prob->message, sizeof prob->message, fmt, ap);
  va_end(ap);
  return -1;
}

const char *identity_for_update(const db_t *db)
{
  return db_kind(db) == DB_POSTGRES ? " FOR UPDATE" : "";
}

bool identity_username_normalize(const char *in, char *out, size_t cap)
{
  if (!in || cap == 0) return false;
  while (*in == ' ' || *in == '\t') in++;
  size_t len = strlen(in);
  while (len > 0 && (in[len - 1] == ' ' || in[len - 1] == '\t')) len--;
  if (len == 0 || len >= cap) return false;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  out[len] = '\0';
  return true;
}

json_t *identity_roles_json(const app_t *app, db_t *db, int64_t account_id)
{
  json_t *arr = json_array(), *result = NULL;
  int s;
  db_stmt_t *st = db_prepare(db, "SELECT role, unit_id FROM account_roles WHERE account_id = $1"
                                 " ORDER BY role, unit_id");
  if (!st || db_bind_int64(st, 1, account_id)) goto db_fail;
  while ((s = db_step(st)) == DB_ROW)
    json_array_append_new(arr, json_pack("{s:s, s:o}", "role", db_col_text(st, 0), "unit",
                                         identity_unit_json(app, db_col_int64(st, 1))));
  if (s < 0) goto db_fail;
  result = arr;
  arr = NULL;
  goto done;

db_fail:
  log_error(NULL, "msg=\"reading roles failed\" err=\"%s\"", db_errmsg(db));
done:
  if (st) db_stmt_done(st);
  json_decref(arr);
  return result;
}

/* Official and client user names: 3..64 of [a-z0-9._-], at least one letter (so a
 * 12-digit name is always a citizen's CCCD). */
static bool identity_username_ok(const char *u)
{
  size_t len = strlen(u);
  bool letter = false;
  if (len < 3 || len > IDENTITY_USERNAME_MAX) return false;
  for (size_t i = 0; i < len; i++) {
    char c = u[i];
    if (c >= 'a' && c <= 'z') letter = true;
    else if (!((c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) return false;
  }
  return letter;
}

/* "male" / "female" from the spellings cccd.h accepts; NULL when unknown. */
static const char *identity_sex_normalize(arena_t *a, const char *sex)
{
  char *f = text_fold_arena(a, sex);
  if (!f) return NULL;
  if (strcmp(f, "m") == 0 || strcmp(f, "male") == 0 || strcmp(f, "nam") == 0) return "male";
  if (strcmp(f, "f") == 0 || strcmp(f, "female") == 0 || strcmp(f, "nu") == 0) return "female";
  return NULL;
}

static bool identity_text_ok(const char *s, size_t max)
{
  size_t len = strlen(s);
  if (len == 0 || len > max || !text_utf8_valid(s, len)) return false;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
  return true;
}

/* --- validation ------------------------------------------------------------------- */

int identity_account_validate(arena_t *a, identity_new_account_t *acc, identity_problem_t *prob)
{
  char uname[IDENTITY_USERNAME_MAX + 1];
  bool citizen, client;

  memset(prob, 0, sizeof *prob);
  if (!acc->kind || (strcmp(acc->kind, "citizen") != 0 && strcmp(acc->kind, "official") != 0 &&
                     strcmp(acc->kind, "client") != 0))
    return identity_fail(prob, ERR_VALIDATION, "kind", "kind must be citizen, official or client");
  citizen = strcmp(acc->kind, "citizen") == 0;
  client = strcmp(acc->kind, "client") == 0;

  if (!acc->full_name)
    return identity_fail(prob, ERR_VALIDATION, "full_name", "full_name is required");
  while (*acc->full_name == ' ') acc->full_name++;
  if (!identity_text_ok(acc->full_name, IDENTITY_NAME_MAX))
    return identity_fail(prob, ERR_VALIDATION, "full_name",
                         "full_name must be 1 to %d bytes of printable UTF-8", IDENTITY_NAME_MAX);

  if (acc->sex) {
    const char *sx = identity_sex_normalize(a, acc->sex);
    if (!sx) return identity_fail(prob, ERR_VALIDATION, "sex", "sex must be male or female");
    acc->sex = sx;
  }
  if (acc->birth_date && !cccd_date_valid(acc->birth_date, NULL, NULL, NULL))
    return identity_fail(prob, ERR_VALIDATION, "birth_date", "birth_date must be a date YYYY-MM-DD");

  if (citizen) {
    if (!acc->cccd) return identity_fail(prob, ERR_VALIDATION, "cccd", "A citizen needs a CCCD");
    if (!acc->birth_date)
      return identity_fail(prob, ERR_VALIDATION, "birth_date", "A citizen needs a birth_date");
    if (!acc->sex) return identity_fail(prob, ERR_VALIDATION, "sex", "A citizen needs a sex");
  } else if (client && acc->cccd) {
    return identity_fail(prob, ERR_VALIDATION, "cccd", "An API client has no CCCD");
  }
  if (acc->cccd) {
    cccd_status_t cs = cccd_validate(acc->cccd, acc->birth_date, acc->sex);
    if (cs != CCCD_OK)
      return identity_fail(prob, ERR_VALIDATION, cs == CCCD_BAD_BIRTH_DATE ? "birth_date" : "cccd",
                           "%s", cccd_status_message(cs));
  }

  if (citizen) {
    if (acc->username && strcmp(acc->username, acc->cccd) != 0)
      return identity_fail(prob, ERR_VALIDATION, "username", "A citizen's user name is their CCCD");
    acc->username = acc->cccd;
  } else {
    if (!acc->username || !identity_username_normalize(acc->username, uname, sizeof uname) ||
        !identity_username_ok(uname))
      return identity_fail(prob, ERR_VALIDATION, "username",
                           "username must be 3 to 64 of a-z 0-9 . _ - with at least one letter");
    acc->username = arena_strdup(a, uname);
  }

  if (client) {
    if (acc->password)
      return identity_fail(prob, ERR_VALIDATION, "password", "An API client has no password");
  } else {
    identity_pw_status_t ps = identity_password_check(acc->password, acc->username);
    if (!acc->password) return identity_fail(prob, ERR_VALIDATION, "password", "password is required");
    if (ps != IDENTITY_PW_OK)
      return identity_fail(prob, ERR_VALIDATION, "password", "%s", identity_password_problem(ps));
  }

  if (acc->nroles > IDENTITY_MAX_ROLES)
    return identity_fail(prob, ERR_VALIDATION, "roles", "At most %d roles", IDENTITY_MAX_ROLES);
  if (citizen && acc->nroles > 0)
    return identity_fail(prob, ERR_VALIDATION, "roles", "Citizens hold no roles");
  for (size_t i = 0; i < acc->nroles; i++) {
    const char *r = acc->roles[i].role;
    if (!r || !*r || strlen(r) > 64)
      return identity_fail(prob, ERR_VALIDATION, "roles", "Each role needs a name");
  }
  return 0;
}

/* --- insert ----------------------------------------------------------------------- */

/* 1 when a row matches `sql` with $1 = v, 0 when none, -1 on error. */
static int identity_exists(db_t *db, const char *sql, const char *v)
{
  int rc = -1;
  db_stmt_t *st = db_prepare(db, sql);
  if (!st || db_bind_text(st, 1, v)) goto done;
  int s = db_step(st);
  if (s >= 0) rc = s == DB_ROW ? 1 : 0;
done:
  if (st) db_stmt_done(st);
  return rc;
}

int identity_account_insert(arena_t *a, db_t *db, const identity_new_account_t *acc,
                            const char *password_hash, const audit_entry_t *ctx,
                            int64_t *id_out, identity_problem_t *prob)
{
  int rc = -1;
  db_stmt_t *st = NULL;
  int64_t now = clock_now_ms(), id = 0;
  int e;

  memset(prob, 0, sizeof *prob);
  e = identity_exists(db, "SELECT 1 FROM accounts WHERE username = $1", acc->username);
  if (e < 0) goto db_fail;
  if (e > 0) {
    identity_fail(prob, ERR_CONFLICT, "username", "An account with this user name already exists");
    goto done;
  }
  if (acc->cccd) {
    e = identity_exists(db, "SELECT 1 FROM accounts WHERE cccd = $1", acc->cccd);
    if (e < 0) goto db_fail;
    if (e > 0) {
      identity_fail(prob, ERR_CONFLICT, "cccd", "An account with this CCCD already exists");
      goto done;
    }
  }
  for (size_t i = 0; i < acc->nroles; i++) {
    e = identity_exists(db, "SELECT 1 FROM roles WHERE name = $1", acc->roles[i].role);
    if (e < 0) goto db_fail;
    if (e == 0) {
      identity_fail(prob, ERR_VALIDATION, "roles", "Unknown role: %s", acc->roles[i].role);
      goto done;
    }
  }

  const char *folded = text_fold_arena(a, acc->full_name);
  st = db_prepare(db,
    "INSERT INTO accounts (kind, username, cccd, full_name, name_folded, birth_date, sex, unit_id,"
    " password_hash, status, failed_count, created_at, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', 0, $10, $10) RETURNING id");
  if (!st || db_bind_text(st, 1, acc->kind) || db_bind_text(st, 2, acc->username) ||
      db_bind_text(st, 3, acc->cccd) || db_bind_text(st, 4, acc->full_name) ||
      db_bind_text(st, 5, folded ? folded : "") || db_bind_text(st, 6, acc->birth_date) ||
      db_bind_text(st, 7, acc->sex) ||
      (acc->unit_id ? db_bind_int64(st, 8, acc->unit_id) : db_bind_null(st, 8)) ||
      db_bind_text(st, 9, password_hash) || db_bind_int64(st, 10, now))
    goto db_fail;
  if (db_step(st) != DB_ROW) goto db_fail;
  id = db_col_int64(st, 0);
  db_stmt_done(st);

  json_t *roles = json_array();
  for (size_t i = 0; i < acc->nroles; i++) {
    st = db_prepare(db, "INSERT INTO account_roles (account_id, role, unit_id) VALUES ($1, $2, $3)"
                        " ON CONFLICT DO NOTHING");
    if (!st || db_bind_int64(st, 1, id) || db_bind_text(st, 2, acc->roles[i].role) ||
        db_bind_int64(st, 3, acc->roles[i].unit_id) || db_step(st) != DB_DONE) {
      json_decref(roles);
      goto db_fail;
    }
    db_stmt_done(st);
    json_array_append_new(roles, json_pack("{s:s, s:I}", "role", acc->roles[i].role, "unit_id",
                                           (json_int_t)acc->roles[i].unit_id));
  }
  st = NULL;

  audit_entry_t ae = *ctx;
  ae.at = 0;
  ae.action = "user.create";
  ae.record_type = "account";
  ae.record_id = arena_printf(a, "%" PRId64, id);
  ae.unit_id = acc->unit_id;
  ae.detail = audit_detail(a, json_pack("{s:s, s:o}", "kind", acc->kind, "roles", roles));
  if (audit_append(db, &ae)) goto db_fail;
  if (id_out) *id_out = id;
  rc = 0;
  goto done;

db_fail:
  if (db_last_error(db) == DB_ERR_CONSTRAINT) {
    /* Lost a race with another insert of the same name. */
    identity_fail(prob, ERR_CONFLICT, "username", "An account with this user name or CCCD already exists");
  } else {
    log_error(ctx->request_id, "msg=\"account insert failed\" err=\"%s\"", db_errmsg(db));
    identity_fail(prob, ERR_INTERNAL, NULL, "Internal error");
  }
done:
  if (st) db_stmt_done(st);
  return rc;
}

/* --- passwords -------------------------------------------------------------------- */

int identity_account_set_password(db_t *db, int64_t account_id, const char *password_hash,
                                  int64_t keep_session_id)
{
  int rc = -1;
  int64_t now = clock_now_ms();
  db_stmt_t *st = db_prepare(db, "UPDATE accounts SET password_hash = $2, failed_count = 0,"
                                 " last_failed_at = NULL, locked_until = NULL, updated_at = $3"
                                 " WHERE id = $1");
  if (!st || db_bind_int64(st, 1, account_id) || db_bind_text(st, 2, password_hash) ||
      db_bind_int64(st, 3, now) || db_step(st) != DB_DONE)
    goto db_fail;
  db_stmt_done(st);
  st = db_prepare(db, "UPDATE tokens SET revoked_at = $2 WHERE account_id = $1 AND kind = 'session'"
                      " AND revoked_at IS NULL AND id <> $3");
  if (!st || db_bind_int64(st, 1, account_id) || db_bind_int64(st, 2, now) ||
      db_bind_int64(st, 3, keep_session_id) || db_step(st) != DB_DONE)
    goto db_fail;
  rc = 0;
  goto done;

db_fail:
  log_error(NULL, "msg=\"password update failed\" err=\"%s\"", db_errmsg(db));
done:
  if (st) db_stmt_done(st);
  return rc;
}
