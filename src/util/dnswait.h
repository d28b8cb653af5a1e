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

/* Waits at most left_ms (> 0). Returns 0, or -1 when poll() failed (errno
 * set; EINTR included), in which case c-ares was not called. */
int dnswait_once(ares_channel chan, long long left_ms);

#endif
