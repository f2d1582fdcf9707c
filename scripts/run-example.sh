#!/usr/bin/env bash
# The README's first command: installs and builds moec (scripts/setup.sh),
# then takes the default example examples/tiny-mixtral.mlir through what moec
# does today: verify it, decompose it into its stages with moe-opt, evaluate
# it with the float64 reference evaluator on generated weights, and check the
# result against an independent NumPy computation.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_BUILD_DIR:-$root/build}
work=$build/example

"$root/scripts/setup.sh"
mkdir -p "$work"
bin=$build/bin
example=$root/examples/tiny-mixtral.mlir

echo "== moe-opt --moe-decompose $example"
"$bin/moe-opt" --moe-decompose "$example" -o "$work/decomposed.mlir"
grep -oE '= moe\.[a-z_]+' "$work/decomposed.mlir" | cut -c3- | sort | uniq -c

echo "== weights and inputs"
/usr/bin/python3 "$root/examples/tiny_mixtral.py" make "$work"

echo "== float64 reference evaluation"
"$bin/moe-reference" --config "$work/config.json" \
  --input hidden="$work/hidden.npy" \
  --input router_weight="$work/router_weight.npy" \
  --input gate="$work/gate.npy" --input up="$work/up.npy" \
  --input down="$work/down.npy" -o "$work/output.npy"
echo "wrote $work/output.npy"

echo "== check"
/usr/bin/python3 "$root/examples/tiny_mixtral.py" check "$work" "$work/output.npy"
