//===- QmoeWeight.h - a QMoE node's quantized expert weights ----*- C++ -*-===//
//
// A QMoE weight as ONNX Runtime reads it (codes, scales, optional zero
// points), checked against its shapes, and turned into moec's blocks
// (u8z, u4z, u2z and their blocks of 128 and 16; docs/MoEDialect.md) or
// into f32.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_IMPORTERS_ONNX_QMOEWEIGHT_H
#define MOEC_IMPORTERS_ONNX_QMOEWEIGHT_H

#include "dialect/MoEDialect.h"
#include "importers/onnx/OnnxTensors.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moe::onnximport {

using mlir::moe::QuantFormat;

/// A QMoE weight `q` [E, rows, cols/pack] with its scales and optional
/// zero points, checked, and decoded as ORT does: w[r][c] =
/// scale[r][c/block] * (q - zp) in f32, zp = 2^(bits-1) without zero
/// points.
class QmoeWeight {
public:
  /// Returns "" or a message.
  std::string check(const std::string &what, const Tensor &q,
                    const Tensor &scales, const Tensor *zp, int64_t bits,
                    int64_t block, int64_t cols);

  int64_t experts() const { return E; }
  int64_t rows() const { return rowCount; }
  /// The stored code, scale (as f32) and zero point of element c of row
  /// `row` (counting the rows of all experts).
  int64_t code(int64_t row, int64_t c) const {
    int64_t byte = row * (cols / pack) + c / pack;
    return (qb[byte] >> ((c % pack) * bits)) & mask;
  }
  float scale(int64_t row, int64_t c) const {
    return static_cast<float>(s[block ? row * blocks + c / block : row]);
  }
  int64_t zero(int64_t row, int64_t c) const {
    if (z.empty())
      return int64_t(1) << (bits - 1);
    int64_t g = block ? c / block : 0, r = row % rowCount;
    int64_t e = row / rowCount;
    int64_t zi = block ? row * ((blocks + pack - 1) / pack) + g / pack
                       : e * ((rowCount + pack - 1) / pack) + r / pack;
    int64_t shift = (block ? g % pack : r % pack) * bits;
    return (static_cast<int64_t>(z[zi]) >> shift) & mask;
  }

  /// The f32 weights [E, rows, cols].
  Tensor dequantized() const;
  /// The block format that holds the weights exactly (docs/MoEDialect.md),
  /// if any: rows of whole blocks that share their scale and zero point, of
  /// 128 (u8z128, u4z128, u2z128: a quarter of the scales' bytes) where the
  /// rows and scale blocks allow, else of 32 (u8z, u4z, u2z), else of 16
  /// (u8z16, u4z16, u2z16: scales per 16, or rows of a multiple of 16
  /// only).
  std::optional<QuantFormat> blockFormat() const {
    for (int64_t b : {128, 32, 16}) {
      if (cols % b != 0 || (block != 0 && block % b != 0))
        continue;
      if (b == 128)
        return bits == 8   ? QuantFormat::u8z128
               : bits == 4 ? QuantFormat::u4z128
                           : QuantFormat::u2z128;
      if (b == 32)
        return bits == 8   ? QuantFormat::u8z
               : bits == 4 ? QuantFormat::u4z
                           : QuantFormat::u2z;
      return bits == 8   ? QuantFormat::u8z16
             : bits == 4 ? QuantFormat::u4z16
                         : QuantFormat::u2z16;
    }
    return std::nullopt;
  }
  /// The weights as blocks of `format` (blockFormat's), rows of whole
  /// blocks.
  std::string blocksOf(QuantFormat format) const;

private:
  int64_t bits = 4, block = 0, cols = 0, pack = 2, mask = 15;
  int64_t E = 0, rowCount = 0, blocks = 1;
  const unsigned char *qb = nullptr;
  std::vector<double> s, z;
};

} // namespace moe::onnximport

#endif // MOEC_IMPORTERS_ONNX_QMOEWEIGHT_H
