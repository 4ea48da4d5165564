#include "base/common.h"
#include "base/err.h"

static const struct { int status; const char *code, *msg; } ERR_TABLE[] = {
#define X(sym, status, code, msg) {status, code, msg},
  CITYOS_ERRORS(X)
#undef X
};

int err_status(err_t e) { return (unsigned)e < ERR__COUNT ? ERR_TABLE[e].status : 500; }
const char *err_code(err_t e) { return (unsigned)e < ERR__COUNT ? ERR_TABLE[e].code : "internal"; }
const char *err_message(err_t e) { return (unsigned)e < ERR__COUNT ? ERR_TABLE[e].msg : "Internal error"; }
