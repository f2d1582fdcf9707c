// RUN: moe-opt %s --moe-outline-parallel-loops | FileCheck %s

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
