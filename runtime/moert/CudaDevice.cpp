//===- CudaDevice.cpp - an NVIDIA GPU through the CUDA driver -------------===//
#include "runtime/moert/CudaDevice.h"
#include "runtime/moert/CudaLaunch.h"
#include "runtime/moert/Internal.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

using namespace moert;
using namespace moert::cuda;

CudaDevice::Scope::Scope(CudaDevice &device) : device_(device) {
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

CudaDevice::Scope::~Scope() {
  CUcontext popped;
  if (pushed_)
    device_.driver_.ctxPopCurrent(&popped);
  moert_status_free(error_);
}

CudaDevice::CudaDevice(const Driver &driver, CUdevice device)
    : driver_(driver), device_(device) {
  kind = MOERT_DEVICE_CUDA;
}

std::string CudaDevice::enumerate(std::vector<moert_device_s *> &devices) {
  std::string why;
  const Driver *d = cuda::driver(why);
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
    device->major_ = major;
    device->minor_ = minor;
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

std::string CudaDevice::supportsGraphs() const {
  if (driver_.missingGraphCall.empty())
    return "";
  return "the CUDA driver " + driver_.path + " lacks " +
         driver_.missingGraphCall +
         " (CUDA graphs need a driver of CUDA 11.4 or later)";
}

std::string CudaDevice::supports(const TargetRequirements &target) const {
  if (std::string err = moert_device_s::supports(target); !err.empty())
    return err;
  // "sm_XY" cubins run on compute capability X.Y up to X.9; "sm_XYa" and
  // "sm_XYf" ones only on X.Y.
  const std::string &chip = target.cpu;
  size_t digits = 0;
  while (3 + digits < chip.size() &&
         std::isdigit(static_cast<unsigned char>(chip[3 + digits])))
    ++digits;
  std::string suffix = chip.substr(std::min(chip.size(), 3 + digits));
  if (chip.compare(0, 3, "sm_") != 0 || digits < 2 || digits > 3 ||
      (suffix != "" && suffix != "a" && suffix != "f"))
    return "compiled for an unknown GPU architecture '" + chip + "'";
  int sm = std::stoi(chip.substr(3, digits));
  int wantMajor = sm / 10, wantMinor = sm % 10;
  bool exact = !suffix.empty();
  if (major_ == wantMajor &&
      (exact ? minor_ == wantMinor : minor_ >= wantMinor))
    return "";
  std::string have = std::to_string(major_) + "." + std::to_string(minor_);
  std::string want =
      std::to_string(wantMajor) + "." + std::to_string(wantMinor);
  return "compiled for " + chip + ", whose cubins run on compute capability " +
         want + (exact ? " only" : " to " + std::to_string(wantMajor) + ".9") +
         "; " + name + " has compute capability " + have +
         " (compile with --gpu-chip=sm_" + std::to_string(major_) +
         std::to_string(minor_) + ")";
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

std::unique_ptr<Queue> CudaDevice::createQueue(moert_session_s &session) {
  return createCudaQueue(session, *this);
}
