/*
 * procedures_check.c - validation of catalog documents, workflows and form data (see
 * procedures.h).
 */
#include "base/common.h"
#include "services/procedures.h"
#include "base/cccd.h"
#include "base/text.h"
#include "services/calendar.h"

#define MAX_STATES 32
#define MAX_ACTIONS 64

static int fail(char *why, size_t whylen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t whylen, const char *path, const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(why, whylen, "%s: %s", path, msg);
  return -1;
}

static bool is_ident(const char *s, size_t max) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > max || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return false;
  return true;
}

static bool str_ok(const json_t *v, size_t max) {
  const char *s = json_string_value(v);
  return s && *s && strlen(s) <= max;
}

static bool level_ok(const char *s) {
  return s && (!strcmp(s, "ward") || !strcmp(s, "district") || !strcmp(s, "province"));
}

/* --- workflows ----------------------------------------------------------------------- */

static int state_index(const json_t *states, const char *id) {
  size_t i;
  json_t *s;
  json_array_foreach(states, i, s) if (id && !strcmp(json_string_value(json_object_get(s, "id")), id)) return (int)i;
  return -1;
}

int proc_workflow_validate(const json_t *wf, const char *path, char *why, size_t whylen) {
  char p[200];
  if (!json_is_object(wf)) return fail(why, whylen, path, "must be an object");
  snprintf(p, sizeof p, "%s.id", path);
  if (!is_ident(json_string_value(json_object_get(wf, "id")), 40))
    return fail(why, whylen, p, "must be an identifier [a-z][a-z0-9_]*");
  const json_t *states = json_object_get(wf, "states"), *actions = json_object_get(wf, "actions");
  snprintf(p, sizeof p, "%s.states", path);
  if (!json_is_array(states) || json_array_size(states) < 2 || json_array_size(states) > MAX_STATES)
    return fail(why, whylen, p, "must be an array of 2-%d states", MAX_STATES);
  snprintf(p, sizeof p, "%s.actions", path);
  if (!json_is_array(actions) || json_array_size(actions) < 1 || json_array_size(actions) > MAX_ACTIONS)
    return fail(why, whylen, p, "must be an array of 1-%d actions", MAX_ACTIONS);
  double shares = 0;
  size_t i, k;
  json_t *s, *a, *v;
  json_array_foreach(states, i, s) {
    snprintf(p, sizeof p, "%s.states[%zu]", path, i);
    if (!json_is_object(s)) return fail(why, whylen, p, "must be an object");
    const char *id = json_string_value(json_object_get(s, "id"));
    if (!is_ident(id, 40)) return fail(why, whylen, p, "id must be an identifier [a-z][a-z0-9_]*");
    if (state_index(states, id) != (int)i) return fail(why, whylen, p, "duplicate state id '%s'", id);
    json_t *st = json_object_get(s, "status");
    if (!json_is_integer(st) || json_integer_value(st) < 1 || json_integer_value(st) > 10)
      return fail(why, whylen, p, "status must be a national status code 1-10");
    if (!level_ok(json_string_value(json_object_get(s, "holder"))))
      return fail(why, whylen, p, "holder must be the unit level holding the dossier: ward, district or province");
    json_t *sh = json_object_get(s, "share");
    if (sh && (!json_is_number(sh) || json_number_value(sh) < 0 || json_number_value(sh) > 1))
      return fail(why, whylen, p, "share must be a number 0-1 (the state's share of the deadline)");
    shares += sh ? json_number_value(sh) : 0;
  }
  snprintf(p, sizeof p, "%s.states", path);
  if (shares > 1.0001) return fail(why, whylen, p, "the shares of the deadline add up to more than 1");
  const char *initial = json_string_value(json_object_get(wf, "initial"));
  snprintf(p, sizeof p, "%s.initial", path);
  int ini = state_index(states, initial);
  if (ini < 0) return fail(why, whylen, p, "must name a state");
  bool has_out[MAX_STATES] = {false};
  json_array_foreach(actions, i, a) {
    snprintf(p, sizeof p, "%s.actions[%zu]", path, i);
    if (!json_is_object(a)) return fail(why, whylen, p, "must be an object");
    const char *id = json_string_value(json_object_get(a, "id"));
    if (!is_ident(id, 40)) return fail(why, whylen, p, "id must be an identifier [a-z][a-z0-9_]*");
    for (size_t j = 0; j < i; j++)
      if (!strcmp(json_string_value(json_object_get(json_array_get(actions, j), "id")), id))
        return fail(why, whylen, p, "duplicate action id '%s'", id);
    json_t *from = json_object_get(a, "from"), *roles = json_object_get(a, "roles");
    if (!json_is_array(from) || json_array_size(from) == 0)
      return fail(why, whylen, p, "from must be a non-empty array of states");
    json_array_foreach(from, k, v) {
      int si = state_index(states, json_string_value(v));
      if (si < 0) return fail(why, whylen, p, "from[%zu] is not a state", k);
      has_out[si] = true;
    }
    if (state_index(states, json_string_value(json_object_get(a, "to"))) < 0)
      return fail(why, whylen, p, "to must name a state");
    if (!json_is_array(roles) || json_array_size(roles) == 0)
      return fail(why, whylen, p, "action '%s' has no roles (roles must be a non-empty array)", id);
    json_array_foreach(roles, k, v) if (!is_ident(json_string_value(v), 40))
        return fail(why, whylen, p, "roles[%zu] must be a role name", k);
    json_t *to_level = json_object_get(a, "to_level");
    if (to_level && !level_ok(json_string_value(to_level)))
      return fail(why, whylen, p, "to_level must be ward, district or province");
  }
  /* Reachability from the initial state. */
  bool seen[MAX_STATES] = {false};
  int queue[MAX_STATES], qh = 0, qt = 0;
  seen[ini] = true;
  queue[qt++] = ini;
  while (qh < qt) {
    int cur = queue[qh++];
    const char *cid = json_string_value(json_object_get(json_array_get(states, (size_t)cur), "id"));
    json_array_foreach(actions, i, a) {
      bool from_cur = false;
      json_array_foreach(json_object_get(a, "from"), k, v) if (!strcmp(json_string_value(v), cid)) from_cur = true;
      if (!from_cur) continue;
      int t = state_index(states, json_string_value(json_object_get(a, "to")));
      if (!seen[t]) {
        seen[t] = true;
        queue[qt++] = t;
      }
    }
  }
  bool terminal = false;
  json_array_foreach(states, i, s) {
    snprintf(p, sizeof p, "%s.states[%zu]", path, i);
    const char *id = json_string_value(json_object_get(s, "id"));
    int status = (int)json_integer_value(json_object_get(s, "status"));
    if (!seen[i]) return fail(why, whylen, p, "state '%s' is unreachable from '%s'", id, initial);
    if (!has_out[i]) {
      if (status != 3 && status != 7 && status != 8 && status != 10)
        return fail(why, whylen, p,
                    "state '%s' has no actions out but status %d is not final (3 refused, 7 withdrawn, "
                    "8 stopped, 10 returned)", id, status);
      terminal = true;
    }
  }
  if (!terminal) return fail(why, whylen, path, "no terminal state (a state without actions out)");
  return 0;
}

/* --- forms ------------------------------------------------------------------------------ */

static const char *const FIELD_TYPES[] = {"text", "textarea", "date", "number", "choice", "cccd", "phone",
                                          "email", "boolean"};

int proc_form_validate(const json_t *form, const char *path, char *why, size_t whylen) {
  char p[200];
  const json_t *fields = json_object_get(form, "fields");
  snprintf(p, sizeof p, "%s.fields", path);
  if (!json_is_object(form) || !json_is_array(fields) || json_array_size(fields) > 60)
    return fail(why, whylen, p, "must be an array of at most 60 fields");
  size_t i, k;
  json_t *f, *c;
  json_array_foreach(fields, i, f) {
    snprintf(p, sizeof p, "%s.fields[%zu]", path, i);
    const char *name = json_string_value(json_object_get(f, "name"));
    if (!is_ident(name, 40)) return fail(why, whylen, p, "name must be an identifier [a-z][a-z0-9_]*");
    for (size_t j = 0; j < i; j++)
      if (!strcmp(json_string_value(json_object_get(json_array_get(fields, j), "name")), name))
        return fail(why, whylen, p, "duplicate field '%s'", name);
    if (!str_ok(json_object_get(f, "label"), 200)) return fail(why, whylen, p, "label is required");
    const char *type = json_string_value(json_object_get(f, "type"));
    bool known = false;
    for (size_t t = 0; t < ARRAY_LEN(FIELD_TYPES); t++)
      if (type && !strcmp(type, FIELD_TYPES[t])) known = true;
    if (!known) return fail(why, whylen, p, "unknown type '%s'", type ? type : "(none)");
    json_t *req = json_object_get(f, "required");
    if (req && !json_is_boolean(req)) return fail(why, whylen, p, "required must be true or false");
    if (!strcmp(type, "choice")) {
      json_t *choices = json_object_get(f, "choices");
      if (!json_is_array(choices) || json_array_size(choices) == 0)
        return fail(why, whylen, p, "a choice field needs a non-empty choices array");
      json_array_foreach(choices, k, c) if (!str_ok(c, 200)) return fail(why, whylen, p, "choices[%zu] must be text", k);
    }
  }
  return 0;
}

int proc_form_check(const json_t *form, const json_t *data, const char **field, char *why, size_t whylen) {
  const json_t *fields = json_object_get(form, "fields");
  *field = "form";
  if (!json_is_object(data)) return fail(why, whylen, "form", "must be an object");
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)data, key, v) {
    bool known = false;
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) if (!strcmp(json_string_value(json_object_get(f, "name")), key)) known = true;
    if (!known) {
      *field = key;
      return fail(why, whylen, key, "not a field of this procedure's form");
    }
  }
  size_t i;
  json_t *f;
  json_array_foreach(fields, i, f) {
    const char *name = json_string_value(json_object_get(f, "name"));
    const char *type = json_string_value(json_object_get(f, "type"));
    const char *label = json_string_value(json_object_get(f, "label"));
    *field = name;
    v = json_object_get(data, name);
    bool empty = !v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v));
    if (empty) {
      if (json_is_true(json_object_get(f, "required"))) return fail(why, whylen, name, "%s: required", label);
      continue;
    }
    if (!strcmp(type, "boolean")) {
      if (!json_is_boolean(v)) return fail(why, whylen, name, "%s: must be true or false", label);
      continue;
    }
    if (!strcmp(type, "number")) {
      if (!json_is_number(v)) return fail(why, whylen, name, "%s: must be a number", label);
      json_t *mn = json_object_get(f, "min"), *mx = json_object_get(f, "max");
      if ((mn && json_number_value(v) < json_number_value(mn)) || (mx && json_number_value(v) > json_number_value(mx)))
        return fail(why, whylen, name, "%s: out of range", label);
      continue;
    }
    const char *s = json_string_value(v);
    if (!s) return fail(why, whylen, name, "%s: must be text", label);
    size_t n = strlen(s);
    json_int_t maxlen = 2000;
    json_t *ml = json_object_get(f, "max_length");
    if (json_is_integer(ml)) maxlen = json_integer_value(ml);
    if (!text_utf8_valid(s, n) || (json_int_t)n > maxlen)
      return fail(why, whylen, name, "%s: at most %" JSON_INTEGER_FORMAT " bytes of UTF-8", label, maxlen);
    if (!strcmp(type, "date")) {
      int32_t j;
      if (calendar_parse_date(s, &j) < 0) return fail(why, whylen, name, "%s: must be a date YYYY-MM-DD", label);
    } else if (!strcmp(type, "cccd")) {
      bool ok = n == 12;
      for (size_t k = 0; k < n; k++) ok = ok && s[k] >= '0' && s[k] <= '9';
      if (!ok) return fail(why, whylen, name, "%s: must be a 12-digit CCCD number", label);
    } else if (!strcmp(type, "phone")) {
      bool ok = n >= 9 && n <= 12;
      for (size_t k = 0; k < n; k++) ok = ok && ((s[k] >= '0' && s[k] <= '9') || (k == 0 && s[k] == '+'));
      if (!ok) return fail(why, whylen, name, "%s: must be a phone number", label);
    } else if (!strcmp(type, "email")) {
      const char *at = strchr(s, '@');
      if (!at || at == s || !strchr(at, '.')) return fail(why, whylen, name, "%s: must be an e-mail address", label);
    } else if (!strcmp(type, "choice")) {
      bool ok = false;
      size_t k;
      json_t *c;
      json_array_foreach(json_object_get(f, "choices"), k, c) if (!strcmp(json_string_value(c), s)) ok = true;
      if (!ok) return fail(why, whylen, name, "%s: not one of the choices", label);
    }
  }
  *field = NULL;
  return 0;
}
