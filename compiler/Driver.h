//===- Driver.h - the compile driver: import, lower, emit, link -*- C++ -*-===//
//
// What `moe-compile` does, as a library: read a model (a .mlir file, an
// .onnx file or a Hugging Face checkpoint directory), run the target's
// pipeline (codegen/cpu/CpuPipeline.h, codegen/cuda/CudaPipeline.h) and either
// print one phase's IR or translate, optimize, emit and link a loadable
// artifact with its metadata (docs/Artifact.md). `moe-compile`'s main() parses
// its flags into CompileOptions and calls compileModel().
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_DRIVER_H
#define MOEC_COMPILER_DRIVER_H

#include "codegen/cpu/CpuPipeline.h"
#include "codegen/cuda/CudaPipeline.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::moe {

struct CompileOptions {
  /// The model: a .mlir file, an .onnx file or a checkpoint directory.
  std::string input;
  /// The artifact (.so), or where the printed IR goes ("" or "-": stdout).
  std::string output;
  /// The code generation target: "cpu" or "cuda".
  std::string target = "cpu";
  /// Stop after a pipeline phase and print its IR; or print LLVM IR
  /// before optimization (`llvmIR`), or optimized assembly (`assembly`).
  std::optional<CpuPhase> stopAfter;
  /// The same for --target=cuda (moe-cuda-pipeline's phases); each target
  /// reads its own.
  std::optional<CudaPhase> cudaStopAfter;
  bool llvmIR = false;
  bool assembly = false;
  /// The CPU pipeline's options, as moe-cpu-pipeline takes them.
  std::string cpu = "native";
  /// Cache sizes instead of the CPU's (0: the CPU's).
  int64_t l1dCacheBytes = 0;
  int64_t l2CacheBytes = 0;
  bool fuseGateUp = false;
  bool fuseDispatch = false;
  bool fuseCombine = false;
  bool packWeights = true;
  int64_t panelSlices = 0;
  bool bf16Dot = false;
  /// Block-quantized expert weights multiply int8-quantized rows with
  /// AVX512_VNNI dot products (needs avx512vnni).
  bool int8Dot = false;
  /// With int8Dot: the fewest rows of a work item that runs the int8 panel
  /// kernel (0: the cost model's count per format).
  int64_t int8PanelRows = 0;
  bool kernels = true;
  /// Layers report their expert selection to the runtime
  /// (moe-instrument-routing).
  bool recordRouting = true;
  /// The CUDA pipeline's options, as moe-cuda-pipeline takes them.
  std::string gpuChip = "sm_90a";
  /// No atomic adds in the kernels: the combine stays apart from the down
  /// GEMM (moe-cuda-pipeline's fuse-combine=false).
  bool gpuDeterministic = false;
  std::string cudaToolkit = MOEC_CUDA_TOOLKIT;
  /// With --target=cuda: also write each kernel into this directory as
  /// Triton's cache stores a compiled kernel (codegen/cuda/TritonCache.h).
  std::string tritonCacheDir;
  /// Weight files recorded in the artifact instead of those the model
  /// names; each is checked against the model's weights.
  std::vector<std::string> weights;
  /// The linker for the shared object.
  std::string linker;
  /// Print each phase and its time.
  bool verbose = false;
  /// Prefix of every message ("moe-compile").
  std::string toolName = "moe-compile";
};

/// Fills `pipeline` from `options` (what moe-opt's --moe-cpu-pipeline takes
/// as "cpu=... fuse=... compile-to=...").
void setPipelineOptions(const CompileOptions &options,
                        CpuPipelineOptions &pipeline);

/// Compiles as `options` say. Reports errors on stderr, naming what and
/// where, and returns the process exit code (0 on success). Never leaves a
/// partial output file.
int compileModel(const CompileOptions &options);

} // namespace mlir::moe

#endif // MOEC_COMPILER_DRIVER_H
