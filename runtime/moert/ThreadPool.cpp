//===- ThreadPool.cpp - the workers behind an entry point's loops ---------===//
#include "runtime/moert/ThreadPool.h"

#include <algorithm>

#include <sched.h>

using namespace moert;

ThreadPool::ThreadPool(int threads)
    : cursors_(static_cast<size_t>(std::max(threads, 1))) {
  try {
    for (int i = 1; i < threads; ++i)
      workers_.emplace_back([this, i] { workerLoop(i); });
  } catch (...) {
    // The system has no more threads (or memory for them): the ones that
    // started stop again, and the caller hears why.
    stopWorkers();
    throw;
  }
}

ThreadPool::~ThreadPool() { stopWorkers(); }

void ThreadPool::stopWorkers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (std::thread &t : workers_)
    t.join();
}

int ThreadPool::availableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0)
      return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

void ThreadPool::drain(int id) {
  // The own share first, then the others' in turn.
  int shares = static_cast<int>(cursors_.size());
  for (int s = 0; s < shares; ++s) {
    Cursor &c = cursors_[(id + s) % shares];
    for (;;) {
      int64_t i = c.next.fetch_add(1, std::memory_order_relaxed);
      if (i >= c.end)
        break;
      body_(ctx_, i, i + 1);
    }
  }
}

namespace {
/// Iterations of a pause loop before a waiter goes to sleep (tens of
/// microseconds).
constexpr int kSpins = 20000;

inline void pause() { __builtin_ia32_pause(); }
} // namespace

void ThreadPool::workerLoop(int id) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g = generation_.load(std::memory_order_acquire);
    for (int i = 0;
         g == seen && !stop_.load(std::memory_order_relaxed) && i < kSpins;
         ++i) {
      pause();
      g = generation_.load(std::memory_order_acquire);
    }
    if (g == seen && !stop_.load()) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] {
        return stop_.load() ||
               generation_.load(std::memory_order_acquire) != seen;
      });
      g = generation_.load(std::memory_order_acquire);
    }
    if (stop_.load())
      return;
    seen = g;
    drain(id);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_all();
    }
  }
}

void ThreadPool::parallelFor(ParallelBody body, void *ctx, int64_t n) {
  if (n <= 0)
    return;
  if (workers_.empty() || n == 1) {
    body(ctx, 0, n);
    return;
  }
  body_ = body;
  ctx_ = ctx;
  int64_t shares = static_cast<int64_t>(cursors_.size());
  for (int64_t s = 0; s < shares; ++s) {
    cursors_[s].next.store(n * s / shares, std::memory_order_relaxed);
    cursors_[s].end = n * (s + 1) / shares;
  }
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    // Under the lock, so that a worker about to sleep sees the new job.
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  drain(0);
  // Every worker takes part in every job, so once all have reported back
  // none still reads this job's state when the next one is set up.
  for (int i = 0; i < kSpins; ++i) {
    if (pending_.load(std::memory_order_acquire) == 0)
      return;
    pause();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock,
             [&] { return pending_.load(std::memory_order_acquire) == 0; });
}

ThreadPool *&moert::currentPool() {
  thread_local ThreadPool *pool = nullptr;
  return pool;
}

extern "C" void moert_parallel_for(ParallelBody body, void *ctx, int64_t n) {
  // Nested parallel loops, and calls from a worker, run inline.
  ThreadPool *pool = currentPool();
  if (!pool) {
    body(ctx, 0, n);
    return;
  }
  currentPool() = nullptr;
  pool->parallelFor(body, ctx, n);
  currentPool() = pool;
}
