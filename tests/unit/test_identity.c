#include "base/common.h"
/*
 * test_identity.c - accounts, passwords, tokens, throttling and authorization
 * (src/identity/identity.h): the pure parts, then the database parts against SQLite
 * (a temporary file) and, when CITYOS_TEST_PG_URL is set, PostgreSQL (a schema of its
 * own, dropped afterwards). The HTTP routes are covered by the end-to-end tests.
 */
#include "identity/identity.h"
#include "audit/audit.h"
#include "units/units.h"
#include "base/log.h"
#include "check.h"

#include <sodium.h>
#include <unistd.h>

static config_t test_cfg(void)
{
  config_t c;
  memset(&c, 0, sizeof c);
  c.session_ttl_s = 3600;
  c.login_max_failures = 10;
  c.login_lock_s = 900;
  c.login_slow_after = 3;
  c.argon_ops = 1;
  c.argon_mem_kib = 8192;   /* fast for tests; production uses 19456 */
  return c;
}

/* --- passwords -------------------------------------------------------------------- */

static void test_password_policy(void)
{
  CHECK_INT_EQ(identity_password_check("short", NULL), IDENTITY_PW_TOO_SHORT);
  CHECK_INT_EQ(identity_password_check(NULL, NULL), IDENTITY_PW_TOO_SHORT);
  CHECK_INT_EQ(identity_password_check("123456789", NULL), IDENTITY_PW_TOO_SHORT);
  CHECK_INT_EQ(identity_password_check("1234567890", NULL), IDENTITY_PW_ALL_DIGITS);
  CHECK_INT_EQ(identity_password_check("12345678901234", NULL), IDENTITY_PW_ALL_DIGITS);
  CHECK_INT_EQ(identity_password_check("abcdefghij", NULL), IDENTITY_PW_OK);
  CHECK_INT_EQ(identity_password_check("nguyenvana1", "nguyenvana1"), IDENTITY_PW_IS_USERNAME);
  CHECK_INT_EQ(identity_password_check("NguyenVanA1", "nguyenvana1"), IDENTITY_PW_IS_USERNAME);
  CHECK_INT_EQ(identity_password_check("nguyenvana12", "nguyenvana1"), IDENTITY_PW_OK);
  /* Ten characters, more bytes: "mậtkhẩuđẹp" is 10 code points. */
  CHECK_INT_EQ(identity_password_check("mậtkhẩuđẹp", NULL), IDENTITY_PW_OK);
  CHECK_INT_EQ(identity_password_check("mậtkhẩuđẹ", NULL), IDENTITY_PW_TOO_SHORT);
  CHECK_INT_EQ(identity_password_check("abcdefghi\xff", NULL), IDENTITY_PW_BAD_UTF8);
  char big[IDENTITY_PASSWORD_MAX_BYTES + 2];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  CHECK_INT_EQ(identity_password_check(big, NULL), IDENTITY_PW_TOO_LONG);
  CHECK(strlen(identity_password_problem(IDENTITY_PW_ALL_DIGITS)) > 0);
}

static void test_password_hash(void)
{
  config_t cfg = test_cfg();
  char h[IDENTITY_HASH_MAX], h2[IDENTITY_HASH_MAX];
  bool rehash = true;
  CHECK_INT_EQ(identity_password_hash(&cfg, "correct horse battery", h), 0);
  CHECK(strncmp(h, "$argon2id$", 10) == 0);
  CHECK_INT_EQ(identity_password_hash(&cfg, "correct horse battery", h2), 0);
  CHECK(strcmp(h, h2) != 0);   /* salted */
  CHECK_INT_EQ(identity_password_verify(&cfg, h, "correct horse battery", &rehash), 1);
  CHECK(!rehash);
  CHECK_INT_EQ(identity_password_verify(&cfg, h, "correct horse batterY", NULL), 0);
  CHECK_INT_EQ(identity_password_verify(&cfg, NULL, "correct horse battery", NULL), 0);
  CHECK_INT_EQ(identity_password_verify(&cfg, "not a hash", "correct horse battery", NULL), 0);
  CHECK_INT_EQ(identity_password_verify(&cfg, h, NULL, NULL), 0);
  /* Stronger settings: the old hash still verifies and asks to be redone. */
  config_t stronger = cfg;
  stronger.argon_ops = 2;
  CHECK_INT_EQ(identity_password_verify(&stronger, h, "correct horse battery", &rehash), 1);
  CHECK(rehash);
  identity_password_dummy_verify(&cfg, "whatever");
  identity_password_dummy_verify(&cfg, NULL);
}

static void test_password_generate(void)
{
  char a[21], b[21];
  identity_password_generate(a, 20);
  identity_password_generate(b, 20);
  CHECK_INT_EQ(strlen(a), 20);
  CHECK(strcmp(a, b) != 0);
  CHECK_INT_EQ(identity_password_check(a, "admin"), IDENTITY_PW_OK);
  for (size_t i = 0; i < 20; i++) CHECK(strchr("0O1lI", a[i]) == NULL);
}

/* --- tokens ----------------------------------------------------------------------- */

static void test_tokens(void)
{
  char s[IDENTITY_TOKEN_MAX], k[IDENTITY_TOKEN_MAX], h[IDENTITY_TOKEN_HASH_HEX];
  identity_token_new(IDENTITY_TOKEN_SESSION, s);
  identity_token_new(IDENTITY_TOKEN_APIKEY, k);
  CHECK(strncmp(s, "cs_", 3) == 0);
  CHECK(strncmp(k, "ck_", 3) == 0);
  CHECK_INT_EQ(strlen(s), 46);
  CHECK_INT_EQ(strlen(k), 46);
  CHECK(identity_token_well_formed(s));
  CHECK(identity_token_well_formed(k));
  CHECK(strchr(s, '=') == NULL && strchr(s, '+') == NULL && strchr(s, '/') == NULL);
  CHECK(!identity_token_well_formed(NULL));
  CHECK(!identity_token_well_formed(""));
  CHECK(!identity_token_well_formed("cs_short"));
  char bad[IDENTITY_TOKEN_MAX];
  snprintf(bad, sizeof bad, "cx_%s", s + 3);
  CHECK(!identity_token_well_formed(bad));
  snprintf(bad, sizeof bad, "%s", s);
  bad[10] = '.';
  CHECK(!identity_token_well_formed(bad));
  /* SHA-256("abc") */
  identity_token_hash("abc", h);
  CHECK_STR_EQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  identity_token_hash(s, h);
  CHECK_INT_EQ(strlen(h), 64);
}

/* --- throttle --------------------------------------------------------------------- */

static void test_throttle(void)
{
  config_t cfg = test_cfg();   /* slow after 3, lock at 10 for 900 s */
  identity_throttle_state_t st = {0};
  int64_t retry = -1, t = 1700000000000;

  CHECK_INT_EQ(identity_throttle_delay_s(&cfg, 0), 0);
  CHECK_INT_EQ(identity_throttle_delay_s(&cfg, 2), 0);
  CHECK_INT_EQ(identity_throttle_delay_s(&cfg, 3), 1);
  CHECK_INT_EQ(identity_throttle_delay_s(&cfg, 4), 2);
  CHECK_INT_EQ(identity_throttle_delay_s(&cfg, 8), 32);
  CHECK_INT_EQ(identity_throttle_delay_s(&cfg, 9), 60);
  CHECK_INT_EQ(identity_throttle_delay_s(&cfg, 1000), 60);

  CHECK_INT_EQ(identity_throttle_check(&cfg, &st, t, &retry), IDENTITY_THROTTLE_ALLOW);
  CHECK_INT_EQ(retry, 0);
  /* Three failures in a row are not slowed down. */
  for (int i = 0; i < 3; i++) {
    CHECK_INT_EQ(identity_throttle_check(&cfg, &st, t, NULL), IDENTITY_THROTTLE_ALLOW);
    identity_throttle_begin(&st, t);
    CHECK(!identity_throttle_fail(&cfg, &st, t));
  }
  CHECK_INT_EQ(st.failed_count, 3);
  /* The fourth within 1 s is. */
  CHECK_INT_EQ(identity_throttle_check(&cfg, &st, t + 500, &retry), IDENTITY_THROTTLE_SLOW);
  CHECK_INT_EQ(retry, 1);
  CHECK_INT_EQ(identity_throttle_check(&cfg, &st, t + 1000, &retry), IDENTITY_THROTTLE_ALLOW);
  identity_throttle_begin(&st, t + 1000);
  identity_throttle_fail(&cfg, &st, t + 1000);
  /* 4 failures: 2 s. */
  CHECK_INT_EQ(identity_throttle_check(&cfg, &st, t + 2000, &retry), IDENTITY_THROTTLE_SLOW);
  CHECK_INT_EQ(retry, 1);
  CHECK_INT_EQ(identity_throttle_check(&cfg, &st, t + 1001, &retry), IDENTITY_THROTTLE_SLOW);
  CHECK_INT_EQ(retry, 2);
  CHECK_INT_EQ(identity_throttle_check(&cfg, &st, t + 3000, NULL), IDENTITY_THROTTLE_ALLOW);

  /* Up to the lock: failures 5..10, each after its delay. */
  int64_t now = t + 3000;
  bool locked = false;
  while (!locked) {
    int64_t d = identity_throttle_delay_s(&cfg, st.failed_count) * 1000;
    now = st.last_failed_at + d;
    CHECK_INT_EQ(identity_throttle_check(&cfg, &st, now, NULL), IDENTITY_THROTTLE_ALLOW);
    identity_throttle_begin(&st, now);
    locked = identity_throttle_fail(&cfg, &st, now);
  }
  CHECK_INT_EQ(st.locked_until, now + 900000);
  CHECK_INT_EQ(st.failed_count, 0);
  CHECK_INT_EQ(identity_throttle_check(&cfg, &st, now + 1, &retry), IDENTITY_THROTTLE_LOCKED);
  CHECK_INT_EQ(retry, 900);
  CHECK_INT_EQ(identity_throttle_check(&cfg, &st, now + 899001, &retry), IDENTITY_THROTTLE_LOCKED);
  CHECK_INT_EQ(retry, 1);
  CHECK_INT_EQ(identity_throttle_check(&cfg, &st, now + 900000, &retry), IDENTITY_THROTTLE_ALLOW);
  identity_throttle_success(&st);
  CHECK_INT_EQ(st.failed_count, 0);
  CHECK_INT_EQ(st.locked_until, 0);

  /* A success in between forgives. */
  identity_throttle_state_t s2 = {.failed_count = 5, .last_failed_at = t};
  CHECK_INT_EQ(identity_throttle_check(&cfg, &s2, t + 3999, NULL), IDENTITY_THROTTLE_SLOW);
  identity_throttle_success(&s2);
  CHECK_INT_EQ(identity_throttle_check(&cfg, &s2, t + 1, NULL), IDENTITY_THROTTLE_ALLOW);
}

/* --- grants ----------------------------------------------------------------------- */

/* city 1 > districts 2, 3 > wards 4, 5 (in 2) and 6 (in 3) */
static const int64_t PARENT[] = {0, 0, 1, 1, 2, 2, 3};

static bool fake_within(const void *ctx, int64_t unit, int64_t anc)
{
  UNUSED(ctx);
  if (unit <= 0 || anc <= 0 || unit >= (int64_t)ARRAY_LEN(PARENT)) return false;
  for (int64_t u = unit; u; u = PARENT[u])
    if (u == anc) return true;
  return false;
}

static void test_grants(void)
{
  grant_t g1[] = {{"users.read", 2}, {"users.write", 4}, {"audit.read", 3}};
  principal_t officer = {.account_id = 9, .kind = PRINCIPAL_OFFICIAL, .ngrants = 3, .grants = g1};
  grant_t g2[] = {{"*", 0}};
  principal_t admin = {.account_id = 1, .kind = PRINCIPAL_OFFICIAL, .ngrants = 1, .grants = g2};
  grant_t g3[] = {{"*", 3}};
  principal_t district_admin = {.account_id = 2, .kind = PRINCIPAL_OFFICIAL, .ngrants = 1, .grants = g3};
  principal_t citizen = {.account_id = 3, .kind = PRINCIPAL_CITIZEN};

  CHECK(identity_has_permission(&officer, "users.read"));
  CHECK(identity_has_permission(&officer, "audit.read"));
  CHECK(!identity_has_permission(&officer, "units.write"));
  CHECK(identity_has_permission(&admin, "units.write"));
  CHECK(identity_has_permission(&citizen, HTTP_SIGNED_IN));
  CHECK(!identity_has_permission(&citizen, "users.read"));
  CHECK(!identity_has_permission(NULL, "users.read"));
  CHECK(!identity_has_permission(NULL, HTTP_SIGNED_IN));

  CHECK(identity_grants_allow(&officer, "users.read", 2, fake_within, NULL));
  CHECK(identity_grants_allow(&officer, "users.read", 4, fake_within, NULL));
  CHECK(identity_grants_allow(&officer, "users.read", 5, fake_within, NULL));
  CHECK(!identity_grants_allow(&officer, "users.read", 6, fake_within, NULL));
  CHECK(!identity_grants_allow(&officer, "users.read", 1, fake_within, NULL));   /* above */
  CHECK(!identity_grants_allow(&officer, "users.read", 0, fake_within, NULL));   /* no unit */
  CHECK(identity_grants_allow(&officer, "users.write", 4, fake_within, NULL));
  CHECK(!identity_grants_allow(&officer, "users.write", 5, fake_within, NULL));
  CHECK(!identity_grants_allow(&officer, "users.write", 2, fake_within, NULL));
  CHECK(identity_grants_allow(&officer, "audit.read", 6, fake_within, NULL));
  CHECK(!identity_grants_allow(&officer, "audit.read", 4, fake_within, NULL));
  /* Without a hierarchy: only the granted unit itself. */
  CHECK(identity_grants_allow(&officer, "users.read", 2, NULL, NULL));
  CHECK(!identity_grants_allow(&officer, "users.read", 4, NULL, NULL));

  CHECK(identity_grants_allow(&admin, "users.write", 0, fake_within, NULL));
  CHECK(identity_grants_allow(&admin, "anything", 6, fake_within, NULL));
  CHECK(identity_grants_allow(&district_admin, "users.write", 6, fake_within, NULL));
  CHECK(!identity_grants_allow(&district_admin, "users.write", 4, fake_within, NULL));
  CHECK(!identity_grants_allow(&district_admin, "users.write", 0, fake_within, NULL));
  CHECK(!identity_grants_allow(&citizen, "users.read", 4, fake_within, NULL));
  CHECK(!identity_grants_allow(NULL, "users.read", 4, fake_within, NULL));

  /* identity_can / identity_scope with no units cache. */
  app_t app = {0};
  CHECK(identity_can(&app, &officer, "users.read", 2));
  CHECK(!identity_can(&app, &officer, "users.read", 4));
  arena_t *a = arena_new(0);
  identity_scope_t sc;
  identity_scope(a, &app, &admin, "users.read", 0, &sc);
  CHECK(sc.everywhere);
  identity_scope(a, &app, &officer, "users.read", 0, &sc);
  CHECK(!sc.everywhere);
  CHECK_STR_EQ(sc.json, "[2]");
  identity_scope(a, &app, &citizen, "users.read", 0, &sc);
  CHECK(!sc.everywhere);
  CHECK_STR_EQ(sc.json, "[]");
  identity_scope(a, &app, &admin, "users.read", 6, &sc);
  CHECK(!sc.everywhere);
  CHECK_STR_EQ(sc.json, "[6]");
  arena_free(a);
}

/* --- database --------------------------------------------------------------------- */

typedef struct {
  const char *pg_base;
  char url[600];
  char schema[64];
  char dir[64];
  config_t cfg;
  app_t app;
  db_t *db;
} env_t;

static const char UNITS_CSV[] =
  "level,code,name,type,parent_code\n"
  "province,01,Thành phố Hà Nội,thành phố,\n"
  "district,001,Quận Ba Đình,quận,01\n"
  "district,002,Quận Hoàn Kiếm,quận,01\n"
  "ward,00001,Phường Phúc Xá,phường,001\n"
  "ward,00004,Phường Trúc Bạch,phường,001\n"
  "ward,00037,Phường Phúc Tân,phường,002\n";

static int64_t q_int(db_t *db, const char *sql)
{
  int64_t v = -1;
  db_stmt_t *st = db_prepare(db, sql);
  if (st && db_step(st) == DB_ROW) v = db_col_int64(st, 0);
  if (st) db_stmt_done(st);
  return v;
}

static int64_t q_int_s(db_t *db, const char *sql, const char *arg)
{
  int64_t v = -1;
  db_stmt_t *st = db_prepare(db, sql);
  if (st && db_bind_text(st, 1, arg) == 0 && db_step(st) == DB_ROW) v = db_col_int64(st, 0);
  if (st) db_stmt_done(st);
  return v;
}

static int64_t unit_id(env_t *e, const char *code)
{
  const unit_t *u = e->app.units ? units_by_code(e->app.units, "2025", code) : NULL;
  return u ? u->id : 0;
}

static bool env_open(env_t *e, const char *pg_base)
{
  char err[256], path[160];
  memset(e, 0, sizeof *e);
  e->pg_base = pg_base;
  e->cfg = test_cfg();
  e->app.cfg = &e->cfg;
  if (pg_base) {
    db_t *admin = db_open(pg_base, err, sizeof err);
    if (!admin) {
      fprintf(stderr, "postgres: %s\n", err);
      return false;
    }
    snprintf(e->schema, sizeof e->schema, "t_identity_%d", (int)getpid());
    char sql[256];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", e->schema, e->schema);
    CHECK_INT_EQ(db_exec(admin, sql), 0);
    db_close(admin);
    snprintf(e->url, sizeof e->url, "%s%soptions=-csearch_path%%3D%s", pg_base,
             strchr(pg_base, '?') ? "&" : "?", e->schema);
  } else {
    snprintf(e->dir, sizeof e->dir, "/tmp/cityos_test_identity_XXXXXX");
    if (!mkdtemp(e->dir)) return false;
    snprintf(e->url, sizeof e->url, "sqlite:%s/id.db", e->dir);
  }
  e->app.db = db_pool_open(e->url, 4, err, sizeof err);
  if (!e->app.db) {
    fprintf(stderr, "pool: %s\n", err);
    return false;
  }
  e->db = db_pool_acquire(e->app.db);
  if (!e->db) return false;
  size_t n;
  const db_migration_t *m = units_migrations(&n);
  CHECK_INT_EQ(db_migrate(e->db, m, n, NULL), (int)n);
  m = identity_migrations(&n);
  CHECK_INT_EQ(db_migrate(e->db, m, n, NULL), (int)n);
  m = audit_migrations(db_kind(e->db), &n);
  CHECK_INT_EQ(db_migrate(e->db, m, n, NULL), (int)n);

  snprintf(path, sizeof path, "/tmp/cityos_test_identity_units_%d.csv", (int)getpid());
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(UNITS_CSV, f);
    fclose(f);
    CHECK_INT_EQ(units_import_csv(e->db, "2025", path, NULL), 6);
    unlink(path);
  }
  e->app.units = units_cache_load(e->db, "2025", err, sizeof err);
  if (!e->app.units) fprintf(stderr, "units cache: %s\n", err);
  CHECK(e->app.units != NULL);
  return true;
}

static void env_close(env_t *e)
{
  char err[256], path[160];
  if (e->db) db_pool_release(e->app.db, e->db);
  if (e->app.units) units_cache_free(e->app.units);
  if (e->app.db) db_pool_close(e->app.db);
  if (e->pg_base) {
    db_t *admin = db_open(e->pg_base, err, sizeof err);
    if (admin) {
      char sql[256];
      snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", e->schema);
      CHECK_INT_EQ(db_exec(admin, sql), 0);
      db_close(admin);
    }
  } else if (e->dir[0]) {
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
      snprintf(path, sizeof path, "%s/id.db%s", e->dir, suffixes[i]);
      unlink(path);
    }
    rmdir(e->dir);
  }
}

/* Validates, hashes and inserts in one transaction like the route does. Returns the
 * account id, or 0 with *prob set. */
static int64_t create(env_t *e, identity_new_account_t *acc, identity_problem_t *prob)
{
  arena_t *a = arena_new(0);
  char hash[IDENTITY_HASH_MAX];
  int64_t id = 0;
  audit_entry_t ctx = audit_entry_from_req(NULL, NULL, NULL, NULL);
  if (identity_account_validate(a, acc, prob) == 0 &&
      (!acc->password || identity_password_hash(&e->cfg, acc->password, hash) == 0)) {
    CHECK_INT_EQ(db_begin(e->db), 0);
    if (identity_account_insert(a, e->db, acc, acc->password ? hash : NULL, &ctx, &id, prob) == 0)
      CHECK_INT_EQ(db_commit(e->db), 0);
    else
      db_rollback(e->db);
  }
  arena_free(a);
  return id;
}

static void test_accounts(env_t *e)
{
  identity_problem_t prob;
  identity_role_ref_t roles[] = {{"unit_admin", unit_id(e, "001")}};
  identity_new_account_t off = {.kind = "official", .username = " Lan.Nguyen ", .password = "mật khẩu dài lắm",
                                .full_name = "Nguyễn Thị Lan", .unit_id = unit_id(e, "001"),
                                .nroles = 1, .roles = roles};
  int64_t lan = create(e, &off, &prob);
  CHECK(lan > 0);
  CHECK_INT_EQ(q_int_s(e->db, "SELECT COUNT(*) FROM accounts WHERE username = $1", "lan.nguyen"), 1);
  CHECK_INT_EQ(q_int_s(e->db, "SELECT COUNT(*) FROM accounts WHERE name_folded = $1", "nguyen thi lan"), 1);
  CHECK_INT_EQ(q_int(e->db, "SELECT COUNT(*) FROM audit_log WHERE action = 'user.create'"), 1);

  /* Duplicate user name: 409, nothing written. */
  identity_new_account_t dup = off;
  dup.username = "lan.nguyen";
  CHECK_INT_EQ(create(e, &dup, &prob), 0);
  CHECK_INT_EQ(prob.err, ERR_CONFLICT);
  CHECK_STR_EQ(prob.field, "username");

  /* Unknown role: 422 on roles, no half-written account. */
  identity_role_ref_t nosuch[] = {{"wizard", 0}};
  identity_new_account_t bad = {.kind = "official", .username = "minh", .password = "mật khẩu dài lắm",
                                .full_name = "Minh", .nroles = 1, .roles = nosuch};
  CHECK_INT_EQ(create(e, &bad, &prob), 0);
  CHECK_INT_EQ(prob.err, ERR_VALIDATION);
  CHECK_STR_EQ(prob.field, "roles");
  CHECK_INT_EQ(q_int_s(e->db, "SELECT COUNT(*) FROM accounts WHERE username = $1", "minh"), 0);

  /* Validation. */
  identity_new_account_t v = {.kind = "official", .username = "12", .password = "mật khẩu dài lắm", .full_name = "X"};
  CHECK_INT_EQ(create(e, &v, &prob), 0);
  CHECK_STR_EQ(prob.field, "username");
  v = (identity_new_account_t){.kind = "official", .username = "001234567890", .password = "mật khẩu dài lắm", .full_name = "X"};
  CHECK_INT_EQ(create(e, &v, &prob), 0);
  CHECK_STR_EQ(prob.field, "username");   /* digits only: reserved for citizens */
  v = (identity_new_account_t){.kind = "official", .username = "hoa", .password = "hoahoahoa", .full_name = "X"};
  CHECK_INT_EQ(create(e, &v, &prob), 0);
  CHECK_STR_EQ(prob.field, "password");
  v = (identity_new_account_t){.kind = "robot", .username = "hoa", .password = "mật khẩu dài lắm", .full_name = "X"};
  CHECK_INT_EQ(create(e, &v, &prob), 0);
  CHECK_STR_EQ(prob.field, "kind");
  v = (identity_new_account_t){.kind = "official", .username = "hoa", .password = "mật khẩu dài lắm", .full_name = ""};
  CHECK_INT_EQ(create(e, &v, &prob), 0);
  CHECK_STR_EQ(prob.field, "full_name");
  v = (identity_new_account_t){.kind = "client", .username = "svc", .password = "mật khẩu dài lắm", .full_name = "Svc"};
  CHECK_INT_EQ(create(e, &v, &prob), 0);
  CHECK_STR_EQ(prob.field, "password");

  /* Citizens: CCCD checked against birth date and sex. 001 (Hà Nội), 0 = male 19xx, 95. */
  identity_new_account_t c = {.kind = "citizen", .cccd = "001095012345", .birth_date = "1995-04-30",
                              .sex = "male", .password = "mật khẩu dài lắm", .full_name = "Trần Văn Bình"};
  int64_t binh = create(e, &c, &prob);
  CHECK(binh > 0);
  CHECK_INT_EQ(q_int_s(e->db, "SELECT COUNT(*) FROM accounts WHERE username = $1 AND cccd = $1", "001095012345"), 1);
  c = (identity_new_account_t){.kind = "citizen", .cccd = "001195012346", .birth_date = "1995-04-30",
                               .sex = "male", .password = "mật khẩu dài lắm", .full_name = "X"};
  CHECK_INT_EQ(create(e, &c, &prob), 0);
  CHECK_STR_EQ(prob.field, "cccd");           /* digit 4 says female */
  c.cccd = "001096012346";
  c.sex = "M";
  CHECK_INT_EQ(create(e, &c, &prob), 0);
  CHECK_STR_EQ(prob.field, "cccd");           /* year 96 vs 1995 */
  c.cccd = "00109501234";
  CHECK_INT_EQ(create(e, &c, &prob), 0);
  CHECK_STR_EQ(prob.field, "cccd");           /* 11 digits */
  c.cccd = "001095012346";
  c.birth_date = "1995-02-30";
  CHECK_INT_EQ(create(e, &c, &prob), 0);
  CHECK_STR_EQ(prob.field, "birth_date");
  c.birth_date = NULL;
  CHECK_INT_EQ(create(e, &c, &prob), 0);
  CHECK_STR_EQ(prob.field, "birth_date");
  c.birth_date = "1995-04-30";
  c.sex = "other";
  CHECK_INT_EQ(create(e, &c, &prob), 0);
  CHECK_STR_EQ(prob.field, "sex");
  c.sex = "Nữ";
  c.cccd = "001195012346";
  CHECK(create(e, &c, &prob) > 0);            /* "Nữ" is female, digit 4 = 1 */
  CHECK_INT_EQ(q_int_s(e->db, "SELECT COUNT(*) FROM accounts WHERE cccd = $1 AND sex = 'female'", "001195012346"), 1);
  /* The same CCCD on an official: 409 on cccd. */
  identity_new_account_t o2 = {.kind = "official", .username = "binh.tran", .password = "mật khẩu dài lắm",
                               .full_name = "Trần Văn Bình", .cccd = "001095012345"};
  CHECK_INT_EQ(create(e, &o2, &prob), 0);
  CHECK_INT_EQ(prob.err, ERR_CONFLICT);
  CHECK_STR_EQ(prob.field, "cccd");
  /* Citizens hold no roles. */
  identity_role_ref_t officer_role[] = {{"officer", 0}};
  c = (identity_new_account_t){.kind = "citizen", .cccd = "001095099999", .birth_date = "1995-01-01", .sex = "male",
                               .password = "mật khẩu dài lắm", .full_name = "X", .nroles = 1, .roles = officer_role};
  CHECK_INT_EQ(create(e, &c, &prob), 0);
  CHECK_STR_EQ(prob.field, "roles");

  /* The principal and its grants. */
  arena_t *a = arena_new(0);
  const char *status = NULL;
  bool dberr = true;
  principal_t *p = identity_principal_load(a, e->db, lan, &status, &dberr);
  CHECK(p != NULL);
  CHECK(!dberr);
  if (p) {
    CHECK_STR_EQ(status, "active");
    CHECK_INT_EQ(p->kind, PRINCIPAL_OFFICIAL);
    CHECK_STR_EQ(p->username, "lan.nguyen");
    CHECK_INT_EQ(p->ngrants, 4);
    CHECK(identity_has_permission(p, "users.write"));
    CHECK(identity_has_permission(p, "audit.read"));
    CHECK(!identity_has_permission(p, "units.write"));
    /* Scope through the real units cache. */
    CHECK(identity_can(&e->app, p, "users.write", unit_id(e, "001")));
    CHECK(identity_can(&e->app, p, "users.write", unit_id(e, "00004")));
    CHECK(!identity_can(&e->app, p, "users.write", unit_id(e, "00037")));
    CHECK(!identity_can(&e->app, p, "users.write", unit_id(e, "01")));
    CHECK(!identity_can(&e->app, p, "users.write", 0));
    identity_scope_t sc;
    identity_scope(a, &e->app, p, "users.read", 0, &sc);
    CHECK(!sc.everywhere);
    CHECK_INT_EQ(sc.n, 3);   /* 001, 00001, 00004 */
    identity_scope(a, &e->app, p, "users.read", unit_id(e, "00004"), &sc);
    CHECK_INT_EQ(sc.n, 1);
    identity_scope(a, &e->app, p, "users.read", unit_id(e, "01"), &sc);
    CHECK_INT_EQ(sc.n, 3);
    identity_scope(a, &e->app, p, "users.read", unit_id(e, "002"), &sc);
    CHECK_INT_EQ(sc.n, 0);
    CHECK_STR_EQ(sc.json, "[]");
    /* Handing out roles: officer in the district yes, admin no, elsewhere no. */
    CHECK(identity_may_assign_role(&e->app, e->db, p, "officer", unit_id(e, "00001")));
    CHECK(identity_may_assign_role(&e->app, e->db, p, "unit_admin", unit_id(e, "001")));
    CHECK(!identity_may_assign_role(&e->app, e->db, p, "admin", unit_id(e, "001")));
    CHECK(!identity_may_assign_role(&e->app, e->db, p, "officer", unit_id(e, "002")));
    CHECK(!identity_may_assign_role(&e->app, e->db, p, "officer", 0));
    CHECK(!identity_may_assign_role(&e->app, e->db, p, "wizard", unit_id(e, "001")));
    json_t *j = identity_principal_json(&e->app, p);
    CHECK(j != NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(j, "unit"), "code")), "001");
    CHECK_INT_EQ(json_array_size(json_object_get(j, "grants")), 4);
    json_decref(j);
  }
  CHECK(identity_principal_load(a, e->db, 999999, NULL, &dberr) == NULL);
  CHECK(!dberr);
  arena_free(a);

  /* Unit search for the users list runs the dialect's JSON set. */
  const char *sql = db_kind(e->db) == DB_POSTGRES
    ? "SELECT COUNT(*) FROM accounts WHERE unit_id IN (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(CAST($1 AS TEXT) AS JSON)))"
    : "SELECT COUNT(*) FROM accounts WHERE unit_id IN (SELECT value FROM json_each(CAST($1 AS TEXT)))";
  char set[64];
  snprintf(set, sizeof set, "[%" PRId64 ",%" PRId64 "]", unit_id(e, "001"), unit_id(e, "002"));
  CHECK_INT_EQ(q_int_s(e->db, sql, set), 1);
  CHECK_INT_EQ(q_int_s(e->db, sql, "[]"), 0);
}

static identity_login_result_t login(env_t *e, const char *user, const char *pw)
{
  identity_login_result_t r;
  audit_entry_t ctx = {.ip = "192.0.2.7", .request_id = "test"};
  int rc = identity_login(&e->app, e->db, user, pw, &ctx, &r);
  CHECK_INT_EQ(rc, 0);
  CHECK(!db_in_transaction(e->db));
  return r;
}

static void test_login(env_t *e)
{
  identity_problem_t prob;
  identity_new_account_t acc = {.kind = "official", .username = "thu", .password = "mật khẩu của Thu",
                                .full_name = "Phạm Thu"};
  int64_t thu = create(e, &acc, &prob);
  CHECK(thu > 0);

  identity_login_result_t r = login(e, "THU", "mật khẩu của Thu");
  CHECK_INT_EQ(r.err, ERR_OK);
  CHECK_INT_EQ(r.account_id, thu);
  CHECK(identity_token_well_formed(r.token));
  CHECK(strncmp(r.token, "cs_", 3) == 0);
  CHECK(r.expires_at > clock_now_ms() + 3500 * 1000);
  char hash[IDENTITY_TOKEN_HASH_HEX];
  identity_token_hash(r.token, hash);
  CHECK_INT_EQ(q_int_s(e->db, "SELECT COUNT(*) FROM tokens WHERE token_hash = $1 AND last_ip = '192.0.2.7'", hash), 1);
  CHECK_INT_EQ(q_int_s(e->db, "SELECT COUNT(*) FROM tokens WHERE token_hash = $1", r.token), 0);   /* never stored */
  int64_t first_session = r.session_id;

  /* Wrong passwords: three plain failures, then 429. */
  for (int i = 0; i < 3; i++) {
    r = login(e, "thu", "wrong password!");
    CHECK_INT_EQ(r.err, ERR_BAD_CREDENTIALS);
  }
  CHECK_INT_EQ(q_int(e->db, "SELECT failed_count FROM accounts WHERE username = 'thu'"), 3);
  r = login(e, "thu", "mật khẩu của Thu");
  CHECK_INT_EQ(r.err, ERR_RATE_LIMITED);   /* even with the right password */
  CHECK_INT_EQ(r.retry_after_s, 1);
  CHECK_INT_EQ(q_int(e->db, "SELECT failed_count FROM accounts WHERE username = 'thu'"), 3);
  /* Two seconds later the right password works and forgives. */
  CHECK_INT_EQ(db_exec(e->db, "UPDATE accounts SET last_failed_at = last_failed_at - 2000 WHERE username = 'thu'"), 0);
  r = login(e, "thu", "mật khẩu của Thu");
  CHECK_INT_EQ(r.err, ERR_OK);
  CHECK_INT_EQ(q_int(e->db, "SELECT failed_count FROM accounts WHERE username = 'thu'"), 0);
  CHECK_INT_EQ(q_int(e->db, "SELECT COUNT(*) FROM accounts WHERE username = 'thu' AND last_failed_at IS NULL"), 1);

  /* The lock: max 3 failures, no slowing down. */
  e->cfg.login_slow_after = 100;
  e->cfg.login_max_failures = 3;
  r = login(e, "thu", "wrong password!");
  CHECK_INT_EQ(r.err, ERR_BAD_CREDENTIALS);
  r = login(e, "thu", "wrong password!");
  CHECK_INT_EQ(r.err, ERR_BAD_CREDENTIALS);
  r = login(e, "thu", "wrong password!");
  CHECK_INT_EQ(r.err, ERR_LOCKED);
  CHECK(r.retry_after_s >= 899 && r.retry_after_s <= 900);
  r = login(e, "thu", "mật khẩu của Thu");
  CHECK_INT_EQ(r.err, ERR_LOCKED);
  CHECK(q_int(e->db, "SELECT locked_until FROM accounts WHERE username = 'thu'") > clock_now_ms());
  CHECK_INT_EQ(db_exec(e->db, "UPDATE accounts SET locked_until = locked_until - 901000 WHERE username = 'thu'"), 0);
  r = login(e, "thu", "mật khẩu của Thu");
  CHECK_INT_EQ(r.err, ERR_OK);
  e->cfg = test_cfg();

  /* Unknown names and accounts without passwords look the same as wrong passwords. */
  r = login(e, "nobody", "wrong password!");
  CHECK_INT_EQ(r.err, ERR_BAD_CREDENTIALS);
  r = login(e, "", "x");
  CHECK_INT_EQ(r.err, ERR_BAD_CREDENTIALS);
  CHECK_INT_EQ(q_int(e->db, "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login_failed'"
                            " AND record_id IS NULL AND detail LIKE '%unknown_user%'"), 2);
  /* Disabled: refused even with the right password. */
  CHECK_INT_EQ(db_exec(e->db, "UPDATE accounts SET status = 'disabled' WHERE username = 'thu'"), 0);
  r = login(e, "thu", "mật khẩu của Thu");
  CHECK_INT_EQ(r.err, ERR_BAD_CREDENTIALS);
  CHECK_INT_EQ(db_exec(e->db, "UPDATE accounts SET status = 'active', failed_count = 0 WHERE username = 'thu'"), 0);

  /* Rehash on sign-in when the settings grew. */
  e->cfg.argon_ops = 2;
  r = login(e, "thu", "mật khẩu của Thu");
  CHECK_INT_EQ(r.err, ERR_OK);
  CHECK_INT_EQ(q_int(e->db, "SELECT COUNT(*) FROM accounts WHERE username = 'thu' AND password_hash LIKE '%t=2,%'"), 1);
  e->cfg = test_cfg();
  int64_t last_session = r.session_id;

  /* Every sign-in left an audit entry; the chain holds. */
  CHECK_INT_EQ(q_int(e->db, "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login'"), 4);
  CHECK_INT_EQ(q_int(e->db, "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login_failed'"), 11);
  CHECK_INT_EQ(q_int(e->db, "SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%wrong password%'"
                            " OR detail LIKE '%Thu%' OR detail LIKE '%cs\\_%' ESCAPE '\\'"), 0);
  CHECK_INT_EQ(audit_verify(e->db, NULL, NULL), 0);

  /* A new password signs out the other sessions. */
  char h[IDENTITY_HASH_MAX];
  CHECK_INT_EQ(identity_password_hash(&e->cfg, "một mật khẩu mới", h), 0);
  CHECK_INT_EQ(db_begin(e->db), 0);
  CHECK_INT_EQ(identity_account_set_password(e->db, thu, h, last_session), 0);
  CHECK_INT_EQ(db_commit(e->db), 0);
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM tokens WHERE account_id = %" PRId64 " AND revoked_at IS NULL", thu);
  CHECK_INT_EQ(q_int(e->db, sql), 1);
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM tokens WHERE id = %" PRId64 " AND revoked_at IS NOT NULL", first_session);
  CHECK_INT_EQ(q_int(e->db, sql), 1);
  r = login(e, "thu", "mật khẩu của Thu");
  CHECK_INT_EQ(r.err, ERR_BAD_CREDENTIALS);
  r = login(e, "thu", "một mật khẩu mới");
  CHECK_INT_EQ(r.err, ERR_OK);

  /* API keys never expire unless asked. */
  char key[IDENTITY_TOKEN_MAX];
  int64_t key_id = 0, exp = -1;
  CHECK_INT_EQ(db_begin(e->db), 0);
  CHECK_INT_EQ(identity_token_issue(&e->app, e->db, thu, IDENTITY_TOKEN_APIKEY, 0, NULL, key, &key_id, &exp), 0);
  CHECK_INT_EQ(db_commit(e->db), 0);
  CHECK(strncmp(key, "ck_", 3) == 0);
  CHECK_INT_EQ(exp, 0);
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM tokens WHERE id = %" PRId64 " AND expires_at IS NULL AND kind = 'apikey'", key_id);
  CHECK_INT_EQ(q_int(e->db, sql), 1);
  sodium_memzero(key, sizeof key);
}

static void test_first_admin(env_t *e)
{
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  CHECK_INT_EQ(identity_ensure_first_admin(&e->app, out), 0);
  fclose(out);
  CHECK(text && strstr(text, "user name: admin") != NULL);
  const char *p = text ? strstr(text, "password:  ") : NULL;
  char pw[32] = "";
  if (p) sscanf(p + 11, "%31s", pw);
  CHECK_INT_EQ(strlen(pw), 20);
  free(text);

  identity_login_result_t r = login(e, "admin", pw);
  CHECK_INT_EQ(r.err, ERR_OK);
  arena_t *a = arena_new(0);
  principal_t *admin = identity_principal_load(a, e->db, r.account_id, NULL, NULL);
  CHECK(admin && identity_can(&e->app, admin, "units.write", 0));
  CHECK(admin && identity_may_assign_role(&e->app, e->db, admin, "admin", 0));
  arena_free(a);

  /* A second start prints nothing. */
  text = NULL;
  out = open_memstream(&text, &len);
  CHECK_INT_EQ(identity_ensure_first_admin(&e->app, out), 0);
  fclose(out);
  CHECK_INT_EQ(len, 0);
  free(text);

  /* The role gone: "admin" is reset and promoted again. */
  CHECK_INT_EQ(db_exec(e->db, "DELETE FROM account_roles WHERE role = 'admin'"), 0);
  text = NULL;
  out = open_memstream(&text, &len);
  CHECK_INT_EQ(identity_ensure_first_admin(&e->app, out), 0);
  fclose(out);
  CHECK(text && strstr(text, "promoted") != NULL);
  free(text);
  CHECK_INT_EQ(q_int(e->db, "SELECT COUNT(*) FROM account_roles WHERE role = 'admin' AND unit_id = 0"), 1);
  CHECK_INT_EQ(q_int(e->db, "SELECT COUNT(*) FROM accounts WHERE username = 'admin'"), 1);
}

/* Runs identity_cli_user with the arguments (NULL-terminated), on writable copies. */
static int cli(env_t *e, ...)
{
  char *argv[32];
  int argc = 0;
  va_list ap;
  va_start(ap, e);
  for (const char *a; argc < 31 && (a = va_arg(ap, const char *)) != NULL;) argv[argc++] = strdup(a);
  va_end(ap);
  argv[argc] = NULL;
  int rc = identity_cli_user(&e->app, argc, argv);
  fflush(stdout);
  for (int i = 0; i < argc; i++) free(argv[i]);
  return rc;
}

static void test_cli(env_t *e)
{
  CHECK_INT_EQ(cli(e, "user", "add", "--kind", "official", "--username", "hung", "--name", "Lê Hùng",
                   "--unit", "00037", "--role", "officer@00037", "--password", "mật khẩu của Hùng", NULL), 0);
  CHECK_INT_EQ(q_int(e->db, "SELECT COUNT(*) FROM account_roles r JOIN accounts a ON a.id = r.account_id"
                            " WHERE a.username = 'hung' AND r.role = 'officer'"), 1);
  CHECK_INT_EQ(cli(e, "user", "add", "--kind", "official", "--username", "hung", "--name", "Lê Hùng",
                   "--password", "mật khẩu của Hùng", NULL), 1);   /* exists */
  CHECK_INT_EQ(cli(e, "user", "add", "--kind", "official", "--username", "lam", "--name", "Lâm",
                   "--unit", "99999", "--password", "mật khẩu của Lâm", NULL), 2);   /* no such unit */
  CHECK_INT_EQ(cli(e, "user", "add", "--kind", "citizen", "--cccd", "001090000001", "--birth-date", "1990-01-01",
                   "--sex", "male", "--name", "Đỗ Văn Cường", "--password=mật khẩu của Cường", NULL), 0);
  CHECK_INT_EQ(cli(e, "user", "add", "--kind", "citizen", "--cccd", "001190000002", "--birth-date", "1990-01-01",
                   "--sex", "male", "--name", "X", "--password", "mật khẩu của X", NULL), 1);
  CHECK_INT_EQ(cli(e, "user", "list", "--limit", "3", NULL), 0);
  CHECK_INT_EQ(cli(e, "user", "passwd", "hung", "--password", "mật khẩu mới của Hùng", NULL), 0);
  identity_login_result_t r = login(e, "hung", "mật khẩu mới của Hùng");
  CHECK_INT_EQ(r.err, ERR_OK);
  CHECK_INT_EQ(cli(e, "user", "passwd", "hung", "--password", "1234567890", NULL), 1);
  CHECK_INT_EQ(cli(e, "user", "passwd", "nobody", "--password", "mật khẩu mới của Hùng", NULL), 1);
  CHECK_INT_EQ(cli(e, "user", "--help", NULL), 0);
  CHECK_INT_EQ(cli(e, "user", "frobnicate", NULL), 2);
  CHECK_INT_EQ(audit_verify(e->db, NULL, NULL), 0);
}

static void run_suite(const char *pg, const char *label)
{
  env_t e;
  printf("== %s ==\n", label);
  if (env_open(&e, pg)) {
    test_accounts(&e);
    test_login(&e);
    test_first_admin(&e);
    test_cli(&e);
  } else {
    CHECK(0);
  }
  env_close(&e);
}

int main(void)
{
  test_password_policy();
  test_password_hash();
  test_password_generate();
  test_tokens();
  test_throttle();
  test_grants();
  run_suite(NULL, "sqlite");
  const char *pg = getenv("CITYOS_TEST_PG_URL");
  if (pg && *pg)
    run_suite(pg, "postgres");
  else
    printf("skipped postgres: CITYOS_TEST_PG_URL not set\n");
  return check_summary();
}
