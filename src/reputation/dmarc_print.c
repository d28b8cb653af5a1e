/*
 * dmarc_print.c: DMARC reports as text (see dmarc_print.h). Pure formatting:
 * nothing fails, nothing is kept.
 */
#include "reputation/dmarc_print.h"

#include "util/textsafe.h"

const char *dmarc_print_time(int64_t t, char buf[32])
{
    buf[0] = '\0';
    GDateTime *dt = t > 0 ? g_date_time_new_from_unix_utc(t) : NULL;
    if (dt) {
        char *s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
        g_strlcpy(buf, s ? s : "", 32);
        g_free(s);
        g_date_time_unref(dt);
    }
    return buf;
}

void dmarc_print_text(GString *out, const char *path, const struct dmarc_report *r,
                      const bool *ours, uint64_t failing)
{
    char *org = textsafe_terminal(r->org_name ? r->org_name : "");
    char *rid = textsafe_terminal(r->report_id ? r->report_id : "");
    char *file = textsafe_terminal(path);
    char b[32], e[32];
    g_string_append_printf(out, "%s: %s report %s for %s, %s .. %s, p=%s: %llu messages, "
                           "%llu failing DMARC%s\n",
                           file, org, rid, r->domain, dmarc_print_time(r->begin, b),
                           dmarc_print_time(r->end, e), r->p[0] ? r->p : "?",
                           (unsigned long long)r->total, (unsigned long long)failing,
                           ours ? " from outside our ranges" : "");
    for (size_t i = 0; i < r->n_rows; i++) {
        const struct dmarc_row *w = &r->rows[i];
        const char *hf = w->header_from ? w->header_from : "";
        char *h = textsafe_is_clean_terminal(hf) ? NULL : textsafe_terminal(hf);
        g_string_append_printf(out, "  %-39s %8llu %-10s dkim=%-4s spf=%-4s %s %s\n",
                               w->source_ip, (unsigned long long)w->count,
                               w->disposition[0] ? w->disposition : "-",
                               w->dkim[0] ? w->dkim : "-", w->spf[0] ? w->spf : "-",
                               h ? h : hf, ours && ours[i] ? "ours" : "");
        g_free(h);
    }
    g_free(org);
    g_free(rid);
    g_free(file);
}
