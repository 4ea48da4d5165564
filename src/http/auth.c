#include "base/common.h"
#include "http/auth.h"

const char *principal_kind_name(principal_kind_t k) {
  switch (k) {
    case PRINCIPAL_CITIZEN: return "citizen";
    case PRINCIPAL_OFFICIAL: return "official";
    case PRINCIPAL_CLIENT: return "client";
  }
  return "unknown";
}
