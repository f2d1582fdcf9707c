//===- CudaDevice.h - an NVIDIA GPU through the CUDA driver -----*- C++ -*-===//
//
// A CUDA device (MOERT_DEVICE_CUDA) is one GPU the driver reports
// (CudaDriver.h), named cuda:N in the driver's order. Its buffers are
// device memory, allocated in the device's primary context (the one the
// CUDA runtime and Triton use too), and copies to and from the host go
// through the driver. It runs artifacts compiled for its architecture
// (moe-compile --target=cuda) on one stream per session (CudaLaunch.h).
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

  std::string supports(const TargetRequirements &target) const override;
  std::string supportsGraphs() const override;
  bool hostVisible() const override { return false; }
  moert_status_t allocate(size_t bytes, void *&out) override;
  void deallocate(void *ptr, size_t bytes) override;
  moert_status_t copyFromHost(void *device, const void *host,
                              size_t bytes) override;
  moert_status_t copyToHost(void *host, const void *device,
                            size_t bytes) override;
  std::unique_ptr<Queue> createQueue(moert_session_s &session) override;

  const cuda::Driver &driver() const { return driver_; }

  /// Makes the device's primary context current on this thread (retaining
  /// it on first use) for the scope's life.
  class Scope {
  public:
    explicit Scope(CudaDevice &device);
    ~Scope();
    Scope(const Scope &) = delete;
    Scope &operator=(const Scope &) = delete;
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

private:
  CudaDevice(const cuda::Driver &driver, cuda::CUdevice device);

  const cuda::Driver &driver_;
  cuda::CUdevice device_;
  /// Compute capability major.minor.
  int major_ = 0, minor_ = 0;
  std::mutex mutex_;
  cuda::CUcontext context_ = nullptr;
};

} // namespace moert

#endif // MOEC_RUNTIME_MOERT_CUDADEVICE_H
