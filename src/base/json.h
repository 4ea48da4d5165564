/*
 * json.h - JSON helpers on top of jansson.
 *
 * json_parse_limited() rejects, before jansson sees them, bodies nested deeper than
 * `max_depth` (arrays + objects) and then parses with JSON_REJECT_DUPLICATES; jansson
 * itself rejects invalid UTF-8 and trailing garbage. On failure it returns NULL and
 * writes a one-line English reason into `why` (e.g. "nesting deeper than 32 levels",
 * "line 1 column 5: unexpected token").
 *
 * The returned value is owned by the caller (json_decref). With an arena, use
 * json_arena_own() so it is released when the arena is freed.
 */
#ifndef CITYOS_JSON_H
#define CITYOS_JSON_H

#include <jansson.h>
#include "base/common.h"
#include "base/arena.h"

#define JSON_DEFAULT_MAX_DEPTH 32

json_t *json_parse_limited(const char *data, size_t len, int max_depth, char *why, size_t whylen);
/* Nesting depth of a JSON text by a scan that respects strings; -1 if unbalanced. */
int json_text_depth(const char *data, size_t len);
/* Registers json_decref(v) on the arena; returns v. */
json_t *json_arena_own(arena_t *a, json_t *v);

/* Typed getters for request validation: return NULL / false when absent or of the
 * wrong type. */
const char *json_get_str(const json_t *obj, const char *key);
bool json_get_int(const json_t *obj, const char *key, json_int_t *out);

#endif
