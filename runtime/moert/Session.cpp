//===- Session.cpp - weights, threads and calls ---------------------------===//
#include "runtime/moert/Internal.h"
#include "runtime/moert/Packing.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <functional>
#include <new>
#include <numeric>

#include <sys/stat.h>

using namespace moert;

namespace {

/// The shape of the buffer the generated code reads a weight of `dtype`
/// and `shape` as: the same, except that a block-quantized weight's rows
/// are bytes (docs/Artifact.md, "Quantized weights").
std::vector<int64_t> storageShape(moe::DType dtype,
                                  std::vector<int64_t> shape) {
  if (moe::isBlockQuantized(dtype) && !shape.empty())
    shape.back() = moe::dtypeRowBytes(dtype, shape.back());
  return shape;
}

std::vector<int64_t> shapeOf(const moert_tensor_t &t) {
  if (t.rank <= 0 || !t.shape)
    return {};
  return std::vector<int64_t>(t.shape, t.shape + t.rank);
}

/// Checks a weight against what the artifact expects.
moert_status_t checkWeight(const std::string &where, const Param &p,
                           moe::DType dtype,
                           const std::vector<int64_t> &shape) {
  if (dtype != p.dtype || shape != p.shape)
    return makeStatus(MOERT_INVALID_ARGUMENT,
                      where + ": tensor '" + p.name + "' is " +
                          moe::dtypeName(dtype) + " " + shapeString(shape) +
                          " but the artifact expects " +
                          moe::dtypeName(p.dtype) + " " + shapeString(p.shape));
  return nullptr;
}

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

constexpr const char *kCallerMemory = "caller memory";

/// Whether `path` exists and is not a directory.
bool isFile(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

/// A weight argument that reads a tensor, and the shape it expects of it.
struct TensorUse {
  const Param *param;
  std::vector<int64_t> shape;
};

/// The tensor names a weight reads: itself, or the parts of its stack.
std::vector<std::string> sourcesOf(const Param &p) {
  return p.stack.empty() ? std::vector<std::string>{p.name} : p.stack;
}

/// The shape of each source tensor of a weight of `shape` as stored: one
/// dimension less when stacked, the last two swapped when transposed.
std::vector<int64_t> partShape(std::vector<int64_t> shape, bool stacked,
                               bool transposed) {
  if (stacked)
    shape.erase(shape.begin());
  if (transposed)
    std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  return shape;
}

std::vector<int64_t> sourceShape(const Param &p) {
  return partShape(p.shape, !p.stack.empty(), p.transposed);
}

std::vector<TensorUse> consumersOf(const moert_artifact_s &artifact,
                                   const std::string &tensor) {
  std::vector<TensorUse> uses;
  for (const Function &f : artifact.functions)
    for (const Param &p : f.args) {
      if (!p.isWeight)
        continue;
      std::vector<std::string> sources = sourcesOf(p);
      if (std::find(sources.begin(), sources.end(), tensor) != sources.end())
        uses.push_back({&p, sourceShape(p)});
    }
  return uses;
}

/// The tensor at `src` of `count` elements converted from dtype `from` to `to`
/// (narrowing rounds to nearest even); null without memory for it.
std::shared_ptr<std::vector<unsigned char>>
convertTensor(const void *src, moe::DType from, moe::DType to, size_t count) {
  std::shared_ptr<std::vector<unsigned char>> out;
  try {
    out = std::make_shared<std::vector<unsigned char>>(count *
                                                       moe::dtypeSize(to));
  } catch (const std::bad_alloc &) {
    return nullptr;
  }
  void *dst = out->data();
  if (from == moe::DType::F32 && to == moe::DType::BF16) {
    const auto *f = static_cast<const float *>(src);
    auto *b = static_cast<uint16_t *>(dst);
    for (size_t i = 0; i < count; ++i)
      b[i] = moe::floatToBF16(f[i]);
  } else if (from == moe::DType::BF16 && to == moe::DType::F32) {
    const auto *b = static_cast<const uint16_t *>(src);
    auto *f = static_cast<float *>(dst);
    for (size_t i = 0; i < count; ++i)
      f[i] = moe::bf16ToFloat(b[i]);
  } else {
    // Exact through double: every f32, bf16 and f16 value is a double.
    for (size_t i = 0; i < count; ++i)
      moe::storeElement(to, dst, i, moe::loadElement(from, src, i));
  }
  return out;
}

/// Binds weight `p` from the catalog: in place when the file holds it as
/// the function reads it, else as its source tensors, assembled (stacked,
/// transposed) only when something reads the weight unpacked. Returns false
/// when a source tensor is missing, with `why` saying which (empty for a
/// weight that is its own single tensor), or when there is no memory to
/// convert one (`noMemory` set).
bool resolveWeight(moert_session_s &s, const Param &p, std::string &why,
                   bool &noMemory) {
  std::vector<std::string> sources = sourcesOf(p);
  std::vector<const void *> parts;
  std::vector<std::shared_ptr<std::vector<unsigned char>>> converted;
  std::string missing;
  size_t absent = 0;
  for (const std::string &name : sources) {
    auto it = s.catalog.find(name);
    if (it == s.catalog.end()) {
      if (absent++ < 3)
        missing += (absent > 1 ? ", '" : "'") + name + "'";
      continue;
    }
    const moe::safetensors::TensorInfo &info = *it->second.info;
    const void *data = it->second.file->data(info);
    // Checked when the file was bound: the weight's dtype or its stored one.
    std::optional<moe::DType> dt = moe::dtypeFromStorageName(info.dtype);
    if (dt && *dt != p.dtype) {
      size_t count = std::accumulate(info.shape.begin(), info.shape.end(),
                                     size_t(1), std::multiplies<size_t>());
      auto buffer = convertTensor(data, *dt, p.dtype, count);
      if (!buffer) {
        noMemory = true;
        why = " (no memory to convert '" + name + "' from " +
              moe::dtypeName(*dt) + ")";
        return false;
      }
      data = buffer->data();
      converted.push_back(std::move(buffer));
    }
    parts.push_back(data);
  }
  if (absent) {
    if (p.isAssembled())
      why = " (" + std::to_string(absent) + " of " +
            std::to_string(sources.size()) +
            " source tensors missing: " + missing +
            (absent > 3 ? ", ..." : "") + ")";
    return false;
  }
  std::string from = s.catalog.at(sources.front()).file->path();
  BoundWeight w{p.dtype, p.shape, nullptr, from,  nullptr,
                {},      {},      false,   false, std::move(converted),
                nullptr};
  if (p.isAssembled()) {
    w.parts = std::move(parts);
    w.stacked = !p.stack.empty();
    w.transposed = p.transposed;
  } else {
    w.data = parts.front();
  }
  s.weights[p.name] = std::move(w);
  return true;
}

/// Weight `w` as the functions read it unpacked, assembled from its parts
/// now unless it was already; null when the memory for it cannot be had.
const void *weightData(const BoundWeight &w) {
  if (w.data)
    return w.data;
  size_t elt = moe::dtypeSize(w.dtype);
  std::vector<int64_t> part = partShape(w.shape, w.stacked, w.transposed);
  int64_t partElems = std::accumulate(part.begin(), part.end(), int64_t(1),
                                      std::multiplies<int64_t>());
  std::shared_ptr<std::vector<unsigned char>> owned;
  try {
    owned = std::make_shared<std::vector<unsigned char>>(
        static_cast<size_t>(partElems) * w.parts.size() * elt);
  } catch (const std::bad_alloc &) {
    return nullptr;
  }
  // Source [..., b, a] to destination [..., a, b] when transposed.
  int64_t a = w.transposed ? part[part.size() - 1] : 0;
  int64_t b = w.transposed ? part[part.size() - 2] : 0;
  for (size_t i = 0; i < w.parts.size(); ++i) {
    const auto *src = static_cast<const unsigned char *>(w.parts[i]);
    unsigned char *dst = owned->data() + i * partElems * elt;
    if (!w.transposed) {
      std::memcpy(dst, src, partElems * elt);
      continue;
    }
    int64_t matrices = partElems / (a * b);
    for (int64_t m = 0; m < matrices; ++m)
      for (int64_t r = 0; r < a; ++r)
        for (int64_t c = 0; c < b; ++c)
          std::memcpy(dst + ((m * a + r) * b + c) * elt,
                      src + ((m * b + c) * a + r) * elt, elt);
  }
  w.owned = std::move(owned);
  w.data = w.owned->data();
  return w.data;
}

/// Where packing reads weight `w` from: its matrices as they lie when it
/// is one tensor, stacked matrices or transposed, else (stacked vectors)
/// the assembled weight. Empty when that cannot be had.
PackSource packSource(const BoundWeight &w) {
  size_t elt = moe::dtypeSize(w.dtype);
  if (w.data)
    return PackSource::contiguous(w.data, w.shape, elt);
  if (!w.stacked)
    return PackSource::contiguous(w.parts.front(), w.shape, elt, w.transposed);
  if (w.shape.size() == 3)
    return {w.parts, w.transposed};
  const void *assembled = weightData(w);
  return assembled ? PackSource::contiguous(assembled, w.shape, elt)
                   : PackSource();
}

/// Weight `w` packed as parameter `p` takes it, packed now on the
/// session's threads unless it was already; null when the memory for it
/// cannot be had.
const PackedBuffer *packedData(moert_session_s &s, BoundWeight &w,
                               const Param &p) {
  auto &slot = w.packed[{p.panel, p.kGroup, p.slices}];
  if (!slot) {
    std::vector<int64_t> shape = p.layout().packedShape(w.shape);
    size_t elt = moe::dtypeSize(w.dtype);
    auto buffer = std::make_shared<PackedBuffer>(
        static_cast<size_t>(std::accumulate(shape.begin(), shape.end(),
                                            int64_t(1),
                                            std::multiplies<int64_t>())) *
        elt);
    if (!buffer->data())
      return nullptr;
    PackSource src = packSource(w);
    if (src.groups.empty())
      return nullptr;
    packPanels(src, buffer->data(), w.shape, p.panel, p.kGroup, elt,
               s.pool.get(), p.slices);
    slot = buffer;
  }
  return slot.get();
}

/// Weight `w` in the memory of the session's device, uploaded now unless
/// it was already; a status naming the weight when it cannot be. (A GPU's
/// kernels take weights as bound: moe-compile packs none for them.)
moert_status_t deviceWeight(moert_session_s &s, const std::string &fn,
                            const Param &p, BoundWeight &w, const void *&out) {
  out = w.onDevice.get();
  if (out)
    return nullptr;
  std::string what =
      "function '" + fn + "': weight '" + p.name + "' " + shapeString(w.shape);
  const void *host = weightData(w);
  if (!host)
    return makeStatus(MOERT_RESOURCE_EXHAUSTED,
                      what + ": no memory to assemble it");
  // Elements of the storage shape: bytes for a quantized weight.
  size_t bytes = moe::dtypeSize(w.dtype);
  for (int64_t d : storageShape(w.dtype, w.shape))
    bytes *= static_cast<size_t>(d);
  auto cannotUpload = [&](moert_status_t st) {
    moert_status_t wrapped =
        makeStatus(moert_status_code(st),
                   what + " cannot be uploaded: " + moert_status_message(st));
    moert_status_free(st);
    return wrapped;
  };
  moert_device_s *device = s.device;
  void *ptr = nullptr;
  if (moert_status_t st = device->allocate(bytes, ptr))
    return cannotUpload(st);
  std::shared_ptr<void> owned(
      ptr, [device, bytes](void *p) { device->deallocate(p, bytes); });
  if (moert_status_t st = device->copyFromHost(ptr, host, bytes))
    return cannotUpload(st);
  w.onDevice = std::move(owned);
  out = ptr;
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

moert_status_t moert_session_bind_weights_file(moert_session_t *session,
                                               const char *path,
                                               int32_t *out_bound) {
  return moert::guardEntry(
      "moert_session_bind_weights_file", [&]() -> moert_status_t {
        if (out_bound)
          *out_bound = 0;
        if (!session || !path)
          return makeStatus(MOERT_INVALID_ARGUMENT, "session or path is null");
        SessionUse use(*session);
        if (moert_status_t st = use.status("moert_session_bind_weights_file"))
          return st;
        std::shared_ptr<moe::safetensors::File> file;
        if (std::string err = moe::safetensors::File::open(path, file);
            !err.empty())
          return makeStatus(MOERT_IO_ERROR, err);
        // Check every tensor a weight reads before binding any, so a bad file
        // binds nothing.
        int32_t used = 0;
        for (const moe::safetensors::TensorInfo &t : file->tensors()) {
          std::vector<TensorUse> uses = consumersOf(*session->artifact, t.name);
          if (uses.empty())
            continue;
          ++used;
          for (const TensorUse &u : uses) {
            std::optional<moe::DType> dt = moe::dtypeFromStorageName(t.dtype);
            // A weight recorded as stored in another dtype is converted when
            // resolved; it may also come in the dtype the function takes.
            bool dtypeOk =
                dt && (*dt == u.param->dtype || dt == u.param->storedDtype);
            if (!dtypeOk || !bindableShape(t.shape, u.shape))
              return makeStatus(
                  MOERT_INVALID_ARGUMENT,
                  std::string(path) + ": tensor '" + t.name + "' is " +
                      (dt ? std::string(moe::dtypeName(*dt))
                          : "of dtype " + t.dtype) +
                      " " + shapeString(t.shape) +
                      " but the artifact expects " +
                      moe::dtypeName(u.param->dtype) +
                      (u.param->storedDtype
                           ? std::string(" (or ") +
                                 moe::dtypeName(*u.param->storedDtype) + ")"
                           : std::string()) +
                      " " + shapeString(u.shape) +
                      (u.param->isAssembled()
                           ? " (a part of weight '" + u.param->name + "')"
                           : std::string()));
          }
        }
        for (const moe::safetensors::TensorInfo &t : file->tensors())
          session->catalog[t.name] = {file, &t};
        // Weights resolved from earlier files may read rebound tensors.
        for (auto it = session->weights.begin(); it != session->weights.end();)
          it = it->second.source == kCallerMemory ? std::next(it)
                                                  : session->weights.erase(it);
        session->files.push_back(file);
        if (out_bound)
          *out_bound = used;
        return nullptr;
      });
}

moert_status_t moert_session_bind_recorded_weights(moert_session_t *session) {
  return moert::guardEntry(
      "moert_session_bind_recorded_weights", [&]() -> moert_status_t {
        if (!session)
          return makeStatus(MOERT_INVALID_ARGUMENT, "session is null");
        SessionUse use(*session);
        if (moert_status_t st =
                use.status("moert_session_bind_recorded_weights"))
          return st;
        const moert_artifact_s &a = *session->artifact;
        for (const std::string &recorded : a.weightFiles) {
          // The file next to the artifact first (an artifact moved or copied
          // with its weights), then where it was when the artifact was
          // compiled.
          size_t slash = recorded.find_last_of('/');
          std::string beside =
              a.directory + "/" +
              (slash == std::string::npos ? recorded
                                          : recorded.substr(slash + 1));
          std::string path;
          if (isFile(beside))
            path = beside;
          else if (isFile(recorded))
            path = recorded;
          else
            return makeStatus(
                MOERT_NOT_FOUND,
                a.path +
                    ": recorded weights file not found, neither next to the "
                    "artifact ('" +
                    beside + "') nor at the recorded path ('" + recorded +
                    "'); bind the weights from where they are "
                    "(moert_session_bind_weights_file, moe-run --weights)");
          if (moert_status_t st = moert_session_bind_weights_file(
                  session, path.c_str(), nullptr))
            return st;
        }
        return nullptr;
      });
}

moert_status_t moert_session_bind_weight(moert_session_t *session,
                                         const char *name,
                                         const moert_tensor_t *tensor) {
  return moert::guardEntry(
      "moert_session_bind_weight", [&]() -> moert_status_t {
        if (!session || !name || !tensor)
          return makeStatus(MOERT_INVALID_ARGUMENT,
                            "session, name or tensor is null");
        SessionUse use(*session);
        if (moert_status_t st = use.status("moert_session_bind_weight"))
          return st;
        const Param *p = session->artifact->findWeight(name);
        if (!p)
          return makeStatus(MOERT_NOT_FOUND, std::string("the artifact has no "
                                                         "weight named '") +
                                                 name + "'");
        if (moert_status_t st = checkWeight(
                "bind_weight", *p, static_cast<moe::DType>(tensor->dtype),
                shapeOf(*tensor)))
          return st;
        if (!tensor->data)
          return makeStatus(MOERT_INVALID_ARGUMENT,
                            std::string("weight '") + name + "' has no data");
        session->weights[name] = {
            p->dtype, p->shape, tensor->data, kCallerMemory, nullptr, {}, {},
            false,    false,    {},           nullptr};
        return nullptr;
      });
}

moert_status_t moert_session_weight(const moert_session_t *session,
                                    const char *name,
                                    moert_tensor_t *out_tensor) {
  return moert::guardEntry("moert_session_weight", [&]() -> moert_status_t {
    if (!out_tensor)
      return makeStatus(MOERT_INVALID_ARGUMENT, "out_tensor is null");
    *out_tensor = moert_tensor_t{MOERT_F32, 0, nullptr, nullptr};
    if (!session || !name)
      return makeStatus(MOERT_INVALID_ARGUMENT, "session or name is null");
    SessionUse use(*session);
    if (moert_status_t st = use.status("moert_session_weight"))
      return st;
    auto it = session->weights.find(name);
    if (it == session->weights.end())
      return makeStatus(MOERT_NOT_FOUND,
                        std::string("weight '") + name + "' is not bound");
    const BoundWeight &w = it->second;
    const void *data = weightData(w);
    if (!data)
      return makeStatus(MOERT_RESOURCE_EXHAUSTED,
                        std::string("no memory to assemble "
                                    "weight '") +
                            name + "' " + shapeString(w.shape));
    *out_tensor = {static_cast<moert_dtype_t>(w.dtype),
                   static_cast<int32_t>(w.shape.size()), w.shape.data(),
                   const_cast<void *>(data)};
    return nullptr;
  });
}

moert_status_t moert_session_check_weights(moert_session_t *session,
                                           const char *function) {
  return moert::guardEntry(
      "moert_session_check_weights", [&]() -> moert_status_t {
        if (!session || !function)
          return makeStatus(MOERT_INVALID_ARGUMENT,
                            "session or function is null");
        SessionUse use(*session);
        if (moert_status_t st = use.status("moert_session_check_weights"))
          return st;
        const Function *fn = session->artifact->find(function);
        if (!fn)
          return makeStatus(MOERT_NOT_FOUND, std::string("no function '") +
                                                 function + "' in " +
                                                 session->artifact->path);
        std::string missing;
        unsigned count = 0;
        bool noMemory = false;
        for (const Param &p : fn->args) {
          if (!p.isWeight || session->weights.count(p.name))
            continue;
          std::string why;
          if (resolveWeight(*session, p, why, noMemory))
            continue;
          missing += (count++ ? ", '" : "'") + p.name + "' " +
                     moe::dtypeName(p.dtype) + " " + shapeString(p.shape) + why;
        }
        if (!count)
          return nullptr;
        std::string searched;
        for (const auto &f : session->files)
          searched += (searched.empty() ? "" : ", ") + f->path();
        return makeStatus(
            noMemory ? MOERT_RESOURCE_EXHAUSTED : MOERT_FAILED_PRECONDITION,
            "function '" + fn->name + "': " + std::to_string(count) +
                " weight" + (count > 1 ? "s" : "") + " not bound: " + missing +
                (searched.empty() ? std::string(" (no weights file bound)")
                                  : " (not found in " + searched + ")"));
      });
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
