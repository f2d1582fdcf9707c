//===- CudaDriver.cpp - the CUDA driver API, loaded at run time -----------===//
#include "runtime/moert/CudaDriver.h"

#include <cstdlib>
#include <dlfcn.h>
#include <mutex>
#include <type_traits>

using namespace moert::cuda;

std::string Driver::error(const char *call, CUresult result) const {
  const char *name = nullptr, *text = nullptr;
  if (getErrorName(result, &name) != kSuccess || !name)
    name = nullptr;
  if (getErrorString(result, &text) != kSuccess || !text)
    text = nullptr;
  std::string out = std::string(call) + ": ";
  out += name ? std::string(name) : "CUDA error " + std::to_string(result);
  if (text)
    out += std::string(": ") + text;
  return out;
}

namespace {

/// Opens the driver and resolves every entry point, or says why not.
std::string open(Driver &d) {
  const char *env = std::getenv("MOERT_CUDA_DRIVER");
  d.path = env && *env ? env : "libcuda.so.1";
  void *handle = dlopen(d.path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = dlerror();
    return "no CUDA driver: cannot load " + d.path + " (" +
           (why ? why : "unknown error") + ")";
  }
  // The library stays open for the life of the process: device memory and
  // contexts outlive any one session.
  std::string missing;
  auto resolve = [&](auto &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
        dlsym(handle, name));
    if (!fn && missing.empty())
      missing = name;
  };
  resolve(d.init, "cuInit");
  resolve(d.driverGetVersion, "cuDriverGetVersion");
  resolve(d.deviceGetCount, "cuDeviceGetCount");
  resolve(d.deviceGet, "cuDeviceGet");
  resolve(d.deviceGetName, "cuDeviceGetName");
  resolve(d.deviceGetAttribute, "cuDeviceGetAttribute");
  resolve(d.deviceTotalMem, "cuDeviceTotalMem_v2");
  resolve(d.primaryCtxRetain, "cuDevicePrimaryCtxRetain");
  resolve(d.ctxPushCurrent, "cuCtxPushCurrent_v2");
  resolve(d.ctxPopCurrent, "cuCtxPopCurrent_v2");
  resolve(d.memAlloc, "cuMemAlloc_v2");
  resolve(d.memFree, "cuMemFree_v2");
  resolve(d.memcpyHtoD, "cuMemcpyHtoD_v2");
  resolve(d.memcpyDtoH, "cuMemcpyDtoH_v2");
  resolve(d.memcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
  resolve(d.memsetD8, "cuMemsetD8_v2");
  resolve(d.pointerGetAttribute, "cuPointerGetAttribute");
  resolve(d.memcpyAsync, "cuMemcpyAsync");
  resolve(d.moduleLoadData, "cuModuleLoadData");
  resolve(d.moduleUnload, "cuModuleUnload");
  resolve(d.moduleGetFunction, "cuModuleGetFunction");
  resolve(d.launchKernel, "cuLaunchKernel");
  resolve(d.streamCreate, "cuStreamCreate");
  resolve(d.streamSynchronize, "cuStreamSynchronize");
  resolve(d.streamQuery, "cuStreamQuery");
  resolve(d.streamDestroy, "cuStreamDestroy_v2");
  resolve(d.getErrorName, "cuGetErrorName");
  resolve(d.getErrorString, "cuGetErrorString");
  if (!missing.empty())
    return "the CUDA driver " + d.path + " lacks " + missing +
           " (too old a driver?)";
  // Optional: only sessions that capture their calls as graphs need them.
  resolve(d.streamBeginCapture, "cuStreamBeginCapture_v2");
  resolve(d.streamEndCapture, "cuStreamEndCapture");
  resolve(d.graphInstantiate, "cuGraphInstantiateWithFlags");
  resolve(d.graphLaunch, "cuGraphLaunch");
  resolve(d.graphExecDestroy, "cuGraphExecDestroy");
  resolve(d.graphDestroy, "cuGraphDestroy");
  d.missingGraphCall = missing;
  if (CUresult r = d.init(0); r != kSuccess)
    return "the CUDA driver " + d.path +
           " does not start: " + d.error("cuInit", r);
  if (CUresult r = d.driverGetVersion(&d.version); r != kSuccess)
    return "the CUDA driver " + d.path + ": " +
           d.error("cuDriverGetVersion", r);
  return "";
}

} // namespace

const Driver *moert::cuda::driver(std::string &why) {
  static Driver d;
  static std::string reason;
  static std::once_flag once;
  std::call_once(once, [] { reason = open(d); });
  why = reason;
  return reason.empty() ? &d : nullptr;
}
