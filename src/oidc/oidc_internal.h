/*
 * oidc_internal.h - shared between the provider's files (not a public contract).
 */
#ifndef CITYOS_OIDC_INTERNAL_H
#define CITYOS_OIDC_INTERNAL_H

#include "base/common.h"
#include "oidc/oidc.h"
#include "oidc/oidc_jwt.h"
#include "app.h"

#include <jansson.h>

#define OIDC_ID_TOKEN_TTL_S 3600
#define OIDC_ACCESS_TTL_S 3600
#define OIDC_REFRESH_TTL_S (30 * 86400)
#define OIDC_CODE_TTL_S 60
#define OIDC_REQUEST_TTL_S 600
#define OIDC_KEY_GRACE_S (OIDC_ID_TOKEN_TTL_S + 300)   /* a retired key stays published */
#define OIDC_SCOPES "openid profile cccd unit roles offline_access"

/* The issuer: cfg public_url (without a trailing '/') or http://<Host>, then "/api/v1/oidc".
 * Arena. */
const char *oidc_issuer(http_req_t *req);

/* The current signing key of alg ("RS256" / "ES256"); *kid set (arena). NULL on error. */
EVP_PKEY *oidc_signing_key(arena_t *a, db_t *db, const char *alg, const char **kid);
/* A published key by kid (for id_token_hint). NULL when unknown. *alg set (arena). */
EVP_PKEY *oidc_published_key(arena_t *a, db_t *db, const char *kid, const char **alg);
/* Frees the parsed-key cache (at stop). */
void oidc_keys_cache_clear(void);
/* Makes sure an active RS256 and ES256 key exist. 0 or -1. */
int oidc_keys_ensure(db_t *db);

/* Secrets at rest (oidc_seal.c, base/seal.h): the associated data binding a sealed
 * TOTP seed to its account and a sealed private key to its kid. */
#define OIDC_AD_MAX 48
const char *oidc_totp_ad(char buf[OIDC_AD_MAX], int64_t account_id);
const char *oidc_key_ad(char buf[OIDC_AD_MAX], const char *kid);
/* At start: loads (or makes) the master key, checks it against the database, seals
 * the secrets still stored in clear. 0 or -1 (logged: serve must not start). */
int oidc_seal_start(app_t *app, db_t *db);
/* `cityos secrets rekey`: checks the current key file against the database, makes a new
 * key at new_path (0600; the file must not exist), and in one transaction re-seals every
 * TOTP seed and private signing key with it and stores its check value. Prints a summary
 * to out, errors to stderr. 0, or -1 (nothing changed, new_path removed). */
int oidc_seal_rekey(const config_t *cfg, db_t *db, const char *new_path, FILE *out);

typedef struct oidc_client {
  const char *client_id;
  const char *name;
  bool confidential;
  bool first_party;
  const char *secret_hash;
  json_t *redirect_uris;            /* borrowed from the arena-owned object */
  json_t *post_logout_redirect_uris;
  const char *scopes;               /* space-separated */
  const char *backchannel_logout_uri;
  const char *id_token_alg;
} oidc_client_t;

/* Loads an enabled client (arena; JSON arrays released with the arena). 1 found,
 * 0 not, -1 error. */
int oidc_client_load(arena_t *a, db_t *db, const char *client_id, oidc_client_t *c);
bool oidc_json_has_string(const json_t *arr, const char *s);
/* true when uri is one of the registered redirect (or post-logout) URIs, compared byte
 * for byte; a registered entry that starts with '/' (cityos' own screens, see
 * oidc_builtin_clients) stands for the issuer's origin followed by that path, so it
 * follows public_url (or the Host header when public_url is empty). */
bool oidc_uri_registered(http_req_t *req, const json_t *arr, const char *uri);
/* Registers or updates the first-party clients of cityos' own screens (at start). */
int oidc_builtin_clients(db_t *db);
/* true when every space-separated word of scope is in allowed. */
bool oidc_scope_subset(const char *scope, const char *allowed);
bool oidc_scope_has(const char *scope, const char *word);
/* SHA-256 hex of a secret/code/token. */
void oidc_hash(const char *s, char out[65]);
/* 32 random bytes as base64url (43 characters) into the arena. */
char *oidc_random_token(arena_t *a);

/* Reply helpers: OAuth error body {"error","error_description"} with no-store. */
void oidc_reply_oauth_error(http_req_t *req, int status, const char *error, const char *desc);
void oidc_reply_redirect(http_req_t *req, const char *location);

/* Appends name=value (percent-encoded) to a URL with ? or &. Arena. */
char *oidc_url_add(arena_t *a, const char *url, const char *name, const char *value);

/* Revokes everything of an OP session (sid = identity session token id): the
 * session, its access tokens and refresh families, and queues back-channel logout
 * tokens to the clients that hold tokens of it. Inside the caller's transaction. */
int oidc_session_end(http_req_t *req, db_t *db, int64_t sid, int64_t account_id);
/* identity's sign-out hook (see identity_set_logout_hook). */
int oidc_logout_hook(http_req_t *req, db_t *db);

/* Handlers (the route table is in oidc_routes.c). */
void oidc_h_discovery(http_req_t *req);
void oidc_h_jwks(http_req_t *req);
void oidc_h_rotate(http_req_t *req);
void oidc_h_clients_create(http_req_t *req);
void oidc_h_clients_list(http_req_t *req);
void oidc_h_client_get(http_req_t *req);
void oidc_h_client_delete(http_req_t *req);
void oidc_h_authorize(http_req_t *req);
void oidc_h_request_get(http_req_t *req);
void oidc_h_request_decide(http_req_t *req);
void oidc_h_token(http_req_t *req);
void oidc_h_userinfo(http_req_t *req);
void oidc_h_logout(http_req_t *req);
void oidc_mfa_status(http_req_t *req);
void oidc_mfa_enrol(http_req_t *req);
void oidc_mfa_confirm(http_req_t *req);
void oidc_mfa_verify(http_req_t *req);
void oidc_mfa_policy(http_req_t *req);
/* The setting mfa_officials: the policy while no administrator has set it. */
void oidc_mfa_set_policy_default(bool on);
void oidc_mfa_account(http_req_t *req);
void oidc_backchannel_start(app_t *app);
void oidc_backchannel_stop(void);

#endif
