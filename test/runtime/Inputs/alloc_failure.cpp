// Every allocation moert makes through operator new fails in turn: the
// N-th allocation of a whole use of the C API (load an artifact, list the
// devices, create a session, bind its weights, run it, release it) throws
// std::bad_alloc (or returns null, for the nothrow forms), for N = 0, 1, 2,
// ... until the use needs fewer than N allocations. Each call must come back
// with a status (MOERT_RESOURCE_EXHAUSTED for a failed allocation) and the
// process must keep running; the last use, with nothing failing, must give
// the output of a use before any failure.
// Usage: alloc_failure ARTIFACT WEIGHTS
#include <moert.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

namespace {
long countdown = -1; // allocations until one fails; -1: none fails
long allocations = 0;

bool failNow() {
  ++allocations;
  if (countdown < 0)
    return false;
  return countdown-- == 0;
}

void *allocate(std::size_t size, std::size_t align) {
  if (size == 0)
    size = 1;
  if (align <= alignof(std::max_align_t))
    return std::malloc(size);
  return std::aligned_alloc(align, (size + align - 1) / align * align);
}
} // namespace

void *operator new(std::size_t size) {
  void *p = failNow() ? nullptr : allocate(size, 0);
  if (!p)
    throw std::bad_alloc();
  return p;
}
void *operator new[](std::size_t size) { return operator new(size); }
void *operator new(std::size_t size, std::align_val_t align) {
  void *p =
      failNow() ? nullptr : allocate(size, static_cast<std::size_t>(align));
  if (!p)
    throw std::bad_alloc();
  return p;
}
void *operator new[](std::size_t size, std::align_val_t align) {
  return operator new(size, align);
}
void *operator new(std::size_t size, const std::nothrow_t &) noexcept {
  return failNow() ? nullptr : allocate(size, 0);
}
void *operator new[](std::size_t size, const std::nothrow_t &) noexcept {
  return failNow() ? nullptr : allocate(size, 0);
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t) noexcept { std::free(p); }
void operator delete(void *p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void *p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void *p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void *p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace {
enum { kTokens = 7, kWidth = 64 };

struct Outcome {
  bool ok = false;           // every call succeeded
  bool onlyExhausted = true; // every failure was RESOURCE_EXHAUSTED
  const char *failedAt = "";
  std::vector<float> output;
};

/// Whether `st` is OK; a failure's code is recorded in `o` (the message of
/// one that is not RESOURCE_EXHAUSTED is printed) and the status freed.
bool check(moert_status_t st, const char *call, Outcome &o) {
  if (!st)
    return true;
  if (moert_status_code(st) != MOERT_RESOURCE_EXHAUSTED) {
    o.onlyExhausted = false;
    std::printf("  %s: code %d: %s\n", call, (int)moert_status_code(st),
                moert_status_message(st));
  }
  o.failedAt = call;
  moert_status_free(st);
  return false;
}

/// One use of the API, the `failAt`-th allocation inside it failing (-1:
/// none). Sets `injected` when that allocation happened.
Outcome use(const char *artifactPath, const char *weightsPath, long failAt,
            bool &injected) {
  Outcome o;
  // The test's own memory first, outside the armed window.
  o.output.assign(kTokens * kWidth, 0.0f);
  std::vector<float> x(kTokens * kWidth), y(kTokens * kWidth, 0.0f);
  for (int i = 0; i < kTokens * kWidth; ++i)
    x[i] = static_cast<float>((i * 37 % 101) - 50) / 50.0f;
  int64_t shape[2] = {kTokens, kWidth};
  moert_tensor_t in = {MOERT_F32, 2, shape, x.data()};
  moert_tensor_t out = {MOERT_F32, 2, shape, y.data()};
  countdown = failAt;
  moert_artifact_t *artifact = nullptr;
  moert_session_t *session = nullptr;
  moert_device_t *device = nullptr;
  if (check(moert_artifact_load(artifactPath, &artifact), "artifact_load", o) &&
      check(moert_device_find("cpu", &device), "device_find", o) &&
      check(moert_session_create(artifact, nullptr, &session), "session_create",
            o) &&
      check(moert_session_bind_weights_file(session, weightsPath, nullptr),
            "bind_weights_file", o)) {
    const char *fn = moert_artifact_function_name(artifact, 0);
    o.ok = check(moert_session_run(session, fn, &in, 1, &out, 1), "session_run",
                 o);
  }
  moert_session_release(session);
  moert_artifact_release(artifact);
  injected = failAt >= 0 && countdown < 0;
  countdown = -1;
  if (o.ok)
    std::copy(y.begin(), y.end(), o.output.begin());
  return o;
}
} // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: alloc_failure ARTIFACT WEIGHTS\n");
    return 2;
  }
  bool injected = false;
  Outcome clean = use(argv[1], argv[2], -1, injected);
  if (!clean.ok) {
    std::printf("a use without failures failed at %s\n", clean.failedAt);
    return 1;
  }
  long failures = 0, wrong = 0;
  bool allExhausted = true;
  for (long n = 0;; ++n) {
    Outcome o = use(argv[1], argv[2], n, injected);
    allExhausted = allExhausted && o.onlyExhausted;
    if (!injected) {
      wrong += !o.ok || o.output != clean.output;
      std::printf("a use needs %ld allocations; each failed in turn: %ld "
                  "calls failed with a status, all RESOURCE_EXHAUSTED: %s; "
                  "then the output equals the first use's: %s\n",
                  n, failures, allExhausted ? "yes" : "no",
                  wrong ? "no" : "yes");
      break;
    }
    failures += !o.ok;
    // A failed allocation that a call absorbed (a fallback) may still run.
    if (o.ok)
      wrong += o.output != clean.output;
  }
  return allExhausted && !wrong ? 0 : 1;
}
