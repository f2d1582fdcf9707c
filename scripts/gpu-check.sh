#!/usr/bin/env bash
# The GPU checks of the CUDA backend, for a machine with an NVIDIA GPU but
# without this project's toolchain (LLVM/MLIR, the CUDA toolkit, Python
# packages). Two steps:
#
#   scripts/gpu-check.sh prepare [DIR] [CHIP]
#       Here, after a build (no GPU needed): writes the end-to-end numerics
#       cases that are not CPU tiling variants (test/e2e/Inputs/
#       make_cases.py), compiles them with moe-compile --target=cuda for
#       CHIP (default sm_90a, an H100 or H200), and puts the artifact, the
#       cases' inputs and weights, moe-run and libmoert.so into DIR
#       (default .gpu-check, about 3 MB, ignored by git), with one moe-run
#       command line per run in DIR/runs.txt.
#
#   scripts/gpu-check.sh run [DIR]
#       On the GPU machine: runs every line of DIR/runs.txt (moe-run
#       --verify against the float64 reference evaluator, at the cases'
#       tolerances) and prints one line per run and a summary
#       "N of M runs within tolerance"; exits 1 if any run fails.
#       Needs only bash, the C++ runtime libraries and the CUDA driver.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
step="${1:-}"
dir="${2:-.gpu-check}"

case "$step" in
prepare)
  chip="${3:-sm_90a}"
  build="$root/build"
  for tool in moe-compile moe-run; do
    [ -x "$build/bin/$tool" ] || { echo "gpu-check: build first ($build/bin/$tool is missing)" >&2; exit 1; }
  done
  rm -rf "$dir" && mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  # The cases whose shapes are not there to exercise CPU tiling.
  cases=mixtral,olmoe_shared_gate,deepseek_v3,deepseek_v2,gpt_oss,geglu_concat
  cases+=,relu_logits_k_eq_e,gelu_e128,gelu_tanh_k_eq_e128,silu_k1
  cases+=,identity_sigmoid_topk,swiglu_clamp_sigmoid,bf16_weights,f16_weights
  cases+=,bf16_hidden,static_tokens
  (cd "$dir" && "$build/venv/bin/python" "$root/test/e2e/Inputs/make_cases.py" \
     --out . --seed 11 --only "$cases")
  "$build/bin/moe-compile" "$dir/cases.mlir" --target=cuda --gpu-chip="$chip" \
    -o "$dir/cases.so" --weights "$dir/cases.safetensors"
  cp "$build/bin/moe-run" "$build/lib/libmoert.so" "$dir/"
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
  echo "gpu-check: $(wc -l < "$dir/runs.txt") runs for $chip in $dir ($(du -sh "$dir" | cut -f1))"
  ;;
run)
  cd "$dir"
  export LD_LIBRARY_PATH="$PWD${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  total=0 passed=0
  while read -r name tokens args; do
    total=$((total + 1))
    # shellcheck disable=SC2086
    if out=$(./moe-run cases.so $args 2>&1); then
      passed=$((passed + 1))
      status=ok
    else
      status=FAILED
    fi
    echo "$name $tokens $status: $(echo "$out" | grep -o 'relative L2 error [^ ]*' || echo "$out" | tail -1)"
  done < runs.txt
  echo "$passed of $total runs within tolerance"
  [ "$passed" -eq "$total" ]
  ;;
*)
  echo "usage: scripts/gpu-check.sh prepare [DIR] [CHIP] | run [DIR]" >&2
  exit 2
  ;;
esac
