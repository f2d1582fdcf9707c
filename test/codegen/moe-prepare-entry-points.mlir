// RUN: moe-opt %s --moe-prepare-entry-points | FileCheck %s
// Public functions get their C interface and read-only arguments; the
// attributes only the metadata needs are gone; private ones are untouched.
// CHECK-LABEL: func.func @entry
// CHECK-SAME: (%{{[^:]*}}: tensor<?x8xf32> {bufferization.writable = false}, %{{[^:]*}}: tensor<2x8x8xf32> {bufferization.writable = false, moe.packed_panel = 8 : i64})
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func private @helper
// CHECK-SAME: (%{{[^:]*}}: tensor<?x8xf32> {moe.name = "kept"})
// CHECK-NOT: llvm.emit_c_interface
func.func @entry(%x: tensor<?x8xf32> {moe.name = "hidden_states"}, %w: tensor<2x8x8xf32> {moe.name = "w", moe.stack = ["a", "b"], moe.transposed, moe.stored_dtype = "bf16", moe.packed_panel = 8 : i64}) -> tensor<?x8xf32> {
  %y = func.call @helper(%x) : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
func.func private @helper(%x: tensor<?x8xf32> {moe.name = "kept"}) -> tensor<?x8xf32> {
  return %x : tensor<?x8xf32>
}
