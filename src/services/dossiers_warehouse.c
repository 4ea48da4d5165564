/*
 * dossiers_warehouse.c - the citizen's data warehouse ("my documents"): the files they
 * uploaded with their dossiers, the signed results and the e-receipts the state issued
 * them (table citizen_documents, keyed by the applicant's CCCD, so counter dossiers count
 * too), and what of it a procedure can reuse: a document of the procedure with a "type"
 * is offered every warehouse document of that type (a result carries its procedure's
 * "result_type"). A submission names one by sha256 instead of uploading it
 * (dossiers_submit.c); the officer sees its origin ("result:<code>", "receipt:<code>",
 * "reuse:<code>").
 *
 * Bytes: uploads and e-receipts live in attachments (by hash); a signed result stays in
 * dossier_results and is copied into attachments only when it is reused.
 */
#include "base/common.h"
#include "services/dossiers_internal.h"
#include "audit/audit.h"
#include "base/log.h"
#include "http/auth.h"

int dossier_warehouse_add(db_t *db, const dossier_t *d, const char *kind, const char *doc_type, const char *name,
                          const char *sha256, const void *bytes, size_t len, int64_t now) {
  db_stmt_t *st;
  if (!strcmp(kind, "receipt")) {
    st = db_prepare(db, "INSERT INTO attachments (hash, size, content_type, body, created_at) "
                        "VALUES ($1, $2, 'application/pdf', $3, $4) ON CONFLICT (hash) DO NOTHING");
    if (!st || db_bind_text(st, 1, sha256) || db_bind_int64(st, 2, (int64_t)len) || db_bind_blob(st, 3, bytes, len) ||
        db_bind_int64(st, 4, now) || db_step(st) != DB_DONE) {
      if (st) db_stmt_done(st);
      return -1;
    }
    db_stmt_done(st);
  }
  st = db_prepare(db, "INSERT INTO citizen_documents (applicant_cccd, dossier_id, kind, doc_type, name, hash, size, "
                      "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (dossier_id, hash) DO NOTHING");
  if (!st || db_bind_text(st, 1, d->applicant_cccd) || db_bind_int64(st, 2, d->id) || db_bind_text(st, 3, kind) ||
      db_bind_text(st, 4, doc_type) || db_bind_text(st, 5, name) || db_bind_text(st, 6, sha256) ||
      db_bind_int64(st, 7, (int64_t)len) || db_bind_int64(st, 8, now) || db_step(st) != DB_DONE) {
    if (st) db_stmt_done(st);
    return -1;
  }
  db_stmt_done(st);
  return 0;
}

int dossier_warehouse_resolve(arena_t *a, db_t *db, const char *cccd, const char *sha256, const char **origin) {
  /* a document the state issued: its bytes must be in attachments for the new dossier */
  db_stmt_t *st = db_prepare(db, "SELECT cd.kind, d.code, cd.dossier_id FROM citizen_documents cd "
                                 "JOIN dossiers d ON d.id = cd.dossier_id WHERE cd.hash = $1 AND cd.applicant_cccd = $2 "
                                 "ORDER BY cd.id LIMIT 1");
  if (!st || db_bind_text(st, 1, sha256) || db_bind_text(st, 2, cccd)) {
    if (st) db_stmt_done(st);
    return -1;
  }
  int rc = db_step(st);
  if (rc == DB_ROW) {
    *origin = arena_printf(a, "%s:%s", db_col_text(st, 0), db_col_text(st, 1));
    bool result = !strcmp(db_col_text(st, 0), "result");
    int64_t dossier_id = db_col_int64(st, 2);
    db_stmt_done(st);
    if (!result) return 1;
    st = db_prepare(db, "INSERT INTO attachments (hash, size, content_type, body, created_at) "
                        "SELECT sha256, LENGTH(pdf), 'application/pdf', pdf, signed_at FROM dossier_results "
                        "WHERE dossier_id = $1 AND sha256 = $2 ON CONFLICT (hash) DO NOTHING");
    if (!st || db_bind_int64(st, 1, dossier_id) || db_bind_text(st, 2, sha256) || db_step(st) != DB_DONE) {
      if (st) db_stmt_done(st);
      return -1;
    }
    db_stmt_done(st);
    return 1;
  }
  db_stmt_done(st);
  if (rc < 0) return -1;
  /* an upload of one of the applicant's earlier dossiers */
  st = db_prepare(db, "SELECT d.code FROM dossier_attachments da JOIN dossiers d ON d.id = da.dossier_id "
                      "WHERE da.hash = $1 AND d.applicant_cccd = $2 ORDER BY d.id LIMIT 1");
  if (!st || db_bind_text(st, 1, sha256) || db_bind_text(st, 2, cccd)) {
    if (st) db_stmt_done(st);
    return -1;
  }
  rc = db_step(st);
  if (rc == DB_ROW) *origin = arena_printf(a, "reuse:%s", db_col_text(st, 0));
  db_stmt_done(st);
  return rc == DB_ROW ? 1 : rc < 0 ? -1 : 0;
}

/* GET /api/v1/me/documents[?procedure=CODE]: the signed-in citizen's documents, newest
 * first (uploads of their dossiers, signed results, e-receipts); with a procedure, also
 * "offers": for each of its documents that has a type, the warehouse documents of that
 * type the portal offers instead of an upload. */
void services_my_documents(http_req_t *req) {
  app_t *app = req->app;
  const principal_t *p = req->principal;
  if (p->kind != PRINCIPAL_CITIZEN || !p->cccd) {
    http_reply_error(req, ERR_FORBIDDEN, "Only citizens have a document warehouse");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  json_t *items = json_array(), *proc = NULL, *offers = NULL;
  const char *proc_code = http_query(req, "procedure");
  if (proc_code && !(proc = dossier_procedure(req, db, proc_code, "procedure"))) goto done;
  db_stmt_t *st = db_prepare(db, "SELECT * FROM ("
                                 "SELECT da.name, a.hash, a.size, a.content_type, d.code, d.procedure_code, "
                                 "d.submitted_at AS at, 'upload' AS kind, CAST(NULL AS TEXT) AS doc_type "
                                 "FROM dossiers d JOIN dossier_attachments da ON da.dossier_id = d.id "
                                 "JOIN attachments a ON a.hash = da.hash WHERE d.applicant_cccd = $1 "
                                 "AND da.origin = 'upload' "
                                 "UNION ALL SELECT cd.name, cd.hash, cd.size, 'application/pdf', d.code, "
                                 "d.procedure_code, cd.created_at, cd.kind, cd.doc_type FROM citizen_documents cd "
                                 "JOIN dossiers d ON d.id = cd.dossier_id WHERE cd.applicant_cccd = $1"
                                 ") docs ORDER BY at DESC, name LIMIT 200");
  if (!st || db_bind_text(st, 1, p->cccd)) goto fail;
  int rc;
  while ((rc = db_step(st)) == DB_ROW)
    json_array_append_new(items, json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:o, s:s, s:s?, s:s}", "name",
                                           db_col_text(st, 0), "sha256", db_col_text(st, 1), "size",
                                           (json_int_t)db_col_int64(st, 2), "content_type", db_col_text(st, 3),
                                           "dossier", db_col_text(st, 4), "procedure", db_col_text(st, 5), "at",
                                           dossier_time(db_col_int64(st, 6)), "kind", db_col_text(st, 7), "doc_type",
                                           db_col_text(st, 8), "download",
                                           arena_printf(req->arena, "/api/v1/me/documents/%s", db_col_text(st, 1))));
  if (rc < 0) goto fail;
  db_stmt_done(st);
  st = NULL;
  if (proc) {
    offers = json_array();
    size_t i, k;
    json_t *doc, *it;
    json_array_foreach(json_object_get(proc, "documents"), i, doc) {
      const char *type = json_string_value(json_object_get(doc, "type"));
      if (!type) continue;
      json_t *cands = json_array();
      json_array_foreach(items, k, it) {
        const char *dt = json_string_value(json_object_get(it, "doc_type"));
        if (dt && !strcmp(dt, type)) json_array_append(cands, it);
      }
      json_array_append_new(offers, json_pack("{s:O, s:s, s:O, s:o}", "document", json_object_get(doc, "name"), "type",
                                              type, "required", json_object_get(doc, "required"), "candidates", cands));
    }
  }
  audit_entry_t e = audit_entry_from_req(req, "documents.list", "account", NULL);
  if (db_begin(db) || audit_append(db, &e) || db_commit(db)) goto fail;
  json_t *out = json_pack("{s:o}", "items", items);
  items = NULL;
  if (offers) json_object_set_new(out, "offers", offers);
  offers = NULL;
  http_reply_json(req, 200, out);
  goto done;
fail:
  log_error(req->request_id, "msg=\"documents failed\" err=\"%s\"", db_errmsg(db));
  if (st) db_stmt_done(st);
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  json_decref(items);
  json_decref(offers);
  json_decref(proc);
  db_pool_release(app->db, db);
}

/* GET /api/v1/me/documents/{sha256}: one document of the citizen's warehouse (audited
 * documents.read). */
void services_my_document_get(http_req_t *req) {
  app_t *app = req->app;
  const principal_t *p = req->principal;
  const char *hash = http_param(req, "sha256");
  if (p->kind != PRINCIPAL_CITIZEN || !p->cccd) {
    http_reply_error(req, ERR_FORBIDDEN, "Only citizens have a document warehouse");
    return;
  }
  db_t *db = db_pool_acquire(app->db);
  if (!db) {
    http_reply_error(req, ERR_INTERNAL, NULL);
    return;
  }
  /* results from dossier_results, everything else from attachments */
  db_stmt_t *st = db_prepare(db, "SELECT r.pdf, 'application/pdf', cd.name FROM citizen_documents cd "
                                 "JOIN dossier_results r ON r.dossier_id = cd.dossier_id AND r.sha256 = cd.hash "
                                 "WHERE cd.hash = $1 AND cd.applicant_cccd = $2 AND cd.kind = 'result' "
                                 "UNION ALL SELECT a.body, a.content_type, cd.name FROM citizen_documents cd "
                                 "JOIN attachments a ON a.hash = cd.hash WHERE cd.hash = $1 AND cd.applicant_cccd = $2 "
                                 "AND cd.kind <> 'result' "
                                 "UNION ALL SELECT a.body, a.content_type, da.name FROM dossier_attachments da "
                                 "JOIN dossiers d ON d.id = da.dossier_id JOIN attachments a ON a.hash = da.hash "
                                 "WHERE da.hash = $1 AND d.applicant_cccd = $2 LIMIT 1");
  if (!st || db_bind_text(st, 1, hash) || db_bind_text(st, 2, p->cccd)) goto fail;
  int rc = db_step(st);
  if (rc < 0) goto fail;
  if (rc == DB_DONE) {
    db_stmt_done(st);
    http_reply_error(req, ERR_NOT_FOUND, "No such document in your warehouse");
    goto done;
  }
  size_t len;
  const void *body = db_col_blob(st, 0, &len);
  void *copy = arena_alloc(req->arena, len ? len : 1);
  if (len) memcpy(copy, body, len);
  char *type = arena_strdup(req->arena, db_col_text(st, 1));
  char *name = arena_strdup(req->arena, db_col_text(st, 2));
  db_stmt_done(st);
  st = NULL;
  audit_entry_t e = audit_entry_from_req(req, "documents.read", "document", hash);
  if (db_begin(db) || audit_append(db, &e) || db_commit(db)) goto fail;
  for (char *c = name; *c; c++)
    if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) *c = '_';
  http_add_header(req, "Content-Disposition", arena_printf(req->arena, "attachment; filename=\"%s\"", name));
  http_add_header(req, "X-Content-Type-Options", "nosniff");
  http_reply_raw(req, 200, type, copy, len, false);
  goto done;
fail:
  log_error(req->request_id, "msg=\"document read failed\" err=\"%s\"", db_errmsg(db));
  if (st) db_stmt_done(st);
  db_rollback(db);
  http_reply_error(req, ERR_INTERNAL, NULL);
done:
  db_pool_release(app->db, db);
}
