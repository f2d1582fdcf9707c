//===- CudaLaunch.h - running CUDA artifacts --------------------*- C++ -*-===//
//
// A CUDA artifact (moe-compile --target=cuda) is host code that sizes
// buffers and launches the kernels of its embedded cubins; it asks the
// runtime for its GPU work through the calls of runtime/abi/ArtifactAbi.h
// (mgpuLaunchKernel, mgpuMemAlloc, ...). This file provides them:
//
//  * a cubin is handed over when the artifact is loaded and loaded into a
//    device (cuModuleLoadData) the first time a call on that device needs
//    one of its kernels;
//  * a session's calls run on one stream of its own, which every launch,
//    scratch allocation and copy of the call uses in order;
//  * scratch buffers come from a per-session cache of device memory (a
//    buffer freed by one launch sequence is reused by the next on the same
//    stream, which orders them);
//  * the first failure of a call (a cubin for another GPU, no memory, a
//    failed launch) is kept with the driver's message; the call's later
//    launches are skipped and the status is what the session's
//    synchronize returns.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_RUNTIME_MOERT_CUDALAUNCH_H
#define MOEC_RUNTIME_MOERT_CUDALAUNCH_H

#include "runtime/moert/CudaDevice.h"

#include <memory>
#include <string>

namespace moert {

/// Fills the GPU runtime slots of the CUDA artifact loaded at `handle` and
/// hands it its cubins (moec_gpu_load_modules), once per loaded shared
/// object: a file loaded again as another artifact is the same handle, and
/// only counted. Returns "" or what is missing.
std::string bindGpuRuntime(void *handle);

/// Gives the cubins back when the last artifact bound at `handle` is
/// released (moec_gpu_unload_modules), unloading them from every device.
void unbindGpuRuntime(void *handle);

/// The queue of a session on `device`.
std::unique_ptr<Queue> createCudaQueue(moert_session_s &session,
                                       CudaDevice &device);

} // namespace moert

#endif // MOEC_RUNTIME_MOERT_CUDALAUNCH_H
