// RUN: moe-opt %s | FileCheck %s
// RUN: moe-opt %s | moe-opt | FileCheck %s

// A plan prints and parses back: 4 experts on 2 ranks (one node of 2) with
// 3 slots each; experts 0 and 1 have a replica each.
// CHECK: shard.grid @ep(shape = 2)
shard.grid @ep(shape = 2)

// CHECK-LABEL: func.func @planned
// CHECK: moe.layer
// CHECK-SAME: {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>}
func.func @planned(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// A two-dimensional grid (2 nodes of 2 ranks), one slot per rank.
// CHECK: shard.grid @nodes(shape = 2x2)
shard.grid @nodes(shape = 2x2)
// CHECK-LABEL: func.func @on_nodes
// CHECK: moe.layer {{.*}}#moe.expert_placement<grid = @nodes, ranks_per_node = 2, slots_per_rank = 1, phys_to_log = [3, 2, 1, 0], replicas = [1, 1, 1, 1], log_to_phys = [3, 2, 1, 0]>
func.func @on_nodes(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @nodes, ranks_per_node = 2, slots_per_rank = 1, phys_to_log = [3, 2, 1, 0], replicas = [1, 1, 1, 1], log_to_phys = [3, 2, 1, 0]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// An argument holding a rank's slots of an expert weight (what
// moe-distribute-experts writes) prints and parses back.
// CHECK-LABEL: func.func @slots
// CHECK-SAME: tensor<2x32x16xf32> {moe.expert_slots = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>}
func.func @slots(%wu: tensor<2x32x16xf32> {moe.expert_slots = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>}) {
  return
}
