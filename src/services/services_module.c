/*
 * services_module.c - the online public services module: migrations, routes, commands.
 */
#include "base/common.h"
#include "services/services_internal.h"
#include "services/dossiers_internal.h"

static const db_migration_t SERVICES_MIGRATIONS[] = {
    {"services", 1,
     "CREATE TABLE calendar_overrides ("
     "  year INTEGER PRIMARY KEY,"
     "  body TEXT NOT NULL,"
     "  updated_at BIGINT NOT NULL,"
     "  updated_by BIGINT"
     ");"
     "INSERT INTO roles (name, description) VALUES"
     "  ('services_admin', 'Manages the procedure catalog and the working-day calendar')"
     "  ON CONFLICT DO NOTHING;"
     "INSERT INTO role_permissions (role, permission) VALUES"
     "  ('services_admin', 'calendar.write'),"
     "  ('services_admin', 'procedures.write')"
     "  ON CONFLICT DO NOTHING;"},
    {"services", 2,
     "CREATE TABLE proc_workflows ("
     "  id TEXT PRIMARY KEY,"
     "  body TEXT NOT NULL,"
     "  updated_at BIGINT NOT NULL"
     ");"
     "CREATE TABLE procedures ("
     "  code TEXT PRIMARY KEY,"
     "  name TEXT NOT NULL,"
     "  name_folded TEXT NOT NULL,"
     "  field TEXT NOT NULL,"
     "  levels TEXT NOT NULL,"
     "  days INTEGER NOT NULL,"
     "  online TEXT NOT NULL,"
     "  workflow TEXT NOT NULL REFERENCES proc_workflows (id),"
     "  body TEXT NOT NULL,"
     "  updated_at BIGINT NOT NULL"
     ");"
     "CREATE INDEX procedures_field ON procedures (field);"},
    {"services", 3,
     "CREATE TABLE dossier_counters ("
     "  unit_code TEXT NOT NULL,"
     "  day TEXT NOT NULL,"
     "  n INTEGER NOT NULL,"
     "  PRIMARY KEY (unit_code, day)"
     ");"
     "CREATE TABLE dossiers ("
     "  id {{ID}},"
     "  code TEXT NOT NULL UNIQUE,"
     "  procedure_code TEXT NOT NULL REFERENCES procedures (code),"
     "  unit_id BIGINT NOT NULL,"
     "  holder_unit_id BIGINT NOT NULL,"
     "  state TEXT NOT NULL,"
     "  status INTEGER NOT NULL,"
     "  channel TEXT NOT NULL,"
     "  applicant_account_id BIGINT,"
     "  applicant_cccd TEXT NOT NULL,"
     "  applicant_name TEXT NOT NULL,"
     "  form TEXT NOT NULL,"
     "  submitted_at BIGINT NOT NULL,"
     "  due_at BIGINT NOT NULL,"
     "  paused_at BIGINT,"
     "  completed_at BIGINT,"
     "  outcome TEXT,"
     "  created_by BIGINT,"
     "  updated_at BIGINT NOT NULL"
     ");"
     "CREATE INDEX dossiers_inbox ON dossiers (holder_unit_id, status, due_at);"
     "CREATE INDEX dossiers_applicant ON dossiers (applicant_account_id, submitted_at);"
     "CREATE TABLE dossier_events ("
     "  id {{ID}},"
     "  dossier_id BIGINT NOT NULL REFERENCES dossiers (id),"
     "  at BIGINT NOT NULL,"
     "  actor_id BIGINT,"
     "  actor_kind TEXT NOT NULL,"
     "  action TEXT NOT NULL,"
     "  from_state TEXT,"
     "  to_state TEXT NOT NULL,"
     "  from_status INTEGER,"
     "  to_status INTEGER NOT NULL,"
     "  unit_id BIGINT NOT NULL,"
     "  comment TEXT"
     ");"
     "CREATE INDEX dossier_events_dossier ON dossier_events (dossier_id, id);"
     "CREATE TABLE attachments ("
     "  hash TEXT PRIMARY KEY,"
     "  size BIGINT NOT NULL,"
     "  content_type TEXT NOT NULL,"
     "  body {{BLOB}} NOT NULL,"
     "  created_at BIGINT NOT NULL"
     ");"
     "CREATE TABLE dossier_attachments ("
     "  dossier_id BIGINT NOT NULL REFERENCES dossiers (id),"
     "  hash TEXT NOT NULL REFERENCES attachments (hash),"
     "  name TEXT NOT NULL,"
     "  PRIMARY KEY (dossier_id, name)"
     ");"
     "INSERT INTO roles (name, description) VALUES"
     "  ('specialist', 'Processes dossiers of a unit'),"
     "  ('leader', 'Approves or rejects dossiers of a unit')"
     "  ON CONFLICT DO NOTHING;"
     "INSERT INTO role_permissions (role, permission) VALUES"
     "  ('officer', 'dossiers.read'),"
     "  ('officer', 'dossiers.receive'),"
     "  ('specialist', 'dossiers.read'),"
     "  ('specialist', 'dossiers.process'),"
     "  ('leader', 'dossiers.read'),"
     "  ('leader', 'dossiers.process'),"
     "  ('leader', 'dossiers.approve')"
     "  ON CONFLICT DO NOTHING;"},
    {"services", 4,
     "CREATE TABLE unit_bank_accounts ("
     "  unit_id BIGINT PRIMARY KEY,"
     "  bank_bin TEXT NOT NULL,"
     "  account TEXT NOT NULL,"
     "  name TEXT NOT NULL,"
     "  updated_at BIGINT NOT NULL"
     ");"
     "CREATE TABLE payments ("
     "  id {{ID}},"
     "  dossier_id BIGINT NOT NULL REFERENCES dossiers (id),"
     "  reference TEXT NOT NULL UNIQUE,"
     "  amount BIGINT NOT NULL,"
     "  status TEXT NOT NULL CHECK (status IN ('pending', 'paid')),"
     "  vietqr TEXT NOT NULL,"
     "  created_at BIGINT NOT NULL,"
     "  created_by BIGINT,"
     "  paid_at BIGINT,"
     "  transaction_id TEXT UNIQUE"
     ");"
     "CREATE INDEX payments_dossier ON payments (dossier_id);"
     "INSERT INTO role_permissions (role, permission) VALUES"
     "  ('services_admin', 'payments.configure')"
     "  ON CONFLICT DO NOTHING;"},
    {"services", 5,
     "CREATE TABLE dossier_ratings ("
     "  dossier_id BIGINT PRIMARY KEY REFERENCES dossiers (id),"
     "  score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),"
     "  comment TEXT,"
     "  created_at BIGINT NOT NULL"
     ");"
     "CREATE INDEX dossiers_unit_submitted ON dossiers (unit_id, submitted_at);"},
    {"services", 6,
     "ALTER TABLE dossiers ADD COLUMN late_warned_at BIGINT;"
     "ALTER TABLE dossiers ADD COLUMN new_due_at BIGINT;"},
    {"services", 7,
     "CREATE TABLE dossier_lookup_failures ("
     "  code TEXT NOT NULL,"
     "  at BIGINT NOT NULL"
     ");"
     "CREATE INDEX dossier_lookup_failures_code ON dossier_lookup_failures (code, at);"
     "CREATE INDEX dossiers_status_due ON dossiers (status, due_at);"},
    {"services", 8,
     "DROP INDEX dossiers_inbox;"
     "CREATE INDEX dossiers_inbox ON dossiers (holder_unit_id, status, due_at, paused_at, id);"},
    {"services", 9,
     "ALTER TABLE dossier_attachments ADD COLUMN origin TEXT NOT NULL DEFAULT 'upload';"
     "CREATE INDEX dossier_attachments_hash ON dossier_attachments (hash);"
     "CREATE INDEX dossiers_applicant_cccd ON dossiers (applicant_cccd);"},
    {"services", 10,
     "CREATE TABLE dossier_results ("
     "  id {{ID}},"
     "  dossier_id BIGINT NOT NULL UNIQUE REFERENCES dossiers (id),"
     "  pdf {{BLOB}} NOT NULL,"
     "  sha256 TEXT NOT NULL,"
     "  signer_account_id BIGINT NOT NULL,"
     "  cert_serial TEXT NOT NULL,"
     "  comment TEXT,"
     "  signed_at BIGINT NOT NULL"
     ");"},
    {"services", 11,
     "ALTER TABLE dossiers ADD COLUMN step_state TEXT;"
     "ALTER TABLE dossiers ADD COLUMN step_started_at BIGINT;"
     "ALTER TABLE dossiers ADD COLUMN step_due_at BIGINT;"
     "ALTER TABLE dossiers ADD COLUMN step_late_at BIGINT;"
     "ALTER TABLE dossier_events ADD COLUMN step_due_at BIGINT;"
     "CREATE INDEX dossiers_status_step ON dossiers (status, step_due_at);"},
    {"services", 12,
     "CREATE TABLE citizen_documents ("
     "  id {{ID}},"
     "  applicant_cccd TEXT NOT NULL,"
     "  dossier_id BIGINT NOT NULL REFERENCES dossiers (id),"
     "  kind TEXT NOT NULL CHECK (kind IN ('result', 'receipt')),"
     "  doc_type TEXT,"
     "  name TEXT NOT NULL,"
     "  hash TEXT NOT NULL,"
     "  size BIGINT NOT NULL,"
     "  created_at BIGINT NOT NULL,"
     "  UNIQUE (dossier_id, hash)"
     ");"
     "CREATE INDEX citizen_documents_owner ON citizen_documents (applicant_cccd, created_at);"
     "CREATE INDEX citizen_documents_hash ON citizen_documents (hash);"},
};

const db_migration_t *services_migrations(db_kind_t kind, size_t *n) {
  (void)kind;
  *n = ARRAY_LEN(SERVICES_MIGRATIONS);
  return SERVICES_MIGRATIONS;
}

static const http_route_t SERVICES_ROUTES[] = {
    {"GET", "/api/v1/calendar/due", services_calendar_due, HTTP_PUBLIC, 0,
     "Due date of N working days from a start (?start=ISO date or date-time&days=N)"},
    {"GET", "/api/v1/calendar/{year}", services_calendar_get, HTTP_PUBLIC, 0,
     "A year's days off, forced working days, office hours and stored overrides"},
    {"PUT", "/api/v1/calendar/{year}", services_calendar_put, "calendar.write", 64 * 1024,
     "Replace a year's overrides (Tết range, extra days off, swapped working days)"},
    {"GET", "/api/v1/procedures", services_procedures_list, HTTP_PUBLIC, 0,
     "Search the procedure catalog (?q= ignoring diacritics, &level=, &field=, paginated)"},
    {"POST", "/api/v1/procedures/import", services_procedures_import, "procedures.write", 8u << 20,
     "Import a catalog document (validated, all or nothing; upserts by code)"},
    {"GET", "/api/v1/procedures/{code}", services_procedures_get, HTTP_PUBLIC, 0,
     "One procedure with its form schema and workflow definition"},
    {"POST", "/api/v1/dossiers", services_dossier_submit, HTTP_SIGNED_IN, 16u << 20,
     "Submit a dossier (citizen online; officer at the counter for a citizen)"},
    {"GET", "/api/v1/dossiers", services_dossier_inbox, "dossiers.read", 0,
     "Officer inbox of a unit (?unit=&status=&procedure=&due_before=&step_overdue=&sort=), overdue first"},
    {"GET", "/api/v1/dossiers/mine", services_dossier_mine, HTTP_SIGNED_IN, 0, "The signed-in citizen's dossiers"},
    {"GET", "/api/v1/dossiers/{code}", services_dossier_get, HTTP_SIGNED_IN, 0,
     "One dossier with form, attachments and timeline (applicant or the unit's officers)"},
    {"POST", "/api/v1/dossiers/{code}/actions", services_dossier_action, HTTP_SIGNED_IN, 8 * 1024,
     "Take a workflow action (receive, forward, request_supplement, approve, ...)"},
    {"POST", "/api/v1/dossiers/{code}/payments", services_payment_request, HTTP_SIGNED_IN, 4 * 1024,
     "Request the fee of a dossier waiting for payment (status 6): VietQR payload"},
    {"GET", "/api/v1/dossiers/{code}/payments/{reference}", services_payment_get, HTTP_SIGNED_IN, 0,
     "One payment request: amount, status, receiving account, transfer content, e-receipt link"},
    {"GET", "/api/v1/dossiers/{code}/payments/{reference}/qr", services_payment_qr, HTTP_SIGNED_IN, 0,
     "The payment request's VietQR code as an SVG image"},
    {"PUT", "/api/v1/payment-accounts/{unit}", services_payment_account_put, "payments.configure", 4 * 1024,
     "Set the bank account (BIN, account number, holder) that receives a unit's fees"},
    {"POST", "/api/v1/payments/callback", services_payment_callback, HTTP_PUBLIC, 8 * 1024,
     "Payment platform confirmation (HMAC-SHA256 in X-Cityos-Signature; idempotent)"},
    {"POST", "/api/v1/dossiers/{code}/rating", services_dossier_rate, HTTP_SIGNED_IN, 4 * 1024,
     "The applicant rates the handling (1-5) once the result is ready"},
    {"GET", "/api/v1/dossier-stats", services_dossier_stats, "dossiers.read", 0,
     "Per procedure: received, completed, early/on-time/late, online share, average rating (?unit=&from=&to=)"},
    {"GET", "/api/v1/dossiers/{code}/attachments/{sha256}", services_dossier_attachment, HTTP_SIGNED_IN, 0,
     "One attachment's bytes (applicant or the unit's officers)"},
    {"GET", "/api/v1/dossiers/{code}/slips/{kind}", services_dossier_slip, HTTP_SIGNED_IN, 0,
     "A statutory paper as PDF with QR code: receipt, supplement, refusal"},
    {"POST", "/api/v1/dossiers/{code}/result", services_dossier_result_sign, HTTP_SIGNED_IN, 8 * 1024,
     "Sign the result document of an approved dossier with the official's certificate (PAdES)"},
    {"GET", "/api/v1/dossiers/{code}/result", services_dossier_result_get, HTTP_SIGNED_IN, 0,
     "The signed result PDF (applicant or the unit's officers)"},
    {"POST", "/api/v1/dossiers/{code}/reschedule", services_dossier_reschedule, HTTP_SIGNED_IN, 4 * 1024,
     "New appointment for a dossier that will be late (for the apology slip)"},
    {"GET", "/api/v1/me/documents", services_my_documents, HTTP_SIGNED_IN, 0,
     "The citizen's data warehouse: uploads, signed results, e-receipts; ?procedure= adds what it can reuse"},
    {"GET", "/api/v1/me/documents/{sha256}", services_my_document_get, HTTP_SIGNED_IN, 0,
     "One document of the citizen's warehouse (bytes)"},
    {"GET", "/api/v1/lookup/dossiers/{code}", services_dossier_lookup, HTTP_PUBLIC, 0,
     "Public status lookup by dossier code and ?cccd4= (no personal data)"},
};

static const http_route_t *services_routes(size_t *n) {
  *n = ARRAY_LEN(SERVICES_ROUTES);
  return SERVICES_ROUTES;
}

static const cli_command_t SERVICES_COMMANDS[] = {
    {"calendar", "calendar holidays YEAR | due START DAYS   check the working-day calendar",
     services_cli_calendar, true},
    {"procedures", "procedures import FILE | export [FILE] | check FILE   the procedure catalog",
     services_cli_procedures, true},
};

static const module_t SERVICES_MODULE = {
    .name = "services",
    .order = 100,
    .migrations = services_migrations,
    .routes = services_routes,
    .commands = SERVICES_COMMANDS,
    .ncommands = ARRAY_LEN(SERVICES_COMMANDS),
    .start = services_jobs_start,
    .stop = services_jobs_stop,
};
MODULE_REGISTER(SERVICES_MODULE)
