// A block-quantized GEMM for convert-moe-to-cpu-kernels with int8_dot and
// weight tiles of 1152 bytes (a moe.kernel written by hand), so each expert's
// 40 weight rows of 72 bytes (q4_0, k 128) take 3 tiles of 16 rows
// (convert-moe-to-cpu-kernels.mlir, prefix ONCE).

// The rows are quantized once, before the work items: an scf.forall over
// chunks of 64 rows writing its rows of three shared tensors in place
// (values, scales and sums), then the items (4 experts x 3 tiles) read
// them from their group's first row: the panel kernel's tables and
// broadcasts and the row kernel's loads, with no int8 rows of their own.
// ONCE-LABEL: func.func @q4_0_tiles
// ONCE: %[[ROWS:.*]]:3 = scf.forall (%[[CHUNK:.*]]) in (%{{.*}}) shared_outs(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<?x128xi8>, tensor<?x16xf32>, tensor<?x16xi32>)
// ONCE: math.roundeven
// ONCE: scf.forall.in_parallel
// ONCE-COUNT-3: tensor.parallel_insert_slice
// ONCE: scf.forall (%{{.*}}) in (%{{.*}}) shared_outs(%{{.*}} = %{{.*}}) -> (tensor<?x40xf32>)
// ONCE-NOT: math.roundeven
// ONCE: %[[LO:.*]] = arith.index_cast
// ONCE: scf.if
// ONCE: tensor.extract %[[ROWS]]#2
// ONCE: vector.transfer_read %[[ROWS]]#0
// ONCE: } else {
// ONCE: vector.transfer_read %[[ROWS]]#0
// ONCE-NOT: math.roundeven
// ONCE: return
func.func @q4_0_tiles(%x: tensor<?x128xf32>, %w: tensor<4x40x128x!moe.quant<q4_0>>, %off: tensor<5xi32>) -> tensor<?x40xf32> {
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, int8_dot, int8_panel_rows = 10 : i64, lanes = 16 : i64, registers = 32 : i64, panel_rows = 6 : i64, dot_rows = 6 : i64, dot_cols = 4 : i64, weight_tile_bytes = 1152 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x128xf32>, tensor<4x40x128x!moe.quant<q4_0>> -> tensor<?x40xf32>
  return %0 : tensor<?x40xf32>
}

// With CSE after the kernels (prefix CSE), two GEMMs of the same rows (an
// expert's gate and up) share one quantization: a single scf.forall of
// math.roundeven, whose three results both GEMMs' items read.
// CSE-LABEL: func.func @gate_up_rows
// CSE: %[[ROWS:.*]]:3 = scf.forall
// CSE: math.roundeven
// CSE: scf.forall (%{{.*}}) in (%{{.*}}) shared_outs(%{{.*}} = %{{.*}}) -> (tensor<?x40xf32>)
// CSE-NOT: math.roundeven
// CSE: vector.transfer_read %[[ROWS]]#0
// CSE-NOT: math.roundeven
// CSE: scf.forall (%{{.*}}) in (%{{.*}}) shared_outs(%{{.*}} = %{{.*}}) -> (tensor<?x40xf32>)
// CSE-NOT: math.roundeven
// CSE: vector.transfer_read %[[ROWS]]#0
// CSE-NOT: math.roundeven
// CSE: return
func.func @gate_up_rows(%x: tensor<?x128xf32>, %wg: tensor<4x40x128x!moe.quant<q4_0>>, %wu: tensor<4x40x128x!moe.quant<q4_0>>, %off: tensor<5xi32>) -> (tensor<?x40xf32>, tensor<?x40xf32>) {
  %0 = moe.grouped_matmul %x, %wg offsets(%off : tensor<5xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, int8_dot, int8_panel_rows = 10 : i64, lanes = 16 : i64, registers = 32 : i64, panel_rows = 6 : i64, dot_rows = 6 : i64, dot_cols = 4 : i64, weight_tile_bytes = 1152 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x128xf32>, tensor<4x40x128x!moe.quant<q4_0>> -> tensor<?x40xf32>
  %1 = moe.grouped_matmul %x, %wu offsets(%off : tensor<5xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, int8_dot, int8_panel_rows = 10 : i64, lanes = 16 : i64, registers = 32 : i64, panel_rows = 6 : i64, dot_rows = 6 : i64, dot_cols = 4 : i64, weight_tile_bytes = 1152 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x128xf32>, tensor<4x40x128x!moe.quant<q4_0>> -> tensor<?x40xf32>
  return %0, %1 : tensor<?x40xf32>, tensor<?x40xf32>
}

// Rows of two different inputs are quantized each.
// CSE-LABEL: func.func @two_inputs
// CSE: %[[XR:.*]]:3 = scf.forall
// CSE: math.roundeven
// CSE: vector.transfer_read %[[XR]]#0
// CSE: %[[YR:.*]]:3 = scf.forall
// CSE: math.roundeven
// CSE: vector.transfer_read %[[YR]]#0
// CSE: return
func.func @two_inputs(%x: tensor<?x128xf32>, %y: tensor<?x128xf32>, %wg: tensor<4x40x128x!moe.quant<q4_0>>, %off: tensor<5xi32>) -> (tensor<?x40xf32>, tensor<?x40xf32>) {
  %0 = moe.grouped_matmul %x, %wg offsets(%off : tensor<5xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, int8_dot, int8_panel_rows = 10 : i64, lanes = 16 : i64, registers = 32 : i64, panel_rows = 6 : i64, dot_rows = 6 : i64, dot_cols = 4 : i64, weight_tile_bytes = 1152 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x128xf32>, tensor<4x40x128x!moe.quant<q4_0>> -> tensor<?x40xf32>
  %1 = moe.grouped_matmul %y, %wg offsets(%off : tensor<5xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, int8_dot, int8_panel_rows = 10 : i64, lanes = 16 : i64, registers = 32 : i64, panel_rows = 6 : i64, dot_rows = 6 : i64, dot_cols = 4 : i64, weight_tile_bytes = 1152 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x128xf32>, tensor<4x40x128x!moe.quant<q4_0>> -> tensor<?x40xf32>
  return %0, %1 : tensor<?x40xf32>, tensor<?x40xf32>
}
