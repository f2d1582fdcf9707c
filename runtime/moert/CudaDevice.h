//===- CudaDevice.h - an NVIDIA GPU through the CUDA driver -----*- C++ -*-===//
//
// A CUDA device (MOERT_DEVICE_CUDA) is one GPU the driver reports
// (CudaDriver.h), named cuda:N in the driver's order. Its buffers are
// device memory, allocated in the device's primary context (the one the
// CUDA runtime and Triton use too), and copies to and from the host go
// through the driver. It runs no artifact yet: moe-compile generates CPU
// code only, so a session on it is refused by the target check.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_MOERT_CUDADEVICE_H
#define MOEC_RUNTIME_MOERT_CUDADEVICE_H

#include "runtime/moert/CudaDriver.h"
#include "runtime/moert/Device.h"

#include <mutex>

namespace moert {

class CudaDevice final : public moert_device_s {
public:
  /// Appends the CUDA devices the driver reports to `devices`; returns why
  /// there are none ("" when there are some): no driver, a driver that
  /// does not start, or no device.
  static std::string enumerate(std::vector<moert_device_s *> &devices);

  bool hostVisible() const override { return false; }
  moert_status_t allocate(size_t bytes, void *&out) override;
  void deallocate(void *ptr, size_t bytes) override;
  moert_status_t copyFromHost(void *device, const void *host,
                              size_t bytes) override;
  moert_status_t copyToHost(void *host, const void *device,
                            size_t bytes) override;
  std::unique_ptr<Queue> createQueue(moert_session_s &) override {
    return nullptr;
  }

private:
  CudaDevice(const cuda::Driver &driver, cuda::CUdevice device);
  /// Makes the primary context current on this thread (retaining it on
  /// first use) and pops it when done.
  class Scope;

  const cuda::Driver &driver_;
  cuda::CUdevice device_;
  std::mutex mutex_;
  cuda::CUcontext context_ = nullptr;
};

} // namespace moert

#endif // MOEC_RUNTIME_MOERT_CUDADEVICE_H
