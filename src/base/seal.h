/*
 * seal.h - secrets at rest: authenticated encryption of small secrets (TOTP seeds,
 * private signing keys) with the server master key, before they go into the database.
 *
 * Cipher: libsodium crypto_aead_xchacha20poly1305_ietf (256-bit key, random 192-bit
 * nonce per value, 128-bit tag). The associated data names the row the value belongs
 * to ("oidc_totp:<account id>", "oidc_keys:<kid>"), so a sealed value copied into
 * another row does not open.
 *
 * Forms: bytes  SEAL_MAGIC (4) | nonce (24) | ciphertext + tag (n + 16)
 *        text   "sealed1:" base64url-without-padding(nonce | ciphertext + tag)
 *
 * The master key: 32 random bytes written as 64 hex digits (and a newline) to the key
 * file, created with mode 0600 on the first start (O_EXCL, so two processes starting
 * at once agree on one key). A check value (BLAKE2b of a fixed text keyed by the key,
 * 16 hex digits) is kept in the database, so a process with another key - or with no
 * key file while the database already holds sealed values - refuses to start instead
 * of failing later.
 *
 * Thread rules: seal_key_set / seal_key_load once before serving; the rest is safe from
 * any thread.
 */
#ifndef CITYOS_SEAL_H
#define CITYOS_SEAL_H

#include "base/common.h"
#include "base/arena.h"

#define SEAL_KEY_BYTES 32
#define SEAL_MAGIC "CSB1"
#define SEAL_OVERHEAD (4 + 24 + 16)          /* bytes form: magic + nonce + tag */
#define SEAL_TEXT_PREFIX "sealed1:"
#define SEAL_CHECK_HEX 17

/* Uses key from now on (copied into locked memory). */
void seal_key_set(const uint8_t key[SEAL_KEY_BYTES]);
/* Forgets the key (zeroed). */
void seal_key_clear(void);
bool seal_key_ready(void);
/* The check value of the key in use into out. false when there is no key. */
bool seal_key_check(char out[SEAL_CHECK_HEX]);

/* Reads the key file at path; when it does not exist and `create` is true, makes a
 * new random key there (mode 0600). 1 read, 2 created, 0 missing (not created), -1
 * error (message in err). Warns (err, return 1) when the file is readable by others. */
int seal_key_file(const char *path, bool create, uint8_t key[SEAL_KEY_BYTES], char *err, size_t errlen);

/* bytes form of pt into out (n + SEAL_OVERHEAD bytes). 0, or -1 without a key. */
int seal_bytes(const void *pt, size_t n, const char *ad, uint8_t *out);
/* Opens a bytes-form value into out (len - SEAL_OVERHEAD bytes, at most cap). 0, or
 * -1 (not sealed, wrong key or row, damaged, too large, no key). */
int seal_open_bytes(const void *in, size_t len, const char *ad, uint8_t *out, size_t cap, size_t *n);
/* true when in looks like the bytes form (magic and a length past the overhead). */
bool seal_is_sealed_bytes(const void *in, size_t len);

/* text form of the string pt, in the arena; NULL without a key. */
char *seal_text(arena_t *a, const char *pt, const char *ad);
/* The string sealed in s, in the arena (zeroed on free is not promised: callers that
 * care free the arena soon); NULL when s is not sealed, or does not open. */
char *seal_open_text(arena_t *a, const char *s, const char *ad);
bool seal_is_sealed_text(const char *s);

#endif
