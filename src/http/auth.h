/*
 * auth.h - who is calling: the principal the authentication hook puts on a request.
 *
 * Officials hold roles at a unit; a role's permissions apply to that unit and its
 * subtree. A grant is one (permission, unit) pair, expanded from the roles at sign-in
 * lookup time. Citizens and API clients may hold grants too (clients get theirs from
 * their roles). Everything is allocated in the request arena.
 */
#ifndef CITYOS_AUTH_H
#define CITYOS_AUTH_H

#include "base/common.h"

typedef enum {
  PRINCIPAL_CITIZEN = 1,
  PRINCIPAL_OFFICIAL = 2,
  PRINCIPAL_CLIENT = 3,
} principal_kind_t;

typedef struct grant {
  const char *permission;   /* "users.read" or "*" for every permission */
  int64_t unit_id;          /* the unit whose subtree it covers; 0 = everywhere */
} grant_t;

struct principal {
  int64_t account_id;
  principal_kind_t kind;
  const char *username;
  const char *display_name;
  const char *cccd;         /* citizens; NULL otherwise */
  int64_t unit_id;          /* officials' home unit; 0 when none */
  int64_t session_id;       /* the token row used; 0 for none */
  size_t ngrants;
  grant_t *grants;
};

const char *principal_kind_name(principal_kind_t k);   /* "citizen" | "official" | "client" */

#endif
