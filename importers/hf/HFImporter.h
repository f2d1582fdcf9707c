//===- HFImporter.h - Hugging Face checkpoints to moe IR --------*- C++ -*-===//
#ifndef MOEC_IMPORTERS_HF_HFIMPORTER_H
#define MOEC_IMPORTERS_HF_HFIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>
#include <vector>

namespace mlir::moe {

/// Imports the checkpoint directory `dir` (config.json + safetensors): one
/// public function `@layer_<N>` per MoE layer, taking `hidden_states`
/// [T, H] in the checkpoint's dtype and the layer's weights, bound by
/// tensor name (stacked per-expert tensors through moe.stack). Every tensor
/// is checked against config.json first. `weightFiles` receives the
/// safetensors files. Weights are typed as transformers holds them: in
/// config.json's declared dtype (DeepSeek's router and correction bias in
/// f32); one stored in another dtype gets `moe.stored_dtype` and is cast
/// when bound, and `notes` (if given) receives a line per layer saying so.
/// Emits an error and returns null on failure.
OwningOpRef<ModuleOp>
importHuggingFace(const std::string &dir, MLIRContext *context,
                  std::vector<std::string> &weightFiles,
                  std::vector<std::string> *notes = nullptr);

/// Imports the GGUF file `path` the same way: one `@layer_<N>` per MoE
/// layer, its weights bound by their GGUF tensor names from the file itself
/// (`weightFiles` receives it), planned from the metadata of its
/// general.architecture (docs/Importing.md). Quantized tensors are refused
/// for now. Emits an error and returns null on failure.
OwningOpRef<ModuleOp> importGguf(const std::string &path, MLIRContext *context,
                                 std::vector<std::string> &weightFiles);

} // namespace mlir::moe

#endif // MOEC_IMPORTERS_HF_HFIMPORTER_H
