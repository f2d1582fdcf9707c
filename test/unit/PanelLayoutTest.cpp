//===- PanelLayoutTest.cpp - the one definition of weight panels ----------===//
//
// runtime/abi/PanelLayout.h: the ranges, the packed shape of each
// combination as docs/Artifact.md gives it, and the element mapping, which
// moert's packing follows.
//
//===----------------------------------------------------------------------===//
#include "runtime/abi/PanelLayout.h"
#include "runtime/moert/Packing.h"
#include "test/unit/Check.h"

using moe::abi::PanelLayout;
using Shape = std::vector<int64_t>;

TEST(panelLayoutRanges) {
  CHECK(PanelLayout::validPanel(1) && PanelLayout::validPanel(1 << 20));
  CHECK(!PanelLayout::validPanel(0) && !PanelLayout::validPanel((1 << 20) + 1));
  CHECK(PanelLayout::validKGroup(1) && PanelLayout::validKGroup(16));
  CHECK(!PanelLayout::validKGroup(0) && !PanelLayout::validKGroup(17));
  CHECK(PanelLayout::validSlices(4, 16, 64) &&
        PanelLayout::validSlices(1, 3, 6));
  CHECK(!PanelLayout::validSlices(4, 16, 96)); // 64 does not divide 96
  CHECK(!PanelLayout::validSlices(0, 1, 8) &&
        !PanelLayout::validSlices(65, 1, 65));
  CHECK_EQ((PanelLayout{64, 1, 1}.validate({8, 96, 64})), std::string());
  CHECK_EQ((PanelLayout{64, 1, 1}.validate({96, 64})), std::string());
  CHECK_CONTAINS((PanelLayout{64, 1, 1}.validate({96})), "rank 2 or 3");
  CHECK_CONTAINS((PanelLayout{64, 1, 1}.validate({2, 8, 96, 64})),
                 "rank 2 or 3");
  CHECK_CONTAINS((PanelLayout{0, 1, 1}.validate({96, 64})), "panel");
  CHECK_CONTAINS((PanelLayout{8, 17, 1}.validate({96, 64})), "k group");
  CHECK_CONTAINS((PanelLayout{64, 1, 2}.validate({96, 64})), "divide 96");
  CHECK_CONTAINS((PanelLayout{8, 1, 1}.validate({-1, 64})), "static");
}

TEST(panelLayoutPackedShapes) {
  // docs/Artifact.md, "packed", for [E, N, K] = [3, 40, 7] and [N, K]:
  // [E, ceil(N / NB), K, NB]; with G, [E, ceil(N / NB), ceil(K / G), NB, G];
  // with S, [S, E, N / (S NB), K, NB]; with both, [S, E, N / (S NB),
  // ceil(K / G), NB, G]; [N, K] the same without E.
  CHECK((PanelLayout{16, 1, 1}.packedShape({3, 40, 7}) == Shape{3, 3, 7, 16}));
  CHECK(
      (PanelLayout{16, 2, 1}.packedShape({3, 40, 7}) == Shape{3, 3, 4, 16, 2}));
  CHECK((PanelLayout{4, 1, 5}.packedShape({3, 40, 7}) == Shape{5, 3, 2, 7, 4}));
  CHECK((PanelLayout{4, 2, 5}.packedShape({3, 40, 7}) ==
         Shape{5, 3, 2, 4, 4, 2}));
  CHECK((PanelLayout{16, 1, 1}.packedShape({40, 7}) == Shape{3, 7, 16}));
  CHECK((PanelLayout{16, 2, 1}.packedShape({40, 7}) == Shape{3, 4, 16, 2}));
  CHECK((PanelLayout{4, 1, 5}.packedShape({40, 7}) == Shape{5, 2, 7, 4}));
  CHECK((PanelLayout{4, 2, 5}.packedShape({40, 7}) == Shape{5, 2, 4, 4, 2}));
  // moert's packedShape is this one.
  CHECK((moert::packedShape({3, 40, 7}, 4, 2, 5) == Shape{5, 3, 2, 4, 4, 2}));
}

TEST(panelLayoutMapsElements) {
  // [E, N, K] = [2, 6, 3] in panels of 2, pairs of k and 3 slices:
  // packed [3, 2, 1, 2, 2, 2], W[e, n, k] at [s, e, p, q, j, r] with
  // n = s * 2 + p * 2 + j (p = 0 here), k = q * 2 + r; k = 3 is padding.
  PanelLayout layout{2, 2, 3};
  Shape weight = {2, 6, 3};
  CHECK_EQ(layout.validate(weight), std::string());
  Shape packed = layout.packedShape(weight);
  CHECK((packed == Shape{3, 2, 1, 2, 2, 2}));
  PanelLayout::Map m = layout.map(weight);
  CHECK_EQ(m.elements(), int64_t(3 * 2 * 1 * 2 * 2 * 2));
  auto docIndex = [&](int64_t s, int64_t e, int64_t p, int64_t q, int64_t j,
                      int64_t r) {
    return ((((s * 2 + e) * 1 + p) * 2 + q) * 2 + j) * 2 + r;
  };
  for (int64_t e = 0; e < 2; ++e)
    for (int64_t n = 0; n < 6; ++n)
      for (int64_t k = 0; k < 3; ++k)
        CHECK_EQ(m.index(e, n, k), docIndex(n / 2, e, 0, k / 2, n % 2, k % 2));
  // Spot values: W[1, 5, 2] is at [2, 1, 0, 1, 1, 0].
  CHECK_EQ(m.index(1, 5, 2), docIndex(2, 1, 0, 1, 1, 0));
  // Every packed index maps back: to its source, or to padding.
  int64_t sources = 0, padding = 0;
  for (int64_t i = 0; i < m.elements(); ++i) {
    int64_t e, n, k;
    if (m.source(i, e, n, k)) {
      ++sources;
      CHECK_EQ(m.index(e, n, k), i);
    } else {
      ++padding;
      CHECK(n >= 6 || k >= 3);
    }
  }
  CHECK_EQ(sources, int64_t(2 * 6 * 3));
  CHECK_EQ(padding, m.elements() - sources);

  // N past the last panel pads too: [N, K] = [5, 2] in panels of 4.
  PanelLayout::Map dense = PanelLayout{4, 1, 1}.map({5, 2});
  int64_t e, n, k;
  CHECK(dense.source(dense.index(0, 4, 1), e, n, k) && n == 4 && k == 1);
  CHECK(!dense.source(dense.index(0, 4, 1) + 1, e, n, k) && n == 5);
}

TEST(packingFollowsThePanelLayout) {
  // moert's packing puts W[e, n, k] where the layout says and zeros
  // elsewhere, for each combination of k group and slices.
  Shape weight = {3, 24, 5};
  std::vector<float> w(3 * 24 * 5);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = 1.0f + static_cast<float>(i);
  for (int64_t group : {1, 2})
    for (int64_t slices : {1, 3}) {
      PanelLayout layout{4, group, slices};
      PanelLayout::Map m = layout.map(weight);
      std::vector<float> out(m.elements(), -1.0f);
      moert::packPanels(w.data(), out.data(), weight, 4, group, sizeof(float),
                        nullptr, slices);
      bool ok = true;
      for (int64_t i = 0; i < m.elements(); ++i) {
        int64_t e, n, k;
        float want = m.source(i, e, n, k) ? w[(e * 24 + n) * 5 + k] : 0.0f;
        ok &= out[i] == want;
      }
      CHECK(ok);
    }
}
