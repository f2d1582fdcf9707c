# shellcheck shell=bash disable=SC2154
# Functions of the test scripts (scripts/test.sh, scripts/test-sanitized.sh);
# sourced, not run. They expect $root (the source tree) and $lit.
#
# A leg of the suite writes "STATUS NAME" per test to a list file, STATUS in
# lit's words (PASS, FAIL, XFAIL, XPASS, UNSUPPORTED, UNRESOLVED, TIMEOUT),
# NAME the lit test's path under test/ or python/tests/FILE::TEST.

# Runs lit with the given arguments; writes the list of its tests to $1.
run_lit() {
  local list=$1 log
  shift
  log=$(mktemp)
  "$lit" -v "$@" | tee "$log"
  local status=${PIPESTATUS[0]}
  sed -nE 's/^([A-Z]+): moec :: (.+) \([0-9]+ of [0-9]+\)$/\1 \2/p' "$log" \
    > "$list"
  # The end of each failed test's output, which the summary repeats
  # (failure_tails): a long run's log may be cut before it.
  awk -v leg="$(basename "$list")" '
    index($0, "******************** TEST ") == 1 && / FAILED \*+$/ {
      name = $0; sub(/^\*+ TEST .moec :: /, "", name)
      sub(/. FAILED \*+$/, "", name); n = 0; grab = 1; next }
    grab && $0 == "********************" {
      print "--- " name " (" leg " leg), the end of its output:"
      for (i = (n > 40 ? n - 40 : 0); i < n; i++) print "  " substr(line[i], 1, 300)
      grab = 0; next }
    grab { line[n++] = $0 }' "$log" >> "$list.why"
  # A lit run that dies before its summary, or fails without saying which
  # test, still counts as a failure.
  if ! grep -qE '^Total Discovered Tests' "$log" ||
     { [ "$status" -ne 0 ] && ! grep -qvE '^(PASS|XFAIL|UNSUPPORTED) ' "$list"; }; then
    echo "FAIL lit run: $*" >> "$list"
  fi
  rm -f "$log"
}

# Runs the Python package's tests (python/tests) with pytest against the
# package built in $2, the environment's Python $3; appends their list to
# $1. Further arguments are VAR=VALUE settings for pytest's environment.
run_pytest() {
  local list=$1 build=$2 python=$3 log
  shift 3
  log=$(mktemp)
  (cd "$build" && env "$@" PYTHONPATH="$build/python" "$python" -m pytest \
     -v -p no:cacheprovider "$root/python/tests") 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  sed -nE 's#^.*/(python/tests/[^ ]+::[^ ]+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)( .*)?$#\2 \1#p' "$log" |
    sed -E 's/^PASSED /PASS /; s/^(FAILED|ERROR) /FAIL /; s/^SKIPPED /UNSUPPORTED /' \
    >> "$list"
  # pytest that fails without naming a test (an import error, a collection
  # error, a sanitizer report ending the process) still counts as a failure.
  if [ "$status" -ne 0 ] && ! grep -qE '^FAIL python/' "$list"; then
    echo "FAIL pytest run: python/tests" >> "$list"
  fi
  rm -f "$log"
}

# Configures (once) and builds moec's code under AddressSanitizer and
# UndefinedBehaviorSanitizer into $1, with the Python of $2 for the
# package's bindings. Every library and tool of the project is instrumented
# and takes the sanitizers' shared runtime (-shared-libsan), so that
# programs that are not instrumented (Python, the tests' C programs) load
# them with the runtime preloaded; upstream MLIR and LLVM are not
# instrumented.
build_sanitized() {
  local build=$1 python=$2 runtime_dir
  runtime_dir=$(clang++-22 -print-runtime-dir)
  if [ ! -f "$runtime_dir/libclang_rt.asan-x86_64.so" ]; then
    echo "sanitized build: no $runtime_dir/libclang_rt.asan-x86_64.so" \
         "(libclang-rt-22-dev)" >&2
    return 1
  fi
  if [ ! -f "$build/build.ninja" ]; then
    echo "sanitized build: configuring into $build"
    local link="-shared-libsan -Wl,-rpath,$runtime_dir"
    cmake -G Ninja -S "$root" -B "$build" \
      -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
      -DLLVM_USE_LINKER=lld \
      -DLLVM_EXTERNAL_LIT="$lit" \
      -DMOEC_PYTHON="$python" \
      "-DLLVM_USE_SANITIZER=Address;Undefined" \
      "-DLLVM_UBSAN_FLAGS=-fsanitize=undefined -fno-sanitize=vptr,function -fno-sanitize-recover=all" \
      -DCMAKE_C_FLAGS=-shared-libsan -DCMAKE_CXX_FLAGS=-shared-libsan \
      "-DCMAKE_EXE_LINKER_FLAGS=$link" "-DCMAKE_SHARED_LINKER_FLAGS=$link" \
      "-DCMAKE_MODULE_LINKER_FLAGS=$link" >/dev/null ||
      { echo "sanitized build: cmake configuration failed" >&2; return 1; }
  fi
  echo "sanitized build: building (ninja -C $build)"
  ninja -C "$build" -j "$(nproc)" ||
    { echo "sanitized build: build failed" >&2; return 1; }
}

# The environment, as VAR=VALUE words, that makes a process not built with
# the sanitizers (Python) load the sanitized libraries: the runtime
# preloaded and reports ending the process with exit code 86, as
# test/lit.cfg.py sets for the lit tests. Python and the libraries it loads
# keep memory to the exit and are not checked for leaks.
sanitizer_env() {
  local runtime_dir
  runtime_dir=$(clang++-22 -print-runtime-dir)
  echo "LD_PRELOAD=$runtime_dir/libclang_rt.asan-x86_64.so" \
       "ASAN_OPTIONS=allow_user_poisoning=0:verify_asan_link_order=0:allocator_may_return_null=1:exitcode=86:malloc_context_size=20:detect_leaks=0:alloc_dealloc_mismatch=0" \
       "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86"
}

# Turns a list into "VERDICT NAME" lines: PASS and XFAIL are passed; FAIL,
# XPASS, UNRESOLVED and TIMEOUT failed; UNSUPPORTED skipped.
verdicts() {
  awk '{ name = $0; sub(/^[A-Z]+ /, "", name)
         if ($1 == "PASS" || $1 == "XFAIL") v = "passed"
         else if ($1 == "UNSUPPORTED") v = "skipped"
         else v = "failed"
         print v, name }' "$1"
}

# count VERDICT FILE: how many lines of a verdicts file have VERDICT.
count() { grep -c "^$1 " "$2" || true; }

# merge_legs MAIN.v LEG.v...: the main leg's verdicts, with a test that any
# further leg failed marked failed, and the further legs' failures of tests
# the main leg did not list (a dead run) added.
merge_legs() {
  local main=$1
  shift
  local failed
  failed=$(mktemp)
  cat "$@" /dev/null | sed -n 's/^failed //p' | sort -u > "$failed"
  # The lists are read by name (getline), not with NR == FNR, which an
  # empty first file would make true for the second.
  awk -v failed="$failed" '
       BEGIN { while ((getline line < failed) > 0) bad[line] = 1 }
       { n = $0; sub(/^[a-z]+ /, "", n); if (n in bad) { print "failed", n } else print }' \
    "$main"
  awk -v main="$main" '
       BEGIN { while ((getline line < main) > 0) { sub(/^[a-z]+ /, "", line); seen[line] = 1 } }
       !($0 in seen) { print "failed", $0 }' "$failed"
  rm -f "$failed"
}

# failure_tails FILE...: the ends of the failed lit tests' outputs that
# run_lit kept (LIST.why files; missing ones are skipped).
failure_tails() {
  local f
  for f in "$@"; do
    [ -s "$f" ] && cat "$f"
  done
  return 0
}

# summarize ALL.v: lists the skipped and failed tests and prints the line
# "N passed, M failed, K skipped"; fails if a test failed or none passed.
summarize() {
  local all=$1 skipped passed failed
  skipped=$(count skipped "$all")
  if [ "$skipped" -gt 0 ]; then
    echo "skipped (lit UNSUPPORTED, pytest SKIPPED: a feature they need is missing here):"
    sed -n 's/^skipped /  /p' "$all"
  fi
  if grep -q '^failed ' "$all"; then
    echo "failed:"
    sed -n 's/^failed /  /p' "$all"
  fi
  passed=$(count passed "$all")
  failed=$(count failed "$all")
  # A suite that ran nothing has failed, whatever lit said.
  if [ "$passed" -eq 0 ]; then
    echo "no test passed: the lit runs above did not run the suite"
    failed=$((failed + 1))
  fi
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ]
}
