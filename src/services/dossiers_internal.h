/*
 * dossiers_internal.h - dossiers of the services module: rows, shared helpers and the
 * route handlers (submission, actions, reads). See docs/SERVICES.md for the API.
 *
 * Workflow roles map to permissions checked with identity_can() at the unit holding
 * the dossier: officer -> dossiers.receive, specialist -> dossiers.process,
 * leader -> dossiers.approve; "applicant" is the citizen who submitted the dossier.
 */
#ifndef CITYOS_DOSSIERS_INTERNAL_H
#define CITYOS_DOSSIERS_INTERNAL_H

#include "base/common.h"
#include "services/services_internal.h"

typedef struct {
  int64_t id;
  const char *code, *procedure_code, *state, *channel, *applicant_cccd, *applicant_name, *form, *outcome;
  int64_t unit_id, holder_unit_id, applicant_account_id, submitted_at, due_at, paused_at, completed_at;
  int64_t late_warned_at, new_due_at;
  int status;
  /* The current workflow step's deadline (its state's share of the procedure's days):
   * step_state is the state it belongs to (kept while the clock is paused, so the same
   * step resumes shifted by the pause); 0/NULL when the state has no share. */
  const char *step_state;
  int64_t step_started_at, step_due_at, step_late_at;
} dossier_t;

/* The column list dossier_load reads (for SELECTs elsewhere). */
#define DOSSIER_COLUMNS                                                                                   \
  "id, code, procedure_code, state, channel, applicant_cccd, applicant_name, form, outcome, unit_id, "    \
  "holder_unit_id, applicant_account_id, submitted_at, due_at, paused_at, completed_at, status, "          \
  "late_warned_at, new_due_at, step_state, step_started_at, step_due_at, step_late_at"
#define DOSSIER_NCOLS 23

/* Fills d from the current row of st (columns as DOSSIER_COLUMNS), strings copied into a. */
void dossier_from_row(arena_t *a, db_stmt_t *st, dossier_t *d);
/* 1 found, 0 not found, -1 database error. */
int dossier_load(arena_t *a, db_t *db, const char *code, dossier_t *d);
/* The applicant (citizen owner) or an official with dossiers.read at the holding or
 * receiving unit. */
bool dossier_can_see(const app_t *app, const principal_t *p, const dossier_t *d);
/* Public fields only (no applicant data): code, procedure, status, state, dates. */
json_t *dossier_public_json(const app_t *app, const dossier_t *d);
/* Everything, for the applicant and the officers of the unit. */
json_t *dossier_full_json(const app_t *app, const dossier_t *d);
/* The timeline; with_people adds actors and comments. NULL on a database error. */
json_t *dossier_timeline(db_t *db, int64_t dossier_id, bool with_people);
/* The procedure row with its workflow ("workflow_definition"); answers 422/500 itself
 * and returns NULL on failure. field names the request field on 422. */
json_t *dossier_procedure(http_req_t *req, db_t *db, const char *code, const char *field);
/* The state object of a workflow, or NULL. */
const json_t *dossier_wf_state(const json_t *wf, const char *state);
/* Records one transition (who, when, from, to, comment). */
int dossier_event(db_t *db, int64_t dossier_id, const principal_t *p, const char *action, const char *from_state,
                  int from_status, const char *to_state, int to_status, int64_t unit_id, const char *comment,
                  int64_t at);
/* The same with the deadline of the step the event enters (0: none). */
int dossier_event_step(db_t *db, int64_t dossier_id, const principal_t *p, const char *action, const char *from_state,
                       int from_status, const char *to_state, int to_status, int64_t unit_id, const char *comment,
                       int64_t at, int64_t step_due);
/* The deadline of a step entered at `now`: the state's "share" of the procedure's `days`
 * working days as office minutes after the closing time of the day it starts counting
 * (calendar_due_minutes), never later than the dossier's due date `cap`. 0 when the
 * state has no share or is a pause (status 5, 6) or a closed one (3, 7, 8, 10). */
int64_t dossier_step_due(const calendar_t *cal, const json_t *state, int days, int64_t now, int64_t cap);
/* Whether the dossier's current step is past its deadline with the clock running. */
bool dossier_step_overdue(const dossier_t *d, int64_t now);
/* ISO time or null. */
json_t *dossier_time(int64_t ms);

/* Whether p may take a workflow action on d at unit_id: one of the action's roles
 * (officer/specialist/leader -> permission via identity_can at unit_id; "applicant":
 * the citizen who submitted d). The actions endpoint passes d->holder_unit_id. */
bool dossier_may_act(const app_t *app, const principal_t *p, const json_t *action, const dossier_t *d,
                     int64_t unit_id);

/* Applies one workflow action inside the caller's transaction: conditional update (the
 * state read), deadline pause/resume, the step deadline of the state entered, completion
 * classification, event, audit. proc is the procedure with its "workflow_definition". The
 * actor is req->principal (NULL: the system, e.g. the payment callback). Returns 0,
 * 1 when the dossier changed meanwhile, -1 on a database error. */
int dossier_transition(http_req_t *req, db_t *db, const calendar_t *cal, const dossier_t *d, const json_t *proc,
                       const json_t *action, const char *comment);

void services_dossier_submit(http_req_t *req);
void services_dossier_action(http_req_t *req);
void services_dossier_get(http_req_t *req);
void services_dossier_lookup(http_req_t *req);
void services_dossier_mine(http_req_t *req);
void services_dossier_inbox(http_req_t *req);
void services_payment_request(http_req_t *req);
void services_payment_account_put(http_req_t *req);
void services_payment_get(http_req_t *req);
void services_payment_qr(http_req_t *req);
void services_payment_callback(http_req_t *req);
void services_dossier_rate(http_req_t *req);
void services_dossier_stats(http_req_t *req);
void services_dossier_slip(http_req_t *req);
/* Renders a slip (receipt, supplement, refusal, apology, fee_receipt) of d: 0 with *pdf
 * (malloc, caller frees) and *len; 1 when the slip does not apply (409 answered); -1 on
 * a database error; -2 when rendering failed (logged, nothing answered). */
int dossier_slip_render(http_req_t *req, db_t *db, const dossier_t *d, const json_t *proc, const char *kind,
                        unsigned char **pdf, size_t *len);
/* Puts a document issued for a dossier into its applicant's warehouse (citizen_documents):
 * kind "result" (bytes stay in dossier_results) or "receipt" (bytes stored in
 * attachments here). Inside the caller's transaction; 0 or -1. */
int dossier_warehouse_add(db_t *db, const dossier_t *d, const char *kind, const char *doc_type, const char *name,
                          const char *sha256, const void *bytes, size_t len, int64_t now);
/* Whether sha256 is a document of the applicant with this CCCD (a result or e-receipt
 * issued to them, or an upload of one of their dossiers): 1 with *origin
 * ("result:<code>", "receipt:<code>", "reuse:<code>") and its bytes in attachments;
 * 0 when not theirs; -1 on a database error. Inside the submission's transaction. */
int dossier_warehouse_resolve(arena_t *a, db_t *db, const char *cccd, const char *sha256, const char **origin);
void services_dossier_reschedule(http_req_t *req);
void services_dossier_attachment(http_req_t *req);
void services_my_documents(http_req_t *req);
void services_my_document_get(http_req_t *req);
/* Signed results (dossiers_result.c): sign on approval, download, public verification. */
void services_dossier_result_sign(http_req_t *req);
void services_dossier_result_get(http_req_t *req);
/* The verification of a dossier's signed result for the public lookup (signer name,
 * title, unit, time, intact, chain trusted, revoked; no personal data), JSON null when
 * there is none; NULL on a database error. */
json_t *dossier_result_public(db_t *db, int64_t dossier_id);

/* The late-dossier job (dossiers_jobs.c): flags dossiers that will be late and steps
 * running late. services_flag_late returns the number flagged (both kinds) or -1. */
long services_flag_late(app_t *app, int64_t now);
int services_jobs_start(app_t *app);
void services_jobs_stop(app_t *app);

#endif
