/*
 * config.c: loads the configuration with GKeyFile against a schema table. Called
 * once by the CLI before any subcommand runs (and again by the daemon on SIGHUP).
 * Errors are returned in struct ad_err with file, group and key named; nothing is
 * printed here. Strings in struct config are g_malloc'd and freed by config_free().
 */
#include "config.h"

#include "config_check.h"

#include <errno.h>
#include <glib.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <math.h>

enum ctype {
    CT_STRING, CT_PATH, CT_INT, CT_SIZE, CT_BOOL, CT_ENUM,
    CT_DOUBLE,      /* a decimal number from min to max */
    CT_DURATION,    /* "90s", "15m", "1h", "7d", "2w" -> long long seconds */
    CT_LIST,        /* "a;b;c" -> NULL-terminated char ** */
    CT_NETLIST,     /* list of addresses and CIDR ranges -> struct config_net[] */
    CT_DURLIST,     /* list of durations -> long long[] */
    CT_NUMLIST,     /* list of numbers -> double[] */
};

struct ckey {
    const char *group, *key;
    enum ctype type;
    size_t offset;          /* into struct config */
    const char *def;        /* default, as text (for describe) */
    double min, max;        /* numeric bounds (list types: of each element) */
    const char *choices;    /* CT_ENUM: "a|b|c" */
    const char *doc;
    size_t count_off;       /* list types: where the element count goes */
};

#define OFF(f) offsetof(struct config, f)
#define SCORE(key, field, def, doc) \
    { "scoring", key, CT_DOUBLE, OFF(field), def, -1000, 1000, NULL, doc, 0 }
#define PERWIN(key, field, def, doc) \
    { "incidents", key, CT_NUMLIST, OFF(field), def, 0, 1000000, NULL, doc, OFF(n_##field) }

static const struct ckey schema[] = {
    { "store", "path", CT_PATH, OFF(db_path), "/var/lib/abusedesk/abusedesk.db", 0, 0, NULL,
      "SQLite database file (created with its schema on first use)", 0 },
    { "store", "busy_timeout_ms", CT_INT, OFF(busy_timeout_ms), "5000", 0, 600000, NULL,
      "how long to wait for a database locked by another process before giving up", 0 },
    { "store", "backend", CT_ENUM, OFF(store_backend), "sqlite", 0, 0, "sqlite|postgresql",
      "database: sqlite (the file [store] path) or postgresql (the server [store] conninfo "
      "names)", 0 },
    { "store", "conninfo", CT_STRING, OFF(store_conninfo), "", 0, 0, NULL,
      "libpq connection string of the PostgreSQL database, e.g. \"host=db.example.net "
      "dbname=abusedesk user=abusedesk\" (empty: libpq's defaults and PG* variables)", 0 },
    { "store", "retention", CT_DURATION, OFF(store_retention), "180d", 0, 3650LL * 86400, NULL,
      "after this time, reports whose incidents are closed (as long) lose their raw message, "
      "spool copy and personal fields (addresses, subjects); counts and scores stay. Daily "
      "(abusedesk run, abusedesk-purge.timer) or abusedesk purge; 0 keeps everything", 0 },
    { "held", "enabled", CT_BOOL, OFF(held_enabled), "false", 0, 0, NULL,
      "when an account's incident ends, queue the release of its mail held by Postfix (HOLD "
      "of the policy server), or its deletion (--delete-held), for abusedesk held run (root)",
      0 },
    { "held", "postqueue", CT_PATH, OFF(held_postqueue), "/usr/sbin/postqueue", 0, 0, NULL,
      "postqueue(1), run as postqueue -j to find an account's held mail by sender", 0 },
    { "held", "postsuper", CT_PATH, OFF(held_postsuper), "/usr/sbin/postsuper", 0, 0, NULL,
      "postsuper(1), run as root with -H (release) or -d (delete) and the queue ids", 0 },
    { "held", "config_directory", CT_STRING, OFF(held_config_directory), "", 0, 0, NULL,
      "Postfix configuration directory handed to postqueue and postsuper as -c DIR (empty: "
      "Postfix's default)", 0 },
    { "intake", "spool_dir", CT_PATH, OFF(spool_dir), "/var/lib/abusedesk/spool", 0, 0, NULL,
      "raw messages are written and fsync'ed here before they are parsed", 0 },
    { "intake", "quarantine_dir", CT_PATH, OFF(quarantine_dir),
      "/var/lib/abusedesk/quarantine", 0, 0, NULL,
      "input that is not a mail at all is kept here with a .reason file", 0 },
    { "intake", "max_message_size", CT_SIZE, OFF(max_message_size), "4194304", 4096,
      1073741824LL, NULL,
      "bytes of a message that are parsed; longer messages are spooled whole, parsed in part", 0 },
    { "intake", "compress_raw", CT_BOOL, OFF(compress_raw), "true", 0, 0, NULL,
      "store raw messages zlib-compressed in the database", 0 },
    { "intake", "authserv_id", CT_LIST, OFF(authserv_ids), "", 0, 0, NULL,
      "the authserv-id(s) our inbound MX writes into Authentication-Results (RFC 8601), e.g. "
      "mx.hoster.example; only such headers above every header the sender wrote are trusted "
      "to say who sent a report (empty: none is trusted)", 0 },
    { "intake", "trusted_relays", CT_NETLIST, OFF(trusted_relays), "", 0, 0, NULL,
      "addresses (CIDR ranges allowed) of our own mail relays that hand reports on after our "
      "MX checked them, e.g. the MX delivering to the desk host over LMTP (127.0.0.1 when on "
      "the same host); only hops from these extend the trusted part of the header above our "
      "MX; never list hosts customers can run code on (web servers)", OFF(n_trusted_relays) },
    { "intake", "verify_dkim", CT_BOOL, OFF(verify_dkim), "true", 0, 0, NULL,
      "verify a report's DKIM signatures ourselves when no trusted Authentication-Results "
      "header vouches for its sender", 0 },
    { "intake", "resolver", CT_STRING, OFF(resolver), "", 0, 0, NULL,
      "DNS servers for DKIM key lookups, HOST or HOST:PORT, comma separated (empty: the "
      "system's /etc/resolv.conf)", 0 },
    { "intake", "dns_timeout", CT_DURATION, OFF(dns_timeout), "3s", 1, 60, NULL,
      "time limit of one DKIM key lookup", 0 },
    { "log", "level", CT_ENUM, OFF(log_level), "info", 0, 0, "debug|info|warning|error",
      "lowest severity that is logged", 0 },
    { "log", "syslog", CT_BOOL, OFF(log_syslog), "false", 0, 0, NULL,
      "log to syslog (facility mail) instead of standard error", 0 },
    { "network", "our_hosts", CT_LIST, OFF(our_hosts), "", 0, 0, NULL,
      "host names of our outbound, submission and web servers (\"*.out.example.net\" matches "
      "every name under it); attribution looks for them in Received headers", 0 },
    { "network", "our_ips", CT_NETLIST, OFF(our_ips), "", 0, 0, NULL,
      "addresses and CIDR ranges of our servers (\"192.0.2.0/24;2001:db8::/32\")",
      OFF(n_our_ips) },
    SCORE("base_abuse", base_abuse, "10", "base score of an ARF complaint with Feedback-Type abuse"),
    SCORE("base_fraud", base_fraud, "12", "base score of Feedback-Type fraud (phishing)"),
    SCORE("base_virus", base_virus, "8", "base score of Feedback-Type virus"),
    SCORE("base_other", base_other, "4", "base score of Feedback-Type other (and unknown types)"),
    SCORE("base_not_spam", base_not_spam, "0",
          "base score of Feedback-Type not-spam (a person says it was not spam)"),
    SCORE("base_auth_failure", base_auth_failure, "2",
          "base score of an authentication failure report (RFC 6591)"),
    SCORE("base_dsn", base_dsn, "0.5", "base score of a bounce (delivery status notification)"),
    SCORE("base_abuse_text", base_abuse_text, "10",
          "base score of a plain-text abuse complaint written by a person"),
    SCORE("base_unknown", base_unknown, "0", "base score of a report of no known kind"),
    SCORE("manual_factor", manual_factor, "1.0",
          "factor for complaints a person made (\"report spam\" pressed, JMRP, hand-written)"),
    SCORE("automatic_factor", automatic_factor, "0.5",
          "factor for complaints made by machines (spam traps, filters, virus scanners)"),
    SCORE("undetermined_factor", undetermined_factor, "0.8",
          "factor when the report does not tell whether a person made it"),
    { "scoring", "half_life", CT_DURATION, OFF(half_life), "3d", 60, 3650LL * 86400, NULL,
      "age of the reported mail (report time minus Arrival-Date or Date) at which a complaint "
      "counts half", 0 },
    SCORE("default_provider_weight", default_provider_weight, "1.0",
          "weight of a reporting provider not listed in [providers]"),
    { "scoring", "count_duplicates", CT_BOOL, OFF(count_duplicates), "false", 0, 0, NULL,
      "count the same original message (Message-ID) reported again; by default it counts once",
      0 },
    { "scoring", "unauthenticated_factor", CT_DOUBLE, OFF(unauthenticated_factor), "0.3", 0, 1,
      NULL,
      "factor for a report that no configured provider is proven to have sent (no trusted "
      "Authentication-Results pass, no valid DKIM signature of its signers); such reports can "
      "raise an alert but never lock, and never count as history", 0 },
    { "scoring", "bulk_factor", CT_DOUBLE, OFF(bulk_factor), "0.5", 0, 1, NULL,
      "factor for a complaint about mail marked as sent to a list (List-Unsubscribe, "
          "List-Id, Precedence: bulk): a newsletter's recipients complain now and then; it "
          "takes more of them to lock, and such complaints never start a spam run lock", 0 },
    { "incidents", "windows", CT_DURLIST, OFF(windows), "1h;24h;7d", 60, 366LL * 86400, NULL,
      "sliding windows over which scores and complaints are summed per sender; the thresholds "
      "below have one value per window (or one value for all)", OFF(n_windows) },
    PERWIN("observe_score", observe_score, "5;5;5",
           "score sum at which an incident is opened to observe the sender"),
    PERWIN("alert_score", alert_score, "25;40;80",
           "score sum at which the abuse team is alerted"),
    PERWIN("lock_score", lock_score, "60;120;250",
           "score sum serious enough to lock the account at once"),
    PERWIN("alert_complaints", alert_complaints, "3;5;10",
           "complaint count at which the abuse team is alerted (0 = not used)"),
    PERWIN("lock_complaints", lock_complaints, "10;20;40",
           "complaint count serious enough to lock at once (0 = not used)"),
    { "incidents", "auto_lock", CT_BOOL, OFF(auto_lock), "true", 0, 0, NULL,
      "when the lock stage is reached, lock without waiting for a person (else the team "
      "decides)", 0 },
    { "incidents", "auto_lock_min_providers", CT_INT, OFF(auto_lock_min_providers), "2", 1, 100,
      NULL,
      "complaints from at least this many different reporting providers before a lock happens "
      "without a person (report mail can be forged; one sender of fake complaints must not "
      "lock a customer)", 0 },
    { "incidents", "repeat_period", CT_DURATION, OFF(repeat_period), "180d", 0,
      3650LL * 86400, NULL,
      "earlier incidents of the same customer or mailbox within this period make a repeat "
      "offender", 0 },
    { "incidents", "repeat_factor", CT_DOUBLE, OFF(repeat_factor), "0.5", 0.01, 1, NULL,
      "thresholds are multiplied by this for repeat offenders", 0 },
    { "incidents", "reopen_window", CT_DURATION, OFF(reopen_window), "7d", 0, 3650LL * 86400, NULL,
      "new complaints about a sender whose incident was resolved this recently reopen it "
      "(later ones open a new incident)", 0 },
    { "incidents", "run_lock_complaints", CT_INT, OFF(run_lock_complaints), "3", 0, 1000, NULL,
      "lock a sender at once when this many authenticated complaints within run_window about "
      "mail not marked as sent to a list show a spam run: a mailbox's mails came from at least "
      "run_min_clients networks, a web script's complaints from run_script_min_providers "
      "providers (0 = off; the score thresholds still apply)", 0 },
    { "incidents", "run_window", CT_DURATION, OFF(run_window), "72h", 60, 30LL * 86400, NULL,
      "period in which the complaints of run_lock_complaints are looked for", 0 },
    { "incidents", "run_min_clients", CT_INT, OFF(run_min_clients), "3", 0, 1000, NULL,
      "networks (IPv4 /16, IPv6 /32, as our submission or webmail hops name the client) a "
      "mailbox's complained-about mails must come from for the spam-run rule: a leaked "
      "password is used from many places, its owner writes from one or two (0 = never)", 0 },
    { "incidents", "run_script_min_providers", CT_INT, OFF(run_script_min_providers), "1", 1,
      100, NULL,
      "providers a web script's spam run needs to lock it (a contact form should draw no "
      "complaint at all, and the lock stops only the script)", 0 },
    { "act", "lock_command", CT_STRING, OFF(lock_command), "", 0, 0, NULL,
      "program run when an account or script is locked, e.g. \"/usr/local/bin/panel-lock "
      "--mailbox\"; split into words like a shell would but never run by one; abusedesk appends "
      "the account (or uid:path), the customer id, the incident id and the reason", 0 },
    { "act", "unlock_command", CT_STRING, OFF(unlock_command), "", 0, 0, NULL,
      "program run when it is unlocked again; same arguments", 0 },
    { "act", "webhook_url", CT_STRING, OFF(webhook_url), "", 0, 0, NULL,
      "URL that receives lock, unlock and alert events as signed JSON POSTs (empty: none)", 0 },
    { "act", "webhook_secret", CT_STRING, OFF(webhook_secret), "", 0, 0, NULL,
      "shared secret for the X-Abusedesk-Signature HMAC-SHA256 of each webhook", 0 },
    { "act", "hook_timeout", CT_DURATION, OFF(hook_timeout), "30s", 1, 3600, NULL,
      "time limit of one hook call, webhook request or SMTP transaction", 0 },
    { "act", "retry_min", CT_DURATION, OFF(retry_min), "1m", 1, 86400, NULL,
      "first retry of a failed hook or mail after this long; doubled after every failure", 0 },
    { "act", "retry_max", CT_DURATION, OFF(retry_max), "1h", 1, 7 * 86400LL, NULL,
      "longest wait between retries", 0 },
    { "act", "give_up_after", CT_DURATION, OFF(give_up_after), "3d", 60, 365 * 86400LL, NULL,
      "a hook or mail still failing this long after it was due is marked failed (shown by "
      "abusedesk outbox, audited)", 0 },
    { "act", "auto_unlock", CT_BOOL, OFF(auto_unlock), "false", 0, 0, NULL,
      "unlock a first incident by itself once the customer replied and (for a mailbox) the "
      "password was changed; repeat offenders always need a person", 0 },
    { "act", "password_key", CT_STRING, OFF(password_key), "", 0, 0, NULL,
      "secret from which each account's password fingerprint salt is derived (argon2id; never "
      "stored in the database); empty: a random key in password_key_file", 0 },
    { "act", "password_key_file", CT_STRING, OFF(password_key_file),
      "/var/lib/abusedesk/password.key", 0, 0, NULL,
      "where the random password fingerprint key is kept (created 0600 on first use) when "
      "password_key is empty; losing it makes earlier fingerprints unrecognisable", 0 },
    { "notify", "smarthost", CT_STRING, OFF(smarthost), "smtp://127.0.0.1:25", 0, 0, NULL,
      "SMTP server that delivers notifications (smtp://host:port, STARTTLS when offered; "
      "smtps://host:465)", 0 },
    { "notify", "from", CT_STRING, OFF(notify_from), "abuse@localhost.localdomain", 0, 0, NULL,
      "sender address of notifications (the abuse desk's address)", 0 },
    { "notify", "reply_to", CT_STRING, OFF(reply_to), "", 0, 0, NULL,
      "Reply-To of customer notifications (empty: the from address); replies must reach "
      "abusedesk ingest", 0 },
    { "notify", "abuse_team", CT_STRING, OFF(abuse_team), "", 0, 0, NULL,
      "address of the abuse team for alerts (empty: no alert mails)", 0 },
    { "notify", "username", CT_STRING, OFF(smtp_username), "", 0, 0, NULL,
      "SMTP AUTH user at the smarthost (empty: no authentication)", 0 },
    { "notify", "password", CT_STRING, OFF(smtp_password), "", 0, 0, NULL,
      "SMTP AUTH password", 0 },
    { "notify", "require_tls", CT_BOOL, OFF(require_tls), "false", 0, 0, NULL,
      "refuse to send unless STARTTLS succeeds", 0 },
    { "notify", "verify_tls", CT_BOOL, OFF(verify_tls), "true", 0, 0, NULL,
      "verify the smarthost's certificate", 0 },
    { "notify", "templates_dir", CT_PATH, OFF(templates_dir), "/etc/abusedesk/templates", 0, 0,
      NULL, "folder of the notification texts, one subfolder per language (de, en)", 0 },
    { "notify", "desk_name", CT_STRING, OFF(desk_name), "Abuse-Team", 0, 0, NULL,
      "name the notifications are signed with and sent from", 0 },
    { "notify", "team_language", CT_ENUM, OFF(team_language), "de", 0, 0, "de|en",
      "language of the mails to the abuse team", 0 },
    { "notify", "ticket_prefix", CT_STRING, OFF(ticket_prefix), "abusedesk", 0, 0, NULL,
      "ticket reference in subjects: [PREFIX #123]; replies are matched by it", 0 },
    { "notify", "timezone", CT_STRING, OFF(timezone), "", 0, 0, NULL,
      "time zone of the times in notices, an IANA name like Europe/Berlin (empty: the system's)",
      0 },
    { "notify", "team_interval", CT_DURATION, OFF(team_interval), "1h", 0, 7 * 86400LL, NULL,
      "at most one team mail per incident in this time for unverified replies", 0 },
    { "directory", "default_language", CT_ENUM, OFF(default_language), "de", 0, 0, "de|en",
      "language of notices to customers whose directory entry names none", 0 },
    /* rbl: [reputation], the DNSBL check of our outbound addresses (src/reputation). */
    { "reputation", "dnsbl_zones", CT_LIST, OFF(rbl_zones), "", 0, 0, NULL,
      "DNSBL zones that `abusedesk rbl check` checks our outbound addresses on, e.g. "
      "\"zen.spamhaus.org;b.barracudacentral.org;bl.spamcop.net\"; keyed lists with the key "
      "in front (KEY.zen.dq.spamhaus.net, KEY.combined.mail.abusix.zone); lists that no longer "
      "exist (SORBS, NJABL, AHBL, DSBL) are refused; `abusedesk rbl zones` shows what is known "
      "of each (empty: no check)", 0 },
    { "reputation", "addresses", CT_LIST, OFF(rbl_addresses), "", 0, 0, NULL,
      "addresses and CIDR ranges checked on the DNSBLs, at most a /20 (4096 addresses) in all "
      "(empty: every address of [network] our_ips)", 0 },
    { "reputation", "resolver", CT_STRING, OFF(rbl_resolver), "", 0, 0, NULL,
      "DNS servers for DNSBL queries, HOST or HOST:PORT, comma separated (empty: the system's "
      "/etc/resolv.conf); Spamhaus refuses queries through public resolvers", 0 },
    { "reputation", "max_inflight", CT_INT, OFF(rbl_max_inflight), "64", 1, 4096, NULL,
      "DNSBL queries in flight at once", 0 },
    { "reputation", "zone_budget", CT_INT, OFF(rbl_zone_budget), "10000", 2, 10000000, NULL,
      "DNSBL queries per zone and check at most (test points and TXT included); addresses "
      "beyond it are reported as errors", 0 },
    { "reputation", "dns_timeout", CT_DURATION, OFF(rbl_dns_timeout), "5s", 1, 60, NULL,
      "time limit of one DNSBL query, retries included", 0 },
    /* listing: the reputation monitor (rbl check --loop, abusedesk run). */
    { "reputation", "domains", CT_LIST, OFF(rep_domains), "", 0, 0, NULL,
      "our HELO and sending domains, checked on the domain lists of dnsbl_zones (Spamhaus "
      "DBL, SURBL, URIBL, Abusix dblack; addresses are checked on the others) (empty: the "
      "names of [network] our_hosts, \"*.\" taken off)", 0 },
    { "reputation", "interval", CT_DURATION, OFF(rep_interval), "15m", 1, 7 * 86400LL, NULL,
      "how often the reputation monitor (abusedesk run, abusedesk rbl check --loop) checks the "
      "DNSBLs, the bounces that warn before a listing and the health of the report feeds", 0 },
    { "reputation", "blame_window", CT_DURATION, OFF(rep_blame_window), "72h", 3600,
      90 * 86400LL, NULL,
      "a new listing names the accounts and scripts that sent the most mail through the "
      "listed address in this time before it (counted by the policy server)", 0 },
    { "reputation", "warn_window", CT_DURATION, OFF(rep_warn_window), "6h", 600, 7 * 86400LL,
      NULL,
      "early warning: bounces of our mail for reputation reasons (blocked, badreputation, "
      "spamdetected, policyviolation, requireptr) per outbound address in this recent window "
      "are compared with warn_baseline", 0 },
    { "reputation", "warn_baseline", CT_DURATION, OFF(rep_warn_baseline), "7d", 3600,
      90 * 86400LL, NULL,
      "early warning: the earlier time whose bounce rate is the address's usual one", 0 },
    { "reputation", "warn_factor", CT_DOUBLE, OFF(rep_warn_factor), "3", 1, 1000, NULL,
      "early warning: the team is told (once per address and day) when the recent rate is this "
      "many times the usual one", 0 },
    { "reputation", "warn_min", CT_INT, OFF(rep_warn_min), "5", 1, 1000000, NULL,
      "early warning: bounces in warn_window at least before anything is said", 0 },
    { "reputation", "feed_silence_factor", CT_DOUBLE, OFF(rep_feed_silence_factor), "4", 1,
      1000, NULL,
      "a provider's report feed that has sent nothing for this many times its usual interval "
      "between reports is reported silent to the team (once per silence)", 0 },
    { "reputation", "feed_baseline", CT_DURATION, OFF(rep_feed_baseline), "14d", 3600,
      365 * 86400LL, NULL,
      "the time over which a feed's usual interval and volume are read", 0 },
    { "network", "host_addresses", CT_LIST, OFF(host_addresses), "", 0, 0, NULL,
      "the outbound addresses of each MTA host, HOST=ADDR[,ADDR...] separated by ';' (HOST * "
      "for every host), for the policy server's per-address counts when Postfix does not send "
      "server_address; the policy server uses the entry of its own host name", 0 },
    /* audit: [reputation] keys of the domain audit and DMARC reports (src/reputation/audit.c,
     * dmarc.c). */
    { "reputation", "dkim_selectors", CT_LIST, OFF(audit_dkim_selectors), "", 0, 0, NULL,
      "DKIM selectors our outbound servers sign customer mail with (e.g. \"mail;s2024\"); "
      "`abusedesk domains audit` checks that every customer domain publishes each one with a "
      "key of at least 1024 bits (empty: no DKIM check)", 0 },
    { "reputation", "dmarc_rua", CT_STRING, OFF(audit_dmarc_rua), "", 0, 0, NULL,
      "the address we collect DMARC aggregate reports at (e.g. dmarc@abuse.example.net); "
      "`abusedesk domains audit` flags customer domains whose DMARC record does not send "
      "rua= reports there (empty: not checked)", 0 },
    { "reputation", "audit_interval", CT_DURATION, OFF(rep_audit_interval), "7d", 0,
      365 * 86400LL, NULL,
      "how often the reputation monitor runs the domain audit of every directory domain and "
      "mails the team (template team_audit) what changed since the last run (0: never; "
      "`abusedesk domains audit` runs count too)", 0 },
    { "policy", "listen", CT_LIST, OFF(policy_listen), "inet:127.0.0.1:10040", 0, 0, NULL,
      "where `abusedesk serve` answers Postfix policy requests: inet:HOST:PORT and/or "
      "unix:PATH (a list); changing it needs a restart", 0 },
    { "policy", "user", CT_STRING, OFF(policy_user), "abusedesk", 0, 0, NULL,
      "run as this user after binding (when started as root; empty: stay)", 0 },
    { "policy", "max_connections", CT_INT, OFF(policy_max_connections), "1000", 1, 100000, NULL,
      "connections served at once; when reached, the connection without a request for the "
      "longest time (over 1 s) is closed for a new one, else the new one is; lowered at start "
      "when the file descriptor limit (RLIMIT_NOFILE) cannot be raised for it", 0 },
    { "policy", "max_connections_per_client", CT_INT, OFF(policy_max_per_client), "100", 1,
      100000, NULL,
      "connections from one client address (IPv6: one /64; UNIX socket: one peer uid), handled "
      "like max_connections; Postfix connects from one address with one connection per smtpd "
      "process: keep it at least the smtpd process limit (default_process_limit, 100)", 0 },
    { "policy", "idle_timeout", CT_DURATION, OFF(policy_idle_timeout), "5m", 1, 86400, NULL,
      "a connection without a request this long is closed", 0 },
    { "policy", "request_timeout", CT_DURATION, OFF(policy_request_timeout), "10s", 1, 3600,
      NULL, "a request not complete this long after its first byte arrived is not waited for: "
      "the connection is closed", 0 },
    { "policy", "socket_group", CT_STRING, OFF(policy_socket_group), "", 0, 0, NULL,
      "group of the UNIX sockets of [policy] listen (mode 0660; empty: postfix when that "
      "group exists, else the daemon's own)", 0 },
    { "policy", "soft_action", CT_ENUM, OFF(soft_action), "HOLD", 0, 0, "HOLD|DEFER_IF_PERMIT",
      "answer when a soft limit is crossed: keep the message in the hold queue for review, or "
      "ask the client to try later", 0 },
    { "policy", "msgs_per_hour", CT_INT, OFF(msgs_per_hour), "100", 0, 100000000, NULL,
      "soft limit of messages per hour per SASL user, sender address and client address "
      "(0 = none)", 0 },
    { "policy", "rcpts_per_hour", CT_INT, OFF(rcpts_per_hour), "100", 0, 100000000, NULL,
      "soft limit of recipients per hour (0 = none)", 0 },
    { "policy", "rcpts_per_day", CT_INT, OFF(rcpts_per_day), "1000", 0, 100000000, NULL,
      "soft limit of recipients per day (0 = none)", 0 },
    { "policy", "domains_per_hour", CT_INT, OFF(domains_per_hour), "50", 0, 150, NULL,
      "soft limit of distinct recipient domains per hour (estimated; 0 = none)", 0 },
    { "policy", "hard_factor", CT_DOUBLE, OFF(hard_factor), "3", 1, 1000, NULL,
      "hard limits are the soft limits times this; crossing one locks the account and opens "
      "an incident (outbound volume)", 0 },
    { "policy", "anomaly_factor", CT_DOUBLE, OFF(anomaly_factor), "10", 1, 1000, NULL,
      "an hour with this many times the user's learned hourly mean opens an incident at alert",
      0 },
    { "policy", "anomaly_min", CT_INT, OFF(anomaly_min), "30", 1, 100000000, NULL,
      "messages in an hour below which no anomaly is reported", 0 },
    { "policy", "networks_per_hour", CT_INT, OFF(networks_per_hour), "5", 0, 30, NULL,
      "distinct client networks (/24, /48) of one SASL user in an hour that open an incident "
      "at alert (a leaked password used by a botnet; 0 = off)", 0 },
    { "policy", "limit_unauthenticated", CT_BOOL, OFF(limit_unauthenticated), "false", 0, 0,
      NULL, "apply the limits to requests without a SASL login too (by sender and client)", 0 },
    { "policy", "max_senders", CT_INT, OFF(max_senders), "1000000", 16, 100000000, NULL,
      "senders tracked at once (64 bytes each plus table slack: 128 MiB for 1,000,000); when "
      "full, a sender idle for 2 hours makes room for a new one, and without one the new sender "
      "is not tracked (a warning once a minute)", 0 },
    { "policy", "state_file", CT_STRING, OFF(state_file), "", 0, 0, NULL,
      "keep the counters in this file across restarts, written in the background (empty: "
      "counters start from zero); locks are kept in the database, and a lock the database has "
      "not taken yet (busy, down) in this file until it has", 0 },
    { "policy", "state_interval", CT_DURATION, OFF(state_interval), "5s", 1, 3600, NULL,
      "how often the counters are written to state_file", 0 },
    { "policy", "outbox_interval", CT_DURATION, OFF(outbox_interval), "10s", 1, 3600, NULL,
      "how often the daemon delivers queued notifications and hook calls", 0 },
    /* Shared counters (doc/shared-counters.md): several `abusedesk serve` on several
     * MTAs enforce one limit per account through one Redis. */
    { "policy", "counters", CT_ENUM, OFF(policy_counters), "local", 0, 0, "local|redis",
      "where the rate counters live: local (each server counts alone) or redis (every "
      "server with the same redis and redis_prefix counts together: one limit per account "
      "across all MTAs; no request waits for Redis, and when it is down each server goes on "
      "with its own counts)", 0 },
    { "policy", "redis", CT_STRING, OFF(redis_addr), "127.0.0.1:6379", 0, 0, NULL,
      "the Redis of counters = redis: HOST:PORT, [IPV6]:PORT or unix:/PATH (use an address: "
      "a host name is resolved without the timeout)", 0 },
    { "policy", "redis_user", CT_STRING, OFF(redis_user), "", 0, 0, NULL,
      "Redis 6 ACL user for AUTH (needs redis_password; empty: the default user)", 0 },
    { "policy", "redis_password", CT_STRING, OFF(redis_password), "", 0, 0, NULL,
      "password sent with AUTH (empty: no AUTH)", 0 },
    { "policy", "redis_db", CT_INT, OFF(redis_db), "0", 0, 100000, NULL,
      "Redis database number (0 is the default one)", 0 },
    { "policy", "redis_prefix", CT_STRING, OFF(redis_prefix), "ad:c:", 0, 0, NULL,
      "prefix of the counters' Redis keys (1 to 64 characters, no spaces): one per group of "
      "servers that share limits", 0 },
    { "policy", "sync_interval_ms", CT_INT, OFF(sync_interval_ms), "200", 10, 10000, NULL,
      "milliseconds between two exchanges of counts with Redis (T): a limit may be overshot "
      "by (servers - 1) x rate x (2T + round trip)", 0 },
    { "policy", "redis_timeout_ms", CT_INT, OFF(redis_timeout_ms), "200", 10, 10000, NULL,
      "time limit of a connect and of each Redis command, in milliseconds (only the "
      "background exchange waits for it)", 0 },
    { "policy", "shared_max_keys", CT_INT, OFF(shared_max_keys), "131072", 1024, 16777216,
      NULL, "senders whose shared counts a server tracks (128 bytes each plus table slack); "
      "when full, the least recently seen near a new one is forgotten", 0 },
    { "policy", "lock_text", CT_STRING, OFF(lock_text),
      "Account {account} is locked because spam was sent through it; see {ticket} or contact "
      "your provider", 0, 0, NULL,
      "REJECT text for a locked account of a customer whose language is English ({account}, "
      "{ticket} are replaced)", 0 },
    { "policy", "lock_text_de", CT_STRING, OFF(lock_text_de),
      "Das Postfach {account} ist wegen Spamversand gesperrt; siehe {ticket} oder wenden Sie "
      "sich an Ihren Provider", 0, 0, NULL,
      "the same for customers whose language is German", 0 },
    { "policy", "soft_text", CT_STRING, OFF(soft_text),
      "Sending limit reached for {account} ({limit}); please try again later", 0, 0, NULL,
      "text of the soft-limit answer ({account}, {limit} are replaced)", 0 },
    { "policy", "store_failure_action", CT_ENUM, OFF(store_failure_action), "DUNNO", 0, 0,
      "DUNNO|DEFER_IF_PERMIT", "answer when the database cannot be read (fail open by default)",
      0 },
    /* web: [web], the dashboard and REST API (`abusedesk web`, src/web). */
    { "web", "listen", CT_STRING, OFF(web_listen), "127.0.0.1:8025", 0, 0, NULL,
      "where `abusedesk web` serves the dashboard and /api/v1: HOST:PORT or [IPV6]:PORT", 0 },
    { "web", "metrics_allow", CT_LIST, OFF(web_metrics_allow), "127.0.0.1;::1", 0, 0, NULL,
      "addresses and CIDR ranges that may read /metrics without logging in (Prometheus); "
      "others need an API token", 0 },
    { "web", "tls_cert", CT_STRING, OFF(web_tls_cert), "", 0, 0, NULL,
      "PEM certificate chain for HTTPS (empty: plain HTTP, for 127.0.0.1 or behind a TLS "
      "proxy, doc/web.md)", 0 },
    { "web", "tls_key", CT_STRING, OFF(web_tls_key), "", 0, 0, NULL,
      "PEM private key of tls_cert", 0 },
    { "web", "user", CT_STRING, OFF(web_user), "", 0, 0, NULL,
      "run as this user after binding and reading the TLS key (when started as root; empty: "
      "stay)", 0 },
    { "web", "session_lifetime", CT_DURATION, OFF(web_session_lifetime), "12h", 300,
      30 * 86400LL, NULL, "how long a login lasts", 0 },
    { "web", "max_connections", CT_INT, OFF(web_max_connections), "64", 1, 10000, NULL,
      "connections served at once", 0 },
    { "web", "timeout", CT_DURATION, OFF(web_timeout), "30s", 1, 3600, NULL,
      "a connection idle this long is closed", 0 },
    { "web", "max_body", CT_SIZE, OFF(web_max_body), "65536", 1024, 16777216, NULL,
      "largest request body accepted (bytes); larger ones get 413", 0 },
    { "web", "login_attempts", CT_INT, OFF(web_login_attempts), "10", 1, 10000, NULL,
      "failed logins per client address in 15 minutes before logins from it are refused "
      "(429) until the window passes", 0 },
    { "web", "trust_proxy", CT_BOOL, OFF(web_trust_proxy), "false", 0, 0, NULL,
      "a TLS-terminating proxy on this host forwards to listen: session cookies get the "
      "Secure flag and X-Forwarded-For from 127.0.0.1 names the client", 0 },
    /* BATV (doc/batv.md): tags on our envelope senders, checked on bounces. */
    { "batv", "domains", CT_LIST, OFF(batv_domains), "", 0, 0, NULL,
      "domains whose envelope senders the milter tags (prvs=KDDDSSSSSS=local@domain) and "
      "whose bounces the policy server accepts only with a valid tag, e.g. "
      "\"customer.example;shop.example\" (empty: BATV off)", 0 },
    { "batv", "keys_file", CT_PATH, OFF(batv_keys_file), "/etc/abusedesk/batv.keys", 0, 0, NULL,
      "the BATV keys (abusedesk batv keygen adds one): the newest signs, every key listed "
      "verifies; readable by the policy server and the milter only", 0 },
    { "batv", "lifetime", CT_DURATION, OFF(batv_lifetime), "7d", 86400, 365 * 86400LL, NULL,
      "how long a tag stays valid: bounces of older mail are refused (at least 1d; longer "
      "than any queue lifetime that may still bounce)", 0 },
    /* The milter (doc/milter.md): locally injected mail, script locks, BATV signing. */
    { "milter", "listen", CT_STRING, OFF(milter_listen), "inet:10041@127.0.0.1", 0, 0, NULL,
      "where `abusedesk milter` listens (libmilter socket: inet:PORT@HOST or unix:PATH); "
      "Postfix: smtpd_milters and non_smtpd_milters = inet:127.0.0.1:PORT", 0 },
    { "milter", "user", CT_STRING, OFF(milter_user), "abusedesk", 0, 0, NULL,
      "run as this user after binding (when started as root; empty: stay)", 0 },
    { "milter", "locked_action", CT_ENUM, OFF(milter_locked_action), "hold", 0, 0,
      "hold|reject", "what happens to mail of a locked script, uid or account (and past the "
      "limits): hold (Postfix's hold queue, the ticket in the log) or reject at the end of "
      "the message; non-SMTP mail (sendmail(1)) is held either way, since Postfix would "
      "turn a reject into a bounce to its sender", 0 },
    { "milter", "script_msgs_per_hour", CT_INT, OFF(milter_script_msgs), "100", 0, 100000000,
      NULL, "messages per hour from one script (uid:path) before its mail is held and a "
      "finding raised (0 = no limit)", 0 },
    { "milter", "uid_msgs_per_hour", CT_INT, OFF(milter_uid_msgs), "300", 0, 100000000, NULL,
      "messages per hour from one web space uid, all its scripts together (0 = no limit)", 0 },
    { "milter", "fingerprint_rcpts", CT_INT, OFF(milter_fp_rcpts), "50", 0, 100000000, NULL,
      "recipients in an hour of mail with the same subject or body fingerprint from one "
      "script or uid that raise a finding (a spam run through a form; 0 = off)", 0 },
    { "milter", "max_tracked", CT_INT, OFF(milter_max_tracked), "65536", 64, 10000000, NULL,
      "scripts, uids and fingerprints counted at once (fixed memory); when full, the one "
      "idle longest makes room", 0 },
    { "milter", "enabled", CT_BOOL, OFF(milter_enabled), "false", 0, 0, NULL,
      "`abusedesk run` starts the milter as one of its services (true), or not (false: "
      "run it with abusedesk-milter.service or `abusedesk milter`; never both on one host, "
      "they would share the listen socket)", 0 },
    /* The outbound log: "did we really send this?" in one lookup. */
    { "outbound", "log_days", CT_DURATION, OFF(outbound_log_days), "30d", 86400,
      3650 * 86400LL, NULL,
      "how long the keyed hash of every outbound Message-ID is kept (with the account or "
      "script and the time); `abusedesk process` prunes older rows", 0 },
    { "outbound", "key_file", CT_PATH, OFF(outbound_key_file), "/var/lib/abusedesk/outbound.key",
      0, 0, NULL,
      "secret key of the Message-ID hashes (made 0640 on first use by the milter or init); "
      "without it a database copy cannot be searched for a guessed Message-ID", 0 },
};

/* [providers] is open: every key is a reporting domain. */
#define PROVIDERS_GROUP "providers"

static void set_string(struct config *cfg, const struct ckey *k, const char *v)
{
    char **dst = (char **)((char *)cfg + k->offset);
    g_free(*dst);
    *dst = g_strdup(v);
}

static bool parse_double(const char *v, double *out)
{
    char *end = NULL;
    errno = 0;
    double d = g_ascii_strtod(v, &end);
    if (errno || end == v || *end != '\0' || !isfinite(d))
        return false;
    *out = d;
    return true;
}

bool config_parse_duration(const char *s, long long *out)
{
    if (!s)
        return false;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno || end == s || n < 0 || !g_ascii_isdigit(*s))
        return false;
    long long unit = 1;
    if (*end) {
        switch (*end) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: return false;
        }
        if (end[1])
            return false;
    }
    if (n > LLONG_MAX / unit)
        return false;
    *out = n * unit;
    return true;
}

bool config_parse_net(const char *s, struct config_net *out)
{
    if (!s || !*s || strlen(s) > 64)
        return false;
    char buf[65];
    g_strlcpy(buf, s, sizeof buf);
    int prefix = -1;
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        char *end = NULL;
        errno = 0;
        long p = strtol(slash + 1, &end, 10);
        if (errno || end == slash + 1 || *end || p < 0 || p > 128)
            return false;
        prefix = (int)p;
    }
    memset(out, 0, sizeof *out);
    struct in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        if (prefix > 32)
            return false;
        out->addr[10] = 0xff;
        out->addr[11] = 0xff;
        memcpy(out->addr + 12, &a4, 4);
        out->prefix = prefix < 0 ? 128 : 96 + prefix;
        return true;
    }
    if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->prefix = prefix < 0 ? 128 : prefix;
        return true;
    }
    return false;
}

static bool net_contains(const struct config_net *n, const unsigned char a[16])
{
    int bits = n->prefix;
    for (int i = 0; i < 16 && bits > 0; i++, bits -= 8) {
        unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
        if ((a[i] & mask) != (n->addr[i] & mask))
            return false;
    }
    return true;
}

bool config_ip_is_ours(const struct config *cfg, const char *ip)
{
    if (!ip || !cfg->n_our_ips)
        return false;
    struct config_net a;
    if (strchr(ip, '/') || !config_parse_net(ip, &a))
        return false;
    for (size_t i = 0; i < cfg->n_our_ips; i++)
        if (net_contains(&cfg->our_ips[i], a.addr))
            return true;
    return false;
}

bool config_ip_is_trusted_relay(const struct config *cfg, const char *ip)
{
    if (!ip || !cfg->n_trusted_relays)
        return false;
    struct config_net a;
    if (strchr(ip, '/') || !config_parse_net(ip, &a))
        return false;
    for (size_t i = 0; i < cfg->n_trusted_relays; i++)
        if (net_contains(&cfg->trusted_relays[i], a.addr))
            return true;
    return false;
}

bool config_host_is_ours(const struct config *cfg, const char *h)
{
    if (!h || !*h || !cfg->our_hosts)
        return false;
    size_t hl = strlen(h);
    while (hl > 0 && h[hl - 1] == '.')
        hl--;
    for (char **p = cfg->our_hosts; *p; p++) {
        const char *pat = *p;
        if (pat[0] == '*' && pat[1] == '.') {
            size_t sl = strlen(pat + 1); /* ".example.net" */
            if (hl > sl && g_ascii_strncasecmp(h + hl - sl, pat + 1, sl) == 0)
                return true;
        } else if (strlen(pat) == hl && g_ascii_strncasecmp(h, pat, hl) == 0) {
            return true;
        }
    }
    return false;
}

const struct config_provider *config_provider_find(const struct config *cfg, const char *domain)
{
    if (!domain)
        return NULL;
    const struct config_provider *best = NULL;
    size_t best_len = 0;
    size_t dl = strlen(domain);
    for (size_t i = 0; i < cfg->n_providers; i++) {
        const char *pd = cfg->providers[i].domain;
        size_t pl = strlen(pd);
        if (pl > dl || pl <= best_len)
            continue;
        if (g_ascii_strcasecmp(domain + dl - pl, pd) != 0)
            continue;
        if (pl < dl && domain[dl - pl - 1] != '.')
            continue;
        best = &cfg->providers[i];
        best_len = pl;
    }
    return best;
}

static bool domain_within(const char *d, size_t dl, const char *parent)
{
    size_t pl = strlen(parent);
    if (pl > dl || g_ascii_strcasecmp(d + dl - pl, parent) != 0)
        return false;
    return pl == dl || d[dl - pl - 1] == '.';
}

const struct config_provider *config_provider_signed(const struct config *cfg, const char *domain)
{
    if (!domain || !*domain)
        return NULL;
    const struct config_provider *best = NULL;
    size_t best_len = 0, dl = strlen(domain);
    for (size_t i = 0; i < cfg->n_providers; i++)
        for (char **s = cfg->providers[i].signers; s && *s; s++)
            if (strlen(*s) > best_len && domain_within(domain, dl, *s)
                && !(cfg->providers[i].default_signers && dl == strlen(*s))) {
                best = &cfg->providers[i];
                best_len = strlen(*s);
            }
    return best;
}

static void free_list(struct config *cfg, const struct ckey *k)
{
    void **dst = (void **)((char *)cfg + k->offset);
    if (k->type == CT_LIST)
        g_strfreev((char **)*dst);
    else
        g_free(*dst);
    *dst = NULL;
    if (k->count_off)
        *(size_t *)((char *)cfg + k->count_off) = 0;
    if (k->type == CT_NETLIST) {
        char ***text = k->offset == OFF(our_ips) ? &cfg->our_ips_text : &cfg->trusted_relays_text;
        g_strfreev(*text);
        *text = NULL;
    }
}

/* GKeyFile list syntax: items separated by ';' (a trailing one is allowed);
 * blanks around items are ignored, empty items are dropped. */
static char **split_items(const char *v)
{
    char **raw = g_strsplit(v, ";", -1);
    GPtrArray *a = g_ptr_array_new();
    for (char **p = raw; *p; p++) {
        char *t = g_strstrip(*p);
        if (*t)
            g_ptr_array_add(a, g_strdup(t));
    }
    g_strfreev(raw);
    g_ptr_array_add(a, NULL);
    return (char **)g_ptr_array_free(a, FALSE);
}

static int set_list(struct config *cfg, const struct ckey *k, const char *v, const char *file,
                    struct ad_err *err)
{
    char **items = split_items(v);
    size_t n = g_strv_length(items);
    void *arr = NULL;
    int rc = 0;
    switch (k->type) {
    case CT_NETLIST: {
        struct config_net *nets = g_new0(struct config_net, n ? n : 1);
        for (size_t i = 0; i < n && rc == 0; i++)
            if (!config_parse_net(items[i], &nets[i]))
                rc = ad_err_set(err, AD_ERR_CONFIG,
                                "%s: [%s] %s: expected IP addresses or CIDR ranges, got '%s'",
                                file, k->group, k->key, items[i]);
        arr = nets;
        break;
    }
    case CT_DURLIST: {
        long long *d = g_new0(long long, n ? n : 1);
        for (size_t i = 0; i < n && rc == 0; i++)
            if (!config_parse_duration(items[i], &d[i]) || d[i] < k->min || d[i] > k->max)
                rc = ad_err_set(err, AD_ERR_CONFIG,
                                "%s: [%s] %s: expected durations like 1h;24h;7d from %.0fs to "
                                "%.0fs, got '%s'",
                                file, k->group, k->key, k->min, k->max, items[i]);
        if (rc == 0 && (n == 0 || n > CONFIG_MAX_WINDOWS))
            rc = ad_err_set(err, AD_ERR_CONFIG, "%s: [%s] %s: expected 1 to %d durations, got %zu",
                            file, k->group, k->key, CONFIG_MAX_WINDOWS, n);
        arr = d;
        break;
    }
    case CT_NUMLIST: {
        double *d = g_new0(double, n ? n : 1);
        for (size_t i = 0; i < n && rc == 0; i++)
            if (!parse_double(items[i], &d[i]) || d[i] < k->min || d[i] > k->max)
                rc = ad_err_set(err, AD_ERR_CONFIG,
                                "%s: [%s] %s: expected numbers from %g to %g, got '%s'", file,
                                k->group, k->key, k->min, k->max, items[i]);
        if (rc == 0 && n == 0)
            rc = ad_err_set(err, AD_ERR_CONFIG, "%s: [%s] %s: expected at least one number",
                            file, k->group, k->key);
        arr = d;
        break;
    }
    default:
        break;
    }
    if (rc) {
        g_free(arr);
        g_strfreev(items);
        return rc;
    }
    free_list(cfg, k);
    if (k->type == CT_LIST) {
        *(char ***)((char *)cfg + k->offset) = items;
        return 0;
    }
    *(void **)((char *)cfg + k->offset) = arr;
    if (k->count_off)
        *(size_t *)((char *)cfg + k->count_off) = n;
    if (k->type == CT_NETLIST)
        *(k->offset == OFF(our_ips) ? &cfg->our_ips_text : &cfg->trusted_relays_text) = items;
    else
        g_strfreev(items);
    return 0;
}

/* "a.example,b.example" -> lower-case NULL-terminated list (empty items dropped,
 * items that are no domain names make the list empty: an error for the caller). */
static char **split_signers(const char *v)
{
    char **raw = g_strsplit(v, ",", -1);
    GPtrArray *a = g_ptr_array_new();
    bool bad = false;
    for (char **p = raw; *p; p++) {
        char *t = g_strstrip(*p);
        if (!*t)
            continue;
        if (!strchr(t, '.') || strchr(t, '@') || strlen(t) > 253)
            bad = true;
        g_ptr_array_add(a, g_ascii_strdown(t, -1));
    }
    g_strfreev(raw);
    g_ptr_array_add(a, NULL);
    char **out = (char **)g_ptr_array_free(a, FALSE);
    if (bad) {
        g_strfreev(out);
        out = g_new0(char *, 1);
    }
    return out;
}

/* One [providers] row: "aol.com = 1.2", "abusix.com = 0.7 automatic",
 * "yahoo.com = 1.0 manual signed_by=arf.mail.yahoo.com". */
static int set_provider(struct config *cfg, const char *domain, const char *v, const char *file,
                        struct ad_err *err)
{
    char **w = g_strsplit_set(v, " \t", -1);
    GPtrArray *words = g_ptr_array_new();
    for (char **p = w; *p; p++)
        if (**p)
            g_ptr_array_add(words, *p);
    double weight = 0;
    enum config_report_mode mode = CONFIG_MODE_DETECT;
    int rc = 0;
    char **signers = NULL;
    for (guint i = 1; i < words->len; i++) {
        const char *t = words->pdata[i];
        if (g_str_has_prefix(t, "signed_by=")) {
            if (!signers)
                signers = split_signers(t + 10);
            g_ptr_array_remove_index(words, i);
            break;
        }
    }
    if (signers && !*signers)
        rc = ad_err_set(err, AD_ERR_CONFIG,
                        "%s: [providers] %s: signed_by= expects domain names, comma separated",
                        file, domain);
    else if (words->len < 1 || words->len > 2 || !parse_double(words->pdata[0], &weight) || weight < 0
        || weight > 100)
        rc = ad_err_set(err, AD_ERR_CONFIG,
                        "%s: [providers] %s: expected a weight from 0 to 100, optionally followed "
                        "by manual, automatic or detect, got '%s'",
                        file, domain, v);
    else if (words->len == 2) {
        const char *m = words->pdata[1];
        if (!strcmp(m, "manual"))
            mode = CONFIG_MODE_MANUAL;
        else if (!strcmp(m, "automatic"))
            mode = CONFIG_MODE_AUTOMATIC;
        else if (strcmp(m, "detect") != 0)
            rc = ad_err_set(err, AD_ERR_CONFIG,
                            "%s: [providers] %s: expected manual, automatic or detect after the "
                            "weight, got '%s'",
                            file, domain, m);
    }
    if (rc == 0 && (strchr(domain, '@') || !strchr(domain, '.')))
        rc = ad_err_set(err, AD_ERR_CONFIG,
                        "%s: [providers] %s: expected a domain name like aol.com as the key",
                        file, domain);
    if (rc == 0) {
        cfg->providers = g_renew(struct config_provider, cfg->providers, cfg->n_providers + 1);
        struct config_provider *p = &cfg->providers[cfg->n_providers++];
        p->domain = g_ascii_strdown(domain, -1);
        p->weight = weight;
        p->mode = mode;
        p->default_signers = false;
        if (!signers) {
            /* A mail provider signs its users' mail with its own domain
             * (hotmail.com, gmx.net): anybody with a free mailbox there could
             * "prove" a report by that signature. Without signed_by= only its
             * subdomains (arf.mail.yahoo.com) prove it. */
            p->default_signers = true;
            signers = g_new0(char *, 2);
            signers[0] = g_strdup(p->domain);
        }
        p->signers = signers;
        signers = NULL;
    }
    g_strfreev(signers);
    g_ptr_array_free(words, TRUE);
    g_strfreev(w);
    return rc;
}

const struct config_limits *config_limits_find(const struct config *cfg, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < cfg->n_limits; i++)
        if (g_ascii_strcasecmp(cfg->limits[i].name, name) == 0)
            return &cfg->limits[i];
    return NULL;
}

/* [limits:NAME]: msgs_per_hour, rcpts_per_hour, rcpts_per_day, domains_per_hour. */
static int set_limits(struct config *cfg, const char *name, GKeyFile *kf, const char *group,
                      const char *file, struct ad_err *err)
{
    if (!*name)
        return ad_err_set(err, AD_ERR_CONFIG,
                          "%s: [%s]: expected an account, sender or customer id after limits:",
                          file, group);
    struct config_limits l = { g_strdup(name), -1, -1, -1, -1 };
    static const char *const keys[] = { "msgs_per_hour", "rcpts_per_hour", "rcpts_per_day",
                                        "domains_per_hour" };
    long long *dst[] = { &l.msgs_per_hour, &l.rcpts_per_hour, &l.rcpts_per_day,
                         &l.domains_per_hour };
    gsize n = 0;
    char **ks = g_key_file_get_keys(kf, group, &n, NULL);
    int rc = 0;
    for (gsize i = 0; ks && i < n && rc == 0; i++) {
        size_t k = 0;
        while (k < G_N_ELEMENTS(keys) && strcmp(keys[k], ks[i]) != 0)
            k++;
        if (k == G_N_ELEMENTS(keys)) {
            rc = ad_err_set(err, AD_ERR_CONFIG,
                            "%s: [%s] %s: unknown key (expected msgs_per_hour, rcpts_per_hour, "
                            "rcpts_per_day or domains_per_hour)",
                            file, group, ks[i]);
            break;
        }
        char *v = g_key_file_get_string(kf, group, ks[i], NULL);
        char *end = NULL;
        long long x = v ? strtoll(g_strstrip(v), &end, 10) : -1;
        if (!v || end == v || *end || x < 0 || x > 100000000)
            rc = ad_err_set(err, AD_ERR_CONFIG,
                            "%s: [%s] %s: expected an integer from 0 to 100000000, got '%s'", file,
                            group, ks[i], v ? v : "");
        else
            *dst[k] = x;
        g_free(v);
    }
    g_strfreev(ks);
    if (rc) {
        g_free(l.name);
        return rc;
    }
    cfg->limits = g_renew(struct config_limits, cfg->limits, cfg->n_limits + 1);
    cfg->limits[cfg->n_limits++] = l;
    return 0;
}

/* Cross-key checks after a file was read: one threshold per window (or one for all). */
static int check_windows(struct config *cfg, const char *file, struct ad_err *err)
{
    struct {
        const char *key;
        double **v;
        size_t *n;
    } lists[] = {
        { "observe_score", &cfg->observe_score, &cfg->n_observe_score },
        { "alert_score", &cfg->alert_score, &cfg->n_alert_score },
        { "lock_score", &cfg->lock_score, &cfg->n_lock_score },
        { "alert_complaints", &cfg->alert_complaints, &cfg->n_alert_complaints },
        { "lock_complaints", &cfg->lock_complaints, &cfg->n_lock_complaints },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(lists); i++) {
        size_t n = *lists[i].n;
        if (n == cfg->n_windows)
            continue;
        if (n == 1) {
            /* One value applies to every window. */
            double one = (*lists[i].v)[0];
            *lists[i].v = g_renew(double, *lists[i].v, cfg->n_windows);
            for (size_t k = 0; k < cfg->n_windows; k++)
                (*lists[i].v)[k] = one;
            *lists[i].n = cfg->n_windows;
            continue;
        }
        return ad_err_set(err, AD_ERR_CONFIG,
                          "%s: [incidents] %s: expected %zu values (one per window of "
                          "[incidents] windows) or one for all, got %zu",
                          file, lists[i].key, cfg->n_windows, n);
    }
    return 0;
}

/* The policy server counts in 32 bits: a hard limit (limit x hard_factor) it
 * could not count to would never be crossed. */
static int check_policy_counts(const struct config *cfg, const char *file, struct ad_err *err)
{
    const double max = 4294967295.0;
    struct {
        const char *group, *key;
        long long v;
    } l[] = { { "policy", "msgs_per_hour", cfg->msgs_per_hour },
              { "policy", "rcpts_per_hour", cfg->rcpts_per_hour },
              { "policy", "rcpts_per_day", cfg->rcpts_per_day } };
    for (size_t i = 0; i < G_N_ELEMENTS(l); i++)
        if ((double)l[i].v * cfg->hard_factor >= max)
            return ad_err_set(err, AD_ERR_CONFIG,
                              "%s: [%s] %s: %lld x hard_factor %g is more than the policy "
                              "server can count (%.0f)", file, l[i].group, l[i].key, l[i].v,
                              cfg->hard_factor, max);
    for (size_t i = 0; i < cfg->n_limits; i++) {
        const struct config_limits *o = &cfg->limits[i];
        long long v = MAX(MAX(o->msgs_per_hour, o->rcpts_per_hour), o->rcpts_per_day);
        if ((double)v * cfg->hard_factor >= max)
            return ad_err_set(err, AD_ERR_CONFIG,
                              "%s: [limits:%s]: %lld x hard_factor %g is more than the policy "
                              "server can count (%.0f)", file, o->name, v, cfg->hard_factor, max);
    }
    return 0;
}

/* counters = redis: an address the policy server can connect to, a prefix it
 * can use, a password for a user. Caught here so that `config check` refuses
 * them and the server does not start on them. */
static int check_policy_redis(const struct config *cfg, const char *file, struct ad_err *err)
{
    if (!cfg->policy_counters || strcmp(cfg->policy_counters, "redis") != 0)
        return 0;
    const char *a = cfg->redis_addr ? cfg->redis_addr : "";
    const char *why = NULL;
    if (!*a) {
        why = "empty: counters = redis needs HOST:PORT, [IPV6]:PORT or unix:/PATH";
    } else if (g_str_has_prefix(a, "unix:") || a[0] == '/') {
        if ((a[0] == '/' ? a : a + 5)[0] != '/')
            why = "a UNIX socket needs an absolute path (unix:/PATH)";
    } else {
        const char *port = NULL;
        if (a[0] == '[') {
            const char *e = strchr(a, ']');
            if (!e || e == a + 1 || (e[1] && e[1] != ':'))
                why = "write an IPv6 address as [ADDRESS]:PORT";
            else if (e[1])
                port = e + 2;
        } else {
            const char *c = strrchr(a, ':');
            if (c && strchr(a, ':') != c)
                why = "write an IPv6 address as [ADDRESS]:PORT";
            else if (c == a)
                why = "no host";
            else if (c)
                port = c + 1;
        }
        if (!why && port) {
            char *end = NULL;
            errno = 0;
            long p = strtol(port, &end, 10);
            if (errno || !*port || *end || p < 1 || p > 65535)
                why = "the port must be a number from 1 to 65535";
        }
        if (!why && strpbrk(a, " \t"))
            why = "no spaces";
    }
    if (why)
        return ad_err_set(err, AD_ERR_CONFIG, "%s: [policy] redis: '%s': %s", file, a, why);
    const char *p = cfg->redis_prefix ? cfg->redis_prefix : "";
    if (!*p || strlen(p) > 64 || strpbrk(p, " \t\r\n"))
        return ad_err_set(err, AD_ERR_CONFIG, "%s: [policy] redis_prefix: '%s': expected 1 to 64 "
                          "characters without spaces", file, p);
    if (cfg->redis_user && *cfg->redis_user && !(cfg->redis_password && *cfg->redis_password))
        return ad_err_set(err, AD_ERR_CONFIG, "%s: [policy] redis_user: set redis_password "
                          "too (AUTH with a user needs its password)", file);
    return 0;
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
                              "%s: [%s] %s: expected an integer from %.0f to %.0f, got '%s'",
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
    case CT_DOUBLE: {
        double d = 0;
        if (!parse_double(v, &d) || d < k->min || d > k->max)
            return ad_err_set(err, AD_ERR_CONFIG,
                              "%s: [%s] %s: expected a number from %g to %g, got '%s'", file,
                              k->group, k->key, k->min, k->max, v);
        *(double *)((char *)cfg + k->offset) = d;
        return 0;
    }
    case CT_DURATION: {
        long long d = 0;
        /* "half_life = 72" was read as 72 seconds where 72 hours were meant: a
         * duration in a file needs its unit. */
        if (*v && g_ascii_isdigit(v[strlen(v) - 1]) && strcmp(v, "0") != 0
            && strcmp(file, "defaults") != 0)
            return ad_err_set(err, AD_ERR_CONFIG,
                              "%s: [%s] %s: '%s' needs a unit: %ss, %sm, %sh, %sd or %sw", file,
                              k->group, k->key, v, v, v, v, v, v);
        if (!config_parse_duration(v, &d) || d < k->min || d > k->max)
            return ad_err_set(err, AD_ERR_CONFIG,
                              "%s: [%s] %s: expected a duration like 90s, 15m, 1h, 7d or 2w "
                              "from %.0fs to %.0fs, got '%s'",
                              file, k->group, k->key, k->min, k->max, v);
        *(long long *)((char *)cfg + k->offset) = d;
        return 0;
    }
    case CT_LIST:
    case CT_NETLIST:
    case CT_DURLIST:
    case CT_NUMLIST:
        return set_list(cfg, k, v, file, err);
    }
    return ad_err_set(err, AD_ERR_CONFIG, "%s: [%s] %s: internal: bad type", file, k->group, k->key);
}

static int apply_env(struct config *cfg, struct ad_err *err);

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < G_N_ELEMENTS(schema); i++)
        set_value(cfg, &schema[i], schema[i].def, "defaults", NULL);
    apply_env(cfg, NULL);
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

/* ABUSEDESK_STORE_BACKEND and ABUSEDESK_STORE_CONNINFO override [store] backend
 * and conninfo (tests, containers): applied over the defaults and again after a
 * file was read. A bad backend is an error of config_load() and, without a
 * file, of store_open_cfg(), which refuses it as well. */
static int apply_env(struct config *cfg, struct ad_err *err)
{
    static const struct {
        const char *var, *key;
    } env[] = {
        { "ABUSEDESK_STORE_BACKEND", "backend" },
        { "ABUSEDESK_STORE_CONNINFO", "conninfo" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(env); i++) {
        const char *v = g_getenv(env[i].var);
        const struct ckey *k = find_key("store", env[i].key);
        if (!v || !k)
            continue;
        int rc = set_value(cfg, k, v, env[i].var, err);
        if (rc) {
            set_string(cfg, k, v);
            return rc;
        }
    }
    return 0;
}

static int load_keyfile(struct config *cfg, GKeyFile *kf, const char *file, struct ad_err *err)
{
    gsize n_groups = 0;
    char **groups = g_key_file_get_groups(kf, &n_groups);
    int rc = 0;
    for (gsize g = 0; g < n_groups && rc == 0; g++) {
        if (g_str_has_prefix(groups[g], "limits:")) {
            rc = set_limits(cfg, groups[g] + 7, kf, groups[g], file, err);
            continue;
        }
        if (strcmp(groups[g], PROVIDERS_GROUP) == 0) {
            gsize n_keys = 0;
            char **keys = g_key_file_get_keys(kf, groups[g], &n_keys, NULL);
            for (gsize k = 0; keys && k < n_keys && rc == 0; k++) {
                char *v = g_key_file_get_string(kf, groups[g], keys[k], NULL);
                rc = set_provider(cfg, keys[k], v ? g_strstrip(v) : "", file, err);
                g_free(v);
            }
            g_strfreev(keys);
            continue;
        }
        if (!known_group(groups[g])) {
            GPtrArray *names = g_ptr_array_new();
            for (size_t i = 0; i < G_N_ELEMENTS(schema); i++)
                if (i == 0 || strcmp(schema[i].group, schema[i - 1].group))
                    g_ptr_array_add(names, (gpointer)schema[i].group);
            g_ptr_array_add(names, (gpointer)PROVIDERS_GROUP);
            g_ptr_array_add(names, NULL);
            const char *near = config_nearest(groups[g], (const char *const *)names->pdata);
            rc = ad_err_set(err, AD_ERR_CONFIG, "%s: unknown group [%s]%s%s%s", file, groups[g],
                            near ? " (did you mean [" : "", near ? near : "", near ? "]?)" : "");
            g_ptr_array_free(names, TRUE);
            break;
        }
        gsize n_keys = 0;
        char **keys = g_key_file_get_keys(kf, groups[g], &n_keys, NULL);
        for (gsize k = 0; keys && k < n_keys && rc == 0; k++) {
            const struct ckey *ck = find_key(groups[g], keys[k]);
            if (!ck) {
                GPtrArray *names = g_ptr_array_new();
                for (size_t i = 0; i < G_N_ELEMENTS(schema); i++)
                    if (!strcmp(schema[i].group, groups[g]))
                        g_ptr_array_add(names, (gpointer)schema[i].key);
                g_ptr_array_add(names, NULL);
                const char *near = config_nearest(keys[k], (const char *const *)names->pdata);
                rc = ad_err_set(err, AD_ERR_CONFIG, "%s: [%s] %s: unknown key%s%s%s", file,
                                groups[g], keys[k], near ? " (did you mean " : "",
                                near ? near : "", near ? "?)" : "");
                g_ptr_array_free(names, TRUE);
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
            explicit_bzero(v, strlen(v));
            g_free(v);
        }
        g_strfreev(keys);
    }
    g_strfreev(groups);
    if (rc == 0)
        rc = check_windows(cfg, file, err);
    if (rc == 0)
        rc = check_policy_counts(cfg, file, err);
    if (rc == 0)
        rc = check_policy_redis(cfg, file, err);
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
        if (rc && err)
            config_err_add_line(err->msg, sizeof err->msg, name, data, len);
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
    /* The file may hold secrets (SMTP password, webhook secret) that only the
     * delivery worker needs: no copy of them stays behind in freed memory. */
    explicit_bzero(data, len);
    g_free(data);
    if (rc == 0) {
        g_free(cfg->path);
        cfg->path = g_strdup(path);
    }
    if (rc == 0)
        rc = apply_env(cfg, err);
    return rc;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < G_N_ELEMENTS(schema); i++) {
        if (schema[i].type == CT_STRING || schema[i].type == CT_PATH || schema[i].type == CT_ENUM) {
            char **dst = (char **)((char *)cfg + schema[i].offset);
            g_free(*dst);
            *dst = NULL;
        } else if (schema[i].type >= CT_LIST) {
            free_list(cfg, &schema[i]);
        }
    }
    for (size_t i = 0; i < cfg->n_limits; i++)
        g_free(cfg->limits[i].name);
    g_free(cfg->limits);
    cfg->limits = NULL;
    cfg->n_limits = 0;
    for (size_t i = 0; i < cfg->n_providers; i++) {
        g_free(cfg->providers[i].domain);
        g_strfreev(cfg->providers[i].signers);
    }
    g_free(cfg->providers);
    cfg->providers = NULL;
    cfg->n_providers = 0;
    g_free(cfg->path);
    cfg->path = NULL;
}

void config_describe(FILE *out)
{
    static const char *const tnames[] = { "string", "path", "integer", "bytes", "boolean", "one of",
                                          "number", "duration", "list", "address list",
                                          "duration list", "number list" };
    const char *group = "";
    for (size_t i = 0; i < G_N_ELEMENTS(schema); i++) {
        const struct ckey *k = &schema[i];
        if (strcmp(group, k->group) != 0) {
            fprintf(out, "[%s]\n", k->group);
            group = k->group;
        }
        fprintf(out, "  %-18s %s%s%s (default %s)\n      %s\n", k->key, tnames[k->type],
                k->choices ? " " : "", k->choices ? k->choices : "", *k->def ? k->def : "empty",
                k->doc);
    }
    fprintf(out, "[providers]\n  DOMAIN = WEIGHT [manual|automatic|detect] [signed_by=D1,D2]\n"
                 "      one key per reporting provider (its domain; subdomains match too): the "
                 "weight its complaints get, whether they are made by people (manual), by "
                 "machines (automatic) or decided per report (detect, the default), and the "
                 "domains whose verified DKIM signature (or our MX's pass) proves a report came "
                 "from it (default: DOMAIN and its subdomains)\n");
    fprintf(out, "[limits:NAME]\n  msgs_per_hour, rcpts_per_hour, rcpts_per_day, "
                 "domains_per_hour\n      other soft limits for one account (SASL login or "
                 "sender address) or all accounts of a customer id; unset keys keep [policy]'s\n");
}

const char *config_host_addresses_problem(const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (!eq)
        return "expected HOST=ADDR[,ADDR...]";
    char *host = g_strstrip(g_strndup(entry, (size_t)(eq - entry)));
    bool host_ok = *host != '\0';
    g_free(host);
    if (!host_ok)
        return "the host name is empty";
    char **addrs = g_strsplit(eq + 1, ",", 0);
    const char *why = NULL;
    size_t n = 0;
    for (char **a = addrs; *a && !why; a++) {
        char *t = g_strstrip(*a);
        unsigned char buf[16];
        if (!*t)
            continue;
        if (inet_pton(AF_INET, t, buf) != 1 && inet_pton(AF_INET6, t, buf) != 1)
            why = "not an IP address";
        n++;
    }
    g_strfreev(addrs);
    return why ? why : n ? NULL : "no address";
}

/* web: the running configuration for the dashboard's admin view. */
static bool config_key_secret(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") || !strcmp(key, "conninfo")
           || !strcmp(key, "password_key");
}

void config_each_value(const struct config *cfg,
                       void (*fn)(const char *group, const char *key, const char *value,
                                  void *ctx),
                       void *ctx)
{
    for (size_t i = 0; i < G_N_ELEMENTS(schema); i++) {
        const struct ckey *k = &schema[i];
        const char *base = (const char *)cfg + k->offset;
        GString *v = g_string_new(NULL);
        size_t n = k->count_off ? *(const size_t *)((const char *)cfg + k->count_off) : 0;
        switch (k->type) {
        case CT_STRING:
        case CT_PATH:
        case CT_ENUM: {
            const char *sv = *(char *const *)base;
            if (sv && *sv && config_key_secret(k->key))
                g_string_append(v, "(set, not shown)");
            else
                g_string_append(v, sv ? sv : "");
            break;
        }
        case CT_INT:
            g_string_append_printf(v, "%d", *(const int *)base);
            break;
        case CT_SIZE:
            g_string_append_printf(v, "%zu", *(const size_t *)base);
            break;
        case CT_BOOL:
            g_string_append(v, *(const bool *)base ? "true" : "false");
            break;
        case CT_DOUBLE:
            g_string_append_printf(v, "%g", *(const double *)base);
            break;
        case CT_DURATION:
            g_string_append_printf(v, "%llds", *(const long long *)base);
            break;
        case CT_LIST: {
            char *const *l = *(char **const *)base;
            for (size_t j = 0; l && l[j]; j++)
                g_string_append_printf(v, "%s%s", j ? ";" : "", l[j]);
            break;
        }
        case CT_NETLIST: {
            char **l = k->offset == OFF(our_ips) ? cfg->our_ips_text : cfg->trusted_relays_text;
            for (size_t j = 0; l && l[j]; j++)
                g_string_append_printf(v, "%s%s", j ? ";" : "", l[j]);
            break;
        }
        case CT_DURLIST: {
            const long long *d = *(long long *const *)base;
            for (size_t j = 0; d && j < n; j++)
                g_string_append_printf(v, "%s%llds", j ? ";" : "", d[j]);
            break;
        }
        case CT_NUMLIST: {
            const double *d = *(double *const *)base;
            for (size_t j = 0; d && j < n; j++)
                g_string_append_printf(v, "%s%g", j ? ";" : "", d[j]);
            break;
        }
        }
        fn(k->group, k->key, v->str, ctx);
        g_string_free(v, TRUE);
    }
}
