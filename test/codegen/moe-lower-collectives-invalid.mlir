// RUN: moe-opt %s --split-input-file --moe-lower-collectives --verify-diagnostics
// What the CPU's collectives cannot lower is an error at the op.

shard.grid @ep(shape = 2)
func.func @all_reduce(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'shard.all_reduce' op cannot be lowered for the CPU: of the shard dialect, only grids, process_linear_index and all_to_all are supported}}
  %y = shard.all_reduce %x on @ep grid_axes = [0] : tensor<4xf32> -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

shard.grid @ep(shape = 2)
func.func @two_dims(%x: tensor<2x3xi64>) -> tensor<2x3xi64> {
  // expected-error @+1 {{'shard.all_to_all' op cannot be lowered for the CPU: only an all-to-all of a static rank-1 tensor of whole bytes over all the grid's axes is supported}}
  %y = shard.all_to_all %x on @ep grid_axes = [0] split_axis = 0 concat_axis = 0 : tensor<2x3xi64> -> tensor<2x3xi64>
  return %y : tensor<2x3xi64>
}

// -----

shard.grid @nodes(shape = 2x2)
func.func @some_axes(%x: tensor<4xi64>) -> tensor<4xi64> {
  // expected-error @+1 {{'shard.all_to_all' op cannot be lowered for the CPU}}
  %y = shard.all_to_all %x on @nodes grid_axes = [1] split_axis = 0 concat_axis = 0 : tensor<4xi64> -> tensor<4xi64>
  return %y : tensor<4xi64>
}

// -----

// One function, one group of ranks.
shard.grid @two(shape = 2)
shard.grid @four(shape = 4)
func.func @two_grids() -> (index, index) {
  %a = shard.process_linear_index on @two : index
  // expected-error @+1 {{'shard.process_linear_index' op uses a grid of 4 devices, but its function already uses one of 2: a function runs on one group of ranks}}
  %b = shard.process_linear_index on @four : index
  return %a, %b : index, index
}

// -----

shard.grid @dyn(shape = ?)
func.func @dynamic() -> index {
  // expected-error @+1 {{'shard.process_linear_index' op needs a grid with a static number of devices}}
  %a = shard.process_linear_index on @dyn : index
  return %a : index
}

// -----

shard.grid @ep(shape = 2)
// expected-error @+1 {{'__moec_ep_rank' is already defined; moe-lower-collectives defines it}}
func.func private @__moec_ep_rank(i64) -> i64
func.func @taken() -> index {
  %a = shard.process_linear_index on @ep : index
  return %a : index
}
