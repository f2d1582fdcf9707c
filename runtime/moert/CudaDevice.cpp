//===- CudaDevice.cpp - an NVIDIA GPU through the CUDA driver -------------===//
#include "runtime/moert/CudaDevice.h"
#include "runtime/moert/Internal.h"

#include <cstdio>

using namespace moert;
using namespace moert::cuda;

class CudaDevice::Scope {
public:
  explicit Scope(CudaDevice &device) : device_(device) {
    std::lock_guard<std::mutex> lock(device.mutex_);
    const Driver &d = device.driver_;
    if (!device.context_)
      if (CUresult r = d.primaryCtxRetain(&device.context_, device.device_);
          r != kSuccess) {
        device.context_ = nullptr;
        error_ = makeStatus(MOERT_INTERNAL,
                            device.name + ": " +
                                d.error("cuDevicePrimaryCtxRetain", r));
        return;
      }
    if (CUresult r = d.ctxPushCurrent(device.context_); r != kSuccess) {
      error_ = makeStatus(MOERT_INTERNAL,
                          device.name + ": " + d.error("cuCtxPushCurrent", r));
      return;
    }
    pushed_ = true;
  }
  ~Scope() {
    CUcontext popped;
    if (pushed_)
      device_.driver_.ctxPopCurrent(&popped);
  }
  /// Why the context could not be made current; null when it is. The
  /// caller takes the status.
  moert_status_t take() {
    moert_status_t e = error_;
    error_ = nullptr;
    return e;
  }

private:
  CudaDevice &device_;
  bool pushed_ = false;
  moert_status_t error_ = nullptr;
};

CudaDevice::CudaDevice(const Driver &driver, CUdevice device)
    : driver_(driver), device_(device) {
  kind = MOERT_DEVICE_CUDA;
}

std::string CudaDevice::enumerate(std::vector<moert_device_s *> &devices) {
  std::string why;
  const Driver *d = driver(why);
  if (!d)
    return why;
  int count = 0;
  if (CUresult r = d->deviceGetCount(&count); r != kSuccess)
    return "the CUDA driver " + d->path + ": " +
           d->error("cuDeviceGetCount", r);
  if (count <= 0)
    return "the CUDA driver " + d->path + " reports no device";
  for (int i = 0; i < count; ++i) {
    CUdevice dev = 0;
    char name[256] = {0};
    int major = 0, minor = 0;
    size_t bytes = 0;
    if (CUresult r = d->deviceGet(&dev, i); r != kSuccess)
      return "the CUDA driver " + d->path + ": " + d->error("cuDeviceGet", r);
    if (d->deviceGetName(name, sizeof(name) - 1, dev) != kSuccess)
      std::snprintf(name, sizeof(name), "CUDA device %d", i);
    d->deviceGetAttribute(&major, kComputeCapabilityMajor, dev);
    d->deviceGetAttribute(&minor, kComputeCapabilityMinor, dev);
    d->deviceTotalMem(&bytes, dev);
    // Objects of the process's lifetime, like the CPU device.
    auto *device = new CudaDevice(*d, dev);
    device->name = "cuda:" + std::to_string(i);
    char text[512];
    std::snprintf(text, sizeof(text),
                  "%s, compute capability %d.%d, %.1f GiB, CUDA driver %d.%d",
                  name, major, minor, bytes / double(1ull << 30),
                  d->version / 1000, d->version % 1000 / 10);
    device->description = text;
    devices.push_back(device);
  }
  return "";
}

moert_status_t CudaDevice::allocate(size_t bytes, void *&out) {
  out = nullptr;
  Scope scope(*this);
  if (moert_status_t st = scope.take())
    return st;
  // cuMemAlloc aligns to at least 256 bytes; it refuses 0.
  CUdeviceptr ptr = 0;
  if (CUresult r = driver_.memAlloc(&ptr, bytes ? bytes : 1); r != kSuccess)
    return makeStatus(
        r == kOutOfMemory ? MOERT_RESOURCE_EXHAUSTED : MOERT_INTERNAL,
        "cannot allocate a buffer of " + std::to_string(bytes) + " bytes on " +
            name + ": " + driver_.error("cuMemAlloc", r));
  out = reinterpret_cast<void *>(static_cast<uintptr_t>(ptr));
  return nullptr;
}

void CudaDevice::deallocate(void *ptr, size_t) {
  Scope scope(*this);
  if (moert_status_t st = scope.take()) {
    moert_status_free(st);
    return;
  }
  driver_.memFree(static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(ptr)));
}

moert_status_t CudaDevice::copyFromHost(void *device, const void *host,
                                        size_t bytes) {
  Scope scope(*this);
  if (moert_status_t st = scope.take())
    return st;
  auto dst = static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(device));
  if (CUresult r = driver_.memcpyHtoD(dst, host, bytes); r != kSuccess)
    return makeStatus(MOERT_INTERNAL, "copy of " + std::to_string(bytes) +
                                          " bytes to " + name + ": " +
                                          driver_.error("cuMemcpyHtoD", r));
  return nullptr;
}

moert_status_t CudaDevice::copyToHost(void *host, const void *device,
                                      size_t bytes) {
  Scope scope(*this);
  if (moert_status_t st = scope.take())
    return st;
  auto src = static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(device));
  if (CUresult r = driver_.memcpyDtoH(host, src, bytes); r != kSuccess)
    return makeStatus(MOERT_INTERNAL, "copy of " + std::to_string(bytes) +
                                          " bytes from " + name + ": " +
                                          driver_.error("cuMemcpyDtoH", r));
  return nullptr;
}
