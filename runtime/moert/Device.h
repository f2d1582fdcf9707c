//===- Device.h - where a session runs and its buffers live -----*- C++ -*-===//
//
// A device (moert_device_t) runs an artifact's code and holds buffers; a
// session runs on one device and queues its calls on a Queue of that
// device. The host CPU is device 0: its queue runs each call at once, on
// the caller's thread and the session's thread pool, and its buffers are
// host memory. NVIDIA GPUs follow it where the CUDA driver loads
// (CudaDevice.h): their buffers are device memory, and a session's calls
// run on a stream of its own (CudaLaunch.h, docs/Runtime.md).
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_MOERT_DEVICE_H
#define MOEC_RUNTIME_MOERT_DEVICE_H

#include "runtime/moert/moert.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct moert_session_s;

namespace moert {

/// What an artifact's code needs of a device: its metadata's "target"
/// (docs/Artifact.md).
struct TargetRequirements {
  /// From the triple: nvptx* is CUDA, anything else (or none) the CPU.
  moert_device_kind_t kind = MOERT_DEVICE_CPU;
  std::string triple, cpu;
  /// "required_features": the ISA extensions the code may use.
  std::vector<std::string> features;
};

/// The device kind a target triple needs.
moert_device_kind_t deviceKindOfTriple(const std::string &triple);

/// Runs a session's calls in the order they are launched.
class Queue {
public:
  virtual ~Queue() = default;
  /// Runs, or queues, entry(args) with args pointing at `descriptors` (the
  /// call's memref descriptors, which the queue keeps as long as it needs).
  virtual void launch(void (*entry)(void **),
                      std::vector<std::vector<int64_t>> descriptors) = 0;
  /// Waits for every launched call; the first failure since the last wait.
  virtual moert_status_t synchronize() = 0;
};

} // namespace moert

struct moert_device_s {
  moert_device_kind_t kind = MOERT_DEVICE_CPU;
  std::string name, description;

  virtual ~moert_device_s() = default;
  /// "" when code compiled for `target` runs here, else why not.
  virtual std::string supports(const moert::TargetRequirements &target) const;
  /// "" when sessions here can capture their calls as CUDA graphs, else
  /// why not.
  virtual std::string supportsGraphs() const {
    return "the session's device " + name + " is not a CUDA device";
  }
  /// Whether the host addresses this device's buffers directly.
  virtual bool hostVisible() const = 0;
  /// `bytes` of device memory aligned to 64 bytes into `out`; a status
  /// saying why not (MOERT_RESOURCE_EXHAUSTED when memory is short).
  virtual moert_status_t allocate(size_t bytes, void *&out) = 0;
  virtual void deallocate(void *ptr, size_t bytes) = 0;
  /// Copies between host memory and this device's memory, waiting until
  /// the copy is complete.
  virtual moert_status_t copyFromHost(void *device, const void *host,
                                      size_t bytes) = 0;
  virtual moert_status_t copyToHost(void *host, const void *device,
                                    size_t bytes) = 0;
  /// The queue of a new session on this device.
  virtual std::unique_ptr<moert::Queue>
  createQueue(moert_session_s &session) = 0;
};

struct moert_buffer_s {
  std::atomic<int> refs{1};
  moert_device_s *device = nullptr;
  /// The buffer's address on its device (the host's for a host-visible one).
  void *address = nullptr;
  size_t size = 0;
};

namespace moert {

/// The host CPU: runs x86-64 artifacts whose ISA extensions it has.
class CpuDevice final : public moert_device_s {
public:
  CpuDevice();
  /// The process's CPU device, moert_device_get(0).
  static CpuDevice &host();
  /// Whether this CPU has ISA extension `feature` (LLVM's name, e.g.
  /// "avx512f"); false for a name it does not know.
  static bool hasFeature(const std::string &feature);
  /// "" when this CPU has every extension in `features`; else a message
  /// naming the first it lacks and `cpu`, the CPU compiled for.
  static std::string checkFeatures(const std::vector<std::string> &features,
                                   const std::string &cpu);

  std::string supports(const TargetRequirements &target) const override;
  bool hostVisible() const override { return true; }
  moert_status_t allocate(size_t bytes, void *&out) override;
  void deallocate(void *ptr, size_t bytes) override;
  moert_status_t copyFromHost(void *device, const void *host,
                              size_t bytes) override;
  moert_status_t copyToHost(void *host, const void *device,
                            size_t bytes) override;
  std::unique_ptr<Queue> createQueue(moert_session_s &session) override;
};

/// Every device of this process, the host CPU first, then the CUDA devices
/// in the driver's order; listed once, on first use.
const std::vector<moert_device_s *> &allDevices();

} // namespace moert

#endif // MOEC_RUNTIME_MOERT_DEVICE_H
