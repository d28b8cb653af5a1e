/*
 * noop_milter.c: the do-nothing milter of bench/milter.sh. It registers the
 * same callbacks as `abusedesk milter` (so Postfix sends it the same
 * envelope, headers and body) and the same action flags, and accepts every
 * message without looking at it: the practical limit of a milter on this
 * machine. With --chgfrom it also replaces every envelope sender by a fixed
 * "prvs=0000000000=" form of it (smfi_chgfrom, no key, no check): what
 * Postfix's own handling of a sender change costs, for comparison with
 * abusedesk's BATV signing. Usage: noop_milter inet:PORT@127.0.0.1
 * [--chgfrom] (stops on SIGTERM).
 */
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sfsistat cont_connect(SMFICTX *c, char *h, _SOCK_ADDR *a)
{
    (void)c;
    (void)h;
    (void)a;
    return SMFIS_CONTINUE;
}

static int chgfrom;

static sfsistat cont_argv(SMFICTX *c, char **argv)
{
    (void)c;
    (void)argv;
    return SMFIS_CONTINUE;
}

/* The sender of the message, kept for --chgfrom (one per connection). */
static sfsistat from_argv(SMFICTX *c, char **argv)
{
    char *old = smfi_getpriv(c);
    free(old);
    const char *a = argv && argv[0] ? argv[0] : "<>";
    size_t n = strlen(a);
    char *f = malloc(n + 20);
    if (f && n > 2 && a[0] == '<')
        snprintf(f, n + 20, "<prvs=0000000000=%s", a + 1);
    else if (f)
        f[0] = '\0';
    smfi_setpriv(c, f);
    return SMFIS_CONTINUE;
}

static sfsistat eom_chg(SMFICTX *c)
{
    char *f = smfi_getpriv(c);
    if (f && f[0])
        smfi_chgfrom(c, f, NULL);
    return SMFIS_CONTINUE;
}

static sfsistat close_chg(SMFICTX *c)
{
    free(smfi_getpriv(c));
    smfi_setpriv(c, NULL);
    return SMFIS_CONTINUE;
}

static sfsistat cont_header(SMFICTX *c, char *n, char *v)
{
    (void)c;
    (void)n;
    (void)v;
    return SMFIS_CONTINUE;
}

static sfsistat cont_body(SMFICTX *c, unsigned char *b, size_t n)
{
    (void)c;
    (void)b;
    (void)n;
    return SMFIS_CONTINUE;
}

static sfsistat cont(SMFICTX *c)
{
    (void)c;
    return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--chgfrom"))) {
        fprintf(stderr, "usage: noop_milter inet:PORT@HOST [--chgfrom]\n");
        return 64;
    }
    chgfrom = argc == 3;
    struct smfiDesc d;
    memset(&d, 0, sizeof d);
    d.xxfi_name = "noop";
    d.xxfi_version = SMFI_VERSION;
    d.xxfi_flags = SMFIF_QUARANTINE | SMFIF_CHGFROM;
    d.xxfi_connect = cont_connect;
    d.xxfi_envfrom = cont_argv;
    d.xxfi_envrcpt = cont_argv;
    d.xxfi_header = cont_header;
    d.xxfi_body = cont_body;
    d.xxfi_eom = cont;
    d.xxfi_abort = cont;
    d.xxfi_close = cont;
    if (chgfrom) {
        d.xxfi_envfrom = from_argv;
        d.xxfi_eom = eom_chg;
        d.xxfi_close = close_chg;
    }
    if (smfi_setconn(argv[1]) != MI_SUCCESS || smfi_register(d) != MI_SUCCESS
        || smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "noop_milter: cannot listen on %s\n", argv[1]);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
