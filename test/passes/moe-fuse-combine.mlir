// RUN: moe-opt %s --moe-fuse-combine --split-input-file | FileCheck %s

// The down projection (with its bias) moves into the combine, which keeps
// its shared expert and gate.
// CHECK-LABEL: func.func @down_into_combine
// CHECK-SAME: (%[[H:.*]]: tensor<?x24xf32>, %[[WD:.*]]: tensor<4x16x24xbf16>, %[[OFF:.*]]: tensor<5xi32>, %[[BD:.*]]: tensor<4x16xf32>, %[[W:.*]]: tensor<?x2xf32>, %[[INV:.*]]: tensor<?x2xi32>, %[[S:.*]]: tensor<?x16xf32>, %[[G:.*]]: tensor<?x1xf32>)
// CHECK-NOT: moe.grouped_matmul
// CHECK: %[[Y:.*]] = moe.combine %[[H]], %[[W]], %[[INV]] shared(%[[S]] : tensor<?x16xf32>) shared_gate(%[[G]] : tensor<?x1xf32>) down(%[[WD]] : tensor<4x16x24xbf16>) down_offsets(%[[OFF]] : tensor<5xi32>) down_bias(%[[BD]] : tensor<4x16xf32>) : tensor<?x24xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xbf16>
// CHECK-NEXT: return %[[Y]]
func.func @down_into_combine(%h: tensor<?x24xf32>, %wd: tensor<4x16x24xbf16>, %off: tensor<5xi32>, %bd: tensor<4x16xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %s: tensor<?x16xf32>, %g: tensor<?x1xf32>) -> tensor<?x16xbf16> {
  %o = moe.grouped_matmul %h, %wd offsets(%off : tensor<5xi32>) bias(%bd : tensor<4x16xf32>) : tensor<?x24xf32>, tensor<4x16x24xbf16> -> tensor<?x16xf32>
  %y = moe.combine %o, %w, %inv shared(%s : tensor<?x16xf32>) shared_gate(%g : tensor<?x1xf32>) : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xbf16>
  return %y : tensor<?x16xbf16>
}

// -----

// An unweighted combine (Llama-4's weights on the inputs) stays unweighted.
// CHECK-LABEL: func.func @unweighted_kept
// CHECK-NOT: moe.grouped_matmul
// CHECK: moe.combine %{{.*}}, %{{.*}}, %{{.*}} down(%{{.*}} : tensor<4x16x24xf32>) down_offsets(%{{.*}} : tensor<5xi32>) unweighted : tensor<?x24xf32>
func.func @unweighted_kept(%h: tensor<?x24xf32>, %wd: tensor<4x16x24xf32>, %off: tensor<5xi32>, %w: tensor<?x1xf32>, %inv: tensor<?x1xi32>) -> tensor<?x16xf32> {
  %o = moe.grouped_matmul %h, %wd offsets(%off : tensor<5xi32>) : tensor<?x24xf32>, tensor<4x16x24xf32> -> tensor<?x16xf32>
  %y = moe.combine %o, %w, %inv unweighted : tensor<?x16xf32>, tensor<?x1xf32>, tensor<?x1xi32> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// A block-quantized down projection stays a GEMM of its own (moe.combine's
// down is a float weight).
// CHECK-LABEL: func.func @quantized_down_kept
// CHECK: %[[O:.*]] = moe.grouped_matmul
// CHECK: moe.combine %[[O]], %{{.*}}, %{{.*}} : tensor<?x32xf32>
func.func @quantized_down_kept(%h: tensor<?x64xf32>, %wd: tensor<4x32x64x!moe.quant<q4_0>>, %off: tensor<5xi32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>) -> tensor<?x32xf32> {
  %o = moe.grouped_matmul %h, %wd offsets(%off : tensor<5xi32>) : tensor<?x64xf32>, tensor<4x32x64x!moe.quant<q4_0>> -> tensor<?x32xf32>
  %y = moe.combine %o, %w, %inv : tensor<?x32xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
