/*
 * dnswait.c: one round of a c-ares event loop (see dnswait.h). Called by
 * reputation/rbl.c, trust/dkimverify.c and reputation/audit.c in their own
 * loops, which own the channel and decide about deadlines and cancelling.
 */
#include "util/dnswait.h"

#include <poll.h>
#include <sys/time.h>

int dnswait_once(ares_channel chan, long long left_ms)
{
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    struct pollfd pfd[ARES_GETSOCK_MAXNUM];
    nfds_t n = 0;
    /* Not ARES_GETSOCK_WRITABLE(): in c-ares 1.18 it shifts a signed 1 into
     * the sign bit for the last socket (undefined behaviour). */
    unsigned int bits = (unsigned int)ares_getsock(chan, socks, ARES_GETSOCK_MAXNUM);
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
        short ev = 0;
        if ((bits >> i) & 1u)
            ev |= POLLIN;
        if ((bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u)
            ev |= POLLOUT;
        if (ev)
            pfd[n++] = (struct pollfd){ .fd = socks[i], .events = ev };
    }
    struct timeval maxtv = { .tv_sec = (time_t)(left_ms / 1000),
                             .tv_usec = (suseconds_t)((left_ms % 1000) * 1000) };
    struct timeval tv;
    struct timeval *tvp = ares_timeout(chan, &maxtv, &tv);
    long long ms = (long long)tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000;
    int rc = poll(pfd, n, (int)(ms > left_ms ? left_ms : ms));
    if (rc < 0)
        return -1;
    int any = 0;
    for (nfds_t i = 0; rc > 0 && i < n; i++) {
        ares_socket_t rd = (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) ? pfd[i].fd
                                                                           : ARES_SOCKET_BAD;
        ares_socket_t wr = (pfd[i].revents & POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD;
        if (rd != ARES_SOCKET_BAD || wr != ARES_SOCKET_BAD) {
            ares_process_fd(chan, rd, wr);
            any = 1;
        }
    }
    if (!any) /* only timeouts to handle: resend or give up */
        ares_process_fd(chan, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    return 0;
}
