#!/usr/bin/env bash
# Runs the whole moec test suite: sets up and builds (scripts/setup.sh), runs
# the lit suite, then the moe-opt tests again with --verify-roundtrip (every
# printed module must parse back to the same IR). Ends with the line
# "N passed, M failed" and exits non-zero if anything failed.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_BUILD_DIR:-$root/build}
lit=/usr/lib/llvm-22/bin/lit

"$root/scripts/setup.sh" || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
# Adds the counts of one lit run's summary to the totals.
tally() {
  local out=$1 n
  n=$(grep -E '^ *Passed *:' "$out" | grep -oE '[0-9]+' | head -1)
  passed=$((passed + ${n:-0}))
  for kind in 'Failed' 'Unresolved' 'Timed Out' 'Unexpectedly Passed'; do
    n=$(grep -E "^ *$kind *:" "$out" | grep -oE '[0-9]+' | head -1)
    failed=$((failed + ${n:-0}))
  done
}

run_lit() {
  local out
  out=$(mktemp)
  "$lit" -v --param require_onnxruntime=1 "$@" | tee "$out"
  local status=${PIPESTATUS[0]}
  tally "$out"
  # A lit run that dies before its summary still counts as a failure.
  grep -qE '^Total Discovered Tests' "$out" || failed=$((failed + 1))
  [ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=$((failed + 1))
  rm -f "$out"
}

echo "== lit suite"
run_lit "$build/test"
echo "== moe-opt tests with --verify-roundtrip"
run_lit --param moe_opt_flags=--verify-roundtrip \
  "$build/test/dialect" "$build/test/passes" "$build/test/codegen"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
