// RUN: moe-opt %s --moe-gpu-device-buffers -split-input-file -verify-diagnostics
// Host functions moe-gpu-device-buffers cannot put in device memory.

// expected-error @+1 {{'func.func' op returns a memref; a GPU function writes its results into buffers the caller passes (run buffer-results-to-out-params first)}}
func.func @returns_a_buffer() -> memref<4xf32> {
  %a = memref.alloc() : memref<4xf32>
  return %a : memref<4xf32>
}

// -----

// expected-error @+1 {{'func.func' op has more than one block; the host side of a GPU function must be straight-line code}}
func.func @branches(%c: i1) {
  cf.cond_br %c, ^a, ^b
^a:
  return
^b:
  return
}

// -----

func.func @nested(%c: i1) {
  scf.if %c {
    // expected-error @+1 {{'memref.alloc' op uses a buffer inside a region on the host; a GPU function's buffers are device memory, used by launches at the function's top level}}
    %a = memref.alloc() : memref<4xf32>
  }
  return
}

// -----

func.func @reads_on_host(%m: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{'memref.load' op touches a buffer on the host; a GPU function's buffers are device memory, read and written by its kernels only}}
  %v = memref.load %m[%c0] : memref<4xf32>
  return %v : f32
}

// -----

func.func @on_the_stack() {
  // expected-error @+1 {{'memref.alloca' op allocates on the host stack; a GPU function's buffers are device memory}}
  %a = memref.alloca() : memref<4xf32>
  return
}

// -----

func.func private @elsewhere(memref<4xf32>)
func.func @escapes() {
  %a = memref.alloc() : memref<4xf32>
  // expected-error @+1 {{'func.call' op touches a buffer on the host}}
  func.call @elsewhere(%a) : (memref<4xf32>) -> ()
  return
}
