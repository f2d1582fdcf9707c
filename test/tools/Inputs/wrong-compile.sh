#!/bin/sh
# A compiler that gets the semantics wrong, for moe-bench's check against
# the float64 reference: moe-compile on the layer with renormalization
# switched off. moe-bench runs it as `wrong-compile.sh LAYER.mlir -o OUT.so`.
in=$1
shift
sed 's/renormalize = true/renormalize = false/' "$in" > "$in.wrong.mlir" &&
  exec moe-compile "$in.wrong.mlir" "$@"
