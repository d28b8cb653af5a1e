/*
 * retention.c: the retention purge (see retention.h). The redaction works on
 * the stored parse JSON by an allow-list: keys it knows to be about the event
 * or about our side stay, every other key becomes null (absent values are
 * null in the parse contract, so readers see the same shape). Called by
 * `abusedesk purge` and, once a day, by `abusedesk run` and the systemd timer.
 * Store errors end the run with what was committed so far kept.
 */
#include "retention.h"

#include <errno.h>
#include <glib.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#define RETENTION_BATCH 200

static bool in_list(const char *k, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(k, *list))
            return true;
    return false;
}

/* Sets every key of o that is not in keep to null (nested objects in nested
 * are handed to their own allow-list). */
static void redact_object(json_t *o, const char *const *keep)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(o, tmp, k, v) {
        if (!in_list(k, keep))
            json_object_set_new(o, k, json_null());
    }
}

char *retention_redact_json(const char *parsed_json)
{
    static const char *const top[] = { "file", "kind", "format", "feedback_type", "user_agent",
                                       "version", "arrival_date", "source_ip",
                                       "reported_domain", "incidents", "auth_failure",
                                       "reporting_mta", "recipients", "message_id", "original",
                                       "warning", NULL };
    static const char *const original[] = { "message_id", "date", "authenticated_user",
                                            "php_script", "received", NULL };
    static const char *const recipient[] = { "action", "status", "remote_mta", "reason",
                                             "smtp_command", NULL };
    json_t *o = parsed_json ? json_loads(parsed_json, JSON_DECODE_ANY, NULL) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        return g_strdup("{\"purged\":true}");
    }
    redact_object(o, top);
    json_t *orig = json_object_get(o, "original");
    if (json_is_object(orig))
        redact_object(orig, original);
    else if (orig && !json_is_null(orig))
        json_object_set_new(o, "original", json_null());
    json_t *rcpts = json_object_get(o, "recipients");
    size_t i;
    json_t *r;
    if (json_is_array(rcpts)) {
        json_array_foreach(rcpts, i, r) {
            if (json_is_object(r))
                redact_object(r, recipient);
            else
                json_array_set_new(rcpts, i, json_null());
        }
    } else if (rcpts && !json_is_null(rcpts)) {
        json_object_set_new(o, "recipients", json_null());
    }
    json_object_set_new(o, "purged", json_true());
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *out = g_strdup(s ? s : "{\"purged\":true}");
    free(s);
    return out;
}

/* A spool copy we may remove: an absolute path directly or deeper inside
 * [intake] spool_dir, without '..' segments (the path comes from the store). */
static bool in_spool(const struct config *cfg, const char *path)
{
    if (!path || path[0] != '/' || !cfg->spool_dir || !*cfg->spool_dir)
        return false;
    size_t n = strlen(cfg->spool_dir);
    while (n > 1 && cfg->spool_dir[n - 1] == '/')
        n--;
    if (strncmp(path, cfg->spool_dir, n) != 0 || path[n] != '/')
        return false;
    return strstr(path, "/../") == NULL && !g_str_has_suffix(path, "/..");
}

int retention_purge(struct store *st, const struct config *cfg, int64_t now, bool dry_run,
                    void (*each)(const struct store_purge_row *row, void *ctx), void *ctx,
                    struct retention_stats *stats, struct ad_err *err)
{
    memset(stats, 0, sizeof *stats);
    if (cfg->store_retention <= 0)
        return 0;
    int64_t cutoff = now - cfg->store_retention, after = 0;
    for (;;) {
        GArray *rows = NULL;
        int rc = store_purge_candidates(st, cutoff, after, RETENTION_BATCH, &rows, err);
        if (rc)
            return rc;
        if (rows->len == 0) {
            store_purge_rows_free(rows);
            return 0;
        }
        if (!dry_run && (rc = store_begin(st, err)) != 0) {
            store_purge_rows_free(rows);
            return rc;
        }
        size_t n_spool = 0;
        for (guint i = 0; i < rows->len && rc == 0; i++) {
            const struct store_purge_row *r = &g_array_index(rows, struct store_purge_row, i);
            if (each)
                each(r, ctx);
            if (!dry_run) {
                char *red = retention_redact_json(r->parsed_json);
                rc = store_purge_report(st, r->id, red, now, err);
                g_free(red);
            }
            n_spool += in_spool(cfg, r->spool_path);
            after = r->id;
        }
        if (!dry_run && rc == 0)
            rc = store_commit(st, err);
        if (rc) {
            if (!dry_run)
                store_rollback(st);
            store_purge_rows_free(rows);
            return rc;
        }
        for (guint i = 0; i < rows->len; i++) {
            const struct store_purge_row *r = &g_array_index(rows, struct store_purge_row, i);
            stats->n_reports++;
            stats->n_raw += r->has_raw;
            stats->bytes += r->size;
            /* After the commit: a failed batch still finds its copy. */
            if (!dry_run && in_spool(cfg, r->spool_path) && unlink(r->spool_path) != 0 &&
                errno != ENOENT)
                n_spool--;
        }
        stats->n_spool += n_spool;
        store_purge_rows_free(rows);
    }
}
