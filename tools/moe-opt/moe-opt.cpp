//===- moe-opt.cpp - mlir-opt for the moe dialect -------------------------===//
//
// Registers the moe dialect and passes next to upstream MLIR's dialects and
// passes, so any pipeline a moec phase runs can be reproduced by name.
//
//===----------------------------------------------------------------------===//
#include "codegen/CpuPipeline.h"
#include "codegen/Passes.h"
#include "dialect/MoEDialect.h"
#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::moe::MoEDialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllPasses();
  mlir::moe::registerMoEPasses();
  mlir::moe::registerMoECodegenPasses();
  mlir::moe::registerMoECpuPipeline();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "moec optimizer driver: the moe dialect and its passes\n",
      registry));
}
