/*
 * test_vietqr.c - CRC-16/CCITT-FALSE and the VietQR payload against known-good payloads.
 */
#include "base/common.h"
#include "check.h"
#include "services/vietqr.h"

int main(void) {
  CHECK_INT_EQ(vietqr_crc16("123456789", 9), 0x29B1);
  CHECK_INT_EQ(vietqr_crc16("", 0), 0xFFFF);
  char out[256], why[128];
  /* A dynamic code issued by the payOS payment platform (bank BIN 970422 = MB Bank),
   * amount 7,000 VND, purpose "TL89 100" (seen URL-encoded in a public payment log). */
  vietqr_t q = {.bank_bin = "970422", .account = "VQRQADAIJ5512", .amount = 7000, .purpose = "TL89 100"};
  long n = vietqr_build(&q, out, sizeof out, why, sizeof why);
  CHECK(n > 0);
  CHECK_STR_EQ(out, "00020101021238570010A000000727012700069704220113VQRQADAIJ55120208QRIBFTTA5303704540470005802VN"
                    "62120808TL89 1006304E346");
  CHECK(vietqr_check(out));
  /* A sample invoice payload (Vietcombank BIN 970436, 1,943,000 VND, "TT000069"). */
  vietqr_t v = {.bank_bin = "970436", .account = "1023456789", .amount = 1943000, .purpose = "TT000069"};
  CHECK(vietqr_build(&v, out, sizeof out, why, sizeof why) > 0);
  CHECK_STR_EQ(out, "00020101021238540010A00000072701240006970436011010234567890208QRIBFTTA5303704540719430005802VN"
                    "62120808TT0000696304A8E5");
  /* Parsed back: the receiving account, amount and transfer content. */
  char bin[7], acct[20], purpose[100];
  uint64_t amount = 1;
  CHECK(vietqr_parse(out, bin, acct, &amount, purpose) == 0);
  CHECK_STR_EQ(bin, "970436");
  CHECK_STR_EQ(acct, "1023456789");
  CHECK_STR_EQ(purpose, "TT000069");
  CHECK(amount == 1943000);
  /* Static code: 01 = 11, no amount, no field 54. */
  vietqr_t s = {.bank_bin = "970436", .account = "1023456789"};
  CHECK(vietqr_build(&s, out, sizeof out, why, sizeof why) > 0);
  CHECK(strncmp(out, "000201010211", 12) == 0);
  CHECK(strstr(out, "5303704") != NULL && strstr(out, "54") != strstr(out, "5303704") + 7);
  CHECK(vietqr_check(out));
  CHECK(vietqr_parse(out, bin, acct, &amount, purpose) == 0 && amount == 0 && purpose[0] == 0);
  /* A changed byte breaks the CRC; framing errors are caught. */
  out[20] = out[20] == '1' ? '2' : '1';
  CHECK(!vietqr_check(out));
  CHECK(!vietqr_check("0002016304ABCD"));
  CHECK(!vietqr_check("00"));
  CHECK(!vietqr_check(NULL));
  CHECK(vietqr_parse(out, bin, acct, &amount, purpose) < 0);
  /* Refusals name the field. */
  vietqr_t b1 = {.bank_bin = "97043", .account = "1"};
  CHECK(vietqr_build(&b1, out, sizeof out, why, sizeof why) < 0 && strstr(why, "bank_bin"));
  vietqr_t b2 = {.bank_bin = "970436", .account = "12-3"};
  CHECK(vietqr_build(&b2, out, sizeof out, why, sizeof why) < 0 && strstr(why, "account"));
  vietqr_t b3 = {.bank_bin = "970436", .account = "123", .purpose = "Lệ phí"};
  CHECK(vietqr_build(&b3, out, sizeof out, why, sizeof why) < 0 && strstr(why, "purpose"));
  CHECK(vietqr_build(&v, out, 40, why, sizeof why) < 0);
  return check_summary();
}
