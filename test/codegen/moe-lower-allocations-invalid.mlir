// RUN: moe-opt %s --moe-lower-allocations -split-input-file -verify-diagnostics

// expected-error @+1 {{'_mlir_memref_to_llvm_alloc' is already defined; moe-lower-allocations defines it}}
llvm.func @_mlir_memref_to_llvm_alloc(%n: i64) -> !llvm.ptr {
  %p = llvm.mlir.zero : !llvm.ptr
  llvm.return %p : !llvm.ptr
}

// -----

// expected-error @+1 {{'_mlir_memref_to_llvm_free' has type '!llvm.func<void (i64)>', expected '!llvm.func<void (ptr)>'}}
llvm.func @_mlir_memref_to_llvm_free(i64)
