#!/usr/bin/env bash
# Runs one libFuzzer target for SECONDS (docs/Fuzzing.md):
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]
#
# TARGET is json, npy, safetensors, gguf, layer_config, artifact_seal,
# artifact_metadata, routing_statistics, moe_ir, hf_checkpoint, gguf_model or
# onnx_model
# (the folders of fuzz/corpus).
# The checked-in seeds (fuzz/corpus/TARGET) are read, never written; what the run finds
# interesting goes to $MOEC_FUZZ_WORK/corpus (default
# build/fuzz/TARGET), so a later run starts from it. A crash, leak, timeout
# or sanitizer report stops the run with a non-zero exit and leaves the
# input in $MOEC_FUZZ_WORK/artifacts/; rerun it with the target binary and
# that file. The targets are built by the normal build (scripts/setup.sh)
# where clang's fuzzer runtime is installed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_BUILD_DIR:-$root/build}
if [ $# -lt 2 ]; then
  echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2
if [ ! -d "$root/fuzz/corpus/$target" ]; then
  echo "fuzz.sh: unknown target '$target' (targets:" \
       "$(ls "$root/fuzz/corpus" | tr '\n' ' '))" >&2
  exit 2
fi
case $seconds in
  ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number" >&2; exit 2 ;;
esac
bin=$build/bin/moec-fuzz-${target//_/-}
if [ ! -x "$bin" ]; then
  ninja -C "$build" "moec-fuzz-${target//_/-}" >&2 || {
    echo "fuzz.sh: cannot build $bin (is libclang-rt-22-dev installed?)" >&2
    exit 1
  }
fi
work=${MOEC_FUZZ_WORK:-$build/fuzz/$target}
mkdir -p "$work/corpus" "$work/artifacts"
# A target's dictionary of tokens, where it has one (fuzz/TARGET.dict).
dict=()
if [ -f "$root/fuzz/$target.dict" ]; then
  dict=(-dict="$root/fuzz/$target.dict")
fi
exec "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  "${dict[@]}" \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$@" \
  "$work/corpus" "$root/fuzz/corpus/$target"
