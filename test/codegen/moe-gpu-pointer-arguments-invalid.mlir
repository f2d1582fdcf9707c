// RUN: moe-opt %s --moe-gpu-pointer-arguments -split-input-file -verify-diagnostics
// Kernel arguments a pointer and sizes cannot stand for, and launches of
// kernels that are no longer gpu.funcs.

module attributes {gpu.container_module} {
  gpu.module @k {
    // expected-error @+1 {{'gpu.func' op argument 0 is an unranked memref; a kernel takes a pointer and the sizes of a ranked buffer}}
    gpu.func @unranked(%m: memref<*xf32>) kernel {
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @k {
    // expected-error @+1 {{'gpu.func' op argument 1 has type 'memref<4xf32, strided<[2]>>', not a dense row-major buffer a pointer and its sizes describe}}
    gpu.func @strided(%n: index, %m: memref<4xf32, strided<[2]>>) kernel {
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @k {
    // expected-error @+1 {{'gpu.func' op argument 0 has type 'vector<4xf32>', which a Triton launcher does not pass}}
    gpu.func @vector(%v: vector<4xf32>) kernel {
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @k {
    // expected-error @+1 {{'gpu.func' op argument 0 is a buffer of 'i1', which has no Triton pointer type}}
    gpu.func @bits(%m: memref<8xi1>) kernel {
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @k {
    llvm.func @lowered(%p: !llvm.ptr) attributes {gpu.kernel} {
      llvm.return
    }
  }
  func.func @host(%p: !llvm.ptr) {
    %c1 = arith.constant 1 : index
    // expected-error @+1 {{'gpu.launch_func' op launches @k::@lowered, which is not a gpu.func of the module}}
    gpu.launch_func @k::@lowered blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%p : !llvm.ptr)
    return
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @occupancy() kernel {
      %true = arith.constant true
      // expected-error @+1 {{'scf.if' op has a malformed moe.min_blocks_per_sm attribute: expected a positive i32, not 0 : i32}}
      scf.if %true {
      } {moe.min_blocks_per_sm = 0 : i32}
      gpu.return
    }
  }
}
