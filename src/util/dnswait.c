/*
 * dnswait.c: one round of a c-ares event loop (see dnswait.h). Called by
 * reputation/rbl.c, trust/dkimverify.c and reputation/audit.c in their own
 * loops, which own the channel and decide about deadlines and cancelling.
 */
#include "util/dnswait.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <poll.h>
#include <string.h>
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

bool dnswait_parse_server(const char *s, size_t len, struct ares_addr_port_node *node)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port = NULL, *colon = memchr(s, ':', len);
    size_t port_len = 0, host_len;
    bool v6;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return false;
        host_len = (size_t)(close - s) - 1;
        size_t rest = len - (size_t)(close - s) - 1;
        if (rest > 0) {
            if (close[1] != ':')
                return false;
            port = close + 2;
            port_len = rest - 1;
        }
        v6 = true;
    } else if (colon && memchr(colon + 1, ':', len - (size_t)(colon - s) - 1)) {
        host_len = len;
        v6 = true;
    } else {
        host_len = colon ? (size_t)(colon - s) : len;
        if (colon) {
            port = colon + 1;
            port_len = len - host_len - 1;
        }
        v6 = false;
    }
    if (host_len == 0 || host_len >= sizeof host)
        return false;
    memcpy(host, s[0] == '[' ? s + 1 : s, host_len);
    host[host_len] = '\0';
    memset(node, 0, sizeof *node);
    node->family = v6 ? AF_INET6 : AF_INET;
    if (inet_pton(node->family, host, v6 ? (void *)&node->addr.addr6 : (void *)&node->addr.addr4)
        != 1)
        return false;
    long p = 53;
    if (port) {
        if (port_len == 0 || port_len > 5)
            return false;
        p = 0;
        for (size_t i = 0; i < port_len; i++) {
            if (!isdigit((unsigned char)port[i]))
                return false;
            p = p * 10 + (port[i] - '0');
        }
        if (p < 1 || p > 65535)
            return false;
    }
    node->udp_port = (int)p;
    node->tcp_port = (int)p;
    return true;
}

