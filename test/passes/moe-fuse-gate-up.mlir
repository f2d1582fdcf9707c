// RUN: moe-opt %s --moe-fuse-gate-up --split-input-file | FileCheck %s

// Separate gate and up projections of the same rows, with biases: one GEMM
// with up(...), up_bias(...) and the activation; the result keeps the
// activation's type.
// CHECK-LABEL: func.func @separate
// CHECK-SAME: (%[[X:.*]]: tensor<?x16xf32>, %[[G:.*]]: tensor<4x24x16xbf16>, %[[U:.*]]: tensor<4x24x16xbf16>, %[[OFF:.*]]: tensor<5xi32>, %[[BG:.*]]: tensor<4x24xf32>, %[[BU:.*]]: tensor<4x24xf32>)
// CHECK-NEXT: %[[H:.*]] = moe.grouped_matmul %[[X]], %[[G]] offsets(%[[OFF]] : tensor<5xi32>) bias(%[[BG]] : tensor<4x24xf32>) up(%[[U]] : tensor<4x24x16xbf16>) up_bias(%[[BU]] : tensor<4x24xf32>) activation(#moe.activation<swiglu, alpha = 1.702{{.*}}>) : tensor<?x16xf32>, tensor<4x24x16xbf16> -> tensor<?x24xbf16>
// CHECK-NEXT: return %[[H]]
func.func @separate(%x: tensor<?x16xf32>, %g: tensor<4x24x16xbf16>, %u: tensor<4x24x16xbf16>, %off: tensor<5xi32>, %bg: tensor<4x24xf32>, %bu: tensor<4x24xf32>) -> tensor<?x24xbf16> {
  %0 = moe.grouped_matmul %x, %g offsets(%off : tensor<5xi32>) bias(%bg : tensor<4x24xf32>) : tensor<?x16xf32>, tensor<4x24x16xbf16> -> tensor<?x24xf32>
  %1 = moe.grouped_matmul %x, %u offsets(%off : tensor<5xi32>) bias(%bu : tensor<4x24xf32>) : tensor<?x16xf32>, tensor<4x24x16xbf16> -> tensor<?x24xf32>
  %2 = moe.activation %0, %1 activation(#moe.activation<swiglu, alpha = 1.702, beta = 1.0, limit = 7.0>) : tensor<?x24xf32>, tensor<?x24xf32> -> tensor<?x24xbf16>
  return %2 : tensor<?x24xbf16>
}

// -----

// A fused gate/up weight keeps its layout; the gather is carried along.
// CHECK-LABEL: func.func @fused_weight
// CHECK-NEXT: %[[H:.*]] = moe.grouped_matmul %arg0, %arg1 gather(%arg3 : tensor<?xi32>) offsets(%arg2 : tensor<5xi32>) activation(#moe.activation<geglu>) gate_up_layout(concatenated) : tensor<?x16xf32>, tensor<4x48x16xf32> -> tensor<?x24xf32>
// CHECK-NEXT: return %[[H]]
func.func @fused_weight(%x: tensor<?x16xf32>, %gu: tensor<4x48x16xf32>, %off: tensor<5xi32>, %rows: tensor<?xi32>) -> tensor<?x24xf32> {
  %0 = moe.grouped_matmul %x, %gu gather(%rows : tensor<?xi32>) offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x48x16xf32> -> tensor<?x48xf32>
  %1 = moe.activation %0 activation(#moe.activation<geglu>) gate_up_layout(concatenated) : tensor<?x48xf32> -> tensor<?x24xf32>
  return %1 : tensor<?x24xf32>
}

// -----

// An elementwise activation of a dense projection (a shared expert).
// CHECK-LABEL: func.func @elementwise
// CHECK-NEXT: %[[H:.*]] = moe.grouped_matmul %arg0, %arg1 activation(#moe.activation<gelu_tanh>) : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
// CHECK-NEXT: return %[[H]]
func.func @elementwise(%x: tensor<?x16xf32>, %w: tensor<32x16xf32>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
  %1 = moe.activation %0 activation(#moe.activation<gelu_tanh>) : tensor<?x32xf32> -> tensor<?x32xf32>
  return %1 : tensor<?x32xf32>
}
