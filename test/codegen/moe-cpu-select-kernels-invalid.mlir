// RUN: not moe-opt %s --moe-cpu-select-kernels 2>&1 | FileCheck %s --check-prefix=NOTARGET
// NOTARGET: error: moe-cpu-select-kernels: the module has no dlti.target_system_spec (moe-set-cpu-target writes the CPU target description: docs/Targets.md)
// RUN: not moe-opt %s --moe-set-cpu-target=cpu=x86-64-v3 --moe-cpu-select-kernels=bf16-dot=true 2>&1 | FileCheck %s --check-prefix=DOT
// DOT: error: moe-cpu-select-kernels: bf16-dot needs a target with avx512bf16 (AVX512_BF16); 'x86-64-v3' has none
// RUN: not moe-opt %s --moe-set-cpu-target=cpu=x86-64-v4 --moe-cpu-select-kernels=int8-dot=true 2>&1 | FileCheck %s --check-prefix=INT8
// INT8: error: moe-cpu-select-kernels: int8-dot needs a target with avx512vnni (AVX512_VNNI); 'x86-64-v4' has none
// RUN: not moe-opt %s --moe-set-cpu-target=cpu=cooperlake --moe-cpu-select-kernels="int8-dot=true int8-panel-rows=-1" 2>&1 | FileCheck %s --check-prefix=ROWS
// ROWS: error: moe-cpu-select-kernels: int8-panel-rows must be 0 (the cost model) or positive, not -1
// RUN: not moe-opt %S/Inputs/gpu-only-target.mlir --moe-cpu-select-kernels 2>&1 | FileCheck %s --check-prefix=NOCPU
// NOCPU: error: moe-cpu-select-kernels: the module's dlti.target_system_spec has no "CPU" device
// RUN: not moe-opt %S/Inputs/bad-cpu-target.mlir --moe-cpu-select-kernels 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: error: moe-cpu-select-kernels: the CPU target description's vector_bits must be 128, 256 or 512, not 384
// RUN: not moe-opt %S/Inputs/few-registers-target.mlir --moe-cpu-select-kernels 2>&1 | FileCheck %s --check-prefix=REGS
// REGS: error: moe-cpu-select-kernels: the CPU target description's vector_registers must be at least 8, not 4
// RUN: not moe-opt %S/Inputs/no-cpu-name-target.mlir --moe-cpu-select-kernels 2>&1 | FileCheck %s --check-prefix=NONAME
// NONAME: error: moe-cpu-select-kernels: the CPU target description has no string "cpu"
func.func @f(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}
