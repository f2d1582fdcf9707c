// RUN: moe-opt %s --moe-name-gpu-kernels | FileCheck %s
// RUN: moe-opt %s --moe-name-gpu-kernels --gpu-kernel-outlining | FileCheck %s --check-prefix=OUTLINED
// Each marked launch gets its function's name and the kernel's, numbered
// from the second of a name on, all in one module per function; the
// marker goes. An unmarked launch is left alone.
// CHECK-LABEL: func.func @layer
// CHECK: gpu.launch {{.*}} module(@layer_kernels) function(@layer_gemm)
// CHECK-NOT: moe.kernel_name
// CHECK: gpu.launch {{.*}} module(@layer_kernels) function(@layer_route)
// CHECK: gpu.launch {{.*}} module(@layer_kernels) function(@layer_gemm_1)
// CHECK: gpu.launch blocks
// CHECK-NOT: module(
// CHECK: return
// CHECK-LABEL: func.func @other
// CHECK: gpu.launch {{.*}} module(@other_kernels) function(@other_gemm)
// OUTLINED: gpu.launch_func @layer_kernels::@layer_gemm
// OUTLINED: gpu.launch_func @layer_kernels::@layer_route
// OUTLINED: gpu.launch_func @layer_kernels::@layer_gemm_1
// OUTLINED: gpu.launch_func @layer_kernel::@layer_kernel
// OUTLINED: gpu.module @layer_kernels
// OUTLINED: gpu.func @layer_gemm
// OUTLINED: gpu.func @layer_route
// OUTLINED: gpu.func @layer_gemm_1
// OUTLINED: gpu.module @layer_kernel
// OUTLINED: gpu.launch_func @other_kernels::@other_gemm
func.func @layer(%m: memref<8xf32>, %n: index) {
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %in = arith.cmpi ult, %tx, %n : index
    scf.if %in {
      memref.store %f, %m[%tx] : memref<8xf32>
    } {moe.kernel_name = "gemm"}
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %in = arith.cmpi ult, %tx, %n : index
    scf.if %in {
      memref.store %f, %m[%tx] : memref<8xf32>
    } {moe.kernel_name = "route"}
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %in = arith.cmpi ult, %tx, %n : index
    scf.if %in {
      memref.store %f, %m[%tx] : memref<8xf32>
    } {moe.kernel_name = "gemm"}
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    memref.store %f, %m[%tx] : memref<8xf32>
    gpu.terminator
  }
  return
}
func.func @other(%m: memref<8xf32>, %n: index) {
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %in = arith.cmpi ult, %tx, %n : index
    scf.if %in {
      memref.store %f, %m[%tx] : memref<8xf32>
    } {moe.kernel_name = "gemm"}
    gpu.terminator
  }
  return
}
