// RUN: moe-opt %s --moe-set-cpu-target=cpu=x86-64-v4 --moe-pack-weights --split-input-file --verify-diagnostics | FileCheck %s
// RUN: not moe-opt %s --moe-pack-weights=panel-width=-1 2>&1 | FileCheck %s --check-prefix=WIDTH
// RUN: not moe-opt %s --moe-set-cpu-target=cpu=x86-64-v4 --moe-pack-weights=slices=3 2>&1 | FileCheck %s --check-prefix=SLICES
// RUN: not moe-opt %s --moe-pack-weights=slices=-2 2>&1 | FileCheck %s --check-prefix=SLICESNEG
// Without a target description, the panel width must be given.
// RUN: not moe-opt %s --moe-pack-weights 2>&1 | FileCheck %s --check-prefix=NOTARGET
// Weights the pass must leave alone: their layout is seen by something
// other than a plain grouped GEMM, or the GEMM is not one the packed
// kernel runs. None is an error; each keeps its type.

// WIDTH: error: moe-pack-weights: panel-width must be positive (or 0: from the target description), not -1
// SLICES: error: moe-pack-weights: slices must divide the panel width 64, not 3
// SLICESNEG: error: moe-pack-weights: slices must be positive (or 0: from the target description), not -2
// NOTARGET: error: moe-pack-weights: the module has no dlti.target_system_spec (moe-set-cpu-target writes the CPU target description: docs/Targets.md)

// The weight is also returned.
// CHECK-LABEL: func.func @weight_returned
// CHECK-SAME: tensor<2x8x8xf32>
// CHECK-NOT: linalg.unpack
func.func @weight_returned(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> (tensor<?x8xf32>, tensor<2x8x8xf32>) {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a, %w : tensor<?x8xf32>, tensor<2x8x8xf32>
}

// -----

// A gate and up weight in one tensor (gate_up_layout: two weight rows
// per output in one weight) keeps the row layout; so do the gate and up
// weights of a fused GEMM when one of them has another use (here the up
// weight is returned): they are packed together or not at all.
// CHECK-LABEL: func.func @gate_up_kept
// CHECK-SAME: %{{[^:]*}}: tensor<2x16x8xf32>, %{{[^:]*}}: tensor<2x8x8xf32>, %{{[^:]*}}: tensor<2x8x8xf32>,
// CHECK-NOT: linalg.unpack
func.func @gate_up_kept(%x: tensor<?x8xf32>, %rows: tensor<?xi32>, %gu: tensor<2x16x8xf32>, %g: tensor<2x8x8xf32>, %u: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<2x8x8xf32>) {
  %a = moe.grouped_matmul %x, %gu gather(%rows : tensor<?xi32>) offsets(%off : tensor<3xi32>) activation(#moe.activation<swiglu>) gate_up_layout(concatenated) : tensor<?x8xf32>, tensor<2x16x8xf32> -> tensor<?x8xf32>
  %b = moe.grouped_matmul %x, %g offsets(%off : tensor<3xi32>) up(%u : tensor<2x8x8xf32>) activation(#moe.activation<swiglu>) : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a, %b, %u : tensor<?x8xf32>, tensor<?x8xf32>, tensor<2x8x8xf32>
}

// -----

// A plain GEMM with a bf16 result (the kernel keeps f32 partial sums in
// its output; one with an activation in its epilogue uses f32 scratch).
// CHECK-LABEL: func.func @bf16_result
// CHECK-NOT: linalg.unpack
func.func @bf16_result(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xbf16> {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xbf16>
  return %a : tensor<?x8xbf16>
}

// -----

// A private function, and a public one that is called: their signatures
// belong to their callers.
// CHECK-LABEL: func.func private @helper
// CHECK-NOT: linalg.unpack
// CHECK-LABEL: func.func @called
// CHECK-NOT: linalg.unpack
// CHECK-LABEL: func.func @caller
func.func private @helper(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}
func.func @called(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}
func.func @caller(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %a = func.call @helper(%x, %w, %off) : (tensor<?x8xf32>, tensor<2x8x8xf32>, tensor<3xi32>) -> tensor<?x8xf32>
  %b = func.call @called(%x, %w, %off) : (tensor<?x8xf32>, tensor<2x8x8xf32>, tensor<3xi32>) -> tensor<?x8xf32>
  return %a, %b : tensor<?x8xf32>, tensor<?x8xf32>
}
