// RUN: moe-opt %s --moe-set-cpu-target=cpu=x86-64-v4 --moe-cpu-select-kernels | FileCheck %s --check-prefix=V4
// RUN: moe-opt %s --moe-set-cpu-target=cpu=znver3 --moe-cpu-select-kernels | FileCheck %s --check-prefix=ZEN3
// RUN: moe-opt %s --moe-set-cpu-target=cpu=znver5 --moe-cpu-select-kernels | FileCheck %s --check-prefix=ZEN5
// RUN: moe-opt %s --moe-set-cpu-target=cpu=x86-64 --moe-cpu-select-kernels | FileCheck %s --check-prefix=SSE
// RUN: moe-opt %s --moe-set-cpu-target=cpu=cooperlake --moe-cpu-select-kernels=bf16-dot=true | FileCheck %s --check-prefix=DOT
// RUN: moe-opt %s --moe-set-cpu-target=cpu=cooperlake --moe-cpu-select-kernels=int8-dot=true | FileCheck %s --check-prefix=INT8
// Every GEMM and fused-down combine claimed, sized by the rules of
// docs/Targets.md from the target description: AVX-512 6 x 4 blocks of 16
// lanes; AVX2 and SSE (16 registers) 6-row panel blocks and 3 x 4 dot
// blocks; half of L2 per weight tile (Zen 3's 512 KiB L2: 256 KiB); k
// chunks of 512 (Zen 5's 48 KiB L1d would allow 1024, its L2 caps them).
// V4-LABEL: func.func @claims
// V4: moe.grouped_matmul {{.*}} {moe.kernel = {bf16_dot = false, dot_cols = 4 : i64, dot_rows = 6 : i64, lanes = 16 : i64, panel_depth = 512 : i64, panel_rows = 6 : i64, registers = 32 : i64, target = "cpu", weight_tile_bytes = 524288 : i64}}
// V4: moe.combine {{.*}} {moe.kernel = {bf16_dot = false,
// V4-NOT: moe.kernel
// V4: return
// ZEN3: moe.grouped_matmul {{.*}} {moe.kernel = {bf16_dot = false, dot_cols = 4 : i64, dot_rows = 3 : i64, lanes = 8 : i64, panel_depth = 512 : i64, panel_rows = 6 : i64, registers = 16 : i64, target = "cpu", weight_tile_bytes = 262144 : i64}}
// ZEN5: moe.grouped_matmul {{.*}} {moe.kernel = {bf16_dot = false, dot_cols = 4 : i64, dot_rows = 6 : i64, lanes = 16 : i64, panel_depth = 512 : i64, panel_rows = 6 : i64, registers = 32 : i64, target = "cpu", weight_tile_bytes = 524288 : i64}}
// SSE: moe.grouped_matmul {{.*}} {moe.kernel = {bf16_dot = false, dot_cols = 4 : i64, dot_rows = 3 : i64, lanes = 4 : i64, panel_depth = 512 : i64, panel_rows = 6 : i64, registers = 16 : i64, target = "cpu", weight_tile_bytes = 524288 : i64}}
// DOT: moe.grouped_matmul {{.*}} {moe.kernel = {bf16_dot = true,
// INT8: moe.grouped_matmul {{.*}} {moe.kernel = {bf16_dot = false, dot_cols = 4 : i64, dot_rows = 6 : i64, int8_dot, lanes = 16 : i64,
func.func @claims(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>, %y: tensor<?x8xf32>, %wt: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %d: tensor<2x8x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  %o = moe.combine %y, %wt, %inv down(%d : tensor<2x8x8xf32>) down_offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x8xf32>
  // A combine without a down projection has no kernel.
  %p = moe.combine %y, %wt, %inv : tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x8xf32>
  return %a, %o, %p : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
}
