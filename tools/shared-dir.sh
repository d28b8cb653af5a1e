#!/usr/bin/env bash
# tools/shared-dir.sh: prints the shared/ folder (the real-mail corpus and the
# benchmark tools) the build, tests and benchmarks use: $AD_SHARED_DIR when set,
# else shared/ beside this checkout, else shared/ beside the repository this
# checkout was cloned from (a clone in /tmp of a checkout that sits beside
# shared/). Prints the first candidate (which may not exist) when none has a
# corpus, so that callers' messages name a path.
top=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${AD_SHARED_DIR:-}" ]; then
  echo "$AD_SHARED_DIR"
  exit 0
fi
cands=("$top/../shared")
origin=$(git -C "$top" config --get remote.origin.url 2>/dev/null || true)
case "$origin" in
  /*) cands+=("$origin/../shared") ;;
  file://*) cands+=("${origin#file://}/../shared") ;;
esac
for c in "${cands[@]}"; do
  if [ -f "$c/corpus/MANIFEST.tsv" ]; then
    (cd "$c" && pwd)
    exit 0
  fi
done
echo "${cands[0]}"
