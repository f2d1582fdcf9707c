// RUN: moe-opt %s --moe-fuse-combine --split-input-file --verify-diagnostics | FileCheck %s
// Inputs the pass must leave alone. None is an error; each stays as it is.

// The projection rounds to bf16 before the combine reads it.
// CHECK-LABEL: func.func @rounded_projection
// CHECK: moe.grouped_matmul
// CHECK: moe.combine %{{.*}}, %{{.*}}, %{{.*}} :
func.func @rounded_projection(%h: tensor<?x24xf32>, %wd: tensor<4x16x24xf32>, %off: tensor<5xi32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>) -> tensor<?x16xf32> {
  %o = moe.grouped_matmul %h, %wd offsets(%off : tensor<5xi32>) : tensor<?x24xf32>, tensor<4x16x24xf32> -> tensor<?x16xbf16>
  %y = moe.combine %o, %w, %inv : tensor<?x16xbf16>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// The projection has another user; a dense projection is no expert GEMM.
// CHECK-LABEL: func.func @not_fusible
// CHECK: moe.grouped_matmul
// CHECK: moe.combine %{{.*}}, %{{.*}}, %{{.*}} :
// CHECK: moe.grouped_matmul
// CHECK: moe.combine %{{.*}}, %{{.*}}, %{{.*}} :
func.func @not_fusible(%h: tensor<?x24xf32>, %wd: tensor<4x16x24xf32>, %off: tensor<5xi32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %dense: tensor<16x24xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>) {
  %o = moe.grouped_matmul %h, %wd offsets(%off : tensor<5xi32>) : tensor<?x24xf32>, tensor<4x16x24xf32> -> tensor<?x16xf32>
  %y = moe.combine %o, %w, %inv : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
  %p = moe.grouped_matmul %h, %dense : tensor<?x24xf32>, tensor<16x24xf32> -> tensor<?x16xf32>
  %z = moe.combine %p, %w, %inv : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
  return %o, %y, %z : tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>
}
