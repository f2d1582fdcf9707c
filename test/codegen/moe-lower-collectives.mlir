// RUN: moe-opt %s --moe-lower-collectives | FileCheck %s
// The rank query and the two all-to-alls become calls through the
// runtime's slots on the tensors' buffers; the variable-count result gets
// Σ recv_counts rows; the function is listed with its grid's devices and
// the grid, named by nothing any more, is erased.

shard.grid @ep(shape = 2)

// CHECK: module attributes {moe.expert_parallel = {exchange = 2 : i64}}
// CHECK-NOT: shard.grid
// CHECK-DAG: llvm.mlir.global external @moec_ep_rank()
// CHECK-DAG: llvm.mlir.global external @moec_all_to_all()
// CHECK-DAG: llvm.mlir.global external @moec_all_to_all_v()
// CHECK-LABEL: func.func @exchange
// CHECK-SAME: (%[[ROWS:.*]]: tensor<?x16xbf16>, %[[IDS:.*]]: tensor<?xi32>, %[[SEND:.*]]: tensor<2xi64>)
// CHECK-DAG: %[[TWO:.*]] = arith.constant 2 : i64
// CHECK: %[[R:.*]] = llvm.call @__moec_ep_rank(%[[TWO]]) : (i64) -> i64
// CHECK: %[[RANK:.*]] = arith.index_cast %[[R]] : i64 to index
// CHECK: %[[SENDBUF:.*]] = bufferization.to_buffer %[[SEND]] read_only : tensor<2xi64> to memref<2xi64>
// CHECK: %[[COUNTS:.*]] = memref.alloc() : memref<2xi64>
// CHECK: %[[FP:.*]] = arith.constant 42 : i64
// CHECK: llvm.call @__moec_all_to_all(%{{.*}}, %[[FP]], %{{.*}}, %{{.*}}, %[[EIGHT:.*]]) : (i64, i64, !llvm.ptr, !llvm.ptr, i64) -> ()
// CHECK: %[[RECV:.*]] = bufferization.to_tensor %[[COUNTS]] restrict writable : memref<2xi64> to tensor<2xi64>
// CHECK: %[[TOTAL:.*]] = scf.for {{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (i64) {
// CHECK:   %[[C:.*]] = tensor.extract %[[RECV]]
// CHECK:   arith.addi %[[ACC]], %[[C]] : i64
// CHECK: %[[N:.*]] = arith.index_cast %[[TOTAL]] : i64 to index
// CHECK: %[[ROWBYTES:.*]] = arith.muli
// CHECK: %[[OUT:.*]] = memref.alloc(%[[N]]) : memref<?x16xbf16>
// CHECK: bufferization.to_buffer %[[ROWS]] read_only : tensor<?x16xbf16> to memref<?x16xbf16>
// CHECK: llvm.call @__moec_all_to_all_v(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[ROWBYTES]]) : (i64, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, i64) -> ()
// CHECK: %[[A:.*]] = bufferization.to_tensor %[[OUT]] restrict writable : memref<?x16xbf16> to tensor<?x16xbf16>
// CHECK: %[[IDSOUT:.*]] = memref.alloc(%{{.*}}) : memref<?xi32>
// CHECK: llvm.call @__moec_all_to_all_v(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[FOUR:.*]]) :
// CHECK: %[[B:.*]] = bufferization.to_tensor %[[IDSOUT]] restrict writable
// CHECK: return %[[RANK]], %[[A]], %[[B]]
// The hooks call the slot when the runtime set it; rank 0 otherwise.
// CHECK-LABEL: llvm.func internal @__moec_ep_rank(%{{.*}}: i64) -> i64
// CHECK: llvm.mlir.addressof @moec_ep_rank
// CHECK: llvm.cond_br
// CHECK: llvm.mlir.zero : i64
// CHECK-LABEL: llvm.func internal @__moec_all_to_all(
// CHECK-LABEL: llvm.func internal @__moec_all_to_all_v(
func.func @exchange(%rows: tensor<?x16xbf16>, %ids: tensor<?xi32>, %send: tensor<2xi64>) -> (index, tensor<?x16xbf16>, tensor<?xi32>) {
  %rank = shard.process_linear_index on @ep : index
  %recv = shard.all_to_all %send on @ep grid_axes = [0] split_axis = 0 concat_axis = 0 {moe.placement_fingerprint = 42 : i64} : tensor<2xi64> -> tensor<2xi64>
  %a = moe.all_to_all_v %rows, %send, %recv on @ep : tensor<?x16xbf16>, tensor<2xi64> -> tensor<?x16xbf16>
  %b = moe.all_to_all_v %ids, %send, %recv on @ep : tensor<?xi32>, tensor<2xi64> -> tensor<?xi32>
  return %rank, %a, %b : index, tensor<?x16xbf16>, tensor<?xi32>
}
