// RUN: moe-opt %s --moe-fuse-dispatch --split-input-file --verify-diagnostics | FileCheck %s
// Inputs the pass must leave alone. None is an error; each stays as it is.

// A gather some other op reads stays; the GEMM still reads through it.
// CHECK-LABEL: func.func @gather_kept_for_other_user
// CHECK: %[[XS:.*]] = moe.gather
// CHECK: moe.grouped_matmul %arg0, %arg2 gather(%arg1 : tensor<?xi32>)
// CHECK: return %[[XS]]
func.func @gather_kept_for_other_user(%x: tensor<?x16xf32>, %rows: tensor<?xi32>, %w: tensor<24x16xf32>) -> (tensor<?x16xf32>, tensor<?x24xf32>) {
  %xs = moe.gather %x[%rows] : tensor<?x16xf32>, tensor<?xi32>
  %0 = moe.grouped_matmul %xs, %w : tensor<?x16xf32>, tensor<24x16xf32> -> tensor<?x24xf32>
  return %xs, %0 : tensor<?x16xf32>, tensor<?x24xf32>
}

// -----

// A GEMM that already gathers its rows is not gathered twice.
// CHECK-LABEL: func.func @already_gathering
// CHECK: %[[XS:.*]] = moe.gather %arg0[%arg1]
// CHECK: moe.grouped_matmul %[[XS]], %arg2 gather(%arg1 : tensor<?xi32>)
func.func @already_gathering(%x: tensor<?x16xf32>, %rows: tensor<?xi32>, %w: tensor<24x16xf32>) -> tensor<?x24xf32> {
  %xs = moe.gather %x[%rows] : tensor<?x16xf32>, tensor<?xi32>
  %0 = moe.grouped_matmul %xs, %w gather(%rows : tensor<?xi32>) : tensor<?x16xf32>, tensor<24x16xf32> -> tensor<?x24xf32>
  return %0 : tensor<?x24xf32>
}
