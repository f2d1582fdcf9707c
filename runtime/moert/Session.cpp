//===- Session.cpp - sessions, their threads and calls --------------------===//
#include "runtime/moert/Internal.h"
#include "runtime/moert/Packing.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

using namespace moert;

std::vector<int64_t> moert::shapeOf(const moert_tensor_t &t) {
  if (t.rank <= 0 || !t.shape)
    return {};
  return std::vector<int64_t>(t.shape, t.shape + t.rank);
}

namespace {

/// A memref descriptor {allocated, aligned, offset, sizes[R], strides[R]}
/// of a dense row-major buffer, as 64-bit words.
std::vector<int64_t> descriptor(const void *data,
                                const std::vector<int64_t> &shape) {
  std::vector<int64_t> d(3 + 2 * shape.size());
  int64_t ptr = static_cast<int64_t>(reinterpret_cast<uintptr_t>(data));
  d[0] = ptr;
  d[1] = ptr;
  d[2] = 0;
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    d[3 + i] = shape[i];
    d[3 + shape.size() + i] = stride;
    stride *= shape[i];
  }
  return d;
}

/// Checks a per-call tensor against parameter `p`; fixes the token count
/// `tokens` at the first dynamic dimension seen.
moert_status_t checkCallTensor(const std::string &fn, const char *what,
                               const Param &p, const moert_tensor_t &t,
                               int64_t &tokens, const std::string &tokensFrom) {
  std::string where = "function '" + fn + "': " + what + " '" + p.name + "'";
  if (static_cast<moe::DType>(t.dtype) != p.dtype)
    return makeStatus(MOERT_INVALID_ARGUMENT,
                      where + " is " + moert_dtype_name(t.dtype) +
                          " but the function takes " + moe::dtypeName(p.dtype));
  std::vector<int64_t> shape = shapeOf(t);
  if (shape.size() != p.shape.size())
    return makeStatus(MOERT_INVALID_ARGUMENT,
                      where + " has rank " + std::to_string(t.rank) +
                          " but the function takes " + shapeString(p.shape));
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0)
      return makeStatus(MOERT_INVALID_ARGUMENT,
                        where + " has a negative dimension");
    if (p.shape[i] >= 0 && shape[i] != p.shape[i])
      return makeStatus(MOERT_INVALID_ARGUMENT,
                        where + " has shape " + shapeString(shape) +
                            " but the function takes " + shapeString(p.shape) +
                            " (dimension " + std::to_string(i) + " must be " +
                            std::to_string(p.shape[i]) + ")");
    if (p.shape[i] < 0) {
      if (tokens < 0)
        tokens = shape[i];
      else if (shape[i] != tokens)
        return makeStatus(MOERT_INVALID_ARGUMENT,
                          where + " has " + std::to_string(shape[i]) +
                              " tokens but " + tokensFrom + " has " +
                              std::to_string(tokens));
    }
  }
  if (!t.data) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    if (n != 0)
      return makeStatus(MOERT_INVALID_ARGUMENT, where + " has no data");
  }
  return nullptr;
}

/// The tensor a buffer tensor of a call refers to, checked against its
/// buffer: on the session's device, aligned, within the buffer.
moert_status_t bufferTensor(const moert_session_s &session,
                            const std::string &function,
                            const std::string &what,
                            const moert_buffer_tensor_t &b, moert_tensor_t &t) {
  std::string where = "function '" + function + "': " + what;
  if (!b.buffer)
    return makeStatus(MOERT_INVALID_ARGUMENT, where + " has no buffer");
  if (b.buffer->device != session.device)
    return makeStatus(MOERT_INVALID_ARGUMENT,
                      where + " is a buffer on " + b.buffer->device->name +
                          " but the session runs on " + session.device->name);
  if (b.rank < 0 || (b.rank > 0 && !b.shape))
    return makeStatus(MOERT_INVALID_ARGUMENT, where + " has a bad rank");
  if (static_cast<uint32_t>(b.dtype) > MOERT_F16)
    return makeStatus(MOERT_INVALID_ARGUMENT, where + " has an unknown dtype");
  uint64_t elt = moe::dtypeSize(static_cast<moe::DType>(b.dtype));
  uint64_t bytes = elt;
  for (int32_t d = 0; d < b.rank; ++d) {
    if (b.shape[d] < 0)
      return makeStatus(MOERT_INVALID_ARGUMENT,
                        where + " has a negative dimension");
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(b.shape[d]),
                               &bytes))
      return makeStatus(MOERT_INVALID_ARGUMENT, where + " is too large");
  }
  if (b.offset % elt)
    return makeStatus(MOERT_INVALID_ARGUMENT,
                      where + ": offset " + std::to_string(b.offset) +
                          " is not a multiple of the element size " +
                          std::to_string(elt));
  // The GPU's tensor-core kernels read 16-bit operands in 32-bit pairs
  // (device allocations start at multiples of 256 bytes).
  if (b.buffer->device->kind == MOERT_DEVICE_CUDA && b.offset % 16)
    return makeStatus(MOERT_INVALID_ARGUMENT,
                      where + ": offset " + std::to_string(b.offset) +
                          " is not a multiple of 16 bytes, where tensors on " +
                          b.buffer->device->name + " start");
  if (b.offset > b.buffer->size || bytes > b.buffer->size - b.offset)
    return makeStatus(MOERT_INVALID_ARGUMENT,
                      where + " needs " + std::to_string(bytes) +
                          " bytes at offset " + std::to_string(b.offset) +
                          " of a buffer of " + std::to_string(b.buffer->size) +
                          " bytes");
  t = {b.dtype, b.rank, b.shape,
       static_cast<unsigned char *>(b.buffer->address) + b.offset};
  return nullptr;
}

/// Checks a call of `function` and launches it on the session's queue
/// (moert_session_run without the wait).
moert_status_t launchCall(moert_session_t *session, const char *function,
                          const moert_tensor_t *inputs, int32_t num_inputs,
                          const moert_tensor_t *outputs, int32_t num_outputs) {
  if (!session || !function)
    return makeStatus(MOERT_INVALID_ARGUMENT, "session or function is null");
  // A function of an expert-parallel group needs the group before its
  // weights: a rank binds its slots' experts.
  if (const Function *f = session->artifact->find(function))
    if (moert_status_t st = checkGroupFor(*session, *f))
      return st;
  if (moert_status_t st = moert_session_check_weights(session, function))
    return st;
  // A weights file cut short after binding would fault on first touch.
  for (const auto &f : session->files)
    if (std::string err = f->checkUnchanged(); !err.empty())
      return makeStatus(MOERT_FAILED_PRECONDITION, err);
  const Function *fn = session->artifact->find(function);
  int32_t expected = 0;
  std::string names;
  for (const Param &p : fn->args)
    if (!p.isWeight)
      names += (expected++ ? ", " : "") + p.name;
  if (num_inputs != expected || (num_inputs && !inputs))
    return makeStatus(MOERT_INVALID_ARGUMENT,
                      "function '" + fn->name + "' takes " +
                          std::to_string(expected) + " input(s) (" + names +
                          "), got " + std::to_string(num_inputs));
  if (num_outputs != static_cast<int32_t>(fn->results.size()) ||
      (num_outputs && !outputs))
    return makeStatus(MOERT_INVALID_ARGUMENT,
                      "function '" + fn->name + "' has " +
                          std::to_string(fn->results.size()) +
                          " result(s), got " + std::to_string(num_outputs) +
                          " output buffer(s)");

  std::vector<std::vector<int64_t>> descriptors;
  int64_t tokens = -1;
  std::string tokensFrom;
  int32_t nextInput = 0;
  for (const Param &p : fn->args) {
    if (p.isWeight) {
      BoundWeight &w = session->weights.at(p.name);
      if (!session->device->hostVisible()) {
        const void *data = nullptr;
        if (moert_status_t st = deviceWeight(*session, fn->name, p, w, data))
          return st;
        descriptors.push_back(descriptor(data, storageShape(w.dtype, w.shape)));
        continue;
      }
      if (p.int8Panels) {
        const PackedBuffer *packed = int8PanelData(*session, w, p);
        if (!packed)
          return makeStatus(
              MOERT_RESOURCE_EXHAUSTED,
              "function '" + fn->name + "': no memory to pack weight '" +
                  p.name + "' " + shapeString(w.shape) + " into int8 panels");
        descriptors.push_back(
            descriptor(packed->data(), p.int8Panels->packedShape(w.shape)));
        continue;
      }
      if (p.panel) {
        const PackedBuffer *packed = packedData(*session, w, p);
        if (!packed)
          return makeStatus(MOERT_RESOURCE_EXHAUSTED,
                            "function '" + fn->name +
                                "': no memory to pack "
                                "weight '" +
                                p.name + "' " + shapeString(w.shape) +
                                " into panels");
        descriptors.push_back(
            descriptor(packed->data(), p.layout().packedShape(w.shape)));
        continue;
      }
      const void *data = weightData(w);
      if (!data)
        return makeStatus(MOERT_RESOURCE_EXHAUSTED,
                          "function '" + fn->name +
                              "': no memory to assemble "
                              "weight '" +
                              p.name + "' " + shapeString(w.shape));
      descriptors.push_back(descriptor(data, storageShape(w.dtype, w.shape)));
      continue;
    }
    const moert_tensor_t &t = inputs[nextInput++];
    bool hadTokens = tokens >= 0;
    if (moert_status_t st =
            checkCallTensor(fn->name, "input", p, t, tokens, tokensFrom))
      return st;
    if (!hadTokens && tokens >= 0)
      tokensFrom = "input '" + p.name + "'";
    descriptors.push_back(descriptor(t.data, shapeOf(t)));
  }
  for (size_t i = 0; i < fn->results.size(); ++i) {
    const Param &p = fn->results[i];
    const moert_tensor_t &t = outputs[i];
    if (moert_status_t st =
            checkCallTensor(fn->name, "output", p, t, tokens, tokensFrom))
      return st;
    descriptors.push_back(descriptor(t.data, shapeOf(t)));
  }
  // The generated code reads the inputs while it writes the outputs: no
  // output may share memory with an input or another output.
  auto bytesOf = [](const moert_tensor_t &t) {
    auto begin = reinterpret_cast<uintptr_t>(t.data);
    uint64_t n = moe::dtypeSize(static_cast<moe::DType>(t.dtype));
    for (int64_t d : shapeOf(t))
      n *= static_cast<uint64_t>(d);
    return std::make_pair(begin, begin + n);
  };
  auto overlap = [&](const moert_tensor_t &a, const moert_tensor_t &b) {
    auto [a0, a1] = bytesOf(a);
    auto [b0, b1] = bytesOf(b);
    return a0 < a1 && b0 < b1 && a0 < b1 && b0 < a1;
  };
  for (int32_t o = 0; o < num_outputs; ++o) {
    for (int32_t i = 0; i < num_inputs; ++i)
      if (overlap(outputs[o], inputs[i]))
        return makeStatus(MOERT_INVALID_ARGUMENT,
                          "function '" + fn->name + "': output " +
                              std::to_string(o) + " overlaps input " +
                              std::to_string(i) +
                              " in memory; give the output its own memory");
    for (int32_t p = o + 1; p < num_outputs; ++p)
      if (overlap(outputs[o], outputs[p]))
        return makeStatus(MOERT_INVALID_ARGUMENT,
                          "function '" + fn->name + "': outputs " +
                              std::to_string(o) + " and " + std::to_string(p) +
                              " overlap in memory");
  }
  if (moert_status_t st = checkGroupFor(*session, *fn))
    return st;
  RoutingScope routing(&session->routing, *fn);
  CollectivesScope exchange(&session->group, fn->name);
  session->scratchFailure = 0;
  session->queue->launch(fn->entry, std::move(descriptors));
  if (uint64_t bytes = session->scratchFailure)
    return makeStatus(
        MOERT_RESOURCE_EXHAUSTED,
        "function '" + fn->name + "': out of memory for a scratch buffer of " +
            std::to_string(bytes) + " bytes" +
            (tokens >= 0 ? " (" + std::to_string(tokens) + " tokens)"
                         : std::string()) +
            "; the call stopped there and its outputs are not valid (run "
            "fewer tokens per call)");
  if (!exchange.error().empty())
    return makeStatus(MOERT_FAILED_PRECONDITION,
                      exchange.error() +
                          "; the outputs of this call are not valid");
  return nullptr;
}

} // namespace

extern "C" {

moert_status_t moert_session_create(moert_artifact_t *artifact,
                                    const moert_session_options_t *options,
                                    moert_session_t **out_session) {
  return moert::guardEntry("moert_session_create", [&]() -> moert_status_t {
    moert_session_config_t config = MOERT_SESSION_CONFIG_INIT;
    if (options)
      config.num_threads = options->num_threads;
    return moert_session_create_with_config(artifact, &config, out_session);
  });
}

moert_status_t
moert_session_create_with_config(moert_artifact_t *artifact,
                                 const moert_session_config_t *config,
                                 moert_session_t **out_session) {
  if (!out_session)
    return makeStatus(MOERT_INVALID_ARGUMENT, "out_session is null");
  *out_session = nullptr;
  if (!artifact)
    return makeStatus(MOERT_INVALID_ARGUMENT, "artifact is null");
  // The fields the caller's struct has; later ones keep their defaults.
  moert_session_config_t c = MOERT_SESSION_CONFIG_INIT;
  if (config) {
    constexpr size_t first =
        offsetof(moert_session_config_t, num_threads) + sizeof(c.num_threads);
    size_t size = config->struct_size;
    if (size < first)
      return makeStatus(MOERT_INVALID_ARGUMENT,
                        "moert_session_config_t.struct_size is " +
                            std::to_string(size) + ", less than the " +
                            std::to_string(first) +
                            " bytes of its first version; initialize it "
                            "with MOERT_SESSION_CONFIG_INIT");
    // Fields of a newer moert.h must be left at their defaults (zero).
    const auto *bytes = reinterpret_cast<const unsigned char *>(config);
    for (size_t i = sizeof(c); i < size; ++i)
      if (bytes[i])
        return makeStatus(
            MOERT_UNSUPPORTED,
            "moert_session_config_t sets a field at byte " + std::to_string(i) +
                " (struct_size " + std::to_string(size) +
                ") that this runtime (moec " + moert_version() + ", " +
                std::to_string(sizeof(c)) + " bytes) does not know");
    std::memcpy(&c, config, std::min(size, sizeof(c)));
    c.struct_size = sizeof(c);
  }
  int threads = c.num_threads;
  if (threads < 0)
    return makeStatus(MOERT_INVALID_ARGUMENT,
                      "num_threads must be >= 0 (0: all cores), got " +
                          std::to_string(threads));
  if (threads == 0)
    threads = ThreadPool::availableCores();
  moert_device_s *device = c.device ? c.device : &CpuDevice::host();
  if (std::string err = device->supports(artifact->target); !err.empty())
    return makeStatus(MOERT_UNSUPPORTED, artifact->path + ": cannot run on " +
                                             device->name + ": " + err);
  if (c.cuda_graphs) {
    if (device->kind != MOERT_DEVICE_CUDA)
      return makeStatus(MOERT_INVALID_ARGUMENT,
                        "cuda_graphs is set, but " + device->supportsGraphs());
    if (std::string err = device->supportsGraphs(); !err.empty())
      return makeStatus(MOERT_UNSUPPORTED, "cuda_graphs is set, but " + err);
  }
  std::unique_ptr<ThreadPool> pool;
  try {
    pool = std::make_unique<ThreadPool>(threads);
  } catch (const std::exception &e) {
    return makeStatus(MOERT_RESOURCE_EXHAUSTED,
                      "cannot start " + std::to_string(threads) +
                          " threads for a session (" + e.what() +
                          "); ask for fewer threads");
  }
  auto s = std::make_unique<moert_session_s>();
  s->device = device;
  s->cudaGraphs = c.cuda_graphs != 0;
  s->pool = std::move(pool);
  s->queue = device->createQueue(*s);
  // Nothing below can fail: the session holds the artifact from here.
  ++artifact->refs;
  s->artifact = artifact;
  *out_session = s.release();
  return nullptr;
}

void moert_session_release(moert_session_t *session) {
  if (!session)
    return;
  // Queued calls finish before their session goes.
  moert_status_free(session->queue->synchronize());
  session->queue.reset();
  moert_artifact_release(session->artifact);
  delete session;
}

int32_t moert_session_num_threads(const moert_session_t *session) {
  return session ? session->pool->threads() : 0;
}

moert_device_t *moert_session_device(const moert_session_t *session) {
  return session ? session->device : nullptr;
}

moert_status_t moert_session_run(moert_session_t *session, const char *function,
                                 const moert_tensor_t *inputs,
                                 int32_t num_inputs,
                                 const moert_tensor_t *outputs,
                                 int32_t num_outputs) {
  return moert::guardEntry("moert_session_run", [&]() -> moert_status_t {
    if (!session || !function)
      return makeStatus(MOERT_INVALID_ARGUMENT, "session or function is null");
    SessionUse use(*session);
    if (moert_status_t st = use.status("moert_session_run"))
      return st;
    if (!session->device->hostVisible())
      return makeStatus(MOERT_INVALID_ARGUMENT,
                        "moert_session_run takes host memory, which a "
                        "session on " +
                            session->device->name +
                            " cannot read; queue the call on buffers of "
                            "the device with moert_session_enqueue");
    if (moert_status_t st = launchCall(session, function, inputs, num_inputs,
                                       outputs, num_outputs))
      return st;
    return session->queue->synchronize();
  });
}

moert_status_t moert_session_enqueue(moert_session_t *session,
                                     const char *function,
                                     const moert_buffer_tensor_t *inputs,
                                     int32_t num_inputs,
                                     const moert_buffer_tensor_t *outputs,
                                     int32_t num_outputs) {
  return moert::guardEntry("moert_session_enqueue", [&]() -> moert_status_t {
    if (!session || !function)
      return makeStatus(MOERT_INVALID_ARGUMENT, "session or function is null");
    SessionUse use(*session);
    if (moert_status_t st = use.status("moert_session_enqueue"))
      return st;
    if (num_inputs < 0 || num_outputs < 0 || (num_inputs && !inputs) ||
        (num_outputs && !outputs))
      return makeStatus(MOERT_INVALID_ARGUMENT,
                        "function '" + std::string(function) +
                            "': null or negative inputs or outputs");
    std::vector<moert_tensor_t> in, out;
    for (int32_t i = 0; i < num_inputs + num_outputs; ++i) {
      bool isInput = i < num_inputs;
      const moert_buffer_tensor_t &b =
          isInput ? inputs[i] : outputs[i - num_inputs];
      std::string what = std::string(isInput ? "input " : "output ") +
                         std::to_string(isInput ? i : i - num_inputs);
      moert_tensor_t t;
      if (moert_status_t st = bufferTensor(*session, function, what, b, t))
        return st;
      (isInput ? in : out).push_back(t);
    }
    return launchCall(session, function, in.data(), num_inputs, out.data(),
                      num_outputs);
  });
}

moert_status_t moert_session_synchronize(moert_session_t *session) {
  return moert::guardEntry(
      "moert_session_synchronize", [&]() -> moert_status_t {
        if (!session)
          return makeStatus(MOERT_INVALID_ARGUMENT, "session is null");
        SessionUse use(*session);
        if (moert_status_t st = use.status("moert_session_synchronize"))
          return st;
        return session->queue->synchronize();
      });
}

} // extern "C"
