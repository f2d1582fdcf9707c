// RUN: moe-opt %s --convert-moe-to-linalg -split-input-file -verify-diagnostics
// A layer whose expert count is dynamic cannot be dispatched.
func.func @dynamic_experts(%x: tensor<?x16xf32>, %l: tensor<?x?xf32>, %u: tensor<?x8x16xf32>, %d: tensor<?x16x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'moe.layer' op cannot be lowered: its expert count is dynamic}}
  %y = moe.layer %x router_logits(%l : tensor<?x?xf32>) up(%u : tensor<?x8x16xf32>) down(%d : tensor<?x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Expert groups are formed by reshaping [T, E]: E must be known.
func.func @grouped_dynamic_experts(%l: tensor<?x?xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  // expected-error @+1 {{'moe.route' op cannot be lowered: group-limited routing needs a static expert count}}
  %w, %i = moe.route %l routing(#moe.routing<k = 2, n_group = 2>) : tensor<?x?xf32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

// -----

// Without groups a dynamic expert count lowers (tensor.dim everywhere).
func.func @route_dynamic_experts(%l: tensor<?x?xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x?xf32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

// -----

// The target-neutral GEMM indexes the group's weight: the group count must
// be known.
func.func @dynamic_groups(%x: tensor<?x8xf32>, %w: tensor<?x8x8xf32>, %off: tensor<?xi32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'moe.grouped_matmul' op cannot be lowered: its weight's group count is dynamic}}
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<?xi32>) : tensor<?x8xf32>, tensor<?x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

func.func @dynamic_down_groups(%h: tensor<?x24xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %wd: tensor<?x32x24xf32>, %off: tensor<?xi32>) -> tensor<?x32xf32> {
  // expected-error @+1 {{'moe.combine' op cannot be lowered: its down weight's group count is dynamic}}
  %o = moe.combine %h, %w, %inv down(%wd : tensor<?x32x24xf32>) down_offsets(%off : tensor<?xi32>) : tensor<?x24xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x32xf32>
  return %o : tensor<?x32xf32>
}

// -----

// Block-quantized weights are read by the CPU kernels only.
func.func @quantized(%x: tensor<?x64xf32>, %w: tensor<4x32x64x!moe.quant<q4_0>>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
  // expected-error @+1 {{'moe.grouped_matmul' op cannot be lowered to linalg: its weight 'tensor<4x32x64x!moe.quant<q4_0>>' is block-quantized, which only the CPU kernels read (moe-cpu-select-kernels; not with kernels=false)}}
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x64xf32>, tensor<4x32x64x!moe.quant<q4_0>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

func.func @quantized_layer(%x: tensor<?x64xf32>, %wr: tensor<4x64xf32>, %wu: tensor<4x32x64x!moe.quant<q8_0>>, %wd: tensor<4x64x32xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{'moe.layer' op cannot be lowered to linalg: its weight 'tensor<4x32x64x!moe.quant<q8_0>>' is block-quantized}}
  %y = moe.layer %x router_weight(%wr : tensor<4x64xf32>) up(%wu : tensor<4x32x64x!moe.quant<q8_0>>) down(%wd : tensor<4x64x32xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
