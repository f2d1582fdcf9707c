// RUN: moe-opt %s --moe-fuse-gate-up --split-input-file --verify-diagnostics | FileCheck %s
// Inputs the pass must leave alone: fusing them would change the result or
// the IR's meaning. None is an error; each stays as it is.

// The gate projection rounds to bf16 before the activation: fusing would
// skip that rounding.
// CHECK-LABEL: func.func @rounded_projection
// CHECK: moe.activation
func.func @rounded_projection(%x: tensor<?x16xf32>, %g: tensor<4x24x16xf32>, %u: tensor<4x24x16xf32>, %off: tensor<5xi32>) -> tensor<?x24xf32> {
  %0 = moe.grouped_matmul %x, %g offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x24x16xf32> -> tensor<?x24xbf16>
  %1 = moe.grouped_matmul %x, %u offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x24x16xf32> -> tensor<?x24xf32>
  %2 = moe.activation %0, %1 activation(#moe.activation<swiglu>) : tensor<?x24xbf16>, tensor<?x24xf32> -> tensor<?x24xf32>
  return %2 : tensor<?x24xf32>
}

// -----

// The projection has another user, which needs it unactivated.
// CHECK-LABEL: func.func @projection_used_twice
// CHECK: moe.activation
func.func @projection_used_twice(%x: tensor<?x16xf32>, %w: tensor<32x16xf32>) -> (tensor<?x32xf32>, tensor<?x32xf32>) {
  %0 = moe.grouped_matmul %x, %w : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
  %1 = moe.activation %0 activation(#moe.activation<relu>) : tensor<?x32xf32> -> tensor<?x32xf32>
  return %0, %1 : tensor<?x32xf32>, tensor<?x32xf32>
}

// -----

// Gate and up read different rows (or weights of different types).
// CHECK-LABEL: func.func @different_rows
// CHECK: moe.activation
func.func @different_rows(%x: tensor<?x16xf32>, %y: tensor<?x16xf32>, %g: tensor<4x24x16xf32>, %u: tensor<4x24x16xbf16>, %off: tensor<5xi32>) -> (tensor<?x24xf32>, tensor<?x24xf32>) {
  %0 = moe.grouped_matmul %x, %g offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x24x16xf32> -> tensor<?x24xf32>
  %1 = moe.grouped_matmul %y, %g offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x24x16xf32> -> tensor<?x24xf32>
  %2 = moe.activation %0, %1 activation(#moe.activation<swiglu>) : tensor<?x24xf32>, tensor<?x24xf32> -> tensor<?x24xf32>
  %3 = moe.grouped_matmul %x, %g offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x24x16xf32> -> tensor<?x24xf32>
  %4 = moe.grouped_matmul %x, %u offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x24x16xbf16> -> tensor<?x24xf32>
  %5 = moe.activation %3, %4 activation(#moe.activation<swiglu>) : tensor<?x24xf32>, tensor<?x24xf32> -> tensor<?x24xf32>
  return %2, %5 : tensor<?x24xf32>, tensor<?x24xf32>
}
