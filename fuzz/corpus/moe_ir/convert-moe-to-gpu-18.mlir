module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @layer(%x: tensor<?x16xf32>, %r: tensor<4x16xf32>, %gu: tensor<4x16x16xf32>, %d: tensor<4x16x8xf32>, %sg: tensor<6x16xf32>, %su: tensor<6x16xf32>, %sd: tensor<16x6xf32>, %seg: tensor<1x16xf32>) -> tensor<?x16xf32> {
    %y = moe.layer %x router_weight(%r : tensor<4x16xf32>) gate_up(%gu : tensor<4x16x16xf32>) down(%d : tensor<4x16x8xf32>) shared_gate(%sg : tensor<6x16xf32>) shared_up(%su : tensor<6x16xf32>) shared_down(%sd : tensor<16x6xf32>) shared_expert_gate(%seg : tensor<1x16xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<swiglu>) gate_up_layout(interleaved) : tensor<?x16xf32>
    return %y : tensor<?x16xf32>
  }
}
