/*
 * sql_cli_desk.c: the statements of src/cli/cmd_desk.c (see sql_cli_desk.h).
 */
#include "store/sql_cli_desk.h"

const char cli_desk_sql_explain_attr[] =
    "SELECT status, subject_kind, subject, account, script, customer_id, source_ip, reason,"
    " evidence FROM attributions WHERE report_id = $1";

const char cli_desk_sql_explain_score[] = "SELECT total, counted, manual, provider, message_id, at, terms FROM scores WHERE report_id = $1";

const char cli_desk_sql_explain_senders[] =
    "SELECT subject_kind, subject FROM complaints WHERE report_id = $1"
    " ORDER BY CASE subject_kind WHEN 'account' THEN 1 WHEN 'script' THEN 2"
    " WHEN 'customer' THEN 3 ELSE 4 END";

const char cli_desk_sql_explain_incident[] = "SELECT incident_id FROM incident_reports WHERE report_id = $1 ORDER BY incident_id";

