// Kernels the warp-level emulator (gpu_emulator.py) must refuse or expose,
// at moe-cuda-pipeline's loops-phase form: a program of 64 threads each (128,
// one warpgroup, for wgmma).
llvm.mlir.global internal @staging() {addr_space = 3 : i32, alignment = 1024 : i64} : !llvm.array<4608 x i8>

// A barrier only the first warp reaches.
func.func @divergent_barrier(%out: memref<64xi32>) -> memref<64xi32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%p) = (%c0) to (%c1) step (%c1) {
    scf.parallel (%t) = (%c0) to (%c64) step (%c1) {
      %low = arith.cmpi ult, %t, %c32 : index
      scf.if %low {
        gpu.barrier
      }
      scf.reduce
    }
    scf.reduce
  }
  return %out : memref<64xi32>
}

// A shuffle half of a warp reaches.
func.func @partial_shuffle(%out: memref<64xi32>) -> memref<64xi32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  %one = arith.constant 1 : i32
  %width = arith.constant 32 : i32
  scf.parallel (%p) = (%c0) to (%c1) step (%c1) {
    scf.parallel (%t) = (%c0) to (%c64) step (%c1) {
      %low = arith.cmpi ult, %t, %c16 : index
      scf.if %low {
        %v = arith.index_cast %t : index to i32
        %s, %ok = gpu.shuffle xor %v, %one, %width : i32
        memref.store %s, %out[%t] : memref<64xi32>
      }
      scf.reduce
    }
    scf.reduce
  }
  return %out : memref<64xi32>
}

// Thread t reads element t of a 16-element buffer.
func.func @out_of_bounds(%in: memref<16xi32>, %out: memref<64xi32>) -> memref<64xi32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%p) = (%c0) to (%c1) step (%c1) {
    scf.parallel (%t) = (%c0) to (%c64) step (%c1) {
      %v = memref.load %in[%t] : memref<16xi32>
      memref.store %v, %out[%t] : memref<64xi32>
      scf.reduce
    }
    scf.reduce
  }
  return %out : memref<64xi32>
}

// Thread 0 copies 16 bytes of `in` into shared memory with cp.async, every
// thread reads word t % 4 of them back after a barrier; with `wait` the
// copy's group is waited for first, without it the copy has not landed.
func.func @copy(%in: memref<4xi32>, %out: memref<64xi32>, %wait: i1) -> memref<64xi32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c64 = arith.constant 64 : index
  %c0_i32 = arith.constant 0 : i32
  scf.parallel (%p) = (%c0) to (%c1) step (%c1) {
    scf.parallel (%t) = (%c0) to (%c64) step (%c1) {
      %base = llvm.mlir.addressof @staging : !llvm.ptr<3>
      %first = arith.cmpi eq, %t, %c0 : index
      scf.if %first {
        %a = memref.extract_aligned_pointer_as_index %in : memref<4xi32> -> index
        %a64 = arith.index_cast %a : index to i64
        %src = llvm.inttoptr %a64 : i64 to !llvm.ptr<1>
        nvvm.cp.async.shared.global %base, %src, 16, cache = cg : !llvm.ptr<3>, !llvm.ptr<1>
        nvvm.cp.async.commit.group
        scf.if %wait {
          nvvm.cp.async.wait.group 0
        }
      }
      gpu.barrier
      %w = arith.remui %t, %c4 : index
      %w32 = arith.index_cast %w : index to i32
      %four = arith.constant 4 : i32
      %off = arith.muli %w32, %four : i32
      %ptr = llvm.getelementptr %base[%off] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8
      %v = llvm.load %ptr : !llvm.ptr<3> -> i32
      memref.store %v, %out[%t] : memref<64xi32>
      scf.reduce
    }
    scf.reduce
  }
  return %out : memref<64xi32>
}

// One warpgroup (128 threads) fills shared memory with bf16 ones, then
// multiplies the 64 x 16 A at byte 0 by the 8 x 16 B at byte 4096 with one
// wgmma m64n8k16, the descriptors' high word `hi` (the 64-byte swizzle, or
// another layout), and stores each thread's first sum. With `wait` the
// sums are waited for (16 each); without, they are read before they exist.
func.func @wgmma(%out: memref<128xf32>, %wait: i1, %hi: i64) -> memref<128xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %c1152 = arith.constant 1152 : index
  %ones = arith.constant 1065369472 : i32
  %c4_i32 = arith.constant 4 : i32
  %a = arith.constant 0 : i64
  %b = arith.constant 256 : i64
  scf.parallel (%p) = (%c0) to (%c1) step (%c1) {
    scf.parallel (%t) = (%c0) to (%c128) step (%c1) {
      %base = llvm.mlir.addressof @staging : !llvm.ptr<3>
      scf.for %w = %t to %c1152 step %c128 {
        %w32 = arith.index_cast %w : index to i32
        %off = arith.muli %w32, %c4_i32 : i32
        %ptr = llvm.getelementptr %base[%off] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8
        llvm.store %ones, %ptr : i32, !llvm.ptr<3>
      }
      nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
      gpu.barrier
      %da = arith.ori %a, %hi : i64
      %db = arith.ori %b, %hi : i64
      %z = llvm.mlir.zero : !llvm.struct<(f32, f32, f32, f32)>
      nvvm.wgmma.fence.aligned
      %d = nvvm.wgmma.mma_async %da, %db, %z, <m = 64, n = 8, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>] : !llvm.struct<(f32, f32, f32, f32)> -> !llvm.struct<(f32, f32, f32, f32)>
      nvvm.wgmma.commit.group.sync.aligned
      scf.if %wait {
        nvvm.wgmma.wait.group.sync.aligned 0
      }
      %s = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32)>
      memref.store %s, %out[%t] : memref<128xf32>
      scf.reduce
    }
    scf.reduce
  }
  return %out : memref<128xf32>
}

// A wgmma fence half of a warpgroup reaches.
func.func @partial_wgmma(%out: memref<128xf32>) -> memref<128xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c128 = arith.constant 128 : index
  scf.parallel (%p) = (%c0) to (%c1) step (%c1) {
    scf.parallel (%t) = (%c0) to (%c128) step (%c1) {
      %low = arith.cmpi ult, %t, %c64 : index
      scf.if %low {
        nvvm.wgmma.fence.aligned
      }
      scf.reduce
    }
    scf.reduce
  }
  return %out : memref<128xf32>
}
