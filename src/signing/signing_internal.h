/*
 * signing_internal.h - declarations shared inside the signing module (route handlers
 * of the official documents, defined in documents.c and documents_flow.c).
 */
#ifndef CITYOS_SIGNING_INTERNAL_H
#define CITYOS_SIGNING_INTERNAL_H

#include "base/common.h"
#include "http/http.h"
#include "store/db.h"

void signing_h_doc_create(http_req_t *req);
void signing_h_doc_list(http_req_t *req);
void signing_h_doc_get(http_req_t *req);
void signing_h_doc_pdf(http_req_t *req);
void signing_h_doc_sign(http_req_t *req);
void signing_h_doc_publish(http_req_t *req);
void signing_h_doc_read(http_req_t *req);

/* documents.c helpers used by documents_flow.c */
bool signing_doc_load(http_req_t *req, db_t *db, const char *perm, int64_t *id, int64_t *owner, char *dir,
                      char *status);
bool signing_doc_audit(http_req_t *req, db_t *db, const char *action, int64_t id, int64_t unit, json_t *detail);
void signing_doc_reply_db(http_req_t *req, db_t *db);

#endif
