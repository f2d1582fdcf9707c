// RUN: moe-opt %s --moe-cpu-pipeline | FileCheck %s
// RUN: moe-opt %s --moe-cpu-pipeline | FileCheck %s --check-prefix=NOLIBM

// The whole CPU pipeline: moe IR to the LLVM dialect only, the result an
// out-parameter, parallel loops dispatched through the runtime slot; the
// GELU's erf and the softmax's exp as polynomials, not libm calls.
// CHECK-DAG: llvm.mlir.global external @moec_parallel_for()
// NOLIBM-NOT: llvm.func @erff
// NOLIBM-NOT: llvm.func @expf
// CHECK-LABEL: llvm.func @layer
// CHECK-NOT: moe.
// CHECK-NOT: linalg.
// CHECK-NOT: memref.
// CHECK-NOT: scf.
// CHECK: llvm.call @__moec_launch_layer_parallel_
// CHECK: llvm.return
// CHECK: llvm.func internal @__moec_launch_layer_parallel_
// CHECK: llvm.func internal @__moec_tramp_layer_parallel_
func.func @layer(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %u: tensor<4x8x16xbf16>, %d: tensor<4x16x8xbf16>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%u : tensor<4x8x16xbf16>) down(%d : tensor<4x16x8xbf16>) routing(#moe.routing<k = 2>) activation(#moe.activation<gelu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
