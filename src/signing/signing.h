/*
 * signing.h - PAdES signatures on PDFs (sign, verify) and the city PKI.
 *
 * Signing (signing_sign_pdf) appends one incremental update to a PDF: a signature
 * field (an invisible or visible widget on a page), the signature dictionary
 * (/Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached, /ByteRange, /Contents, /M)
 * and a new xref section with /Prev. The CMS is detached over the /ByteRange, SHA-256,
 * with signed attributes contentType, messageDigest and signingCertificateV2 (no
 * signingTime: the time is /M), and carries the signer's certificate and chain.
 * Earlier signatures stay valid: nothing before the old end of file changes.
 *
 * Verification (signing_verify_pdf) explains every signature field of the document as
 * JSON: signer (name, title, unit from the certificate subject), time (/M), whether
 * the bytes were altered, whether it covers the whole document (and what later
 * revisions changed), whether the chain reaches a trusted CA, whether the certificate
 * is revoked by a known CRL.
 *
 * The services module calls signing_sign_pdf() with a signer loaded by
 * signing_signer_load_db() (an official's certificate issued by `cityos pki issue`
 * or imported, key decrypted with the official's passphrase).
 *
 * Ownership: signers and trust stores own their OpenSSL objects; free them with
 * signing_signer_free()/signing_trust_free(). Errors: -1 / NULL with a one-line reason
 * (safe to show to the user; no secrets) in err.
 */
#ifndef CITYOS_SIGNING_H
#define CITYOS_SIGNING_H

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "base/common.h"
#include "base/buf.h"
#include "store/db.h"

#define SIGNING_MAX_PDF (64u << 20)   /* largest PDF signed or verified */

typedef struct signing_signer {
  EVP_PKEY *key;
  X509 *cert;
  STACK_OF(X509) *chain;   /* issuing CA(s) and root to embed; may be NULL */
} signing_signer_t;

typedef struct signing_opts {
  const char *name;        /* /Name; NULL: the certificate's CN */
  const char *reason;      /* /Reason; may be NULL */
  const char *location;    /* /Location; may be NULL */
  time_t when;             /* /M; 0 = now */
  bool visible;            /* draw a stamp (name, title, unit, time) */
  int page;                /* page for the widget, 0-based; -1 = last page */
  double rect[4];          /* x1 y1 x2 y2 in points; all 0 = bottom right of the page */
  const char *tsa_url;     /* RFC 3161 authority (http://...) for a B-T timestamp; NULL: none */
} signing_opts_t;

/* Signs `pdf` into `out` (appended; out's cap must allow len + ~40 KiB). 0 or -1. */
int signing_sign_pdf(const signing_signer_t *s, const uint8_t *pdf, size_t len,
                     const signing_opts_t *opts, buf_t *out, char *err, size_t errlen);

/* The detached CMS (DER) for a SHA-256 digest of the signed bytes, as PAdES wants it;
 * with tsa_url, timestamped (B-T). Exposed for tests and bench. */
int signing_cms_sign(const signing_signer_t *s, const uint8_t *digest32, const char *tsa_url, unsigned char **der,
                     int *derlen, char *err, size_t errlen);

/* Loaders. PEM files (key encrypted or not: `pass` may be NULL), or one PKCS#12. */
int signing_signer_load_pem(signing_signer_t *s, const char *key_path, const char *cert_path,
                            const char *chain_path, const char *pass, char *err, size_t errlen);
int signing_signer_load_p12(signing_signer_t *s, const char *p12_path, const char *pass, char *err,
                            size_t errlen);
/* An official's certificate kept by the PKI (serial in hex as `cityos pki list` shows). */
int signing_signer_load_db(db_t *db, const char *serial, const char *pass, signing_signer_t *s,
                           char *err, size_t errlen);
void signing_signer_free(signing_signer_t *s);

/* --- verification ---------------------------------------------------------------------- */
typedef struct signing_trust signing_trust_t;
signing_trust_t *signing_trust_new(void);
void signing_trust_free(signing_trust_t *t);
int signing_trust_add_cert(signing_trust_t *t, X509 *cert);           /* trust anchor (copied) */
int signing_trust_add_pem_file(signing_trust_t *t, const char *path);  /* certs and/or CRLs */
int signing_trust_add_crl(signing_trust_t *t, X509_CRL *crl);          /* copied */
/* cityos' own root (and issuing CA), the configured external anchors and the CRLs. */
int signing_trust_load_db(signing_trust_t *t, db_t *db);

/* {"signatures":[...], "revisions":N, "size":N}, or NULL (err) when the file cannot be
 * read as a PDF at all. Owned by the caller (json_decref). */
json_t *signing_verify_pdf(const signing_trust_t *t, const uint8_t *pdf, size_t len, char *err,
                           size_t errlen);

/* --- PKI (database) ------------------------------------------------------------------------- */
typedef struct signing_subject {
  const char *cn, *title, *unit, *org, *email;
} signing_subject_t;

/* Key generation: "rsa" (RSA-2048, or bits), "rsa3072", "ec" (P-256). NULL on error. */
EVP_PKEY *signing_keygen(const char *type);
/* A certificate for pub, signed by issuer/issuer_key (self-signed when issuer NULL). */
X509 *signing_make_cert(const signing_subject_t *subj, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key,
                        bool ca, int days);
/* A CRL by issuer listing `revoked` (their serials) revoked at when[i] (when NULL: now),
 * next update in `days`. */
X509_CRL *signing_make_crl(X509 *issuer, EVP_PKEY *issuer_key, STACK_OF(X509) *revoked, const time_t *when,
                           long crl_number, int days);

const db_migration_t *signing_migrations(db_kind_t kind, size_t *n);
int signing_pki_init(db_t *db, const char *org, const char *ca_pass, const char *keytype, char *err,
                     size_t errlen);
/* Issues and stores; *serial_out (malloc'd hex). When p12_path, also exports PKCS#12. */
int signing_pki_issue(db_t *db, const signing_subject_t *subj, const char *ca_pass, const char *pass,
                      const char *keytype, int days, const char *p12_path, char **serial_out, char *err,
                      size_t errlen);
int signing_pki_import(db_t *db, const signing_signer_t *s, const char *pass, char **serial_out, char *err,
                       size_t errlen);
int signing_pki_trust(db_t *db, X509 *anchor, char *err, size_t errlen);
int signing_pki_revoke(db_t *db, const char *serial, const char *reason, const char *ca_pass, char *err,
                       size_t errlen);
int signing_pki_crl_update(db_t *db, const char *ca_pass, char *err, size_t errlen);
/* The current CRL (DER, malloc'd) or -1 when there is none. */
int signing_pki_crl_der(db_t *db, unsigned char **der, size_t *len);
/* Root then issuing CA as PEM (malloc'd), or NULL. */
char *signing_pki_ca_pem(db_t *db);
/* [{serial, cn, title, unit, email, source, not_after, days_left, status}] with status
 * "valid" | "expiring" (within warn_days) | "expired" | "revoked". */
json_t *signing_pki_list(db_t *db, int warn_days);

#endif
