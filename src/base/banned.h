/*
 * banned.h - functions cityos does not call (after git's banned.h).
 *
 * Each is redefined to an undeclared identifier, so a call fails to compile with a
 * message that names the function. Use the bounded alternatives instead:
 *   strcpy/strcat/strncpy/strncat -> buf_* or snprintf; sprintf/vsprintf -> snprintf;
 *   strtok -> strtok_r or explicit parsing; atoi/atol -> text_parse_int64 (strtoll with
 *   checks); gets -> fgets.
 */
#ifndef CITYOS_BANNED_H
#define CITYOS_BANNED_H

#define BANNED(func) sorry_##func##_is_banned_in_cityos

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef atoll
#define atoll(x) BANNED(atoll)
#undef gets
#define gets(x) BANNED(gets)

#endif
