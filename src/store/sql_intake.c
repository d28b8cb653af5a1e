/*
 * sql_intake.c: the statements of src/intake/intake.c (see sql_intake.h).
 */
#include "store/sql_intake.h"

const char intake_sql_mark_done[] = "UPDATE reports SET processed = 1 WHERE id = $1";

const char intake_sql_pending[] = "SELECT id, received_at, spool_path FROM reports WHERE processed = 0 ORDER BY id LIMIT 200";

