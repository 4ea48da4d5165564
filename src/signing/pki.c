/*
 * pki.c - the city PKI in the database: root and issuing CA, officials' certificates
 * (keys encrypted at rest as PKCS#8 PEM, AES-256-CBC with a PBKDF2 key from the
 * holder's passphrase), imported certificates, external trust anchors, revocation and
 * the published CRL. See signing.h and docs/SIGNING.md.
 *
 * Tables (signing_schema.c): pki_cas (kind 'root' | 'issuing'), pki_certs (by serial, hex upper case),
 * pki_trust (external anchors). CA keys are encrypted with the CA passphrase, which
 * the server never holds: the CRL is produced by `cityos pki revoke|crl` and stored,
 * and GET /api/v1/pki/crl serves the stored one.
 */
#include "base/common.h"
#include "base/log.h"
#include "signing/signing.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

/* --- PEM helpers ------------------------------------------------------------------------- */

static char *bio_text(BIO *b) {
  char *p;
  long n = BIO_get_mem_data(b, &p);
  char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (s) {
    memcpy(s, p, (size_t)n);
    s[n] = 0;
  }
  BIO_free(b);
  return s;
}

static char *cert_pem(X509 *c) {
  BIO *b = BIO_new(BIO_s_mem());
  if (!b || !PEM_write_bio_X509(b, c)) {
    BIO_free(b);
    return NULL;
  }
  return bio_text(b);
}

static char *key_pem_enc(EVP_PKEY *k, const char *pass) {
  BIO *b = BIO_new(BIO_s_mem());
  if (!b || !PEM_write_bio_PKCS8PrivateKey(b, k, EVP_aes_256_cbc(), NULL, 0, NULL, (void *)pass)) {
    BIO_free(b);
    return NULL;
  }
  return bio_text(b);
}

static X509 *pem_cert(const char *pem) {
  BIO *b = BIO_new_mem_buf(pem, -1);
  X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  return c;
}

static EVP_PKEY *pem_key(const char *pem, const char *pass) {
  BIO *b = BIO_new_mem_buf(pem, -1);
  EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)(pass ? pass : "")) : NULL;
  BIO_free(b);
  ERR_clear_error();
  return k;
}

static char *serial_hex(X509 *c) {
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c), NULL);
  char *h = bn ? BN_bn2hex(bn) : NULL;
  BN_free(bn);
  char *s = h ? strdup(h) : NULL;
  OPENSSL_free(h);
  return s;
}

static char *subj_field(X509_NAME *nm, int nid) {
  int idx = X509_NAME_get_index_by_NID(nm, nid, -1);
  if (idx < 0) return NULL;
  unsigned char *u = NULL;
  int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, idx)));
  if (n < 0) return NULL;
  char *s = strndup((const char *)u, (size_t)n);
  OPENSSL_free(u);
  return s;
}

static int64_t not_after_ms(X509 *c) {
  struct tm tm;
  if (!ASN1_TIME_to_tm(X509_get0_notAfter(c), &tm)) return 0;
  return (int64_t)timegm(&tm) * 1000;
}

static bool pass_ok(const char *p, const char *what, char *err, size_t errlen) {
  if (p && strlen(p) >= 8) return true;
  snprintf(err, errlen, "%s must have at least 8 characters", what);
  return false;
}

/* --- CAs ------------------------------------------------------------------------------- */

static int load_ca(db_t *db, const char *kind, const char *pass, X509 **cert, EVP_PKEY **key, char *err, size_t errlen) {
  db_stmt_t *st = db_prepare(db, "SELECT cert_pem, key_pem FROM pki_cas WHERE kind = $1");
  int rc = -1;
  if (!st || db_bind_text(st, 1, kind) < 0) goto done;
  if (db_step(st) != DB_ROW) {
    snprintf(err, errlen, "no %s CA: run `cityos pki init` first", kind);
    goto done;
  }
  *cert = pem_cert(db_col_text(st, 0));
  if (key) {
    *key = pem_key(db_col_text(st, 1), pass);
    if (!*key) {
      snprintf(err, errlen, "wrong CA passphrase");
      goto done;
    }
  }
  rc = *cert ? 0 : -1;
done:
  if (st) db_stmt_done(st);
  return rc;
}

static int store_ca(db_t *db, const char *kind, X509 *c, EVP_PKEY *k, const char *pass) {
  char *cp = cert_pem(c), *kp = key_pem_enc(k, pass), *cn = subj_field(X509_get_subject_name(c), NID_commonName);
  db_stmt_t *st = db_prepare(db, "INSERT INTO pki_cas (kind, subject, cert_pem, key_pem) VALUES ($1, $2, $3, $4)");
  int rc = cp && kp && cn && st && db_bind_text(st, 1, kind) == 0 && db_bind_text(st, 2, cn) == 0 &&
                   db_bind_text(st, 3, cp) == 0 && db_bind_text(st, 4, kp) == 0 && db_step(st) == DB_DONE
               ? 0
               : -1;
  if (st) db_stmt_done(st);
  free(cp);
  free(kp);
  free(cn);
  return rc;
}

int signing_pki_init(db_t *db, const char *org, const char *ca_pass, const char *keytype, char *err, size_t errlen) {
  if (!pass_ok(ca_pass, "the CA passphrase", err, errlen)) return -1;
  X509 *c0 = NULL;
  if (load_ca(db, "root", NULL, &c0, NULL, err, errlen) == 0) {
    X509_free(c0);
    snprintf(err, errlen, "the PKI already exists (pki_cas has a root CA)");
    return -1;
  }
  const char *o = org ? org : "Thành phố Hà Nội";
  char rootcn[256], cacn[256];
  snprintf(rootcn, sizeof rootcn, "%s Root CA", o);
  snprintf(cacn, sizeof cacn, "%s Issuing CA", o);
  signing_subject_t rs = {.cn = rootcn, .org = o}, is = {.cn = cacn, .org = o};
  const char *kt = keytype ? keytype : "rsa3072";
  EVP_PKEY *rk = signing_keygen(kt), *ik = signing_keygen(kt);
  X509 *rc_ = rk ? signing_make_cert(&rs, rk, NULL, rk, true, 20 * 365) : NULL;
  X509 *ic = ik && rc_ ? signing_make_cert(&is, ik, rc_, rk, true, 10 * 365) : NULL;
  int rc = -1;
  if (!ic) {
    snprintf(err, errlen, "key or certificate generation failed (key type %s?)", kt);
    goto done;
  }
  if (db_begin(db) < 0 || store_ca(db, "root", rc_, rk, ca_pass) < 0 || store_ca(db, "issuing", ic, ik, ca_pass) < 0 ||
      db_commit(db) < 0) {
    db_rollback(db);
    snprintf(err, errlen, "storing the CA failed: %s", db_errmsg(db));
    goto done;
  }
  rc = signing_pki_crl_update(db, ca_pass, err, errlen);
done:
  X509_free(rc_);
  X509_free(ic);
  EVP_PKEY_free(rk);
  EVP_PKEY_free(ik);
  return rc;
}

char *signing_pki_ca_pem(db_t *db) {
  db_stmt_t *st = db_prepare(db, "SELECT cert_pem FROM pki_cas ORDER BY kind DESC");   /* root, issuing */
  if (!st) return NULL;
  buf_t b;
  buf_init(&b, 1 << 20);
  while (db_step(st) == DB_ROW) buf_puts(&b, db_col_text(st, 0));
  db_stmt_done(st);
  size_t n;
  return b.len ? buf_detach(&b, &n) : (buf_release(&b), NULL);
}

/* --- certificates --------------------------------------------------------------------------- */

static int store_cert(db_t *db, X509 *c, const char *chain_pem, const char *key_pem, const char *source, char **serial_out) {
  X509_NAME *nm = X509_get_subject_name(c);
  char *serial = serial_hex(c), *cp = cert_pem(c), *cn = subj_field(nm, NID_commonName);
  char *title = subj_field(nm, NID_title), *unit = subj_field(nm, NID_organizationalUnitName);
  char *email = subj_field(nm, NID_pkcs9_emailAddress), *issuer = subj_field(X509_get_issuer_name(c), NID_commonName);
  db_stmt_t *st = db_prepare(db,
                             "INSERT INTO pki_certs (serial, cn, title, unit, email, issuer, source, cert_pem, chain_pem, key_pem, not_after)"
                             " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
  int rc = serial && cp && st && db_bind_text(st, 1, serial) == 0 && db_bind_text(st, 2, cn ? cn : "") == 0 &&
                   db_bind_text(st, 3, title) == 0 && db_bind_text(st, 4, unit) == 0 && db_bind_text(st, 5, email) == 0 &&
                   db_bind_text(st, 6, issuer ? issuer : "") == 0 && db_bind_text(st, 7, source) == 0 &&
                   db_bind_text(st, 8, cp) == 0 && db_bind_text(st, 9, chain_pem) == 0 && db_bind_text(st, 10, key_pem) == 0 &&
                   db_bind_int64(st, 11, not_after_ms(c)) == 0 && db_step(st) == DB_DONE
               ? 0
               : -1;
  if (st) db_stmt_done(st);
  if (rc == 0 && serial_out) *serial_out = serial;
  else free(serial);
  free(cp);
  free(cn);
  free(title);
  free(unit);
  free(email);
  free(issuer);
  return rc;
}

static int export_p12(const char *path, EVP_PKEY *k, X509 *c, STACK_OF(X509) *chain, const char *pass, const char *cn) {
  PKCS12 *p12 = PKCS12_create(pass, cn, k, c, chain, 0, 0, 0, 0, 0);
  FILE *f = p12 ? fopen(path, "wb") : NULL;
  int rc = f && i2d_PKCS12_fp(f, p12) ? 0 : -1;
  if (f && fclose(f) != 0) rc = -1;
  PKCS12_free(p12);
  return rc;
}

int signing_pki_issue(db_t *db, const signing_subject_t *subj, const char *ca_pass, const char *pass, const char *keytype,
                      int days, const char *p12_path, char **serial_out, char *err, size_t errlen) {
  if (!subj->cn || !*subj->cn) {
    snprintf(err, errlen, "the certificate needs a name (--cn)");
    return -1;
  }
  if (!pass_ok(pass, "the holder's passphrase", err, errlen)) return -1;
  X509 *ca = NULL, *root = NULL, *c = NULL;
  EVP_PKEY *cak = NULL, *k = NULL;
  STACK_OF(X509) *chain = sk_X509_new_null();
  char *kp = NULL, *chain_pem = NULL, *a = NULL, *b = NULL;
  int rc = -1;
  if (load_ca(db, "issuing", ca_pass, &ca, &cak, err, errlen) < 0 || load_ca(db, "root", NULL, &root, NULL, err, errlen) < 0)
    goto done;
  signing_subject_t s = *subj;
  if (!s.org) s.org = subj_field(X509_get_subject_name(ca), NID_organizationName);
  k = signing_keygen(keytype);
  c = k ? signing_make_cert(&s, k, ca, cak, false, days > 0 ? days : 730) : NULL;
  if (s.org != subj->org) free((char *)s.org);
  if (!c) {
    snprintf(err, errlen, "certificate generation failed (key type?)");
    goto done;
  }
  kp = key_pem_enc(k, pass);
  a = cert_pem(ca);
  b = cert_pem(root);
  if (!kp || !a || !b || asprintf(&chain_pem, "%s%s", a, b) < 0) {
    chain_pem = NULL;
    goto done;
  }
  if (store_cert(db, c, chain_pem, kp, "issued", serial_out) < 0) {
    snprintf(err, errlen, "storing the certificate failed: %s", db_errmsg(db));
    goto done;
  }
  if (p12_path) {
    X509_up_ref(ca);
    X509_up_ref(root);
    sk_X509_push(chain, ca);
    sk_X509_push(chain, root);
    if (export_p12(p12_path, k, c, chain, pass, subj->cn) < 0) {
      snprintf(err, errlen, "cannot write %s", p12_path);
      goto done;
    }
  }
  rc = 0;
done:
  ERR_clear_error();
  sk_X509_pop_free(chain, X509_free);
  X509_free(ca);
  X509_free(root);
  X509_free(c);
  EVP_PKEY_free(cak);
  EVP_PKEY_free(k);
  free(kp);
  free(chain_pem);
  free(a);
  free(b);
  return rc;
}

int signing_pki_import(db_t *db, const signing_signer_t *s, const char *pass, char **serial_out, char *err, size_t errlen) {
  if (!pass_ok(pass, "the holder's passphrase", err, errlen)) return -1;
  char *kp = key_pem_enc(s->key, pass);
  buf_t chain;
  buf_init(&chain, 1 << 20);
  for (int i = 0; s->chain && i < sk_X509_num(s->chain); i++) {
    char *p = cert_pem(sk_X509_value(s->chain, i));
    if (p) buf_puts(&chain, p);
    free(p);
  }
  int rc = kp ? store_cert(db, s->cert, chain.len ? chain.data : NULL, kp, "imported", serial_out) : -1;
  if (rc < 0) snprintf(err, errlen, "storing the certificate failed (already imported?)");
  buf_release(&chain);
  free(kp);
  return rc;
}

int signing_pki_trust(db_t *db, X509 *anchor, char *err, size_t errlen) {
  char *cp = cert_pem(anchor), *cn = subj_field(X509_get_subject_name(anchor), NID_commonName);
  db_stmt_t *st = db_prepare(db, "INSERT INTO pki_trust (subject, cert_pem) VALUES ($1, $2)");
  int rc = cp && st && db_bind_text(st, 1, cn ? cn : "?") == 0 && db_bind_text(st, 2, cp) == 0 && db_step(st) == DB_DONE ? 0 : -1;
  if (st) db_stmt_done(st);
  if (rc < 0) snprintf(err, errlen, "storing the trust anchor failed (already trusted?)");
  free(cp);
  free(cn);
  return rc;
}

int signing_signer_load_db(db_t *db, const char *serial, const char *pass, signing_signer_t *s, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  db_stmt_t *st = db_prepare(db, "SELECT cert_pem, chain_pem, key_pem, revoked_at FROM pki_certs WHERE serial = $1");
  int rc = -1;
  if (!st || db_bind_text(st, 1, serial) < 0) goto done;
  if (db_step(st) != DB_ROW) {
    snprintf(err, errlen, "no certificate with serial %s", serial);
    goto done;
  }
  if (!db_col_is_null(st, 3)) {
    snprintf(err, errlen, "certificate %s is revoked", serial);
    goto done;
  }
  s->cert = pem_cert(db_col_text(st, 0));
  s->key = db_col_text(st, 2) ? pem_key(db_col_text(st, 2), pass) : NULL;
  if (!s->cert || !s->key) {
    snprintf(err, errlen, "wrong passphrase for certificate %s", serial);
    goto done;
  }
  s->chain = sk_X509_new_null();
  const char *cp = db_col_text(st, 1);
  BIO *b = cp ? BIO_new_mem_buf(cp, -1) : NULL;
  X509 *x;
  while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) sk_X509_push(s->chain, x);
  BIO_free(b);
  ERR_clear_error();
  rc = 0;
done:
  if (st) db_stmt_done(st);
  if (rc < 0) signing_signer_free(s);
  return rc;
}

/* --- revocation ------------------------------------------------------------------------------- */

int signing_pki_crl_update(db_t *db, const char *ca_pass, char *err, size_t errlen) {
  X509 *ca = NULL;
  EVP_PKEY *cak = NULL;
  STACK_OF(X509) *rev = sk_X509_new_null();
  X509_CRL *crl = NULL;
  unsigned char *der = NULL;
  time_t *when = NULL;
  int rc = -1;
  if (load_ca(db, "issuing", ca_pass, &ca, &cak, err, errlen) < 0) goto done;
  char *issuer = subj_field(X509_get_subject_name(ca), NID_commonName);
  db_stmt_t *st = db_prepare(db, "SELECT cert_pem, revoked_at FROM pki_certs WHERE revoked_at IS NOT NULL AND issuer = $1");
  size_t nwhen = 0;
  if (st && db_bind_text(st, 1, issuer ? issuer : "") == 0) {
    while (db_step(st) == DB_ROW && nwhen < 100000) {
      X509 *c = pem_cert(db_col_text(st, 0));
      if (c && X509_check_issued(ca, c) == X509_V_OK) {
        time_t *nw = realloc(when, (nwhen + 1) * sizeof *when);
        if (!nw) {
          X509_free(c);
          break;
        }
        when = nw;
        when[nwhen++] = (time_t)(db_col_int64(st, 1) / 1000);
        sk_X509_push(rev, c);
      } else {
        X509_free(c);
      }
    }
  }
  if (st) db_stmt_done(st);
  free(issuer);
  long number = 0;
  st = db_prepare(db, "SELECT crl_number FROM pki_cas WHERE kind = 'issuing'");
  if (st && db_step(st) == DB_ROW) number = (long)db_col_int64(st, 0) + 1;
  if (st) db_stmt_done(st);
  crl = signing_make_crl(ca, cak, rev, when, number, 7);
  int len = crl ? i2d_X509_CRL(crl, &der) : -1;
  if (len <= 0) {
    snprintf(err, errlen, "CRL generation failed");
    goto done;
  }
  st = db_prepare(db, "UPDATE pki_cas SET crl_der = $1, crl_number = $2, crl_updated_at = $3 WHERE kind = 'issuing'");
  rc = st && db_bind_blob(st, 1, der, (size_t)len) == 0 && db_bind_int64(st, 2, number) == 0 &&
               db_bind_int64(st, 3, clock_now_ms()) == 0 && db_step(st) == DB_DONE
           ? 0
           : -1;
  if (st) db_stmt_done(st);
  if (rc < 0) snprintf(err, errlen, "storing the CRL failed: %s", db_errmsg(db));
done:
  free(when);
  OPENSSL_free(der);
  X509_CRL_free(crl);
  sk_X509_pop_free(rev, X509_free);
  X509_free(ca);
  EVP_PKEY_free(cak);
  return rc;
}

int signing_pki_revoke(db_t *db, const char *serial, const char *reason, const char *ca_pass, char *err, size_t errlen) {
  int rc = -1;
  if (db_begin(db) < 0) {
    snprintf(err, errlen, "%s", db_errmsg(db));
    return -1;
  }
  db_stmt_t *st = db_prepare(db, "UPDATE pki_certs SET revoked_at = $1, revoke_reason = $2 WHERE serial = $3 AND revoked_at IS NULL");
  int64_t changed = 0;
  if (st && db_bind_int64(st, 1, clock_now_ms()) == 0 && db_bind_text(st, 2, reason ? reason : "unspecified") == 0 &&
      db_bind_text(st, 3, serial) == 0 && db_step(st) == DB_DONE)
    changed = db_changes(st);
  if (st) db_stmt_done(st);
  if (changed != 1) {
    snprintf(err, errlen, "no unrevoked certificate with serial %s", serial);
    goto done;
  }
  if (signing_pki_crl_update(db, ca_pass, err, errlen) < 0 || db_commit(db) < 0) goto done;
  rc = 0;
done:
  if (rc < 0) db_rollback(db);
  return rc;
}

int signing_pki_crl_der(db_t *db, unsigned char **der, size_t *len) {
  db_stmt_t *st = db_prepare(db, "SELECT crl_der FROM pki_cas WHERE kind = 'issuing' AND crl_der IS NOT NULL");
  int rc = -1;
  if (st && db_step(st) == DB_ROW) {
    const void *p = db_col_blob(st, 0, len);
    *der = p && *len ? malloc(*len) : NULL;
    if (*der) {
      memcpy(*der, p, *len);
      rc = 0;
    }
  }
  if (st) db_stmt_done(st);
  return rc;
}

int signing_trust_load_db(signing_trust_t *t, db_t *db) {
  static const char *const Q[] = {"SELECT cert_pem FROM pki_cas", "SELECT cert_pem FROM pki_trust"};
  for (size_t q = 0; q < ARRAY_LEN(Q); q++) {
    db_stmt_t *st = db_prepare(db, Q[q]);
    if (!st) return -1;
    while (db_step(st) == DB_ROW) {
      X509 *c = pem_cert(db_col_text(st, 0));
      if (c) signing_trust_add_cert(t, c);
      X509_free(c);
    }
    db_stmt_done(st);
  }
  unsigned char *der = NULL;
  size_t len = 0;
  if (signing_pki_crl_der(db, &der, &len) == 0) {
    const unsigned char *p = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
    if (crl) signing_trust_add_crl(t, crl);
    X509_CRL_free(crl);
    free(der);
  }
  return 0;
}

json_t *signing_pki_list(db_t *db, int warn_days) {
  db_stmt_t *st = db_prepare(db, "SELECT serial, cn, title, unit, email, source, not_after, revoked_at, issuer FROM pki_certs ORDER BY not_after, serial");
  if (!st) return NULL;
  json_t *arr = json_array();
  int64_t now = clock_now_ms();
  while (db_step(st) == DB_ROW) {
    int64_t na = db_col_int64(st, 6);
    int64_t days_left = (na - now) / 86400000;
    const char *status = !db_col_is_null(st, 7) ? "revoked" : na <= now ? "expired" : days_left <= warn_days ? "expiring" : "valid";
    json_t *o = json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s,s:I,s:I,s:s,s:s}", "serial", db_col_text(st, 0), "cn",
                          db_col_text(st, 1), "title", db_col_text(st, 2), "unit", db_col_text(st, 3), "email",
                          db_col_text(st, 4), "source", db_col_text(st, 5), "not_after", (json_int_t)na, "days_left",
                          (json_int_t)days_left, "status", status, "issuer", db_col_text(st, 8));
    if (o) json_array_append_new(arr, o);
  }
  db_stmt_done(st);
  return arr;
}
