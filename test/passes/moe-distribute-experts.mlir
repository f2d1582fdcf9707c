// RUN: moe-opt %s --split-input-file --moe-distribute-experts="local-weights=false" | FileCheck %s
// RUN: moe-opt %s --split-input-file --moe-distribute-experts | FileCheck %s --check-prefix=LOCAL
// A layer with an expert placement becomes the program of one rank: local
// routing, the exchange plan under the placement, the count exchange
// (shard.all_to_all), the rows and their experts to the ranks that compute
// them, the experts on the rows received, the outputs back in the order
// received, and the combine with the routing weights and the local shared
// experts. With local-weights=false (CHECK) the experts run on the whole
// weights, grouped by expert over all E; by default (LOCAL) the expert
// weight arguments become the rank's slots, [slots_per_rank, ...] with
// moe.expert_slots, and the rows are grouped by their expert's first slot
// on the rank, from a constant R x E table read at rank * E + expert.

shard.grid @ep(shape = 2)
// CHECK-LABEL: func.func @layer
// CHECK-SAME: (%[[X:.*]]: tensor<?x16xf32>, %[[WR:.*]]: tensor<4x16xf32>, %[[WU:.*]]: tensor<4x32x16xf32>, %[[WD:.*]]: tensor<4x16x32xf32>)
// CHECK: %[[LOGITS:.*]] = moe.grouped_matmul %[[X]], %[[WR]]
// CHECK: %[[W:.*]], %[[IDS:.*]] = moe.route %[[LOGITS]] routing(#moe.routing<k = 2>)
// CHECK: %[[RANK:.*]] = shard.process_linear_index on @ep : index
// CHECK: %[[TOK:.*]], %[[EXP:.*]], %[[SEND:.*]], %[[POS:.*]] = moe.exchange_plan %[[IDS]] rank(%[[RANK]]) placement(#moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>)
// CHECK: %[[RECV:.*]] = shard.all_to_all %[[SEND]] on @ep grid_axes = [0] split_axis = 0 concat_axis = 0 {moe.placement_fingerprint = {{-?[0-9]+}} : i64} : tensor<2xi64> -> tensor<2xi64>
// CHECK: %[[SENDROWS:.*]] = moe.gather %[[X]][%[[TOK]]]
// CHECK: %[[ROWS:.*]] = moe.all_to_all_v %[[SENDROWS]], %[[SEND]], %[[RECV]] on @ep : tensor<?x16xf32>, tensor<2xi64> -> tensor<?x16xf32>
// CHECK: %[[ROWEXP:.*]] = moe.all_to_all_v %[[EXP]], %[[SEND]], %[[RECV]] on @ep : tensor<?xi32>, tensor<2xi64> -> tensor<?xi32>
// CHECK: %[[BYROW:.*]] = tensor.expand_shape %[[ROWEXP]] {{\[\[}}0, 1]] output_shape [%{{.*}}, 1] : tensor<?xi32> into tensor<?x1xi32>
// CHECK: %[[SORTED:.*]], %[[INV:.*]], %[[OFF:.*]] = moe.dispatch %[[BYROW]] experts(4) : tensor<?x1xi32>
// CHECK: %[[GROUPED:.*]] = moe.gather %[[ROWS]][%[[SORTED]]]
// CHECK: %[[H:.*]] = moe.grouped_matmul %[[GROUPED]], %[[WU]] offsets(%[[OFF]] : tensor<5xi32>)
// CHECK: %[[A:.*]] = moe.activation %[[H]]
// CHECK: %[[OUT:.*]] = moe.grouped_matmul %[[A]], %[[WD]] offsets(%[[OFF]] : tensor<5xi32>)
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[INV]] {{\[\[}}0, 1]] : tensor<?x1xi32> into tensor<?xi32>
// CHECK: %[[INORDER:.*]] = moe.gather %[[OUT]][%[[FLAT]]]
// CHECK: %[[BACK:.*]] = moe.all_to_all_v %[[INORDER]], %[[RECV]], %[[SEND]] on @ep
// CHECK: %[[Y:.*]] = moe.combine %[[BACK]], %[[W]], %[[POS]] : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
// CHECK: return %[[Y]]
// Rank 0 holds experts 0, 1, 0 (two slots of expert 0: its first, slot 0,
// computes), rank 1 experts 2, 3, 1; experts a rank has no slot for read 0.
// LOCAL-LABEL: func.func @layer
// LOCAL-SAME: (%[[X:[^:]*]]: tensor<?x16xf32>, %[[WR:[^:]*]]: tensor<4x16xf32>, %[[WU:[^:]*]]: tensor<3x32x16xf32> {moe.expert_slots = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>}, %[[WD:[^:]*]]: tensor<3x16x32xf32> {moe.expert_slots = #moe.expert_placement<{{.*}}>})
// LOCAL: %[[RANK:.*]] = shard.process_linear_index on @ep : index
// LOCAL: %[[ROWEXP:.*]] = moe.all_to_all_v %{{.*}} : tensor<?xi32>, tensor<2xi64> -> tensor<?xi32>
// LOCAL: %[[TABLE:.*]] = arith.constant dense<[0, 1, 0, 0, 0, 2, 0, 1]> : tensor<8xi32>
// LOCAL: %[[E:.*]] = arith.constant 4 : index
// LOCAL: %[[FIRST:.*]] = arith.muli %[[RANK]], %[[E]] : index
// LOCAL: %[[SLOTS:.*]] = tensor.generate
// LOCAL-NEXT: ^bb0(%[[I:.*]]: index):
// LOCAL-NEXT: %[[EXPERT:.*]] = tensor.extract %[[ROWEXP]][%[[I]]] : tensor<?xi32>
// LOCAL-NEXT: %[[EI:.*]] = arith.index_cast %[[EXPERT]] : i32 to index
// LOCAL-NEXT: %[[AT:.*]] = arith.addi %[[FIRST]], %[[EI]] : index
// LOCAL-NEXT: %[[SLOT:.*]] = tensor.extract %[[TABLE]][%[[AT]]] : tensor<8xi32>
// LOCAL-NEXT: tensor.yield %[[SLOT]] : i32
// LOCAL: %[[BYROW:.*]] = tensor.expand_shape %[[SLOTS]]
// LOCAL: %[[SORTED:.*]], %{{.*}}, %[[OFF:.*]] = moe.dispatch %[[BYROW]] experts(3) : tensor<?x1xi32>
// LOCAL: %[[H:.*]] = moe.grouped_matmul %{{.*}}, %[[WU]] offsets(%[[OFF]] : tensor<4xi32>) : tensor<?x16xf32>, tensor<3x32x16xf32> -> tensor<?x32xf32>
// LOCAL: moe.grouped_matmul %{{.*}}, %[[WD]] offsets(%[[OFF]] : tensor<4xi32>) : tensor<?x32xf32>, tensor<3x16x32xf32> -> tensor<?x16xf32>
func.func @layer(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Shared experts and their gate run on the rank's own tokens; the count
// exchange spans every axis of a 2-D grid; logits given directly and a
// correction bias go to the local route.
shard.grid @nodes(shape = 2x2)
// CHECK-LABEL: func.func @shared
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x16xbf16>, %[[L:[^:]*]]: tensor<?x4xf32>, %[[B:[^:]*]]: tensor<4xf32>
// CHECK: %[[W:.*]], %[[IDS:.*]] = moe.route %[[L]] bias(%[[B]] : tensor<4xf32>)
// CHECK: shard.process_linear_index on @nodes
// CHECK: %{{.*}}, %{{.*}}, %[[SEND:.*]], %[[POS:.*]] = moe.exchange_plan %[[IDS]]
// CHECK: shard.all_to_all %[[SEND]] on @nodes grid_axes = [0, 1] split_axis = 0 concat_axis = 0 {moe.placement_fingerprint = {{-?[0-9]+}} : i64} : tensor<4xi64> -> tensor<4xi64>
// CHECK: moe.all_to_all_v %{{.*}} on @nodes : tensor<?x16xbf16>, tensor<4xi64> -> tensor<?x16xbf16>
// CHECK: %[[BACK:.*]] = moe.all_to_all_v %{{.*}} on @nodes : tensor<?x16xf32>, tensor<4xi64> -> tensor<?x16xf32>
// CHECK: %[[SHARED:.*]] = moe.grouped_matmul %{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<16x8xf32> -> tensor<?x16xf32>
// CHECK: %[[GATE:.*]] = moe.grouped_matmul %[[X]], %{{.*}} : tensor<?x16xbf16>, tensor<1x16xf32> -> tensor<?x1xf32>
// CHECK: moe.combine %[[BACK]], %[[W]], %[[POS]] shared(%[[SHARED]] : tensor<?x16xf32>) shared_gate(%[[GATE]] : tensor<?x1xf32>)
// The experts' weights become one slot each; the shared experts' stay.
// LOCAL-LABEL: func.func @shared
// LOCAL-SAME: %{{[^:]*}}: tensor<1x8x16xf32> {moe.expert_slots = #moe.expert_placement<grid = @nodes, {{[^}]*}}>}, %{{[^:]*}}: tensor<1x8x16xf32> {moe.expert_slots = {{[^}]*}}}, %{{[^:]*}}: tensor<1x16x8xf32> {moe.expert_slots = {{[^}]*}}}, %{{[^:]*}}: tensor<8x16xf32>, %{{[^:]*}}: tensor<8x16xf32>, %{{[^:]*}}: tensor<16x8xf32>, %{{[^:]*}}: tensor<1x16xf32>)
// LOCAL: moe.dispatch %{{.*}} experts(1)
func.func @shared(%x: tensor<?x16xbf16>, %l: tensor<?x4xf32>, %b: tensor<4xf32>, %wg: tensor<4x8x16xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>, %sg: tensor<8x16xf32>, %su: tensor<8x16xf32>, %sd: tensor<16x8xf32>, %seg: tensor<1x16xf32>) -> tensor<?x16xbf16> {
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) correction_bias(%b : tensor<4xf32>) gate(%wg : tensor<4x8x16xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) shared_gate(%sg : tensor<8x16xf32>) shared_up(%su : tensor<8x16xf32>) shared_down(%sd : tensor<16x8xf32>) shared_expert_gate(%seg : tensor<1x16xf32>) routing(#moe.routing<k = 2, scoring = sigmoid, renormalize = true>) activation(#moe.activation<swiglu>) {moe.expert_placement = #moe.expert_placement<grid = @nodes, ranks_per_node = 2, slots_per_rank = 1, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>} : tensor<?x16xbf16>
  return %y : tensor<?x16xbf16>
}

// -----

// An expert weight read by anything but layers of this placement stays
// whole, and so do all the expert weights of its layer, which dispatches
// by expert: here the up weight is also the up weight of a layer without
// a placement.
shard.grid @ep(shape = 2)
// LOCAL-LABEL: func.func @also_read_elsewhere
// LOCAL-SAME: (%{{[^:]*}}: tensor<?x16xf32>, %{{[^:]*}}: tensor<4x16xf32>, %{{[^:]*}}: tensor<4x32x16xf32>, %{{[^:]*}}: tensor<4x16x32xf32>)
// LOCAL-NOT: moe.expert_slots
// LOCAL: moe.dispatch %{{.*}} experts(4)
// LOCAL-NOT: tensor.generate
// LOCAL: moe.layer
func.func @also_read_elsewhere(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>} : tensor<?x16xf32>
  %z = moe.layer %y router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %z : tensor<?x16xf32>
}

// -----

// Two layers with one placement may share their expert weights, which then
// hold the slots of both; an MXFP4 weight in the OCP layout (moe.mx_scales)
// is assembled whole, so its layer keeps every expert weight whole.
shard.grid @ep(shape = 2)
// LOCAL-LABEL: func.func @shared_weights
// LOCAL-SAME: %{{[^:]*}}: tensor<2x32x16xf32> {moe.expert_slots = {{[^}]*}}}, %{{[^:]*}}: tensor<2x16x32xf32> {moe.expert_slots = {{[^}]*}}}, %{{[^:]*}}: tensor<?x64xf32>, %{{[^:]*}}: tensor<4x64xf32>, %{{[^:]*}}: tensor<4x32x64x!moe.quant<mxfp4>> {moe.mx_scales = "s", moe.name = "g"}, %{{[^:]*}}: tensor<4x64x32xf32>)
// LOCAL-COUNT-2: moe.dispatch %{{.*}} experts(2)
// LOCAL: moe.dispatch %{{.*}} experts(4)
func.func @shared_weights(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>, %x2: tensor<?x64xf32>, %wr2: tensor<4x64xf32>, %wq: tensor<4x32x64x!moe.quant<mxfp4>> {moe.mx_scales = "s", moe.name = "g"}, %wd2: tensor<4x64x32xf32>) -> (tensor<?x16xf32>, tensor<?x64xf32>) {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>} : tensor<?x16xf32>
  %z = moe.layer %y router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>} : tensor<?x16xf32>
  %q = moe.layer %x2 router_weight(%wr2 : tensor<4x64xf32>) up(%wq : tensor<4x32x64x!moe.quant<mxfp4>>) down(%wd2 : tensor<4x64x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>} : tensor<?x64xf32>
  return %z, %q : tensor<?x16xf32>, tensor<?x64xf32>
}

// -----

// A private function's arguments are its callers' values, not bound
// weights: they stay whole.
shard.grid @ep(shape = 2)
// LOCAL-LABEL: func.func private @callee
// LOCAL-NOT: moe.expert_slots
// LOCAL: moe.dispatch %{{.*}} experts(4)
func.func private @callee(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Llama-4's weights on the inputs: the sender scales the rows it sends by
// the exchange plan's positions, and the combine sums unweighted.
shard.grid @ep(shape = 2)
// CHECK-LABEL: func.func @scale_inputs
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x16xf32>
// CHECK: %[[W:.*]], %[[IDS:.*]] = moe.route
// CHECK: %[[TOK:.*]], %{{.*}}, %{{.*}}, %[[POS:.*]] = moe.exchange_plan %[[IDS]]
// CHECK: moe.gather %[[X]][%[[TOK]]] scales(%[[W]], %[[POS]] : tensor<?x1xf32>, tensor<?x1xi32>)
// CHECK: moe.combine %{{.*}}, %[[W]], %[[POS]] unweighted
func.func @scale_inputs(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 1, scoring = sigmoid, order = topk_then_score, scale_inputs = true>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Without a placement the layer is left for moe-decompose.
// CHECK-LABEL: func.func @plain
// CHECK: moe.layer
// CHECK-NOT: moe.exchange_plan
func.func @plain(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
