#!/usr/bin/env bash
# Runs the lit suite against a build of moec's code under AddressSanitizer
# and UndefinedBehaviorSanitizer (docs/Security.md): scripts/setup.sh first
# (packages, the Python environment and the normal build, whose venv the
# tests use), then a second build in $MOEC_SANITIZED_BUILD_DIR (default
# build-asan) configured with LLVM_USE_SANITIZER=Address;Undefined. Every
# library and tool of the project is instrumented and takes the
# sanitizers' shared runtime; upstream MLIR and LLVM are not. The tests
# preload that runtime into every process (test/lit.cfg.py), a report ends
# the process with exit code 86, and moec's tools also look for leaks.
# The fuzz targets and the sanitized copies of libmoert are the normal
# build's (tests that need them are unsupported here). Extra arguments go to
# lit (e.g. a test directory: scripts/test-sanitized.sh build-asan/test/runtime).
# Ends with "N passed, M failed, K skipped"; exits non-zero if anything
# failed.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_SANITIZED_BUILD_DIR:-$root/build-asan}
venv=${MOEC_BUILD_DIR:-$root/build}/venv
lit=/usr/lib/llvm-22/bin/lit

"$root/scripts/setup.sh" || { echo "0 passed, 1 failed"; exit 1; }

runtime_dir=$(clang++-22 -print-runtime-dir)
if [ ! -f "$runtime_dir/libclang_rt.asan-x86_64.so" ]; then
  echo "test-sanitized: no $runtime_dir/libclang_rt.asan-x86_64.so" \
       "(libclang-rt-22-dev)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
  echo "test-sanitized: configuring into $build"
  # -shared-libsan: the libraries take the runtime too, so that programs
  # that are not instrumented (Python, the tests' C programs) can load them
  # with the runtime preloaded.
  link="-shared-libsan -Wl,-rpath,$runtime_dir"
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_USE_LINKER=lld \
    -DLLVM_EXTERNAL_LIT="$lit" \
    -DMOEC_PYTHON="$venv/bin/python" \
    "-DLLVM_USE_SANITIZER=Address;Undefined" \
    "-DLLVM_UBSAN_FLAGS=-fsanitize=undefined -fno-sanitize=vptr,function -fno-sanitize-recover=all" \
    -DCMAKE_C_FLAGS=-shared-libsan -DCMAKE_CXX_FLAGS=-shared-libsan \
    "-DCMAKE_EXE_LINKER_FLAGS=$link" "-DCMAKE_SHARED_LINKER_FLAGS=$link" \
    "-DCMAKE_MODULE_LINKER_FLAGS=$link" >/dev/null ||
    { echo "test-sanitized: cmake configuration failed"; echo "0 passed, 1 failed"; exit 1; }
fi
echo "test-sanitized: building (ninja -C $build)"
ninja -C "$build" -j "$(nproc)" ||
  { echo "test-sanitized: build failed"; echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("$build/test")
"$lit" -v "${targets[@]}" | tee "$log"
status=${PIPESTATUS[0]}
count() { grep -cE "^($1): moec :: " "$log" || true; }
passed=$(count "PASS|XFAIL")
failed=$(count "FAIL|XPASS|UNRESOLVED|TIMEOUT")
skipped=$(count "UNSUPPORTED")
if [ "$skipped" -gt 0 ]; then
  echo "skipped (lit UNSUPPORTED: a feature they need is missing here):"
  sed -nE 's/^UNSUPPORTED: moec :: (.+) \([0-9]+ of [0-9]+\)$/  \1/p' "$log"
fi
if ! grep -qE '^Total Discovered Tests' "$log" ||
   { [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; }; then
  echo "the lit run did not finish"
  failed=$((failed + 1))
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
