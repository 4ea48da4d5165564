/* fuzz_vietqr.c - vietqr_check on arbitrary text, and build + check round trips. */
#include "base/common.h"
#include "services/vietqr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char s[512];
  if (size >= sizeof s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  (void)vietqr_check(s);
  char out[256], why[64];
  vietqr_t q = {.bank_bin = "970436", .account = "1023456789", .amount = size * 1000, .purpose = s};
  if (vietqr_build(&q, out, sizeof out, why, sizeof why) > 0 && !vietqr_check(out)) abort();
  return 0;
}
