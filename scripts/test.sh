#!/usr/bin/env bash
# Runs the whole moec test suite: sets up and builds (scripts/setup.sh), runs
# the lit suite, then the moec Python package's pytest tests
# (python/tests), then the moe-opt tests again with --verify-roundtrip
# (every printed module must parse back to the same IR); then the sanitized
# leg: a second build of moec's code under AddressSanitizer and
# UndefinedBehaviorSanitizer (in $MOEC_SANITIZED_BUILD_DIR, default
# build-asan) and the lit suite and the pytest tests again against it
# (docs/Security.md), where a sanitizer report fails the test.
# MOEC_SANITIZED=0 leaves that leg out (a quicker run by hand; the summary
# says so).
# Lists the tests lit marked UNSUPPORTED (and pytest skipped), the
# round-trip and sanitized legs' own counts, and ends with the line
# "N passed, M failed, K skipped" over distinct tests: a test that fails in
# any leg is failed, and the re-runs are not counted again.
# Exits non-zero if anything failed.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_BUILD_DIR:-$root/build}
lit=/usr/lib/llvm-22/bin/lit

"$root/scripts/setup.sh" || { echo "0 passed, 1 failed"; exit 1; }

source "$root/scripts/test-lib.sh"
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

echo "== lit suite"
run_lit "$results/main" --param require_references=1 "$build/test"
echo "== Python package tests (pytest)"
run_pytest "$results/main" "$build" "$build/venv/bin/python"
echo "== moe-opt tests with --verify-roundtrip"
run_lit "$results/roundtrip" --param moe_opt_flags=--verify-roundtrip \
  "$build/test/dialect" "$build/test/passes" "$build/test/codegen"

legs=("$results/roundtrip.v")
if [ "${MOEC_SANITIZED:-1}" != 0 ]; then
  sbuild=${MOEC_SANITIZED_BUILD_DIR:-$root/build-asan}
  echo "== sanitized leg (ASan+UBSan): build in $sbuild"
  if build_sanitized "$sbuild" "$build/venv/bin/python"; then
    echo "== sanitized leg: lit suite"
    run_lit "$results/sanitized" "$sbuild/test"
    echo "== sanitized leg: Python package tests (pytest)"
    # shellcheck disable=SC2046
    run_pytest "$results/sanitized" "$sbuild" "$build/venv/bin/python" \
      $(sanitizer_env)
  else
    echo "FAIL sanitized build: $sbuild" > "$results/sanitized"
  fi
  verdicts "$results/sanitized" > "$results/sanitized.v"
  legs+=("$results/sanitized.v")
fi

verdicts "$results/main" > "$results/main.v"
verdicts "$results/roundtrip" > "$results/roundtrip.v"

echo "== summary"
echo "round-trip leg (re-runs of the moe-opt tests, not counted again below):" \
     "$(count passed "$results/roundtrip.v") passed," \
     "$(count failed "$results/roundtrip.v") failed"
if [ -f "$results/sanitized.v" ]; then
  echo "sanitized leg (re-runs under ASan+UBSan, not counted again below):" \
       "$(count passed "$results/sanitized.v") passed," \
       "$(count failed "$results/sanitized.v") failed," \
       "$(count skipped "$results/sanitized.v") skipped"
  if [ "$(count skipped "$results/sanitized.v")" -gt 0 ]; then
    echo "  not run in the sanitized leg (they need the normal build's fuzz" \
         "targets, sanitized libmoert copies or a GPU, or cannot run under ASan):"
    sed -n 's/^skipped /    /p' "$results/sanitized.v"
  fi
else
  echo "sanitized leg: not run (MOEC_SANITIZED=0)"
fi
merge_legs "$results/main.v" "${legs[@]}" > "$results/all.v"
failure_tails "$results/main.why" "$results/roundtrip.why" \
  "$results/sanitized.why"
summarize "$results/all.v"
