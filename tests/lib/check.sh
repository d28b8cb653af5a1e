# tests/lib/check.sh: the assertions of the script tests. Each prints "ok   NAME"
# or "FAIL NAME: ..." and counts failures in $fails (the test ends with
# [ "$fails" = 0 ]).
#   check NAME GOT WANT      GOT and WANT are the same string
#   has NAME TEXT PATTERN    grep finds PATTERN in TEXT
#   hasnt NAME TEXT PATTERN  grep does not find PATTERN in TEXT
fails=${fails:-0}
check() {
  if [ "$2" != "$3" ]; then
    echo "FAIL $1: got '$2', want '$3'"
    fails=$((fails + 1))
  else
    echo "ok   $1"
  fi
}
has() {
  if grep -q -- "$3" <<<"$2"; then
    echo "ok   $1"
  else
    echo "FAIL $1: no '$3' in: $(head -c 600 <<<"$2")"
    fails=$((fails + 1))
  fi
}
hasnt() {
  if grep -q -- "$3" <<<"$2"; then
    echo "FAIL $1: '$3' in: $(head -c 600 <<<"$2")"
    fails=$((fails + 1))
  else
    echo "ok   $1"
  fi
}
