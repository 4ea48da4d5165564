#include "base/common.h"
#include "oidc/oidc_internal.h"
#include "audit/audit.h"
#include "base/log.h"
#include "identity/identity.h"

#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/*
 * RP-initiated logout (GET /api/v1/oidc/logout) and back-channel logout: ending an OP
 * session revokes it, its access tokens and refresh tokens, and queues a logout token
 * (a JWT with the back-channel event, sid, no nonce) for every client that holds tokens
 * of the session and registered a backchannel_logout_uri. A background thread posts
 * the queue (oidc_logout_outbox) as application/x-www-form-urlencoded logout_token=...
 * with retries (2^attempts s, 5 attempts). The sender speaks plain http:// only (to
 * services on the city network or this machine); https:// entries are marked failed.
 */

#define BCL_EVENT "http://schemas.openid.net/event/backchannel-logout"

int oidc_session_end(http_req_t *req, db_t *db, int64_t sid, int64_t account_id)
{
  int64_t now = clock_now_ms();
  const char *kid = NULL;
  EVP_PKEY *key = oidc_signing_key(req->arena, db, "RS256", &kid);
  if (!key) return -1;
  int rc = -1;
  db_stmt_t *st = db_prepare(
      db, "SELECT DISTINCT c.client_id, c.backchannel_logout_uri FROM oidc_clients c WHERE c.backchannel_logout_uri"
          " IS NOT NULL AND (c.client_id IN (SELECT client_id FROM oidc_refresh WHERE session_id = $1)"
          " OR c.client_id IN (SELECT client_id FROM oidc_access WHERE session_id = $1))");
  if (!st) goto done;
  db_bind_int64(st, 1, sid);
  json_t *targets = json_array();
  int r;
  while ((r = db_step(st)) == DB_ROW)
    json_array_append_new(targets, json_pack("[s,s]", db_col_text(st, 0), db_col_text(st, 1)));
  db_stmt_done(st);
  if (r < 0) {
    json_decref(targets);
    goto done;
  }
  size_t i;
  json_t *t;
  json_array_foreach(targets, i, t)
  {
    const char *cid = json_string_value(json_array_get(t, 0));
    char jti[33];
    random_hex(jti, 16);
    json_t *claims = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:{s:{}}}", "iss", oidc_issuer(req), "sub",
                               arena_printf(req->arena, "%lld", (long long)account_id), "aud", cid, "iat",
                               (json_int_t)(now / 1000), "exp", (json_int_t)(now / 1000 + 120), "jti", jti, "sid",
                               arena_printf(req->arena, "%lld", (long long)sid), "events", BCL_EVENT);
    const char *lt = oidc_jws_sign(req->arena, key, "RS256", kid, "logout+jwt", claims);
    json_decref(claims);
    st = lt ? db_prepare(db, "INSERT INTO oidc_logout_outbox (client_id, uri, logout_token, created_at, next_at,"
                             " attempts) VALUES ($1, $2, $3, $4, $4, 0)")
            : NULL;
    if (!st) {
      json_decref(targets);
      goto done;
    }
    db_bind_text(st, 1, cid);
    db_bind_text(st, 2, json_string_value(json_array_get(t, 1)));
    db_bind_text(st, 3, lt);
    db_bind_int64(st, 4, now);
    r = db_step(st);
    db_stmt_done(st);
    if (r < 0) {
      json_decref(targets);
      goto done;
    }
  }
  json_decref(targets);
  static const char *const sqls[] = {
      "UPDATE tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND (id = $1 OR id IN"
      " (SELECT token_id FROM oidc_access WHERE session_id = $1))",
      "UPDATE oidc_refresh SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL",
  };
  for (size_t k = 0; k < ARRAY_LEN(sqls); k++) {
    st = db_prepare(db, sqls[k]);
    if (!st) goto done;
    db_bind_int64(st, 1, sid);
    db_bind_int64(st, 2, now);
    r = db_step(st);
    db_stmt_done(st);
    if (r < 0) goto done;
  }
  rc = 0;
done:
  EVP_PKEY_free(key);
  return rc;
}

void oidc_h_logout(http_req_t *req)
{
  app_t *app = req->app;
  const char *hint = http_query(req, "id_token_hint"), *plr = http_query(req, "post_logout_redirect_uri");
  const char *state = http_query(req, "state"), *client_id = http_query(req, "client_id");
  db_t *db = db_pool_acquire(app->db);
  json_t *claims = NULL, *hdr = NULL;
  EVP_PKEY *key = NULL;
  if (!db) {
    http_reply_error(req, ERR_UNAVAILABLE, NULL);
    return;
  }
  int64_t sid = 0, sub = 0;
  if (hint && *hint) {
    const char *alg = NULL, *kid = NULL;
    if (oidc_jws_header(hint, &hdr) == 0) kid = json_string_value(json_object_get(hdr, "kid"));
    key = kid ? oidc_published_key(req->arena, db, kid, &alg) : NULL;
    if (!key || oidc_jws_verify(key, alg, hint, &claims) < 0 ||
        strcmp(json_string_value(json_object_get(claims, "iss")) ? json_string_value(json_object_get(claims, "iss")) : "",
               oidc_issuer(req)) != 0) {
      http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "id_token_hint"),
                              "id_token_hint is not an ID token of this provider");
      goto done;
    }
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    if (client_id && *client_id && aud && strcmp(client_id, aud) != 0) {
      http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "client_id"),
                              "client_id differs from the ID token's audience");
      goto done;
    }
    client_id = aud;
    const char *s = json_string_value(json_object_get(claims, "sid"));
    const char *u = json_string_value(json_object_get(claims, "sub"));
    sid = s ? strtoll(s, NULL, 10) : 0;
    sub = u ? strtoll(u, NULL, 10) : 0;
  } else if (req->principal && req->principal->session_id) {
    sid = req->principal->session_id;
    sub = req->principal->account_id;
  }
  const char *to = "/";
  if (plr && *plr) {
    oidc_client_t c;
    int r = client_id && *client_id ? oidc_client_load(req->arena, db, client_id, &c) : 0;
    if (r <= 0 || !oidc_uri_registered(req, c.post_logout_redirect_uris, plr)) {
      http_reply_error_detail(req, ERR_VALIDATION, json_pack("{s:s}", "field", "post_logout_redirect_uri"),
                              "post_logout_redirect_uri is not registered for this client");
      goto done;
    }
    to = state && *state ? oidc_url_add(req->arena, plr, "state", state) : plr;
  }
  if (sid) {
    audit_entry_t e = audit_entry_from_req(req, "oidc.logout", "token", arena_printf(req->arena, "%lld", (long long)sid));
    e.actor_id = sub;
    if (db_begin(db) < 0 || oidc_session_end(req, db, sid, sub) < 0 || audit_append(db, &e) < 0 || db_commit(db) < 0) {
      log_error(req->request_id, "msg=\"logout failed\" err=\"%s\"", db_errmsg(db));
      db_rollback(db);
      http_reply_error(req, ERR_INTERNAL, NULL);
      goto done;
    }
  }
  http_add_header(req, "Set-Cookie", "cityos_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  oidc_reply_redirect(req, to);
done:
  EVP_PKEY_free(key);
  json_decref(claims);
  json_decref(hdr);
  db_pool_release(app->db, db);
}

/* identity's sign-out hook: POST /api/v1/auth/logout ends the provider session too - the
 * cookie session itself, or, when an access token of one of cityos' screens signs out,
 * the session it was issued from - with every token issued from it (single sign-out). */
int oidc_logout_hook(http_req_t *req, db_t *db)
{
  const principal_t *pr = req->principal;
  int64_t sid = pr->session_id;
  db_stmt_t *st = db_prepare(db, "SELECT session_id FROM oidc_access WHERE token_id = $1");
  if (!st) return -1;
  db_bind_int64(st, 1, sid);
  int r = db_step(st);
  if (r == DB_ROW) sid = db_col_int64(st, 0);
  db_stmt_done(st);
  if (r < 0) return -1;
  return oidc_session_end(req, db, sid, pr->account_id);
}

/* --- the back-channel sender ------------------------------------------------------------------ */

static pthread_t bcl_thread;
static volatile bool bcl_running;
static app_t *bcl_app;

/* POSTs body to an http:// URI. Returns the HTTP status, or -1. */
static int http_post(const char *uri, const char *body, char *err, size_t errlen)
{
  char host[256], port[8] = "80", path[1024] = "/";
  if (strncmp(uri, "http://", 7) != 0) {
    snprintf(err, errlen, "only http:// is supported by the sender");
    return -1;
  }
  const char *h = uri + 7, *slash = strchr(h, '/');
  size_t hl = slash ? (size_t)(slash - h) : strlen(h);
  if (hl == 0 || hl >= sizeof host) return -1;
  memcpy(host, h, hl);
  host[hl] = '\0';
  if (slash) snprintf(path, sizeof path, "%s", slash);
  char *colon = strrchr(host, ':');
  if (colon && !strchr(host, ']')) {
    snprintf(port, sizeof port, "%s", colon + 1);
    *colon = '\0';
  }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
  if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
    snprintf(err, errlen, "cannot resolve %.64s", host);
    return -1;
  }
  int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol), status = -1;
  struct timeval tv = {.tv_sec = 5};
  if (fd >= 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    snprintf(err, errlen, "cannot connect to %.64s:%.7s", host, port);
    goto done;
  }
  char head[1536];
  int n = snprintf(head, sizeof head,
                   "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                   path, host, strlen(body));
  if (n <= 0 || (size_t)n >= sizeof head || send(fd, head, (size_t)n, MSG_NOSIGNAL) != n ||
      send(fd, body, strlen(body), MSG_NOSIGNAL) != (ssize_t)strlen(body)) {
    snprintf(err, errlen, "send failed");
    goto done;
  }
  char resp[64] = {0};
  ssize_t got = recv(fd, resp, sizeof resp - 1, 0);
  if (got > 12 && strncmp(resp, "HTTP/1.", 7) == 0) status = (resp[9] - '0') * 100 + (resp[10] - '0') * 10 + (resp[11] - '0');
  else snprintf(err, errlen, "no HTTP answer");
done:
  if (fd >= 0) close(fd);
  freeaddrinfo(ai);
  return status;
}

static void bcl_round(db_t *db)
{
  int64_t now = clock_now_ms();
  json_t *due = json_array();
  db_stmt_t *st = db_prepare(db, "SELECT id, uri, logout_token, attempts FROM oidc_logout_outbox WHERE sent_at IS NULL"
                                 " AND attempts < 5 AND next_at <= $1 ORDER BY id LIMIT 20");
  if (st) {
    db_bind_int64(st, 1, now);
    while (db_step(st) == DB_ROW)
      json_array_append_new(due, json_pack("[I,s,s,I]", (json_int_t)db_col_int64(st, 0), db_col_text(st, 1),
                                            db_col_text(st, 2), (json_int_t)db_col_int64(st, 3)));
    db_stmt_done(st);
  }
  size_t i;
  json_t *t;
  json_array_foreach(due, i, t)
  {
    char err[128] = "";
    const char *tok = json_string_value(json_array_get(t, 2));
    size_t blen = strlen(tok) + 16;
    char *body = malloc(blen);
    if (!body) break;
    snprintf(body, blen, "logout_token=%s", tok);   /* base64url and dots need no escaping */
    int status = http_post(json_string_value(json_array_get(t, 1)), body, err, sizeof err);
    free(body);
    int64_t attempts = json_integer_value(json_array_get(t, 3)) + 1;
    st = db_prepare(db, status == 200 || status == 204
                            ? "UPDATE oidc_logout_outbox SET sent_at = $2, attempts = $3, last_error = $4 WHERE id = $1"
                            : "UPDATE oidc_logout_outbox SET next_at = $2, attempts = $3, last_error = $4 WHERE id = $1");
    if (!st) break;
    db_bind_int64(st, 1, json_integer_value(json_array_get(t, 0)));
    db_bind_int64(st, 2, status == 200 || status == 204 ? now : now + ((int64_t)1000 << attempts));
    db_bind_int64(st, 3, attempts);
    if (status == 200 || status == 204)
      db_bind_null(st, 4);
    else if (err[0])
      db_bind_text(st, 4, err);
    else {
      char s[32];
      snprintf(s, sizeof s, "HTTP %d", status);
      db_bind_text(st, 4, s);
    }
    if (db_step(st) < 0) log_warn(NULL, "msg=\"logout outbox update failed\" err=\"%s\"", db_errmsg(db));
    db_stmt_done(st);
  }
  json_decref(due);
}

static void *bcl_main(void *arg)
{
  (void)arg;
  while (bcl_running) {
    db_t *db = db_pool_acquire(bcl_app->db);
    if (db) {
      bcl_round(db);
      db_pool_release(bcl_app->db, db);
    }
    for (int i = 0; i < 10 && bcl_running; i++) usleep(100 * 1000);
  }
  return NULL;
}

void oidc_backchannel_start(app_t *app)
{
  bcl_app = app;
  bcl_running = true;
  if (pthread_create(&bcl_thread, NULL, bcl_main, NULL) != 0) {
    bcl_running = false;
    log_error(NULL, "msg=\"back-channel logout sender not started\"");
  }
}

void oidc_backchannel_stop(void)
{
  if (!bcl_running) return;
  bcl_running = false;
  pthread_join(bcl_thread, NULL);
}
