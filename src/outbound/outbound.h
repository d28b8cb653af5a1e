/*
 * outbound.h: the key and hash of the outbound log (store_outbound.h). A
 * Message-ID is never stored: only a 64-bit BLAKE2b hash keyed with a secret
 * (libsodium crypto_generichash), so a copy of the database cannot be
 * searched for a guessed Message-ID without the key file. Used by the milter
 * (record) and classify (look up).
 */
#ifndef AD_OUTBOUND_H
#define AD_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define OUTBOUND_KEY_BYTES 32
#define OUTBOUND_MAX_MSGID 998      /* a longer Message-ID is not recorded */

/* Reads the key at path (64 hex digits); with create, makes a random one
 * (mode 0640, atomically) when the file does not exist. AD_ERR_IO when it
 * cannot be read or made, AD_ERR_PARSE when it holds no key. */
int outbound_key_load(const char *path, bool create, unsigned char key[OUTBOUND_KEY_BYTES],
                      struct ad_err *err);

/* The keyed hash of a Message-ID (len bytes; blanks and an enclosing <> are
 * ignored, so "<a@b>" and "a@b" hash alike). false for an empty or over-long
 * one. */
bool outbound_hash(const unsigned char key[OUTBOUND_KEY_BYTES], const char *msgid, size_t len,
                   int64_t *h);

#endif
