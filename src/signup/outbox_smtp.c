#include "base/common.h"
#include "signup/outbox.h"
#include "audit/audit.h"
#include "base/log.h"
#include "module.h"

#include <jansson.h>
#include <netdb.h>
#include <signal.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/*
 * `cityos outbox send --smtp HOST:PORT --from ADDRESS [--once] [--interval S]`: the
 * built-in mail sender for the e-mail channel. It drains the outbox with the same leases
 * as an HTTP gateway (outbox_claim, outbox_mark_sent / _failed, audited as the system),
 * and hands each message to an SMTP relay (plain SMTP, no TLS or AUTH: a relay on the
 * host or the local network, such as Postfix, which does the rest).
 */

#define SMTP_LEASE_S 120
#define SMTP_BATCH 20
#define SMTP_LINE_MAX 1024

static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
  (void)sig;
  g_stop = 1;
}

typedef struct {
  int fd;
  char buf[4096];
  size_t len;
} smtp_t;

/* The next reply: its code (the last line's), text of the last line in msg. -1 on a
 * broken connection. */
static int smtp_reply(smtp_t *s, char *msg, size_t msglen)
{
  for (;;) {
    char *nl = memchr(s->buf, '\n', s->len);
    if (nl) {
      size_t n = (size_t)(nl - s->buf) + 1;
      char line[SMTP_LINE_MAX];
      size_t l = n < sizeof line ? n : sizeof line - 1;
      memcpy(line, s->buf, l);
      line[l] = '\0';
      memmove(s->buf, s->buf + n, s->len - n);
      s->len -= n;
      while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = '\0';
      if (l < 3 || line[0] < '2' || line[0] > '5') return -1;
      if (l > 3 && line[3] == '-') continue;   /* more lines follow */
      snprintf(msg, msglen, "%s", line);
      return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    }
    if (s->len == sizeof s->buf) return -1;
    ssize_t got = recv(s->fd, s->buf + s->len, sizeof s->buf - s->len, 0);
    if (got <= 0) return -1;
    s->len += (size_t)got;
  }
}

static bool smtp_send(smtp_t *s, const char *data, size_t n)
{
  while (n > 0) {
    ssize_t w = send(s->fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    data += w;
    n -= (size_t)w;
  }
  return true;
}

/* Sends a command line and expects a reply of class `want` (2 or 3). */
static bool smtp_cmd(smtp_t *s, const char *cmd, int want, char *err, size_t errlen)
{
  char msg[SMTP_LINE_MAX];
  if (cmd && !smtp_send(s, cmd, strlen(cmd))) {
    snprintf(err, errlen, "SMTP connection lost");
    return false;
  }
  int code = smtp_reply(s, msg, sizeof msg);
  if (code / 100 != want) {
    /* the relay's words become last_error and audit text: printable ASCII only */
    for (char *c = msg; code >= 0 && *c; c++)
      if (*c < ' ' || *c >= 127) *c = '?';
    snprintf(err, errlen, "SMTP %s", code < 0 ? "connection lost" : msg);
    return false;
  }
  return true;
}

static int smtp_connect(const char *hostport, char *err, size_t errlen)
{
  char host[256], port[16] = "25";
  snprintf(host, sizeof host, "%s", hostport);
  char *colon = strrchr(host, ':');
  if (colon) {
    snprintf(port, sizeof port, "%s", colon + 1);
    *colon = '\0';
  }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
  if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
    snprintf(err, errlen, "cannot resolve %.64s", host);
    return -1;
  }
  int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
  struct timeval tv = {.tv_sec = 30};
  if (fd >= 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    close(fd);
    fd = -1;
  }
  if (fd < 0) snprintf(err, errlen, "cannot connect to %.64s:%.15s", host, port);
  freeaddrinfo(ai);
  return fd;
}

/* An address safe to put between < > in a command and a header. */
static bool address_ok(const char *a)
{
  size_t n = strlen(a);
  if (n < 3 || n > 254 || !strchr(a, '@')) return false;
  for (size_t i = 0; i < n; i++)
    if (a[i] <= ' ' || a[i] >= 127 || a[i] == '<' || a[i] == '>' || a[i] == '"' || a[i] == ',') return false;
  return true;
}

/* base64 of s in lines of 76 characters, CRLF-terminated, into a malloc'd string. */
static char *b64_lines(const char *s)
{
  size_t n = strlen(s);
  size_t enc = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
  char *flat = malloc(enc);
  char *out = malloc(enc + (enc / 76 + 2) * 2);
  if (!flat || !out) {
    free(flat);
    free(out);
    return NULL;
  }
  sodium_bin2base64(flat, enc, (const unsigned char *)s, n, sodium_base64_VARIANT_ORIGINAL);
  size_t fl = strlen(flat), o = 0;
  for (size_t i = 0; i < fl; i += 76) {
    size_t k = fl - i < 76 ? fl - i : 76;
    memcpy(out + o, flat + i, k);
    o += k;
    out[o++] = '\r';
    out[o++] = '\n';
  }
  out[o] = '\0';
  free(flat);
  return out;
}

/* One message through one SMTP session. 0 sent, -1 failed (err). */
static int smtp_deliver(const char *relay, const char *from, int64_t id, const char *to, const char *subject,
                        const char *body, char *err, size_t errlen)
{
  if (!address_ok(to)) {
    snprintf(err, errlen, "not a deliverable address");
    return -1;
  }
  smtp_t s = {.fd = smtp_connect(relay, err, errlen)};
  if (s.fd < 0) return -1;
  int rc = -1;
  char cmd[600], date[64], nonce[17];
  char *subj64 = NULL, *body64 = NULL, *msg = NULL;
  if (!smtp_cmd(&s, NULL, 2, err, errlen) || !smtp_cmd(&s, "EHLO cityos\r\n", 2, err, errlen)) goto done;
  snprintf(cmd, sizeof cmd, "MAIL FROM:<%s>\r\n", from);
  if (!smtp_cmd(&s, cmd, 2, err, errlen)) goto done;
  snprintf(cmd, sizeof cmd, "RCPT TO:<%s>\r\n", to);
  if (!smtp_cmd(&s, cmd, 2, err, errlen) || !smtp_cmd(&s, "DATA\r\n", 3, err, errlen)) goto done;
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  random_hex(nonce, 8);
  size_t sl = strlen(subject);
  size_t se = sodium_base64_ENCODED_LEN(sl, sodium_base64_VARIANT_ORIGINAL);
  subj64 = malloc(se);
  body64 = b64_lines(body);
  if (!subj64 || !body64) {
    snprintf(err, errlen, "out of memory");
    goto done;
  }
  sodium_bin2base64(subj64, se, (const unsigned char *)subject, sl, sodium_base64_VARIANT_ORIGINAL);
  size_t cap = strlen(subj64) + strlen(body64) + 1024;
  msg = malloc(cap);
  if (!msg) goto done;
  int n = snprintf(msg, cap,
                   "From: <%s>\r\nTo: <%s>\r\nSubject: =?UTF-8?B?%s?=\r\nDate: %s\r\n"
                   "Message-ID: <outbox-%lld-%s@cityos>\r\nMIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n"
                   "Auto-Submitted: auto-generated\r\n\r\n%s.\r\n",
                   from, to, subj64, date, (long long)id, nonce, body64);
  if (n <= 0 || (size_t)n >= cap) goto done;
  if (!smtp_cmd(&s, msg, 2, err, errlen)) goto done;
  smtp_cmd(&s, "QUIT\r\n", 2, err, errlen);   /* the message is accepted either way */
  rc = 0;
done:
  if (msg) sodium_memzero(msg, strlen(msg));
  if (body64) sodium_memzero(body64, strlen(body64));
  free(msg);
  free(body64);
  free(subj64);
  close(s.fd);
  return rc;
}

/* One round: claims a batch of e-mails, sends them. Number claimed, or -1. */
static int send_round(db_t *db, const char *relay, const char *from, int64_t *sent, int64_t *failed)
{
  char lease[OUTBOX_LEASE_HEX];
  json_t *msgs = json_array();
  int64_t now = clock_now_ms();
  int rc = -1;
  if (db_begin(db) < 0 || outbox_claim(db, "email", SMTP_BATCH, SMTP_LEASE_S, now, lease, msgs) < 0) goto fail;
  if (json_array_size(msgs) > 0) {
    json_t *ids = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) json_array_append(ids, json_object_get(m, "id"));
    audit_entry_t e = audit_entry_from_req(NULL, "outbox.claim", "outbox_lease", lease);
    arena_t *a = arena_new(1024);
    e.detail = a ? audit_detail(a, json_pack("{s:o,s:i,s:s}", "ids", ids, "lease_seconds", SMTP_LEASE_S, "sender",
                                             "smtp")) : NULL;
    if (!a) json_decref(ids);
    int ar = audit_append(db, &e);
    if (a) arena_free(a);
    if (ar < 0) goto fail;
  }
  if (db_commit(db) < 0) goto fail;
  size_t i;
  json_t *m;
  json_array_foreach(msgs, i, m) {
    char err[SMTP_LINE_MAX + 32];
    int64_t id = json_integer_value(json_object_get(m, "id"));
    int r = smtp_deliver(relay, from, id, json_string_value(json_object_get(m, "destination")),
                         json_string_value(json_object_get(m, "subject")),
                         json_string_value(json_object_get(m, "body")), err, sizeof err);
    if (r == 0) {
      if (outbox_mark_sent(db, id, lease, clock_now_ms()) < 0) goto out;
      (*sent)++;
      continue;
    }
    int64_t next_at = 0;
    err[OUTBOX_REASON_MAX] = '\0';
    if (db_begin(db) < 0) goto out;
    int f = outbox_mark_failed(db, id, lease, err, clock_now_ms(), &next_at);
    audit_entry_t e = audit_entry_from_req(NULL, f == 2 ? "outbox.gave_up" : "outbox.failed", "outbox", NULL);
    char rid[24];
    snprintf(rid, sizeof rid, "%lld", (long long)id);
    e.record_id = rid;
    arena_t *a = arena_new(1024);
    e.detail = a ? audit_detail(a, json_pack("{s:s}", "reason", err)) : NULL;
    int ar = f > 0 ? audit_append(db, &e) : 0;
    if (a) arena_free(a);
    if (f < 0 || ar < 0 || db_commit(db) < 0) {
      db_rollback(db);
      goto out;
    }
    fprintf(stderr, "outbox: message %lld not sent (%s)%s\n", (long long)id, err, f == 2 ? ": given up" : "");
    (*failed)++;
  }
  rc = (int)json_array_size(msgs);
  goto out;
fail:
  db_rollback(db);
out:
  json_array_foreach(msgs, i, m) {
    const char *b = json_string_value(json_object_get(m, "body"));
    if (b) sodium_memzero((char *)b, strlen(b));
  }
  json_decref(msgs);
  sodium_memzero(lease, sizeof lease);
  return rc;
}

static int outbox_cli(app_t *app, int argc, char **argv)
{
  if (cli_wants_help(argc, argv) || argc < 2 || strcmp(argv[1], "send") != 0) {
    printf("Usage:\n"
           "  cityos outbox send --smtp HOST:PORT --from ADDRESS [--once] [--interval SECONDS]\n"
           "Sends the e-mail messages of the notification outbox (sign-up and password-reset\n"
           "codes) through an SMTP relay (plain SMTP, no TLS or AUTH). Leases messages like\n"
           "an HTTP gateway (docs/OUTBOX.md); failed ones are retried with back-off.\n"
           "--once: send what is due, then exit. Otherwise polls every --interval s (5).\n");
    return cli_wants_help(argc, argv) ? 0 : 2;
  }
  const char *relay = cli_take_flag(&argc, argv, "--smtp");
  const char *from = cli_take_flag(&argc, argv, "--from");
  const char *interval_s = cli_take_flag(&argc, argv, "--interval");
  bool once = false;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--once") == 0) {
      once = true;
    } else {
      fprintf(stderr, "cityos outbox send: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  long interval = 5;
  if (interval_s) {
    char *end = NULL;
    interval = strtol(interval_s, &end, 10);
    if (!end || *end || interval < 1 || interval > 3600) {
      fprintf(stderr, "cityos outbox send: --interval takes 1 to 3600 seconds\n");
      return 2;
    }
  }
  if (!relay || !*relay || !from || !address_ok(from)) {
    fprintf(stderr, "cityos outbox send: needs --smtp HOST:PORT and --from ADDRESS\n");
    return 2;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  int64_t sent = 0, failed = 0;
  int rc = 0;
  while (!g_stop) {
    db_t *db = db_pool_acquire(app->db);
    if (!db) return 1;
    int n = send_round(db, relay, from, &sent, &failed);
    if (n < 0) log_error(NULL, "msg=\"outbox send round failed\" err=\"%s\"", db_errmsg(db));
    db_pool_release(app->db, db);
    if (n < 0) {
      rc = 1;
      if (once) break;
    }
    if (n == SMTP_BATCH) continue;   /* more may be due */
    if (once) break;
    for (long i = 0; i < interval * 10 && !g_stop; i++) usleep(100000);
  }
  printf("outbox: %lld sent, %lld failed\n", (long long)sent, (long long)failed);
  return rc;
}

extern const cli_command_t OUTBOX_COMMANDS[1];
const cli_command_t OUTBOX_COMMANDS[1] = {
  {"outbox", "outbox send --smtp HOST:PORT --from ADDR  send the e-mail outbox through an SMTP relay",
   outbox_cli, true},
};
