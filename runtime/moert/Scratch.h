//===- Scratch.h - the session scratch allocator generated code uses -----===//
//
// Generated code allocates its scratch buffers on every call (through the
// artifact's moec_alloc / moec_free slots). A session keeps the buffers a
// call frees and hands them to its next calls, so a layer's buffers of
// tens of MiB are not mapped, page-faulted and zeroed by the kernel on each
// call as they are when malloc takes them from mmap. A session retains at
// most what its largest call had live at once; the memory goes back when
// the session is released.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_MOERT_SCRATCH_H
#define MOEC_RUNTIME_MOERT_SCRATCH_H

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>

namespace moert {

class ScratchCache {
public:
  ScratchCache() = default;
  ScratchCache(const ScratchCache &) = delete;
  ScratchCache &operator=(const ScratchCache &) = delete;
  ~ScratchCache();

  /// A 64-byte aligned buffer of at least `size` bytes, null on failure.
  void *allocate(size_t size);
  /// Keeps `block` (from allocate) for a later call, or frees it when
  /// there is no memory to keep it; never throws.
  void recycle(void *block, size_t capacity) noexcept;

  /// Bytes held for reuse now.
  size_t retainedBytes();

private:
  std::mutex mutex_;
  std::multimap<size_t, void *> free_; // capacity -> block start
  size_t retained_ = 0;
};

/// The cache of the session running on this thread (null: plain malloc).
ScratchCache *&currentScratch();

/// Runs the entry point `entry(args)` of a CPU call on this thread such that
/// a scratch allocation the call's own code makes here (not in a parallel
/// loop body) and cannot get ends the call instead of handing it null: the
/// allocator jumps back here, the scratch buffers the call held go back to
/// the cache, and the result is false with `failedBytes` the size asked
/// for. The generated code between has no destructors to skip; allocations
/// in parallel loop bodies (none today) still get null.
bool runUnwindingOnScratchFailure(void (*entry)(void **), void **args,
                                  uint64_t &failedBytes);

} // namespace moert

/// Called by generated code (stored into the artifact's moec_alloc and
/// moec_free slots at load). Buffers from moert_scratch_alloc carry a
/// header naming their cache, so they may be freed on any thread.
extern "C" void *moert_scratch_alloc(int64_t size);
extern "C" void moert_scratch_free(void *ptr);

#endif // MOEC_RUNTIME_MOERT_SCRATCH_H
