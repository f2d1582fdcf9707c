// RUN: not moe-opt %s --moe-cuda-pipeline=compile-to=loops 2>%t.err >%t.out
// RUN: FileCheck %s < %t.err
// RUN: count 0 < %t.out
// RUN: not moe-opt %s "--moe-cuda-pipeline=compile-to=loops chip=sm_70" 2>%t.err >%t.out
// RUN: FileCheck %s --check-prefix=CHIP < %t.err
// RUN: count 0 < %t.out
// An op without a GPU kernel (here a fused GEMM, which only the fusion
// passes make and the GPU pipeline does not run) is an error at its
// location; nothing is printed.
// CHECK: moe-cuda-pipeline-invalid.mlir:[[@LINE+4]]:8: error: 'moe.grouped_matmul' op cannot be lowered to the GPU: its fused form (gather, up, activation or gate_up_layout) has no GPU kernel yet; lower the unfused ops
// An unknown chip stops the pipeline at its first pass.
// CHIP: error: moe-set-cuda-target: unknown CUDA chip 'sm_70' (known: sm_80, sm_86, sm_89, sm_90, sm_90a, sm_100, sm_100a, sm_120)
func.func @fused(%x: tensor<?x16xf32>, %rows: tensor<?xi32>, %off: tensor<5xi32>, %w: tensor<4x8x16xf32>) -> tensor<?x8xf32> {
  %y = moe.grouped_matmul %x, %w gather(%rows : tensor<?xi32>) offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x8x16xf32> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
