// RUN: moe-opt %s --moe-fuse-dispatch --split-input-file | FileCheck %s

// Both projections read the tokens through the dispatch's indices; the
// gather goes away.
// CHECK-LABEL: func.func @two_users
// CHECK-SAME: (%[[X:.*]]: tensor<?x16xf32>, %[[ROWS:.*]]: tensor<?xi32>, %[[OFF:.*]]: tensor<5xi32>, %[[G:.*]]: tensor<4x24x16xf32>, %[[U:.*]]: tensor<4x24x16xf32>)
// CHECK-NOT: moe.gather
// CHECK: moe.grouped_matmul %[[X]], %[[G]] gather(%[[ROWS]] : tensor<?xi32>) offsets(%[[OFF]] : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x24x16xf32> -> tensor<?x24xf32>
// CHECK: moe.grouped_matmul %[[X]], %[[U]] gather(%[[ROWS]] : tensor<?xi32>) offsets(%[[OFF]] : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x24x16xf32> -> tensor<?x24xf32>
func.func @two_users(%x: tensor<?x16xf32>, %rows: tensor<?xi32>, %off: tensor<5xi32>, %g: tensor<4x24x16xf32>, %u: tensor<4x24x16xf32>) -> (tensor<?x24xf32>, tensor<?x24xf32>) {
  %xs = moe.gather %x[%rows] : tensor<?x16xf32>, tensor<?xi32>
  %0 = moe.grouped_matmul %xs, %g offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x24x16xf32> -> tensor<?x24xf32>
  %1 = moe.grouped_matmul %xs, %u offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x24x16xf32> -> tensor<?x24xf32>
  return %0, %1 : tensor<?x24xf32>, tensor<?x24xf32>
}

// -----

// A fused gate/up GEMM with bf16 tokens; a static row count carries over.
// CHECK-LABEL: func.func @fused_static
// CHECK-NOT: moe.gather
// CHECK: moe.grouped_matmul %arg0, %arg2 gather(%arg1 : tensor<12xi64>) offsets(%arg3 : tensor<5xi32>) activation(#moe.activation<swiglu>) gate_up_layout(interleaved) : tensor<6x16xbf16>, tensor<4x48x16xf32> -> tensor<12x24xf32>
func.func @fused_static(%x: tensor<6x16xbf16>, %rows: tensor<12xi64>, %gu: tensor<4x48x16xf32>, %off: tensor<5xi32>) -> tensor<12x24xf32> {
  %xs = moe.gather %x[%rows] : tensor<6x16xbf16>, tensor<12xi64>
  %0 = moe.grouped_matmul %xs, %gu offsets(%off : tensor<5xi32>) activation(#moe.activation<swiglu>) gate_up_layout(interleaved) : tensor<12x16xbf16>, tensor<4x48x16xf32> -> tensor<12x24xf32>
  return %0 : tensor<12x24xf32>
}

// -----

// A gather that scales its rows by routing weights (Llama-4) stays: the
// fused form reads the tokens as they are.
// CHECK-LABEL: func.func @scaled_gather_stays
// CHECK: %[[XS:.*]] = moe.gather %{{.*}}[%{{.*}}] scales(
// CHECK: moe.grouped_matmul %[[XS]], %{{.*}} offsets(
func.func @scaled_gather_stays(%x: tensor<?x16xf32>, %rows: tensor<?xi32>, %w: tensor<?x1xf32>, %inv: tensor<?x1xi32>, %off: tensor<5xi32>, %g: tensor<4x24x16xf32>) -> tensor<?x24xf32> {
  %xs = moe.gather %x[%rows] scales(%w, %inv : tensor<?x1xf32>, tensor<?x1xi32>) : tensor<?x16xf32>, tensor<?xi32>
  %0 = moe.grouped_matmul %xs, %g offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x24x16xf32> -> tensor<?x24xf32>
  return %0 : tensor<?x24xf32>
}
