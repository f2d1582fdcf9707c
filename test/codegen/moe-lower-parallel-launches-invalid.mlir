// RUN: moe-opt %s --moe-lower-parallel-launches -split-input-file -verify-diagnostics

// expected-error @+1 {{no parallel body 'missing_parallel_0'}}
llvm.func @__moec_launch_missing_parallel_0(i64, !llvm.ptr)

// -----

// expected-error @+1 {{parallel launch and body 'g_parallel_0' disagree on their arguments}}
llvm.func @__moec_launch_g_parallel_0(i64, !llvm.ptr)
llvm.func @g_parallel_0(%begin: i64, %end: i64) {
  llvm.return
}

// -----

llvm.func @__moec_launch_k_parallel_0(i64, !llvm.ptr, i64)
// expected-error @+1 {{'moe.noalias_pointers' names argument 3, which is not a pointer of 'k_parallel_0'}}
llvm.func @k_parallel_0(%begin: i64, %end: i64, %p: !llvm.ptr, %n: i64) attributes {moe.noalias_pointers = array<i64: 3>} {
  llvm.return
}

// -----

llvm.func @__moec_launch_m_parallel_0(i64, !llvm.ptr)
// expected-error @+1 {{'moe.noalias_pointers' names argument 7, which is not a pointer of 'm_parallel_0'}}
llvm.func @m_parallel_0(%begin: i64, %end: i64, %p: !llvm.ptr) attributes {moe.noalias_pointers = array<i64: 7>} {
  llvm.return
}

// -----

llvm.func @__moec_launch_q_parallel_0(i64, !llvm.ptr)
// expected-error @+1 {{'moe.min_parallel_iterations' of 'q_parallel_0' must be a positive integer}}
llvm.func @q_parallel_0(%begin: i64, %end: i64, %p: !llvm.ptr) attributes {moe.min_parallel_iterations = 0 : i64} {
  llvm.return
}

// -----

llvm.func @__moec_launch_r_parallel_0(i64, !llvm.ptr)
// expected-error @+1 {{'moe.min_parallel_iterations' of 'r_parallel_0' must be a positive integer}}
llvm.func @r_parallel_0(%begin: i64, %end: i64, %p: !llvm.ptr) attributes {moe.min_parallel_iterations = "many"} {
  llvm.return
}
