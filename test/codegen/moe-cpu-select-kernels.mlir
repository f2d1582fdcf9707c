// RUN: moe-opt %s --moe-set-cpu-target=cpu=x86-64-v4 --moe-cpu-select-kernels | FileCheck %s --check-prefix=V4
// RUN: moe-opt %s --moe-set-cpu-target=cpu=znver3 --moe-cpu-select-kernels | FileCheck %s --check-prefix=ZEN3
// RUN: moe-opt %s --moe-set-cpu-target=cpu=znver5 --moe-cpu-select-kernels | FileCheck %s --check-prefix=ZEN5
// RUN: moe-opt %s --moe-set-cpu-target=cpu=x86-64 --moe-cpu-select-kernels | FileCheck %s --check-prefix=SSE
// RUN: moe-opt %s --moe-set-cpu-target=cpu=cooperlake --moe-cpu-select-kernels=bf16-dot=true | FileCheck %s --check-prefix=DOT
// RUN: moe-opt %s --moe-set-cpu-target=cpu=cooperlake --moe-cpu-select-kernels=int8-dot=true | FileCheck %s --check-prefix=INT8
// RUN: moe-opt %s --moe-set-cpu-target=cpu=cooperlake --moe-cpu-select-kernels="int8-dot=true int8-panel-rows=3" | FileCheck %s --check-prefix=ROWS
// RUN: moe-opt %s --moe-set-cpu-target=cpu=cooperlake --moe-cpu-select-kernels | FileCheck %s --check-prefix=NOINT8
// Every GEMM and fused-down combine claimed, sized by the rules of
// docs/Targets.md from the target description: AVX-512 6 x 4 blocks of 16
// lanes; AVX2 and SSE (16 registers) 6-row panel blocks and 3 x 4 dot
// blocks; half of L2 per weight tile (Zen 3's 512 KiB L2: 256 KiB); k
// chunks of 512 (Zen 5's 48 KiB L1d would allow 1024, its L2 caps them).
// V4-LABEL: func.func @claims
// V4: moe.grouped_matmul {{.*}} {moe.kernel = {bf16_dot = false, dot_cols = 4 : i64, dot_rows = 6 : i64, lanes = 16 : i64, panel_depth = 512 : i64, panel_rows = 6 : i64, registers = 32 : i64, stream_ahead_bytes = 4096 : i64, target = "cpu", weight_tile_bytes = 524288 : i64}}
// V4: moe.combine {{.*}} {moe.kernel = {bf16_dot = false,
// V4-NOT: moe.kernel
// V4: return
// ZEN3: moe.grouped_matmul {{.*}} {moe.kernel = {bf16_dot = false, dot_cols = 4 : i64, dot_rows = 3 : i64, lanes = 8 : i64, panel_depth = 512 : i64, panel_rows = 6 : i64, registers = 16 : i64, stream_ahead_bytes = 4096 : i64, target = "cpu", weight_tile_bytes = 262144 : i64}}
// ZEN5: moe.grouped_matmul {{.*}} {moe.kernel = {bf16_dot = false, dot_cols = 4 : i64, dot_rows = 6 : i64, lanes = 16 : i64, panel_depth = 512 : i64, panel_rows = 6 : i64, registers = 32 : i64, stream_ahead_bytes = 6144 : i64, target = "cpu", weight_tile_bytes = 524288 : i64}}
// SSE: moe.grouped_matmul {{.*}} {moe.kernel = {bf16_dot = false, dot_cols = 4 : i64, dot_rows = 3 : i64, lanes = 4 : i64, panel_depth = 512 : i64, panel_rows = 6 : i64, registers = 16 : i64, stream_ahead_bytes = 4096 : i64, target = "cpu", weight_tile_bytes = 524288 : i64}}
// DOT: moe.grouped_matmul {{.*}} {moe.kernel = {bf16_dot = true,
// INT8: moe.grouped_matmul {{.*}} {moe.kernel = {bf16_dot = false, dot_cols = 4 : i64, dot_rows = 6 : i64, int8_dot, lanes = 16 : i64,
func.func @claims(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>, %y: tensor<?x8xf32>, %wt: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %d: tensor<2x8x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  %o = moe.combine %y, %wt, %inv down(%d : tensor<2x8x8xf32>) down_offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x8xf32>
  // A combine without a down projection has no kernel.
  %p = moe.combine %y, %wt, %inv : tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x8xf32>
  return %a, %o, %p : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
}

// With int8-dot, a GEMM of block-quantized weights also gets
// int8_panel_rows, the cost model's count per format (docs/Targets.md):
// 10 for q4_0 and q8_0, 8 for u4z (its zero points cost the row kernel
// an FMA more); none for q4_k (the panel kernel takes only the formats
// whose int8 rows are in halves), fp8_e4m3 (no int8 dot products) or f32;
// the int8-panel-rows option sets it for all. Without int8-dot, none.
// INT8-LABEL: func.func @quantized
// INT8: moe.grouped_matmul {{.*}}int8_dot, int8_panel_rows = 10 : i64,{{.*}} : tensor<?x128xf32>, tensor<2x8x128x!moe.quant<q4_0>>
// INT8: moe.grouped_matmul {{.*}}int8_dot, int8_panel_rows = 10 : i64,{{.*}} : tensor<?x128xf32>, tensor<8x128x!moe.quant<q8_0>>
// INT8: moe.grouped_matmul {{.*}}int8_dot, int8_panel_rows = 8 : i64,{{.*}} : tensor<?x128xf32>, tensor<2x8x128x!moe.quant<u4z>>
// INT8: moe.grouped_matmul {{.*}}int8_dot, lanes{{.*}} : tensor<?x256xf32>, tensor<2x8x256x!moe.quant<q4_k>>
// INT8: moe.grouped_matmul {{.*}}int8_dot, lanes{{.*}} : tensor<?x128xf32>, tensor<2x8x128x!moe.quant<fp8_e4m3>>
// INT8: moe.grouped_matmul {{.*}}int8_dot, lanes{{.*}} : tensor<?x128xf32>, tensor<2x8x128xf32>
// ROWS-LABEL: func.func @quantized
// ROWS-COUNT-3: int8_panel_rows = 3 : i64
// ROWS-NOT: int8_panel_rows
// NOINT8-LABEL: func.func @quantized
// NOINT8-NOT: int8_panel_rows
func.func @quantized(%x: tensor<?x128xf32>, %off: tensor<3xi32>, %a: tensor<2x8x128x!moe.quant<q4_0>>, %b: tensor<8x128x!moe.quant<q8_0>>, %c: tensor<2x8x128x!moe.quant<u4z>>, %d: tensor<2x8x128x!moe.quant<fp8_e4m3>>, %e: tensor<2x8x128xf32>, %y: tensor<?x256xf32>, %f: tensor<2x8x256x!moe.quant<q4_k>>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %0 = moe.grouped_matmul %x, %a offsets(%off : tensor<3xi32>) : tensor<?x128xf32>, tensor<2x8x128x!moe.quant<q4_0>> -> tensor<?x8xf32>
  %1 = moe.grouped_matmul %x, %b : tensor<?x128xf32>, tensor<8x128x!moe.quant<q8_0>> -> tensor<?x8xf32>
  %2 = moe.grouped_matmul %x, %c offsets(%off : tensor<3xi32>) : tensor<?x128xf32>, tensor<2x8x128x!moe.quant<u4z>> -> tensor<?x8xf32>
  %5 = moe.grouped_matmul %y, %f offsets(%off : tensor<3xi32>) : tensor<?x256xf32>, tensor<2x8x256x!moe.quant<q4_k>> -> tensor<?x8xf32>
  %3 = moe.grouped_matmul %x, %d offsets(%off : tensor<3xi32>) : tensor<?x128xf32>, tensor<2x8x128x!moe.quant<fp8_e4m3>> -> tensor<?x8xf32>
  %4 = moe.grouped_matmul %x, %e offsets(%off : tensor<3xi32>) : tensor<?x128xf32>, tensor<2x8x128xf32> -> tensor<?x8xf32>
  return %0, %1, %2, %3, %4, %5 : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
}
