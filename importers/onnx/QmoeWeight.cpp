//===- QmoeWeight.cpp - a QMoE node's quantized expert weights ------------===//
#include "importers/onnx/QmoeWeight.h"

#include <cstring>

using namespace moe::onnximport;
using onnx::TensorProto;

std::string QmoeWeight::check(const std::string &what, const Tensor &q,
                              const Tensor &scales, const Tensor *zp,
                              int64_t bits, int64_t block, int64_t cols) {
  this->bits = bits;
  this->block = block;
  this->cols = cols;
  pack = 8 / bits;
  mask = (1 << bits) - 1;
  if (q.type != TensorProto::UINT8 || q.shape.size() != 3 ||
      q.shape[2] * pack != cols)
    return what + ": expected uint8 weights [E, rows, " +
           std::to_string(cols / pack) + "]";
  E = q.shape[0];
  rowCount = q.shape[1];
  blocks = block ? (cols + block - 1) / block : 1;
  std::vector<int64_t> scaleShape = {E, rowCount};
  if (block)
    scaleShape.push_back(blocks);
  if (scales.shape != scaleShape || !isFloatType(scales.type))
    return what + ": scales must be float [E, rows" +
           std::string(block ? ", in/block_size]" : "]");
  s = scales.values();
  // Zero points: row-wise [E, rows/pack], packed along the rows, or
  // block-wise [E, rows, ceil(blocks/pack)], packed along the blocks of a
  // row, also when a row has a single block (ONNX Runtime 1.31; 1.30 read
  // that case with the row-wise packing).
  if (zp) {
    std::vector<int64_t> zpShape =
        block ? std::vector<int64_t>{E, rowCount, (blocks + pack - 1) / pack}
              : std::vector<int64_t>{E, (rowCount + pack - 1) / pack};
    if (zp->type != TensorProto::UINT8 || zp->shape != zpShape)
      return what + ": zero points must be uint8 [E, " +
             (block
                  ? std::to_string(rowCount) + ", " + std::to_string(zpShape[2])
                  : std::to_string(zpShape[1])) +
             "]";
    z = zp->values();
  }
  qb = reinterpret_cast<const unsigned char *>(q.bytes.data());
  return "";
}

Tensor QmoeWeight::dequantized() const {
  std::vector<double> w(E * rowCount * cols);
  for (int64_t row = 0; row < E * rowCount; ++row)
    for (int64_t c = 0; c < cols; ++c)
      w[row * cols + c] =
          scale(row, c) * static_cast<float>(code(row, c) - zero(row, c));
  return Tensor::fromValues(TensorProto::FLOAT, {E, rowCount, cols}, w);
}

std::string QmoeWeight::blocksOf(QuantFormat format) const {
  int64_t B = format == QuantFormat::u8z || format == QuantFormat::u4z ||
                      format == QuantFormat::u2z
                  ? 32
              : format == QuantFormat::u8z16 || format == QuantFormat::u4z16 ||
                      format == QuantFormat::u2z16
                  ? 16
                  : 128;
  int64_t blockBytes = 5 + B * bits / 8;
  std::string out(static_cast<size_t>(E * rowCount * cols / B * blockBytes),
                  '\0');
  auto *p = reinterpret_cast<unsigned char *>(out.data());
  for (int64_t row = 0; row < E * rowCount; ++row)
    for (int64_t c0 = 0; c0 < cols; c0 += B, p += blockBytes) {
      float d = scale(row, c0);
      std::memcpy(p, &d, 4);
      p[4] = static_cast<unsigned char>(zero(row, c0));
      for (int64_t j = 0; j < B; ++j) {
        auto q = static_cast<unsigned char>(code(row, c0 + j));
        // u4z and u4z16: j and j + B / 2 share byte j; u4z128: j and
        // j + 32 share byte 32 (j / 64) + j % 32; u2z and u2z16: byte
        // j % (B / 4) holds j at bits 2 (j / (B / 4)); u2z128: byte
        // 16 (j / 64) + j % 16 holds j at bits 2 (j % 64 / 16).
        if (bits == 8)
          p[5 + j] = q;
        else if (bits == 4 && B <= 32)
          p[5 + j % (B / 2)] |=
              static_cast<unsigned char>(j < B / 2 ? q : q << 4);
        else if (bits == 4)
          p[5 + 32 * (j / 64) + j % 32] |=
              static_cast<unsigned char>(j % 64 < 32 ? q : q << 4);
        else if (B <= 32)
          p[5 + j % (B / 4)] |=
              static_cast<unsigned char>(q << (2 * (j / (B / 4))));
        else
          p[5 + 16 * (j / 64) + j % 16] |=
              static_cast<unsigned char>(q << (2 * (j % 64 / 16)));
      }
    }
  return out;
}
