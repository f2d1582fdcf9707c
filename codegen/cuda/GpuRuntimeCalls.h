//===- GpuRuntimeCalls.h - a CUDA artifact's calls into moert ---*- C++ -*-===//
//
// Translated to LLVM IR, the host side of moe-cuda-pipeline's llvm phase
// calls MLIR's GPU runtime interface (mgpuLaunchKernel, mgpuMemAlloc, ...)
// and loads its cubins from global constructors. An artifact must not
// depend on a library that provides those calls, nor touch the GPU when it
// is loaded: the runtime provides them, and chooses the device.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CUDA_GPURUNTIMECALLS_H
#define MOEC_CODEGEN_CUDA_GPURUNTIMECALLS_H

#include "llvm/IR/Module.h"

#include <string>

namespace mlir::moe {

/// Rewrites `module` for the runtime (runtime/abi/ArtifactAbi.h): each
/// declared mgpu* call gets an internal body that calls through the
/// exported slot moec_mgpu*, and the global constructors and destructors
/// (the cubins' loads and unloads) move into the exported
/// moec_gpu_load_modules and moec_gpu_unload_modules. Returns "" or what
/// is wrong: a call the runtime does not provide.
std::string bindGpuRuntimeCalls(llvm::Module &module);

} // namespace mlir::moe

#endif // MOEC_CODEGEN_CUDA_GPURUNTIMECALLS_H
