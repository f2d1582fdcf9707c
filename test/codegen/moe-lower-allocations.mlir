// RUN: moe-opt %s --moe-lower-allocations | FileCheck %s

// The slots the runtime fills, exported and null until then.
// CHECK-DAG: llvm.mlir.global external @moec_alloc() {{.*}} : !llvm.ptr
// CHECK-DAG: llvm.mlir.global external @moec_free() {{.*}} : !llvm.ptr

// The allocation hook: through the slot when set, else malloc.
// CHECK-LABEL: llvm.func internal @_mlir_memref_to_llvm_alloc
// CHECK-SAME: (%[[SIZE:.*]]: i64) -> !llvm.ptr
// CHECK: %[[SLOT:.*]] = llvm.mlir.addressof @moec_alloc
// CHECK: %[[FN:.*]] = llvm.load %[[SLOT]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[NULL:.*]] = llvm.icmp "eq" %[[FN]]
// CHECK: llvm.cond_br %[[NULL]], ^[[LIBC:.*]], ^[[RT:.*]]
// CHECK: ^[[LIBC]]:
// CHECK: %[[P:.*]] = llvm.call @malloc(%[[SIZE]]) : (i64) -> !llvm.ptr
// CHECK: llvm.return %[[P]]
// CHECK: ^[[RT]]:
// CHECK: %[[Q:.*]] = llvm.call %[[FN]](%[[SIZE]]) : !llvm.ptr, (i64) -> !llvm.ptr
// CHECK: llvm.return %[[Q]]
llvm.func @_mlir_memref_to_llvm_alloc(i64) -> !llvm.ptr

// CHECK-LABEL: llvm.func internal @_mlir_memref_to_llvm_free
// CHECK-SAME: (%[[PTR:.*]]: !llvm.ptr)
// CHECK: llvm.mlir.addressof @moec_free
// CHECK: llvm.call @free(%[[PTR]]) : (!llvm.ptr) -> ()
// CHECK: llvm.call %{{.*}}(%[[PTR]]) : !llvm.ptr, (!llvm.ptr) -> ()
llvm.func @_mlir_memref_to_llvm_free(!llvm.ptr)

// CHECK-LABEL: llvm.func @user
// CHECK: llvm.call @_mlir_memref_to_llvm_alloc
llvm.func @user(%n: i64) -> !llvm.ptr {
  %p = llvm.call @_mlir_memref_to_llvm_alloc(%n) : (i64) -> !llvm.ptr
  llvm.call @_mlir_memref_to_llvm_free(%p) : (!llvm.ptr) -> ()
  llvm.return %p : !llvm.ptr
}

// CHECK: llvm.func @malloc(i64) -> !llvm.ptr
// CHECK: llvm.func @free(!llvm.ptr)
