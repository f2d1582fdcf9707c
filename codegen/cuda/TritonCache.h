//===- TritonCache.h - kernels as Triton's cache stores them ----*- C++ -*-===//
//
// `moe-compile --emit-triton-cache DIR` writes each kernel the way Triton's
// cache stores a compiled kernel, so that a Triton user can load it
// (triton.compiler.CompiledKernel), launch it and compare it with a Triton
// kernel one to one (docs/Targets.md, "Triton"): per kernel K a directory
// DIR/K with K.json (Triton's metadata), K.ptx, K.cubin and
// __grp__K.json (the group file naming them).
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CUDA_TRITONCACHE_H
#define MOEC_CODEGEN_CUDA_TRITONCACHE_H

#include "codegen/cuda/CudaTarget.h"

#include "mlir/IR/BuiltinOps.h"

#include <map>
#include <string>
#include <vector>

namespace mlir::moe {

struct TritonKernel {
  std::string name;
  /// The gpu.module (and gpu.binary) it is in.
  std::string module;
  /// Triton's type name of each parameter but the two scratch pointers.
  std::vector<std::string> signature;
  /// Threads per program.
  int64_t threads = 0;
};

/// The kernels of `module` after the nvvm phase (llvm.func kernels of its
/// gpu.modules, with moe-gpu-pointer-arguments' signatures). Emits an
/// error and returns false for a kernel without them.
bool collectTritonKernels(ModuleOp module, std::vector<TritonKernel> &out);

/// The object of every gpu.binary of `module` by its name: PTX text after
/// the ptx phase, a cubin after the llvm phase.
std::map<std::string, std::string> gpuBinaryObjects(ModuleOp module);

/// Writes the cache entries of `kernels` into `dir` (created; an existing
/// entry of the same kernel is replaced). Returns "" or what failed.
std::string writeTritonCache(const std::string &dir,
                             const CudaTargetDescription &target,
                             const std::vector<TritonKernel> &kernels,
                             const std::map<std::string, std::string> &ptx,
                             const std::map<std::string, std::string> &cubins);

} // namespace mlir::moe

#endif // MOEC_CODEGEN_CUDA_TRITONCACHE_H
