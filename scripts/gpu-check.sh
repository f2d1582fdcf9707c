#!/usr/bin/env bash
# The GPU checks of the CUDA backend, for a machine with an NVIDIA GPU but
# without this project's toolchain (LLVM/MLIR, Python packages). Two steps:
#
#   scripts/gpu-check.sh prepare [DIR] [CHIP]
#       Here, after a build (no GPU needed): writes the end-to-end numerics
#       cases that are not CPU tiling variants (test/e2e/Inputs/
#       make_cases.py), compiles them with moe-compile --target=cuda for
#       CHIP (default sm_90a, an H100 or H200), compiles moe-bench's layers
#       (bf16, $GPU_CHECK_SHAPES) for the same chip (moe-bench
#       --save-artifacts), and puts the artifacts, the cases' inputs and
#       weights, moe-run, moe-bench, libmoert.so and libmoert_nccl.so (the
#       runtime side built alone, without MPI, in build/gpu-runtime) and
#       nccl-check (test/runtime/Inputs/mpi_collectives_check.c built for
#       one process without MPI) into DIR (default
#       .gpu-check, ignored by git), with one moe-run command line per run
#       in DIR/runs.txt.
#
#   scripts/gpu-check.sh run [DIR]
#       On the GPU machine, from the repository root: checks that the
#       carried moe-run runs there, and if it does not, builds the runtime
#       side with CMake and the machine's C++ compiler (MOEC_RUNTIME_ONLY:
#       no MLIR). Then
#         1. every line of DIR/runs.txt: moe-run --verify against the
#            float64 reference evaluator, at the cases' tolerances; and
#            the same cases compiled for another architecture, which moert
#            must refuse by name;
#         2. the GPU's limits and PyTorch's MoE layers
#            (bench/peers/gpu_torch.py: the dense bf16 matmul peak, the
#            device-to-device bandwidth, torch._grouped_mm, a per-expert
#            loop, and liger-kernel's Triton fused MoE from the wheel
#            prepare carried, bench/peers/gpu-peers.txt);
#         3. moe-bench --device cuda on the carried layers, quoted against
#            the limits of step 2, its outputs checked against the float64
#            reference;
#         4. the first shape's decode token counts again with CUDA graphs
#            (moe-bench --cuda-graphs);
#         5. libmoert_nccl's collectives on one rank with NCCL itself
#            (nccl-check exchange nccl: every byte of the exchanges of
#            host and device buffers checked), where NCCL is found (the
#            nvidia-nccl wheel beside PyTorch, else the system's
#            libnccl.so.2);
#       and prints one table (bench/peers/gpu_report.py). Exits 1 if any
#       numerics run or benchmark check fails. Logs and CSVs go to DIR and,
#       where $OUT is set, to $OUT. Needs bash, python3 with PyTorch (for
#       step 2 only), the C++ runtime libraries and the CUDA driver.
#
# GPU_CHECK_SHAPES (default qwen3-30b-a3b,olmoe,mixtral,deepseek-v3) and
# GPU_CHECK_TOKENS (default 1,8,64,512,4096,16384) choose the benchmark;
# both steps read them.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
step="${1:-}"
dir="${2:-.gpu-check}"
shapes="${GPU_CHECK_SHAPES:-qwen3-30b-a3b,olmoe,mixtral,deepseek-v3}"
tokens="${GPU_CHECK_TOKENS:-1,8,64,512,4096,16384}"

case "$step" in
prepare)
  set -e
  chip="${3:-sm_90a}"
  build="$root/build"
  for tool in moe-compile moe-run moe-bench; do
    [ -x "$build/bin/$tool" ] || { echo "gpu-check: build first ($build/bin/$tool is missing)" >&2; exit 1; }
  done
  rm -rf "$dir" && mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  # The cases whose shapes are not there to exercise CPU tiling.
  cases=mixtral,olmoe_shared_gate,deepseek_v3,deepseek_v2,gpt_oss,geglu_concat
  cases+=,relu_logits_k_eq_e,gelu_e128,gelu_tanh_k_eq_e128,silu_k1
  cases+=,identity_sigmoid_topk,swiglu_clamp_sigmoid,bf16_weights,f16_weights
  cases+=,bf16_hidden,static_tokens
  # The tensor-core GEMM's own (bf16 and f16 hidden states and weights).
  cases+=,mma_bf16,mma_bf16_e128,mma_f16
  (cd "$dir" && "$build/venv/bin/python" "$root/test/e2e/Inputs/make_cases.py" \
     --out . --seed 11 --only "$cases")
  "$build/bin/moe-compile" "$dir/cases.mlir" --target=cuda --gpu-chip="$chip" \
    -o "$dir/cases.so" --weights "$dir/cases.safetensors"
  # Every kernel's cubin, assembled with ptxas -v for CHIP (no spills
  # allowed; test/codegen/gpu-kernels-ptxas.test does sm_80 and sm_90a),
  # for cuobjdump -sass there.
  "$build/bin/moe-opt" "$dir/cases.mlir" --moe-cuda-pipeline="compile-to=ptx chip=$chip" \
    -o "$dir/cases.ptx.mlir"
  "$build/venv/bin/python" "$root/test/codegen/Inputs/check_ptx.py" \
    "$dir/cases.ptx.mlir" "$dir/cubins" --ptxas /usr/local/cuda/bin/ptxas \
    --arch "$chip" > "$dir/ptxas.txt"
  rm -f "$dir/cases.ptx.mlir" "$dir"/cubins/*.ptx
  # For another architecture: moert must refuse it by name.
  other=sm_80
  [ "$chip" != sm_80 ] || other=sm_90a
  "$build/bin/moe-compile" "$dir/cases.mlir" --target=cuda --gpu-chip="$other" \
    -o "$dir/cases-other.so"
  "$build/bin/moe-bench" --save-artifacts "$dir/bench" --dtype bf16 \
    --shapes "$shapes" --compile-arg --target=cuda \
    --compile-arg --gpu-chip="$chip" >/dev/null
  # The runtime side carried: built alone (MOEC_RUNTIME_ONLY) and without
  # MPI, so that it needs no library the GPU machine may lack.
  rt="$build/gpu-runtime"
  if [ ! -f "$rt/build.ninja" ]; then
    cmake -G Ninja -S "$root" -B "$rt" -DMOEC_RUNTIME_ONLY=ON \
      -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 >/dev/null
  fi
  ninja -C "$rt" moert moert_nccl moe-run moe-bench >/dev/null
  cp "$rt/bin/moe-run" "$rt/bin/moe-bench" "$rt/lib/libmoert.so" \
    "$rt/lib/libmoert_nccl.so" "$dir/"
  clang-22 -std=c99 -O1 -DMOERT_CHECK_ONE_PROCESS \
    "$root/test/runtime/Inputs/mpi_collectives_check.c" \
    -I"$root/runtime/moert" -I"$root/runtime/moert-nccl" -L"$rt/lib" \
    -lmoert_nccl -ldl -o "$dir/nccl-check"
  # The peers' wheels (bench/peers/gpu-peers.txt: a Triton fused MoE), for
  # a GPU machine that cannot reach PyPI; from the wheel cache, else PyPI.
  # Without them the run times PyTorch's layers alone.
  cache="${MOEC_WHEEL_CACHE:-$HOME/.cache/moec/wheels}"
  mkdir -p "$dir/wheels" "$cache"
  if ! "$build/venv/bin/python" -m pip download --no-deps --quiet \
         --find-links "$cache" -d "$cache" \
         -r "$root/bench/peers/gpu-peers.txt" >/dev/null 2>&1; then
    echo "gpu-check: the peers' wheels (bench/peers/gpu-peers.txt) could not be fetched; the run will time PyTorch's layers alone"
  fi
  while read -r req; do
    [ -n "$req" ] || continue
    name="${req%%==*}" version="${req##*==}"
    cp "$cache/${name//-/_}-$version-"*.whl "$dir/wheels/" 2>/dev/null || true
  done < "$root/bench/peers/gpu-peers.txt"
  # One command per run, relative to DIR; the weights file is found next
  # to the artifact by name.
  "$build/venv/bin/python" - "$dir" <<'EOF'
import json, os, sys
d = sys.argv[1]
with open(os.path.join(d, "cases.json")) as fh:
    cases = json.load(fh)
with open(os.path.join(d, "runs.txt"), "w") as out:
    for c in cases:
        for run in c["inputs"]:
            args = ["--function", c["name"], "--verify", "--tolerance",
                    repr(c["tolerance"]), "--weights", "cases.safetensors"]
            for name, path in run["files"].items():
                args += ["--input", "%s=%s" % (name, os.path.basename(path))]
            out.write("%s T=%d %s\n" % (c["name"], run["tokens"],
                                       " ".join(args)))
EOF
  echo "gpu-check: $(wc -l < "$dir/runs.txt") runs and the layers $shapes for $chip in $dir ($(du -sh "$dir" | cut -f1))"
  ;;
run)
  [ -f "$dir/runs.txt" ] || { echo "gpu-check: no $dir/runs.txt (run 'prepare' first)" >&2; exit 1; }
  dir="$(cd "$dir" && pwd)"
  out="${OUT:-$dir}"
  export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm \
    --format=csv,noheader 2>&1 | sed 's/^/gpu-check: GPU: /'
  # The carried tools, or the runtime side built here.
  if ! "$dir/moe-run" --version >/dev/null 2>"$out/carried.log"; then
    echo "gpu-check: the carried moe-run does not run here ($(head -1 "$out/carried.log")); building the runtime with CMake"
    cxx=$(command -v g++ || command -v clang++ || true)
    [ -n "$cxx" ] || { echo "gpu-check: no C++ compiler here" >&2; exit 1; }
    rtbuild=/tmp/moec-runtime
    if ! { cmake -G Ninja -S "$root" -B "$rtbuild" -DMOEC_RUNTIME_ONLY=ON \
             -DMOEC_WERROR=OFF -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON \
             -DCMAKE_BUILD_TYPE=Release \
             -DCMAKE_CXX_COMPILER="$cxx" &&
           ninja -C "$rtbuild" moert moert_nccl moe-run moe-bench &&
           cc -std=c99 -O1 -DMOERT_CHECK_ONE_PROCESS \
             "$root/test/runtime/Inputs/mpi_collectives_check.c" \
             -I"$root/runtime/moert" -I"$root/runtime/moert-nccl" \
             -L"$rtbuild/lib" -lmoert_nccl -ldl -o "$dir/nccl-check"; } \
         >"$out/runtime-build.log" 2>&1; then
      tail -20 "$out/runtime-build.log"
      echo "gpu-check: the runtime did not build" >&2
      exit 1
    fi
    cp "$rtbuild/bin/moe-run" "$rtbuild/bin/moe-bench" "$rtbuild/lib/libmoert.so" \
      "$rtbuild/lib/libmoert_nccl.so" "$dir/"
  fi
  failed=0

  # 1. numerics
  total=0 passed=0
  : > "$out/numerics.log"
  while read -r name ntok args; do
    total=$((total + 1))
    # shellcheck disable=SC2086
    if res=$(cd "$dir" && timeout 20 ./moe-run cases.so $args 2>&1); then
      passed=$((passed + 1))
      status=ok
    else
      status=FAILED
    fi
    echo "$name $ntok $status: $(echo "$res" | grep -o 'relative L2 error [^ ]*' || echo "$res" | tail -1)" >> "$out/numerics.log"
    [ "$status" = ok ] || echo "$res" | tail -5 >> "$out/numerics.log"
  done < "$dir/runs.txt"
  grep -v ' ok: ' "$out/numerics.log" | head -40
  echo "gpu-check: numerics: $passed of $total runs within tolerance"
  [ "$passed" -eq "$total" ] || failed=1

  # The tensor-core kernels' machine code: HMMA (mma.sync) or HGMMA
  # (wgmma, the staged GEMM on sm_90a) in every gemm_mma kernel.
  if command -v cuobjdump >/dev/null; then
    mma=0 hmma=0
    for cubin in "$dir"/cubins/*.cubin; do
      counts=$(cuobjdump -sass "$cubin" | awk '
        /Function :/ { name = $3; if (name ~ /gemm_mma/) mma++ }
        /HG?MMA/ && name ~ /gemm_mma/ && !(name in seen) { seen[name] = 1; h++ }
        END { print mma + 0, h + 0 }')
      mma=$((mma + ${counts% *})) hmma=$((hmma + ${counts#* }))
    done
    echo "gpu-check: SASS: $hmma of $mma gemm_mma kernels hold HMMA or HGMMA (cuobjdump -sass)"
    [ "$mma" -gt 0 ] && [ "$hmma" -eq "$mma" ] || failed=1
  else
    echo "gpu-check: no cuobjdump here: the SASS is not checked"
  fi

  # An artifact for another architecture is refused, naming both.
  read -r name ntok args < "$dir/runs.txt"
  # shellcheck disable=SC2086
  if res=$(cd "$dir" && timeout 60 ./moe-run cases-other.so $args 2>&1); then
    echo "gpu-check: FAILED: an artifact for another architecture ran"
    failed=1
  elif echo "$res" | grep -q 'compiled for sm_.*compute capability'; then
    echo "gpu-check: another architecture refused: $(echo "$res" | tail -1)"
  else
    echo "gpu-check: FAILED: another architecture's artifact: $(echo "$res" | tail -1)"
    failed=1
  fi

  # 2. limits and PyTorch's layers, and the carried peers' (pure-Python
  # wheels, unpacked beside the tools)
  pylib="$dir/pylib"
  rm -rf "$pylib" && mkdir -p "$pylib"
  for whl in "$dir"/wheels/*.whl; do
    [ -f "$whl" ] && python3 -m zipfile -e "$whl" "$pylib"
  done
  PYTHONPATH="$pylib${PYTHONPATH:+:$PYTHONPATH}" \
  PYTHONUNBUFFERED=1 timeout 200 python3 "$root/bench/peers/gpu_torch.py" \
    --shapes "$shapes" --tokens "$tokens" > "$out/peers.csv" 2> "$out/peers.log" ||
    { tail -5 "$out/peers.log"; echo "gpu-check: the PyTorch peers failed (log: peers.log)"; }
  peak=$(grep '^limit,bf16_matmul_gflops,' "$out/peers.csv" | cut -d, -f3)
  bw=$(grep '^limit,d2d_gbps,' "$out/peers.csv" | cut -d, -f3)

  # 3. moec's layers
  if ! (cd "$dir" && timeout 300 ./moe-bench --device cuda --artifacts bench \
          --dtype bf16 --shapes "$shapes" --tokens "$tokens" --min-time 0.2 \
          ${peak:+--peak-gflops "$peak"} ${bw:+--bandwidth-gbps "$bw"} \
          --csv "$out/moec.csv") > "$out/moec.log" 2>&1; then
    tail -5 "$out/moec.log"
    echo "gpu-check: moe-bench --device cuda failed (log: moec.log)"
    failed=1
  fi
  python3 "$root/bench/peers/gpu_report.py" "$out/moec.csv" "$out/peers.csv" || failed=1

  # 4. the decode token counts again with CUDA graphs (one launch per call
  # instead of one per kernel), beside step 3's times
  if (cd "$dir" && timeout 150 ./moe-bench --device cuda --artifacts bench \
        --dtype bf16 --shapes "${shapes%%,*}" --tokens 1,8,64 --min-time 0.2 \
        --cuda-graphs --csv "$out/moec-graphs.csv") > "$out/moec-graphs.log" 2>&1; then
    echo "gpu-check: with CUDA graphs (moe-bench --cuda-graphs, moec-graphs.csv):"
    grep -v '^moe-bench:' "$out/moec-graphs.log"
  else
    tail -5 "$out/moec-graphs.log"
    echo "gpu-check: moe-bench --cuda-graphs failed (log: moec-graphs.log)"
    failed=1
  fi

  # 5. NCCL on one rank: the wheel PyTorch depends on, else the system's
  nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))' 2>/dev/null || true)
  [ -f "$nccl" ] || nccl=$(ldconfig -p 2>/dev/null | awk '/libnccl\.so\.2 / { print $NF; exit }')
  if [ -z "$nccl" ] || [ ! -f "$nccl" ]; then
    echo "gpu-check: no NCCL here (neither the nvidia-nccl wheel nor libnccl.so.2): libmoert_nccl is not checked"
  elif res=$(cd "$dir" && MOERT_NCCL_LIBRARY="$nccl" timeout 60 ./nccl-check exchange nccl 2>&1); then
    echo "$res" > "$out/nccl.log"
    echo "gpu-check: libmoert_nccl on one rank with $nccl: $(echo "$res" | head -1); $(echo "$res" | grep -c ' 0 wrong') exchanges with 0 wrong, $(echo "$res" | grep -c 'FAILED') failures (log: nccl.log)"
  else
    echo "$res" > "$out/nccl.log"
    echo "$res" | tail -5
    echo "gpu-check: FAILED: libmoert_nccl on one rank with $nccl (log: nccl.log)"
    failed=1
  fi
  exit "$failed"
  ;;
*)
  echo "usage: scripts/gpu-check.sh prepare [DIR] [CHIP] | run [DIR]" >&2
  exit 2
  ;;
esac
