//===- Int8PanelLayout.h - the one definition of int8 weight panels -*- C++
//-*-//
//
// A block-quantized weight the artifact takes `int8_panels`
// (docs/Artifact.md) is laid out for the int8 panel kernel
// (codegen/cpu/Int8Panels.cpp): output columns in panels of 16, each
// panel's blocks of 32 values of k one after another, and per panel and
// block the 16 columns' values as the i32 lanes vpdpbusd multiplies
// (4 values of one column per lane), then their 16 scales.
// moe-pack-weights (codegen/cpu/PackWeights.cpp) marks the argument,
// convert-moe-to-cpu-kernels types it with packedShape(), and moert
// (runtime/moert/SessionWeights.cpp) fills it with packMatrix(). For a
// weight [E, N, K] (a dense [N, K] is one expert, without E):
//
//   packed shape  [E?, ceil(N / 16), K / 32, B] bytes, B per format below;
//   panel p, block b holds columns n = 16 p + c (c < 16) and values
//   k = 32 b + v (v < 32), as the format's block of row n at b stores them:
//
//   q8_0 (B = 544)   byte 64 t + 4 c + i (t < 8, i < 4): the value at
//                    v = 4 t + i plus 128 (an unsigned byte, the value's
//                    two's complement with its sign bit flipped); then at
//                    byte 512 + 2 c the block's f16 scale d as stored;
//   q4_0 (B = 288)   byte 64 t + 4 c + i (t < 4, i < 4): the block's code
//                    byte 4 t + i as stored (low nibble: the code of
//                    v = 4 t + i, high nibble: of v = 16 + 4 t + i); then
//                    at byte 256 + 2 c the block's f16 scale d;
//   mxfp4 (B = 272)  the codes as q4_0's (e2m1 codes); then at byte
//                    256 + c the block's e8m0 scale byte;
//   u8z (B = 592)    the codes as q8_0's values, as stored (unsigned);
//                    then at byte 512 + 4 c the block's f32 scale d and
//                    at byte 576 + c its zero point z;
//   u4z (B = 336)    the codes as q4_0's; then at byte 256 + 4 c the f32
//                    scale d and at byte 320 + c the zero point z.
//   padding          columns n >= N: zero bytes, scales and zero points.
//
// The panels hold exactly the bytes of the blocks they come from, so a
// packed weight takes the bytes the file does.
//
// Plain C++17 without dependencies: the compiler and the runtime both
// include it.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_ABI_INT8PANELLAYOUT_H
#define MOEC_RUNTIME_ABI_INT8PANELLAYOUT_H

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moe::abi {

struct Int8PanelLayout {
  enum class Format { Q8_0, Q4_0, MXFP4, U8Z, U4Z };
  Format format = Format::Q8_0;

  /// Columns per panel, values per block, bytes of a stored block.
  static constexpr int64_t kPanel = 16, kBlock = 32;

  /// The layout of a weight of dtype `name` ("q8_0", "q4_0", "mxfp4",
  /// "u8z", "u4z"), if it has one.
  static std::optional<Int8PanelLayout> forDType(std::string_view name) {
    if (name == "q8_0")
      return Int8PanelLayout{Format::Q8_0};
    if (name == "q4_0")
      return Int8PanelLayout{Format::Q4_0};
    if (name == "mxfp4")
      return Int8PanelLayout{Format::MXFP4};
    if (name == "u8z")
      return Int8PanelLayout{Format::U8Z};
    if (name == "u4z")
      return Int8PanelLayout{Format::U4Z};
    return std::nullopt;
  }

  /// Bytes of a block's scale: an f16, an e8m0 byte for mxfp4, an f32 for
  /// u8z and u4z.
  int64_t scaleBytes() const {
    switch (format) {
    case Format::MXFP4:
      return 1;
    case Format::U8Z:
    case Format::U4Z:
      return 4;
    default:
      return 2;
    }
  }
  /// Bytes of a block's zero point: 1 for u8z and u4z, else none.
  int64_t zeroPointBytes() const {
    return format == Format::U8Z || format == Format::U4Z ? 1 : 0;
  }
  /// i32 lane rows per panel and block: 8 of 4 values, or 4 of 8 nibbles.
  int64_t laneRows() const {
    return format == Format::Q8_0 || format == Format::U8Z ? 8 : 4;
  }
  /// Bytes of one stored block: the scale, the zero point, the values.
  int64_t storedBlockBytes() const {
    return scaleBytes() + zeroPointBytes() + laneRows() * 4;
  }
  /// B: bytes per panel and block, the lanes, the scales, the zero points.
  int64_t panelBlockBytes() const {
    return laneRows() * 64 + (scaleBytes() + zeroPointBytes()) * kPanel;
  }
  /// Where a panel and block's scales start, and its zero points.
  int64_t scalesAt() const { return laneRows() * 64; }
  int64_t zeroPointsAt() const { return scalesAt() + scaleBytes() * kPanel; }

  /// "" when the layout applies to a weight of `shape` ([E, N, K] or
  /// [N, K], static), else what is wrong.
  std::string validate(const std::vector<int64_t> &shape) const {
    if (shape.size() != 2 && shape.size() != 3)
      return "a weight in int8 panels must have rank 2 or 3";
    for (int64_t d : shape)
      if (d < 1)
        return "a weight in int8 panels must have a static, non-empty shape";
    if (shape.back() % kBlock)
      return "a weight in int8 panels must have K a multiple of 32";
    return "";
  }

  /// [E?, ceil(N / 16), K / 32, B] for a valid `shape`.
  std::vector<int64_t> packedShape(const std::vector<int64_t> &shape) const {
    std::vector<int64_t> packed(shape.begin(), shape.end() - 2);
    int64_t n = shape[shape.size() - 2], k = shape.back();
    packed.push_back((n + kPanel - 1) / kPanel);
    packed.push_back(k / kBlock);
    packed.push_back(panelBlockBytes());
    return packed;
  }

  /// Bytes of the packed form of one [N, K] matrix.
  int64_t matrixBytes(int64_t n, int64_t k) const {
    return (n + kPanel - 1) / kPanel * (k / kBlock) * panelBlockBytes();
  }

  /// Packs panels [p0, p1) of the [n, k] matrix whose rows of stored
  /// blocks start at `src` into `dst`, the matrix's packed form (of
  /// matrixBytes(n, k)).
  void packPanels(const uint8_t *src, int64_t n, int64_t k, int64_t p0,
                  int64_t p1, uint8_t *dst) const {
    int64_t blocks = k / kBlock, bytes = storedBlockBytes();
    int64_t rowBytes = blocks * bytes, pb = panelBlockBytes();
    int64_t sb = scaleBytes(), head = sb + zeroPointBytes();
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t b = 0; b < blocks; ++b) {
        uint8_t *out = dst + (p * blocks + b) * pb;
        std::memset(out, 0, static_cast<size_t>(pb));
        for (int64_t c = 0; c < kPanel && p * kPanel + c < n; ++c) {
          const uint8_t *block = src + (p * kPanel + c) * rowBytes + b * bytes;
          std::memcpy(out + scalesAt() + sb * c, block,
                      static_cast<size_t>(sb));
          if (zeroPointBytes())
            out[zeroPointsAt() + c] = block[sb];
          for (int64_t t = 0; t < laneRows(); ++t)
            for (int64_t i = 0; i < 4; ++i) {
              uint8_t v = block[head + 4 * t + i];
              out[64 * t + 4 * c + i] =
                  format == Format::Q8_0 ? uint8_t(v ^ 0x80) : v;
            }
        }
      }
  }
};

} // namespace moe::abi

#endif // MOEC_RUNTIME_ABI_INT8PANELLAYOUT_H
