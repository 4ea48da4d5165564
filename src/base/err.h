/*
 * err.h - the one error table (after libuv's errno map).
 *
 * Each row: symbol, HTTP status, code sent to clients, default message (English; the
 * web client translates by code). Handlers answer with http_error(req, ERR_X, msg),
 * where msg may be NULL for the default. Details for operators (SQL, paths) go to the
 * log, never to the client.
 */
#ifndef CITYOS_ERR_H
#define CITYOS_ERR_H

#define CITYOS_ERRORS(X) \
  X(OK,                200, "ok",                  "OK") \
  X(BAD_REQUEST,       400, "bad_request",         "The request is malformed") \
  X(INVALID_JSON,      400, "invalid_json",        "The body is not valid JSON") \
  X(VALIDATION,        422, "validation_failed",   "A field is invalid") \
  X(UNAUTHENTICATED,   401, "unauthenticated",     "Sign-in required") \
  X(BAD_CREDENTIALS,   401, "bad_credentials",     "Wrong user name or password") \
  X(FORBIDDEN,         403, "forbidden",           "You are not allowed to do this") \
  X(NOT_FOUND,         404, "not_found",           "Not found") \
  X(METHOD_NOT_ALLOWED,405, "method_not_allowed",  "Method not allowed") \
  X(CONFLICT,          409, "conflict",            "The record already exists or changed") \
  X(TOO_LARGE,         413, "too_large",           "The request body is too large") \
  X(UNSUPPORTED_MEDIA, 415, "unsupported_media_type", "Send the body as application/json") \
  X(LOCKED,            423, "account_locked",      "Too many failed sign-ins; the account is locked for a while") \
  X(RATE_LIMITED,      429, "rate_limited",        "Too many attempts; wait and try again") \
  X(INTERNAL,          500, "internal",            "Internal error") \
  X(UNAVAILABLE,       503, "unavailable",         "The service is not ready")

typedef enum {
#define X(sym, status, code, msg) ERR_##sym,
  CITYOS_ERRORS(X)
#undef X
  ERR__COUNT
} err_t;

int err_status(err_t e);
const char *err_code(err_t e);
const char *err_message(err_t e);

#endif
