// RUN: moe-opt %s --moe-cpu-approximate-math | FileCheck %s
// RUN: moe-opt %s --moe-cpu-approximate-math --convert-math-to-llvm --convert-math-to-libm | FileCheck %s --check-prefix=LIBM

// exp on vectors (SiLU, sigmoid) becomes arith and math.fma: no libm call
// is left to make per lane (LLVM lowers llvm.intr.exp on a vector to one
// expf call per lane).
// CHECK-LABEL: func.func @exp_vector
// CHECK-SAME: (%[[X:.*]]: vector<16xf32>)
// CHECK-NOT: math.exp
// CHECK: math.fma
// CHECK: arith.bitcast %{{.*}} : vector<16xi32> to vector<16xf32>
// CHECK: return
// LIBM-LABEL: func.func @exp_vector
// LIBM-NOT: llvm.intr.exp
// LIBM-NOT: call @expf
func.func @exp_vector(%x: vector<16xf32>) -> vector<16xf32> {
  %0 = math.exp %x : vector<16xf32>
  return %0 : vector<16xf32>
}

// Scalars too (the routing's softmax and sigmoid, elementwise loops).
// CHECK-LABEL: func.func @exp_tanh_erf_scalar
// CHECK-NOT: math.exp
// CHECK-NOT: math.tanh
// CHECK-NOT: math.erf
// CHECK: return
// LIBM-LABEL: func.func @exp_tanh_erf_scalar
// LIBM-NOT: llvm.intr.exp
// LIBM-NOT: call @expf
// LIBM-NOT: call @tanhf
// LIBM-NOT: call @erff
func.func @exp_tanh_erf_scalar(%x: f32) -> (f32, f32, f32) {
  %0 = math.exp %x : f32
  %1 = math.tanh %x : f32
  %2 = math.erf %x : f32
  return %0, %1, %2 : f32, f32, f32
}

// bf16 is computed in f32 and rounded back.
// CHECK-LABEL: func.func @erf_bf16
// CHECK-SAME: (%[[H:.*]]: bf16)
// CHECK: %[[E:.*]] = arith.extf %[[H]] : bf16 to f32
// CHECK-NOT: math.erf
// CHECK: %[[R:.*]] = arith.truncf %{{.*}} : f32 to bf16
// CHECK: return %[[R]]
func.func @erf_bf16(%h: bf16) -> bf16 {
  %0 = math.erf %h : bf16
  return %0 : bf16
}

// Other math ops are left alone.
// CHECK-LABEL: func.func @others
// CHECK: math.absf
// CHECK: math.roundeven
func.func @others(%x: vector<32xf32>) -> vector<32xf32> {
  %0 = math.absf %x : vector<32xf32>
  %1 = math.roundeven %0 : vector<32xf32>
  return %1 : vector<32xf32>
}
