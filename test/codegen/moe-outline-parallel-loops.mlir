// RUN: moe-opt %s --moe-outline-parallel-loops | FileCheck %s
// RUN: moe-opt %s "--moe-outline-parallel-loops=min-task-elements=0" | FileCheck %s --check-prefix=NONE

// The outermost scf.parallel and the 1-D scf.forall become launches of
// outlined bodies over [begin, end) of their first dimension; the 2-D
// forall is left for scf-forall-to-for.
// CHECK-LABEL: func.func @outline
// CHECK-SAME: (%[[A:.*]]: memref<?x8xf32>, %[[B:.*]]: memref<?x8xf32>, %[[S:.*]]: f32)
// CHECK: %[[N:.*]] = memref.dim %[[A]]
// CHECK: %[[ITERS0:.*]] = arith.ceildivsi
// CHECK: call @__moec_launch_outline_parallel_0(%[[ITERS0]], %[[A]], %[[S]], %[[B]], %[[N]])
// CHECK: %[[ITERS1:.*]] = arith.ceildivsi
// CHECK: call @__moec_launch_outline_parallel_1(%[[ITERS1]], %[[A]], %[[B]])
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (2, 3)
// CHECK: return

// CHECK-LABEL: func.func private @outline_parallel_1
// CHECK-SAME: (%[[BEGIN:.*]]: index, %[[END:.*]]: index, %{{.*}}: memref<?x8xf32>, %{{.*}}: memref<?x8xf32>)
// CHECK: %[[HI:.*]] = arith.minsi
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[HI]]
// CHECK: func.func private @__moec_launch_outline_parallel_1(index, memref<?x8xf32>, memref<?x8xf32>)

// Only the first dimension is split; constants are cloned, not passed.
// CHECK-LABEL: func.func private @outline_parallel_0
// CHECK-SAME: (%[[BEGIN:.*]]: index, %[[END:.*]]: index, %{{.*}}: memref<?x8xf32>, %{{.*}}: f32, %{{.*}}: memref<?x8xf32>, %[[UB:.*]]: index)
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C8:.*]] = arith.constant 8 : index
// CHECK: %[[HI:.*]] = arith.minsi %{{.*}}, %[[UB]]
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %[[C0]]) to (%[[HI]], %[[C8]])
// CHECK: func.func private @__moec_launch_outline_parallel_0(index, memref<?x8xf32>, f32, memref<?x8xf32>, index)
func.func @outline(%a: memref<?x8xf32>, %b: memref<?x8xf32>, %s: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %n = memref.dim %a, %c0 : memref<?x8xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c8) step (%c1, %c1) {
    %v = memref.load %a[%i, %j] : memref<?x8xf32>
    %w = arith.mulf %v, %s : f32
    memref.store %w, %b[%i, %j] : memref<?x8xf32>
    scf.reduce
  }
  scf.forall (%e) in (4) {
    %v = memref.load %a[%e, %c0] : memref<?x8xf32>
    memref.store %v, %b[%e, %c0] : memref<?x8xf32>
  }
  scf.forall (%x, %y) in (2, 3) {
    %v = memref.load %a[%x, %y] : memref<?x8xf32>
    memref.store %v, %b[%x, %y] : memref<?x8xf32>
  }
  return
}

// A name already taken gets a unique body, and the launch follows it.
// CHECK-LABEL: func.func @g
// CHECK: call @__moec_launch_g_parallel_0_0(
// CHECK: func.func private @g_parallel_0_0(
// CHECK: func.func private @__moec_launch_g_parallel_0_0(index, memref<4xf32>)
// CHECK-LABEL: func.func @g_parallel_0()
func.func @g(%a: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %v = memref.load %a[%i] : memref<4xf32>
    memref.store %v, %a[%i] : memref<4xf32>
    scf.reduce
  }
  return
}
func.func @g_parallel_0() {
  return
}

// Buffers that alias no other buffer of the loop are listed (the LLVM
// position of each one's aligned pointer, after the range: a rank-r memref
// is 3 + 2r arguments) for moe-lower-parallel-launches to mark noalias:
// fresh allocations, and a caller's argument when it is the only one. Two
// of the caller's arguments may be one buffer, and a view aliases its
// source.
// CHECK-LABEL: func.func @noalias
// CHECK-LABEL: func.func private @noalias_parallel_2
// CHECK-SAME: (%{{.*}}: index, %{{.*}}: index, %{{.*}}: memref<?x4xf32, strided<[8, 1]>>, %{{.*}}: memref<?x8xf32>, %{{.*}}: memref<?x8xf32>, %{{.*}}: index)
// CHECK-SAME: moe.noalias_pointers = array<i64: 17>}
// CHECK-LABEL: func.func private @noalias_parallel_1
// CHECK-SAME: moe.noalias_pointers = array<i64: 3, 10, 17>}
// CHECK-LABEL: func.func private @noalias_parallel_0
// CHECK-SAME: (%{{.*}}: index, %{{.*}}: index, %{{.*}}: memref<?xi32>, %{{.*}}: memref<?x8xf32>, %{{.*}}: memref<?x8xf32>, %{{.*}}: index)
// CHECK-SAME: moe.noalias_pointers = array<i64: 15>}
func.func @noalias(%x: memref<?x8xf32>, %y: memref<?x8xf32>, %idx: memref<?xi32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %n = memref.dim %x, %c0 : memref<?x8xf32>
  %a = memref.alloc(%n) : memref<?x8xf32>
  %b = memref.alloc(%n) : memref<?x8xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c8) step (%c1, %c1) {
    %r = memref.load %idx[%i] : memref<?xi32>
    %ri = arith.index_cast %r : i32 to index
    %v = memref.load %x[%ri, %j] : memref<?x8xf32>
    memref.store %v, %a[%i, %j] : memref<?x8xf32>
    scf.reduce
  }
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c8) step (%c1, %c1) {
    %v = memref.load %a[%i, %j] : memref<?x8xf32>
    memref.store %v, %b[%i, %j] : memref<?x8xf32>
    memref.store %v, %y[%i, %j] : memref<?x8xf32>
    scf.reduce
  }
  %s = memref.subview %a[0, 0] [%n, 4] [1, 1] : memref<?x8xf32> to memref<?x4xf32, strided<[8, 1]>>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %s[%i, %c0] : memref<?x4xf32, strided<[8, 1]>>
    memref.store %v, %a[%i, %c1] : memref<?x8xf32>
    memref.store %v, %b[%i, %c1] : memref<?x8xf32>
    scf.reduce
  }
  memref.dealloc %a : memref<?x8xf32>
  memref.dealloc %b : memref<?x8xf32>
  return
}

// An unranked buffer is two LLVM arguments (rank, descriptor pointer): the
// allocation after it has its aligned pointer at 5.
// CHECK-LABEL: func.func private @unranked_parallel_0
// CHECK-SAME: moe.noalias_pointers = array<i64: 5>}
func.func @unranked(%u: memref<*xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = memref.alloc(%n) : memref<?xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %r = memref.rank %u : memref<*xf32>
    %f = arith.index_cast %r : index to i32
    %v = arith.sitofp %f : i32 to f32
    memref.store %v, %a[%i] : memref<?xf32>
    scf.reduce
  }
  memref.dealloc %a : memref<?xf32>
  return
}

// A body whose work per iteration is known gets the fewest iterations that
// give two threads min-task-elements (16384) elements each: 32768 for one
// element per iteration, 16 for rows of 2048; a body with a loop of its own,
// a dynamic inner dimension or vectors gets none, and goes to the pool at
// any count. With min-task-elements=0 no body gets one.
// CHECK-LABEL: func.func @min_iterations
// CHECK-LABEL: func.func private @min_iterations_parallel_4
// CHECK-SAME: attributes {moe.noalias_pointers = array<i64: 3>} {
// CHECK-LABEL: func.func private @min_iterations_parallel_3
// CHECK-SAME: attributes {moe.noalias_pointers = array<i64: 3>} {
// CHECK-LABEL: func.func private @min_iterations_parallel_2
// CHECK-SAME: attributes {moe.noalias_pointers = array<i64: 3>} {
// CHECK-LABEL: func.func private @min_iterations_parallel_1
// CHECK-SAME: moe.min_parallel_iterations = 16 : i64
// CHECK-LABEL: func.func private @min_iterations_parallel_0
// CHECK-SAME: moe.min_parallel_iterations = 32768 : i64
// NONE-NOT: moe.min_parallel_iterations
// NONE: func.func @min_iterations
// NONE-NOT: moe.min_parallel_iterations
func.func @min_iterations(%t: memref<129xi32>, %x: memref<?x2048xf32>, %y: memref<?x?xf32>, %k: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c129 = arith.constant 129 : index
  %c2048 = arith.constant 2048 : index
  %zero = arith.constant 0 : i32
  %f = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x2048xf32>
  scf.parallel (%i) = (%c0) to (%c129) step (%c1) {
    memref.store %zero, %t[%i] : memref<129xi32>
    scf.reduce
  }
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c2048) step (%c1, %c1) {
    memref.store %f, %x[%i, %j] : memref<?x2048xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    scf.for %j = %c0 to %c2048 step %c1 {
      memref.store %f, %x[%i, %j] : memref<?x2048xf32>
    }
    scf.reduce
  }
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %k) step (%c1, %c1) {
    memref.store %f, %y[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = vector.broadcast %f : f32 to vector<2048xf32>
    vector.transfer_write %v, %x[%i, %c0] {in_bounds = [true]} : vector<2048xf32>, memref<?x2048xf32>
    scf.reduce
  }
  return
}
