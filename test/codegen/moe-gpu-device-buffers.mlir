// RUN: moe-opt %s --moe-gpu-device-buffers | FileCheck %s
// A host function's buffers become device memory, each freed right after
// the last launch that uses it or a view of it; host copies and frees
// become GPU ones; the kernels' gpu.module is left alone.
module attributes {gpu.container_module} {
  // The kernels keep their own allocations.
  // CHECK: gpu.module @k
  // CHECK: memref.alloc() : memref<4xf32>
  gpu.module @k {
    gpu.func @fill(%m: memref<?xf32>) kernel {
      %a = memref.alloc() : memref<4xf32>
      gpu.return
    }
    gpu.func @fill16(%m: memref<16xf32>) kernel {
      gpu.return
    }
  }

  // CHECK-LABEL: func.func @two_buffers
  // CHECK-SAME: (%[[N:.*]]: index, %[[OUT:.*]]: memref<?xf32>)
  func.func @two_buffers(%n: index, %out: memref<?xf32>) {
    %c1 = arith.constant 1 : index
    // CHECK: %[[A:.*]] = gpu.alloc (%[[N]]) : memref<?x2xf32>
    %a = memref.alloc(%n) : memref<?x2xf32>
    // CHECK: %[[B:.*]] = gpu.alloc () : memref<16xf32>
    %b = memref.alloc() : memref<16xf32>
    // CHECK: %[[V:.*]] = memref.collapse_shape %[[A]]
    %v = memref.collapse_shape %a [[0, 1]] : memref<?x2xf32> into memref<?xf32>
    // CHECK: gpu.launch_func @k::@fill16 {{.*}} args(%[[B]] : memref<16xf32>)
    gpu.launch_func @k::@fill16 blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%b : memref<16xf32>)
    // The last use of %b: freed here, before %a's view is used.
    // CHECK-NEXT: gpu.dealloc %[[B]] : memref<16xf32>
    // CHECK-NEXT: gpu.launch_func @k::@fill {{.*}} args(%[[V]] : memref<?xf32>)
    gpu.launch_func @k::@fill blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%v : memref<?xf32>)
    // CHECK-NEXT: gpu.dealloc %[[A]] : memref<?x2xf32>
    // CHECK-NEXT: gpu.launch_func @k::@fill {{.*}} args(%[[OUT]] : memref<?xf32>)
    gpu.launch_func @k::@fill blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%out : memref<?xf32>)
    // CHECK-NEXT: return
    return
  }

  // CHECK-LABEL: func.func @copy_and_free
  func.func @copy_and_free(%out: memref<8xf32>) {
    // CHECK: %[[T:.*]] = gpu.alloc () : memref<8xf32>
    %t = memref.alloc() : memref<8xf32>
    // CHECK-NEXT: gpu.memcpy %{{.*}}, %[[T]] : memref<8xf32>, memref<8xf32>
    memref.copy %t, %out : memref<8xf32> to memref<8xf32>
    // An explicit free is kept where it is, as a GPU free.
    // CHECK-NEXT: gpu.dealloc %[[T]] : memref<8xf32>
    memref.dealloc %t : memref<8xf32>
    // CHECK-NEXT: return
    return
  }

  // A buffer nothing uses is freed at once.
  // CHECK-LABEL: func.func @unused
  // CHECK: %[[U:.*]] = gpu.alloc () : memref<4xf32>
  // CHECK-NEXT: gpu.dealloc %[[U]]
  func.func @unused() {
    %u = memref.alloc() : memref<4xf32>
    return
  }
}
