//===- OnnxImporter.h - ONNX MoE graphs to moe IR ---------------*- C++ -*-===//
#ifndef MOEC_IMPORTERS_ONNX_ONNXIMPORTER_H
#define MOEC_IMPORTERS_ONNX_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>
#include <vector>

namespace mlir::moe {

/// The weights an import produced, to be written next to the artifact.
struct ImportedWeights {
  struct Entry {
    std::string name, dtype; // safetensors dtype: "F32", "F16", "BF16", "U8"
    std::vector<int64_t> shape;
    std::string bytes;
  };
  std::vector<Entry> tensors;
};

/// Imports an ONNX model following ONNX Runtime 1.31's CPU semantics
/// (docs/Importing.md): either one MoE layer (one com.microsoft.MoE or QMoE
/// node whose output is the graph's, and the ordinary ops around it: MatMul
/// for the router logits, Cast, Reshape, Unsqueeze, Concat, Transpose, Add)
/// as one function of the graph's inputs, or a whole model as one function
/// per MoE node, of the node's own inputs. The weights are the nodes'
/// initializers, returned in `weights` under the names the functions'
/// arguments carry: QMoE's 8-, 4- and 2-bit weights as moec's zero-point
/// blocks (U8 bytes, rows of whole blocks of 128, 32 or 16 sharing a
/// scale), other QMoE weights (rows not a multiple of 16) dequantized to
/// f32. Emits an error naming
/// the node and returns null on failure.
OwningOpRef<ModuleOp> importOnnx(const std::string &path, MLIRContext *context,
                                 ImportedWeights &weights);

} // namespace mlir::moe

#endif // MOEC_IMPORTERS_ONNX_ONNXIMPORTER_H
