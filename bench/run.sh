#!/usr/bin/env bash
# One command for the benchmark, side by side in one run, at moe-bench's
# shapes (qwen3-30b-a3b, olmoe, mixtral-small) and T = 1, 8, 64, 512:
#   - moec: moe-bench, against the FMA peak and DRAM bandwidth measured in
#     the same run; f32 weights, and bf16 weights (with --bf16-dot where the
#     CPU has AVX512_BF16, else bf16 widened to f32); with --dtypes q4_0,
#     q8_0, q4_k, q5_k, q6_k, q3_k, q2_k or iq4_xs, GGUF block-quantized
#     experts kept quantized, and
#     with u4z or u8z, QMoE's 4- and 8-bit weights as moec keeps them
#     (moe-bench --dtype Q, with --int8-dot where the CPU has AVX512_VNNI,
#     else f32 activations);
#   - ONNX Runtime's com.microsoft.MoE through its Python wheel
#     (bench/peers/ort_time.py on make_ort_models.py's models; f32 only, ORT's
#     CPU MoE has no bf16 kernel);
#   - transformers' own sparse MoE blocks (Qwen3MoeSparseMoeBlock,
#     OlmoeSparseMoeBlock, MixtralSparseMoeBlock) on PyTorch, CPU, f32 and
#     bf16, once per experts implementation transformers offers
#     (bench/peers/hf_moe.py: columns hf-eager, hf-grouped_mm, ...; the
#     notes under the table say which one transformers picks by default and
#     which were skipped, and why).
#   For the quantized dtypes (transformers and ORT's MoE have none):
#   - llama.cpp's CPU backend at the same ggml type, through the
#     llama-cpp-python PyPI package (pinned; an sdist that compiles
#     llama.cpp for this CPU, GGML_NATIVE=ON). It is not in
#     requirements.lock: this script installs it when a quantized dtype is
#     asked for and it is missing, into its own venv, build/bench-llama-venv
#     (so that build/venv stays exactly what requirements.lock says), by
#     bench/peers/install_llama_cpp.sh, 2 build jobs, under the build lock
#     (below); log bench/results/llama-install.log. llama.cpp runs models,
#     not layers: bench/peers/make_llama_models.py writes GGUF models of
#     architecture qwen3moe: one MoE layer of the shape and a minimal rest
#     (one attention head of dimension 32, RMS norms, no vocabulary), and
#     the same rest with a next-to-free MoE (2 experts of width 1);
#     bench/peers/llama_time.py times llama_decode of a batch of T
#     embeddings on both (KV cache cleared before each call), calls paired,
#     the MoE time being the difference (the notes under the tables say
#     what it includes; llama_time.py --layers 1,2,3,4 checks it against
#     t(L) of models of L layers);
#   - ONNX Runtime's com.microsoft.QMoE, 4 bits (set against q4_0 and u4z)
#     and 8 bits (against q8_0 and u8z), block-wise scales per 32 weights in
#     f32, no zero points, ORT's default kernels
#     (bench/peers/make_ort_qmoe_models.py, ort_qmoe_time.py: columns
#     ort-qmoe4, ort-qmoe8); llama.cpp has no u4z or u8z.
# All Python runs in build/venv (scripts/setup.sh, requirements.lock), but
# llama.cpp's timing (build/bench-llama-venv, above). Every
# implementation uses the same timing protocol (16 random inputs rotated, 3
# warm-up calls, then at least 5 calls and S seconds; median) and THREADS
# threads. Writes bench/results/latest.txt (one table per weight dtype, each
# peer's time and moec's speed-up over it) and the CSVs and logs next to it.
#
#   bench/run.sh [--threads N] [--min-time S] [--shapes A,B] [--tokens 1,8]
#                [--runs R]
#                [--dtypes f32,bf16,q4_0,q8_0,q4_k,q5_k,q6_k,q3_k,q2_k,iq4_xs,u4z,u8z]
#
# --dtypes defaults to f32,bf16; e.g. --dtypes q4_0,q8_0 runs the quantized
# tables only.
#
# Each implementation runs R times (default 2), alternating, and the table
# keeps each one's best median: the machines are shared, and a neighbour's
# burst should not decide a ratio.
#
# The ORT and llama.cpp models (several GB: 0.2-0.7 GB a MoE layer for
# the quantized ones) are cached in build/bench-models. moe-bench and
# moe-compile are built first, under flock ${MOEC_BUILD_LOCK:-/tmp/moec-build.lock},
# since builds share the machine (run inside that lock already, set
# MOEC_BUILD_LOCK to another path). MOEC_LLAMA_VENV overrides the llama.cpp
# venv.
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
fdtypes= qdtypes= zdtypes=
for dt in ${dtypes//,/ }; do
  case $dt in
    f32|bf16) fdtypes=${fdtypes:+$fdtypes,}$dt ;;
    q4_0|q8_0|q4_k|q5_k|q6_k|q3_k|q2_k|iq4_xs) qdtypes=${qdtypes:+$qdtypes,}$dt ;;
    u4z|u8z) zdtypes=${zdtypes:+$zdtypes,}$dt ;;
    *) die "unknown dtype $dt (f32, bf16, q4_0, q8_0, q4_k, q5_k, q6_k, q3_k, q2_k, iq4_xs, u4z, u8z)" ;;
  esac
done
[ -n "$dtypes" ] || die "--dtypes is empty"
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
# moec's quantized rows: int8 dot products where the CPU has them.
q_args=() q_what="quantized experts, f32 activations (no AVX512_VNNI on this CPU)"
if grep -qw avx512_vnni /proc/cpuinfo; then
  q_args=(--int8-dot)
  q_what="quantized experts, --int8-dot (activations rounded to int8 per 32, AVX512_VNNI)"
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
  if [ -z "$fdtypes" ]; then
    skipped+=("hf-*: neither f32 nor bf16 in --dtypes (transformers' MoE blocks have no ggml-quantized kernels)")
  elif why=$("$py" -c "import torch, transformers" 2>&1); then
    have_hf=1
    ran+=("hf-*: transformers $("$py" -c 'import transformers; print(transformers.__version__)'), torch $("$py" -c 'import torch; print(torch.__version__)'), CPU, $fdtypes")
  else
    skipped+=("hf-*: torch/transformers do not import in $py: $(echo "$why" | tail -1)")
  fi
fi

# The quantized dtypes' peers. ORT's QMoE runs once per moec dtype it is
# set against (qmoe_runs: BITS:DTYPE), its models once per bit width.
have_qmoe=0 have_llama=0
qmoe_bits= qmoe_runs=
for pair in 4:q4_0 8:q8_0 4:u4z 8:u8z; do
  has_dtype "${pair#*:}" || continue
  qmoe_runs="$qmoe_runs $pair"
  [[ " $qmoe_bits " == *" ${pair%%:*} "* ]] ||
    qmoe_bits=${qmoe_bits:+$qmoe_bits }${pair%%:*}
done
llama_version=0.3.36
lvenv=${MOEC_LLAMA_VENV:-$build/bench-llama-venv}
lpy=$lvenv/bin/python
if [ -n "$qdtypes$zdtypes" ]; then
  if [ ! -x "$py" ]; then
    skipped+=("ort-qmoe* and llama.cpp: no Python at $py (scripts/setup.sh makes build/venv)")
  else
    if [ -z "$qmoe_bits" ]; then
      skipped+=("ort-qmoe*: none of q4_0, q8_0, u4z, u8z in --dtypes (QMoE's 4 and 8 bits are set against those)")
    elif why=$("$py" -c "import numpy, onnx, onnxruntime" 2>&1); then
      have_qmoe=1
      ran+=("ort-qmoe4/8: ONNX Runtime $("$py" -c 'import onnxruntime; print(onnxruntime.__version__)') (Python wheel), com.microsoft.QMoE, CPU EP, ${qmoe_bits// / and } bits, block 32, f32 scales, default kernels")
    else
      skipped+=("ort-qmoe*: onnxruntime does not import in $py: $(echo "$why" | tail -1)")
    fi
    llama_ok() {
      [ -x "$lpy" ] && [ "$("$lpy" -c 'import llama_cpp; print(llama_cpp.__version__)' 2> /dev/null)" = "$llama_version" ]
    }
    if [ -z "$qdtypes" ]; then
      skipped+=("llama.cpp: no ggml type in --dtypes (it has no u4z or u8z)")
    elif ! why=$("$py" -c "import gguf, numpy" 2>&1); then
      skipped+=("llama.cpp: the gguf package does not import in $py (it writes the models): $(echo "$why" | tail -1)")
    elif llama_ok; then
      have_llama=1
    else
      log "llama.cpp peer: llama-cpp-python $llama_version is not in $lvenv; installing it (compiles llama.cpp, several minutes; log: $out/llama-install.log)"
      if bash "$root/bench/peers/install_llama_cpp.sh" "$py" "$lvenv" "$lock" \
           "$llama_version" > "$out/llama-install.log" 2>&1 && llama_ok; then
        log "llama.cpp peer: $(grep 'installed llama-cpp-python' "$out/llama-install.log" | tail -1 | sed 's/^install_llama_cpp.sh: //')"
        have_llama=1
      else
        skipped+=("llama.cpp: installing llama-cpp-python==$llama_version into $lvenv failed (bench/results/llama-install.log: $(grep -v '^ *$' "$out/llama-install.log" | tail -1 | cut -c1-160))")
      fi
    fi
    if [ "$have_llama" = 1 ]; then
      ran+=("llama.cpp: llama-cpp-python $llama_version (its llama.cpp, CPU backend, GGML_NATIVE=ON) in $lvenv, $qdtypes; MoE time per layer from whole models, see the notes")
    fi
  fi
fi
for p in "${ran[@]}"; do log "peer: $p"; done
for p in "${skipped[@]}"; do log "peer skipped: $p"; done
has_dtype bf16 && log "moec bf16: $bf16_what"
[ -n "$qdtypes$zdtypes" ] && log "moec $qdtypes${qdtypes:+${zdtypes:+,}}$zdtypes: $q_what"

models=$build/bench-models
if [ "$have_ort" = 1 ]; then
  log "ORT models for $shapes in $models (written once, kept)"
  "$py" "$root/bench/peers/make_ort_models.py" "$models" ${shapes//,/ } ||
    die "make_ort_models.py failed"
fi
if [ "$have_qmoe" = 1 ]; then
  for b in $qmoe_bits; do
    log "ORT QMoE $b-bit models for $shapes in $models (written once, kept)"
    "$py" "$root/bench/peers/make_ort_qmoe_models.py" "$models" "$b" \
      ${shapes//,/ } || die "make_ort_qmoe_models.py failed"
  done
fi
if [ "$have_llama" = 1 ]; then
  for dt in ${qdtypes//,/ }; do
    for s in ${shapes//,/ }; do
      log "llama.cpp model $s $dt in $models/llama (written once, kept)"
      "$py" "$root/bench/peers/make_llama_models.py" "$models/llama" "$s" \
        "$dt" 1 || die "make_llama_models.py failed"
    done
  done
  # The same rest with a next-to-free MoE, at each d (llama_time.py).
  for dm in $(for s in ${shapes//,/ }; do
                [ "$s" = mixtral-small ] && echo 1024 || echo 2048; done | sort -u); do
    "$py" "$root/bench/peers/make_llama_models.py" "$models/llama" --tiny "$dm" 1 3 ||
      die "make_llama_models.py --tiny $dm failed"
  done
fi

for r in $(seq 1 "$runs"); do
  for dt in ${dtypes//,/ }; do
    args=()
    [ "$dt" = bf16 ] && args=("${bf16_args[@]}")
    case $dt in q*|iq*|u4z|u8z) args=("${q_args[@]}") ;; esac
    log "run $r/$runs: moe-bench --dtype $dt${args[*]:+ ${args[*]}} ($shapes, T=$tokens)"
    "$build/bin/moe-bench" --threads "$threads" --min-time "$min_time" \
      --shapes "$shapes" --tokens "$tokens" --dtype "$dt" "${args[@]}" \
      --csv "$out/moec.$dt.$r.csv" > "$out/moec.$dt.$r.txt" ||
      die "moe-bench --dtype $dt failed (run $r)"
  done
  : > "$out/peers.$r.csv"
  if [ "$have_hf" = 1 ]; then
    for s in ${shapes//,/ }; do
      log "run $r/$runs: transformers $s ($fdtypes; log: $out/peers.$r.log)"
      "$py" "$root/bench/peers/hf_moe.py" "$s" "$threads" "$tokens" \
        "$min_time" --dtypes "$fdtypes" >> "$out/peers.$r.csv" \
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
  if [ "$have_qmoe" = 1 ]; then
    for pair in $qmoe_runs; do
      b=${pair%%:*} paired=${pair#*:}
      for s in ${shapes//,/ }; do
        log "run $r/$runs: ONNX Runtime QMoE $b bits $s, against $paired (log: $out/peers.$r.log)"
        "$py" "$root/bench/peers/ort_qmoe_time.py" "$models/$s.qmoe$b" "$s" \
          "$b" "$threads" "$tokens" "$min_time" "$paired" >> "$out/peers.$r.csv" \
          2>> "$out/peers.$r.log" ||
          { tail -5 "$out/peers.$r.log" >&2; die "ort_qmoe_time.py failed on $s, $b bits (run $r)"; }
      done
    done
  fi
  if [ "$have_llama" = 1 ]; then
    for dt in ${qdtypes//,/ }; do
      for s in ${shapes//,/ }; do
        log "run $r/$runs: llama.cpp $s $dt (log: $out/peers.$r.log)"
        "$lpy" "$root/bench/peers/llama_time.py" "$models/llama" "$s" "$dt" \
          "$threads" "$tokens" "$min_time" >> "$out/peers.$r.csv" \
          2>> "$out/peers.$r.log" ||
          { tail -5 "$out/peers.$r.log" >&2; die "llama_time.py failed on $s $dt (run $r)"; }
      done
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
  [ -n "$qdtypes$zdtypes" ] && echo "# moec $qdtypes${qdtypes:+${zdtypes:+,}}$zdtypes: $q_what"
  for p in "${ran[@]}"; do echo "# peer ran: $p"; done
  for p in "${skipped[@]}"; do echo "# peer skipped: $p"; done
  report_py=$py
  [ -x "$report_py" ] || report_py=python3
  "$report_py" "$root/bench/peers/report.py" --moec "$out"/moec.*.csv \
    --peers "$out"/peers.*.csv
} | tee "$out/latest.txt"
