/*
 * signing_schema.c - the signing module's migrations: the PKI tables (pki_cas,
 * pki_certs, pki_trust), the official documents (documents, document_recipients,
 * document_signers) and the roles pki_officer, document_clerk, document_signer.
 */
#include "base/common.h"
#include "signing/signing.h"

static const db_migration_t SIGNING_MIGRATIONS[] = {
    {"signing", 1,
     "CREATE TABLE pki_cas ("
     "  id {{ID}},"
     "  kind TEXT NOT NULL UNIQUE CHECK (kind IN ('root', 'issuing')),"
     "  subject TEXT NOT NULL,"
     "  cert_pem TEXT NOT NULL,"
     "  key_pem TEXT NOT NULL,"
     "  crl_der {{BLOB}},"
     "  crl_number BIGINT NOT NULL DEFAULT 0,"
     "  crl_updated_at BIGINT,"
     "  created_at BIGINT NOT NULL DEFAULT {{NOW_MS}}"
     ");"
     "CREATE TABLE pki_certs ("
     "  serial TEXT PRIMARY KEY,"
     "  cn TEXT NOT NULL,"
     "  title TEXT,"
     "  unit TEXT,"
     "  email TEXT,"
     "  issuer TEXT NOT NULL,"
     "  source TEXT NOT NULL CHECK (source IN ('issued', 'imported')),"
     "  cert_pem TEXT NOT NULL,"
     "  chain_pem TEXT,"
     "  key_pem TEXT,"
     "  not_after BIGINT NOT NULL,"
     "  revoked_at BIGINT,"
     "  revoke_reason TEXT,"
     "  created_at BIGINT NOT NULL DEFAULT {{NOW_MS}}"
     ");"
     "CREATE TABLE pki_trust ("
     "  id {{ID}},"
     "  subject TEXT NOT NULL,"
     "  cert_pem TEXT NOT NULL UNIQUE,"
     "  created_at BIGINT NOT NULL DEFAULT {{NOW_MS}}"
     ");"
     "INSERT INTO roles (name, description) VALUES"
     "  ('pki_officer', 'Sees the certificates of the city PKI and their expiry')"
     "  ON CONFLICT DO NOTHING;"
     "INSERT INTO role_permissions (role, permission) VALUES"
     "  ('pki_officer', 'pki.read')"
     "  ON CONFLICT DO NOTHING;"},
    {"signing", 2,
     "CREATE TABLE documents ("
     "  id {{ID}},"
     "  direction TEXT NOT NULL CHECK (direction IN ('outgoing', 'incoming')),"
     "  number TEXT NOT NULL,"
     "  symbol TEXT NOT NULL,"
     "  doc_type TEXT NOT NULL,"
     "  issuing_unit_id BIGINT NOT NULL,"      /* 0: an outside body (issuer_name) */
     "  owner_unit_id BIGINT NOT NULL,"        /* whose register: issuer (outgoing) or recipient (incoming) */
     "  source_id BIGINT REFERENCES documents (id),"
     "  issuer_name TEXT,"
     "  issued_date TEXT NOT NULL,"
     "  summary TEXT NOT NULL,"
     "  signer_name TEXT,"
     "  status TEXT NOT NULL CHECK (status IN ('signing', 'signed', 'published', 'received', 'read')),"
     "  pdf {{BLOB}},"
     "  created_by BIGINT,"
     "  created_at BIGINT NOT NULL,"
     "  read_at BIGINT,"
     "  read_by BIGINT"
     ");"
     "CREATE INDEX documents_owner ON documents (owner_unit_id, issued_date);"
     "CREATE INDEX documents_number ON documents (number, symbol);"
     "CREATE UNIQUE INDEX documents_outgoing_number ON documents (issuing_unit_id, number, symbol) WHERE direction = 'outgoing';"
     "CREATE TABLE document_recipients ("
     "  document_id BIGINT NOT NULL REFERENCES documents (id),"
     "  unit_id BIGINT NOT NULL,"
     "  PRIMARY KEY (document_id, unit_id)"
     ");"
     "CREATE TABLE document_signers ("
     "  document_id BIGINT NOT NULL REFERENCES documents (id),"
     "  step INTEGER NOT NULL,"
     "  cert_serial TEXT NOT NULL,"
     "  signed_at BIGINT,"
     "  signed_by BIGINT,"
     "  PRIMARY KEY (document_id, step)"
     ");"
     "INSERT INTO roles (name, description) VALUES"
     "  ('document_clerk', 'Registers, publishes and reads official documents of a unit'),"
     "  ('document_signer', 'Signs official documents of a unit with their own certificate')"
     "  ON CONFLICT DO NOTHING;"
     "INSERT INTO role_permissions (role, permission) VALUES"
     "  ('document_clerk', 'documents.read'), ('document_clerk', 'documents.write'),"
     "  ('document_signer', 'documents.read'), ('document_signer', 'documents.sign')"
     "  ON CONFLICT DO NOTHING;"},
};

const db_migration_t *signing_migrations(db_kind_t kind, size_t *n) {
  (void)kind;
  *n = ARRAY_LEN(SIGNING_MIGRATIONS);
  return SIGNING_MIGRATIONS;
}
