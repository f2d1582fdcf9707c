//===- gguf_model.cpp - fuzz target: GGUF model import --------------------===//
//
// Imports the input as a GGUF file (written to a file of this process, as
// moe-compile reads one): the header's checks, then the architecture's
// metadata against the tensors' names, types and shapes. A module that
// comes back must verify (docs/Fuzzing.md).
//
//===----------------------------------------------------------------------===//
#include "dialect/MoEDialect.h"
#include "fuzz/FuzzContext.h"
#include "importers/hf/HFImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cstdint>
#include <string>
#include <vector>

using namespace mlir;

namespace {

void registerDialects(DialectRegistry &registry) {
  registry.insert<mlir::moe::MoEDialect, func::FuncDialect>();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string &path = moec_fuzz::writeInput("/tmp/moec-fuzz-gguf-XXXXXX",
                                                  "model.gguf", data, size);
  MLIRContext &ctx = moec_fuzz::context(/*fresh=*/true, registerDialects);
  ScopedDiagnosticHandler quiet(&ctx, [](Diagnostic &) { return success(); });
  std::vector<std::string> files;
  OwningOpRef<ModuleOp> module = mlir::moe::importGguf(path, &ctx, files);
  if (module && failed(verify(*module)))
    std::abort(); // the importer made IR that does not verify
  return 0;
}
