// RUN: moe-opt %s --moe-set-cpu-target=cpu=znver4 | FileCheck %s --check-prefix=ZEN4
// RUN: moe-opt %s --moe-set-cpu-target=cpu=znver3 | FileCheck %s --check-prefix=ZEN3
// RUN: moe-opt %s --moe-set-cpu-target=cpu=x86-64-v3 | FileCheck %s --check-prefix=V3
// RUN: moe-opt %s --moe-set-cpu-target=cpu=x86-64 | FileCheck %s --check-prefix=SSE
// RUN: moe-opt %s --moe-set-cpu-target=cpu=native | FileCheck %s --check-prefix=NATIVE
// RUN: moe-opt %s --moe-set-cpu-target=cpu=native | %python %S/Inputs/host_caches.py | FileCheck %s --check-prefix=HOST
// RUN: moe-opt %s "--moe-set-cpu-target=cpu=znver3 l1d-cache-bytes=49152 l2-cache-bytes=2097152" | FileCheck %s --check-prefix=CACHES
// CACHES: "cpu" = "znver3", {{.*}} "L1_cache_size_in_bytes" = 49152 : i64, "L2_cache_size_in_bytes" = 2097152 : i64
// The CPU target description as a DLTI target system spec: LLVM's features
// of the named CPU, its vector width and registers, and its cache sizes
// from the table of known CPUs (generic ones: 32 KiB L1d, 1 MiB L2).
// ZEN4: module attributes {dlti.target_system_spec = #dlti.target_system_spec<"CPU" = #dlti.target_device_spec<
// ZEN4-SAME: "cpu" = "znver4"
// ZEN4-SAME: "features" = "{{.*}}avx512f{{.*}}avx512bf16
// ZEN4-SAME: "vector_bits" = 512 : i64, "vector_registers" = 32 : i64, "L1_cache_size_in_bytes" = 32768 : i64, "L2_cache_size_in_bytes" = 1048576 : i64>>}
// ZEN3: "cpu" = "znver3", "features" = "sse4.2,avx,avx2,fma,f16c", "vector_bits" = 256 : i64, "vector_registers" = 16 : i64, "L1_cache_size_in_bytes" = 32768 : i64, "L2_cache_size_in_bytes" = 524288 : i64
// V3: "cpu" = "x86-64-v3", "features" = "sse4.2,avx,avx2,fma,f16c", "vector_bits" = 256 : i64, "vector_registers" = 16 : i64, "L1_cache_size_in_bytes" = 32768 : i64, "L2_cache_size_in_bytes" = 1048576 : i64
// SSE: "cpu" = "x86-64", "features" = "", "vector_bits" = 128 : i64, "vector_registers" = 16 : i64
// The host: whatever it is, a complete description.
// NATIVE: "triple" = "x86_64{{.*}}", "cpu" = "{{.+}}", "features" = "{{.*}}", "vector_bits" = {{128|256|512}} : i64, "vector_registers" = {{16|32}} : i64, "L1_cache_size_in_bytes" = {{[0-9]+}} : i64, "L2_cache_size_in_bytes" = {{[0-9]+}} : i64
// Its cache sizes are the ones Linux reports for the host.
// HOST: host caches agree: L1d {{[0-9]+}}, L2 {{[0-9]+}}
// An existing spec is replaced.
// ZEN3-NOT: "GPU"
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"max_vector_op_width" = 64 : ui32>>} {
  func.func @f(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
    return %x : tensor<?x8xf32>
  }
}
