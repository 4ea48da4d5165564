/*
 * signing_cli.c - `cityos pki ...`, `cityos sign ...`, `cityos verify FILE`.
 *
 * Passphrases come from flags or, better (not visible in ps), from the environment:
 * CITYOS_CA_PASS (the CA keys) and CITYOS_KEY_PASS (an official's key / PKCS#12).
 */
#include "base/common.h"
#include "module.h"
#include "signing/signing.h"

#include <openssl/pem.h>

static bool take_bool(int *argc, char **argv, const char *name) {
  for (int i = 1; i < *argc; i++) {
    if (strcmp(argv[i], name) == 0) {
      for (int k = i; k < *argc; k++) argv[k] = argv[k + 1];
      (*argc)--;
      return true;
    }
  }
  return false;
}

static const char *flag_or_env(int *argc, char **argv, const char *flag, const char *env) {
  const char *v = cli_take_flag(argc, argv, flag);
  return v ? v : getenv(env);
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  buf_t b;
  buf_init(&b, SIGNING_MAX_PDF);
  char tmp[65536];
  size_t n;
  bool ok = true;
  while (ok && (n = fread(tmp, 1, sizeof tmp, f)) > 0) ok = buf_append(&b, tmp, n) == 0;
  fclose(f);
  if (!ok) {
    buf_release(&b);
    return NULL;
  }
  if (!b.data) buf_append(&b, "", 0);
  return (uint8_t *)buf_detach(&b, len);
}

static int write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int rc = fwrite(data, 1, len, f) == len ? 0 : -1;
  if (fclose(f) != 0) rc = -1;
  return rc;
}

static db_t *open_db(app_t *app, const char *who) {
  char err[256];
  db_t *db = db_open(app->cfg->db, err, sizeof err);
  if (!db) {
    fprintf(stderr, "cityos %s: %s\n", who, err);
    return NULL;
  }
  if (app_migrate(db, NULL) < 0) {
    fprintf(stderr, "cityos %s: migrations failed: %s\n", who, db_errmsg(db));
    db_close(db);
    return NULL;
  }
  return db;
}

/* --- pki ----------------------------------------------------------------------------------- */

static const char PKI_USAGE[] =
    "Usage:\n"
    "  cityos pki init [--org NAME] [--key-type rsa3072|rsa|ec] --ca-pass P\n"
    "  cityos pki issue --cn NAME [--title T] [--unit U] [--email E] [--days 730] [--key-type rsa|ec]\n"
    "                   --pass P --ca-pass P [--p12 OUT.p12]\n"
    "  cityos pki import (--p12 FILE --p12-pass P | --cert PEM --key PEM [--key-pass P] [--chain PEM]) --pass P\n"
    "  cityos pki trust CA.pem          trust an external licensed CA (root) for verification\n"
    "  cityos pki revoke SERIAL [--reason R] --ca-pass P   (publishes a new CRL)\n"
    "  cityos pki crl [--ca-pass P] [--out FILE.crl]        (with --ca-pass: a fresh CRL)\n"
    "  cityos pki ca [--out FILE.pem]   root and issuing CA certificates (to trust in NSS / Adobe)\n"
    "  cityos pki list [--warn-days 30] [--json]\n"
    "Passphrases may come from CITYOS_CA_PASS and CITYOS_KEY_PASS instead of flags.\n";

static int pki_run(db_t *db, int argc, char **argv) {
  const char *what = argv[1];
  char err[512] = "";
  int rc = 1;
  const char *ca_pass = flag_or_env(&argc, argv, "--ca-pass", "CITYOS_CA_PASS");
  if (strcmp(what, "init") == 0) {
    const char *org = cli_take_flag(&argc, argv, "--org"), *kt = cli_take_flag(&argc, argv, "--key-type");
    if (signing_pki_init(db, org, ca_pass, kt, err, sizeof err) < 0) goto fail;
    printf("pki: root and issuing CA created; CRL published\n");
    return 0;
  }
  if (strcmp(what, "issue") == 0) {
    signing_subject_t s = {.cn = cli_take_flag(&argc, argv, "--cn"), .title = cli_take_flag(&argc, argv, "--title"),
                           .unit = cli_take_flag(&argc, argv, "--unit"), .email = cli_take_flag(&argc, argv, "--email")};
    const char *days = cli_take_flag(&argc, argv, "--days"), *kt = cli_take_flag(&argc, argv, "--key-type");
    const char *p12 = cli_take_flag(&argc, argv, "--p12"), *pass = flag_or_env(&argc, argv, "--pass", "CITYOS_KEY_PASS");
    char *serial = NULL;
    if (signing_pki_issue(db, &s, ca_pass, pass, kt ? kt : "rsa", days ? (int)strtol(days, NULL, 10) : 730, p12, &serial,
                          err, sizeof err) < 0)
      goto fail;
    printf("%s\n", serial);
    free(serial);
    return 0;
  }
  if (strcmp(what, "import") == 0) {
    const char *p12 = cli_take_flag(&argc, argv, "--p12"), *p12pass = cli_take_flag(&argc, argv, "--p12-pass");
    const char *cert = cli_take_flag(&argc, argv, "--cert"), *key = cli_take_flag(&argc, argv, "--key");
    const char *keypass = cli_take_flag(&argc, argv, "--key-pass"), *chain = cli_take_flag(&argc, argv, "--chain");
    const char *pass = flag_or_env(&argc, argv, "--pass", "CITYOS_KEY_PASS");
    signing_signer_t s;
    int lrc = p12 ? signing_signer_load_p12(&s, p12, p12pass ? p12pass : pass, err, sizeof err)
              : cert && key ? signing_signer_load_pem(&s, key, cert, chain, keypass, err, sizeof err)
                            : (snprintf(err, sizeof err, "needs --p12 FILE or --cert PEM --key PEM"), -1);
    if (lrc < 0) goto fail;
    char *serial = NULL;
    int irc = signing_pki_import(db, &s, pass, &serial, err, sizeof err);
    signing_signer_free(&s);
    if (irc < 0) goto fail;
    printf("%s\n", serial);
    free(serial);
    return 0;
  }
  if (strcmp(what, "trust") == 0 && argc == 3) {
    BIO *b = BIO_new_file(argv[2], "r");
    X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    int trc = c ? signing_pki_trust(db, c, err, sizeof err) : (snprintf(err, sizeof err, "cannot read %s", argv[2]), -1);
    X509_free(c);
    if (trc < 0) goto fail;
    printf("pki: trust anchor added\n");
    return 0;
  }
  if (strcmp(what, "revoke") == 0 && argc >= 3) {
    const char *reason = cli_take_flag(&argc, argv, "--reason");
    if (argc != 3) goto usage;
    if (signing_pki_revoke(db, argv[2], reason, ca_pass, err, sizeof err) < 0) goto fail;
    printf("pki: %s revoked; CRL published\n", argv[2]);
    return 0;
  }
  if (strcmp(what, "crl") == 0) {
    const char *out = cli_take_flag(&argc, argv, "--out");
    if (ca_pass && signing_pki_crl_update(db, ca_pass, err, sizeof err) < 0) goto fail;
    unsigned char *der = NULL;
    size_t len = 0;
    if (signing_pki_crl_der(db, &der, &len) < 0) {
      snprintf(err, sizeof err, "no CRL yet (cityos pki init)");
      goto fail;
    }
    int wrc = out ? write_file(out, der, len) : (fwrite(der, 1, len, stdout) == len ? 0 : -1);
    free(der);
    return wrc < 0 ? 1 : 0;
  }
  if (strcmp(what, "ca") == 0) {
    const char *out = cli_take_flag(&argc, argv, "--out");
    char *pem = signing_pki_ca_pem(db);
    if (!pem) {
      snprintf(err, sizeof err, "no CA yet (cityos pki init)");
      goto fail;
    }
    int wrc = out ? write_file(out, pem, strlen(pem)) : (fputs(pem, stdout) < 0 ? -1 : 0);
    free(pem);
    return wrc < 0 ? 1 : 0;
  }
  if (strcmp(what, "list") == 0) {
    const char *wd = cli_take_flag(&argc, argv, "--warn-days");
    bool js = take_bool(&argc, argv, "--json");
    json_t *l = signing_pki_list(db, wd ? (int)strtol(wd, NULL, 10) : 30);
    if (!l) return 1;
    if (js) {
      json_dumpf(l, stdout, JSON_INDENT(2));
      printf("\n");
    } else {
      size_t i;
      json_t *c;
      printf("%-34s %-9s %-8s %s\n", "SERIAL", "STATUS", "DAYS", "NAME / TITLE / UNIT");
      json_array_foreach(l, i, c) {
        printf("%-34s %-9s %-8" JSON_INTEGER_FORMAT " %s / %s / %s\n", json_string_value(json_object_get(c, "serial")),
               json_string_value(json_object_get(c, "status")), json_integer_value(json_object_get(c, "days_left")),
               json_string_value(json_object_get(c, "cn")),
               json_is_string(json_object_get(c, "title")) ? json_string_value(json_object_get(c, "title")) : "-",
               json_is_string(json_object_get(c, "unit")) ? json_string_value(json_object_get(c, "unit")) : "-");
        const char *st = json_string_value(json_object_get(c, "status"));
        if (strcmp(st, "expiring") == 0 || strcmp(st, "expired") == 0)
          fprintf(stderr, "warning: certificate %s of %s is %s\n", json_string_value(json_object_get(c, "serial")),
                  json_string_value(json_object_get(c, "cn")), st);
      }
    }
    json_decref(l);
    return 0;
  }
usage:
  fputs(PKI_USAGE, stderr);
  return 2;
fail:
  fprintf(stderr, "cityos pki %s: %s\n", what, err);
  return rc;
}

static int cmd_pki(app_t *app, int argc, char **argv) {
  if (cli_wants_help(argc, argv) || argc < 2) {
    fputs(PKI_USAGE, argc < 2 && !cli_wants_help(argc, argv) ? stderr : stdout);
    return argc < 2 && !cli_wants_help(argc, argv) ? 2 : 0;
  }
  db_t *db = open_db(app, "pki");
  if (!db) return 1;
  int rc = pki_run(db, argc, argv);
  db_close(db);
  return rc;
}

/* --- sign ------------------------------------------------------------------------------------ */

static const char SIGN_USAGE[] =
    "Usage: cityos sign (--key KEY.pem --cert CERT.pem [--chain CHAIN.pem] [--pass P] | --p12 FILE --pass P |\n"
    "                    --serial SERIAL --pass P)\n"
    "                   [--reason TEXT] [--location TEXT] [--name TEXT] [--visible] [--page N]\n"
    "                   [--tsa http://TSA/ (or CITYOS_TSA_URL)] IN.pdf OUT.pdf\n"
    "Adds a PAdES B-B signature as an incremental update (earlier signatures stay valid).\n"
    "--serial uses a certificate kept by `cityos pki`; --page counts from 1 (-1: last page).\n";

static int cmd_sign(app_t *app, int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    fputs(SIGN_USAGE, stdout);
    return 0;
  }
  const char *key = cli_take_flag(&argc, argv, "--key"), *cert = cli_take_flag(&argc, argv, "--cert");
  const char *chain = cli_take_flag(&argc, argv, "--chain"), *p12 = cli_take_flag(&argc, argv, "--p12");
  const char *serial = cli_take_flag(&argc, argv, "--serial");
  const char *pass = flag_or_env(&argc, argv, "--pass", "CITYOS_KEY_PASS");
  const char *page = cli_take_flag(&argc, argv, "--page");
  signing_opts_t o = {.reason = cli_take_flag(&argc, argv, "--reason"),
                      .location = cli_take_flag(&argc, argv, "--location"),
                      .name = cli_take_flag(&argc, argv, "--name"),
                      .visible = take_bool(&argc, argv, "--visible"),
                      .tsa_url = flag_or_env(&argc, argv, "--tsa", "CITYOS_TSA_URL")};
  long pg = page ? strtol(page, NULL, 10) : 1;
  o.page = pg < 0 ? -1 : (int)(pg > 0 ? pg - 1 : 0);
  if (argc != 3 || (!p12 && !serial && !(key && cert))) {
    fputs(SIGN_USAGE, stderr);
    return 2;
  }
  char err[512] = "";
  signing_signer_t s;
  int rc = 1;
  uint8_t *in = NULL;
  buf_t out;
  buf_init(&out, SIGNING_MAX_PDF + (1 << 20));
  db_t *db = NULL;
  int lrc;
  if (serial) {
    db = open_db(app, "sign");
    lrc = db ? signing_signer_load_db(db, serial, pass, &s, err, sizeof err) : -1;
  } else {
    lrc = p12 ? signing_signer_load_p12(&s, p12, pass, err, sizeof err)
              : signing_signer_load_pem(&s, key, cert, chain, pass, err, sizeof err);
  }
  if (lrc < 0) goto done;
  size_t len = 0;
  in = read_file(argv[1], &len);
  if (!in) {
    snprintf(err, sizeof err, "cannot read %s (missing or larger than %u MiB)", argv[1], SIGNING_MAX_PDF >> 20);
  } else if (signing_sign_pdf(&s, in, len, &o, &out, err, sizeof err) == 0) {
    if (write_file(argv[2], out.data, out.len) < 0) snprintf(err, sizeof err, "cannot write %s", argv[2]);
    else rc = 0;
  }
  signing_signer_free(&s);
done:
  if (rc) fprintf(stderr, "cityos sign: %s\n", err);
  if (db) db_close(db);
  free(in);
  buf_release(&out);
  return rc;
}

/* --- verify ------------------------------------------------------------------------------------ */

static const char *yes(json_t *o, const char *k) { return json_is_true(json_object_get(o, k)) ? "yes" : "no"; }
static const char *str(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "-";
}

static int cmd_verify(app_t *app, int argc, char **argv) {
  if (cli_wants_help(argc, argv) || argc < 2) {
    fputs("Usage: cityos verify [--trust CA.pem]... [--crl FILE]... [--no-db] [--json] FILE.pdf\n"
          "Trusts cityos' own CA and configured anchors (from the database) unless --no-db.\n"
          "Exit status 0 when the file has signatures and all are valid, 1 otherwise.\n",
          argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  signing_trust_t *t = signing_trust_new();
  const char *f;
  int rc = 1;
  uint8_t *in = NULL;
  json_t *res = NULL;
  while ((f = cli_take_flag(&argc, argv, "--trust")) != NULL || (f = cli_take_flag(&argc, argv, "--crl")) != NULL) {
    if (signing_trust_add_pem_file(t, f) < 0) {
      fprintf(stderr, "cityos verify: cannot read certificates or a CRL from %s\n", f);
      goto done;
    }
  }
  bool nodb = take_bool(&argc, argv, "--no-db"), js = take_bool(&argc, argv, "--json");
  if (argc != 2) {
    fprintf(stderr, "cityos verify: one FILE expected\n");
    rc = 2;
    goto done;
  }
  if (!nodb) {
    db_t *db = open_db(app, "verify");
    if (!db) goto done;
    signing_trust_load_db(t, db);
    db_close(db);
  }
  size_t len = 0;
  in = read_file(argv[1], &len);
  char err[256] = "";
  res = in ? signing_verify_pdf(t, in, len, err, sizeof err) : NULL;
  if (!res) {
    fprintf(stderr, "cityos verify: %s: %s\n", argv[1], in ? err : "cannot read the file");
    goto done;
  }
  json_t *sigs = json_object_get(res, "signatures"), *s;
  size_t i;
  bool all = json_array_size(sigs) > 0;
  json_array_foreach(sigs, i, s) all = all && json_is_true(json_object_get(s, "valid"));
  if (js) {
    json_dumpf(res, stdout, JSON_INDENT(2));
    printf("\n");
  } else {
    printf("%s: %zu signature(s), %d revision(s)\n", argv[1], json_array_size(sigs),
           (int)json_integer_value(json_object_get(res, "revisions")));
    json_array_foreach(sigs, i, s) {
      json_t *g = json_object_get(s, "signer");
      printf("Signature #%zu (%s)\n  %s\n  %s\n", i + 1, str(s, "field"), str(s, "summary_vi"), str(s, "summary_en"));
      printf("  signer: %s | title: %s | unit: %s\n", str(g, "name"), str(g, "title"), str(g, "unit"));
      json_t *ts = json_object_get(s, "timestamp");
      if (json_is_object(ts))
        printf("  timestamp (RFC 3161): %s, %s\n", str(ts, "time"), yes(ts, "valid"));
      printf("  time (/M): %s\n  valid: %s | altered: %s | whole document: %s | chain trusted: %s%s%s | revoked: %s\n",
             str(s, "time"), yes(s, "valid"), yes(s, "altered"), yes(s, "covers_whole_document"), yes(s, "chain_trusted"),
             json_is_string(json_object_get(s, "chain_error")) ? " - " : "",
             json_is_string(json_object_get(s, "chain_error")) ? str(s, "chain_error") : "", yes(s, "revoked"));
      size_t later = json_array_size(json_object_get(s, "later_revisions"));
      if (later)
        printf("  later revisions: %zu (%s)\n", later,
               json_is_true(json_object_get(s, "later_changes_only_signatures")) ? "signatures and form fields only"
                                                                                : "other content changed");
    }
  }
  rc = all ? 0 : 1;
done:
  json_decref(res);
  free(in);
  signing_trust_free(t);
  return rc;
}

/* --- module -------------------------------------------------------------------------------------- */

const http_route_t *signing_routes(size_t *n);

static const db_migration_t *signing_module_migrations(db_kind_t kind, size_t *n) { return signing_migrations(kind, n); }

static const cli_command_t SIGNING_COMMANDS[] = {
  {"pki", "pki init|issue|import|trust|revoke|crl|ca|list   the city PKI (cityos pki --help)", cmd_pki, false},
  {"sign", "sign --key K --cert C IN.pdf OUT.pdf   PAdES-sign a PDF (cityos sign --help)", cmd_sign, false},
  {"verify", "verify FILE.pdf                     explain and check a PDF's signatures", cmd_verify, false},
};

static const module_t SIGNING_MODULE = {
  .name = "signing",
  .order = 100,
  .migrations = signing_module_migrations,
  .routes = signing_routes,
  .commands = SIGNING_COMMANDS,
  .ncommands = ARRAY_LEN(SIGNING_COMMANDS),
};
MODULE_REGISTER(SIGNING_MODULE)
