#!/usr/bin/env bash
# One command for the benchmark, side by side in one run, at moe-bench's
# shapes (qwen3-30b-a3b, olmoe, mixtral-small) and T = 1, 8, 64, 512:
#   - moec: moe-bench, against the FMA peak and DRAM bandwidth measured in
#     the same run; f32 weights, and bf16 weights (with --bf16-dot where the
#     CPU has AVX512_BF16, else bf16 widened to f32);
#   - ONNX Runtime's com.microsoft.MoE through its Python wheel
#     (bench/peers/ort_time.py on make_ort_models.py's models; f32 only, ORT's
#     CPU MoE has no bf16 kernel);
#   - transformers' own sparse MoE blocks (Qwen3MoeSparseMoeBlock,
#     OlmoeSparseMoeBlock, MixtralSparseMoeBlock) on PyTorch, CPU, f32 and
#     bf16, once per experts implementation transformers offers
#     (bench/peers/hf_moe.py: columns hf-eager, hf-grouped_mm, ...; the
#     notes under the table say which one transformers picks by default and
#     which were skipped, and why).
# All Python runs in build/venv (scripts/setup.sh, requirements.lock). Every
# implementation uses the same timing protocol (16 random inputs rotated, 3
# warm-up calls, then at least 5 calls and S seconds; median) and THREADS
# threads. Writes bench/results/latest.txt (one table per weight dtype, each
# peer's time and moec's speed-up over it) and the CSVs and logs next to it.
#
#   bench/run.sh [--threads N] [--min-time S] [--shapes A,B] [--tokens 1,8]
#                [--runs R] [--dtypes f32,bf16]
#
# Each implementation runs R times (default 2), alternating, and the table
# keeps each one's best median: the machines are shared, and a neighbour's
# burst should not decide a ratio.
#
# The ORT models, with several GB of external f32 weights, are cached in
# build/bench-models. moe-bench and moe-compile are built first, under
# flock ${MOEC_BUILD_LOCK:-/tmp/moec-build.lock}, since builds share the
# machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_BUILD_DIR:-$root/build}
py=${MOEC_PYTHON:-$build/venv/bin/python}
out=$root/bench/results
threads=2 min_time=1 shapes=qwen3-30b-a3b,olmoe,mixtral-small tokens=1,8,64,512
runs=2 dtypes=f32,bf16
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --min-time) min_time=$2; shift 2 ;;
    --shapes) shapes=$2; shift 2 ;;
    --tokens) tokens=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --dtypes) dtypes=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: error: unknown option $1 (see --help)" >&2; exit 1 ;;
  esac
done
log() { echo "bench/run.sh: $*" >&2; }
die() { echo "bench/run.sh: error: $*" >&2; exit 1; }
for s in ${shapes//,/ }; do
  case $s in
    qwen3-30b-a3b|olmoe|mixtral-small) ;;
    *) die "unknown shape $s (qwen3-30b-a3b, olmoe, mixtral-small)" ;;
  esac
done
has_dtype() { [[ ",$dtypes," == *",$1,"* ]]; }
for dt in ${dtypes//,/ }; do
  case $dt in f32|bf16) ;; *) die "unknown dtype $dt (f32, bf16)" ;; esac
done
mkdir -p "$out"
rm -f "$out"/moec.*.csv "$out"/moec.*.txt "$out"/peers.*.csv "$out"/peers.*.log

log "building moe-bench and moe-compile in $build (log: $out/build.log)"
lock=${MOEC_BUILD_LOCK:-/tmp/moec-build.lock}
if command -v flock > /dev/null; then
  flock "$lock" ninja -C "$build" moe-bench moe-compile > "$out/build.log" 2>&1
else
  ninja -C "$build" moe-bench moe-compile > "$out/build.log" 2>&1
fi || { tail -20 "$out/build.log" >&2; die "building moe-bench and moe-compile failed"; }

# moec's bf16 rows: bf16 dot products where the CPU has them (the
# configuration docs/performance.md quotes), else bf16 widened to f32.
bf16_args=() bf16_what="bf16 weights widened to f32 (no AVX512_BF16 on this CPU)"
if grep -qw avx512_bf16 /proc/cpuinfo; then
  bf16_args=(--compile-arg --bf16-dot)
  bf16_what="bf16 weights, --bf16-dot (vdpbf16ps)"
fi

# Which peers can run, and why not.
ran=() skipped=()
have_ort=0 have_hf=0
if [ ! -x "$py" ]; then
  skipped+=("ort and hf-*: no Python at $py (scripts/setup.sh makes build/venv)")
else
  if ! has_dtype f32; then
    skipped+=("ort: f32 not in --dtypes (ORT's CPU MoE has no bf16 kernel)")
  elif why=$("$py" -c "import numpy, onnx, onnxruntime" 2>&1); then
    have_ort=1
    ran+=("ort: ONNX Runtime $("$py" -c 'import onnxruntime; print(onnxruntime.__version__)') (Python wheel), com.microsoft.MoE, CPU EP, f32")
  else
    skipped+=("ort: onnxruntime does not import in $py: $(echo "$why" | tail -1)")
  fi
  if why=$("$py" -c "import torch, transformers" 2>&1); then
    have_hf=1
    ran+=("hf-*: transformers $("$py" -c 'import transformers; print(transformers.__version__)'), torch $("$py" -c 'import torch; print(torch.__version__)'), CPU, $dtypes")
  else
    skipped+=("hf-*: torch/transformers do not import in $py: $(echo "$why" | tail -1)")
  fi
fi
for p in "${ran[@]}"; do log "peer: $p"; done
for p in "${skipped[@]}"; do log "peer skipped: $p"; done
has_dtype bf16 && log "moec bf16: $bf16_what"

models=$build/bench-models
if [ "$have_ort" = 1 ]; then
  log "ORT models for $shapes in $models (written once, kept)"
  "$py" "$root/bench/peers/make_ort_models.py" "$models" ${shapes//,/ } ||
    die "make_ort_models.py failed"
fi

for r in $(seq 1 "$runs"); do
  for dt in ${dtypes//,/ }; do
    args=()
    [ "$dt" = bf16 ] && args=("${bf16_args[@]}")
    log "run $r/$runs: moe-bench --dtype $dt${args[*]:+ ${args[*]}} ($shapes, T=$tokens)"
    "$build/bin/moe-bench" --threads "$threads" --min-time "$min_time" \
      --shapes "$shapes" --tokens "$tokens" --dtype "$dt" "${args[@]}" \
      --csv "$out/moec.$dt.$r.csv" > "$out/moec.$dt.$r.txt" ||
      die "moe-bench --dtype $dt failed (run $r)"
  done
  : > "$out/peers.$r.csv"
  if [ "$have_hf" = 1 ]; then
    for s in ${shapes//,/ }; do
      log "run $r/$runs: transformers $s ($dtypes; log: $out/peers.$r.log)"
      "$py" "$root/bench/peers/hf_moe.py" "$s" "$threads" "$tokens" \
        "$min_time" --dtypes "$dtypes" >> "$out/peers.$r.csv" \
        2>> "$out/peers.$r.log" ||
        { tail -5 "$out/peers.$r.log" >&2; die "hf_moe.py failed on $s (run $r)"; }
    done
  fi
  if [ "$have_ort" = 1 ]; then
    for s in ${shapes//,/ }; do
      log "run $r/$runs: ONNX Runtime $s (log: $out/peers.$r.log)"
      "$py" "$root/bench/peers/ort_time.py" "$models/$s" "$s" "$threads" \
        "$tokens" "$min_time" >> "$out/peers.$r.csv" \
        2>> "$out/peers.$r.log" ||
        { tail -5 "$out/peers.$r.log" >&2; die "ort_time.py failed on $s (run $r)"; }
    done
  fi
done
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores," \
       "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
       "$threads threads"
  echo "# bench/run.sh --threads $threads --min-time $min_time --shapes $shapes" \
       "--tokens $tokens --runs $runs --dtypes $dtypes"
  echo "# best median of $runs runs per implementation; speed-up = peer ms / moec ms"
  has_dtype bf16 && echo "# moec bf16: $bf16_what"
  for p in "${ran[@]}"; do echo "# peer ran: $p"; done
  for p in "${skipped[@]}"; do echo "# peer skipped: $p"; done
  report_py=$py
  [ -x "$report_py" ] || report_py=python3
  "$report_py" "$root/bench/peers/report.py" --moec "$out"/moec.*.csv \
    --peers "$out"/peers.*.csv
} | tee "$out/latest.txt"
