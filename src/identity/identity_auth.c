#include "base/common.h"
#include "identity/identity.h"
#include "identity/identity_internal.h"
#include "base/log.h"
#include "units/units.h"

#include <sodium.h>

/*
 * Who is calling and what may they do: principals from tokens, grants, unit scope.
 */

/* --- principals ------------------------------------------------------------------- */

static principal_kind_t identity_kind_parse(const char *s)
{
  if (s && strcmp(s, "citizen") == 0) return PRINCIPAL_CITIZEN;
  if (s && strcmp(s, "client") == 0) return PRINCIPAL_CLIENT;
  return PRINCIPAL_OFFICIAL;
}

principal_t *identity_principal_load(arena_t *a, db_t *db, int64_t account_id,
                                     const char **status, bool *dberr)
{
  principal_t *p = NULL, *result = NULL;
  db_stmt_t *st = NULL;
  size_t cap = 0;
  int s;

  if (dberr) *dberr = false;
  st = db_prepare(db, "SELECT kind, username, full_name, cccd, unit_id, status FROM accounts"
                      " WHERE id = $1");
  if (!st || db_bind_int64(st, 1, account_id)) goto db_fail;
  s = db_step(st);
  if (s < 0) goto db_fail;
  if (s != DB_ROW) goto done;
  p = arena_alloc(a, sizeof *p);
  p->account_id = account_id;
  p->kind = identity_kind_parse(db_col_text(st, 0));
  p->username = arena_strdup(a, db_col_text(st, 1));
  p->display_name = arena_strdup(a, db_col_text(st, 2));
  p->cccd = arena_strdup(a, db_col_text(st, 3));
  p->unit_id = db_col_int64(st, 4);
  if (status) *status = arena_strdup(a, db_col_text(st, 5));
  db_stmt_done(st);

  st = db_prepare(db, "SELECT DISTINCT rp.permission, ar.unit_id FROM account_roles ar"
                      " JOIN role_permissions rp ON rp.role = ar.role"
                      " WHERE ar.account_id = $1 ORDER BY rp.permission, ar.unit_id");
  if (!st || db_bind_int64(st, 1, account_id)) goto db_fail;
  while ((s = db_step(st)) == DB_ROW) {
    if (p->ngrants == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      grant_t *g = arena_alloc(a, ncap * sizeof *g);
      if (p->ngrants) memcpy(g, p->grants, p->ngrants * sizeof *g);
      p->grants = g;
      cap = ncap;
    }
    p->grants[p->ngrants].permission = arena_strdup(a, db_col_text(st, 0));
    p->grants[p->ngrants].unit_id = db_col_int64(st, 1);
    p->ngrants++;
  }
  if (s < 0) goto db_fail;
  result = p;
  goto done;

db_fail:
  log_error(NULL, "msg=\"loading principal failed\" account=%" PRId64 " err=\"%s\"", account_id,
            db_errmsg(db));
  if (dberr) *dberr = true;
done:
  if (st) db_stmt_done(st);
  return result;
}

/* --- the authenticate hook ---------------------------------------------------------- */

static identity_session_gate_fn identity_gate;   /* set once at start; NULL: none */

int identity_authenticate(http_req_t *req)
{
  app_t *app = req->app;
  db_t *db = NULL;
  db_stmt_t *st = NULL;
  const char *token = NULL;
  bool from_cookie = false, dberr = false;
  char hash[IDENTITY_TOKEN_HASH_HEX];
  int rc = -1;
  int s;

  const char *authz = http_header(req, "Authorization");
  if (authz) {
    if (strncasecmp(authz, "Basic ", 6) == 0 && req->route && req->route->permission == HTTP_PUBLIC) {
      rc = 0;   /* OAuth client credentials (the oidc token endpoint reads them itself) */
      goto done;
    }
    if (strncasecmp(authz, "Bearer ", 7) != 0) {
      http_reply_error(req, ERR_UNAUTHENTICATED, "Send the token as Authorization: Bearer <token>");
      goto done;
    }
    token = authz + 7;
    while (*token == ' ') token++;
  } else {
    token = http_cookie(req, IDENTITY_SESSION_COOKIE);
    from_cookie = true;
  }
  if (!token || !*token) {
    rc = 0;   /* anonymous */
    goto done;
  }
  if (!identity_token_well_formed(token)) goto bad;
  identity_token_hash(token, hash);

  db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    goto done;
  }
  st = db_prepare(db, "SELECT t.id, t.account_id, t.kind, t.expires_at, t.revoked_at, t.last_ip,"
                      " a.status FROM tokens t JOIN accounts a ON a.id = t.account_id"
                      " WHERE t.token_hash = $1");
  if (!st || db_bind_text(st, 1, hash)) goto db_fail;
  s = db_step(st);
  if (s < 0) goto db_fail;
  if (s != DB_ROW) goto bad;

  int64_t now = clock_now_ms();
  int64_t token_id = db_col_int64(st, 0);
  int64_t account_id = db_col_int64(st, 1);
  const char *kind = db_col_text(st, 2);
  bool expired = !db_col_is_null(st, 3) && db_col_int64(st, 3) <= now;
  bool revoked = !db_col_is_null(st, 4);
  const char *last_ip = db_col_text(st, 5);
  const char *status = db_col_text(st, 6);
  bool ip_changed = req->client_ip && (!last_ip || strcmp(last_ip, req->client_ip) != 0);
  bool kind_ok = kind && strcmp(kind, token[1] == 'k' ? "apikey" : "session") == 0;
  bool active = status && strcmp(status, "active") == 0;
  db_stmt_done(st);
  st = NULL;
  if (expired || revoked || !kind_ok || !active) goto bad;

  principal_t *p = identity_principal_load(req->arena, db, account_id, NULL, &dberr);
  if (!p) {
    if (dberr) goto db_fail;
    goto bad;
  }
  p->session_id = token_id;

  if (ip_changed) {
    /* Rare (a new address), so the write stays off the common path. */
    st = db_prepare(db, "UPDATE tokens SET last_ip = $2 WHERE id = $1");
    if (!st || db_bind_int64(st, 1, token_id) || db_bind_text(st, 2, req->client_ip) ||
        db_step(st) < 0)
      log_warn(req->request_id, "msg=\"token last_ip not updated\" err=\"%s\"", db_errmsg(db));
  }
  req->principal = p;
  req->token = arena_strdup(req->arena, token);
  rc = 0;
  goto done;

bad:
  if (from_cookie && req->route && req->route->permission == HTTP_PUBLIC) {
    rc = 0;   /* a stale cookie does not stand in the way of signing in again */
    goto done;
  }
  http_reply_error(req, ERR_UNAUTHENTICATED, "The token is unknown, expired or revoked");
  goto done;

db_fail:
  log_error(req->request_id, "msg=\"token lookup failed\" err=\"%s\"", db ? db_errmsg(db) : "");
  http_reply_error(req, ERR_UNAVAILABLE, NULL);
done:
  if (st) db_stmt_done(st);
  if (db) db_pool_release(app->db, db);
  sodium_memzero(hash, sizeof hash);
  if (rc == 0 && req->principal && identity_gate)
    rc = identity_gate(req);   /* e.g. a second factor still owed (oidc module) */
  return rc;
}

void identity_set_session_gate(identity_session_gate_fn fn) { identity_gate = fn; }

/* --- permissions ------------------------------------------------------------------ */

static bool identity_grant_matches(const grant_t *g, const char *perm)
{
  return strcmp(g->permission, "*") == 0 || strcmp(g->permission, perm) == 0;
}

bool identity_has_permission(const principal_t *p, const char *perm)
{
  if (!p || !perm) return false;
  if (strcmp(perm, HTTP_SIGNED_IN) == 0) return true;
  for (size_t i = 0; i < p->ngrants; i++)
    if (identity_grant_matches(&p->grants[i], perm)) return true;
  return false;
}

bool identity_grants_allow(const principal_t *p, const char *perm, int64_t unit_id,
                           identity_within_fn within, const void *ctx)
{
  if (!p || !perm) return false;
  for (size_t i = 0; i < p->ngrants; i++) {
    const grant_t *g = &p->grants[i];
    if (!identity_grant_matches(g, perm)) continue;
    if (g->unit_id == 0) return true;
    if (unit_id == 0) continue;
    if (g->unit_id == unit_id) return true;
    if (within && within(ctx, unit_id, g->unit_id)) return true;
  }
  return false;
}

static bool identity_within_units(const void *ctx, int64_t unit_id, int64_t ancestor_id)
{
  return units_is_within(ctx, unit_id, ancestor_id);
}

bool identity_can(const app_t *app, const principal_t *p, const char *perm, int64_t unit_id)
{
  const units_cache_t *c = app ? app->units : NULL;
  return identity_grants_allow(p, perm, unit_id, c ? identity_within_units : NULL, c);
}

/* --- scope ------------------------------------------------------------------------ */

typedef struct {
  arena_t *a;
  int64_t *v;
  size_t n, cap;
} identity_ids_t;

static void identity_ids_push(identity_ids_t *ids, int64_t id)
{
  if (ids->n == ids->cap) {
    size_t ncap = ids->cap ? ids->cap * 2 : 32;
    int64_t *nv = arena_alloc(ids->a, ncap * sizeof *nv);
    if (ids->n) memcpy(nv, ids->v, ids->n * sizeof *nv);
    ids->v = nv;
    ids->cap = ncap;
  }
  ids->v[ids->n++] = id;
}

/* Every unit of root's subtree (root included); just root without a cache. */
static void identity_subtree(const units_cache_t *c, int64_t root, identity_ids_t *ids)
{
  const unit_t *u = c ? units_by_id(c, root) : NULL;
  if (!u) {
    identity_ids_push(ids, root);
    return;
  }
  size_t top = 0, cap = 64;
  const unit_t **stack = arena_alloc(ids->a, cap * sizeof *stack);
  stack[top++] = u;
  while (top > 0) {
    const unit_t *x = stack[--top];
    identity_ids_push(ids, x->id);
    for (size_t i = 0; i < x->nchildren; i++) {
      if (top == cap) {
        const unit_t **ns = arena_alloc(ids->a, cap * 2 * sizeof *ns);
        memcpy(ns, stack, cap * sizeof *ns);
        stack = ns;
        cap *= 2;
      }
      stack[top++] = x->children[i];
    }
  }
}

static int identity_cmp_i64(const void *x, const void *y)
{
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  return (a > b) - (a < b);
}

void identity_scope(arena_t *a, const app_t *app, const principal_t *p, const char *perm,
                    int64_t within_unit, identity_scope_t *out)
{
  const units_cache_t *c = app ? app->units : NULL;
  identity_ids_t ids = {.a = a};
  bool global = false;

  memset(out, 0, sizeof *out);
  if (p && perm) {
    for (size_t i = 0; i < p->ngrants; i++)
      if (identity_grant_matches(&p->grants[i], perm) && p->grants[i].unit_id == 0) global = true;
  }
  if (global && within_unit == 0) {
    out->everywhere = true;
    return;
  }
  if (global) {
    identity_subtree(c, within_unit, &ids);
  } else if (p && perm) {
    for (size_t i = 0; i < p->ngrants; i++) {
      const grant_t *g = &p->grants[i];
      if (!identity_grant_matches(g, perm)) continue;
      if (within_unit == 0 || g->unit_id == within_unit ||
          (c && units_is_within(c, g->unit_id, within_unit))) {
        identity_subtree(c, g->unit_id, &ids);          /* the grant lies inside the filter */
      } else if (c && units_is_within(c, within_unit, g->unit_id)) {
        identity_subtree(c, within_unit, &ids);         /* the filter lies inside the grant */
      }
    }
  }
  if (ids.n > 1) qsort(ids.v, ids.n, sizeof *ids.v, identity_cmp_i64);
  size_t k = 0;
  for (size_t i = 0; i < ids.n; i++)
    if (k == 0 || ids.v[k - 1] != ids.v[i]) ids.v[k++] = ids.v[i];
  out->n = k;
  out->ids = ids.v;

  size_t cap = 3 + k * 21;
  char *json = arena_alloc(a, cap);
  size_t len = 0;
  json[len++] = '[';
  for (size_t i = 0; i < k; i++)
    len += (size_t)snprintf(json + len, cap - len, "%s%" PRId64, i ? "," : "", ids.v[i]);
  json[len++] = ']';
  json[len] = '\0';
  out->json = json;
}

/* --- JSON ------------------------------------------------------------------------- */

json_t *identity_unit_json(const app_t *app, int64_t unit_id)
{
  if (unit_id == 0) return json_null();
  const unit_t *u = app && app->units ? units_by_id(app->units, unit_id) : NULL;
  if (!u) return json_pack("{s:I}", "id", (json_int_t)unit_id);
  return json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)u->id, "code", u->code, "name",
                   u->name, "era", u->era);
}

json_t *identity_principal_json(const app_t *app, const principal_t *p)
{
  json_t *grants = json_array();
  for (size_t i = 0; i < p->ngrants; i++)
    json_array_append_new(grants, json_pack("{s:s, s:o}", "permission", p->grants[i].permission,
                                            "unit", identity_unit_json(app, p->grants[i].unit_id)));
  return json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:o, s:o}", "id", (json_int_t)p->account_id,
                   "kind", principal_kind_name(p->kind), "username", p->username, "name",
                   p->display_name, "cccd", p->cccd, "unit", identity_unit_json(app, p->unit_id),
                   "grants", grants);
}

/* --- tokens and roles ------------------------------------------------------------- */

int identity_token_issue(const app_t *app, db_t *db, int64_t account_id, identity_token_kind_t kind,
                         int64_t expires_at_ms, const char *ip, char out[IDENTITY_TOKEN_MAX],
                         int64_t *token_id, int64_t *expires_at)
{
  int rc = -1;
  db_stmt_t *st = NULL;
  char hash[IDENTITY_TOKEN_HASH_HEX];
  int64_t now = clock_now_ms();
  int64_t exp = expires_at_ms;

  if (kind == IDENTITY_TOKEN_SESSION) {
    int ttl = app->cfg->session_ttl_s > 0 ? app->cfg->session_ttl_s : 8 * 3600;
    exp = now + (int64_t)ttl * 1000;
  }
  identity_token_new(kind, out);
  identity_token_hash(out, hash);
  st = db_prepare(db, "INSERT INTO tokens (account_id, kind, token_hash, created_at, expires_at,"
                      " last_ip) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id");
  if (!st || db_bind_int64(st, 1, account_id) ||
      db_bind_text(st, 2, kind == IDENTITY_TOKEN_APIKEY ? "apikey" : "session") ||
      db_bind_text(st, 3, hash) || db_bind_int64(st, 4, now) ||
      (exp ? db_bind_int64(st, 5, exp) : db_bind_null(st, 5)) || db_bind_text(st, 6, ip))
    goto db_fail;
  if (db_step(st) != DB_ROW) goto db_fail;
  if (token_id) *token_id = db_col_int64(st, 0);
  if (expires_at) *expires_at = exp;
  rc = 0;
  goto done;

db_fail:
  log_error(NULL, "msg=\"token insert failed\" err=\"%s\"", db_errmsg(db));
  sodium_memzero(out, IDENTITY_TOKEN_MAX);
done:
  if (st) db_stmt_done(st);
  return rc;
}

bool identity_may_assign_role(const app_t *app, db_t *db, const principal_t *p, const char *role,
                              int64_t unit_id)
{
  bool ok = false, exists = false;
  db_stmt_t *st = NULL;
  int s;

  if (!p || !role) goto done;
  st = db_prepare(db, "SELECT 1 FROM roles WHERE name = $1");
  if (!st || db_bind_text(st, 1, role)) goto db_fail;
  s = db_step(st);
  if (s < 0) goto db_fail;
  exists = s == DB_ROW;
  db_stmt_done(st);
  st = NULL;
  if (!exists) goto done;

  st = db_prepare(db, "SELECT permission FROM role_permissions WHERE role = $1");
  if (!st || db_bind_text(st, 1, role)) goto db_fail;
  ok = true;
  while ((s = db_step(st)) == DB_ROW) {
    const char *perm = db_col_text(st, 0);
    if (!perm || !identity_can(app, p, perm, unit_id)) ok = false;
  }
  if (s < 0) goto db_fail;
  goto done;

db_fail:
  log_error(NULL, "msg=\"role check failed\" err=\"%s\"", db_errmsg(db));
  ok = false;
done:
  if (st) db_stmt_done(st);
  return ok;
}
