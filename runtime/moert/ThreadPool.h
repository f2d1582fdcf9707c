//===- ThreadPool.h - the workers behind an entry point's loops -*- C++ -*-===//
//
// Generated code hands each parallel loop to moec_parallel_for (ABI in
// docs/Runtime.md): `body(ctx, begin, end)` over [0, n). The pool runs it on
// its workers plus the calling thread, handing out iterations one at a time
// from a shared counter, so uneven iterations (experts with different token
// counts) balance themselves.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_MOERT_THREADPOOL_H
#define MOEC_RUNTIME_MOERT_THREADPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace moert {

using ParallelBody = void (*)(void *ctx, int64_t begin, int64_t end);

class ThreadPool {
public:
  /// `threads` counts the caller: threads - 1 workers are started.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  /// Runs body over [0, n) and returns when every iteration is done.
  void parallelFor(ParallelBody body, void *ctx, int64_t n);

  /// The number of cores this process may run on.
  static int availableCores();

private:
  void workerLoop();
  void drain();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  // A job is announced by bumping the generation; workers and the caller
  // spin briefly before sleeping, since a sleep/wake round trip costs more
  // than many of the generated loops.
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> pending_{0}; // workers yet to finish the current job
  // The current job.
  ParallelBody body_ = nullptr;
  void *ctx_ = nullptr;
  int64_t n_ = 0;
  std::atomic<int64_t> next_{0};
};

/// The pool of the session running on this thread (null: run inline).
ThreadPool *&currentPool();

} // namespace moert

/// Called by generated code (its address is stored into the artifact's
/// moec_parallel_for slot at load).
extern "C" void moert_parallel_for(moert::ParallelBody body, void *ctx,
                                   int64_t n);

#endif // MOEC_RUNTIME_MOERT_THREADPOOL_H
