module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @dispatch(%ids: tensor<?x2xi32>) -> (tensor<?xi32>, tensor<?x2xi32>, tensor<5xi32>) {
    %s, %inv, %off = moe.dispatch %ids experts(4) : tensor<?x2xi32>
    return %s, %inv, %off : tensor<?xi32>, tensor<?x2xi32>, tensor<5xi32>
  }
}
