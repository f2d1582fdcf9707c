//===- ThreadPool.h - the workers behind an entry point's loops -*- C++ -*-===//
//
// Generated code hands each parallel loop to moec_parallel_for (ABI in
// docs/Runtime.md): `body(ctx, begin, end)` over [0, n). The pool runs it on
// its workers plus the calling thread. Each thread owns a contiguous share
// of [0, n) and takes its iterations in order, one at a time, so it walks
// memory forward (the GEMM kernel prefetches the weights of the next
// iteration); a thread done with its share takes iterations from the others'
// shares, so uneven iterations (experts with different token counts)
// balance themselves.
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
  /// `threads` counts the caller: threads - 1 workers are started. Throws
  /// std::system_error when the system cannot start them all (none is left
  /// running).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  /// Runs body over [0, n) and returns when every iteration is done.
  void parallelFor(ParallelBody body, void *ctx, int64_t n);

  /// The number of cores this process may run on.
  static int availableCores();

private:
  void stopWorkers();
  void workerLoop(int id);
  void drain(int id);

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
  /// The next iteration of each thread's share (the caller's is 0), and
  /// where the share ends; cursors on separate cache lines.
  struct alignas(64) Cursor {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };
  std::vector<Cursor> cursors_;
};

/// The pool of the session running on this thread (null: run inline).
ThreadPool *&currentPool();

} // namespace moert

/// Called by generated code (its address is stored into the artifact's
/// moec_parallel_for slot at load).
extern "C" void moert_parallel_for(moert::ParallelBody body, void *ctx,
                                   int64_t n);

#endif // MOEC_RUNTIME_MOERT_THREADPOOL_H
