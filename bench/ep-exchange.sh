#!/usr/bin/env bash
# What expert parallelism's exchange costs on one machine: a qwen3-30b-a3b
# shaped layer (d 2048, f 768, E 128, k 8, SwiGLU, random f32 weights,
# 2.4 GB) at T tokens, run
#   - in one process on R threads, and on 1 thread;
#   - planned for R ranks (moe-plan-expert-parallelism, uniform placement)
#     and run under mpirun -np R, 1 thread per rank, where moe-run --repeat
#     prints each rank's time inside the exchanges (waiting for the other
#     ranks included) and the bytes it sent per run.
# The first is the fair comparison for the last (the same cores); the
# difference is what splitting by ranks costs, exchanges and their waits
# included.
#
#   bench/ep-exchange.sh [--tokens T] [--ranks R] [--repeat N]
#
# Needs the build with MPI (scripts/setup.sh), 2.4 GB of disk, about 5 GB
# of memory for the one process and 3 GB per rank (each binds its experts'
# weights only). Files go to build/bench-ep.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_BUILD_DIR:-$root/build}
py=${MOEC_PYTHON:-$build/venv/bin/python}
tokens=512 ranks=2 repeat=10
while [ $# -gt 0 ]; do
  case $1 in
    --tokens) tokens=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    *) echo "usage: bench/ep-exchange.sh [--tokens T] [--ranks R] [--repeat N]" >&2
       exit 2 ;;
  esac
done
dir=$build/bench-ep
mkdir -p "$dir"
flock "${MOEC_BUILD_LOCK:-/tmp/moec-build.lock}" \
  ninja -C "$build" moe-opt moe-compile moe-run > /dev/null
echo "writing the layer, its input and (once) its weights to $dir" >&2
"$py" - "$dir" "$tokens" "$root/examples" <<'PY'
import os, sys
import numpy as np
out, tokens, examples = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sys.path.insert(0, examples)
import safetensors_np
H, F, E, K = 2048, 768, 128, 8
rng = np.random.default_rng(0)
path = os.path.join(out, "weights.safetensors")
if not os.path.exists(path):
    w = {name: ((rng.standard_normal(shape) * 0.02).astype(np.float32), "F32")
         for name, shape in [("router", (E, H)), ("gate", (E, F, H)),
                             ("up", (E, F, H)), ("down", (E, H, F))]}
    safetensors_np.save(path, w)
np.save(os.path.join(out, "x.npy"),
        np.random.default_rng(1).standard_normal((tokens, H)).astype(np.float32))
with open(os.path.join(out, "layer.mlir"), "w") as f:
    f.write(f"""func.func @qwen3(
    %hidden: tensor<?x{H}xf32> {{moe.name = "hidden_states"}},
    %router: tensor<{E}x{H}xf32> {{moe.name = "router"}},
    %gate: tensor<{E}x{F}x{H}xf32> {{moe.name = "gate"}},
    %up: tensor<{E}x{F}x{H}xf32> {{moe.name = "up"}},
    %down: tensor<{E}x{H}x{F}xf32> {{moe.name = "down"}}) -> tensor<?x{H}xf32> {{
  %y = moe.layer %hidden router_weight(%router : tensor<{E}x{H}xf32>)
      gate(%gate : tensor<{E}x{F}x{H}xf32>) up(%up : tensor<{E}x{F}x{H}xf32>)
      down(%down : tensor<{E}x{H}x{F}xf32>)
      routing(#moe.routing<k = {K}, renormalize = true>)
      activation(#moe.activation<swiglu>) : tensor<?x{H}xf32>
  return %y : tensor<?x{H}xf32>
}}
""")
PY
cd "$dir"
"$build/bin/moe-opt" layer.mlir \
  --moe-plan-expert-parallelism="ranks=$ranks" -o planned.mlir 2> /dev/null
"$build/bin/moe-compile" layer.mlir -o one.so --weights weights.safetensors
"$build/bin/moe-compile" planned.mlir -o ep.so --weights weights.safetensors
echo "== one process, $ranks threads"
"$build/bin/moe-run" one.so --input hidden_states=x.npy --repeat "$repeat" \
  --threads "$ranks" --output one.npy | grep latency
echo "== one process, 1 thread"
"$build/bin/moe-run" one.so --input hidden_states=x.npy --repeat "$repeat" \
  --threads 1 | grep latency
echo "== $ranks ranks, 1 thread each"
OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none} \
  mpirun --allow-run-as-root --oversubscribe -np "$ranks" \
  "$build/bin/moe-run" ep.so --input hidden_states=x.npy --repeat "$repeat" \
  --threads 1 --output ep.npy | grep -E "latency|exchange"
"$py" -c "
import numpy as np
a, b = np.load('one.npy'), np.load('ep.npy')
print('ranks vs one process: relative L2 %.2e' % (np.linalg.norm(a - b) / np.linalg.norm(a)))"
