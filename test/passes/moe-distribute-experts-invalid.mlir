// RUN: moe-opt %s --split-input-file --moe-distribute-experts --verify-diagnostics
// A placed layer the pass cannot rewrite is an error at the layer, not a
// silently single-process layer.

shard.grid @ep(shape = 2)
func.func @dynamic_experts(%x: tensor<?x16xf32>, %l: tensor<?x?xf32>, %wu: tensor<?x32x16xf32>, %wd: tensor<?x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'moe.layer' op cannot be distributed: its expert count is dynamic}}
  %y = moe.layer %x router_logits(%l : tensor<?x?xf32>) up(%wu : tensor<?x32x16xf32>) down(%wd : tensor<?x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// A plan on a grid that is missing is refused when the layer is verified.
func.func @no_grid(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{expert placement on @ep, which is not a shard.grid}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
