#!/usr/bin/env bash
# Runs the whole moec test suite: sets up and builds (scripts/setup.sh), runs
# the lit suite, then the moe-opt tests again with --verify-roundtrip (every
# printed module must parse back to the same IR), then the moec Python
# package's pytest tests (python/tests). Lists the tests lit marked
# UNSUPPORTED (and pytest skipped) and the round-trip leg's own counts, and
# ends with the line
# "N passed, M failed, K skipped" over distinct tests: a test that fails in
# either leg is failed, and the round-trip re-runs are not counted again.
# Exits non-zero if anything failed.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_BUILD_DIR:-$root/build}
lit=/usr/lib/llvm-22/bin/lit

"$root/scripts/setup.sh" || { echo "0 passed, 1 failed"; exit 1; }

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

# Runs lit with the given arguments; writes "STATUS NAME" per test to $1.
run_lit() {
  local list=$1 log
  shift
  log=$(mktemp)
  "$lit" -v --param require_references=1 "$@" | tee "$log"
  local status=${PIPESTATUS[0]}
  sed -nE 's/^([A-Z]+): moec :: (.+) \([0-9]+ of [0-9]+\)$/\1 \2/p' "$log" \
    > "$list"
  # A lit run that dies before its summary, or fails without saying which
  # test, still counts as a failure.
  if ! grep -qE '^Total Discovered Tests' "$log" ||
     { [ "$status" -ne 0 ] && ! grep -qvE '^(PASS|XFAIL|UNSUPPORTED) ' "$list"; }; then
    echo "FAIL lit run: $*" >> "$list"
  fi
  rm -f "$log"
}

echo "== lit suite"
run_lit "$results/main" "$build/test"
# Runs the Python package's tests with pytest; appends "STATUS NAME" per
# test to $1 in lit's words, names prefixed with python/tests/.
run_pytest() {
  local list=$1 log
  log=$(mktemp)
  (cd "$build" && PYTHONPATH="$build/python" "$build/venv/bin/python" -m pytest \
     -v -p no:cacheprovider "$root/python/tests") 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  sed -nE 's#^.*/(python/tests/[^ ]+::[^ ]+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)( .*)?$#\2 \1#p' "$log" |
    sed -E 's/^PASSED /PASS /; s/^(FAILED|ERROR) /FAIL /; s/^SKIPPED /UNSUPPORTED /' \
    >> "$list"
  # pytest that fails without naming a test (an import error, a collection
  # error) still counts as a failure.
  if [ "$status" -ne 0 ] && ! grep -qE '^FAIL python/' "$list"; then
    echo "FAIL pytest run: python/tests" >> "$list"
  fi
  rm -f "$log"
}
echo "== Python package tests (pytest)"
run_pytest "$results/main"
echo "== moe-opt tests with --verify-roundtrip"
run_lit "$results/roundtrip" --param moe_opt_flags=--verify-roundtrip \
  "$build/test/dialect" "$build/test/passes" "$build/test/codegen"

# PASS and XFAIL count as passed; FAIL, XPASS, UNRESOLVED and TIMEOUT as
# failed; UNSUPPORTED as skipped.
verdicts() {
  awk '{ name = $0; sub(/^[A-Z]+ /, "", name)
         if ($1 == "PASS" || $1 == "XFAIL") v = "passed"
         else if ($1 == "UNSUPPORTED") v = "skipped"
         else v = "failed"
         print v, name }' "$1"
}
verdicts "$results/main" > "$results/main.v"
verdicts "$results/roundtrip" > "$results/roundtrip.v"
count() { grep -c "^$1 " "$2" || true; }

echo "== summary"
echo "round-trip leg (re-runs of the moe-opt tests, not counted again below):" \
     "$(count passed "$results/roundtrip.v") passed," \
     "$(count failed "$results/roundtrip.v") failed"
# A test is failed when either leg failed it.
awk 'NR == FNR { if ($1 == "failed") { n = $0; sub(/^failed /, "", n); bad[n] = 1 }; next }
     { n = $0; sub(/^[a-z]+ /, "", n); if (bad[n]) { print "failed", n } else print }' \
  "$results/roundtrip.v" "$results/main.v" > "$results/all.v"
# Round-trip failures of tests the main leg did not list (a dead lit run).
awk 'NR == FNR { n = $0; sub(/^[a-z]+ /, "", n); seen[n] = 1; next }
     $1 == "failed" { n = $0; sub(/^failed /, "", n); if (!seen[n]) print }' \
  "$results/main.v" "$results/roundtrip.v" >> "$results/all.v"
skipped=$(count skipped "$results/all.v")
if [ "$skipped" -gt 0 ]; then
  echo "skipped (lit UNSUPPORTED, pytest SKIPPED: a feature they need is missing here):"
  sed -n 's/^skipped /  /p' "$results/all.v"
fi
if grep -q '^failed ' "$results/all.v"; then
  echo "failed:"
  sed -n 's/^failed /  /p' "$results/all.v"
fi
passed=$(count passed "$results/all.v")
failed=$(count failed "$results/all.v")
# A suite that ran nothing has failed, whatever lit said.
if [ "$passed" -eq 0 ]; then
  echo "no test passed: the lit runs above did not run the suite"
  failed=$((failed + 1))
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
