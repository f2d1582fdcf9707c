// RUN: moe-opt %s --convert-moe-to-cpu-kernels -split-input-file -verify-diagnostics
// Weights packed in pairs of k are for AVX512_BF16 dot products only.
// RUN: not moe-opt %S/Inputs/pairs.mlir --moe-set-cpu-target=cpu=x86-64-v3 --moe-cpu-select-kernels --convert-moe-to-linalg --convert-moe-to-cpu-kernels 2>&1 | FileCheck %s --check-prefix=PAIRS
// PAIRS: pairs.mlir:5:{{[0-9]+}}: error: 'moe.grouped_matmul' op cannot be lowered: its weight is packed in pairs of k (moe-pack-weights bf16-dot), which needs a moe.kernel of 16 lanes (AVX512_BF16 dot products), not 8
// Panels in slices of one AVX-512 vector each are too wide for AVX2's.
// RUN: not moe-opt %S/Inputs/slices.mlir --moe-set-cpu-target=cpu=x86-64-v3 --moe-cpu-select-kernels --convert-moe-to-linalg --convert-moe-to-cpu-kernels 2>&1 | FileCheck %s --check-prefix=SLICES
// SLICES: slices.mlir:7:{{[0-9]+}}: error: 'moe.grouped_matmul' op cannot be lowered: its weight is packed in 4 slices of panels of 16 columns (moe-pack-weights slices), more than the 16-column panel of its moe.kernel (8 lanes) holds with one vector per slice

func.func @not_a_dictionary(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'moe.grouped_matmul' op has a malformed 'moe.kernel': expected a dictionary with a string 'target'}}
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = 3 : i64} : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

func.func @missing_size(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'moe.grouped_matmul' op has a malformed 'moe.kernel': 'panel_depth' must be a positive integer}}
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, lanes = 8 : i64, registers = 16 : i64, panel_rows = 6 : i64, dot_rows = 3 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64}} : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

func.func @odd_lanes(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'moe.grouped_matmul' op has a malformed 'moe.kernel': 'lanes' must be 4, 8 or 16, not 6}}
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, lanes = 6 : i64, registers = 16 : i64, panel_rows = 6 : i64, dot_rows = 3 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

func.func @int8_dot_needs_16_lanes(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'moe.grouped_matmul' op has a malformed 'moe.kernel': 'int8_dot' needs 16 lanes (AVX512_VNNI), not 8}}
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, int8_dot, lanes = 8 : i64, registers = 16 : i64, panel_rows = 6 : i64, dot_rows = 3 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

func.func @int8_dot_not_unit(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'moe.grouped_matmul' op has a malformed 'moe.kernel': 'int8_dot' must be a unit attribute}}
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, int8_dot = true, lanes = 16 : i64, registers = 32 : i64, panel_rows = 6 : i64, dot_rows = 6 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

func.func @int8_panel_rows_without_int8_dot(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'moe.grouped_matmul' op has a malformed 'moe.kernel': 'int8_panel_rows' must be a positive integer, with 'int8_dot'}}
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, int8_panel_rows = 10 : i64, lanes = 16 : i64, registers = 32 : i64, panel_rows = 6 : i64, dot_rows = 6 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

func.func @int8_panel_rows_zero(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'moe.grouped_matmul' op has a malformed 'moe.kernel': 'int8_panel_rows' must be a positive integer, with 'int8_dot'}}
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, int8_dot, int8_panel_rows = 0 : i64, lanes = 16 : i64, registers = 32 : i64, panel_rows = 6 : i64, dot_rows = 6 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

func.func @dot_needs_16_lanes(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'moe.grouped_matmul' op has a malformed 'moe.kernel': 'bf16_dot' needs 16 lanes (AVX512_BF16), not 8}}
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = {target = "cpu", bf16_dot = true, lanes = 8 : i64, registers = 16 : i64, panel_rows = 6 : i64, dot_rows = 3 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

func.func @too_few_registers(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'moe.grouped_matmul' op has a malformed 'moe.kernel': 16 registers do not hold a 6 x 4 block}}
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, lanes = 8 : i64, registers = 16 : i64, panel_rows = 6 : i64, dot_rows = 6 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

func.func @dynamic_weight(%x: tensor<?x8xf32>, %w: tensor<2x?x8xf32>, %off: tensor<3xi32>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'moe.grouped_matmul' op cannot run the CPU kernel: its weight's shape 'tensor<2x?x8xf32>' is not static}}
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, lanes = 8 : i64, registers = 16 : i64, panel_rows = 6 : i64, dot_rows = 3 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x8xf32>, tensor<2x?x8xf32> -> tensor<?x?xf32>
  return %a : tensor<?x?xf32>
}

// -----

func.func @combine_without_down(%y: tensor<?x16xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'moe.combine' op has a CPU moe.kernel but no fused down projection: only a moe-fuse-combine'd combine runs a kernel}}
  %o = moe.combine %y, %w, %inv {moe.kernel = {target = "cpu", bf16_dot = false, lanes = 8 : i64, registers = 16 : i64, panel_rows = 6 : i64, dot_rows = 3 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
  return %o : tensor<?x16xf32>
}

// -----

// Another target's kernel is not this pass's business.
func.func @other_target(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = {target = "gpu"}} : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

// A quantized weight is read as it lies, as a function argument: one made
// by another op is an error.
func.func @quantized_not_argument(%x: tensor<?x64xf32>, %w: tensor<4x32x64x!moe.quant<q8_0>>, %off: tensor<3xi32>) -> tensor<?x32xf32> {
  // expected-error @+1 {{'tensor.extract_slice' op produces a block-quantized value 'tensor<2x32x64x!moe.quant<q8_0>>'; the CPU kernels read quantized weights only as function arguments}}
  %s = tensor.extract_slice %w[0, 0, 0] [2, 32, 64] [1, 1, 1] : tensor<4x32x64x!moe.quant<q8_0>> to tensor<2x32x64x!moe.quant<q8_0>>
  %a = moe.grouped_matmul %x, %s offsets(%off : tensor<3xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, lanes = 8 : i64, registers = 16 : i64, panel_rows = 6 : i64, dot_rows = 3 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x64xf32>, tensor<2x32x64x!moe.quant<q8_0>> -> tensor<?x32xf32>
  return %a : tensor<?x32xf32>
}

// -----

// Only the GEMM kernels read quantized weights.
func.func @quantized_other_user(%x: tensor<?x64xf32>, %w: tensor<4x32x64x!moe.quant<q8_0>>, %off: tensor<5xi32>) -> tensor<4x32x64x!moe.quant<q8_0>> {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, lanes = 8 : i64, registers = 16 : i64, panel_rows = 6 : i64, dot_rows = 3 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x64xf32>, tensor<4x32x64x!moe.quant<q8_0>> -> tensor<?x32xf32>
  // expected-error @+1 {{'func.return' op reads the block-quantized weight 'tensor<4x32x64x!moe.quant<q8_0>>', which only the CPU GEMM kernels can (a claimed moe.grouped_matmul or fused moe.combine)}}
  return %w : tensor<4x32x64x!moe.quant<q8_0>>
}

// -----

// Only a q8_0, q4_0, q4_1, q5_0, q5_1, mxfp4, u8z, u4z, q4_k, q5_k, q6_k, q3_k, q2_k, iq4_nl or iq4_xs weight with K a
// multiple of 128 has int8 panels (moe-pack-weights int8-dot marks no
// other).
// expected-error @+1 {{argument 1 of type 'tensor<2x32x256x!moe.quant<u2z>>' is marked moe.int8_panels, which only a static q8_0, q4_0, q4_1, q5_0, q5_1, mxfp4, u8z, u4z, q4_k, q5_k, q6_k, q3_k, q2_k, iq4_nl or iq4_xs weight of rank 2 or 3 with K a multiple of 128 can be}}
func.func @int8_panels_u2z(%x: tensor<?x256xf32>, %w: tensor<2x32x256x!moe.quant<u2z>> {moe.int8_panels}, %off: tensor<3xi32>) -> tensor<?x32xf32> {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, int8_dot, int8_panel_rows = 10 : i64, lanes = 16 : i64, registers = 32 : i64, panel_rows = 6 : i64, dot_rows = 6 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x256xf32>, tensor<2x32x256x!moe.quant<u2z>> -> tensor<?x32xf32>
  return %a : tensor<?x32xf32>
}

// -----

// expected-error @+1 {{argument 1 of type 'tensor<2x32x64x!moe.quant<q8_0>>' is marked moe.int8_panels}}
func.func @int8_panels_k64(%x: tensor<?x64xf32>, %w: tensor<2x32x64x!moe.quant<q8_0>> {moe.int8_panels}, %off: tensor<3xi32>) -> tensor<?x32xf32> {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, int8_dot, int8_panel_rows = 10 : i64, lanes = 16 : i64, registers = 32 : i64, panel_rows = 6 : i64, dot_rows = 6 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x64xf32>, tensor<2x32x64x!moe.quant<q8_0>> -> tensor<?x32xf32>
  return %a : tensor<?x32xf32>
}

// -----

// Only the int8 panel kernel reads int8 panels: a GEMM whose moe.kernel
// has no int8_dot cannot.
func.func @int8_panels_without_int8_dot(%x: tensor<?x128xf32>, %w: tensor<2x32x128x!moe.quant<q8_0>> {moe.int8_panels}, %off: tensor<3xi32>) -> tensor<?x32xf32> {
  // expected-error @+1 {{'moe.grouped_matmul' op cannot read argument 1 in int8 panels (moe.int8_panels): only the weight of a moe.grouped_matmul without up, activation or gate_up_layout whose moe.kernel has int8_dot and 16 lanes can}}
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = {target = "cpu", bf16_dot = false, lanes = 16 : i64, registers = 32 : i64, panel_rows = 6 : i64, dot_rows = 6 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x128xf32>, tensor<2x32x128x!moe.quant<q8_0>> -> tensor<?x32xf32>
  return %a : tensor<?x32xf32>
}

// -----

// Nor the row kernel of a gated GEMM.
func.func @int8_panels_gated(%x: tensor<?x128xf32>, %g: tensor<2x32x128x!moe.quant<q4_0>> {moe.int8_panels}, %u: tensor<2x32x128x!moe.quant<q4_0>>, %off: tensor<3xi32>) -> tensor<?x32xf32> {
  // expected-error @+1 {{'moe.grouped_matmul' op cannot read argument 1 in int8 panels}}
  %a = moe.grouped_matmul %x, %g offsets(%off : tensor<3xi32>) up(%u : tensor<2x32x128x!moe.quant<q4_0>>) activation(#moe.activation<swiglu>) {moe.kernel = {target = "cpu", bf16_dot = false, int8_dot, int8_panel_rows = 10 : i64, lanes = 16 : i64, registers = 32 : i64, panel_rows = 6 : i64, dot_rows = 6 : i64, dot_cols = 4 : i64, weight_tile_bytes = 524288 : i64, panel_depth = 512 : i64, stream_ahead_bytes = 4096 : i64}} : tensor<?x128xf32>, tensor<2x32x128x!moe.quant<q4_0>> -> tensor<?x32xf32>
  return %a : tensor<?x32xf32>
}
