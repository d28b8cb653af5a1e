/*
 * dnswait.h: one round of waiting on a c-ares channel, shared by every
 * c-ares user (the DNSBL check, the DKIM key lookups, the domain audit):
 * poll() on the channel's sockets up to its next timeout or left_ms, then
 * let c-ares read what arrived or handle its timeouts (resend or give up).
 * poll() rather than select(): descriptors may be above FD_SETSIZE.
 */
#ifndef AD_DNSWAIT_H
#define AD_DNSWAIT_H

#include <ares.h>
#include <stdbool.h>
#include <stddef.h>

/* Waits at most left_ms (> 0). Returns 0, or -1 when poll() failed (errno
 * set; EINTR included), in which case c-ares was not called. */
int dnswait_once(ares_channel chan, long long left_ms);

/* Parses one resolver entry s[0..len) ("IPv4", "IPv4:port", "IPv6",
 * "[IPv6]", "[IPv6]:port"; port 53 when none) into node (its next left
 * NULL). Returns false when it is not one: names are refused, addresses only.
 * Shared by [reputation] resolver and [intake] resolver. */
bool dnswait_parse_server(const char *s, size_t len, struct ares_addr_port_node *node);

#endif
