//===- WeightCheck.h - weight files checked against a model -----*- C++ -*-===//
#ifndef MOEC_COMPILER_WEIGHTCHECK_H
#define MOEC_COMPILER_WEIGHTCHECK_H

#include "runtime/support/Json.h"

#include <string>
#include <vector>

namespace mlir::moe {

/// Checks that `files` (safetensors) hold every weight the artifact
/// metadata's functions take (docs/Artifact.md: each weight's tensor, or
/// the tensors it stacks), with the element count its shape needs and its
/// dtype or stored_dtype; tensors named in `elsewhere` are provided
/// otherwise (an ONNX model's initializers). Returns "" or a message naming
/// the files, the tensor and the function.
std::string checkWeightFiles(const ::moe::json::Value &metadata,
                             const std::vector<std::string> &files,
                             const std::vector<std::string> &elsewhere);

} // namespace mlir::moe

#endif // MOEC_COMPILER_WEIGHTCHECK_H
