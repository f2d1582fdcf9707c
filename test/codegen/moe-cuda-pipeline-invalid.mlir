// RUN: not moe-opt %s --moe-cuda-pipeline=compile-to=loops 2>%t.err >%t.out
// RUN: FileCheck %s < %t.err
// RUN: count 0 < %t.out
// RUN: not moe-opt %s "--moe-cuda-pipeline=compile-to=loops chip=sm_70" 2>%t.err >%t.out
// RUN: FileCheck %s --check-prefix=CHIP < %t.err
// RUN: count 0 < %t.out
// An op without a GPU kernel (here a combine with the down projection
// fused in, which moe-fuse-combine makes and the GPU pipeline does not
// run) is an error at its location; nothing is printed.
// CHECK: moe-cuda-pipeline-invalid.mlir:[[@LINE+4]]:8: error: 'moe.combine' op cannot be lowered to the GPU: its fused down projection has no GPU kernel yet; lower the unfused ops
// An unknown chip stops the pipeline at its first pass.
// CHIP: error: moe-set-cuda-target: unknown CUDA chip 'sm_70' (known: sm_80, sm_86, sm_89, sm_90, sm_90a, sm_100, sm_100a, sm_120)
func.func @fused(%h: tensor<?x24xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %wd: tensor<4x32x24xf32>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
  %o = moe.combine %h, %w, %inv down(%wd : tensor<4x32x24xf32>) down_offsets(%off : tensor<5xi32>) : tensor<?x24xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x32xf32>
  return %o : tensor<?x32xf32>
}
