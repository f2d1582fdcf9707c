//===- Scratch.cpp - the session scratch allocator generated code uses ---===//
#include "runtime/moert/Scratch.h"

#include "runtime/moert/ThreadPool.h"

#include <csetjmp>
#include <cstdlib>
#include <new>
#include <vector>

using namespace moert;

namespace {

struct CallState;

/// Precedes every buffer moert_scratch_alloc returns; 64 bytes keep the
/// buffer 64-byte aligned.
struct alignas(64) Header {
  uint64_t magic;
  size_t capacity;     // usable bytes after the header
  ScratchCache *owner; // null: plain allocation, freed with free()
  CallState *call;     // the call that holds it, while it runs
};

/// A call run by runUnwindingOnScratchFailure: where to jump back to, and
/// the buffers it holds (guarded, since a buffer may be freed on another
/// thread).
struct CallState {
  sigjmp_buf env;
  ThreadPool *pool = nullptr;
  std::mutex mutex;
  std::vector<void *> live;
  uint64_t failed = 0;
};

thread_local CallState *currentCall = nullptr;

void forget(Header *h) {
  CallState *call = h->call;
  if (!call)
    return;
  std::lock_guard<std::mutex> lock(call->mutex);
  for (void *&p : call->live)
    if (p == h + 1) {
      p = call->live.back();
      call->live.pop_back();
      break;
    }
  h->call = nullptr;
}
constexpr uint64_t kMagic = 0x6d6f65632d736372ull; // "moec-scr"

void *newBlock(size_t capacity, ScratchCache *owner) {
  size_t total = sizeof(Header) + ((capacity + 63) / 64) * 64;
  void *base = std::aligned_alloc(64, total);
  if (!base)
    return nullptr;
  auto *h = new (base) Header{kMagic, total - sizeof(Header), owner, nullptr};
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

bool moert::runUnwindingOnScratchFailure(void (*entry)(void **), void **args,
                                         uint64_t &failedBytes) {
  CallState state;
  state.pool = currentPool();
  // Room for a call's buffers, so that recording one does not allocate.
  state.live.reserve(256);
  CallState *previous = currentCall;
  currentCall = &state;
  if (sigsetjmp(state.env, 0) == 0) {
    entry(args);
    currentCall = previous;
    // Buffers the call did not free (none today) outlive it.
    std::lock_guard<std::mutex> lock(state.mutex);
    for (void *p : state.live)
      (static_cast<Header *>(p) - 1)->call = nullptr;
    return true;
  }
  // Back from moert_scratch_alloc: the call ends here.
  currentCall = previous;
  std::vector<void *> held;
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    held.swap(state.live);
  }
  for (void *p : held) {
    (static_cast<Header *>(p) - 1)->call = nullptr;
    moert_scratch_free(p);
  }
  failedBytes = state.failed;
  return false;
}

extern "C" void *moert_scratch_alloc(int64_t size) {
  if (size < 0)
    return nullptr;
  ScratchCache *cache = currentScratch();
  void *p = cache ? cache->allocate(static_cast<size_t>(size))
                  : newBlock(static_cast<size_t>(size), nullptr);
  CallState *call = currentCall;
  // Only the call's own code, on its thread and outside parallel loops
  // (where the pool is set aside), may be unwound.
  if (!call || currentPool() != call->pool)
    return p;
  if (p) {
    std::lock_guard<std::mutex> lock(call->mutex);
    if (call->live.size() < call->live.capacity()) {
      call->live.push_back(p);
      (static_cast<Header *>(p) - 1)->call = call;
    }
    return p;
  }
  call->failed = static_cast<uint64_t>(size);
  siglongjmp(call->env, 1);
}

extern "C" void moert_scratch_free(void *ptr) {
  if (!ptr)
    return;
  Header *h = static_cast<Header *>(ptr) - 1;
  if (h->magic != kMagic)
    std::abort(); // not a scratch buffer: memory corruption
  forget(h);
  if (h->owner)
    h->owner->recycle(ptr, h->capacity);
  else
    std::free(h);
}
