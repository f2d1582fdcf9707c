// RUN: moe-opt %s --moe-lower-parallel-launches -split-input-file -verify-diagnostics

// expected-error @+1 {{no parallel body 'missing_parallel_0'}}
llvm.func @__moec_launch_missing_parallel_0(i64, !llvm.ptr)

// -----

// expected-error @+1 {{parallel launch and body 'g_parallel_0' disagree on their arguments}}
llvm.func @__moec_launch_g_parallel_0(i64, !llvm.ptr)
llvm.func @g_parallel_0(%begin: i64, %end: i64) {
  llvm.return
}
