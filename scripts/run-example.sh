#!/usr/bin/env bash
# The README's first command: installs and builds moec (scripts/setup.sh),
# then compiles the default example examples/tiny-mixtral.mlir into a shared
# object, runs it on generated weights and inputs, verifies it against the
# float64 reference evaluator and an independent NumPy computation, and
# prints its speed in tokens per second.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_BUILD_DIR:-$root/build}
work=$build/example

"$root/scripts/setup.sh"
mkdir -p "$work"
bin=$build/bin
example=$root/examples/tiny-mixtral.mlir

echo "== weights and inputs"
"$build/venv/bin/python" "$root/examples/tiny_mixtral.py" make "$work"

echo "== moe-compile $example"
"$bin/moe-compile" "$example" -o "$work/tiny-mixtral.so" \
  --weights "$work/weights.safetensors" -v
"$bin/moe-run" "$work/tiny-mixtral.so" --list

echo "== moe-run (verified against the float64 reference evaluator)"
"$bin/moe-run" "$work/tiny-mixtral.so" \
  --input hidden_states="$work/hidden_states.npy" \
  --output "$work/output.npy" --verify --repeat 50
echo "wrote $work/output.npy"

echo "== independent check"
"$build/venv/bin/python" "$root/examples/tiny_mixtral.py" check "$work" "$work/output.npy"
