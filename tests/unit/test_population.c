#include "base/common.h"

#include "population/population.h"
#include "check.h"

static void test_split(void)
{
  population_row_t r;
  const char *why = NULL;
  char l1[] = "001090000001,Nguyễn Văn A,1990-01-01,male,2024,00001,2025,00004,HK1";
  CHECK_INT_EQ(population_csv_split(l1, &r, &why), 0);
  CHECK_STR_EQ(r.field[0], "001090000001");
  CHECK_STR_EQ(r.field[1], "Nguyễn Văn A");
  CHECK_STR_EQ(r.field[8], "HK1");
  char l2[] = "001090000001,\"Trần \"\"Bé\"\", Ba\",1990-01-01,male,2024,00001,,,";
  CHECK_INT_EQ(population_csv_split(l2, &r, &why), 0);
  CHECK_STR_EQ(r.field[1], "Trần \"Bé\", Ba");
  CHECK_STR_EQ(r.field[6], "");
  CHECK_STR_EQ(r.field[8], "");
  char l3[] = "001090000001,A,1990-01-01,male";
  CHECK_INT_EQ(population_csv_split(l3, &r, &why), -1);
  CHECK_STR_EQ(why, "too few fields (expected 9)");
  char l4[] = "1,2,3,4,5,6,7,8,9,10";
  CHECK_INT_EQ(population_csv_split(l4, &r, &why), -1);
  CHECK_STR_EQ(why, "too many fields (expected 9)");
  char l5[] = "1,\"2,3,4,5,6,7,8,9";
  CHECK_INT_EQ(population_csv_split(l5, &r, &why), -1);
  CHECK_STR_EQ(why, "unterminated quoted field");
  char l6[] = "1,\"2\"x,3,4,5,6,7,8,9";
  CHECK_INT_EQ(population_csv_split(l6, &r, &why), -1);
}

/* Without a units cache every unit is unknown: the checks before it still run in order. */
static void test_validate_without_units(void)
{
  population_row_t r;
  population_resident_t res;
  const char *why = NULL;
  char l1[] = "001090000001,Nguyễn Văn A,1990-01-01,female,2024,00001,,,";
  population_csv_split(l1, &r, &why);
  CHECK_INT_EQ(population_validate(NULL, &r, &res, &why), -1);
  CHECK_STR_EQ(why, "The citizen ID does not match the sex");
  char l2[] = "001090000001,Nguyễn Văn A,1990-02-30,male,2024,00001,,,";
  population_csv_split(l2, &r, &why);
  CHECK_INT_EQ(population_validate(NULL, &r, &res, &why), -1);
  CHECK_STR_EQ(why, "birth_date is not a real date YYYY-MM-DD");
  char l3[] = "001090000001,Nguyễn Văn A,1990-02-03,x,2024,00001,,,";
  population_csv_split(l3, &r, &why);
  CHECK_INT_EQ(population_validate(NULL, &r, &res, &why), -1);
  CHECK_STR_EQ(why, "sex must be male, female, M or F");
  char l4[] = "001090000001, Nguyễn,1990-02-03,M,2024,00001,,,";
  population_csv_split(l4, &r, &why);
  CHECK_INT_EQ(population_validate(NULL, &r, &res, &why), -1);
  CHECK(strncmp(why, "full_name", 9) == 0);
  char l5[] = "001091000001,Nguyễn Văn A,1990-02-03,M,2024,00001,,,";
  population_csv_split(l5, &r, &why);
  CHECK_INT_EQ(population_validate(NULL, &r, &res, &why), -1);
  CHECK_STR_EQ(why, "The citizen ID does not match the year of birth");
  char l6[] = "001090000001,Nguyễn Văn A,1990-02-03,M,2024,00001,,,";
  population_csv_split(l6, &r, &why);
  CHECK_INT_EQ(population_validate(NULL, &r, &res, &why), -1);
  CHECK_STR_EQ(why, "permanent address: unknown unit code in that era");
}

int main(void)
{
  test_split();
  test_validate_without_units();
  return check_summary();
}
