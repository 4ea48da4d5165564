/*
 * test_procedures.c - workflow and form validation, and the shipped Hanoi catalog.
 */
#include "base/common.h"
#include "check.h"
#include "services/procedures.h"

static json_t *J(const char *s) {
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fprintf(stderr, "bad test JSON: %s\n", e.text);
  return v;
}

static const char WF[] =
    "{\"id\":\"w\",\"initial\":\"new\",\"states\":["
    "{\"id\":\"new\",\"status\":1,\"holder\":\"ward\"},"
    "{\"id\":\"work\",\"status\":4,\"holder\":\"province\",\"share\":0.8},"
    "{\"id\":\"done\",\"status\":10,\"holder\":\"ward\"}],"
    "\"actions\":[{\"id\":\"receive\",\"from\":[\"new\"],\"to\":\"work\",\"roles\":[\"officer\"]},"
    "{\"id\":\"finish\",\"from\":[\"work\"],\"to\":\"done\",\"roles\":[\"leader\"]}]}";

static void expect_bad(const char *wf, const char *needle) {
  char why[256] = "";
  json_t *v = J(wf);
  CHECK(v && proc_workflow_validate(v, "wf", why, sizeof why) < 0);
  if (!strstr(why, needle)) fprintf(stderr, "expected '%s' in '%s'\n", needle, why);
  CHECK(strstr(why, needle) != NULL);
  json_decref(v);
}

static void test_workflows(void) {
  char why[256];
  json_t *ok = J(WF);
  CHECK(proc_workflow_validate(ok, "wf", why, sizeof why) == 0);
  json_decref(ok);
  /* an action without roles */
  expect_bad("{\"id\":\"w\",\"initial\":\"new\",\"states\":[{\"id\":\"new\",\"status\":1,\"holder\":\"ward\"},"
             "{\"id\":\"done\",\"status\":10,\"holder\":\"ward\"}],"
             "\"actions\":[{\"id\":\"finish\",\"from\":[\"new\"],\"to\":\"done\",\"roles\":[]}]}",
             "wf.actions[0]: action 'finish' has no roles");
  /* an unreachable state */
  expect_bad("{\"id\":\"w\",\"initial\":\"new\",\"states\":[{\"id\":\"new\",\"status\":1,\"holder\":\"ward\"},"
             "{\"id\":\"done\",\"status\":10,\"holder\":\"ward\"},{\"id\":\"lost\",\"status\":3,\"holder\":\"ward\"}],"
             "\"actions\":[{\"id\":\"finish\",\"from\":[\"new\"],\"to\":\"done\",\"roles\":[\"officer\"]}]}",
             "wf.states[2]: state 'lost' is unreachable");
  /* no terminal state: a loop */
  expect_bad("{\"id\":\"w\",\"initial\":\"a\",\"states\":[{\"id\":\"a\",\"status\":1,\"holder\":\"ward\"},"
             "{\"id\":\"b\",\"status\":4,\"holder\":\"ward\"}],"
             "\"actions\":[{\"id\":\"x\",\"from\":[\"a\"],\"to\":\"b\",\"roles\":[\"officer\"]},"
             "{\"id\":\"y\",\"from\":[\"b\"],\"to\":\"a\",\"roles\":[\"officer\"]}]}",
             "no terminal state");
  /* a dead end that is not a final status */
  expect_bad("{\"id\":\"w\",\"initial\":\"a\",\"states\":[{\"id\":\"a\",\"status\":1,\"holder\":\"ward\"},"
             "{\"id\":\"b\",\"status\":4,\"holder\":\"ward\"}],"
             "\"actions\":[{\"id\":\"x\",\"from\":[\"a\"],\"to\":\"b\",\"roles\":[\"officer\"]}]}",
             "status 4 is not final");
  expect_bad("{\"id\":\"w\",\"initial\":\"a\",\"states\":[{\"id\":\"a\",\"status\":11,\"holder\":\"ward\"},"
             "{\"id\":\"b\",\"status\":10,\"holder\":\"ward\"}],"
             "\"actions\":[{\"id\":\"x\",\"from\":[\"a\"],\"to\":\"b\",\"roles\":[\"officer\"]}]}",
             "status must be a national status code 1-10");
  expect_bad("{\"id\":\"w\",\"initial\":\"a\",\"states\":[{\"id\":\"a\",\"status\":1,\"holder\":\"town\"},"
             "{\"id\":\"b\",\"status\":10,\"holder\":\"ward\"}],"
             "\"actions\":[{\"id\":\"x\",\"from\":[\"a\"],\"to\":\"b\",\"roles\":[\"officer\"]}]}",
             "holder must be");
  expect_bad("{\"id\":\"w\",\"initial\":\"a\",\"states\":[{\"id\":\"a\",\"status\":1,\"holder\":\"ward\",\"share\":0.7},"
             "{\"id\":\"b\",\"status\":10,\"holder\":\"ward\",\"share\":0.7}],"
             "\"actions\":[{\"id\":\"x\",\"from\":[\"a\"],\"to\":\"b\",\"roles\":[\"officer\"]}]}",
             "more than 1");
  expect_bad("{\"id\":\"w\",\"initial\":\"zz\",\"states\":[{\"id\":\"a\",\"status\":1,\"holder\":\"ward\"},"
             "{\"id\":\"b\",\"status\":10,\"holder\":\"ward\"}],"
             "\"actions\":[{\"id\":\"x\",\"from\":[\"a\"],\"to\":\"b\",\"roles\":[\"officer\"]}]}",
             "wf.initial");
}

static void test_forms(void) {
  json_t *form = J("{\"fields\":[{\"name\":\"name\",\"label\":\"Họ tên\",\"type\":\"text\",\"required\":true,"
                   "\"max_length\":10},{\"name\":\"born\",\"label\":\"Ngày sinh\",\"type\":\"date\"},"
                   "{\"name\":\"sex\",\"label\":\"Giới tính\",\"type\":\"choice\",\"choices\":[\"Nam\",\"Nữ\"]},"
                   "{\"name\":\"id\",\"label\":\"CCCD\",\"type\":\"cccd\"},"
                   "{\"name\":\"n\",\"label\":\"Số bản\",\"type\":\"number\",\"min\":1,\"max\":5}]}");
  char why[256];
  CHECK(proc_form_validate(form, "form", why, sizeof why) == 0);
  const char *field = NULL;
  struct {
    const char *data, *field;
  } cases[] = {
      {"{\"name\":\"An\"}", NULL},
      {"{\"name\":\"An\",\"born\":\"2020-02-29\",\"sex\":\"Nữ\",\"id\":\"001090000001\",\"n\":2}", NULL},
      {"{}", "name"},
      {"{\"name\":\"\"}", "name"},
      {"{\"name\":\"Nguyễn Văn Anh\"}", "name"},   /* 18 bytes > 10 */
      {"{\"name\":\"An\",\"born\":\"2021-02-29\"}", "born"},
      {"{\"name\":\"An\",\"sex\":\"X\"}", "sex"},
      {"{\"name\":\"An\",\"id\":\"12345\"}", "id"},
      {"{\"name\":\"An\",\"n\":9}", "n"},
      {"{\"name\":\"An\",\"n\":\"2\"}", "n"},
      {"{\"name\":\"An\",\"extra\":1}", "extra"},
      {"{\"name\":5}", "name"},
  };
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    json_t *d = J(cases[i].data);
    int rc = proc_form_check(form, d, &field, why, sizeof why);
    if (cases[i].field) {
      CHECK(rc < 0);
      CHECK_STR_EQ(field, cases[i].field);
    } else {
      if (rc != 0) fprintf(stderr, "case %zu refused: %s\n", i, why);
      CHECK(rc == 0);
    }
    json_decref(d);
  }
  json_t *bad = J("{\"fields\":[{\"name\":\"x\",\"label\":\"X\",\"type\":\"txt\"}]}");
  CHECK(proc_form_validate(bad, "form", why, sizeof why) < 0 && strstr(why, "unknown type 'txt'"));
  json_decref(bad);
  bad = J("{\"fields\":[{\"name\":\"x\",\"label\":\"X\",\"type\":\"choice\"}]}");
  CHECK(proc_form_validate(bad, "form", why, sizeof why) < 0 && strstr(why, "choices"));
  json_decref(bad);
  json_decref(form);
}

static void test_shipped_catalog(void) {
  char path[1024], why[512] = "";
  const char *root = getenv("CITYOS_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/data/procedures/hanoi.json", root ? root : ".");
  json_error_t e;
  json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
  CHECK(doc != NULL);
  if (!doc) return;
  int rc = proc_catalog_validate(doc, NULL, why, sizeof why);
  if (rc) fprintf(stderr, "hanoi.json: %s\n", why);
  CHECK(rc == 0);
  CHECK(json_array_size(json_object_get(doc, "procedures")) >= 25);
  /* every procedure names its source */
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(doc, "procedures"), i, p) CHECK(json_string_length(json_object_get(p, "source")) > 10);
  /* every document type a procedure asks for is the result type of some procedure (so
   * the warehouse can offer it), and a bad type is refused with its path */
  json_t *d;
  size_t k;
  json_array_foreach(json_object_get(doc, "procedures"), i, p) json_array_foreach(json_object_get(p, "documents"), k, d) {
    const char *type = json_string_value(json_object_get(d, "type"));
    if (!type) continue;
    bool issued = false;
    size_t j;
    json_t *q;
    json_array_foreach(json_object_get(doc, "procedures"), j, q) {
      const char *rt = json_string_value(json_object_get(q, "result_type"));
      if (rt && !strcmp(rt, type)) issued = true;
    }
    if (!issued) fprintf(stderr, "no procedure issues document type %s\n", type);
    CHECK(issued);
  }
  json_t *p0 = json_array_get(json_object_get(doc, "procedures"), 0);
  json_object_set_new(p0, "result_type", json_string("Giấy khai sinh"));
  CHECK(proc_catalog_validate(doc, NULL, why, sizeof why) < 0 && strstr(why, "procedures[0].result_type"));
  json_object_set_new(p0, "result_type", json_string("giay-khai-sinh"));
  json_object_set_new(json_array_get(json_object_get(p0, "documents"), 0), "type", json_integer(3));
  CHECK(proc_catalog_validate(doc, NULL, why, sizeof why) < 0 && strstr(why, "procedures[0].documents[0].type"));
  json_object_del(json_array_get(json_object_get(p0, "documents"), 0), "type");
  CHECK(proc_catalog_validate(doc, NULL, why, sizeof why) == 0);
  /* a duplicated code is refused with its path */
  json_array_append(json_object_get(doc, "procedures"), json_array_get(json_object_get(doc, "procedures"), 0));
  CHECK(proc_catalog_validate(doc, NULL, why, sizeof why) < 0 && strstr(why, "duplicate procedure code"));
  json_decref(doc);
}

int main(void) {
  test_workflows();
  test_forms();
  test_shipped_catalog();
  return check_summary();
}
