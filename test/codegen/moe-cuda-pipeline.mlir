// RUN: moe-opt %s --moe-cuda-pipeline=compile-to=fused | FileCheck %s --check-prefix=FUSED
// RUN: moe-opt %s --moe-cuda-pipeline=compile-to=loops | FileCheck %s --check-prefix=LOOPS
// RUN: moe-opt %s --moe-cuda-pipeline=compile-to=gpu | FileCheck %s --check-prefix=GPU
// RUN: moe-opt %s "--moe-cuda-pipeline=compile-to=nvvm chip=sm_80" | FileCheck %s --check-prefix=NVVM
// The phases of the GPU lowering, one stopping point each.

// fused: the target description set (default sm_90a); moe.route and
// moe.dispatch as they were.
// FUSED: module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a"
// FUSED-LABEL: func.func @routing
// FUSED: moe.route
// FUSED: moe.dispatch

// loops: bufferized GPU-mapped nests, the mapping kept (no canonicalizer
// merges them before they become launches).
// LOOPS-LABEL: func.func @routing
// LOOPS-SAME: (%{{.*}}: memref<?x8xf32>) -> (memref<?x2xf32>, memref<?x2xi32>, memref<?xi32>, memref<?x2xi32>, memref<5xi32>)
// LOOPS-NOT: moe.
// LOOPS-NOT: bufferization.to_tensor
// LOOPS-COUNT-5: processor = block_x

// gpu: five launches of 128-thread programs (route; dispatch's count,
// totals, prefix sums, placement), each an outlined gpu.func.
// GPU-LABEL: func.func @routing
// GPU: gpu.launch_func @routing_kernel::@routing_kernel blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%[[T:.*]], %{{.*}}, %{{.*}})
// GPU-COUNT-4: gpu.launch_func
// GPU: return
// GPU: gpu.module @routing_kernel
// GPU: gpu.func @routing_kernel({{.*}}) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// GPU: gpu.block_id x
// GPU: gpu.thread_id x
// GPU-COUNT-4: gpu.func

// nvvm: the kernels in the NVVM dialect, for the chip and PTX version of
// the description.
// NVVM: gpu.module @routing_kernel [#nvvm.target<O = 3, chip = "sm_80", features = "+ptx70">]
// NVVM: llvm.func @routing_kernel({{.*}}) attributes {gpu.kernel, {{.*}}nvvm.kernel, nvvm.maxntid = array<i32: 128, 1, 1>}
// NVVM: nvvm.read.ptx.sreg.ctaid.x
// NVVM: nvvm.read.ptx.sreg.tid.x
// NVVM: llvm.call @__nv_expf
func.func @routing(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>, tensor<?xi32>, tensor<?x2xi32>, tensor<5xi32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 2, renormalize = true>) : tensor<?x8xf32>
  %s, %inv, %off = moe.dispatch %i experts(4) : tensor<?x2xi32>
  return %w, %i, %s, %inv, %off : tensor<?x2xf32>, tensor<?x2xi32>, tensor<?xi32>, tensor<?x2xi32>, tensor<5xi32>
}
