// RUN: moe-opt %s --moe-name-gpu-kernels -verify-diagnostics
func.func @bad_name(%m: memref<8xf32>, %n: index) {
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %in = arith.cmpi ult, %tx, %n : index
    // expected-error @+1 {{'scf.if' op has a malformed moe.kernel_name attribute: expected a non-empty string}}
    scf.if %in {
      memref.store %f, %m[%tx] : memref<8xf32>
    } {moe.kernel_name = 3 : i64}
    gpu.terminator
  }
  return
}
