//===- Device.cpp - the device list, the CPU device, buffers --------------===//
#include "runtime/moert/Device.h"
#include "runtime/moert/CudaDevice.h"
#include "runtime/moert/Internal.h"

#include <cstdlib>
#include <cstring>

using namespace moert;

moert_device_kind_t moert::deviceKindOfTriple(const std::string &triple) {
  return triple.rfind("nvptx", 0) == 0 ? MOERT_DEVICE_CUDA : MOERT_DEVICE_CPU;
}

std::string moert_device_s::supports(const TargetRequirements &target) const {
  if (target.kind != kind)
    return std::string("compiled for a ") +
           moert_device_kind_name(target.kind) + " device" +
           (target.triple.empty() ? std::string()
                                  : " ('" + target.triple + "')") +
           ", not for " + name;
  return "";
}

namespace {

/// The ISA extensions artifacts may require, by LLVM's names, that this
/// CPU is asked about (__builtin_cpu_supports takes literals only).
#define MOERT_CPU_FEATURES(X)                                                  \
  X("sse4.2")                                                                  \
  X("avx")                                                                     \
  X("avx2")                                                                    \
  X("fma")                                                                     \
  X("f16c")                                                                    \
  X("avx512f")                                                                 \
  X("avx512bw")                                                                \
  X("avx512dq")                                                                \
  X("avx512vl")                                                                \
  X("avx512vnni")                                                              \
  X("avx512bf16")                                                              \
  X("avx512fp16")                                                              \
  X("amx-tile")                                                                \
  X("amx-bf16")

/// Runs each call at once on the caller's thread, with the session's pool
/// taking the parallel loops and its scratch cache the scratch buffers; a
/// scratch buffer the call cannot get ends it (session.scratchFailure).
class CpuQueue final : public Queue {
public:
  explicit CpuQueue(moert_session_s &session) : session_(session) {}
  void launch(void (*entry)(void **),
              std::vector<std::vector<int64_t>> descriptors) override {
    std::vector<void *> args;
    for (std::vector<int64_t> &d : descriptors)
      args.push_back(d.data());
    ThreadPool *previous = currentPool();
    ScratchCache *previousScratch = currentScratch();
    currentPool() = session_.pool.get();
    currentScratch() = session_.scratch.get();
    uint64_t failed = 0;
    session_.scratchFailure =
        runUnwindingOnScratchFailure(entry, args.data(), failed) ? 0 : failed;
    currentPool() = previous;
    currentScratch() = previousScratch;
  }
  moert_status_t synchronize() override { return nullptr; }

private:
  moert_session_s &session_;
};

} // namespace

CpuDevice::CpuDevice() {
  kind = MOERT_DEVICE_CPU;
  name = "cpu:0";
  std::string features;
#define MOERT_LIST(f)                                                          \
  if (hasFeature(f))                                                           \
    features += std::string(features.empty() ? "" : " ") + f;
  MOERT_CPU_FEATURES(MOERT_LIST)
#undef MOERT_LIST
  description =
      "host CPU, " + std::to_string(ThreadPool::availableCores()) +
      " cores available; " +
      (features.empty() ? std::string("none of the ISA extensions moert checks")
                        : features);
}

CpuDevice &CpuDevice::host() {
  static CpuDevice device;
  return device;
}

bool CpuDevice::hasFeature(const std::string &f) {
  __builtin_cpu_init();
#define MOERT_FEATURE(name)                                                    \
  if (f == name)                                                               \
    return __builtin_cpu_supports(name);
  MOERT_CPU_FEATURES(MOERT_FEATURE)
#undef MOERT_FEATURE
  return false;
}

std::string CpuDevice::checkFeatures(const std::vector<std::string> &features,
                                     const std::string &cpu) {
  for (const std::string &f : features)
    if (!hasFeature(f))
      return "compiled for CPU '" + (cpu.empty() ? std::string("?") : cpu) +
             "' using " + f +
             ", which this CPU lacks; recompile with --cpu=native on this "
             "machine or --cpu=x86-64";
  return "";
}

std::string CpuDevice::supports(const TargetRequirements &target) const {
  if (std::string err = moert_device_s::supports(target); !err.empty())
    return err;
  return checkFeatures(target.features, target.cpu);
}

moert_status_t CpuDevice::allocate(size_t bytes, void *&out) {
  // aligned_alloc wants a multiple of the alignment (and something to give).
  size_t rounded = (bytes + 63) / 64 * 64;
  out = rounded < bytes ? nullptr
                        : std::aligned_alloc(64, rounded ? rounded : 64);
  if (!out)
    return makeStatus(MOERT_RESOURCE_EXHAUSTED,
                      "out of memory for a buffer of " + std::to_string(bytes) +
                          " bytes on " + name);
  return nullptr;
}

void CpuDevice::deallocate(void *ptr, size_t) { std::free(ptr); }

moert_status_t CpuDevice::copyFromHost(void *device, const void *host,
                                       size_t bytes) {
  std::memcpy(device, host, bytes);
  return nullptr;
}

moert_status_t CpuDevice::copyToHost(void *host, const void *device,
                                     size_t bytes) {
  std::memcpy(host, device, bytes);
  return nullptr;
}

std::unique_ptr<Queue> CpuDevice::createQueue(moert_session_s &session) {
  return std::make_unique<CpuQueue>(session);
}

namespace {
struct DeviceList {
  std::vector<moert_device_s *> all;
  std::string whyNoCuda;
};

// The devices live as long as the process: the list is never destroyed
// (a static object would be, at exit, before calls from other static
// destructors or leak checkers that still see the devices it points to).
const DeviceList &deviceList() {
  static const DeviceList *list = [] {
    auto *l = new DeviceList();
    l->all.push_back(&CpuDevice::host());
    l->whyNoCuda = CudaDevice::enumerate(l->all);
    return l;
  }();
  return *list;
}

/// "cpu:0, cuda:0" and why there is no CUDA device, if there is none.
std::string deviceSummary() {
  std::string names;
  for (moert_device_s *d : deviceList().all)
    names += (names.empty() ? "" : ", ") + d->name;
  const std::string &why = deviceList().whyNoCuda;
  return names + (why.empty() ? std::string() : "; " + why);
}
} // namespace

const std::vector<moert_device_s *> &moert::allDevices() {
  return deviceList().all;
}

extern "C" {

const char *moert_device_kind_name(moert_device_kind_t kind) {
  switch (kind) {
  case MOERT_DEVICE_CPU:
    return "cpu";
  case MOERT_DEVICE_CUDA:
    return "cuda";
  }
  return "unknown";
}

int32_t moert_device_count(void) {
  // Listing the devices allocates once; without memory for it there are
  // none to hand out (moert_device_get says so with a status).
  try {
    return static_cast<int32_t>(allDevices().size());
  } catch (...) {
    return 0;
  }
}

moert_status_t moert_device_get(int32_t index, moert_device_t **out_device) {
  return moert::guardEntry("moert_device_get", [&]() -> moert_status_t {
    if (!out_device)
      return makeStatus(MOERT_INVALID_ARGUMENT, "out_device is null");
    *out_device = nullptr;
    if (index < 0 || index >= moert_device_count())
      return makeStatus(MOERT_NOT_FOUND, "no device " + std::to_string(index) +
                                             " (devices: " + deviceSummary() +
                                             ")");
    *out_device = allDevices()[index];
    return nullptr;
  });
}

moert_status_t moert_device_find(const char *name,
                                 moert_device_t **out_device) {
  return moert::guardEntry("moert_device_find", [&]() -> moert_status_t {
    if (!name || !out_device)
      return makeStatus(MOERT_INVALID_ARGUMENT, "name or out_device is null");
    *out_device = nullptr;
    std::string n = name;
    size_t colon = n.find(':');
    std::string kind = n.substr(0, colon);
    std::string index = colon == std::string::npos ? "0" : n.substr(colon + 1);
    bool numeric = !index.empty() && index.size() < 10 &&
                   index.find_first_not_of("0123456789") == std::string::npos;
    if ((kind != "cpu" && kind != "cuda") || !numeric)
      return makeStatus(
          MOERT_INVALID_ARGUMENT,
          "unknown device '" + n +
              "' (devices are named KIND or KIND:INDEX, e.g. cpu, "
              "cuda or cuda:1)");
    moert_device_kind_t k =
        kind == "cuda" ? MOERT_DEVICE_CUDA : MOERT_DEVICE_CPU;
    // Devices of one kind are numbered from 0 in the order of
    // moert_device_get.
    int32_t i = std::stoi(index), seen = 0;
    for (moert_device_s *d : allDevices())
      if (d->kind == k && seen++ == i) {
        *out_device = d;
        return nullptr;
      }
    return makeStatus(MOERT_NOT_FOUND, "no device '" + n + "' (devices: " +
                                           deviceSummary() + ")");
  });
}

moert_device_kind_t moert_device_kind(const moert_device_t *device) {
  return device ? device->kind : MOERT_DEVICE_CPU;
}

const char *moert_device_name(const moert_device_t *device) {
  return device ? device->name.c_str() : "";
}

const char *moert_device_description(const moert_device_t *device) {
  return device ? device->description.c_str() : "";
}

moert_status_t moert_device_supports(const moert_device_t *device,
                                     const moert_artifact_t *artifact) {
  return moert::guardEntry("moert_device_supports", [&]() -> moert_status_t {
    if (!device || !artifact)
      return makeStatus(MOERT_INVALID_ARGUMENT, "device or artifact is null");
    if (std::string err = device->supports(artifact->target); !err.empty())
      return makeStatus(MOERT_UNSUPPORTED, artifact->path + ": cannot run on " +
                                               device->name + ": " + err);
    return nullptr;
  });
}

moert_status_t moert_buffer_alloc(moert_device_t *device, uint64_t bytes,
                                  moert_buffer_t **out_buffer) {
  return moert::guardEntry("moert_buffer_alloc", [&]() -> moert_status_t {
    if (!out_buffer)
      return makeStatus(MOERT_INVALID_ARGUMENT, "out_buffer is null");
    *out_buffer = nullptr;
    if (!device)
      device = &CpuDevice::host();
    if (bytes > SIZE_MAX)
      return makeStatus(MOERT_INVALID_ARGUMENT, "buffer of " +
                                                    std::to_string(bytes) +
                                                    " bytes is too large");
    void *address = nullptr;
    if (moert_status_t st =
            device->allocate(static_cast<size_t>(bytes), address))
      return st;
    auto *buffer = new moert_buffer_s();
    buffer->device = device;
    buffer->address = address;
    buffer->size = static_cast<size_t>(bytes);
    *out_buffer = buffer;
    return nullptr;
  });
}

void moert_buffer_retain(moert_buffer_t *buffer) {
  if (buffer)
    ++buffer->refs;
}

void moert_buffer_release(moert_buffer_t *buffer) {
  if (!buffer || --buffer->refs > 0)
    return;
  buffer->device->deallocate(buffer->address, buffer->size);
  delete buffer;
}

void *moert_buffer_data(moert_buffer_t *buffer) {
  return buffer && buffer->device->hostVisible() ? buffer->address : nullptr;
}

uint64_t moert_buffer_size(const moert_buffer_t *buffer) {
  return buffer ? buffer->size : 0;
}

moert_device_t *moert_buffer_device(const moert_buffer_t *buffer) {
  return buffer ? buffer->device : nullptr;
}

namespace {
/// Checks a copy of `bytes` at `offset` of `buffer` from or to `host`.
moert_status_t checkCopy(const char *call, const moert_buffer_t *buffer,
                         uint64_t offset, const void *host, uint64_t bytes) {
  if (!buffer || (!host && bytes))
    return makeStatus(MOERT_INVALID_ARGUMENT,
                      std::string(call) + ": buffer or host memory is null");
  if (offset > buffer->size || bytes > buffer->size - offset)
    return makeStatus(
        MOERT_INVALID_ARGUMENT,
        std::string(call) + ": " + std::to_string(bytes) + " bytes at offset " +
            std::to_string(offset) + " do not fit in a buffer of " +
            std::to_string(buffer->size) + " bytes on " + buffer->device->name);
  return nullptr;
}
} // namespace

moert_status_t moert_buffer_write(moert_buffer_t *buffer, uint64_t offset,
                                  const void *src, uint64_t bytes) {
  return moert::guardEntry("moert_buffer_write", [&]() -> moert_status_t {
    if (moert_status_t st =
            checkCopy("moert_buffer_write", buffer, offset, src, bytes))
      return st;
    if (!bytes)
      return nullptr;
    return buffer->device->copyFromHost(static_cast<char *>(buffer->address) +
                                            offset,
                                        src, static_cast<size_t>(bytes));
  });
}

moert_status_t moert_buffer_read(const moert_buffer_t *buffer, uint64_t offset,
                                 void *dst, uint64_t bytes) {
  return moert::guardEntry("moert_buffer_read", [&]() -> moert_status_t {
    if (moert_status_t st =
            checkCopy("moert_buffer_read", buffer, offset, dst, bytes))
      return st;
    if (!bytes)
      return nullptr;
    return buffer->device->copyToHost(
        dst, static_cast<const char *>(buffer->address) + offset,
        static_cast<size_t>(bytes));
  });
}

} // extern "C"
