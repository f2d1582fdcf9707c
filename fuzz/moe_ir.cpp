//===- moe_ir.cpp - fuzz target: moe IR through the verifier and passes ---===//
//
// Parses any bytes as MLIR with the moe dialect and upstream's dialects;
// what parses and verifies goes, on separate copies, through moe-decompose,
// the CPU pipeline down to the LLVM dialect, and the GPU pipeline down to its
// nvvm phase (the kernels in the NVVM dialect; the PTX and cubins after it
// come from LLVM's NVPTX backend and ptxas). A pass may reject what it cannot
// lower (a diagnostic and a failed pass manager run); it may not crash, trip a
// sanitizer or leave IR that does not verify (the pass manager's verifier is
// on). MLIR's rule: no input that passes the verifier may crash a pass
// (docs/Fuzzing.md).
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/CpuPipeline.h"
#include "codegen/cuda/CudaPipeline.h"
#include "dialect/MoEDialect.h"
#include "fuzz/FuzzContext.h"
#include "passes/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include <cstdint>
#include <memory>
#include <string>

using namespace mlir;

namespace {

void registerDialects(DialectRegistry &registry) {
  registry.insert<moe::MoEDialect>();
  registerAllDialects(registry);
  registerAllExtensions(registry);
}

MLIRContext &context(bool fresh = false) {
  return moec_fuzz::context(fresh, registerDialects);
}

/// Runs the passes `build` adds on a copy of `module`; failure is allowed.
void runOnCopy(ModuleOp module, function_ref<void(OpPassManager &)> build) {
  OwningOpRef<ModuleOp> copy(module.clone());
  PassManager pm(&context());
  pm.enableVerifier(true);
  build(pm);
  (void)pm.run(*copy);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  MLIRContext &ctx = context(/*fresh=*/true);
  // Diagnostics are expected (most inputs are rejected); keep them quiet.
  ScopedDiagnosticHandler quiet(&ctx, [](Diagnostic &) { return success(); });
  std::string text(reinterpret_cast<const char *>(data), size);
  ParserConfig config(&ctx);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, config);
  if (!module || failed(verify(*module)))
    return 0;
  runOnCopy(*module, [](OpPassManager &pm) {
    pm.addPass(moe::createMoEDecompose());
    pm.addPass(createCanonicalizerPass());
  });
  runOnCopy(*module, [](OpPassManager &pm) {
    moe::CpuPipelineOptions options;
    options.cpu = "x86-64-v3"; // not the host's: the same on every machine
    moe::buildCpuPipeline(pm, options);
  });
  runOnCopy(*module, [](OpPassManager &pm) {
    moe::CudaPipelineOptions options;
    options.compileTo = moe::CudaPhase::NVVM;
    moe::buildCudaPipeline(pm, options);
  });
  return 0;
}
