/*
 * common.h - the first include of every cityos source file.
 *
 * Pulls in the standard headers the code base uses everywhere and, last of all,
 * banned.h, so that a use of an unsafe libc function is a compile error.
 * Include project headers after this one.
 */
#ifndef CITYOS_COMMON_H
#define CITYOS_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED(x) ((void)(x))

#include "base/banned.h"

#endif
