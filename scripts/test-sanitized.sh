#!/usr/bin/env bash
# Runs the sanitized leg of the suite (scripts/test.sh runs it too, after
# the normal legs) on its own: scripts/setup.sh first (packages, the Python
# environment and the normal build, whose venv the tests use), then a
# second build of moec's code in $MOEC_SANITIZED_BUILD_DIR (default
# build-asan) under AddressSanitizer and UndefinedBehaviorSanitizer
# (docs/Security.md), then the lit suite and the Python package's pytest
# tests against it. Every library and tool of the project is instrumented
# and takes the sanitizers' shared runtime; upstream MLIR and LLVM are not.
# The tests preload that runtime into every process (test/lit.cfg.py), a
# report ends the process with exit code 86, and moec's tools also look for
# leaks. The fuzz targets and the sanitized copies of libmoert are the
# normal build's (tests that need them are unsupported here). Arguments go
# to lit instead of the whole suite, and leave pytest out (e.g.
# scripts/test-sanitized.sh build-asan/test/runtime).
# Ends with "N passed, M failed, K skipped"; exits non-zero if anything
# failed.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_SANITIZED_BUILD_DIR:-$root/build-asan}
python=${MOEC_BUILD_DIR:-$root/build}/venv/bin/python
lit=/usr/lib/llvm-22/bin/lit

"$root/scripts/setup.sh" || { echo "0 passed, 1 failed"; exit 1; }
source "$root/scripts/test-lib.sh"

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
if ! build_sanitized "$build" "$python"; then
  echo "0 passed, 1 failed"
  exit 1
fi
if [ $# -gt 0 ]; then
  run_lit "$results/sanitized" "$@"
else
  run_lit "$results/sanitized" "$build/test"
  # shellcheck disable=SC2046
  run_pytest "$results/sanitized" "$build" "$python" $(sanitizer_env)
fi
verdicts "$results/sanitized" > "$results/all.v"
failure_tails "$results/sanitized.why"
summarize "$results/all.v"
