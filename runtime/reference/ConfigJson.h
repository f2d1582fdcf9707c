//===- ConfigJson.h - LayerConfig to and from JSON --------------*- C++ -*-===//
//
// The layer config as tools and artifacts exchange it:
//
//   {"routing": {"scoring": "softmax" | "sigmoid",
//                "order": "score_then_topk" | "topk_then_score" |
//                         "sparsemixer", "sparsemixer_eps": number,
//                "scale_inputs": bool,
//                "k": int, "renormalize": bool, "renorm_epsilon": number,
//                "scale": number,
//                "n_group": int, "topk_group": int,
//                "group_score": "max" | "top2_sum"},
//    "activation": {"kind": "swiglu" | "geglu" | "relu" | "relu2" | "gelu" |
//                           "gelu_tanh" | "silu" | "identity",
//                   "alpha": number, "beta": number, "limit": number | null},
//    "gate_up_layout": "interleaved" | "concatenated"}
//
// Only routing.k and activation.kind are required; the rest default as in
// Reference.h (a missing or null limit means no clamp). Unknown keys and
// wrong types are errors. Value ranges (k <= E, ...) are validate()'s job,
// since they depend on the operands.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_REFERENCE_CONFIGJSON_H
#define MOEC_RUNTIME_REFERENCE_CONFIGJSON_H

#include "runtime/reference/Reference.h"
#include "runtime/support/Json.h"

#include <string>
#include <string_view>

namespace moe::ref {

/// Parses JSON text. Returns "" or a message ("unknown key 'foo' in routing",
/// "routing.k: expected an integer, got 2.5", "at offset 17: ...").
std::string parseConfig(std::string_view text, LayerConfig &out);

/// Same from an already parsed document.
std::string configFromJson(const json::Value &doc, LayerConfig &out);

/// The inverse: every field written explicitly (limit only when set), so the
/// record does not depend on the defaults of the reader.
json::Value configToJsonValue(const LayerConfig &config);
std::string configToJson(const LayerConfig &config, int indent = -1);

} // namespace moe::ref

#endif // MOEC_RUNTIME_REFERENCE_CONFIGJSON_H
