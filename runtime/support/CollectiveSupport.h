//===- CollectiveSupport.h - what the collectives engines share -*- C++ -*-===//
//
// libmoert_mpi and libmoert_nccl fill moert_collectives_t over different
// transports but report and wait alike: messages go into the caller's
// buffer, "rank R of N: " first when they are about a rank, and every
// operation is polled until it completes or its time-out passes. Header
// only: each engine is a shared library of its own.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_SUPPORT_COLLECTIVESUPPORT_H
#define MOEC_RUNTIME_SUPPORT_COLLECTIVESUPPORT_H

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <sched.h>

namespace moert::collectives {

/// `prefix` then the formatted message into `error` (at most `errorSize`
/// bytes, NUL-terminated; nothing when `error` is null).
inline void vformatAt(char *error, uint64_t errorSize, const char *prefix,
                      const char *format, va_list args) {
  if (!error || errorSize == 0)
    return;
  int used = std::snprintf(error, errorSize, "%s", prefix);
  if (used < 0 || static_cast<uint64_t>(used) >= errorSize)
    return;
  std::vsnprintf(error + used, errorSize - used, format, args);
}

/// A message about no rank in particular; returns 1 (failure).
[[gnu::format(printf, 3, 4)]] inline int fail(char *error, uint64_t errorSize,
                                              const char *format, ...) {
  va_list args;
  va_start(args, format);
  vformatAt(error, errorSize, "", format, args);
  va_end(args);
  return 1;
}

/// A message about this rank, "rank R of N: ..."; returns 1 (failure).
[[gnu::format(printf, 5, 6)]] inline int failOn(int rank, int size, char *error,
                                                uint64_t errorSize,
                                                const char *format, ...) {
  char prefix[64];
  std::snprintf(prefix, sizeof prefix, "rank %d of %d: ", rank, size);
  va_list args;
  va_start(args, format);
  vformatAt(error, errorSize, prefix, format, args);
  va_end(args);
  return 1;
}

/// What a rank says when its peers do not complete an operation in time.
constexpr const char *kNotTakingPart =
    "a rank failed or is not taking part (different inputs, plans or code)";

/// The pace of polling an operation until its deadline. It spins first (an
/// exchange between ranks of one node often completes within a few
/// microseconds, and sleeping at once would add a scheduler tick to each),
/// then yields for the first milliseconds (Open MPI moves a large message
/// in fragments, each only when a poll drives it: a sleep after each made
/// an 8 MiB exchange take 17 ms instead of 3), then sleeps 100 us between
/// polls, leaving the cores to the other ranks when they outnumber them.
class Poll {
public:
  explicit Poll(double timeoutSeconds)
      : start_(Clock::now()),
        // Capped at 30 years, so that the clock's ticks cannot overflow.
        deadline_(start_ + after(std::min(timeoutSeconds, 1e9))),
        stopYielding_(start_ + after(kYieldingSeconds)) {}

  /// Whether the deadline has passed; else waits a little (see above).
  bool expiredElseWait() {
    auto now = Clock::now();
    if (now >= deadline_)
      return true;
    if (spins_ < kSpinsBeforeYielding) {
      ++spins_;
    } else if (now < stopYielding_) {
      sched_yield();
    } else {
      timespec pause{0, kSleepNanoseconds};
      nanosleep(&pause, nullptr);
    }
    return false;
  }

private:
  using Clock = std::chrono::steady_clock;
  static constexpr int kSpinsBeforeYielding = 1000;
  static constexpr double kYieldingSeconds = 0.02;
  static constexpr long kSleepNanoseconds = 100 * 1000;
  static Clock::duration after(double seconds) {
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(seconds));
  }
  Clock::time_point start_, deadline_, stopYielding_;
  int spins_ = 0;
};

} // namespace moert::collectives

#endif // MOEC_RUNTIME_SUPPORT_COLLECTIVESUPPORT_H
