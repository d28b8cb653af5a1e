#!/usr/bin/env bash
# tests/adversarial.sh: the attacks of tests/adversarial/ (forged
# Authentication-Results from a customer's web host, a BCC spam run that tries
# to count once, ticket-number scanning to mail-bomb the team, DKIM signatures
# whose keys never answer, terminal and notice text injection, huge headers),
# each of which once worked; every one must now fail.
set -uo pipefail
top=${AD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
export AD_BINARY=${AD_BINARY:-$top/build/abusedesk}
exec bash "$top/tests/adversarial/run_all.sh"
