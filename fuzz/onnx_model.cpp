//===- onnx_model.cpp - fuzz target: ONNX model import --------------------===//
//
// Imports the input as an ONNX model file (protobuf, read by Debian's
// libprotobuf and libonnx, which are not instrumented; the importer is):
// the graph walk, the MoE/QMoE node's attributes, its initializers and the
// constant ops feeding them, and the dequantization of QMoE weights. The
// seeds are the importer tests' models (test/importers/Inputs/make_onnx.py).
// A module that comes back must verify, and its weights must hold as many
// bytes as their shapes say (docs/Fuzzing.md).
//
//===----------------------------------------------------------------------===//
#include "dialect/MoEDialect.h"
#include "fuzz/FuzzContext.h"
#include "importers/onnx/OnnxImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <unistd.h>

using namespace mlir;

namespace {

void registerDialects(DialectRegistry &registry) {
  registry.insert<mlir::moe::MoEDialect, func::FuncDialect>();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string &path = moec_fuzz::writeInput("/tmp/moec-fuzz-onnx-XXXXXX",
                                                  "model.onnx", data, size);
  MLIRContext &ctx = moec_fuzz::context(/*fresh=*/true, registerDialects);
  ScopedDiagnosticHandler quiet(&ctx, [](Diagnostic &) { return success(); });
  mlir::moe::ImportedWeights weights;
  OwningOpRef<ModuleOp> module = mlir::moe::importOnnx(path, &ctx, weights);
  if (!module)
    return 0;
  if (failed(verify(*module)))
    std::abort(); // the importer made IR that does not verify
  for (const mlir::moe::ImportedWeights::Entry &e : weights.tensors) {
    uint64_t n = e.dtype == "F32"                        ? 4
                 : e.dtype == "F16" || e.dtype == "BF16" ? 2
                 : e.dtype == "U8"                       ? 1
                                                         : 0;
    if (n == 0)
      std::abort(); // a weight of a dtype the safetensors writer lacks
    for (int64_t d : e.shape) {
      if (d < 0)
        std::abort(); // a weight with a negative dimension
      n *= static_cast<uint64_t>(d);
    }
    if (n != e.bytes.size())
      std::abort(); // a weight whose bytes disagree with its shape
  }
  return 0;
}
