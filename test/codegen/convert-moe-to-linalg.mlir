// RUN: moe-opt %s --convert-moe-to-linalg --split-input-file | FileCheck %s
// Softmax (max, exp, sum, divide), rank-based top-k, renormalize, scale.
// CHECK-LABEL: func.func @route_softmax
// CHECK-SAME: -> (tensor<?x2xf32>, tensor<?x2xi32>)
// CHECK-DAG: %[[TWO:.*]] = arith.constant 2.000000e+00 : f32
// CHECK-NOT: moe.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: arith.divf
// The rank of each expert: competitors with a larger score or an equal
// score and a lower index.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf oeq
// CHECK: arith.cmpi ult
// Slot j takes the expert of rank j.
// CHECK: %[[SEL:.*]]:2 = linalg.generic
// CHECK: arith.cmpi eq
// CHECK: -> (tensor<?x2xf32>, tensor<?x2xi32>)
// CHECK: arith.divf
// CHECK: arith.mulf %{{.*}}, %[[TWO]] : f32
// CHECK: return %{{.*}}, %[[SEL]]#1
func.func @route_softmax(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 2, renormalize = true, scale = 2.0>) : tensor<?x8xf32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

// -----

// bf16 logits, sigmoid scores, correction bias, top2_sum group limit.
// CHECK-LABEL: func.func @route_grouped
// CHECK-DAG: %[[NINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: arith.extf {{.*}} : bf16 to f32
// CHECK: math.exp
// CHECK: tensor.expand_shape {{.*}} output_shape [%{{.*}}, 4, 2] : tensor<?x8xf32> into tensor<?x4x2xf32>
// CHECK: arith.cmpi slt
// CHECK: arith.select %{{.*}}, %{{.*}}, %[[NINF]] : f32
// CHECK: tensor.collapse_shape
// CHECK-NOT: moe.
func.func @route_grouped(%l: tensor<?x8xbf16>, %b: tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = moe.route %l bias(%b : tensor<8xf32>) routing(#moe.routing<k = 2, scoring = sigmoid, n_group = 4, topk_group = 2, group_score = top2_sum>) : tensor<?x8xbf16>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

// -----

// Top-k on the logits first, softmax over the k selected.
// CHECK-LABEL: func.func @route_topk_then_score
// CHECK: arith.cmpf ogt
// CHECK: %[[SEL:.*]]:2 = linalg.generic
// CHECK: math.exp
// CHECK: return %{{.*}}, %[[SEL]]#1 : tensor<5x3xf32>, tensor<5x3xi32>
func.func @route_topk_then_score(%l: tensor<5x4xf32>) -> (tensor<5x3xf32>, tensor<5x3xi32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 3, order = topk_then_score>) : tensor<5x4xf32>
  return %w, %i : tensor<5x3xf32>, tensor<5x3xi32>
}

// -----

// Counting sort: count, prefix sum, stable placement.
// CHECK-LABEL: func.func @dispatch
// CHECK: %[[COUNTS:.*]] = scf.for
// CHECK: tensor.extract
// CHECK: tensor.insert
// CHECK: %[[OFFSETS:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %[[COUNTS]]) -> (tensor<5xi32>)
// CHECK: %[[PLACED:.*]]:3 = scf.for
// CHECK: return %[[PLACED]]#1, %[[PLACED]]#2, %[[OFFSETS]] : tensor<?xi32>, tensor<?x2xi32>, tensor<5xi32>
func.func @dispatch(%ids: tensor<?x2xi32>) -> (tensor<?xi32>, tensor<?x2xi32>, tensor<5xi32>) {
  %s, %inv, %off = moe.dispatch %ids experts(4) : tensor<?x2xi32>
  return %s, %inv, %off : tensor<?xi32>, tensor<?x2xi32>, tensor<5xi32>
}

// -----

// CHECK-LABEL: func.func @gather
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<?xi32>) outs(%{{.*}} : tensor<?x16xbf16>)
// CHECK: arith.index_cast
// CHECK: linalg.index 1
// CHECK: tensor.extract %{{.*}} : tensor<?x16xbf16>
func.func @gather(%x: tensor<?x16xbf16>, %rows: tensor<?xi32>) -> tensor<?x16xbf16> {
  %r = moe.gather %x[%rows] : tensor<?x16xbf16>, tensor<?xi32>
  return %r : tensor<?x16xbf16>
}

// -----

// One forall iteration per expert: row slice x weight slice, f32
// accumulation seeded with the bias.
// CHECK-LABEL: func.func @grouped_matmul
// CHECK: %[[ZERO:.*]] = linalg.fill
// CHECK: scf.forall (%[[E:.*]]) in (4) shared_outs(%[[OUT:.*]] = %[[ZERO]])
// CHECK: %[[LO:.*]] = arith.index_cast
// CHECK: %[[HI:.*]] = arith.index_cast
// CHECK: %[[ROWS:.*]] = arith.subi %[[HI]], %[[LO]]
// CHECK: tensor.extract_slice %{{.*}}[%[[LO]], 0] [%[[ROWS]], 16] [1, 1]
// CHECK: tensor.extract_slice %{{.*}}[%[[E]], 0, 0] [1, 8, 16] [1, 1, 1] : tensor<4x8x16xbf16> to tensor<8x16xbf16>
// CHECK: tensor.extract_slice %{{.*}}[%[[E]], 0] [1, 8] [1, 1] : tensor<4x8xf32> to tensor<8xf32>
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.extf {{.*}} : bf16 to f32
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: scf.forall.in_parallel
// CHECK: tensor.parallel_insert_slice %{{.*}} into %[[OUT]][%[[LO]], 0] [%[[ROWS]], 8] [1, 1]
func.func @grouped_matmul(%x: tensor<?x16xf32>, %w: tensor<4x8x16xbf16>, %off: tensor<5xi32>, %b: tensor<4x8xf32>) -> tensor<?x8xf32> {
  %r = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) bias(%b : tensor<4x8xf32>) : tensor<?x16xf32>, tensor<4x8x16xbf16> -> tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// -----

// Without offsets: one contraction, then the conversion to f16.
// CHECK-LABEL: func.func @dense_matmul
// CHECK-NOT: scf.forall
// CHECK: arith.extf {{.*}} : f16 to f32
// CHECK: arith.truncf {{.*}} : f32 to f16
func.func @dense_matmul(%x: tensor<?x16xf16>, %w: tensor<8x16xf32>) -> tensor<?x8xf16> {
  %r = moe.grouped_matmul %x, %w : tensor<?x16xf16>, tensor<8x16xf32> -> tensor<?x8xf16>
  return %r : tensor<?x8xf16>
}

// -----

// Interleaved gate/up as stride-2 views, clamp, SwiGLU with alpha/beta.
// CHECK-LABEL: func.func @activation_fused
// CHECK-DAG: arith.constant 1.702
// CHECK: %[[G:.*]] = tensor.extract_slice %arg0[0, 0] [%{{.*}}, 10] [1, 2]
// CHECK: %[[U:.*]] = tensor.extract_slice %arg0[0, 1] [%{{.*}}, 10] [1, 2]
// CHECK: linalg.generic {{.*}} ins(%[[G]], %[[U]] :
// CHECK: arith.minimumf
// CHECK: arith.maximumf
// CHECK: math.exp
func.func @activation_fused(%gu: tensor<?x20xf32>) -> tensor<?x10xf32> {
  %h = moe.activation %gu activation(#moe.activation<swiglu, alpha = 1.702, beta = 1.0, limit = 7.0>) gate_up_layout(interleaved) : tensor<?x20xf32> -> tensor<?x10xf32>
  return %h : tensor<?x10xf32>
}

// -----

// CHECK-LABEL: func.func @activation_gelu
// CHECK: math.erf
func.func @activation_gelu(%u: tensor<?x10xf32>) -> tensor<?x10xf32> {
  %h = moe.activation %u activation(#moe.activation<gelu>) : tensor<?x10xf32> -> tensor<?x10xf32>
  return %h : tensor<?x10xf32>
}

// -----

// Weighted gather-sum over the k slots, plus the sigmoid-gated shared
// expert, rounded to bf16.
// CHECK-LABEL: func.func @combine
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: tensor.extract %arg0
// CHECK: linalg.generic
// CHECK: math.exp
// CHECK: arith.truncf {{.*}} : f32 to bf16
func.func @combine(%y: tensor<?x16xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %s: tensor<?x16xf32>, %g: tensor<?x1xf32>) -> tensor<?x16xbf16> {
  %o = moe.combine %y, %w, %inv shared(%s : tensor<?x16xf32>) shared_gate(%g : tensor<?x1xf32>) : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xbf16>
  return %o : tensor<?x16xbf16>
}

// -----

// A whole layer lowers through decomposition: nothing of moe is left.
// CHECK-LABEL: func.func @layer
// CHECK-NOT: moe.
// CHECK: scf.forall
// CHECK: return
func.func @layer(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %u: tensor<4x8x16xf32>, %d: tensor<4x16x8xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%u : tensor<4x8x16xf32>) down(%d : tensor<4x16x8xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// A weight wider than a cache tile (40 rows of 16384 f32) is contracted in
// tiles of 16 rows, the last one partial, with the bias sliced alike.
// CHECK-LABEL: func.func @grouped_matmul_tiled
// CHECK: scf.forall
// CHECK: %[[W:.*]] = tensor.extract_slice %{{.*}}[%{{.*}}, 0, 0] [1, 40, 16384] [1, 1, 1]
// CHECK: %[[B:.*]] = tensor.extract_slice %{{.*}}[%{{.*}}, 0] [1, 40] [1, 1]
// CHECK: scf.for %[[N0:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[OUT:.*]] = %{{.*}}) -> (tensor<?x40xf32>)
// CHECK: %[[SIZE:.*]] = arith.minsi
// CHECK: tensor.extract_slice %[[W]][%[[N0]], 0] [%[[SIZE]], 16384] [1, 1]
// CHECK: tensor.extract_slice %[[B]][%[[N0]]] [%[[SIZE]]] [1]
// CHECK: linalg.generic
// CHECK: tensor.insert_slice %{{.*}} into %[[OUT]][0, %[[N0]]] [%{{.*}}, %[[SIZE]]] [1, 1]
func.func @grouped_matmul_tiled(%x: tensor<?x16384xf32>, %w: tensor<2x40x16384xf32>, %off: tensor<3xi32>, %b: tensor<2x40xf32>) -> tensor<?x40xf32> {
  %r = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) bias(%b : tensor<2x40xf32>) : tensor<?x16384xf32>, tensor<2x40x16384xf32> -> tensor<?x40xf32>
  return %r : tensor<?x40xf32>
}
