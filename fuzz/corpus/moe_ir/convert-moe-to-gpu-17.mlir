module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @gemm(%x: tensor<?x16xf32>, %w: tensor<4x8x16xbf16>, %off: tensor<5xi32>, %b: tensor<4x8xf32>) -> tensor<?x8xf32> {
    %y = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) bias(%b : tensor<4x8xf32>) : tensor<?x16xf32>, tensor<4x8x16xbf16> -> tensor<?x8xf32>
    return %y : tensor<?x8xf32>
  }
}
