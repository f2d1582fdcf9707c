#!/usr/bin/env bash
# Benchmarks moec's MoE layers on the reference shapes against this
# machine's limits, measured in the same run (moe-bench), and writes the
# table to bench/results/latest.txt and .csv.
#
#   bench/run.sh [moe-bench options]     e.g. --threads 2 --dtype bf16
#
# The peers (ONNX Runtime's com.microsoft.MoE, a PyTorch expert loop) are
# not run by this script yet; docs/performance.md quotes their published
# figures for this machine kind from ../shared/MACHINE.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_BUILD_DIR:-$root/build}
out=$root/bench/results
mkdir -p "$out"
ninja -C "$build" moe-bench moe-compile > /dev/null
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m), $(nproc) cores," \
       "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "# moe-bench $*"
  "$build/bin/moe-bench" --csv "$out/latest.csv" "$@"
} | tee "$out/latest.txt"
