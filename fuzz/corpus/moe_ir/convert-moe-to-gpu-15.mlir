module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_80", "sm" = 80 : i64, "ptx_features" = "+ptx70", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 166912 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "mma_sync">>} {
  func.func @route_grouped(%l: tensor<?x8xbf16>, %b: tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
    %w, %i = moe.route %l bias(%b : tensor<8xf32>) routing(#moe.routing<k = 2, scoring = sigmoid, scale = 2.5, n_group = 4, topk_group = 2, group_score = top2_sum>) : tensor<?x8xbf16>
    return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
  }
}
