#include "base/common.h"
#include "oidc/oidc_internal.h"

/*
 * Every route of the oidc module. The issuer is <public_url>/api/v1/oidc, so the
 * discovery document lives at <issuer>/.well-known/openid-configuration; the root
 * /.well-known/openid-configuration answers the same once the HTTP core routes the
 * /.well-known/ prefix to handlers.
 */

#define OIDC_BODY_SMALL 1024
#define OIDC_BODY_CLIENT 16384

static const http_route_t OIDC_ROUTES[] = {
  {"GET", "/api/v1/me/totp", oidc_mfa_status, HTTP_SIGNED_IN, 0, "Two-factor state of the signed-in account"},
  {"POST", "/api/v1/me/totp/enrol", oidc_mfa_enrol, HTTP_SIGNED_IN, 0,
   "Start TOTP enrolment: secret, otpauth:// URI and QR code (SVG)"},
  {"POST", "/api/v1/me/totp/confirm", oidc_mfa_confirm, HTTP_SIGNED_IN, OIDC_BODY_SMALL,
   "Confirm enrolment with a first code; answers the recovery codes once"},
  {"POST", "/api/v1/me/totp/verify", oidc_mfa_verify, HTTP_SIGNED_IN, OIDC_BODY_SMALL,
   "Second factor for this session: a TOTP code or a recovery code"},
  {"GET", "/api/v1/oidc/mfa/policy", oidc_mfa_policy, "mfa.policy", 0, "Two-factor policy"},
  {"PUT", "/api/v1/oidc/mfa/policy", oidc_mfa_policy, "mfa.policy", OIDC_BODY_SMALL, "Set the two-factor policy"},
  {"PUT", "/api/v1/oidc/mfa/accounts/{id}", oidc_mfa_account, "users.write", OIDC_BODY_SMALL,
   "Require two-factor for an account, or reset its enrolment"},

  {"GET", "/api/v1/oidc/.well-known/openid-configuration", oidc_h_discovery, HTTP_PUBLIC, 0,
   "OpenID Connect discovery document"},
  {"GET", "/.well-known/openid-configuration", oidc_h_discovery, HTTP_PUBLIC, 0,
   "OpenID Connect discovery document (root alias)"},
  {"GET", "/api/v1/oidc/jwks", oidc_h_jwks, HTTP_PUBLIC, 0, "Signing keys (JWKS), retired keys until their tokens expire"},
  {"GET", "/api/v1/oidc/authorize", oidc_h_authorize, HTTP_PUBLIC, 0, "Authorization endpoint (code flow, PKCE S256)"},
  {"GET", "/api/v1/oidc/requests/{id}", oidc_h_request_get, HTTP_PUBLIC, 0, "A pending authorization request"},
  {"POST", "/api/v1/oidc/requests/{id}/decision", oidc_h_request_decide, HTTP_SIGNED_IN, OIDC_BODY_SMALL,
   "Consent (or refusal) for a pending authorization request"},
  {"POST", "/api/v1/oidc/token", oidc_h_token, HTTP_PUBLIC, OIDC_BODY_CLIENT,
   "Token endpoint: authorization_code (PKCE) and refresh_token (rotation)",
   "application/x-www-form-urlencoded, application/json"},
  {"GET", "/api/v1/oidc/userinfo", oidc_h_userinfo, HTTP_SIGNED_IN, 0, "UserInfo for an access token, by scope"},
  {"GET", "/api/v1/oidc/logout", oidc_h_logout, HTTP_PUBLIC, 0, "RP-initiated logout (with back-channel logout)"},
  {"GET", "/api/v1/oidc/clients", oidc_h_clients_list, "oidc.clients", 0, "Registered OIDC clients"},
  {"POST", "/api/v1/oidc/clients", oidc_h_clients_create, "oidc.clients", OIDC_BODY_CLIENT, "Register an OIDC client"},
  {"GET", "/api/v1/oidc/clients/{id}", oidc_h_client_get, "oidc.clients", 0, "One OIDC client"},
  {"DELETE", "/api/v1/oidc/clients/{id}", oidc_h_client_delete, "oidc.clients", 0,
   "Disable a client (its refresh tokens stop working)"},
  {"POST", "/api/v1/oidc/keys/rotate", oidc_h_rotate, "oidc.keys", 0, "Rotate the signing keys"},
};

const http_route_t *oidc_routes(size_t *n)
{
  *n = ARRAY_LEN(OIDC_ROUTES);
  return OIDC_ROUTES;
}
