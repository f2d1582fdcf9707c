// RUN: not moe-opt %s --moe-cuda-pipeline=compile-to=loops 2>%t.err >%t.out
// RUN: FileCheck %s < %t.err
// RUN: count 0 < %t.out
// RUN: not moe-opt %s "--moe-cuda-pipeline=compile-to=loops chip=sm_70" 2>%t.err >%t.out
// RUN: FileCheck %s --check-prefix=CHIP < %t.err
// RUN: count 0 < %t.out
// A whole layer decomposes, and its first op without a GPU kernel is an
// error at the layer's location; nothing is printed.
// CHECK: moe-cuda-pipeline-invalid.mlir:[[@LINE+4]]:8: error: 'moe.grouped_matmul' op has no GPU lowering yet (convert-moe-to-gpu lowers moe.route and moe.dispatch)
// An unknown chip stops the pipeline at its first pass.
// CHIP: error: moe-set-cuda-target: unknown CUDA chip 'sm_70' (known: sm_80, sm_86, sm_89, sm_90, sm_90a, sm_100, sm_100a, sm_120)
func.func @layer(%x: tensor<?x16xf32>, %r: tensor<4x16xf32>, %u: tensor<4x8x16xf32>, %d: tensor<4x16x8xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%r : tensor<4x16xf32>) up(%u : tensor<4x8x16xf32>) down(%d : tensor<4x16x8xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
