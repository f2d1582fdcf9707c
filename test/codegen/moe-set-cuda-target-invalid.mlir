// An unknown chip is one error naming it and the known ones.
// RUN: not moe-opt %s --moe-set-cuda-target=chip=sm_75 2>&1 | FileCheck %s
// CHECK: error: moe-set-cuda-target: unknown CUDA chip 'sm_75' (known: sm_80, sm_86, sm_89, sm_90, sm_90a, sm_100, sm_100a, sm_120)
// CHECK-NOT: error
func.func @f(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  return %x : tensor<?x8xf32>
}
