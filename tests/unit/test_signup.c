#include "base/common.h"

#include "signup/signup.h"
#include "check.h"

#include <sodium.h>

static void test_destinations(void)
{
  CHECK(signup_destination_valid("sms", "0912345678"));
  CHECK(signup_destination_valid("sms", "+84912345678"));
  CHECK(signup_destination_valid("sms", "02439876543"));
  CHECK(!signup_destination_valid("sms", "912345678"));
  CHECK(!signup_destination_valid("sms", "0912 345 678"));
  CHECK(!signup_destination_valid("sms", "+8491234"));
  CHECK(!signup_destination_valid("sms", "+8491234567890"));
  CHECK(signup_destination_valid("email", "an.nguyen@hanoi.gov.vn"));
  CHECK(!signup_destination_valid("email", "an.nguyen@hanoi"));
  CHECK(!signup_destination_valid("email", "@hanoi.vn"));
  CHECK(!signup_destination_valid("email", "a@b@c.vn"));
  CHECK(!signup_destination_valid("email", "a b@c.vn"));
  CHECK(!signup_destination_valid("email", "an@hà.vn"));
  CHECK(!signup_destination_valid("fax", "0912345678"));
  CHECK(!signup_destination_valid("sms", NULL));
}

static void test_codes(void)
{
  char code[7], h1[SIGNUP_CODE_HASH_MAX], h2[SIGNUP_CODE_HASH_MAX];
  signup_code_new(code);
  CHECK_INT_EQ(strlen(code), 6);
  for (int i = 0; i < 6; i++) CHECK(code[i] >= '0' && code[i] <= '9');
  signup_code_hash(code, h1);
  signup_code_hash(code, h2);
  CHECK(strcmp(h1, h2) != 0);             /* salted */
  CHECK(strstr(h1, code) == NULL);
  CHECK(signup_code_matches(h1, code));
  CHECK(signup_code_matches(h2, code));
  char other[7];
  memcpy(other, code, sizeof other);
  other[5] = (char)('0' + (other[5] - '0' + 1) % 10);
  CHECK(!signup_code_matches(h1, other));
  h1[40] = h1[40] == 'a' ? 'b' : 'a';
  CHECK(!signup_code_matches(h1, code));  /* tampered hash */
  CHECK(!signup_code_matches("short", code));
  CHECK(!signup_code_matches(NULL, code));
}

int main(void)
{
  if (sodium_init() < 0) return 1;
  test_destinations();
  test_codes();
  return check_summary();
}
