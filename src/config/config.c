/*
 * config.c: loads the configuration with GKeyFile against a schema table. Called
 * once by the CLI before any subcommand runs (and again by the daemon on SIGHUP).
 * Errors are returned in struct ad_err with file, group and key named; nothing is
 * printed here. Strings in struct config are g_malloc'd and freed by config_free().
 */
#include "config.h"

#include <errno.h>
#include <glib.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

enum ctype { CT_STRING, CT_PATH, CT_INT, CT_SIZE, CT_BOOL, CT_ENUM };

struct ckey {
    const char *group, *key;
    enum ctype type;
    size_t offset;          /* into struct config */
    const char *def;        /* default, as text (for describe) */
    long long min, max;     /* CT_INT / CT_SIZE bounds */
    const char *choices;    /* CT_ENUM: "a|b|c" */
    const char *doc;
};

#define OFF(f) offsetof(struct config, f)

static const struct ckey schema[] = {
    { "store", "path", CT_PATH, OFF(db_path), "/var/lib/abusedesk/abusedesk.db", 0, 0, NULL,
      "SQLite database file (created with its schema on first use)" },
    { "store", "busy_timeout_ms", CT_INT, OFF(busy_timeout_ms), "5000", 0, 600000, NULL,
      "how long to wait for a database locked by another process before giving up" },
    { "intake", "spool_dir", CT_PATH, OFF(spool_dir), "/var/lib/abusedesk/spool", 0, 0, NULL,
      "raw messages are written and fsync'ed here before they are parsed" },
    { "intake", "quarantine_dir", CT_PATH, OFF(quarantine_dir),
      "/var/lib/abusedesk/quarantine", 0, 0, NULL,
      "input that is not a mail at all is kept here with a .reason file" },
    { "intake", "max_message_size", CT_SIZE, OFF(max_message_size), "4194304", 4096,
      1073741824LL, NULL,
      "bytes of a message that are parsed; longer messages are spooled whole, parsed in part" },
    { "intake", "compress_raw", CT_BOOL, OFF(compress_raw), "true", 0, 0, NULL,
      "store raw messages zlib-compressed in the database" },
    { "log", "level", CT_ENUM, OFF(log_level), "info", 0, 0, "debug|info|warning|error",
      "lowest severity that is logged" },
    { "log", "syslog", CT_BOOL, OFF(log_syslog), "false", 0, 0, NULL,
      "log to syslog (facility mail) instead of standard error" },
};

static void set_string(struct config *cfg, const struct ckey *k, const char *v)
{
    char **dst = (char **)((char *)cfg + k->offset);
    g_free(*dst);
    *dst = g_strdup(v);
}

static int set_value(struct config *cfg, const struct ckey *k, const char *v, const char *file,
                     struct ad_err *err)
{
    char *end = NULL;
    switch (k->type) {
    case CT_STRING:
    case CT_PATH:
        if (k->type == CT_PATH && *v == '\0')
            return ad_err_set(err, AD_ERR_CONFIG, "%s: [%s] %s: expected a path, got an empty value",
                              file, k->group, k->key);
        set_string(cfg, k, v);
        return 0;
    case CT_ENUM: {
        char **choices = g_strsplit(k->choices, "|", -1);
        bool ok = g_strv_contains((const char *const *)choices, v);
        g_strfreev(choices);
        if (!ok)
            return ad_err_set(err, AD_ERR_CONFIG, "%s: [%s] %s: expected one of %s, got '%s'",
                              file, k->group, k->key, k->choices, v);
        set_string(cfg, k, v);
        return 0;
    }
    case CT_INT:
    case CT_SIZE: {
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || end == v || *end != '\0' || n < k->min || n > k->max)
            return ad_err_set(err, AD_ERR_CONFIG,
                              "%s: [%s] %s: expected an integer from %lld to %lld, got '%s'",
                              file, k->group, k->key, k->min, k->max, v);
        if (k->type == CT_INT)
            *(int *)((char *)cfg + k->offset) = (int)n;
        else
            *(size_t *)((char *)cfg + k->offset) = (size_t)n;
        return 0;
    }
    case CT_BOOL: {
        bool b;
        if (!g_ascii_strcasecmp(v, "true") || !g_ascii_strcasecmp(v, "yes") || !strcmp(v, "1"))
            b = true;
        else if (!g_ascii_strcasecmp(v, "false") || !g_ascii_strcasecmp(v, "no") || !strcmp(v, "0"))
            b = false;
        else
            return ad_err_set(err, AD_ERR_CONFIG, "%s: [%s] %s: expected true or false, got '%s'",
                              file, k->group, k->key, v);
        *(bool *)((char *)cfg + k->offset) = b;
        return 0;
    }
    }
    return ad_err_set(err, AD_ERR_CONFIG, "%s: [%s] %s: internal: bad type", file, k->group, k->key);
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < G_N_ELEMENTS(schema); i++)
        set_value(cfg, &schema[i], schema[i].def, "defaults", NULL);
}

static const struct ckey *find_key(const char *group, const char *key)
{
    for (size_t i = 0; i < G_N_ELEMENTS(schema); i++)
        if (strcmp(schema[i].group, group) == 0 && strcmp(schema[i].key, key) == 0)
            return &schema[i];
    return NULL;
}

static bool known_group(const char *group)
{
    for (size_t i = 0; i < G_N_ELEMENTS(schema); i++)
        if (strcmp(schema[i].group, group) == 0)
            return true;
    return false;
}

static int load_keyfile(struct config *cfg, GKeyFile *kf, const char *file, struct ad_err *err)
{
    gsize n_groups = 0;
    char **groups = g_key_file_get_groups(kf, &n_groups);
    int rc = 0;
    for (gsize g = 0; g < n_groups && rc == 0; g++) {
        if (!known_group(groups[g])) {
            rc = ad_err_set(err, AD_ERR_CONFIG, "%s: unknown group [%s]", file, groups[g]);
            break;
        }
        gsize n_keys = 0;
        char **keys = g_key_file_get_keys(kf, groups[g], &n_keys, NULL);
        for (gsize k = 0; keys && k < n_keys && rc == 0; k++) {
            const struct ckey *ck = find_key(groups[g], keys[k]);
            if (!ck) {
                rc = ad_err_set(err, AD_ERR_CONFIG, "%s: [%s] %s: unknown key", file, groups[g],
                                keys[k]);
                break;
            }
            GError *ge = NULL;
            char *v = g_key_file_get_string(kf, groups[g], keys[k], &ge);
            if (!v) {
                rc = ad_err_set(err, AD_ERR_CONFIG, "%s: [%s] %s: %s", file, groups[g], keys[k],
                                ge ? ge->message : "unreadable value");
                g_clear_error(&ge);
                break;
            }
            g_strstrip(v);
            rc = set_value(cfg, ck, v, file, err);
            g_free(v);
        }
        g_strfreev(keys);
    }
    g_strfreev(groups);
    return rc;
}

int config_load_data(struct config *cfg, const char *name, const char *data, size_t len,
                     struct ad_err *err)
{
    GKeyFile *kf = g_key_file_new();
    GError *ge = NULL;
    int rc = 0;
    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &ge)) {
        rc = ad_err_set(err, AD_ERR_CONFIG, "%s: %s", name, ge->message);
        g_clear_error(&ge);
    } else {
        rc = load_keyfile(cfg, kf, name, err);
    }
    g_key_file_free(kf);
    return rc;
}

int config_load(struct config *cfg, const char *path, struct ad_err *err)
{
    char *data = NULL;
    gsize len = 0;
    GError *ge = NULL;
    if (!g_file_get_contents(path, &data, &len, &ge)) {
        int rc = ad_err_set(err, AD_ERR_IO, "cannot read configuration %s: %s", path, ge->message);
        g_clear_error(&ge);
        return rc;
    }
    int rc = config_load_data(cfg, path, data, len, err);
    g_free(data);
    if (rc == 0) {
        g_free(cfg->path);
        cfg->path = g_strdup(path);
    }
    return rc;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < G_N_ELEMENTS(schema); i++) {
        if (schema[i].type == CT_STRING || schema[i].type == CT_PATH || schema[i].type == CT_ENUM) {
            char **dst = (char **)((char *)cfg + schema[i].offset);
            g_free(*dst);
            *dst = NULL;
        }
    }
    g_free(cfg->path);
    cfg->path = NULL;
}

void config_describe(FILE *out)
{
    static const char *const tnames[] = { "string", "path", "integer", "bytes", "boolean", "one of" };
    const char *group = "";
    for (size_t i = 0; i < G_N_ELEMENTS(schema); i++) {
        const struct ckey *k = &schema[i];
        if (strcmp(group, k->group) != 0) {
            fprintf(out, "[%s]\n", k->group);
            group = k->group;
        }
        fprintf(out, "  %-18s %s%s%s (default %s)\n      %s\n", k->key, tnames[k->type],
                k->choices ? " " : "", k->choices ? k->choices : "", k->def, k->doc);
    }
}
