# tests/lib/check.sh: sourceable. The assertions of a script test, one line
# each ("ok   NAME" or "FAIL NAME: got X, want Y"), counted in $fails (kept
# when the test counted some before sourcing this):
#   check NAME GOT WANT     equal strings
#   has NAME TEXT NEEDLE    TEXT contains NEEDLE (fixed string)
#   lacks NAME TEXT NEEDLE  TEXT does not contain NEEDLE (also named hasnt)
#   has_re, lacks_re        the same with a regular expression (grep)
#   check_done WHAT         prints the summary; exit 1 when something failed
fails=${fails:-0}

check() { # name got want
  if [ "$2" != "$3" ]; then echo "FAIL $1: got '$2', want '$3'"; fails=$((fails + 1)); else echo "ok   $1"; fi
}

has() { # name text needle
  if grep -qF -- "$3" <<<"$2"; then echo "ok   $1"; else echo "FAIL $1: no '$3' in: $(head -c 600 <<<"$2")"; fails=$((fails + 1)); fi
}

lacks() { # name text needle
  if grep -qF -- "$3" <<<"$2"; then echo "FAIL $1: '$3' found in: $(grep -F -- "$3" <<<"$2" | head -c 400)"; fails=$((fails + 1)); else echo "ok   $1"; fi
}

hasnt() { lacks "$@"; }

check_done() { # what
  if [ "$fails" -eq 0 ]; then echo "all $1 tests passed"; else echo "$fails failed"; exit 1; fi
}

has_re() { # name text pattern: grep's basic regular expression
  if grep -q -- "$3" <<<"$2"; then echo "ok   $1"; else echo "FAIL $1: no '$3' in: $(head -c 600 <<<"$2")"; fails=$((fails + 1)); fi
}

lacks_re() { # name text pattern
  if grep -q -- "$3" <<<"$2"; then echo "FAIL $1: '$3' in: $(head -c 600 <<<"$2")"; fails=$((fails + 1)); else echo "ok   $1"; fi
}
