/*
 * redact.h: keeps secrets out of logs, the outbox's last_error and the audit
 * log. A configured URL may carry credentials (https://user:pass@host/hook,
 * smtp://user:pass@relay) or a token in its query (?token=...), and error
 * messages quote the URL; a configured password may be echoed by a peer.
 */
#ifndef AD_REDACT_H
#define AD_REDACT_H

#include <stddef.h>

/* A copy of s (g_malloc'd, caller frees; NULL for NULL) in which
 * - the user information of every URL ("scheme://USERINFO@host") is "***",
 * - the value of every query parameter of a URL whose name says it is a
 *   secret (token, access_token, api_key, apikey, key, secret, password,
 *   passwd, pass, pwd, auth, sig, signature; any case) is "***",
 * - every occurrence of each string of secrets (NULL-terminated, may be NULL;
 *   strings shorter than 4 bytes are ignored: they would blank common text)
 *   is "***".
 * Pure; never fails. */
char *redact_text(const char *s, const char *const *secrets);

/* redact_text() into buf (size bytes, NUL-terminated, truncated to fit) in
 * place of its own contents. */
void redact_buf(char *buf, size_t size, const char *const *secrets);

#endif
