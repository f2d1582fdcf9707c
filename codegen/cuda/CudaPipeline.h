//===- CudaPipeline.h - moe-cuda-pipeline and its phases --------*- C++ -*-===//
//
// The NVIDIA GPU lowering from moe IR to PTX as named phases, each a
// stopping point of `moe-opt --moe-cuda-pipeline="compile-to=<phase>"`:
//
//   moe     the input, verified
//   fused   the GPU target description set (moe-set-cuda-target);
//           moe.layer decomposed; the gather fused into the GEMMs that
//           read it, the activation into its gate and up GEMMs and the
//           down projection into the combine (moe-fuse-dispatch,
//           moe-fuse-gate-up, moe-fuse-combine)
//   loops   convert-moe-to-gpu: each kernel a GPU-mapped scf.parallel nest
//           on buffers (One-Shot Bufferize across function boundaries); the
//           IR the CPU can run too, which is how the tests check the
//           kernels' logic without a GPU
//   gpu     the nests as gpu.launch (convert-parallel-loops-to-gpu), then
//           outlined into gpu.func kernels of a gpu.module, launched by
//           gpu.launch_func from the host function; results written into
//           buffers the caller passes, scratch in device memory
//           (moe-gpu-device-buffers), every launch, allocation and free on
//           one stream (gpu-async-region), each buffer passed to a kernel
//           as a pointer and its sizes (moe-gpu-pointer-arguments)
//   nvvm    the kernels in the NVVM and LLVM dialects, the module given its
//           #nvvm.target (chip and PTX version from the description)
//   ptx     the kernels as PTX from LLVM's NVPTX backend (gpu.binary with
//           the PTX text, libdevice linked from the CUDA toolkit)
//   llvm    the kernels as a cubin (the PTX assembled by the toolkit's
//           ptxas) in a gpu.binary, the host functions in the LLVM dialect
//           (gpu-to-llvm): what moe-compile --target=cuda translates into
//           an artifact, whose launches call the runtime (docs/Artifact.md)
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CUDA_CUDAPIPELINE_H
#define MOEC_CODEGEN_CUDA_CUDAPIPELINE_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::moe {

enum class CudaPhase { Moe, Fused, Loops, Gpu, NVVM, PTX, LLVM };

/// The options of `moe-cuda-pipeline`.
struct CudaPipelineOptions : PassPipelineOptions<CudaPipelineOptions> {
  Option<std::string> chip{
      *this, "chip",
      llvm::cl::desc("The GPU to generate code for (moe-set-cuda-target): "
                     "sm_80, sm_86, sm_89, sm_90, sm_90a, sm_100, sm_100a or "
                     "sm_120"),
      llvm::cl::init("sm_90a")};
  Option<std::string> cudaToolkit{
      *this, "cuda-toolkit",
      llvm::cl::desc("The CUDA toolkit whose libdevice the ptx phase links "
                     "and whose ptxas the llvm phase runs"),
      llvm::cl::init(MOEC_CUDA_TOOLKIT)};
  Option<bool> tensorCores{
      *this, "tensor-cores",
      llvm::cl::desc("Multiply bf16 and f16 grouped GEMMs with tensor cores "
                     "where the chip has them (convert-moe-to-gpu); false "
                     "keeps the SIMT GEMM, which the loops phase can run on "
                     "the CPU"),
      llvm::cl::init(true)};
  Option<bool> fuseCombine{
      *this, "fuse-combine",
      llvm::cl::desc("Fold the experts' down projection into the combine "
                     "(moe-fuse-combine) and take it as the staged GEMM with "
                     "a scatter-add epilogue (f32 atomics: the sums' order, "
                     "and so their low bits, may change from run to run); "
                     "false keeps the down GEMM and the combine apart, "
                     "summed in slot order"),
      llvm::cl::init(true)};
  Option<CudaPhase> compileTo{
      *this, "compile-to", llvm::cl::desc("The last phase to run"),
      llvm::cl::init(CudaPhase::PTX),
      llvm::cl::values(
          clEnumValN(CudaPhase::Moe, "moe", "the input, verified"),
          clEnumValN(CudaPhase::Fused, "fused",
                     "target set, moe.layer decomposed"),
          clEnumValN(CudaPhase::Loops, "loops",
                     "kernels as GPU-mapped parallel loops on buffers"),
          clEnumValN(CudaPhase::Gpu, "gpu",
                     "gpu.func kernels and gpu.launch_func"),
          clEnumValN(CudaPhase::NVVM, "nvvm",
                     "kernels in the NVVM and LLVM dialects"),
          clEnumValN(CudaPhase::PTX, "ptx", "kernels as PTX"),
          clEnumValN(CudaPhase::LLVM, "llvm",
                     "kernels as cubins, host code in the LLVM dialect"))};
};

/// The phase's name for compile-to ("moe", ..., "llvm"), and back.
StringRef cudaPhaseName(CudaPhase phase);
std::optional<CudaPhase> parseCudaPhase(StringRef name);

/// Adds the passes of every phase after `after` up to options.compileTo.
void buildCudaPipeline(OpPassManager &pm, const CudaPipelineOptions &options,
                       CudaPhase after = CudaPhase::Moe);

/// The ptx phase's serialization of the kernels (gpu-module-to-binary):
/// `format` "isa" for PTX text, "bin" for a cubin (ptxas).
void buildBinaryPhase(OpPassManager &pm, const CudaPipelineOptions &options,
                      StringRef format);

/// Registers `moe-cuda-pipeline` for moe-opt.
void registerMoECudaPipeline();

} // namespace mlir::moe

#endif // MOEC_CODEGEN_CUDA_CUDAPIPELINE_H
