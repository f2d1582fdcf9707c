//===- CudaDriver.h - the CUDA driver API, loaded at run time ---*- C++ -*-===//
//
// moert runs on machines without a GPU or a CUDA driver, so it does not
// link libcuda: the driver API is opened with dlopen the first time a
// device is asked for, and its absence is a reason, not an error. Only the
// calls moert makes are declared here, by their versioned names in the
// driver (cuMemAlloc_v2, ...), with the driver's own types as the plain
// integers and handles they are; no CUDA header is needed to build.
//
// The library is $MOERT_CUDA_DRIVER when that is set (a driver installed
// elsewhere, or a test's stand-in), else libcuda.so.1 (docs/Runtime.md).
// libmoert_nccl compiles this too, for its device memory and stream.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_MOERT_CUDADRIVER_H
#define MOEC_RUNTIME_MOERT_CUDADRIVER_H

#include <cstddef>
#include <string>

namespace moert::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;

/// CUresult values moert tells apart.
constexpr CUresult kSuccess = 0;
constexpr CUresult kOutOfMemory = 2;
constexpr CUresult kNoBinaryForGpu = 209;
/// cuStreamCreate flags: no implicit synchronization with stream 0.
constexpr unsigned kStreamNonBlocking = 1;
/// CUstreamCaptureMode: calls that are not captured (allocations, module
/// loads) stay allowed on any thread while a stream captures.
constexpr int kCaptureModeRelaxed = 2;
/// cuStreamQuery's answer while work is pending.
constexpr CUresult kNotReady = 600;
/// CU_POINTER_ATTRIBUTE_MEMORY_TYPE, and the CUmemorytype values of memory
/// on a device.
constexpr int kPointerMemoryType = 2;
constexpr unsigned kMemoryTypeDevice = 2;
constexpr unsigned kMemoryTypeUnified = 4;
/// CUdevice_attribute values moert reads.
constexpr int kComputeCapabilityMajor = 75;
constexpr int kComputeCapabilityMinor = 76;

struct Driver {
  std::string path;
  int version = 0; // cuDriverGetVersion: 1000 * major + 10 * minor

  CUresult (*init)(unsigned flags) = nullptr;
  CUresult (*driverGetVersion)(int *version) = nullptr;
  CUresult (*deviceGetCount)(int *count) = nullptr;
  CUresult (*deviceGet)(CUdevice *device, int ordinal) = nullptr;
  CUresult (*deviceGetName)(char *name, int length, CUdevice device) = nullptr;
  CUresult (*deviceGetAttribute)(int *value, int attribute,
                                 CUdevice device) = nullptr;
  CUresult (*deviceTotalMem)(size_t *bytes, CUdevice device) = nullptr;
  CUresult (*primaryCtxRetain)(CUcontext *context, CUdevice device) = nullptr;
  CUresult (*ctxPushCurrent)(CUcontext context) = nullptr;
  CUresult (*ctxPopCurrent)(CUcontext *context) = nullptr;
  CUresult (*memAlloc)(CUdeviceptr *ptr, size_t bytes) = nullptr;
  CUresult (*memFree)(CUdeviceptr ptr) = nullptr;
  CUresult (*memcpyHtoD)(CUdeviceptr dst, const void *src,
                         size_t bytes) = nullptr;
  CUresult (*memcpyDtoH)(void *dst, CUdeviceptr src, size_t bytes) = nullptr;
  CUresult (*memcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes,
                              CUstream stream) = nullptr;
  CUresult (*memsetD8)(CUdeviceptr dst, unsigned char value,
                       size_t bytes) = nullptr;
  CUresult (*pointerGetAttribute)(void *data, int attribute,
                                  CUdeviceptr ptr) = nullptr;
  CUresult (*memcpyAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                          CUstream stream) = nullptr;
  CUresult (*moduleLoadData)(CUmodule *module, const void *image) = nullptr;
  CUresult (*moduleUnload)(CUmodule module) = nullptr;
  CUresult (*moduleGetFunction)(CUfunction *function, CUmodule module,
                                const char *name) = nullptr;
  CUresult (*launchKernel)(CUfunction function, unsigned gridX, unsigned gridY,
                           unsigned gridZ, unsigned blockX, unsigned blockY,
                           unsigned blockZ, unsigned sharedBytes,
                           CUstream stream, void **params,
                           void **extra) = nullptr;
  CUresult (*streamCreate)(CUstream *stream, unsigned flags) = nullptr;
  CUresult (*streamSynchronize)(CUstream stream) = nullptr;
  CUresult (*streamQuery)(CUstream stream) = nullptr;
  CUresult (*streamDestroy)(CUstream stream) = nullptr;
  /// CUDA graphs (driver 11.4 and later); null when the driver lacks any
  /// of them, which only sessions that ask for graphs need.
  CUresult (*streamBeginCapture)(CUstream stream, int mode) = nullptr;
  CUresult (*streamEndCapture)(CUstream stream, CUgraph *graph) = nullptr;
  CUresult (*graphInstantiate)(CUgraphExec *exec, CUgraph graph,
                               unsigned long long flags) = nullptr;
  CUresult (*graphLaunch)(CUgraphExec exec, CUstream stream) = nullptr;
  CUresult (*graphExecDestroy)(CUgraphExec exec) = nullptr;
  CUresult (*graphDestroy)(CUgraph graph) = nullptr;
  /// "" when the graph calls are there, else the first one missing.
  std::string missingGraphCall;
  CUresult (*getErrorName)(CUresult error, const char **name) = nullptr;
  CUresult (*getErrorString)(CUresult error, const char **text) = nullptr;

  /// "CALL: NAME: TEXT" for a failed call, as the driver names and
  /// describes the error ("cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY: out of
  /// memory").
  std::string error(const char *call, CUresult result) const;
};

/// The driver, opened and initialized (cuInit) once per process; null when
/// it cannot be, with `why` saying what is missing: the library, one of its
/// entry points, or a working cuInit (with the driver's message).
const Driver *driver(std::string &why);

} // namespace moert::cuda

#endif // MOEC_RUNTIME_MOERT_CUDADRIVER_H
