// RUN: moe-opt %s --moe-gpu-pointer-arguments | FileCheck %s
// Buffers reach kernels as one pointer and their dynamic sizes, scalars as
// they are, and two null scratch pointers come last (Triton's convention).
module attributes {gpu.container_module} {
  // CHECK-LABEL: gpu.module @k
  gpu.module @k {
    // CHECK: gpu.func @scale(%[[N:.*]]: index, %[[XP:.*]]: !llvm.ptr, %[[XT:.*]]: index, %[[WP:.*]]: !llvm.ptr, %[[S:.*]]: f32, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr) kernel
    // CHECK-SAME: moe.triton_signature = ["i64", "*bf16", "i64", "*fp32", "fp32"]
    gpu.func @scale(%n: index, %x: memref<?x4xbf16>, %w: memref<3x4xf32>, %s: f32) kernel {
      // The dynamic buffer's descriptor: sizes [XT, 4], strides [4, 1].
      // CHECK: %[[X0:.*]] = llvm.insertvalue %[[XP]], %{{.*}}[0]
      // CHECK: %[[X1:.*]] = llvm.insertvalue %[[XP]], %[[X0]][1]
      // CHECK: %[[ZERO:.*]] = llvm.mlir.constant(0 : i64)
      // CHECK: %[[X2:.*]] = llvm.insertvalue %[[ZERO]], %[[X1]][2]
      // CHECK: %[[XT64:.*]] = arith.index_cast %[[XT]] : index to i64
      // CHECK: %[[FOUR:.*]] = llvm.mlir.constant(4 : i64)
      // CHECK: %[[ONE:.*]] = llvm.mlir.constant(1 : i64)
      // CHECK: %[[X3:.*]] = llvm.insertvalue %[[FOUR]], %[[X2]][3, 1]
      // CHECK: %[[X4:.*]] = llvm.insertvalue %[[ONE]], %[[X3]][4, 1]
      // CHECK: %[[ROW:.*]] = llvm.mul %[[ONE]], %[[FOUR]]
      // CHECK: %[[X5:.*]] = llvm.insertvalue %[[XT64]], %[[X4]][3, 0]
      // CHECK: %[[X6:.*]] = llvm.insertvalue %[[ROW]], %[[X5]][4, 0]
      // CHECK: %[[X:.*]] = builtin.unrealized_conversion_cast %[[X6]] : {{.*}} to memref<?x4xbf16>
      // The static one: its sizes are constants.
      // CHECK: llvm.insertvalue %[[WP]], %{{.*}}[0]
      // CHECK: %[[W:.*]] = builtin.unrealized_conversion_cast %{{.*}} to memref<3x4xf32>
      // CHECK: memref.dim %[[X]]
      // CHECK: memref.load %[[W]]
      %c0 = arith.constant 0 : index
      %t = memref.dim %x, %c0 : memref<?x4xbf16>
      %v = memref.load %w[%c0, %c0] : memref<3x4xf32>
      gpu.return
    }
  }

  // A kernel that asks for a number of blocks per SM gets it as
  // nvvm.minctasm; the marker goes.
  // CHECK-LABEL: gpu.module @occupancy
  gpu.module @occupancy {
    // CHECK: gpu.func @gemm(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr) kernel attributes {moe.triton_signature = [], nvvm.minctasm = 1 : i32}
    gpu.func @gemm() kernel {
      %true = arith.constant true
      // CHECK: scf.if
      // CHECK-NOT: moe.min_blocks_per_sm
      // CHECK: gpu.return
      scf.if %true {
      } {moe.min_blocks_per_sm = 1 : i32}
      gpu.return
    }
  }

  // CHECK-LABEL: func.func @host
  // CHECK-SAME: (%[[HX:.*]]: memref<?x4xbf16>, %[[HW:.*]]: memref<3x4xf32>)
  func.func @host(%x: memref<?x4xbf16>, %w: memref<3x4xf32>) {
    %c1 = arith.constant 1 : index
    %s = arith.constant 2.0 : f32
    // CHECK: %[[XA:.*]] = memref.extract_aligned_pointer_as_index %[[HX]]
    // CHECK: %[[XI:.*]] = arith.index_cast %[[XA]] : index to i64
    // CHECK: %[[XP:.*]] = llvm.inttoptr %[[XI]] : i64 to !llvm.ptr
    // CHECK: %[[XT:.*]] = memref.dim %[[HX]], %{{.*}} : memref<?x4xbf16>
    // CHECK: %[[WA:.*]] = memref.extract_aligned_pointer_as_index %[[HW]]
    // CHECK: %[[WI:.*]] = arith.index_cast %[[WA]] : index to i64
    // CHECK: %[[WP:.*]] = llvm.inttoptr %[[WI]] : i64 to !llvm.ptr
    // CHECK-NOT: memref.dim %[[HW]]
    // CHECK: %[[Z0:.*]] = llvm.mlir.zero : !llvm.ptr
    // CHECK: %[[Z1:.*]] = llvm.mlir.zero : !llvm.ptr
    // CHECK: gpu.launch_func @k::@scale {{.*}} args(%{{.*}} : index, %[[XP]] : !llvm.ptr, %[[XT]] : index, %[[WP]] : !llvm.ptr, %{{.*}} : f32, %[[Z0]] : !llvm.ptr, %[[Z1]] : !llvm.ptr)
    gpu.launch_func @k::@scale blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%c1 : index, %x : memref<?x4xbf16>, %w : memref<3x4xf32>, %s : f32)
    return
  }
}
