//===- Packing.h - weights packed into panels at binding --------*- C++ -*-===//
//
// An artifact argument marked `packed` (docs/Artifact.md) takes a weight
// [E, N, K] (or [N, K]) as panels of NB columns, with an optional k group
// and slices of N. The layout (the packed shape, where each element goes,
// the zero padding, the valid ranges) has one definition, shared with the
// compiler's moe-pack-weights: runtime/abi/PanelLayout.h. moert packs a
// bound weight once, the first time a function reads it.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_MOERT_PACKING_H
#define MOEC_RUNTIME_MOERT_PACKING_H

#include "runtime/abi/Int8PanelLayout.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace moert {

class ThreadPool;

/// Memory for packed weights: anonymous pages, as transparent huge pages
/// where the system allows them (packing 2 GB then faults in a thousand
/// pages instead of half a million, and the kernels that stream it miss
/// the TLB less).
class PackedBuffer {
public:
  /// Null data() when the memory cannot be had.
  explicit PackedBuffer(size_t bytes);
  ~PackedBuffer();
  PackedBuffer(const PackedBuffer &) = delete;
  PackedBuffer &operator=(const PackedBuffer &) = delete;
  void *data() const { return data_; }
  size_t size() const { return size_; }

private:
  void *data_ = nullptr;
  size_t size_ = 0;
};

/// The packed shape of a weight of shape [E, N, K] or [N, K] in panels of
/// `panel` columns, groups of `group` k and `slices` slices of N
/// (moe::abi::PanelLayout::packedShape).
std::vector<int64_t> packedShape(const std::vector<int64_t> &shape,
                                 int64_t panel, int64_t group = 1,
                                 int64_t slices = 1);

/// Where the weight to pack lies: one row-major matrix per group (expert)
/// of a weight [E, N, K] (one for [N, K]), each [N, K], or [K, N] when
/// `transposed`. Stacked checkpoint tensors are packed from where they
/// lie, without a stacked copy.
struct PackSource {
  std::vector<const void *> groups;
  bool transposed = false;
  /// The matrices of one buffer holding the weight of `shape` (as [E, N, K]
  /// or [N, K]; each matrix [K, N] when `transposed`).
  static PackSource contiguous(const void *data,
                               const std::vector<int64_t> &shape,
                               size_t eltBytes, bool transposed = false);
};

/// Packs `src` (row-major [E, N, K] or [N, K], elements of `eltBytes`)
/// into `dst` (packedShape), on `pool`'s threads when given. With
/// `slices` > 1, slices · panel must divide N.
void packPanels(const void *src, void *dst, const std::vector<int64_t> &shape,
                int64_t panel, int64_t group, size_t eltBytes, ThreadPool *pool,
                int64_t slices = 1);
/// The same from `src`'s matrices.
void packPanels(const PackSource &src, void *dst,
                const std::vector<int64_t> &shape, int64_t panel, int64_t group,
                size_t eltBytes, ThreadPool *pool, int64_t slices = 1);

/// Packs the block-quantized weight at `src` (row-major [E, N, K] or
/// [N, K] of stored blocks) into `dst` in int8 panels of `layout`
/// (Int8PanelLayout::packedShape of `shape`), on `pool`'s threads when
/// given.
void packInt8Panels(const void *src, void *dst,
                    const std::vector<int64_t> &shape,
                    const moe::abi::Int8PanelLayout &layout, ThreadPool *pool);

} // namespace moert

#endif // MOEC_RUNTIME_MOERT_PACKING_H
