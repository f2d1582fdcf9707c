// RUN: not moe-opt %s --moe-cuda-pipeline=compile-to=loops 2>%t.err >%t.out
// RUN: FileCheck %s < %t.err
// RUN: count 0 < %t.out
// RUN: not moe-opt %s "--moe-cuda-pipeline=compile-to=loops chip=sm_70" 2>%t.err >%t.out
// RUN: FileCheck %s --check-prefix=CHIP < %t.err
// RUN: count 0 < %t.out
// An op without a GPU kernel (here the recording of routing statistics,
// which moe-instrument-routing adds and only the CPU runtime collects) is
// an error at its location; nothing is printed.
// CHECK: moe-cuda-pipeline-invalid.mlir:[[@LINE+4]]:3: error: 'moe.record_routing' op cannot be lowered to the GPU: routing statistics are recorded on the CPU only; compile for the CPU to record them
// An unknown chip stops the pipeline at its first pass.
// CHIP: error: moe-set-cuda-target: unknown CUDA chip 'sm_70' (known: sm_80, sm_86, sm_89, sm_90, sm_90a, sm_100, sm_100a, sm_120)
func.func @recorded(%ids: tensor<?x2xi32>) {
  moe.record_routing %ids site(0) experts(8) : tensor<?x2xi32>
  return
}
