//===- Scratch.cpp - the session scratch allocator generated code uses ---===//
#include "runtime/moert/Scratch.h"

#include <cstdlib>
#include <new>

using namespace moert;

namespace {

/// Precedes every buffer moert_scratch_alloc returns; 64 bytes keep the
/// buffer 64-byte aligned.
struct alignas(64) Header {
  uint64_t magic;
  size_t capacity;     // usable bytes after the header
  ScratchCache *owner; // null: plain allocation, freed with free()
};
constexpr uint64_t kMagic = 0x6d6f65632d736372ull; // "moec-scr"

void *newBlock(size_t capacity, ScratchCache *owner) {
  size_t total = sizeof(Header) + ((capacity + 63) / 64) * 64;
  void *base = std::aligned_alloc(64, total);
  if (!base)
    return nullptr;
  auto *h = new (base) Header{kMagic, total - sizeof(Header), owner};
  return h + 1;
}

} // namespace

ScratchCache::~ScratchCache() {
  for (auto &[capacity, block] : free_)
    std::free(static_cast<Header *>(block) - 1);
}

void *ScratchCache::allocate(size_t size) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // The smallest kept block that fits, unless it would waste over half.
    auto it = free_.lower_bound(size);
    if (it != free_.end() && it->first / 2 <= size) {
      void *block = it->second;
      retained_ -= it->first;
      free_.erase(it);
      return block;
    }
  }
  return newBlock(size, this);
}

void ScratchCache::recycle(void *block, size_t capacity) noexcept {
  // Called from generated code, through which nothing may throw: without
  // memory to remember the block, it goes back to the system.
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.emplace(capacity, block);
    retained_ += capacity;
  } catch (...) {
    std::free(static_cast<Header *>(block) - 1);
  }
}

size_t ScratchCache::retainedBytes() {
  std::lock_guard<std::mutex> lock(mutex_);
  return retained_;
}

ScratchCache *&moert::currentScratch() {
  thread_local ScratchCache *cache = nullptr;
  return cache;
}

extern "C" void *moert_scratch_alloc(int64_t size) {
  if (size < 0)
    return nullptr;
  if (ScratchCache *cache = currentScratch())
    return cache->allocate(static_cast<size_t>(size));
  return newBlock(static_cast<size_t>(size), nullptr);
}

extern "C" void moert_scratch_free(void *ptr) {
  if (!ptr)
    return;
  Header *h = static_cast<Header *>(ptr) - 1;
  if (h->magic != kMagic)
    std::abort(); // not a scratch buffer: memory corruption
  if (h->owner)
    h->owner->recycle(ptr, h->capacity);
  else
    std::free(h);
}
