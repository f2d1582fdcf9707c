// RUN: moe-opt %s --moe-lower-copies | FileCheck %s

// Copies between strided buffers become linalg.copy (then loops), not calls
// into MLIR's runner utilities.
// CHECK-LABEL: func.func @strided
// CHECK-NOT: memref.copy
// CHECK: linalg.copy ins(%{{.*}} : memref<4x8xf32, strided<[16, 1]>>) outs(%{{.*}} : memref<4x8xf32, strided<[16, 1], offset: 8>>)
func.func @strided(%a: memref<4x16xf32>, %b: memref<4x16xf32>) {
  %s = memref.subview %a[0, 0] [4, 8] [1, 1] : memref<4x16xf32> to memref<4x8xf32, strided<[16, 1]>>
  %t = memref.subview %b[0, 8] [4, 8] [1, 1] : memref<4x16xf32> to memref<4x8xf32, strided<[16, 1], offset: 8>>
  memref.copy %s, %t : memref<4x8xf32, strided<[16, 1]>> to memref<4x8xf32, strided<[16, 1], offset: 8>>
  return
}

// Identity layouts keep memref.copy, which becomes memcpy.
// CHECK-LABEL: func.func @contiguous
// CHECK-NOT: linalg.copy
// CHECK: memref.copy %arg0, %arg1
func.func @contiguous(%a: memref<?xf32>, %b: memref<?xf32>) {
  memref.copy %a, %b : memref<?xf32> to memref<?xf32>
  return
}
