//===- Packing.cpp - weights packed into panels at binding ----------------===//
#include "runtime/moert/Packing.h"
#include "runtime/abi/PanelLayout.h"
#include "runtime/moert/ThreadPool.h"

#include <algorithm>
#include <cassert>

#include <sys/mman.h>

using namespace moert;

std::vector<int64_t> moert::packedShape(const std::vector<int64_t> &shape,
                                        int64_t panel, int64_t group,
                                        int64_t slices) {
  return moe::abi::PanelLayout{panel, std::max<int64_t>(group, 1),
                               std::max<int64_t>(slices, 1)}
      .packedShape(shape);
}

PackedBuffer::PackedBuffer(size_t bytes) {
  if (bytes == 0)
    return;
  void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return;
  madvise(p, bytes, MADV_HUGEPAGE); // a hint; fine to be refused
  data_ = p;
  size_ = bytes;
}

PackedBuffer::~PackedBuffer() {
  if (data_)
    munmap(data_, size_);
}

namespace {

struct Job {
  const PackSource *src;
  unsigned char *dst;
  /// Where each element goes (runtime/abi/PanelLayout.h).
  moe::abi::PanelLayout::Map map;
  size_t elt;
};

/// Panel `item` (expert item / panels, panel item % panels), elements of
/// type T (a same-size unsigned integer: the bits are copied).
template <typename T>
void packOne(const Job &job, int64_t item) {
  const moe::abi::PanelLayout::Map &m = job.map;
  int64_t e = item / m.panels, p = item % m.panels;
  int64_t cols = std::min(m.panel, m.n - p * m.panel);
  const T *w = reinterpret_cast<const T *>(job.src->groups[e]);
  T *out = reinterpret_cast<T *>(job.dst) + m.panelOffset(e, p);
  if (cols < m.panel || m.kPadded != m.k)
    std::fill(out, out + m.panelElements(), T());
  auto at = [&](int64_t kk, int64_t j) -> T & { return out[m.inPanel(kk, j)]; };
  if (job.src->transposed) {
    // [K, N]: each k's panel columns are one contiguous run.
    const T *col0 = w + p * m.panel;
    for (int64_t kk = 0; kk < m.k; ++kk)
      for (int64_t j = 0; j < cols; ++j)
        at(kk, j) = col0[kk * m.n + j];
    return;
  }
  // [N, K]: blocks of k keep the panel's source rows and destination in
  // cache.
  const T *rows = w + p * m.panel * m.k;
  constexpr int64_t kBlock = 64;
  for (int64_t k0 = 0; k0 < m.k; k0 += kBlock) {
    int64_t k1 = std::min(m.k, k0 + kBlock);
    for (int64_t j = 0; j < cols; ++j)
      for (int64_t kk = k0; kk < k1; ++kk)
        at(kk, j) = rows[j * m.k + kk];
  }
}

void packRange(void *ctx, int64_t begin, int64_t end) {
  const Job &job = *static_cast<const Job *>(ctx);
  for (int64_t i = begin; i < end; ++i) {
    if (job.elt == 4)
      packOne<uint32_t>(job, i);
    else if (job.elt == 2)
      packOne<uint16_t>(job, i);
    else
      packOne<uint8_t>(job, i);
  }
}

} // namespace

PackSource PackSource::contiguous(const void *data,
                                  const std::vector<int64_t> &shape,
                                  size_t eltBytes, bool transposed) {
  int64_t groups = shape.size() == 3 ? shape[0] : 1;
  size_t matrixBytes = static_cast<size_t>(shape[shape.size() - 2]) *
                       static_cast<size_t>(shape.back()) * eltBytes;
  PackSource source;
  source.transposed = transposed;
  for (int64_t e = 0; e < groups; ++e)
    source.groups.push_back(static_cast<const unsigned char *>(data) +
                            e * matrixBytes);
  return source;
}

void moert::packPanels(const void *src, void *dst,
                       const std::vector<int64_t> &shape, int64_t panel,
                       int64_t group, size_t eltBytes, ThreadPool *pool,
                       int64_t slices) {
  packPanels(PackSource::contiguous(src, shape, eltBytes), dst, shape, panel,
             group, eltBytes, pool, slices);
}

void moert::packPanels(const PackSource &src, void *dst,
                       const std::vector<int64_t> &shape, int64_t panel,
                       int64_t group, size_t eltBytes, ThreadPool *pool,
                       int64_t slices) {
  // [N, K] is one group of [E, N, K].
  moe::abi::PanelLayout layout{panel, std::max<int64_t>(group, 1),
                               std::max<int64_t>(slices, 1)};
  assert(layout.validate(shape).empty() && "a valid panel layout");
  Job job{&src, static_cast<unsigned char *>(dst), layout.map(shape), eltBytes};
  assert(static_cast<int64_t>(src.groups.size()) == job.map.experts &&
         "one source matrix per group");
  int64_t items = job.map.experts * job.map.panels;
  if (pool)
    pool->parallelFor(packRange, &job, items);
  else
    packRange(&job, 0, items);
}

namespace {
struct Int8Job {
  const unsigned char *src;
  unsigned char *dst;
  moe::abi::Int8PanelLayout layout;
  int64_t n, k, panels, panelsPerItem, items;
};

void packInt8Range(void *ctx, int64_t begin, int64_t end) {
  const auto &job = *static_cast<const Int8Job *>(ctx);
  int64_t rowBytes = job.layout.rowBytes(job.k);
  int64_t matrix = job.layout.matrixBytes(job.n, job.k);
  for (int64_t item = begin; item < end; ++item) {
    int64_t e = item / job.items, p0 = item % job.items * job.panelsPerItem;
    job.layout.packPanels(job.src + e * job.n * rowBytes, job.n, job.k, p0,
                          std::min(p0 + job.panelsPerItem, job.panels),
                          job.dst + e * matrix);
  }
}
} // namespace

void moert::packInt8Panels(const void *src, void *dst,
                           const std::vector<int64_t> &shape,
                           const moe::abi::Int8PanelLayout &layout,
                           ThreadPool *pool) {
  assert(layout.validate(shape).empty() && "a valid int8 panel layout");
  int64_t experts = shape.size() == 3 ? shape[0] : 1;
  int64_t n = shape[shape.size() - 2], k = shape.back();
  int64_t panels = (n + moe::abi::Int8PanelLayout::kPanel - 1) /
                   moe::abi::Int8PanelLayout::kPanel;
  // Items of 8 panels: enough to balance a dense weight over the threads.
  int64_t perItem = 8;
  Int8Job job{static_cast<const unsigned char *>(src),
              static_cast<unsigned char *>(dst),
              layout,
              n,
              k,
              panels,
              perItem,
              (panels + perItem - 1) / perItem};
  if (pool)
    pool->parallelFor(packInt8Range, &job, experts * job.items);
  else
    packInt8Range(&job, 0, experts * job.items);
}
