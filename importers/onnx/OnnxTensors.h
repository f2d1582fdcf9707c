//===- OnnxTensors.h - ONNX initializers as host tensors --------*- C++ -*-===//
//
// Decodes TensorProto initializers (raw_data, typed fields, or external
// data files) into little-endian bytes of their element type, and folds the
// constant subgraphs exported graphs put around an MoE node (Cast, Reshape,
// Unsqueeze, Concat, Transpose, Add).
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_IMPORTERS_ONNX_ONNXTENSORS_H
#define MOEC_IMPORTERS_ONNX_ONNXTENSORS_H

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

namespace moe::onnximport {

/// A constant tensor: ONNX element type, shape, and its bytes. Every shape
/// a Tensor holds has passed `shapeFits`, so its element count, strides and
/// byte size are computed without overflow.
struct Tensor {
  int32_t type = onnx::TensorProto::FLOAT;
  std::vector<int64_t> shape;
  std::string bytes;

  int64_t numElements() const;
  /// The values as doubles (any supported element type).
  std::vector<double> values() const;
  /// A tensor of `type` holding `values` (rounded to nearest even; for an
  /// integer type, truncated toward zero and saturated to its range, NaN
  /// giving 0: what ONNX leaves undefined is defined so).
  static Tensor fromValues(int32_t type, std::vector<int64_t> shape,
                           const std::vector<double> &values);
};

/// `v` as an integer (an axis, a dimension): false when it is not one (not
/// finite, not integral, or beyond 2^53 in magnitude).
bool asInteger(double v, int64_t &out);

/// True when no dimension of `shape` is negative and the product of its
/// non-zero dimensions fits in 62 bits (a zero-element tensor of dimensions
/// (0, 2^40, 2^40) has strides that would not).
bool shapeFits(const std::vector<int64_t> &shape);

/// Bytes per element of a supported ONNX element type; 0 for others.
size_t elementSize(int32_t type);
/// "float", "float16", "uint8", ... for messages.
std::string typeName(int32_t type);
/// Whether `type` is float or float16, the element types of QMoE's scales
/// and of the float tensors an MoE node takes.
bool isFloatType(int32_t type);

/// Decodes an initializer. `modelDir` resolves external data locations.
/// Returns "" or a message naming the initializer.
std::string decodeInitializer(const onnx::TensorProto &proto,
                              const std::string &modelDir, Tensor &out);

/// Folds one constant node (Cast, Reshape, Unsqueeze, Concat, Transpose,
/// Add) into `out`. Returns "" or a message naming the node.
std::string foldConstantNode(const onnx::NodeProto &node,
                             const std::vector<const Tensor *> &inputs,
                             Tensor &out);

} // namespace moe::onnximport

#endif // MOEC_IMPORTERS_ONNX_ONNXTENSORS_H
