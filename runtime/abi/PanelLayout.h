//===- PanelLayout.h - the one definition of packed weight panels -*- C++
//-*-===//
//
// A weight the artifact takes `packed` (docs/Artifact.md) is laid out in
// panels of `panel` (NB) columns of N, optionally with `kGroup` (G)
// consecutive k side by side and N cut into `slices` (S) slices stored one
// after another. moe-pack-weights (codegen/cpu/PackWeights.cpp) types the
// packed argument with packedShape(); moert (runtime/moert/Packing.cpp)
// fills it with the element mapping below. For a weight [E, N, K] (a dense
// [N, K] is one expert, without the E dimension):
//
//   packed shape  [S?, E?, ceil(N / NB) / S, ceil(K / G), NB, G?]
//                 (S present when S > 1, G when G > 1)
//   element       W[e, n, k] is at slice s = p / (P / S), panel p % (P / S)
//                 of that slice, with p = n / NB, j = n % NB, q = k / G,
//                 r = k % G: packed[s, e, p % (P / S), q, j, r];
//   padding       every other element (n >= N or k >= K) is zero.
//
// Plain C++17 without dependencies: the compiler and the runtime both
// include it.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_ABI_PANELLAYOUT_H
#define MOEC_RUNTIME_ABI_PANELLAYOUT_H

#include <cstdint>
#include <string>
#include <vector>

namespace moe::abi {

struct PanelLayout {
  /// NB: columns of N per panel (the record's "panel").
  int64_t panel = 1;
  /// G: consecutive k side by side ("k_group", 1 when absent).
  int64_t kGroup = 1;
  /// S: slices of N stored one after another ("slices", 1 when absent).
  int64_t slices = 1;

  /// The ranges docs/Artifact.md gives.
  static constexpr int64_t kMaxPanel = int64_t(1) << 20;
  static constexpr int64_t kMaxKGroup = 16;
  static constexpr int64_t kMaxSlices = 64;

  static bool validPanel(int64_t nb) { return nb >= 1 && nb <= kMaxPanel; }
  static bool validKGroup(int64_t g) { return g >= 1 && g <= kMaxKGroup; }
  /// Slices in range whose product with the panel divides `n`.
  static bool validSlices(int64_t s, int64_t nb, int64_t n) {
    return s >= 1 && s <= kMaxSlices && validPanel(nb) && n % (s * nb) == 0;
  }

  /// "" when this layout applies to a weight of `weightShape` ([E, N, K] or
  /// [N, K], static, non-negative), else what is wrong.
  std::string validate(const std::vector<int64_t> &weightShape) const {
    if (weightShape.size() != 2 && weightShape.size() != 3)
      return "a packed weight must have rank 2 or 3";
    for (int64_t d : weightShape)
      if (d < 0)
        return "a packed weight must have a static shape";
    if (!validPanel(panel))
      return "the panel must be in [1, " + std::to_string(kMaxPanel) + "]";
    if (!validKGroup(kGroup))
      return "the k group must be in [1, " + std::to_string(kMaxKGroup) + "]";
    int64_t n = weightShape[weightShape.size() - 2];
    if (slices != 1 && !validSlices(slices, panel, n))
      return "the slices must be in [1, " + std::to_string(kMaxSlices) +
             "] and their product with the panel must divide " +
             std::to_string(n);
    return "";
  }

  /// The packed shape of a weight [E, N, K] or [N, K] (validate() first).
  std::vector<int64_t>
  packedShape(const std::vector<int64_t> &weightShape) const {
    size_t rank = weightShape.size();
    int64_t n = weightShape[rank - 2], k = weightShape[rank - 1];
    std::vector<int64_t> shape;
    if (slices > 1)
      shape.push_back(slices);
    if (rank == 3)
      shape.push_back(weightShape[0]);
    shape.push_back(ceilDiv(n, panel) / slices);
    shape.push_back(ceilDiv(k, kGroup));
    shape.push_back(panel);
    if (kGroup > 1)
      shape.push_back(kGroup);
    return shape;
  }

  /// The layout applied to one weight shape: where each element goes.
  struct Map {
    int64_t experts = 1, n = 0, k = 0;
    /// Panels per expert (ceil(N / NB)) and per slice of one expert.
    int64_t panels = 0, panelsPerSlice = 0;
    /// K rounded up to a multiple of the k group.
    int64_t kPadded = 0;
    int64_t panel = 1, kGroup = 1;

    /// Elements of one panel (kPadded * NB), zero padding included.
    int64_t panelElements() const { return kPadded * panel; }
    /// Elements of the packed weight.
    int64_t elements() const { return experts * panels * panelElements(); }
    /// Where panel p of expert e starts (in elements).
    int64_t panelOffset(int64_t e, int64_t p) const {
      int64_t s = p / panelsPerSlice;
      return ((s * experts + e) * panelsPerSlice + p % panelsPerSlice) *
             panelElements();
    }
    /// Where element (k, column j) of a panel is within it.
    int64_t inPanel(int64_t kk, int64_t j) const {
      return ((kk / kGroup) * panel + j) * kGroup + kk % kGroup;
    }
    /// The packed index of source element W[e, n, k] (e = 0 for [N, K]).
    int64_t index(int64_t e, int64_t nn, int64_t kk) const {
      return panelOffset(e, nn / panel) + inPanel(kk, nn % panel);
    }
    /// The source element at packed index `i`: false for zero padding.
    bool source(int64_t i, int64_t &e, int64_t &nn, int64_t &kk) const {
      int64_t slot = i / panelElements(), within = i % panelElements();
      int64_t inSlice = slot % panelsPerSlice, rest = slot / panelsPerSlice;
      e = rest % experts;
      int64_t s = rest / experts;
      int64_t r = within % kGroup, j = within / kGroup % panel,
              q = within / kGroup / panel;
      nn = (s * panelsPerSlice + inSlice) * panel + j;
      kk = q * kGroup + r;
      return nn < n && kk < k;
    }
  };

  /// The mapping for a weight of `weightShape` (validate() first).
  Map map(const std::vector<int64_t> &weightShape) const {
    size_t rank = weightShape.size();
    Map m;
    m.experts = rank == 3 ? weightShape[0] : 1;
    m.n = weightShape[rank - 2];
    m.k = weightShape[rank - 1];
    m.panel = panel;
    m.kGroup = kGroup;
    m.panels = ceilDiv(m.n, panel);
    m.panelsPerSlice = m.panels / slices;
    m.kPadded = ceilDiv(m.k, kGroup) * kGroup;
    return m;
  }

  static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
};

} // namespace moe::abi

#endif // MOEC_RUNTIME_ABI_PANELLAYOUT_H
