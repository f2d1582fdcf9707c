// RUN: moe-opt %s --moe-lower-routing-records | FileCheck %s

// The sites of every function, for the artifact's metadata.
// CHECK: module attributes {moe.routing_sites = {layer = [{experts = 8 : i64, k = 2 : i64, site = 0 : i64}, {experts = 4 : i64, k = 3 : i64, site = 1 : i64}], other = [{experts = 16 : i64, k = 1 : i64, site = 0 : i64}]}}
// The exported slot, null until the runtime fills it.
// CHECK: llvm.mlir.global external @moec_record_routing() {{.*}} : !llvm.ptr {
// CHECK-NEXT: %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK-NEXT: llvm.return %[[NULL]]

// CHECK-LABEL: func.func @layer
// CHECK-SAME: (%[[IDS:.*]]: tensor<?x2xi32>, %[[IDS2:.*]]: tensor<5x3xi32>)
// CHECK: %[[BUF:.*]] = bufferization.to_buffer %[[IDS]] read_only : tensor<?x2xi32> to memref<?x2xi32, strided<[?, ?], offset: ?>>
// CHECK: %{{.*}}, %{{.*}}, %[[SIZES:.*]]:2, %[[STRIDES:.*]]:2 = memref.extract_strided_metadata %[[BUF]]
// CHECK: %{{.*}}, %[[OFF:.*]], %{{.*}}:2, %{{.*}}:2 = memref.extract_strided_metadata %[[BUF]]
// CHECK: %[[ALIGNED:.*]] = memref.extract_aligned_pointer_as_index %[[BUF]]
// CHECK: %[[ADDR:.*]] = arith.index_cast %[[ALIGNED]] : index to i64
// CHECK: %[[P:.*]] = llvm.inttoptr %[[ADDR]] : i64 to !llvm.ptr
// CHECK: %[[OFF64:.*]] = arith.index_cast %[[OFF]] : index to i64
// CHECK: %[[FIRST:.*]] = llvm.getelementptr %[[P]][%[[OFF64]]] : (!llvm.ptr, i64) -> !llvm.ptr, i32
// CHECK: %[[SITE:.*]] = arith.constant 0 : i64
// CHECK: %[[T:.*]] = arith.index_cast %[[SIZES]]#0 : index to i64
// CHECK: %[[K:.*]] = arith.index_cast %[[SIZES]]#1 : index to i64
// CHECK: %[[STRIDE:.*]] = arith.index_cast %[[STRIDES]]#0 : index to i64
// CHECK: %[[COLUMN:.*]] = arith.index_cast %[[STRIDES]]#1 : index to i64
// CHECK: llvm.call @__moec_record_routing(%[[SITE]], %[[FIRST]], %[[T]], %[[K]], %[[STRIDE]], %[[COLUMN]]) : (i64, !llvm.ptr, i64, i64, i64, i64) -> ()
// CHECK: bufferization.to_buffer %[[IDS2]] read_only : tensor<5x3xi32> to memref<5x3xi32, strided<[?, ?], offset: ?>>
// CHECK: arith.constant 1 : i64
// CHECK: llvm.call @__moec_record_routing
// CHECK-NOT: moe.record_routing
func.func @layer(%ids: tensor<?x2xi32>, %ids2: tensor<5x3xi32>) {
  moe.record_routing %ids site(0) experts(8) : tensor<?x2xi32>
  moe.record_routing %ids2 site(1) experts(4) : tensor<5x3xi32>
  return
}

// CHECK-LABEL: func.func @other
// CHECK: llvm.call @__moec_record_routing
func.func @other(%ids: tensor<?x1xi32>) {
  moe.record_routing %ids site(0) experts(16) : tensor<?x1xi32>
  return
}

// The hook calls the slot's function when there is one.
// CHECK-LABEL: llvm.func internal @__moec_record_routing
// CHECK-SAME: (%[[A0:.*]]: i64, %[[A1:.*]]: !llvm.ptr, %[[A2:.*]]: i64, %[[A3:.*]]: i64, %[[A4:.*]]: i64, %[[A5:.*]]: i64)
// CHECK: %[[SLOT:.*]] = llvm.mlir.addressof @moec_record_routing : !llvm.ptr
// CHECK: %[[FN:.*]] = llvm.load %[[SLOT]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[Z:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK: %[[NULL:.*]] = llvm.icmp "eq" %[[FN]], %[[Z]] : !llvm.ptr
// CHECK: llvm.cond_br %[[NULL]], ^[[DONE:.*]], ^[[CALL:.*]]
// CHECK: ^[[CALL]]:
// CHECK: llvm.call %[[FN]](%[[A0]], %[[A1]], %[[A2]], %[[A3]], %[[A4]], %[[A5]]) : !llvm.ptr, (i64, !llvm.ptr, i64, i64, i64, i64) -> ()
// CHECK-NEXT: llvm.return
// CHECK: ^[[DONE]]:
// CHECK-NEXT: llvm.return
