/*
 * abusedesk_dmarc.c: abusedesk-dmarc FILE..., the DMARC aggregate report
 * reader on its own: the same parser as `abusedesk dmarc parse`
 * (reputation/dmarc.c: XML, gzip, zip; bounded, no DTD) and the same text,
 * in a program that links nothing but GLib, expat, zlib and minizip
 * (statically where the static libraries exist), so that reading a report
 * costs no more than reading it: the abusedesk binary loads some sixty
 * libraries (PostgreSQL, curl, GMime, ...) before main(). For admins who
 * look at reports by hand and for scripts; it never touches the store and
 * resolves nothing. Exit 0, 1 when a file could not be read, 64 usage.
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "reputation/dmarc.h"
#include "reputation/dmarc_print.h"
#include "util/textsafe.h"

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: abusedesk-dmarc FILE...\n\n"
                "Prints DMARC aggregate reports (RFC 7489 rua: XML, gzip or zip), one line\n"
                "per record: source address, messages, disposition, DKIM and SPF as\n"
                "evaluated, header From. Addresses are never resolved. For JSON, mails\n"
                "(.eml) and our own ranges: abusedesk dmarc parse.\n");
        return argc < 2 ? 64 : 0;
    }
    int rc = 0;
    GString *out = g_string_sized_new(65536);
    for (int i = 1; i < argc; i++) {
        gchar *data = NULL;
        gsize len = 0;
        GError *ge = NULL;
        char *p = textsafe_terminal(argv[i]);
        if (!g_file_get_contents(argv[i], &data, &len, &ge)) {
            fprintf(stderr, "abusedesk-dmarc: %s\n", ge->message);
            g_error_free(ge);
            g_free(p);
            rc = 1;
            continue;
        }
        struct dmarc_report *r = NULL;
        struct ad_err err = { 0 };
        if (dmarc_parse(data, len, &r, &err) != 0) {
            fprintf(stderr, "abusedesk-dmarc: %s: %s\n", p, err.msg);
            rc = 1;
        } else {
            uint64_t failing = 0;
            for (size_t k = 0; k < r->n_rows; k++)
                if (dmarc_row_fails(&r->rows[k]))
                    failing += r->rows[k].count;
            dmarc_print_text(out, argv[i], r, NULL, failing);
            fwrite(out->str, 1, out->len, stdout);
            g_string_truncate(out, 0);
        }
        dmarc_report_free(r);
        g_free(data);
        g_free(p);
    }
    g_string_free(out, TRUE);
    return rc;
}
