// RUN: moe-opt %s --convert-moe-to-linalg --split-input-file | FileCheck %s
// The target-neutral lowering: every op as linalg on tensors, the GEMMs as
// contraction generics reading weights through tensor.extract.
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

// LFM2-MoE's renormalization: the sum of the k weights starts at
// renorm_epsilon.
// CHECK-LABEL: func.func @route_renorm_epsilon
// CHECK-DAG: %[[EPS:.*]] = arith.constant 9.99999997E-7 : f32
// CHECK: %[[SEL:.*]]:2 = linalg.generic
// CHECK: %[[INIT:.*]] = linalg.fill ins(%[[EPS]] : f32)
// CHECK: linalg.generic {{.*}} outs(%[[INIT]] : tensor<?xf32>)
// CHECK: arith.addf
// CHECK: arith.divf
// CHECK: return %{{.*}}, %[[SEL]]#1
func.func @route_renorm_epsilon(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 2, scoring = sigmoid, renormalize = true, renorm_epsilon = 1.0e-06>) : tensor<?x8xf32>
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

// The exchange plan: the placement's tables as constants (each expert's
// first slot, its replicas, its slots); pass 1 picks each assignment's
// replica ((n + rank) mod replicas) and rank, counting per rank; a prefix
// sum gives each rank's first send row; pass 2 places the assignments.
// The all-to-all is left for the target.
shard.grid @ep(shape = 2)
// CHECK-LABEL: func.func @exchange_plan
// CHECK-SAME: (%[[IDS:[^:]*]]: tensor<?x2xi32>, %[[RANK:[^:]*]]: index
// CHECK-DAG: %[[SLOTS:.*]] = arith.constant dense<[0, 2, 1, 5, 3, 4]> : tensor<6xi32>
// CHECK-DAG: %[[REPLICAS:.*]] = arith.constant dense<[2, 2, 1, 1]> : tensor<4xi32>
// CHECK-DAG: %[[FIRST:.*]] = arith.constant dense<[0, 2, 4, 5, 6]> : tensor<5xi32>
// CHECK-DAG: %[[PERRANK:.*]] = arith.constant 3 : i32
// CHECK: %[[RANK32:.*]] = arith.index_cast %[[RANK]] : index to i32
// CHECK: %[[PICK:.*]]:3 = scf.for
// CHECK:   tensor.extract %[[IDS]]
// CHECK:   %[[N:.*]] = tensor.extract
// CHECK:   %[[R:.*]] = tensor.extract %[[REPLICAS]]
// CHECK:   %[[TURN:.*]] = arith.remui %{{.*}}, %[[R]] : i32
// CHECK:   tensor.extract %[[FIRST]]
// CHECK:   %[[SLOT:.*]] = tensor.extract %[[SLOTS]]
// CHECK:   arith.divui %[[SLOT]], %[[PERRANK]] : i32
// CHECK: %[[SCAN:.*]]:2 = scf.for
// CHECK: %[[PLACE:.*]]:4 = scf.for {{.*}} iter_args(%{{.*}} = %[[SCAN]]#0,
// CHECK: return %[[PLACE]]#1, %[[PLACE]]#2, %[[PICK]]#1, %[[PLACE]]#3 : tensor<?xi32>, tensor<?xi32>, tensor<2xi64>, tensor<?x2xi32>
func.func @exchange_plan(%ids: tensor<?x2xi32>, %rank: index, %x: tensor<?x8xf32>) -> (tensor<?xi32>, tensor<?xi32>, tensor<2xi64>, tensor<?x2xi32>) {
  %t, %e, %c, %p = moe.exchange_plan %ids rank(%rank) placement(#moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>) : tensor<?x2xi32>
  return %t, %e, %c, %p : tensor<?xi32>, tensor<?xi32>, tensor<2xi64>, tensor<?x2xi32>
}

// -----

// CHECK-LABEL: func.func @all_to_all_v_kept
// CHECK: moe.all_to_all_v
shard.grid @ep(shape = 2)
func.func @all_to_all_v_kept(%x: tensor<?x8xf32>, %s: tensor<2xi64>, %r: tensor<2xi64>) -> tensor<?x8xf32> {
  %y = moe.all_to_all_v %x, %s, %r on @ep : tensor<?x8xf32>, tensor<2xi64> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
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

// Interleaved gate/up as stride-2 views, clamp, SwiGLU with alpha/beta.
// CHECK-LABEL: func.func @activation_fused
// CHECK-SAME: (%[[GU:[^:]*]]: tensor<?x20xf32>)
// CHECK-DAG: arith.constant 1.702
// CHECK: %[[G:.*]] = tensor.extract_slice %[[GU]][0, 0] [%{{.*}}, 10] [1, 2]
// CHECK: %[[U:.*]] = tensor.extract_slice %[[GU]][0, 1] [%{{.*}}, 10] [1, 2]
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

// The squared ReLU: max(u, 0) times itself.
// CHECK-LABEL: func.func @activation_relu2
// CHECK: linalg.generic
// CHECK: %[[R:.*]] = arith.maximumf %{{.*}}, %{{.*}} : f32
// CHECK: %[[SQ:.*]] = arith.mulf %[[R]], %[[R]] : f32
// CHECK: linalg.yield %[[SQ]]
func.func @activation_relu2(%u: tensor<?x10xf32>) -> tensor<?x10xf32> {
  %h = moe.activation %u activation(#moe.activation<relu2>) : tensor<?x10xf32> -> tensor<?x10xf32>
  return %h : tensor<?x10xf32>
}

// -----

// Weighted gather-sum over the k slots, plus the sigmoid-gated shared
// expert, rounded to bf16.
// CHECK-LABEL: func.func @combine
// CHECK-SAME: (%[[Y:[^:]*]]: tensor<?x16xf32>,
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: tensor.extract %[[Y]]
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
// CHECK-NOT: scf.forall
// CHECK-NOT: vector.
// CHECK: return
func.func @layer(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %u: tensor<4x8x16xf32>, %d: tensor<4x16x8xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%u : tensor<4x8x16xf32>) down(%d : tensor<4x16x8xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Each row's group counts the offsets after the first that are at most the
// row; the contraction reads the weight of that group (clamped: rows
// outside every group are zeroed in the epilogue), sums in f32, and the
// epilogue adds the group's bias.
// CHECK-LABEL: func.func @grouped_matmul_neutral
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x36xf32>, %[[W:[^:]*]]: tensor<4x8x36xbf16>, %[[OFF:[^:]*]]: tensor<5xi32>, %[[B:[^:]*]]: tensor<4x8xf32>)
// CHECK-NOT: moe.
// CHECK-NOT: vector.
// CHECK-DAG: %[[LASTG:.*]] = arith.constant 3 : index
// CHECK-DAG: %[[NG:.*]] = arith.constant 4 : index
// CHECK: %[[ENDS:.*]] = tensor.extract_slice %[[OFF]][1] [4] [1] : tensor<5xi32> to tensor<4xi32>
// CHECK: %[[GRP:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[ENDS]] : tensor<4xi32>)
// CHECK: arith.cmpi sle
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]], %{{.*}}, %[[GRP]] : tensor<?x36xf32>, tensor<36xf32>, tensor<?xindex>)
// CHECK: ^bb0(%[[A:.*]]: f32, %{{.*}}: f32, %[[G:.*]]: index, %[[ACC:.*]]: f32):
// CHECK: %[[K:.*]] = linalg.index 2
// CHECK: %[[N:.*]] = linalg.index 1
// CHECK: %[[GC:.*]] = arith.minui %[[G]], %[[LASTG]]
// CHECK: %[[WV:.*]] = tensor.extract %[[W]][%[[GC]], %[[N]], %[[K]]] : tensor<4x8x36xbf16>
// CHECK: %[[WF:.*]] = arith.extf %[[WV]] : bf16 to f32
// CHECK: %[[P:.*]] = arith.mulf %[[A]], %[[WF]]
// CHECK: arith.addf %[[ACC]], %[[P]]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]} ins(%[[SUM]], %[[GRP]] : tensor<?x8xf32>, tensor<?xindex>)
// CHECK: tensor.extract %[[B]]
// CHECK: %[[FIRST:.*]] = tensor.extract %[[OFF]]
// CHECK: arith.cmpi uge, %{{.*}}, %{{.*}}
// CHECK: arith.cmpi ult, %{{.*}}, %[[NG]]
// CHECK: arith.select
func.func @grouped_matmul_neutral(%x: tensor<?x36xf32>, %w: tensor<4x8x36xbf16>, %off: tensor<5xi32>, %b: tensor<4x8xf32>) -> tensor<?x8xf32> {
  %r = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) bias(%b : tensor<4x8xf32>) : tensor<?x36xf32>, tensor<4x8x36xbf16> -> tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// -----

// A gathered, gated GEMM on an interleaved gate/up weight: the rows come
// through the indices, the gate from weight row 2n, the up from 2n + 1,
// SwiGLU and the rounding in the epilogue.
// CHECK-LABEL: func.func @grouped_matmul_gated_neutral
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x32xf32>, %[[GU:[^:]*]]: tensor<4x16x32xf32>, %[[ROWS:[^:]*]]: tensor<?xi32>, %[[OFF:[^:]*]]: tensor<5xi32>)
// CHECK-DAG: %[[TWO:.*]] = arith.constant 2 : index
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1 : index
// CHECK: %[[GATE:.*]] = linalg.generic {{.*}} ins(%[[ROWS]], %{{.*}}, %{{.*}} : tensor<?xi32>, tensor<32xf32>, tensor<?xindex>)
// CHECK: ^bb0(%[[R:.*]]: i32,
// CHECK: %[[K:.*]] = linalg.index 2
// CHECK: %[[N:.*]] = linalg.index 1
// CHECK: %[[RI:.*]] = arith.index_cast %[[R]] : i32 to index
// CHECK: tensor.extract %[[X]][%[[RI]], %[[K]]]
// CHECK: %[[GR:.*]] = arith.muli %[[N]], %[[TWO]]
// CHECK: tensor.extract %[[GU]][%{{.*}}, %[[GR]], %[[K]]]
// CHECK: %[[UP:.*]] = linalg.generic {{.*}} ins(%[[ROWS]],
// CHECK: %[[N2:.*]] = linalg.index 1
// CHECK: %[[UR0:.*]] = arith.muli %[[N2]], %[[TWO]]
// CHECK: %[[UR:.*]] = arith.addi %[[UR0]], %[[ONE]]
// CHECK: tensor.extract %[[GU]][%{{.*}}, %[[UR]], %{{.*}}]
// CHECK: linalg.generic {{.*}} ins(%[[GATE]], %[[UP]], %{{.*}} : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?xindex>) outs(%{{.*}} : tensor<?x8xbf16>)
// CHECK: math.exp
// CHECK: arith.truncf {{.*}} : f32 to bf16
func.func @grouped_matmul_gated_neutral(%x: tensor<?x32xf32>, %gu: tensor<4x16x32xf32>, %rows: tensor<?xi32>, %off: tensor<5xi32>) -> tensor<?x8xbf16> {
  %r = moe.grouped_matmul %x, %gu gather(%rows : tensor<?xi32>) offsets(%off : tensor<5xi32>) activation(#moe.activation<swiglu>) gate_up_layout(interleaved) : tensor<?x32xf32>, tensor<4x16x32xf32> -> tensor<?x8xbf16>
  return %r : tensor<?x8xbf16>
}

// -----

// A GEMM claimed by a target's kernel selection is left to that target.
// CHECK-LABEL: func.func @claimed
// CHECK: moe.grouped_matmul {{.*}}moe.kernel = {target = "cpu"}
func.func @claimed(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = {target = "cpu"}} : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

// A fused down projection inside the combine: one reduction over
// (t, c, j, k) reading each slot's expert row and its group's down weight,
// the bias added once per slot (at k = 0).
// CHECK-LABEL: func.func @combine_down_neutral
// CHECK-SAME: (%[[H:[^:]*]]: tensor<?x24xf32>, %[[WT:[^:]*]]: tensor<?x2xf32>, %[[INV:[^:]*]]: tensor<?x2xi32>, %[[D:[^:]*]]: tensor<4x32x24xf32>, %[[OFF:[^:]*]]: tensor<5xi32>, %[[BD:[^:]*]]: tensor<4x32xf32>)
// CHECK: %[[GRP:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction", "reduction"]} ins(%[[WT]], %[[INV]], %{{.*}} : tensor<?x2xf32>, tensor<?x2xi32>, tensor<24xf32>)
// CHECK: %[[C:.*]] = linalg.index 1
// CHECK: %[[K:.*]] = linalg.index 3
// CHECK: %[[P:.*]] = arith.index_cast
// CHECK: tensor.extract %[[GRP]][%[[P]]]
// CHECK: tensor.extract %[[H]][%[[P]], %[[K]]]
// CHECK: tensor.extract %[[D]][%{{.*}}, %[[C]], %[[K]]]
// CHECK: tensor.extract %[[BD]][%{{.*}}, %[[C]]]
func.func @combine_down_neutral(%h: tensor<?x24xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %wd: tensor<4x32x24xf32>, %off: tensor<5xi32>, %bd: tensor<4x32xf32>) -> tensor<?x32xf32> {
  %o = moe.combine %h, %w, %inv down(%wd : tensor<4x32x24xf32>) down_offsets(%off : tensor<5xi32>) down_bias(%bd : tensor<4x32xf32>) : tensor<?x24xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x32xf32>
  return %o : tensor<?x32xf32>
}

// A routing record is the target's to lower; it stays, on the route's
// lowered indices.
// CHECK-LABEL: func.func @record_kept
// CHECK: %[[TOPK:.*]]:2 = linalg.generic
// CHECK: moe.record_routing %[[TOPK]]#1 site(0) experts(4) : tensor<?x2xi32>
func.func @record_kept(%l: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %w, %ids = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x4xf32>
  moe.record_routing %ids site(0) experts(4) : tensor<?x2xi32>
  return %w : tensor<?x2xf32>
}
