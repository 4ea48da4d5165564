/*
 * pades_internal.h - shared by pades_sign.c and pades_stamp.c: the state of one
 * incremental update being written.
 */
#ifndef CITYOS_SIGNING_PADES_INTERNAL_H
#define CITYOS_SIGNING_PADES_INTERNAL_H

#include <jansson.h>
#include <openssl/cms.h>
#include "base/common.h"
#include "base/arena.h"
#include "base/buf.h"
#include "signing/pdf.h"

typedef struct newobj {
  int num, gen;
  size_t offset;
} newobj_t;

typedef struct signer_state {
  arena_t *a;
  pdf_doc_t *doc;
  buf_t *out;
  newobj_t objs[16];   /* the objects written by this update (for its xref section) */
  int nobjs;
} signer_state_t;

/* Records the object's offset and writes "num gen obj\n". 0 or -1. */
int pades_begin_obj(signer_state_t *st, int num, int gen);

/* Object numbers the stamp uses: apnum, and fontnum .. fontnum + PADES_STAMP_OBJECTS - 2. */
#define PADES_STAMP_OBJECTS 6
/* The appearance stream (w x h points) with the lines "Ký bởi / Chức vụ / Đơn vị / Thời
 * gian" and its font: DejaVuSans embedded as a subset (full Vietnamese), or, when that
 * font is missing, Helvetica/WinAnsi with the tone marks folded away. 0 or -1. */
int pades_write_stamp(signer_state_t *st, int apnum, int fontnum, double w, double h, const char *name,
                      const char *title, const char *unit, const char *when);

/* RFC 3161 (pades_tsa.c): asks the authority at url (http://) for a timestamp over the
 * signature value of si and adds it as the unsigned attribute signatureTimeStampToken.
 * 0 or -1 (err). */
int pades_tsa_stamp(const char *url, CMS_SignerInfo *si, char *err, size_t errlen);
/* {"time": ISO, "valid": bool} for si's timestamp token (valid: the token's signature
 * chains into store and its imprint matches), or NULL when there is none. */
json_t *pades_tsa_check(CMS_SignerInfo *si, X509_STORE *store);

#endif
