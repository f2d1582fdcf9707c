// RUN: moe-opt %s --convert-moe-to-gpu -split-input-file -verify-diagnostics
// Without a GPU target description there is nothing to size kernels by.
// expected-error @+1 {{convert-moe-to-gpu: the module has no dlti.target_system_spec (moe-set-cuda-target writes the GPU target description: docs/Targets.md)}}
module {
  func.func @no_target(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
    %w, %i = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x8xf32>
    return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
  }
}

// -----

// A CPU-only description is not a GPU one.
// expected-error @+1 {{convert-moe-to-gpu: the module's dlti.target_system_spec has no "GPU" device}}
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"CPU" = #dlti.target_device_spec<"cpu" = "znver4">>} {
  func.func @cpu_target(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
    %w, %i = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x8xf32>
    return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
  }
}

// -----

// A description with a missing entry names it.
// expected-error @+1 {{convert-moe-to-gpu: the GPU target description has no positive integer "warp_size"}}
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @no_warp_size(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
    %w, %i = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x8xf32>
    return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
  }
}

// -----

// A string entry missing is named too.
// expected-error @+1 {{convert-moe-to-gpu: the GPU target description has no string "chip"}}
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @no_chip(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
    %w, %i = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x8xf32>
    return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
  }
}

// -----

// A block too small for one program of 4 warps.
// expected-error @+1 {{convert-moe-to-gpu: the GPU target description's max_threads_per_block (64) is below one program of 4 warps of 32 threads}}
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 64 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @small_blocks(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
    %w, %i = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x8xf32>
    return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
  }
}

// -----

module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  // The binary search over the groups needs their count.
  func.func @dynamic_groups(%x: tensor<?x8xf32>, %w: tensor<?x8x8xf32>, %off: tensor<?xi32>) -> tensor<?x8xf32> {
    // expected-error @+1 {{'moe.grouped_matmul' op cannot be lowered to the GPU: its weight's group count is dynamic}}
    %a = moe.grouped_matmul %x, %w offsets(%off : tensor<?xi32>) : tensor<?x8xf32>, tensor<?x8x8xf32> -> tensor<?x8xf32>
    return %a : tensor<?x8xf32>
  }
}

// -----

module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @many_groups(%l: tensor<?x130xf32>) -> (tensor<?x1xf32>, tensor<?x1xi32>) {
    // expected-error @+1 {{'moe.route' op cannot be lowered to the GPU: at most 64 expert groups (the kept groups are a 64-bit mask), not 65}}
    %w, %i = moe.route %l routing(#moe.routing<k = 1, n_group = 65, topk_group = 1>) : tensor<?x130xf32>
    return %w, %i : tensor<?x1xf32>, tensor<?x1xi32>
  }
}

// -----

module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @grouped_dynamic_experts(%l: tensor<?x?xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
    // expected-error @+1 {{'moe.route' op cannot be lowered to the GPU: group-limited routing needs a static expert count}}
    %w, %i = moe.route %l routing(#moe.routing<k = 2, n_group = 2>) : tensor<?x?xf32>
    return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
  }
}

// -----

module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @dynamic_k(%ids: tensor<?x?xi32>) -> (tensor<?xi32>, tensor<?x?xi32>, tensor<5xi32>) {
    // expected-error @+1 {{'moe.dispatch' op cannot be lowered to the GPU: the number of experts per token (dimension 1 of the indices) must be static}}
    %s, %inv, %off = moe.dispatch %ids experts(4) : tensor<?x?xi32>
    return %s, %inv, %off : tensor<?xi32>, tensor<?x?xi32>, tensor<5xi32>
  }
}

// -----

module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @record(%ids: tensor<?x2xi32>) {
    // expected-error @+1 {{'moe.record_routing' op cannot be lowered to the GPU: routing statistics are recorded on the CPU only; compile for the CPU to record them}}
    moe.record_routing %ids site(0) experts(8) : tensor<?x2xi32>
    return
  }
}

// -----

// Expert parallelism runs on CPU ranks only: a placed layer, and the
// exchange ops, are refused rather than run on one GPU.
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  shard.grid @ep(shape = 2)
  func.func @placed(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
    // expected-error @+1 {{'moe.layer' op cannot be lowered to the GPU: it has an expert placement, and expert parallelism runs on CPU ranks only so far}}
    %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) {moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>} : tensor<?x16xf32>
    return %y : tensor<?x16xf32>
  }
}

// -----

module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  shard.grid @ep(shape = 2)
  func.func @exchange(%x: tensor<?x8xf32>, %s: tensor<2xi64>, %r: tensor<2xi64>) -> tensor<?x8xf32> {
    // expected-error @+1 {{'moe.all_to_all_v' op cannot be lowered to the GPU: expert parallelism runs on CPU ranks only so far}}
    %y = moe.all_to_all_v %x, %s, %r on @ep : tensor<?x8xf32>, tensor<2xi64> -> tensor<?x8xf32>
    return %y : tensor<?x8xf32>
  }
}

// -----

// Block-quantized weights have no GPU kernel yet.
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @quantized(%x: tensor<?x64xf32>, %w: tensor<4x32x64x!moe.quant<q8_0>>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
    // expected-error @+1 {{'moe.grouped_matmul' op cannot be lowered to the GPU: its weight 'tensor<4x32x64x!moe.quant<q8_0>>' is block-quantized, which only the CPU kernels read so far}}
    %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x64xf32>, tensor<4x32x64x!moe.quant<q8_0>> -> tensor<?x32xf32>
    return %0 : tensor<?x32xf32>
  }
}
