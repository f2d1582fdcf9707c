// RUN: moe-opt %s --split-input-file --verify-diagnostics
// Each numbered constraint of #moe.expert_placement, and the checks of the
// attribute on a moe.layer: the layer's expert count and the grid.
shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{(P1) expert placement needs slots_per_rank >= 1 and ranks_per_node >= 1, got 0 and 2}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 0, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{(P2) phys_to_log has 6 slots, not a positive multiple of slots_per_rank = 4}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 1, slots_per_rank = 4, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{(P2) 2 ranks are not a multiple of ranks_per_node = 4}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 4, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{(P3) expert 3 is on no rank (0 replicas)}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 1, 1], replicas = [2, 3, 1, 0], log_to_phys = [0, 2, 1, 4, 5, 3]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{(P3) the replica counts sum to 5, but there are 6 slots}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 1, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{(P4) slot 4 holds expert 7, not one of the 4}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 7, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{(P5) expert 1 has 2 replicas, but phys_to_log puts it in 3 slots}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 1, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{(P5) log_to_phys has 5 entries, not one per slot (6)}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{(P5) log_to_phys lists slot 1 for expert 0, which holds another expert}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 1, 2, 5, 3, 4]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{(P5) log_to_phys lists slot 2 for expert 1, which is listed twice}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 2, 5, 3, 4]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{(P5) log_to_phys lists slot 9 for expert 3, which does not exist}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 9]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{expert placement for 3 experts on a layer of 4}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 1, 1], replicas = [2, 3, 1], log_to_phys = [0, 2, 1, 4, 5, 3]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{expert placement on @ep, which is not a shard.grid}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// A grid smaller than the plan.
shard.grid @ep(shape = 1)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{expert placement on 2 ranks, but grid @ep has 1 of devices}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

shard.grid @ep(shape = ?)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{expert placement on 2 ranks, but grid @ep has a dynamic number of devices}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @not_a_layer(%l: tensor<?x4xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{'moe.expert_placement' belongs on a moe.layer}}
  %w, %ids = moe.route %l routing(#moe.routing<k = 2>) {moe.expert_placement = 1 : i64} : tensor<?x4xf32>
  return %w : tensor<?x2xf32>
}

// -----

func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'moe.expert_placement' must be a #moe.expert_placement}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = "plan"} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{(P3) expert 0 has 9223372036854775807 replicas, more than the 6 slots}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [9223372036854775807, 9223372036854775807, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{(P5) log_to_phys lists the slots of expert 0 out of order}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [2, 0, 1, 5, 3, 4]>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// moe.expert_slots (an argument holding a rank's slots, from
// moe-distribute-experts) must be a placement whose slots per rank lead
// the argument's type.
shard.grid @ep(shape = 2)
// expected-error @+1 {{'moe.expert_slots' on argument 0 needs a tensor of rank >= 2 with the placement's 2 slots per rank leading, got 'tensor<4x32x16xf32>'}}
func.func @slots(%wu: tensor<4x32x16xf32> {moe.expert_slots = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>}) {
  return
}

// -----

// expected-error @+1 {{'moe.expert_slots' must be a #moe.expert_placement}}
func.func @slots(%wu: tensor<2x32x16xf32> {moe.expert_slots = 2 : i64}) {
  return
}

// -----

shard.grid @ep(shape = 2)
// expected-error @+1 {{'moe.expert_slots' on argument 0 needs a tensor of rank >= 2 with the placement's 2 slots per rank leading, got 'tensor<2xf32>'}}
func.func @slots(%b: tensor<2xf32> {moe.expert_slots = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>}) {
  return
}
