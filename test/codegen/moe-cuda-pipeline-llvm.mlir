// REQUIRES: ptxas
// RUN: moe-opt %s "--moe-cuda-pipeline=compile-to=llvm chip=sm_80 cuda-toolkit=%cuda_toolkit" | FileCheck %s
// The llvm phase: the kernels as a cubin assembled by ptxas for the chip,
// the host function in the LLVM dialect with its launches on one stream
// and its scratch in device memory through MLIR's GPU runtime calls (which
// moe-compile binds to moert's), and a C interface for the entry point.

// CHECK-LABEL: llvm.func @routing
// CHECK: %[[STREAM:.*]] = llvm.call @mgpuStreamCreate() : () -> !llvm.ptr
// CHECK: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @routing_kernels::@routing_route
// CHECK: %[[COUNTS:.*]] = llvm.call @mgpuMemAlloc(%{{.*}}, %[[STREAM]], %{{.*}}) : (i64, !llvm.ptr, i8) -> !llvm.ptr
// CHECK: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @routing_kernels::@routing_dispatch_count
// CHECK: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @routing_kernels::@routing_dispatch_scan
// CHECK: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @routing_kernels::@routing_dispatch_offsets
// CHECK: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @routing_kernels::@routing_dispatch_place
// CHECK: llvm.call @mgpuMemFree(%[[COUNTS]], %[[STREAM]])
// CHECK: llvm.call @mgpuStreamSynchronize(%[[STREAM]])
// CHECK: llvm.call @mgpuStreamDestroy(%[[STREAM]])
// CHECK-NEXT: llvm.return
// CHECK-LABEL: llvm.func @_mlir_ciface_routing
// CHECK: gpu.binary @routing_kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_80", features = "+ptx70">, {{.*}}bin = "\7FELF
// CHECK-NOT: gpu.module
// CHECK-NOT: func.func
func.func @routing(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>, tensor<?xi32>, tensor<?x2xi32>, tensor<5xi32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 2, renormalize = true>) : tensor<?x8xf32>
  %s, %inv, %off = moe.dispatch %i experts(4) : tensor<?x2xi32>
  return %w, %i, %s, %inv, %off : tensor<?x2xf32>, tensor<?x2xi32>, tensor<?xi32>, tensor<?x2xi32>, tensor<5xi32>
}
