//===- CudaLaunch.cpp - running CUDA artifacts ----------------------------===//
#include "runtime/moert/CudaLaunch.h"
#include "runtime/abi/ArtifactAbi.h"
#include "runtime/moert/Internal.h"

#include <climits>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <mutex>
#include <unordered_map>

using namespace moert;
using namespace moert::cuda;

namespace {

/// Device memory a session's calls take their scratch buffers from, kept
/// between calls. Only the session's stream uses it, so a buffer freed by
/// one launch sequence can be handed to the next one: the stream runs
/// them in order.
class DeviceScratch {
public:
  explicit DeviceScratch(CudaDevice &device) : device_(device) {}
  ~DeviceScratch() { releaseAll(); }

  /// A buffer of at least `bytes`; null with `error` set when the device
  /// has no memory for it even after the cache is emptied.
  void *take(size_t bytes, moert_status_t &error) {
    size_t rounded = (bytes + 255) / 256 * 256;
    if (rounded < bytes)
      rounded = bytes;
    auto it = free_.find(rounded);
    if (it != free_.end()) {
      void *ptr = it->second;
      free_.erase(it);
      return ptr;
    }
    void *ptr = nullptr;
    moert_status_t st = device_.allocate(rounded, ptr);
    if (st && !free_.empty()) {
      moert_status_free(st);
      releaseFree();
      st = device_.allocate(rounded, ptr);
    }
    if (st) {
      error = st;
      return nullptr;
    }
    sizes_[ptr] = rounded;
    return ptr;
  }

  void give(void *ptr) {
    auto it = sizes_.find(ptr);
    if (it != sizes_.end())
      free_.emplace(it->second, ptr);
  }

  /// A buffer a captured graph launches kernels on: kept allocated (never
  /// released to make room) until as many unpin calls.
  void pin(void *ptr) { ++pinned_[ptr]; }
  void unpin(void *ptr) {
    auto it = pinned_.find(ptr);
    if (it != pinned_.end() && --it->second == 0)
      pinned_.erase(it);
  }

  /// Every buffer, pinned or not: the session's graphs are gone.
  void releaseAll() {
    free_.clear();
    pinned_.clear();
    for (auto &[ptr, bytes] : sizes_)
      device_.deallocate(ptr, bytes);
    sizes_.clear();
  }

private:
  /// The free buffers no graph holds.
  void releaseFree() {
    for (auto it = free_.begin(); it != free_.end();) {
      if (pinned_.count(it->second)) {
        ++it;
        continue;
      }
      device_.deallocate(it->second, it->first);
      sizes_.erase(it->second);
      it = free_.erase(it);
    }
  }

  CudaDevice &device_;
  std::multimap<size_t, void *> free_;
  std::unordered_map<void *, size_t> sizes_;
  std::unordered_map<void *, int> pinned_;
};

/// One call of an artifact's function on a CUDA session: what its GPU
/// runtime calls act on.
struct CudaCall {
  CudaCall(CudaDevice &device, CUstream stream, DeviceScratch &scratch,
           bool capturing)
      : device(device), stream(stream), scratch(scratch), capturing(capturing) {
  }
  CudaDevice &device;
  CUstream stream;
  DeviceScratch &scratch;
  /// The first failure; the call's later launches are skipped.
  moert_status_t failure = nullptr;
  /// The kernel last looked up, for messages about its launch.
  std::string kernel;
  /// While the stream captures the call as a graph: the scratch buffers
  /// it takes (which the graph keeps), and no waiting on the stream.
  bool capturing;
  std::vector<void *> taken;

  const Driver &driver() const { return device.driver(); }
  void fail(moert_status_t st) {
    if (failure)
      moert_status_free(st);
    else
      failure = st;
  }
  void fail(moert_status_code_t code, const std::string &message) {
    if (!failure)
      fail(makeStatus(code, message));
  }
};

thread_local CudaCall *currentCall = nullptr;

/// An artifact's cubin, loaded into each device on first use there.
struct GpuModule {
  const void *image = nullptr;
  size_t bytes = 0;
  std::mutex mutex;
  std::map<CudaDevice *, CUmodule> loaded;
  std::map<std::pair<CUmodule, std::string>, CUfunction> functions;
};

//===--- The calls of runtime/abi/ArtifactAbi.h ---------------------------===//

void *moduleLoad(const void *image, int64_t bytes) {
  auto *m = new (std::nothrow) GpuModule();
  if (m) {
    m->image = image;
    m->bytes = static_cast<size_t>(bytes);
  }
  return m;
}

void moduleUnload(void *module) {
  auto *m = static_cast<GpuModule *>(module);
  if (!m)
    return;
  for (auto &[device, mod] : m->loaded) {
    CudaDevice::Scope scope(*device);
    if (moert_status_t st = scope.take())
      moert_status_free(st);
    else
      device->driver().moduleUnload(mod);
  }
  delete m;
}

void *moduleGetFunction(void *module, const char *name) {
  CudaCall *call = currentCall;
  auto *m = static_cast<GpuModule *>(module);
  if (!call || call->failure)
    return nullptr;
  call->kernel = name;
  if (!m) {
    call->fail(MOERT_RESOURCE_EXHAUSTED,
               "no memory to record the kernels of the artifact");
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(m->mutex);
  const Driver &d = call->driver();
  CUmodule &mod = m->loaded[&call->device];
  if (!mod)
    if (CUresult r = d.moduleLoadData(&mod, m->image); r != kSuccess) {
      mod = nullptr;
      m->loaded.erase(&call->device);
      call->fail(r == kNoBinaryForGpu ? MOERT_UNSUPPORTED : MOERT_INTERNAL,
                 "cannot load the artifact's kernels (" +
                     std::to_string(m->bytes) + " bytes of cubin) on " +
                     call->device.name + ": " + d.error("cuModuleLoadData", r));
      return nullptr;
    }
  CUfunction &fn = m->functions[{mod, name}];
  if (!fn)
    if (CUresult r = d.moduleGetFunction(&fn, mod, name); r != kSuccess) {
      fn = nullptr;
      call->fail(MOERT_INTERNAL, "kernel '" + std::string(name) + "' on " +
                                     call->device.name + ": " +
                                     d.error("cuModuleGetFunction", r));
      return nullptr;
    }
  return fn;
}

void launchKernel(void *function, int64_t gridX, int64_t gridY, int64_t gridZ,
                  int64_t blockX, int64_t blockY, int64_t blockZ,
                  int32_t sharedBytes, void *stream, void **params,
                  void **extra, int64_t) {
  CudaCall *call = currentCall;
  if (!call || call->failure || !function)
    return;
  // No tokens, no work: a launch of an empty grid is an error to CUDA.
  if (gridX == 0 || gridY == 0 || gridZ == 0)
    return;
  if (gridX < 0 || gridX > INT_MAX || gridY < 0 || gridY > 65535 || gridZ < 0 ||
      gridZ > 65535 || blockX <= 0 || blockY <= 0 || blockZ <= 0 ||
      blockX * blockY * blockZ > 1024 || sharedBytes < 0) {
    call->fail(MOERT_INVALID_ARGUMENT,
               "kernel '" + call->kernel + "' on " + call->device.name +
                   ": a grid of " + std::to_string(gridX) + " x " +
                   std::to_string(gridY) + " x " + std::to_string(gridZ) +
                   " programs of " + std::to_string(blockX) + " x " +
                   std::to_string(blockY) + " x " + std::to_string(blockZ) +
                   " threads is beyond what CUDA launches (too many "
                   "tokens for one call?)");
    return;
  }
  const Driver &d = call->driver();
  if (CUresult r = d.launchKernel(
          static_cast<CUfunction>(function), static_cast<unsigned>(gridX),
          static_cast<unsigned>(gridY), static_cast<unsigned>(gridZ),
          static_cast<unsigned>(blockX), static_cast<unsigned>(blockY),
          static_cast<unsigned>(blockZ), static_cast<unsigned>(sharedBytes),
          static_cast<CUstream>(stream), params, extra);
      r != kSuccess)
    call->fail(r == kOutOfMemory ? MOERT_RESOURCE_EXHAUSTED : MOERT_INTERNAL,
               "launch of kernel '" + call->kernel + "' on " +
                   call->device.name + ": " + d.error("cuLaunchKernel", r));
}

void *streamCreate() {
  CudaCall *call = currentCall;
  return call ? call->stream : nullptr;
}

void streamSynchronize(void *stream) {
  CudaCall *call = currentCall;
  if (!call || call->capturing)
    return;
  // Waited for even after a failure: launches already queued must finish
  // before their buffers are reused.
  if (CUresult r =
          call->driver().streamSynchronize(static_cast<CUstream>(stream));
      r != kSuccess)
    call->fail(MOERT_INTERNAL,
               "a kernel on " + call->device.name + " failed: " +
                   call->driver().error("cuStreamSynchronize", r));
}

void streamDestroy(void *) {
  // The stream is the session's; it goes with the session.
}

void *memAlloc(int64_t bytes, void *, int8_t) {
  CudaCall *call = currentCall;
  if (!call || call->failure)
    return nullptr;
  moert_status_t error = nullptr;
  void *ptr = call->scratch.take(static_cast<size_t>(bytes), error);
  if (ptr && call->capturing)
    call->taken.push_back(ptr);
  if (!ptr)
    call->fail(error ? error
                     : makeStatus(MOERT_RESOURCE_EXHAUSTED,
                                  "no scratch buffer of " +
                                      std::to_string(bytes) + " bytes on " +
                                      call->device.name));
  return ptr;
}

void memFree(void *ptr, void *) {
  if (CudaCall *call = currentCall; call && ptr)
    call->scratch.give(ptr);
}

void memcpyAsync(void *dst, void *src, int64_t bytes, void *stream) {
  CudaCall *call = currentCall;
  if (!call || call->failure)
    return;
  auto address = [](void *p) {
    return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(p));
  };
  if (CUresult r = call->driver().memcpyAsync(address(dst), address(src),
                                              static_cast<size_t>(bytes),
                                              static_cast<CUstream>(stream));
      r != kSuccess)
    call->fail(MOERT_INTERNAL, "copy of " + std::to_string(bytes) +
                                   " bytes on " + call->device.name + ": " +
                                   call->driver().error("cuMemcpyAsync", r));
}

/// Each call by its name in the ABI.
struct Provided {
  const char *name;
  void (*fn)();
};
template <typename F>
void (*erase(F *fn))() {
  return reinterpret_cast<void (*)()>(fn);
}
const Provided kProvided[] = {
    {"mgpuModuleLoad", erase(moduleLoad)},
    {"mgpuModuleUnload", erase(moduleUnload)},
    {"mgpuModuleGetFunction", erase(moduleGetFunction)},
    {"mgpuLaunchKernel", erase(launchKernel)},
    {"mgpuStreamCreate", erase(streamCreate)},
    {"mgpuStreamSynchronize", erase(streamSynchronize)},
    {"mgpuStreamDestroy", erase(streamDestroy)},
    {"mgpuMemAlloc", erase(memAlloc)},
    {"mgpuMemFree", erase(memFree)},
    {"mgpuMemcpy", erase(memcpyAsync)},
};
static_assert(sizeof(kProvided) / sizeof(kProvided[0]) ==
                  sizeof(moe::abi::kGpuRuntimeCalls) /
                      sizeof(moe::abi::kGpuRuntimeCalls[0]),
              "moert provides every call of the GPU runtime ABI");

/// Runs a session's calls on its own stream of the device; with CUDA
/// graphs, captures a call's launches as a graph the first time a function
/// is called with its arguments and replays it for later such calls.
class CudaQueue final : public Queue {
public:
  CudaQueue(CudaDevice &device, bool graphs)
      : device_(device), scratch_(device), graphs_(graphs) {}
  ~CudaQueue() override {
    CudaDevice::Scope scope(device_);
    if (moert_status_t st = scope.take()) {
      moert_status_free(st);
    } else {
      if (stream_)
        device_.driver().streamSynchronize(stream_);
      for (auto &[key, g] : captured_)
        destroy(g);
      if (stream_)
        device_.driver().streamDestroy(stream_);
    }
    captured_.clear();
    scratch_.releaseAll();
    moert_status_free(pending_);
  }

  void launch(void (*entry)(void **),
              std::vector<std::vector<int64_t>> descriptors) override {
    CudaDevice::Scope scope(device_);
    if (moert_status_t st = scope.take())
      return keep(st);
    const Driver &d = device_.driver();
    if (!stream_)
      if (CUresult r = d.streamCreate(&stream_, kStreamNonBlocking);
          r != kSuccess) {
        stream_ = nullptr;
        return keep(makeStatus(MOERT_INTERNAL,
                               "cannot create a stream on " + device_.name +
                                   ": " + d.error("cuStreamCreate", r)));
      }
    std::vector<void *> args;
    for (std::vector<int64_t> &desc : descriptors)
      args.push_back(desc.data());
    if (!graphs_)
      return run(entry, args);
    // The function and every word of its arguments' descriptors (buffers,
    // shapes): what the captured launches' parameters were made of.
    std::vector<int64_t> key{
        static_cast<int64_t>(reinterpret_cast<uintptr_t>(entry))};
    for (const std::vector<int64_t> &desc : descriptors) {
      key.push_back(static_cast<int64_t>(desc.size()));
      key.insert(key.end(), desc.begin(), desc.end());
    }
    auto it = captured_.find(key);
    if (it == captured_.end()) {
      if (!capture(entry, args, key))
        return;
      it = captured_.find(key);
    }
    it->second.lastUse = ++uses_;
    if (CUresult r = d.graphLaunch(it->second.exec, stream_); r != kSuccess)
      return keep(makeStatus(
          r == kOutOfMemory ? MOERT_RESOURCE_EXHAUSTED : MOERT_INTERNAL,
          "launch of the call's CUDA graph on " + device_.name + ": " +
              d.error("cuGraphLaunch", r)));
    if (CUresult r = d.streamSynchronize(stream_); r != kSuccess)
      keep(makeStatus(MOERT_INTERNAL,
                      "a kernel of the call's CUDA graph on " + device_.name +
                          " failed: " + d.error("cuStreamSynchronize", r)));
  }

  moert_status_t synchronize() override {
    // The generated code waits for its stream before it returns.
    moert_status_t st = pending_;
    pending_ = nullptr;
    return st;
  }

private:
  struct Captured {
    CUgraph graph = nullptr;
    CUgraphExec exec = nullptr;
    std::vector<void *> buffers;
    uint64_t lastUse = 0;
  };
  /// The graphs a session keeps; the least recently used goes first.
  static constexpr size_t kMaxGraphs = 16;

  /// Runs the call kernel by kernel.
  void run(void (*entry)(void **), std::vector<void *> &args,
           bool capturing = false, std::vector<void *> *taken = nullptr) {
    CudaCall call(device_, stream_, scratch_, capturing);
    CudaCall *previous = currentCall;
    currentCall = &call;
    entry(args.data());
    currentCall = previous;
    if (taken)
      *taken = std::move(call.taken);
    if (call.failure)
      keep(call.failure);
  }

  /// Captures the call as a graph under `key`: true when it is there to
  /// launch. When the driver does not capture it, the call has run kernel
  /// by kernel instead (its status kept) and the session stops capturing.
  bool capture(void (*entry)(void **), std::vector<void *> &args,
               const std::vector<int64_t> &key) {
    const Driver &d = device_.driver();
    if (d.streamBeginCapture(stream_, kCaptureModeRelaxed) != kSuccess) {
      graphs_ = false;
      run(entry, args);
      return false;
    }
    moert_status_t before = pending_;
    pending_ = nullptr;
    Captured g;
    run(entry, args, /*capturing=*/true, &g.buffers);
    CUresult ended = d.streamEndCapture(stream_, &g.graph);
    moert_status_t failure = pending_;
    pending_ = before;
    if (ended != kSuccess || failure ||
        d.graphInstantiate(&g.exec, g.graph, 0) != kSuccess) {
      // Nothing captured has run: the call runs kernel by kernel, and its
      // own failure, if any, is the one kept. A call that failed while
      // captured is not evidence against graphs.
      if (ended != kSuccess || !failure)
        graphs_ = false;
      moert_status_free(failure);
      g.buffers.clear(); // not pinned yet
      destroy(g);
      run(entry, args);
      return false;
    }
    if (captured_.size() >= kMaxGraphs) {
      auto oldest = captured_.begin();
      for (auto it = captured_.begin(); it != captured_.end(); ++it)
        if (it->second.lastUse < oldest->second.lastUse)
          oldest = it;
      destroy(oldest->second);
      captured_.erase(oldest);
    }
    for (void *ptr : g.buffers)
      scratch_.pin(ptr);
    captured_.emplace(key, std::move(g));
    return true;
  }

  void destroy(Captured &g) {
    const Driver &d = device_.driver();
    if (g.exec)
      d.graphExecDestroy(g.exec);
    if (g.graph)
      d.graphDestroy(g.graph);
    g.exec = nullptr;
    g.graph = nullptr;
    for (void *ptr : g.buffers)
      scratch_.unpin(ptr);
    g.buffers.clear();
  }

  void keep(moert_status_t st) {
    if (pending_)
      moert_status_free(st);
    else
      pending_ = st;
  }

  CudaDevice &device_;
  DeviceScratch scratch_;
  CUstream stream_ = nullptr;
  moert_status_t pending_ = nullptr;
  bool graphs_;
  std::map<std::vector<int64_t>, Captured> captured_;
  uint64_t uses_ = 0;
};

} // namespace

namespace {
/// The artifacts bound to this runtime per loaded shared object: an
/// artifact loaded twice is one dlopen handle whose module globals (the
/// cubins moduleLoad recorded) are shared, so they are loaded by the first
/// and unloaded by the last.
std::mutex gpuBindingsMutex;
std::map<void *, int64_t> gpuBindings;
} // namespace

std::string moert::bindGpuRuntime(void *handle) {
  void *load = dlsym(handle, moe::abi::kGpuLoadModules);
  if (!load)
    return std::string("a CUDA artifact without ") + moe::abi::kGpuLoadModules +
           " (not made by moe-compile --target=cuda?)";
  std::lock_guard<std::mutex> lock(gpuBindingsMutex);
  if (gpuBindings[handle]++ > 0)
    return "";
  for (const Provided &p : kProvided) {
    std::string slot = std::string(moe::abi::kGpuSlotPrefix) + p.name;
    if (void *address = dlsym(handle, slot.c_str()))
      std::memcpy(address, &p.fn, sizeof(p.fn));
  }
  reinterpret_cast<void (*)()>(load)();
  return "";
}

void moert::unbindGpuRuntime(void *handle) {
  std::lock_guard<std::mutex> lock(gpuBindingsMutex);
  auto it = gpuBindings.find(handle);
  if (it == gpuBindings.end() || --it->second > 0)
    return;
  gpuBindings.erase(it);
  if (void *unload = dlsym(handle, moe::abi::kGpuUnloadModules))
    reinterpret_cast<void (*)()>(unload)();
}

std::unique_ptr<Queue> moert::createCudaQueue(moert_session_s &session,
                                              CudaDevice &device) {
  return std::make_unique<CudaQueue>(device, session.cudaGraphs);
}
