// An unknown CPU is one error naming it, without LLVM's own warning.
// RUN: not moe-opt %s --moe-set-cpu-target=cpu=pentium9 2>&1 | FileCheck %s
// CHECK-NOT: is not a recognized processor
// CHECK: error: moe-set-cpu-target: unknown CPU 'pentium9' (use native, x86-64, x86-64-v2, x86-64-v3, x86-64-v4 or an LLVM CPU name such as znver4 or skylake-avx512)
// CHECK-NOT: is not a recognized processor
// RUN: not moe-opt %s "--moe-set-cpu-target=cpu=x86-64 l2-cache-bytes=-1" 2>&1 | FileCheck %s --check-prefix=CACHE
// CACHE: error: moe-set-cpu-target: cache sizes must be positive (or 0: the CPU's), not -1
func.func @f(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  return %x : tensor<?x8xf32>
}
