/*
 * config.h: abusedesk's configuration, read from one INI-style file with GLib's
 * GKeyFile. Every group and key is declared in a schema (config.c); an unknown
 * group or key, or a value of the wrong type, is an error naming file, group, key
 * and what was expected.
 */
#ifndef AD_CONFIG_H
#define AD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/err.h"

#define CONFIG_DEFAULT_PATH "/etc/abusedesk/abusedesk.conf"

struct config {
    char *path;                 /* file it was read from, NULL for built-in defaults */
    /* [store] */
    char *db_path;              /* SQLite database file */
    int busy_timeout_ms;        /* how long to wait for a locked database */
    /* [intake] */
    char *spool_dir;            /* raw messages, fsync'ed before parsing */
    char *quarantine_dir;       /* input that is not mail, with the reason */
    size_t max_message_size;    /* bytes parsed per message; the spool keeps all */
    bool compress_raw;          /* keep raw messages compressed in the store */
    /* [log] */
    char *log_level;            /* debug, info, warning, error */
    bool log_syslog;
};

/* Fills cfg with built-in defaults (paths under /var/lib/abusedesk). */
void config_defaults(struct config *cfg);

/* Reads path over the defaults. Returns 0, or AD_ERR_CONFIG / AD_ERR_IO with a
 * message naming file, group, key and the expectation. On error cfg keeps what
 * was read so far; call config_free() either way. */
int config_load(struct config *cfg, const char *path, struct ad_err *err);

/* Same for a file's text (used by the fuzz target and tests); name labels errors. */
int config_load_data(struct config *cfg, const char *name, const char *data, size_t len,
                     struct ad_err *err);

/* Frees the strings cfg owns; cfg itself is the caller's. */
void config_free(struct config *cfg);

/* Prints every group and key with its type, default and description (for --help
 * and the README). */
void config_describe(FILE *out);

#endif
