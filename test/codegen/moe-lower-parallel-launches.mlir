// RUN: moe-opt %s --moe-lower-parallel-launches | FileCheck %s

// The slot the runtime fills, exported and null until then.
// CHECK: llvm.mlir.global external @moec_parallel_for() {{.*}} : !llvm.ptr {
// CHECK:   llvm.mlir.zero : !llvm.ptr

// CHECK-LABEL: llvm.func internal @__moec_launch_f_parallel_0
// CHECK-SAME: (%[[N:.*]]: i64, %[[P:.*]]: !llvm.ptr, %[[X:.*]]: f32)
// CHECK: %[[FRAME:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(ptr, f32)>
// CHECK: llvm.store %[[P]], %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK: llvm.store %[[X]], %{{.*}} : f32, !llvm.ptr
// CHECK: %[[TRAMP:.*]] = llvm.mlir.addressof @__moec_tramp_f_parallel_0
// CHECK: %[[SLOT:.*]] = llvm.mlir.addressof @moec_parallel_for
// CHECK: %[[FN:.*]] = llvm.load %[[SLOT]] : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.icmp "eq" %[[FN]]
// CHECK: llvm.cond_br
// Without a runtime: the whole range inline.
// CHECK: llvm.call @__moec_tramp_f_parallel_0(%[[FRAME]], %{{.*}}, %[[N]])
// With one: through the slot.
// CHECK: llvm.call %[[FN]](%[[TRAMP]], %[[FRAME]], %[[N]]) : !llvm.ptr, (!llvm.ptr, !llvm.ptr, i64) -> ()
llvm.func @__moec_launch_f_parallel_0(i64, !llvm.ptr, f32)

// The body is called with the range and the reloaded arguments.
// CHECK-LABEL: llvm.func internal @__moec_tramp_f_parallel_0
// CHECK-SAME: (%[[CTX:.*]]: !llvm.ptr, %[[BEGIN:.*]]: i64, %[[END:.*]]: i64)
// CHECK: %[[A0:.*]] = llvm.load %{{.*}} : !llvm.ptr -> !llvm.ptr
// CHECK: %[[A1:.*]] = llvm.load %{{.*}} : !llvm.ptr -> f32
// CHECK: llvm.call @f_parallel_0(%[[BEGIN]], %[[END]], %[[A0]], %[[A1]])
llvm.func @f_parallel_0(%begin: i64, %end: i64, %p: !llvm.ptr, %x: f32) {
  llvm.return
}

// The buffers moe-outline-parallel-loops found distinct (the aligned
// pointers it names) become llvm.noalias; the list goes.
// CHECK-LABEL: llvm.func internal @h_parallel_0
// CHECK-SAME: (%{{.*}}: i64, %{{.*}}: i64, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr {llvm.noalias}, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// CHECK-NOT: moe.noalias_pointers
// CHECK: llvm.return
llvm.func @__moec_launch_h_parallel_0(i64, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr)
llvm.func @h_parallel_0(%begin: i64, %end: i64, %a0: !llvm.ptr, %a1: !llvm.ptr, %b0: !llvm.ptr, %b1: !llvm.ptr) attributes {moe.noalias_pointers = array<i64: 3>} {
  llvm.return
}

// A body with the fewest iterations worth the pool: a launch of fewer runs
// inline like one without a runtime; the attribute goes.
// CHECK-LABEL: llvm.func internal @__moec_launch_m_parallel_0
// CHECK-SAME: (%[[N:.*]]: i64, %{{.*}}: !llvm.ptr)
// CHECK: %[[FN:.*]] = llvm.load %{{.*}} : !llvm.ptr -> !llvm.ptr
// CHECK: %[[NONE:.*]] = llvm.icmp "eq" %[[FN]]
// CHECK: %[[LEAST:.*]] = llvm.mlir.constant(16 : i64) : i64
// CHECK: %[[FEW:.*]] = llvm.icmp "slt" %[[N]], %[[LEAST]] : i64
// CHECK: %[[INLINE:.*]] = llvm.or %[[NONE]], %[[FEW]] : i1
// CHECK: llvm.cond_br %[[INLINE]]
// CHECK-LABEL: llvm.func internal @m_parallel_0
// CHECK-NOT: moe.min_parallel_iterations
// CHECK: llvm.return
llvm.func @__moec_launch_m_parallel_0(i64, !llvm.ptr)
llvm.func @m_parallel_0(%begin: i64, %end: i64, %p: !llvm.ptr) attributes {moe.min_parallel_iterations = 16 : i64} {
  llvm.return
}
