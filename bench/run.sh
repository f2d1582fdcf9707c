#!/usr/bin/env bash
# One command for the benchmark: moec (moe-bench: the reference shapes at
# T = 1, 8, 64, 512 against the FMA peak and DRAM bandwidth measured in the
# same run), ONNX Runtime's com.microsoft.MoE (onnxruntime-node) and a
# Hugging Face-style PyTorch expert loop (Debian's python3-torch with
# OpenBLAS, installed here if missing) on the same shapes, side by side with speed-ups. Writes
# bench/results/latest.txt (and the CSVs next to it).
#
#   bench/run.sh [--threads N] [--min-time S] [--shapes A,B] [--tokens 1,8]
#                [--runs R]
#
# Each implementation runs R times (default 2), alternating, and the table
# keeps each one's best median: the machines are shared, and a neighbour's
# burst should not decide a ratio.
#
# f32 weights (ONNX Runtime's CPU MoE has no bf16 kernel). The ORT models,
# with several GB of external weights, are cached in build/bench-models.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_BUILD_DIR:-$root/build}
out=$root/bench/results
threads=2 min_time=1 shapes=qwen3-30b-a3b,olmoe,mixtral-small tokens=1,8,64,512
runs=2
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --min-time) min_time=$2; shift 2 ;;
    --shapes) shapes=$2; shift 2 ;;
    --tokens) tokens=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "bench/run.sh: unknown option $1" >&2; exit 1 ;;
  esac
done
mkdir -p "$out"
ninja -C "$build" moe-bench moe-compile > /dev/null
ort=${MOEC_ORT_NODE_MODULES:-$build/ort/node_modules}
models=$build/bench-models
have_ort=0
if [ -d "$ort/onnxruntime-node" ]; then
  have_ort=1
  /usr/bin/python3 "$root/bench/peers/make_ort_models.py" "$models" \
    ${shapes//,/ }
else
  echo "bench/run.sh: onnxruntime-node not found under $ort; moec only" >&2
fi
have_torch=0
# Without libopenblas Debian's torch runs its GEMMs on the reference BLAS.
if { ! /usr/bin/python3 -c "import torch" 2>/dev/null ||
     ! dpkg -s libopenblas0-pthread > /dev/null 2>&1; } && [ "$(id -u)" = 0 ]; then
  echo "bench/run.sh: installing python3-torch and OpenBLAS for the PyTorch" \
       "peer" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch \
    libopenblas0-pthread > /dev/null || true
fi
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  have_torch=1
else
  echo "bench/run.sh: python3-torch unavailable; PyTorch peer skipped" >&2
fi
rm -f "$out"/moec.*.csv "$out"/peers.*.csv
for r in $(seq 1 "$runs"); do
  "$build/bin/moe-bench" --threads "$threads" --min-time "$min_time" \
    --shapes "$shapes" --tokens "$tokens" --csv "$out/moec.$r.csv" \
    > "$out/moec.$r.txt"
  : > "$out/peers.$r.csv"
  if [ "$have_torch" = 1 ]; then
    for s in ${shapes//,/ }; do
      /usr/bin/python3 "$root/bench/peers/torch_moe.py" "$s" "$threads" \
        "$tokens" "$min_time" >> "$out/peers.$r.csv"
    done
  fi
  [ "$have_ort" = 1 ] || continue
  for s in ${shapes//,/ }; do
    case $s in
      qwen3-30b-a3b) d=2048 e=128 ;;
      olmoe) d=2048 e=64 ;;
      mixtral-small) d=1024 e=8 ;;
    esac
    MOEC_ORT_NODE_MODULES=$ort node "$root/bench/peers/ort_time.js" \
      "$models/$s" "$s" "$threads" "$tokens" "$min_time" "$d" "$e" \
      >> "$out/peers.$r.csv"
  done
done
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores," \
       "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
       "$threads threads"
  echo "# best median of $runs runs per implementation"
  /usr/bin/python3 "$root/bench/peers/report.py" --moec "$out"/moec.*.csv \
    --peers "$out"/peers.*.csv
} | tee "$out/latest.txt"
