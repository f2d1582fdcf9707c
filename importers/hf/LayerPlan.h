//===- LayerPlan.h - what one checkpoint MoE layer is -----------*- C++ -*-===//
//
// The family readers (Families.cpp) turn config.json into one LayerPlan per
// MoE layer: the routing and activation of its moe.layer and, for each
// operand role, the checkpoint tensors it reads and the shape config.json
// implies. HFImporter.cpp turns plans into IR after checking the tensors.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_IMPORTERS_HF_LAYERPLAN_H
#define MOEC_IMPORTERS_HF_LAYERPLAN_H

#include "dialect/MoEDialect.h"
#include "importers/hf/Checkpoint.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moe::hf {

/// A weight operand: the tensor `name` as stored, or the tensors of
/// `stack` stacked along a new leading dimension; `transposed` when the
/// checkpoint holds the last two dimensions swapped. `shape` is the operand
/// shape moe.layer sees.
struct WeightSource {
  std::string name;
  std::vector<std::string> stack;
  bool transposed = false;
  std::vector<int64_t> shape;
  /// transformers keeps it in f32 when config.json declares bf16 or f16.
  bool keepF32 = false;
  /// An MXFP4 weight in transformers' layout: `name` holds its e2m1 codes
  /// (u8 [..., N, K/32, 16]) and this tensor its e8m0 scales (u8
  /// [..., N, K/32]); `shape` is [..., N, K].
  std::string mxScales;
};

struct LayerPlan {
  int64_t layer = 0;
  std::string prefix; // "model.layers.3.mlp."
  int64_t hidden = 0; // H
  // Routing.
  int64_t k = 1;
  mlir::moe::ScoringFunc scoring = mlir::moe::ScoringFunc::softmax;
  mlir::moe::RoutingOrder order = mlir::moe::RoutingOrder::score_then_topk;
  bool renormalize = false;
  /// Added to the sum the weights are divided by (LFM2-MoE's 1e-6).
  double renormEpsilon = 0.0;
  /// order = sparsemixer's masking distance (Phi-3.5-MoE's
  /// router_jitter_noise).
  double sparsemixerEps = 0.01;
  /// The weights scale the experts' inputs (Llama-4).
  bool scaleInputs = false;
  double scale = 1.0;
  int64_t nGroup = 1, topkGroup = 1;
  mlir::moe::GroupScoreFunc groupScore = mlir::moe::GroupScoreFunc::max;
  // Experts.
  mlir::moe::ActivationKind activation = mlir::moe::ActivationKind::swiglu;
  double alpha = 1.0, beta = 0.0;
  std::optional<double> limit;
  std::optional<mlir::moe::GateUpLayout> layout;
  /// Operand role ("router_weight", "gate", ...) to its source.
  std::map<std::string, WeightSource> operands;
};

/// Bounds on a model's counts far above any published model, checked
/// before anything is planned per layer or per expert: a config with 2^40
/// experts is an error, not an allocation that takes the machine's memory.
constexpr int64_t kMaxLayers = 1 << 16, kMaxHidden = 1 << 20,
                  kMaxExperts = 1 << 16;
/// The widest FFN (an expert's, or the shared experts' together) read;
/// shapes such as [E, 2 * width, d] stay far from overflow.
constexpr int64_t kMaxWidth = 1 << 24;

/// Null when `kind` (the value of `key`, e.g. model_type) is in `known`;
/// else "PATH: no 'KEY'" or "PATH: unknown KEY 'KIND'", with the list.
std::optional<std::string> unknownKind(const std::string &path,
                                       const std::string &key,
                                       const std::string &kind,
                                       const std::vector<std::string> &known);

/// The model types readMoELayers understands.
const std::vector<std::string> &supportedModelTypes();

/// Reads config.json into the plans of every MoE layer (dense layers are
/// skipped). Returns "" or a message naming config.json and the key.
std::string readMoELayers(const Checkpoint &ckpt, std::vector<LayerPlan> &out);

/// The GGUF architectures readGgufMoELayers understands.
const std::vector<std::string> &supportedGgufArchitectures();

/// Reads a GGUF checkpoint's metadata into the plans of its MoE layers
/// (GgufFamilies.cpp). Returns "" or a message naming the file and the key.
std::string readGgufMoELayers(const Checkpoint &ckpt,
                              std::vector<LayerPlan> &out);

} // namespace moe::hf

#endif // MOEC_IMPORTERS_HF_LAYERPLAN_H
