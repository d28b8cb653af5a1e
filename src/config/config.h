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

/* Windows over which complaints are summed; thresholds come per window. */
#define CONFIG_MAX_WINDOWS 8

/* How a provider's complaints come about. */
enum config_report_mode {
    CONFIG_MODE_DETECT = 0,     /* decide per report (format, feedback type) */
    CONFIG_MODE_MANUAL,         /* a person pressed "report spam" */
    CONFIG_MODE_AUTOMATIC,      /* spam traps, filters */
};

/* One row of [providers]: "aol.com = 1.2 manual". */
struct config_provider {
    char *domain;               /* matches this domain and its subdomains */
    double weight;
    enum config_report_mode mode;
    char **signers;             /* NULL-terminated: domains whose verified DKIM signature
                                 * (or our MX's DKIM/SPF/DMARC pass) proves a report
                                 * came from this provider (subdomains match); from
                                 * "signed_by=a,b", else { domain } */
    bool default_signers;       /* no signed_by=: only subdomains of the domain prove it,
                                 * never the domain itself, which signs its users' mail */
};

/* An address or CIDR range of [network] our_ips. */
struct config_net {
    unsigned char addr[16];     /* IPv4 as IPv4-mapped IPv6 */
    int prefix;                 /* 0..128, on the 16-byte form */
};

/* A [limits:NAME] group: other limits for one account, sender or customer. */
struct config_limits {
    char *name;                 /* account, sender address or customer id, as written */
    long long msgs_per_hour, rcpts_per_hour, rcpts_per_day, domains_per_hour; /* -1: default */
};

struct config {
    char *path;                 /* file it was read from, NULL for built-in defaults */
    /* [store] */
    char *db_path;              /* SQLite database file */
    int busy_timeout_ms;        /* how long to wait for a locked database */
    long long store_retention;  /* seconds until reports of closed incidents are purged;
                                 * 0: never */
    /* [held] */
    bool held_enabled;          /* queue release/delete of held mail when incidents end */
    char *held_postqueue, *held_postsuper, *held_config_directory;
    char *store_backend;        /* "sqlite" or "postgresql" */
    char *store_conninfo;       /* libpq connection string (postgresql) */
    /* [intake] */
    char *spool_dir;            /* raw messages, fsync'ed before parsing */
    char *quarantine_dir;       /* input that is not mail, with the reason */
    size_t max_message_size;    /* bytes parsed per message; the spool keeps all */
    bool compress_raw;          /* keep raw messages compressed in the store */
    char **authserv_ids;        /* NULL-terminated: our MX's Authentication-Results ids */
    char **trusted_relays_text; /* as written */
    struct config_net *trusted_relays;  /* our MX hops that hand reports on (MX -> desk) */
    size_t n_trusted_relays;
    char *resolver;             /* DNS for DKIM keys: "HOST[:PORT],..."; "" = the system's */
    long long dns_timeout;      /* seconds per DKIM key lookup */
    bool verify_dkim;           /* verify DKIM ourselves when our MX vouched for nothing */
    /* [log] */
    char *log_level;            /* debug, info, warning, error */
    bool log_syslog;
    /* [network] */
    char **our_hosts;           /* NULL-terminated; "*.example.net" or exact names */
    char **our_ips_text;        /* as written */
    struct config_net *our_ips; /* parsed our_ips_text */
    size_t n_our_ips;
    /* [scoring] */
    double base_abuse, base_fraud, base_virus, base_other, base_not_spam;
    double base_auth_failure, base_dsn, base_abuse_text, base_unknown;
    double manual_factor, automatic_factor, undetermined_factor;
    long long half_life;        /* seconds */
    double default_provider_weight;
    bool count_duplicates;
    double unauthenticated_factor;  /* for reports no provider is proven to have sent */
    double bulk_factor;         /* for complaints about mail marked as sent to a list */
    /* [providers] */
    struct config_provider *providers;
    size_t n_providers;
    /* [incidents] */
    long long *windows;         /* seconds; n_windows of them */
    size_t n_windows;
    double *observe_score, *alert_score, *lock_score;   /* per window */
    double *alert_complaints, *lock_complaints;         /* per window; 0 = off */
    size_t n_observe_score, n_alert_score, n_lock_score, n_alert_complaints, n_lock_complaints;
    bool auto_lock;
    int auto_lock_min_providers;
    long long repeat_period;    /* seconds */
    double repeat_factor;       /* thresholds are multiplied by this for repeat offenders */
    long long reopen_window;    /* seconds: new complaints reopen an incident resolved this recently */
    int run_lock_complaints;    /* authenticated complaints about a spam run that lock; 0 = off */
    long long run_window;       /* seconds over which they are looked for */
    int run_min_clients;        /* networks a mailbox's run must come from; 0 = never */
    int run_script_min_providers;   /* providers a script's spam run needs */
    /* [act] */
    char *lock_command, *unlock_command;    /* "" = none; parsed into argv, never run by a shell */
    char *webhook_url, *webhook_secret;     /* "" = none */
    long long hook_timeout;     /* seconds per hook call or SMTP transaction */
    long long retry_min, retry_max, give_up_after;  /* seconds */
    bool auto_unlock;
    char *password_key;         /* secret for password fingerprints; "" = the key file */
    char *password_key_file;    /* random key made on first use when password_key is "" */
    /* [notify] */
    char *smarthost, *notify_from, *abuse_team, *reply_to, *smtp_username, *smtp_password;
    bool require_tls, verify_tls;
    char *templates_dir, *desk_name, *team_language, *ticket_prefix;
    char *timezone;             /* IANA name for times in notices; "" = the system's */
    long long team_interval;    /* at most one team mail per incident for unverified replies */
    /* [directory] */
    char *default_language;     /* for customers without a language */
    /* [policy] */
    char **policy_listen;       /* "inet:127.0.0.1:10040", "unix:/run/abusedesk/policy.sock" */
    char *policy_user;          /* drop to this user after binding ("" = stay) */
    int policy_max_connections;
    long long policy_idle_timeout;
    int policy_max_per_client;  /* connections from one client address (UNIX: peer uid) */
    long long policy_request_timeout;   /* seconds from a request's first byte to its end */
    char *policy_socket_group;  /* group of the UNIX sockets ("" = postfix when it exists) */
    char *soft_action;          /* HOLD or DEFER_IF_PERMIT */
    int msgs_per_hour, rcpts_per_hour, rcpts_per_day, domains_per_hour;  /* CT_INT: int */
    double hard_factor;
    double anomaly_factor;
    int anomaly_min;
    int networks_per_hour;
    bool limit_unauthenticated;
    int max_senders;
    char *state_file;           /* "" = counters are not kept across restarts */
    long long state_interval;
    long long outbox_interval;
    char *lock_text, *lock_text_de, *soft_text, *store_failure_action;
    /* [policy] shared counters (doc/shared-counters.md) */
    char *policy_counters;      /* "local" or "redis" */
    char *redis_addr;           /* HOST:PORT, [IPV6]:PORT, unix:/PATH */
    char *redis_user, *redis_password, *redis_prefix;
    int redis_db, sync_interval_ms, redis_timeout_ms, shared_max_keys;
    /* [limits:NAME] */
    struct config_limits *limits;
    size_t n_limits;
    /* rbl: [reputation], the DNSBL check of our outbound addresses (src/reputation) */
    char **rbl_zones;           /* dnsbl_zones, NULL-terminated, as written */
    char **rbl_addresses;       /* addresses and ranges checked; empty: [network] our_ips */
    char *rbl_resolver;         /* "HOST[:PORT],..."; "" = the system's */
    int rbl_max_inflight;       /* DNSBL queries in flight at once */
    int rbl_zone_budget;        /* queries per zone and check */
    long long rbl_dns_timeout;  /* seconds per DNSBL query */
    /* listing: the reputation monitor (rbl check --loop, act/listing.c, act/feeds.c) */
    long long rep_interval;     /* seconds between two rounds of the monitor */
    long long rep_blame_window; /* seconds before a listing whose senders are named */
    long long rep_warn_window, rep_warn_baseline;  /* early warning: recent vs baseline */
    double rep_warn_factor;     /* recent rate over baseline rate that warns */
    int rep_warn_min;           /* bounces in the recent window at least */
    double rep_feed_silence_factor;
    long long rep_feed_baseline;    /* seconds of reports a feed's usual pace is read from */
    char **host_addresses;      /* [network] host_addresses: "HOST=ADDR,ADDR" (NULL-terminated) */
    char **rep_domains;         /* [reputation] domains, for domain lists; empty: our_hosts */
    /* web: [web], the dashboard and REST API (`abusedesk web`, src/web) */
    char *web_listen;           /* HOST:PORT ([IPV6]:PORT) */
    char **web_metrics_allow;   /* addresses/ranges that read /metrics without login */
    char *web_tls_cert, *web_tls_key;   /* PEM files; "" = plain HTTP (behind a proxy) */
    char *web_user;             /* drop to this user after binding ("" = stay) */
    long long web_session_lifetime;     /* seconds a login lasts */
    int web_max_connections;
    long long web_timeout;      /* seconds a connection may stay idle */
    size_t web_max_body;        /* bytes of a request body */
    int web_login_attempts;     /* failed logins per client address and 15 minutes */
    bool web_trust_proxy;       /* behind a TLS proxy on 127.0.0.1: cookies are Secure */
    /* audit: [reputation] domain audit and DMARC reports (src/reputation/audit.c) */
    char **audit_dkim_selectors;    /* dkim_selectors, NULL-terminated */
    char *audit_dmarc_rua;          /* our rua address, "" = not checked */
    long long rep_audit_interval;   /* seconds between the monitor's audits, 0 = off */
    /* [batv] (doc/batv.md) */
    char **batv_domains;        /* NULL-terminated; empty: BATV off */
    char *batv_keys_file;
    long long batv_lifetime;    /* seconds */
    /* [milter] */
    char *milter_listen;        /* libmilter socket: inet:PORT@HOST, unix:PATH */
    char *milter_user;
    char *milter_locked_action; /* hold or reject */
    int milter_script_msgs, milter_uid_msgs, milter_fp_rcpts, milter_max_tracked;
    bool milter_enabled;        /* abusedesk run starts the milter */
    /* [outbound] */
    long long outbound_log_days;    /* seconds the Message-ID hashes are kept */
    char *outbound_key_file;
};

/* The [limits:NAME] row for name (case-insensitive), or NULL. */
const struct config_limits *config_limits_find(const struct config *cfg, const char *name);

/* Parses "90", "90s", "15m", "1h", "7d", "2w" into seconds; false when malformed. */
bool config_parse_duration(const char *s, long long *out);

/* Parses an address or CIDR range ("192.0.2.0/24", "2001:db8::/32"). */
bool config_parse_net(const char *s, struct config_net *out);

/* True when the textual IP address ip lies in one of cfg's our_ips. */
bool config_ip_is_ours(const struct config *cfg, const char *ip);

/* True when the textual IP address ip is one of [intake] trusted_relays. */
bool config_ip_is_trusted_relay(const struct config *cfg, const char *ip);

/* True when host name h (any case) is one of cfg's our_hosts. */
bool config_host_is_ours(const struct config *cfg, const char *h);

/* The [providers] row for a reporting domain (the longest matching suffix), or NULL. */
const struct config_provider *config_provider_find(const struct config *cfg, const char *domain);

/* The [providers] row one of whose signers is domain or a parent of it (the
 * longest such signer wins), or NULL: which configured provider a verified
 * signing domain proves. */
const struct config_provider *config_provider_signed(const struct config *cfg, const char *domain);

/* listing: why a [network] host_addresses entry ("HOST=ADDR[,ADDR...]") is
 * malformed, or NULL (static text). */
const char *config_host_addresses_problem(const char *entry);

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

/* web: calls fn for every key of the schema with its value now as text (lists
 * joined with ';', durations in seconds); the values of secrets (passwords,
 * the webhook secret, the PostgreSQL connection string) are shown only as
 * "(set, not shown)". For the dashboard's admin view. */
void config_each_value(const struct config *cfg,
                       void (*fn)(const char *group, const char *key, const char *value,
                                  void *ctx),
                       void *ctx);

/* Prints every group and key with its type, default and description (for --help
 * and the README). */
void config_describe(FILE *out);

#endif
