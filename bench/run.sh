#!/usr/bin/env bash
# One command for the benchmark: moec (moe-bench: the reference shapes at
# T = 1, 8, 64, 512 against the FMA peak and DRAM bandwidth measured in the
# same run) and ONNX Runtime's com.microsoft.MoE (onnxruntime-node) on the
# same shapes, side by side with speed-ups. Writes bench/results/latest.txt
# (and the CSVs next to it).
#
#   bench/run.sh [--threads N] [--min-time S] [--shapes A,B] [--tokens 1,8]
#
# f32 weights (ONNX Runtime's CPU MoE has no bf16 kernel). The ORT models,
# with several GB of external weights, are cached in build/bench-models.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_BUILD_DIR:-$root/build}
out=$root/bench/results
threads=2 min_time=1 shapes=qwen3-30b-a3b,olmoe,mixtral-small tokens=1,8,64,512
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --min-time) min_time=$2; shift 2 ;;
    --shapes) shapes=$2; shift 2 ;;
    --tokens) tokens=$2; shift 2 ;;
    *) echo "bench/run.sh: unknown option $1" >&2; exit 1 ;;
  esac
done
mkdir -p "$out"
ninja -C "$build" moe-bench moe-compile > /dev/null
"$build/bin/moe-bench" --threads "$threads" --min-time "$min_time" \
  --shapes "$shapes" --tokens "$tokens" --csv "$out/moec.csv" > "$out/moec.txt"

ort=${MOEC_ORT_NODE_MODULES:-$build/ort/node_modules}
: > "$out/peers.csv"
if [ -d "$ort/onnxruntime-node" ]; then
  models=$build/bench-models
  /usr/bin/python3 "$root/bench/peers/make_ort_models.py" "$models" \
    ${shapes//,/ }
  for s in ${shapes//,/ }; do
    case $s in
      qwen3-30b-a3b) d=2048 e=128 ;;
      olmoe) d=2048 e=64 ;;
      mixtral-small) d=1024 e=8 ;;
    esac
    MOEC_ORT_NODE_MODULES=$ort node "$root/bench/peers/ort_time.js" \
      "$models/$s" "$s" "$threads" "$tokens" "$min_time" "$d" "$e" \
      >> "$out/peers.csv"
  done
else
  echo "bench/run.sh: onnxruntime-node not found under $ort; moec only" >&2
fi
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores," \
       "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
       "$threads threads"
  /usr/bin/python3 "$root/bench/peers/report.py" "$out/moec.csv" "$out/peers.csv"
} | tee "$out/latest.txt"
