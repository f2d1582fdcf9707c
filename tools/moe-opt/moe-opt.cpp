//===- moe-opt.cpp - mlir-opt for the moe dialect -------------------------===//
//
// Registers the moe dialect and passes next to upstream MLIR's dialects and
// passes, so any pipeline a moec phase runs can be reproduced by name.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/CpuPipeline.h"
#include "codegen/cpu/Passes.h"
#include "codegen/cuda/CudaPipeline.h"
#include "codegen/cuda/Passes.h"
#include "codegen/linalg/Passes.h"
#include "dialect/MoEDialect.h"
#include "passes/Passes.h"
#include "runtime/support/Version.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

#include "llvm/Support/CommandLine.h"

int main(int argc, char **argv) {
  llvm::cl::SetVersionPrinter(
      [](llvm::raw_ostream &os) { os << MOEC_VERSION_TEXT; });
  mlir::DialectRegistry registry;
  registry.insert<mlir::moe::MoEDialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary translates the kernels to LLVM IR for NVPTX.
  mlir::registerAllGPUToLLVMIRTranslations(registry);
  mlir::registerAllPasses();
  mlir::moe::registerMoEPasses();
  mlir::moe::registerMoELinalgPasses();
  mlir::moe::registerMoECpuPasses();
  mlir::moe::registerMoECpuPipeline();
  mlir::moe::registerMoECudaPasses();
  mlir::moe::registerMoECudaPipeline();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "moec optimizer driver: the moe dialect and its passes\n",
      registry));
}
