/*
 * procedures.h - the administrative procedure catalog: its JSON format, validation,
 * and storage (import all or nothing, export). docs/SERVICES.md describes the format.
 *
 * A catalog document:
 *   {"format": "cityos.procedures/1", "workflows": [WORKFLOW...], "procedures": [PROC...]}
 * Procedures name a workflow by id; a workflow is a state machine whose states map to
 * the national status codes 1-10 and name the unit level holding the dossier, and whose
 * actions name the roles allowed to take them.
 *
 * Errors: validation returns -1 with a message naming the path and, when the source
 * text is given, the line: "line 42: procedures[3].form.fields[1].type: unknown type
 * 'txt'". Storage functions return -1 on database errors (db_errmsg).
 */
#ifndef CITYOS_PROCEDURES_H
#define CITYOS_PROCEDURES_H

#include <jansson.h>
#include "base/common.h"
#include "store/db.h"

#define PROC_FORMAT "cityos.procedures/1"

/* Validates a whole catalog document. `text` (may be NULL) is the source it was parsed
 * from, used to name the line of the offending value. */
int proc_catalog_validate(const json_t *doc, const char *text, char *why, size_t whylen);
/* Validates one workflow / one procedure against the workflow ids in `workflows`
 * (an array of workflow objects); path prefixes the messages. */
int proc_workflow_validate(const json_t *wf, const char *path, char *why, size_t whylen);

/* Validates a form schema {"fields": [{name, label, type, required, choices, max_length,
 * min, max}]}; types: text textarea date number choice cccd phone email boolean. */
int proc_form_validate(const json_t *form, const char *path, char *why, size_t whylen);

/* Checks submitted form data against a procedure's form schema. On refusal returns -1,
 * sets *field to the offending field's name (static or from the schema) and writes
 * the reason. Unknown fields are refused. */
int proc_form_check(const json_t *form, const json_t *data, const char **field, char *why, size_t whylen);

/* Reads, validates and stores a catalog file in one transaction (upserting workflows
 * and procedures by id/code). Prints a summary to `out`. Returns the number of
 * procedures, or -1 with the reason on stderr (nothing written). */
long proc_import_file(db_t *db, const char *path, FILE *out);
/* Validates and stores an already parsed document inside the caller's transaction. */
long proc_import_doc(db_t *db, const json_t *doc, char *why, size_t whylen);
/* The whole stored catalog as a document (new reference), NULL on error. */
json_t *proc_export(db_t *db);
/* One procedure (with its workflow under "workflow_definition"), 0 not found, -1 error. */
int proc_get(db_t *db, const char *code, json_t **out);

#endif
