/*
 * store_sql.c: the text of every SQL statement the store runs (see store_sql.h).
 * Kept apart from the SQLite glue so that another backend reuses the same text.
 */
#include "store_sql.h"

const char *const store_sql_migrations[] = {
    /* 1: reports with their raw message, parsed fields and status. */
    "CREATE TABLE reports ("
    "  id INTEGER PRIMARY KEY,"
    "  sha256 TEXT NOT NULL UNIQUE,"
    "  received_at TEXT NOT NULL,"
    "  source TEXT,"
    "  spool_path TEXT,"
    "  size BIGINT NOT NULL,"
    "  raw BLOB,"
    "  raw_encoding TEXT NOT NULL DEFAULT 'identity',"
    "  kind TEXT NOT NULL,"
    "  format TEXT,"
    "  feedback_type TEXT,"
    "  subject TEXT,"
    "  from_addr TEXT,"
    "  source_ip TEXT,"
    "  original_message_id TEXT,"
    "  parsed TEXT NOT NULL,"
    "  status TEXT NOT NULL"
    ");"
    "CREATE INDEX reports_kind ON reports (kind, id);"
    "CREATE INDEX reports_orig_msgid ON reports (original_message_id);",

    /* 2: the abuse desk: customer directory, attribution, scores, complaints per
     * sender, incidents and their audit log. Times are Unix seconds (UTC). */
    "CREATE TABLE customers ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  contact_email TEXT NOT NULL,"
    "  language TEXT NOT NULL,"
    "  updated_at BIGINT NOT NULL"
    ");"
    "CREATE TABLE accounts ("
    "  name TEXT PRIMARY KEY,"
    "  customer_id TEXT NOT NULL REFERENCES customers (id)"
    ");"
    "CREATE INDEX accounts_customer ON accounts (customer_id);"
    "CREATE TABLE domains ("
    "  domain TEXT PRIMARY KEY,"
    "  customer_id TEXT NOT NULL REFERENCES customers (id)"
    ");"
    "CREATE TABLE scripts ("
    "  uid TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  customer_id TEXT NOT NULL REFERENCES customers (id),"
    "  PRIMARY KEY (uid, path)"
    ");"
    "CREATE TABLE attributions ("
    "  report_id BIGINT PRIMARY KEY REFERENCES reports (id),"
    "  status TEXT NOT NULL,"
    "  subject_kind TEXT,"
    "  subject TEXT,"
    "  account TEXT,"
    "  script TEXT,"
    "  customer_id TEXT,"
    "  source_ip TEXT,"
    "  reason TEXT,"
    "  evidence TEXT NOT NULL"
    ");"
    "CREATE TABLE scores ("
    "  report_id BIGINT PRIMARY KEY REFERENCES reports (id),"
    "  total DOUBLE PRECISION NOT NULL,"
    "  counted INTEGER NOT NULL,"
    "  manual INTEGER,"
    "  provider TEXT,"
    "  message_id TEXT,"
    "  at BIGINT NOT NULL,"
    "  terms TEXT NOT NULL"
    ");"
    "CREATE INDEX scores_msgid ON scores (message_id);"
    "CREATE TABLE complaints ("
    "  report_id BIGINT NOT NULL REFERENCES reports (id),"
    "  subject_kind TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  at BIGINT NOT NULL,"
    "  score DOUBLE PRECISION NOT NULL,"
    "  counted INTEGER NOT NULL,"
    "  PRIMARY KEY (report_id, subject_kind)"
    ");"
    "CREATE INDEX complaints_subject ON complaints (subject_kind, subject, at);"
    "CREATE TABLE incidents ("
    "  id INTEGER PRIMARY KEY,"
    "  subject_kind TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  customer_id TEXT,"
    "  account TEXT,"
    "  state TEXT NOT NULL,"
    "  stage TEXT NOT NULL,"
    "  initial_score DOUBLE PRECISION NOT NULL,"
    "  score DOUBLE PRECISION NOT NULL,"
    "  complaints INTEGER NOT NULL,"
    "  repeat_offender INTEGER NOT NULL DEFAULT 0,"
    "  first_seen BIGINT,"
    "  last_seen BIGINT,"
    "  opened_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  closed_at BIGINT"
    ");"
    "CREATE INDEX incidents_subject ON incidents (subject_kind, subject, state);"
    "CREATE INDEX incidents_customer ON incidents (customer_id, opened_at);"
    "CREATE TABLE incident_reports ("
    "  incident_id BIGINT NOT NULL REFERENCES incidents (id),"
    "  report_id BIGINT NOT NULL REFERENCES reports (id),"
    "  PRIMARY KEY (incident_id, report_id)"
    ");"
    "CREATE INDEX incident_reports_report ON incident_reports (report_id);"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY,"
    "  at BIGINT NOT NULL,"
    "  incident_id BIGINT,"
    "  report_id BIGINT,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  detail TEXT"
    ");"
    "CREATE INDEX audit_incident ON audit (incident_id, id);"
    "ALTER TABLE reports ADD COLUMN processed INTEGER NOT NULL DEFAULT 0;",

    /* 3: the lifecycle: locks the enforcement points read, hook jobs and mails
     * waiting to go out (written in the same transaction as the decision, so a
     * crash loses none), password changes, customer replies. */
    "CREATE TABLE locks ("
    "  id INTEGER PRIMARY KEY,"
    "  subject_kind TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  customer_id TEXT,"
    "  incident_id BIGINT REFERENCES incidents (id),"
    "  reason TEXT,"
    "  locked_at BIGINT NOT NULL,"
    "  locked_by TEXT NOT NULL,"
    "  unlocked_at BIGINT,"
    "  unlocked_by TEXT,"
    "  unlock_reason TEXT"
    ");"
    "CREATE INDEX locks_subject ON locks (subject, unlocked_at);"
    "CREATE TABLE hook_jobs ("
    "  id INTEGER PRIMARY KEY,"
    "  incident_id BIGINT,"
    "  kind TEXT NOT NULL,"
    "  event TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  idem_key TEXT NOT NULL UNIQUE,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  created_at BIGINT NOT NULL,"
    "  next_at BIGINT NOT NULL,"
    "  last_error TEXT,"
    "  done_at BIGINT,"
    "  failed INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX hook_jobs_due ON hook_jobs (done_at, failed, next_at);"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY,"
    "  incident_id BIGINT,"
    "  kind TEXT NOT NULL,"
    "  template TEXT NOT NULL,"
    "  rcpt TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  message_id TEXT NOT NULL UNIQUE,"
    "  message TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  created_at BIGINT NOT NULL,"
    "  next_at BIGINT NOT NULL,"
    "  last_error TEXT,"
    "  sent_at BIGINT,"
    "  failed INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX outbox_due ON outbox (sent_at, failed, next_at);"
    "CREATE INDEX outbox_incident ON outbox (incident_id);"
    "CREATE TABLE password_events ("
    "  id INTEGER PRIMARY KEY,"
    "  account TEXT NOT NULL,"
    "  at BIGINT NOT NULL,"
    "  fingerprint TEXT,"
    "  refused INTEGER NOT NULL DEFAULT 0,"
    "  recorded_at BIGINT NOT NULL"
    ");"
    "CREATE INDEX password_events_account ON password_events (account, at);"
    "CREATE TABLE incident_replies ("
    "  incident_id BIGINT NOT NULL REFERENCES incidents (id),"
    "  report_id BIGINT NOT NULL REFERENCES reports (id),"
    "  at BIGINT NOT NULL,"
    "  PRIMARY KEY (incident_id, report_id)"
    ");"
    "ALTER TABLE incidents ADD COLUMN locked_at BIGINT;"
    /* when a reopened incident had been resolved: its complaints up to then were
     * dealt with and do not count in the windows again */
    "ALTER TABLE incidents ADD COLUMN resolved_before BIGINT;",

    /* 4: trust. Who vouched for each report (our MX's Authentication-Results or
     * a DKIM signature we verified) and which configured provider that proves;
     * only authenticated complaints count toward a lock. Duplicates are found
     * by reporter, recipient and original message, not by a header the spammer
     * writes. Replies are kept with how far they were verified; notices that
     * bounced are marked. */
    "ALTER TABLE scores ADD COLUMN authenticated INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE scores ADD COLUMN reporter_how TEXT;"
    "ALTER TABLE scores ADD COLUMN dedup_key TEXT;"
    "CREATE INDEX scores_dedup ON scores (dedup_key);"
    "ALTER TABLE complaints ADD COLUMN authenticated INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE incidents ADD COLUMN trusted INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE incidents ADD COLUMN team_mail_at BIGINT;"
    "ALTER TABLE incident_replies ADD COLUMN verdict TEXT NOT NULL DEFAULT 'verified';"
    "ALTER TABLE outbox ADD COLUMN bounced_at BIGINT;"
    "ALTER TABLE outbox ADD COLUMN bounce_report BIGINT;",

    /* webroot: 5: the root directory of a web space (directory import's webroot
     * column), on the uid's own scripts row (path ''); NULL when not known. */
    "ALTER TABLE scripts ADD COLUMN webroot TEXT;",

    /* 6: one incident per sender: incidents the team merged point to the one
     * that took them over. */
    "ALTER TABLE incidents ADD COLUMN merged_into BIGINT;",

    /* 7: the policy server's findings, queued for the desk worker (the policy
     * server renders nothing and holds no secrets). A lock it decides is a
     * locks row at once (every policy server enforces it); the desk worker
     * files the event into the account's incident and links the lock. */
    "CREATE TABLE policy_events ("
    "  id INTEGER PRIMARY KEY,"
    "  at BIGINT NOT NULL,"
    "  account TEXT NOT NULL,"
    "  stage TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  decided_by TEXT NOT NULL,"
    "  lock_id BIGINT,"
    "  processed_at BIGINT,"
    "  incident_id BIGINT"
    ");"
    "CREATE INDEX policy_events_pending ON policy_events (processed_at, id);",
    /* rbl: the DNSBL listings of our outbound addresses (src/store/store_rbl.c):
     * one row per period an address was listed on a zone (listed_at is the
     * `since` shown; delisted_at set by the first check that sees it clean),
     * and one event row per listing and delisting. Rows are never deleted:
     * they are the history. At most one open listing per address and zone. */
    "CREATE TABLE rbl_listings ("
    "  id INTEGER PRIMARY KEY,"
    "  address TEXT NOT NULL,"
    "  zone TEXT NOT NULL,"
    "  codes TEXT NOT NULL,"
    "  text TEXT,"
    "  listed_at BIGINT NOT NULL,"
    "  last_seen BIGINT NOT NULL,"
    "  delisted_at BIGINT"
    ");"
    "CREATE UNIQUE INDEX rbl_listings_open ON rbl_listings (address, zone)"
    " WHERE delisted_at IS NULL;"
    "CREATE TABLE rbl_events ("
    "  id INTEGER PRIMARY KEY,"
    "  listing_id BIGINT NOT NULL REFERENCES rbl_listings (id),"
    "  at BIGINT NOT NULL,"
    "  event TEXT NOT NULL,"
    "  address TEXT NOT NULL,"
    "  zone TEXT NOT NULL,"
    "  codes TEXT,"
    "  text TEXT"
    ");"
    "CREATE INDEX rbl_events_address ON rbl_events (address, at);",

    /* 9..14: this round's lines of work, built side by side, each in the slot
     * it was given. */
    /* 9: the outbound log (src/store/store_outbound.c): one row per message
     * the milter saw leave, with a keyed 64-bit hash of its Message-ID (never
     * the Message-ID itself), who sent it (the account or "uid:script") and
     * when; pruned after [outbound] log_days. Milter counts live in memory;
     * script locks are rows of locks (subject "uid:path"); BATV needs no
     * table. */
    "CREATE TABLE outbound_log ("
    "  id INTEGER PRIMARY KEY,"
    "  h BIGINT NOT NULL,"
    "  at BIGINT NOT NULL,"
    "  sender TEXT NOT NULL"
    ");"
    "CREATE INDEX outbound_log_h ON outbound_log (h);"
    "CREATE INDEX outbound_log_at ON outbound_log (at);",
    /* 10: DMARC aggregate reports and domain audit results
     * (src/store/store_audit.c): one dmarc_reports row per report (unique by
     * reporter, report id and domain: a report sent twice counts once) with
     * its rows, each marked ours when the source address is one of our own;
     * one domain_audits row per domain and audit run (the records seen and the
     * findings' keys), so that a later run tells what changed. */
    "CREATE TABLE dmarc_reports ("
    "  id INTEGER PRIMARY KEY,"
    "  report_key TEXT NOT NULL,"
    "  org_name TEXT,"
    "  email TEXT,"
    "  report_id TEXT,"
    "  domain TEXT NOT NULL,"
    "  begin_at BIGINT NOT NULL,"
    "  end_at BIGINT NOT NULL,"
    "  policy TEXT,"
    "  received_at BIGINT NOT NULL,"
    "  source_report BIGINT,"
    "  customer_id TEXT,"
    "  total BIGINT NOT NULL,"
    "  forged BIGINT NOT NULL,"
    "  incident_id BIGINT"
    ");"
    "CREATE UNIQUE INDEX dmarc_reports_key ON dmarc_reports (report_key);"
    "CREATE INDEX dmarc_reports_domain ON dmarc_reports (domain, end_at);"
    "CREATE TABLE dmarc_rows ("
    "  id INTEGER PRIMARY KEY,"
    "  dmarc_id BIGINT NOT NULL REFERENCES dmarc_reports (id),"
    "  source_ip TEXT NOT NULL,"
    "  messages BIGINT NOT NULL,"
    "  disposition TEXT,"
    "  dkim TEXT,"
    "  spf TEXT,"
    "  header_from TEXT,"
    "  envelope_from TEXT,"
    "  dkim_domain TEXT,"
    "  dkim_result TEXT,"
    "  spf_domain TEXT,"
    "  spf_result TEXT,"
    "  ours INTEGER NOT NULL"
    ");"
    "CREATE INDEX dmarc_rows_report ON dmarc_rows (dmarc_id);"
    "CREATE TABLE domain_audits ("
    "  id INTEGER PRIMARY KEY,"
    "  domain TEXT NOT NULL,"
    "  checked_at BIGINT NOT NULL,"
    "  spf TEXT,"
    "  dmarc TEXT,"
    "  mx TEXT,"
    "  findings TEXT NOT NULL"
    ");"
    "CREATE INDEX domain_audits_domain ON domain_audits (domain, checked_at);",
    /* 11: listing incidents, outbound address per message, feed health.
     * outbound_counts (store_outbound_counts.c): mails per hour (its first
     * second), outbound address and sender (kind account or script), summed
     * from the policy server's batched deltas: who sent through an address
     * before it was listed. reputation_alerts (store_listing.c): the
     * monitor's alerts that are not incidents, one row per episode (a bounce
     * rise on an address, a feed silent or failing), closed when it ends.
     * Incidents of kind listing are rows of incidents (subject_kind
     * 'listing', subject the address). reports_received: the monitor reads
     * the reports of a time span every round. */
    "CREATE TABLE outbound_counts ("
    "  hour BIGINT NOT NULL,"
    "  address TEXT NOT NULL,"
    "  sender_kind TEXT NOT NULL,"
    "  sender TEXT NOT NULL,"
    "  msgs BIGINT NOT NULL,"
    "  rcpts BIGINT NOT NULL,"
    "  PRIMARY KEY (hour, address, sender_kind, sender)"
    ");"
    "CREATE INDEX outbound_counts_address ON outbound_counts (address, hour);"
    "CREATE TABLE reputation_alerts ("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  opened_at BIGINT NOT NULL,"
    "  closed_at BIGINT,"
    "  detail TEXT"
    ");"
    "CREATE INDEX reputation_alerts_subject ON reputation_alerts (kind, subject, opened_at);"
    "CREATE INDEX reports_received ON reports (received_at);",
    /* 12: the dashboard's people (src/store/store_web.c): users with a role
     * and an argon2id password hash, API tokens and login sessions kept only
     * as BLAKE2b digests of the secret the client holds, each session with its
     * CSRF token and an expiry. */
    "CREATE TABLE web_users ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL,"
    "  pwhash TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  last_login BIGINT"
    ");"
    "CREATE TABLE web_tokens ("
    "  id INTEGER PRIMARY KEY,"
    "  user_id BIGINT NOT NULL REFERENCES web_users (id),"
    "  digest TEXT NOT NULL UNIQUE,"
    "  created_at BIGINT NOT NULL,"
    "  last_used BIGINT"
    ");"
    "CREATE TABLE web_sessions ("
    "  id INTEGER PRIMARY KEY,"
    "  user_id BIGINT NOT NULL REFERENCES web_users (id),"
    "  digest TEXT NOT NULL UNIQUE,"
    "  csrf TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  expires_at BIGINT NOT NULL"
    ");"
    "CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);",
    /* 13: per-customer sending limits from the directory (NULL: the
     * configured ones; the partial index lets the policy server read only
     * the customers that have some), retention (purged reports), held mail. */
    "ALTER TABLE customers ADD COLUMN limit_msgs_hour BIGINT;"
    "ALTER TABLE customers ADD COLUMN limit_rcpts_hour BIGINT;"
    "ALTER TABLE customers ADD COLUMN limit_rcpts_day BIGINT;"
    "ALTER TABLE customers ADD COLUMN limit_domains_hour BIGINT;"
    "CREATE INDEX customers_limited ON customers (id) WHERE limit_msgs_hour IS NOT NULL"
    " OR limit_rcpts_hour IS NOT NULL OR limit_rcpts_day IS NOT NULL"
    " OR limit_domains_hour IS NOT NULL;"
    /* retention: when a report's raw message and personal fields were purged
     * (src/store/store_purge.c); NULL while they are kept */
    "ALTER TABLE reports ADD COLUMN purged_at BIGINT;"
    "CREATE INDEX reports_unpurged ON reports (id) WHERE purged_at IS NULL;"
    /* held mail: what should become of an account's mail in Postfix's hold
     * queue once its incident ended (release or delete), written with the
     * decision and carried out by `abusedesk held run` as root */
    "CREATE TABLE held_actions ("
    "  id INTEGER PRIMARY KEY,"
    "  account TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  incident_id BIGINT,"
    "  requested_at BIGINT NOT NULL,"
    "  requested_by TEXT NOT NULL,"
    "  done_at BIGINT,"
    "  n_messages BIGINT,"
    "  result TEXT"
    ");"
    "CREATE INDEX held_actions_pending ON held_actions (done_at, id);",
    /* 14: replay clock and decisions: which reports `ingest --replay` stored
     * (1: their mails and hooks held back, 2: with --notify; the newest
     * filing time, which a replay may not go back before, uses slot 11's
     * reports_received), and an index of the reports the desk worker has
     * still to file: without it each pass
     * walked every processed report (and its raw message) before the first
     * pending one, quadratic in a month's replay. */
    "ALTER TABLE reports ADD COLUMN replay INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX reports_pending ON reports (id) WHERE processed = 0;",
    /* 15: each policy server's own figures (src/store/store_policy.c), for the
     * dashboard's /metrics: answers by action and the decision time
     * histogram, counted since that process started, as JSON, one row per
     * server (host and listen address), replaced every 10 seconds. */
    "CREATE TABLE policy_stats ("
    "  server TEXT PRIMARY KEY,"
    "  updated_at BIGINT NOT NULL,"
    "  stats TEXT NOT NULL"
    ");",
    /* 16: what the spam-run rule (src/incident/incident.c) reads of each
     * complaint: the reporting provider, whether the mail was marked as sent
     * to a list, and the network it was sent from (NULL: unknown). */
    "ALTER TABLE complaints ADD COLUMN provider TEXT;"
    "ALTER TABLE complaints ADD COLUMN bulk INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE complaints ADD COLUMN client_net TEXT;",
};
const unsigned store_sql_n_migrations = sizeof(store_sql_migrations) / sizeof(store_sql_migrations[0]);

const char store_sql_version_table[] =
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)";
const char store_sql_version_get[] = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
const char store_sql_version_set[] = "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)";

const char store_sql_report_find[] = "SELECT id FROM reports WHERE sha256 = $1";
const char store_sql_report_insert[] =
    "INSERT INTO reports (sha256, received_at, source, spool_path, size, raw, raw_encoding,"
    " kind, format, feedback_type, subject, from_addr, source_ip, original_message_id,"
    " parsed, status)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    " ON CONFLICT (sha256) DO NOTHING RETURNING id";

#define REPORT_COLS_BASE \
    "id, sha256, received_at, source, kind, format, feedback_type, subject, from_addr," \
    " source_ip, status, parsed, spool_path, size, "
#define REPORT_COLS REPORT_COLS_BASE "raw, raw_encoding"
/* Listings skip the raw message: it is only read for one report at a time. */
#define REPORT_COLS_LIST REPORT_COLS_BASE "NULL, raw_encoding"

const char store_sql_report_get[] = "SELECT " REPORT_COLS " FROM reports WHERE id = $1";
const char store_sql_reports_all[] =
    "SELECT " REPORT_COLS_LIST " FROM reports ORDER BY id DESC LIMIT $1";
const char store_sql_reports_kind[] =
    "SELECT " REPORT_COLS_LIST " FROM reports WHERE kind = $1 ORDER BY id DESC LIMIT $2";
const char store_sql_reports_count[] =
    "SELECT kind, COUNT(*) FROM reports GROUP BY kind ORDER BY kind";
