// RUN: moe-opt %s --convert-moe-to-linalg -split-input-file -verify-diagnostics
// RUN: not moe-opt %s --convert-moe-to-linalg=vector-bits=384 2>&1 | FileCheck %s --check-prefix=BITS
// BITS: error: convert-moe-to-linalg: vector-bits must be 128, 256 or 512, not 384
// RUN: not moe-opt %s --convert-moe-to-linalg="vector-bits=256 bf16-dot=true" 2>&1 | FileCheck %s --check-prefix=DOT
// DOT: error: convert-moe-to-linalg: bf16-dot needs vector-bits=512 (AVX512_BF16)
// Weights packed in pairs of k are for AVX512_BF16 dot products only.
// RUN: not moe-opt %S/Inputs/pairs.mlir --convert-moe-to-linalg=vector-bits=256 2>&1 | FileCheck %s --check-prefix=PAIRS
// PAIRS: pairs.mlir:5:{{[0-9]+}}: error: 'moe.grouped_matmul' op cannot be lowered: its weight is packed in pairs of k (moe-pack-weights bf16-dot), which needs vector-bits=512 (AVX512_BF16 dot products)
// Panels in slices of one AVX-512 vector each are too wide for AVX2's.
// RUN: not moe-opt %S/Inputs/slices.mlir --convert-moe-to-linalg=vector-bits=256 2>&1 | FileCheck %s --check-prefix=SLICES
// SLICES: slices.mlir:7:{{[0-9]+}}: error: 'moe.grouped_matmul' op cannot be lowered: its weight is packed in 4 slices of panels of 16 columns (moe-pack-weights slices), more than the 16-column panel of vector-bits=256 holds with one vector per slice

// A layer whose expert count is dynamic cannot be dispatched.
func.func @dynamic_experts(%x: tensor<?x16xf32>, %l: tensor<?x?xf32>, %u: tensor<?x8x16xf32>, %d: tensor<?x16x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'moe.layer' op cannot be lowered: its expert count is dynamic}}
  %y = moe.layer %x router_logits(%l : tensor<?x?xf32>) up(%u : tensor<?x8x16xf32>) down(%d : tensor<?x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Expert groups are formed by reshaping [T, E]: E must be known.
func.func @grouped_dynamic_experts(%l: tensor<?x?xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  // expected-error @+1 {{'moe.route' op cannot be lowered: group-limited routing needs a static expert count}}
  %w, %i = moe.route %l routing(#moe.routing<k = 2, n_group = 2>) : tensor<?x?xf32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

// -----

// Without groups a dynamic expert count lowers (tensor.dim everywhere).
func.func @route_dynamic_experts(%l: tensor<?x?xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x?xf32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}
