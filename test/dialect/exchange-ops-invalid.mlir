// RUN: moe-opt %s --split-input-file --verify-diagnostics
// Each numbered constraint of moe.exchange_plan and moe.all_to_all_v.

shard.grid @ep(shape = 2)
func.func @f(%ids: tensor<?x2xi64>, %rank: index) {
  // expected-error @+1 {{(C1) indices must be a rank-2 tensor of i32, got 'tensor<?x2xi64>'}}
  %t, %e, %c, %p = moe.exchange_plan %ids rank(%rank) placement(#moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>) : tensor<?x2xi64>
  return
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%ids: tensor<?x5xi32>, %rank: index) {
  // expected-error @+1 {{(C2) the indices' 5 experts per token must be in [1, E = 4]}}
  %t, %e, %c, %p = moe.exchange_plan %ids rank(%rank) placement(#moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>) : tensor<?x5xi32>
  return
}

// -----

// A grid smaller than the plan.
shard.grid @ep(shape = 2)
func.func @f(%ids: tensor<?x2xi32>, %rank: index) {
  // expected-error @+1 {{(C3) the placement is on 4 ranks, but grid @ep has 2 devices}}
  %t, %e, %c, %p = moe.exchange_plan %ids rank(%rank) placement(#moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 1, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>) : tensor<?x2xi32>
  return
}

// -----

func.func @f(%ids: tensor<?x2xi32>, %rank: index) {
  // expected-error @+1 {{(C3) @missing is not a shard.grid}}
  %t, %e, %c, %p = moe.exchange_plan %ids rank(%rank) placement(#moe.expert_placement<grid = @missing, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>) : tensor<?x2xi32>
  return
}

// -----

// The placement's own constraints still hold (an expert on no rank).
shard.grid @ep(shape = 2)
func.func @f(%ids: tensor<?x2xi32>, %rank: index) {
  // expected-error @+1 {{(P3)}}
  %t, %e, %c, %p = moe.exchange_plan %ids rank(%rank) placement(#moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 1, 3], replicas = [1, 2, 0, 1], log_to_phys = [0, 1, 2, 3]>) : tensor<?x2xi32>
  return
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x4x2xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{(C1) input must be a rank-1 or rank-2 tensor of integers or floats of whole bytes, got 'tensor<?x4x2xf32>'}}
  %r = moe.all_to_all_v %x, %s, %s on @ep : tensor<?x4x2xf32>, tensor<2xi64> -> tensor<?x4x2xf32>
  return
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?xi1>, %s: tensor<2xi64>) {
  // expected-error @+1 {{(C1) input must be a rank-1 or rank-2 tensor of integers or floats of whole bytes, got 'tensor<?xi1>'}}
  %r = moe.all_to_all_v %x, %s, %s on @ep : tensor<?xi1>, tensor<2xi64> -> tensor<?xi1>
  return
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x8xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{(C2) the result must have the input's element type, rank and columns: got 'tensor<?x4xf32>' for an input 'tensor<?x8xf32>'}}
  %r = moe.all_to_all_v %x, %s, %s on @ep : tensor<?x8xf32>, tensor<2xi64> -> tensor<?x4xf32>
  return
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x8xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{(C2) the result must have the input's element type, rank and columns: got 'tensor<?x8xbf16>' for an input 'tensor<?x8xf32>'}}
  %r = moe.all_to_all_v %x, %s, %s on @ep : tensor<?x8xf32>, tensor<2xi64> -> tensor<?x8xbf16>
  return
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x8xf32>, %s: tensor<2xi32>) {
  // expected-error @+1 {{(C3) the counts must be rank-1 tensors of i64, got 'tensor<2xi32>'}}
  %r = moe.all_to_all_v %x, %s, %s on @ep : tensor<?x8xf32>, tensor<2xi32> -> tensor<?x8xf32>
  return
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x8xf32>, %s: tensor<4xi64>) {
  // expected-error @+1 {{(C3) the counts have 4 entries, but grid @ep has 2 devices}}
  %r = moe.all_to_all_v %x, %s, %s on @ep : tensor<?x8xf32>, tensor<4xi64> -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{(C4) @nowhere is not a shard.grid}}
  %r = moe.all_to_all_v %x, %s, %s on @nowhere : tensor<?x8xf32>, tensor<2xi64> -> tensor<?x8xf32>
  return
}

// -----

shard.grid @dyn(shape = ?x2)
func.func @f(%x: tensor<?x8xf32>, %s: tensor<?xi64>) {
  // expected-error @+1 {{(C4) grid @dyn needs a static number of devices}}
  %r = moe.all_to_all_v %x, %s, %s on @dyn : tensor<?x8xf32>, tensor<?xi64> -> tensor<?x8xf32>
  return
}

// -----

shard.grid @ep(shape = 2)
func.func @f(%x: tensor<?x8xf32>, %s: tensor<2xi64>, %r: tensor<4xi64>) {
  // expected-error @+1 {{'moe.all_to_all_v' op failed to verify that all of {send_counts, recv_counts} have same type}}
  %y = "moe.all_to_all_v"(%x, %s, %r) <{grid = @ep}> : (tensor<?x8xf32>, tensor<2xi64>, tensor<4xi64>) -> tensor<?x8xf32>
  return
}
