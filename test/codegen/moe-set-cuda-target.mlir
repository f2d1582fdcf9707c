// RUN: moe-opt %s --moe-set-cuda-target=chip=sm_90a | FileCheck %s --check-prefix=H100
// RUN: moe-opt %s --moe-set-cuda-target=chip=sm_80 | FileCheck %s --check-prefix=A100
// RUN: moe-opt %s --moe-set-cuda-target | FileCheck %s --check-prefix=H100
// RUN: moe-opt %s --moe-set-cuda-target=chip=sm_89 | FileCheck %s --check-prefix=ADA
// The GPU target description as the "GPU" device of the module's DLTI
// target system spec, from the table of known chips (the default: sm_90a).
// An existing "CPU" device is kept, an existing "GPU" device replaced.
// H100: module attributes {dlti.target_system_spec = #dlti.target_system_spec<"CPU" = #dlti.target_device_spec<"cpu" = "znver4">, "GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>}
// A100: "chip" = "sm_80", "sm" = 80 : i64, "ptx_features" = "+ptx70", {{.*}} "shared_memory_per_block" = 166912 : i64, {{.*}} "tensor_core" = "mma_sync"
// ADA: "chip" = "sm_89", "sm" = 89 : i64, "ptx_features" = "+ptx78", {{.*}} "shared_memory_per_block" = 101376 : i64, {{.*}} "tensor_core" = "mma_sync"
// H100-NOT: max_vector_op_width
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"CPU" = #dlti.target_device_spec<"cpu" = "znver4">, "GPU" = #dlti.target_device_spec<"max_vector_op_width" = 64 : ui32>>} {
  func.func @f(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
    return %x : tensor<?x8xf32>
  }
}
