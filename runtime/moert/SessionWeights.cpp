//===- SessionWeights.cpp - weights: bind, resolve, assemble, pack, upload ===//
#include "runtime/moert/Internal.h"
#include "runtime/moert/Packing.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <new>
#include <numeric>

#include <sys/stat.h>

using namespace moert;

namespace {

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

constexpr const char *kCallerMemory = "caller memory";

/// Whether `path` exists and is not a directory.
bool isFile(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

/// A weight argument that reads a tensor, and the shape it expects of it;
/// `part` names what the tensor is of a weight assembled from tensors of
/// other dtypes ("MXFP4 blocks" or "MXFP4 scales", both U8, of an mxfp4
/// weight in the OCP layout; "FP8 values", F8_E4M3, or "FP8 block scales",
/// F32, of an fp8_e4m3 weight), and `storage` their safetensors dtype;
/// both null otherwise.
struct TensorUse {
  const Param *param;
  std::vector<int64_t> shape;
  const char *part = nullptr;
  const char *storage = nullptr;
};

/// A binding of a weight of `dtype` and `shape` from `source` (a file path
/// or kCallerMemory) read at `data`, or assembled later when null.
BoundWeight boundWeight(moe::DType dtype, std::vector<int64_t> shape,
                        const void *data, std::string source) {
  BoundWeight w;
  w.dtype = dtype;
  w.shape = std::move(shape);
  w.data = data;
  w.source = std::move(source);
  return w;
}

/// The tensors holding weight `p`'s values: itself or its stack.
std::vector<std::string> valuesOf(const Param &p) {
  return p.stack.empty() ? std::vector<std::string>{p.name} : p.stack;
}

/// The tensor names a weight reads: itself, the parts of its stack, its
/// OCP codes and scales, or its FP8 values and block scales.
std::vector<std::string> sourcesOf(const Param &p) {
  if (!p.mxScales.empty())
    return {p.name, p.mxScales};
  std::vector<std::string> sources = valuesOf(p);
  sources.insert(sources.end(), p.blockScales.begin(), p.blockScales.end());
  return sources;
}

/// FP8 block scales: one per 128 x 128 block.
constexpr int64_t kFp8ScaleBlock = 128;

/// The shape of each of an fp8_e4m3 weight's block scales tensors,
/// [ceil(N / 128), K / 128] for sources [N, K].
std::vector<int64_t> fp8ScalesShape(const Param &p) {
  int64_t n = p.shape[p.shape.size() - 2], k = p.shape.back();
  return {(n + kFp8ScaleBlock - 1) / kFp8ScaleBlock, k / kFp8ScaleBlock};
}

/// The shapes of an mxfp4 weight's OCP codes and scales: [..., N, K/32, 16]
/// and [..., N, K/32] for [..., N, K].
std::pair<std::vector<int64_t>, std::vector<int64_t>>
mxPartShapes(const Param &p) {
  std::vector<int64_t> scales = p.shape;
  scales.back() /= moe::dtypeBlockElements(moe::DType::MXFP4);
  std::vector<int64_t> codes = scales;
  codes.push_back(16);
  return {codes, scales};
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
  std::vector<int64_t> shape = p.shape;
  // A rank's slots come from the tensor of every expert.
  if (p.slots)
    shape[0] = p.slots->experts;
  return partShape(shape, !p.stack.empty(), p.transposed);
}

/// The bytes of a weight of `shape` as stored (moe::dtypeBytes: whole
/// blocks of a block-quantized dtype; the shapes here were checked).
size_t storedBytes(moe::DType t, const std::vector<int64_t> &shape) {
  uint64_t bytes = 0;
  moe::dtypeBytes(t,
                  std::accumulate(shape.begin(), shape.end(), uint64_t(1),
                                  std::multiplies<uint64_t>()),
                  shape.empty() ? 1 : shape.back(), bytes);
  return bytes;
}

std::vector<TensorUse> consumersOf(const moert_artifact_s &artifact,
                                   const std::string &tensor) {
  std::vector<TensorUse> uses;
  for (const Function &f : artifact.functions)
    for (const Param &p : f.args) {
      if (!p.isWeight)
        continue;
      if (!p.mxScales.empty()) {
        auto [codes, scales] = mxPartShapes(p);
        if (tensor == p.name)
          uses.push_back({&p, codes, "MXFP4 blocks", "U8"});
        if (tensor == p.mxScales)
          uses.push_back({&p, scales, "MXFP4 scales", "U8"});
        continue;
      }
      if (!p.blockScales.empty()) {
        std::vector<std::string> values = valuesOf(p);
        if (std::find(values.begin(), values.end(), tensor) != values.end())
          uses.push_back({&p, sourceShape(p), "FP8 values", "F8_E4M3"});
        if (std::find(p.blockScales.begin(), p.blockScales.end(), tensor) !=
            p.blockScales.end())
          uses.push_back({&p, fp8ScalesShape(p), "FP8 block scales", "F32"});
        continue;
      }
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

/// Binds mxfp4 weight `p` from its OCP codes and scales in the catalog
/// (their dtypes and shapes were checked when their file was bound),
/// assembled into the blocks the kernels read; the source pages are
/// released from resident memory after. Returns false as resolveWeight.
bool resolveMxfp4(moert_session_s &s, const Param &p, std::string &why,
                  bool &noMemory) {
  auto codes = s.catalog.find(p.name), scales = s.catalog.find(p.mxScales);
  if (codes == s.catalog.end() || scales == s.catalog.end()) {
    why = std::string(" (MXFP4 ") +
          (codes == s.catalog.end() ? "blocks" : "scales") + " tensor '" +
          (codes == s.catalog.end() ? p.name : p.mxScales) + "' missing)";
    return false;
  }
  const moe::safetensors::TensorInfo &scaleInfo = *scales->second.info;
  size_t blocks = scaleInfo.end - scaleInfo.begin;
  std::shared_ptr<std::vector<unsigned char>> owned;
  try {
    owned = std::make_shared<std::vector<unsigned char>>(
        blocks * moe::dtypeBlockBytes(moe::DType::MXFP4));
  } catch (const std::bad_alloc &) {
    noMemory = true;
    why = " (no memory to assemble its MXFP4 blocks)";
    return false;
  }
  const moe::safetensors::File &codeFile = *codes->second.file;
  const auto *codeData =
      static_cast<const uint8_t *>(codeFile.data(*codes->second.info));
  const auto *scaleData =
      static_cast<const uint8_t *>(scales->second.file->data(scaleInfo));
  // In steps of 1 MiB of codes, releasing what was read as it goes, so the
  // session never holds both forms of more than a step.
  constexpr size_t kStep = size_t(1) << 16;
  for (size_t b = 0; b < blocks; b += kStep) {
    size_t n = std::min(kStep, blocks - b);
    moe::mxfp4FromOcp(codeData + 16 * b, scaleData + b, n,
                      owned->data() + 17 * b);
    codeFile.release(*codes->second.info, 16 * (b + n));
    scales->second.file->release(scaleInfo, b + n);
  }
  BoundWeight w = boundWeight(p.dtype, p.shape, owned->data(), codeFile.path());
  w.owned = owned;
  s.weights[p.name] = std::move(w);
  return true;
}

/// Binds fp8_e4m3 weight `p` from its F8_E4M3 values and f32 block scales
/// in the catalog (dtypes and shapes checked when their file was bound),
/// assembled into the 132-byte blocks the kernels read, each tensor's
/// source pages released after. A NaN code (0x7F, 0xFF) is refused, said
/// in `invalid`. Returns false as resolveWeight.
bool resolveFp8(moert_session_s &s, const Param &p, std::string &why,
                bool &noMemory, std::string &invalid) {
  const std::vector<std::string> values = valuesOf(p);
  for (size_t i = 0; i < values.size(); ++i)
    for (const std::string *name : {&values[i], &p.blockScales[i]})
      if (!s.catalog.count(*name)) {
        why = std::string(" (FP8 ") +
              (name == &values[i] ? "values" : "block scales") + " tensor '" +
              *name + "' missing)";
        return false;
      }
  size_t n = static_cast<size_t>(p.shape[p.shape.size() - 2]);
  size_t kBlocks = static_cast<size_t>(p.shape.back() / kFp8ScaleBlock);
  size_t blockBytes = moe::dtypeBlockBytes(moe::DType::FP8_E4M3);
  size_t partBytes = n * kBlocks * blockBytes;
  std::shared_ptr<std::vector<unsigned char>> owned;
  try {
    owned =
        std::make_shared<std::vector<unsigned char>>(values.size() * partBytes);
  } catch (const std::bad_alloc &) {
    noMemory = true;
    why = " (no memory to assemble its FP8 blocks)";
    return false;
  }
  for (size_t e = 0; e < values.size(); ++e) {
    const auto &v = s.catalog.at(values[e]);
    const auto &sc = s.catalog.at(p.blockScales[e]);
    const auto *q = static_cast<const uint8_t *>(v.file->data(*v.info));
    const auto *scales = static_cast<const uint8_t *>(sc.file->data(*sc.info));
    unsigned char *out = owned->data() + e * partBytes;
    for (size_t r = 0; r < n; ++r) {
      const uint8_t *row = q + r * kBlocks * kFp8ScaleBlock;
      for (size_t kb = 0; kb < kBlocks; ++kb, out += blockBytes) {
        // Scales may sit at any byte offset of the file.
        std::memcpy(out, scales + 4 * ((r / kFp8ScaleBlock) * kBlocks + kb), 4);
        const uint8_t *block = row + kb * kFp8ScaleBlock;
        std::memcpy(out + 4, block, kFp8ScaleBlock);
        for (size_t j = 0; j < kFp8ScaleBlock; ++j)
          if ((block[j] & 0x7f) == 0x7f) {
            invalid = "tensor '" + values[e] + "' holds the e4m3 NaN code " +
                      (block[j] == 0x7f ? "0x7F" : "0xFF") + " at [" +
                      std::to_string(r) + ", " +
                      std::to_string(kb * kFp8ScaleBlock + j) + "]";
            return false;
          }
      }
    }
    v.file->release(*v.info, v.info->end - v.info->begin);
    sc.file->release(*sc.info, sc.info->end - sc.info->begin);
  }
  BoundWeight w = boundWeight(p.dtype, p.shape, owned->data(),
                              s.catalog.at(values.front()).file->path());
  w.owned = owned;
  s.weights[p.name] = std::move(w);
  return true;
}

/// Binds weight `p` from the catalog: in place when the file holds it as
/// the function reads it, else as its source tensors, assembled (stacked,
/// transposed) only when something reads the weight unpacked. Returns false
/// when a source tensor is missing, with `why` saying which (empty for a
/// weight that is its own single tensor), when there is no memory to
/// convert one (`noMemory` set), or when a source holds values the kernels
/// cannot read (`invalid` says which).
bool resolveWeight(moert_session_s &s, const Param &p, std::string &why,
                   bool &noMemory, std::string &invalid);

/// Binds weight `p`, of which this rank holds its slots (Param::slots):
/// its experts' tensors of a stack as a stack, or their slices of one
/// tensor as parts, converted one by one where stored in another dtype;
/// nothing of the other experts is read. Returns false as resolveWeight,
/// and also before the session has its group (the rank).
bool resolveSlots(moert_session_s &s, const Param &p, std::string &why,
                  bool &noMemory, std::string &invalid) {
  const Param::ExpertSlots &slots = *p.slots;
  // moert_session_check_weights checked the group first.
  if (!s.group.set || s.group.table.size != slots.ranks())
    return false;
  std::vector<int64_t> experts(
      slots.physToLog.begin() + s.group.table.rank * slots.perRank,
      slots.physToLog.begin() + (s.group.table.rank + 1) * slots.perRank);
  Param local = p;
  local.slots.reset();
  if (!p.stack.empty()) {
    local.stack.clear();
    local.blockScales.clear();
    for (int64_t e : experts) {
      local.stack.push_back(p.stack[static_cast<size_t>(e)]);
      if (!p.blockScales.empty())
        local.blockScales.push_back(p.blockScales[static_cast<size_t>(e)]);
    }
    return resolveWeight(s, local, why, noMemory, invalid);
  }
  auto it = s.catalog.find(p.name);
  if (it == s.catalog.end())
    return false;
  const moe::safetensors::TensorInfo &info = *it->second.info;
  const auto *data =
      static_cast<const unsigned char *>(it->second.file->data(info));
  std::optional<moe::DType> stored = moe::dtypeFromStorageName(info.dtype);
  // Checked when the file was bound: the weight's dtype, its stored one,
  // or a block-quantized weight's bytes (U8).
  moe::DType from = stored && *stored != p.dtype ? *stored : p.dtype;
  std::vector<int64_t> expert(p.shape.begin() + 1, p.shape.end());
  size_t expertBytes = storedBytes(from, expert);
  size_t count = std::accumulate(expert.begin(), expert.end(), size_t(1),
                                 std::multiplies<size_t>());
  BoundWeight w =
      boundWeight(p.dtype, p.shape, nullptr, it->second.file->path());
  w.stacked = true;
  w.transposed = p.transposed;
  w.partTensors.assign(experts.size(), it->second);
  for (int64_t e : experts) {
    const unsigned char *part = data + static_cast<size_t>(e) * expertBytes;
    if (from != p.dtype) {
      auto buffer = convertTensor(part, from, p.dtype, count);
      if (!buffer) {
        noMemory = true;
        why = " (no memory to convert '" + p.name + "' from " +
              moe::dtypeName(from) + ")";
        return false;
      }
      part = buffer->data();
      w.converted.push_back(std::move(buffer));
    }
    w.parts.push_back(part);
  }
  s.weights[p.name] = std::move(w);
  return true;
}

bool resolveWeight(moert_session_s &s, const Param &p, std::string &why,
                   bool &noMemory, std::string &invalid) {
  if (p.slots)
    return resolveSlots(s, p, why, noMemory, invalid);
  if (!p.mxScales.empty())
    return resolveMxfp4(s, p, why, noMemory);
  if (!p.blockScales.empty())
    return resolveFp8(s, p, why, noMemory, invalid);
  std::vector<std::string> sources = sourcesOf(p);
  std::vector<const void *> parts;
  std::vector<CatalogEntry> partTensors;
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
    CatalogEntry mapped = it->second;
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
      // No longer the mapped tensor's: nothing to release.
      mapped = CatalogEntry();
    }
    parts.push_back(data);
    partTensors.push_back(std::move(mapped));
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
  BoundWeight w = boundWeight(p.dtype, p.shape, nullptr, from);
  w.converted = std::move(converted);
  if (p.isAssembled()) {
    w.parts = std::move(parts);
    w.partTensors = std::move(partTensors);
    w.stacked = !p.stack.empty();
    w.transposed = p.transposed;
  } else {
    w.data = parts.front();
  }
  s.weights[p.name] = std::move(w);
  return true;
}

/// Releases the mapped pages of part `i` of weight `w` from `from` on for
/// `bytes`, once they are copied or packed (advice: a page read again is
/// read from the file).
void releasePart(const BoundWeight &w, size_t i, const void *from,
                 size_t bytes) {
  if (i < w.partTensors.size() && w.partTensors[i].file)
    w.partTensors[i].file->release(*w.partTensors[i].info, from, bytes);
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

} // namespace

std::vector<int64_t> moert::storageShape(moe::DType dtype,
                                         std::vector<int64_t> shape) {
  if (moe::isBlockQuantized(dtype) && !shape.empty())
    shape.back() = moe::dtypeRowBytes(dtype, shape.back());
  return shape;
}

void moert::dropRankWeights(moert_session_s &session) {
  for (auto it = session.weights.begin(); it != session.weights.end();) {
    const Param *p = session.artifact->findWeight(it->first);
    bool rankSlots = p && p->slots && it->second.source != kCallerMemory;
    it = rankSlots ? session.weights.erase(it) : std::next(it);
  }
}

const void *moert::weightData(const BoundWeight &w) {
  if (w.data)
    return w.data;
  size_t elt = moe::dtypeSize(w.dtype);
  std::vector<int64_t> part = partShape(w.shape, w.stacked, w.transposed);
  int64_t partElems = std::accumulate(part.begin(), part.end(), int64_t(1),
                                      std::multiplies<int64_t>());
  // A block-quantized part (a rank's slot) is copied as its bytes.
  size_t partBytes = storedBytes(w.dtype, part);
  std::shared_ptr<std::vector<unsigned char>> owned;
  try {
    owned = std::make_shared<std::vector<unsigned char>>(partBytes *
                                                         w.parts.size());
  } catch (const std::bad_alloc &) {
    return nullptr;
  }
  // Source [..., b, a] to destination [..., a, b] when transposed.
  int64_t a = w.transposed ? part[part.size() - 1] : 0;
  int64_t b = w.transposed ? part[part.size() - 2] : 0;
  // Parts copied out of a mapped tensor leave its pages, one by one.
  for (size_t i = 0; i < w.parts.size(); ++i) {
    const auto *src = static_cast<const unsigned char *>(w.parts[i]);
    unsigned char *dst = owned->data() + i * partBytes;
    if (!w.transposed) {
      std::memcpy(dst, src, partBytes);
      releasePart(w, i, src, partBytes);
      continue;
    }
    int64_t matrices = partElems / (a * b);
    for (int64_t m = 0; m < matrices; ++m)
      for (int64_t r = 0; r < a; ++r)
        for (int64_t c = 0; c < b; ++c)
          std::memcpy(dst + ((m * a + r) * b + c) * elt,
                      src + ((m * b + c) * a + r) * elt, elt);
    releasePart(w, i, src, partBytes);
  }
  w.owned = std::move(owned);
  w.data = w.owned->data();
  return w.data;
}

const PackedBuffer *moert::packedData(moert_session_s &s, BoundWeight &w,
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

const PackedBuffer *moert::int8PanelData(moert_session_s &s, BoundWeight &w,
                                         const Param &p) {
  if (!w.int8Packed) {
    const moe::abi::Int8PanelLayout &layout = *p.int8Panels;
    std::vector<int64_t> shape = layout.packedShape(w.shape);
    auto buffer = std::make_shared<PackedBuffer>(static_cast<size_t>(
        std::accumulate(shape.begin(), shape.end(), int64_t(1),
                        std::multiplies<int64_t>())));
    // A quantized weight is bound as it lies (checkQuantized), or as the
    // experts' parts of a stack or a rank's slots, packed one by one (a
    // stack of rows is assembled first).
    bool byParts = !w.parts.empty() && w.shape.size() == 3;
    const auto *src =
        static_cast<const unsigned char *>(byParts ? nullptr : weightData(w));
    if (!buffer->data() || (!byParts && !src))
      return nullptr;
    // The panels hold the same bytes: the source pages of a weight mapped
    // from a file are released, in steps of about 16 MiB (or a slot) as
    // they are packed, so the session never holds both forms of more than
    // a step.
    const CatalogEntry *mapped = nullptr;
    if (auto it = s.catalog.find(p.name); it != s.catalog.end())
      mapped = &it->second;
    auto release = [&](const unsigned char *from, size_t bytes) {
      if (mapped)
        mapped->file->release(*mapped->info, from, bytes);
    };
    int64_t n = w.shape[w.shape.size() - 2], k = w.shape.back();
    int64_t experts = w.shape.size() == 3 ? w.shape[0] : 1;
    size_t srcBytes = static_cast<size_t>(n * moe::dtypeRowBytes(w.dtype, k));
    size_t dstBytes = static_cast<size_t>(layout.matrixBytes(n, k));
    int64_t step =
        byParts ? 1 : std::max<int64_t>(1, (size_t(16) << 20) / srcBytes);
    for (int64_t e = 0; e < experts; e += step) {
      int64_t count = std::min(step, experts - e);
      std::vector<int64_t> part = {n, k};
      if (w.shape.size() == 3)
        part.insert(part.begin(), count);
      const unsigned char *from =
          byParts ? static_cast<const unsigned char *>(w.parts[e])
                  : src + e * srcBytes;
      packInt8Panels(
          from, static_cast<unsigned char *>(buffer->data()) + e * dstBytes,
          part, layout, s.pool.get());
      // Up to the step's end, for a weight that is the mapped tensor.
      if (byParts)
        releasePart(w, static_cast<size_t>(e), from, srcBytes);
      else
        release(src, (e + count) * srcBytes);
    }
    w.int8Packed = buffer;
  }
  return w.int8Packed.get();
}

moert_status_t moert::deviceWeight(moert_session_s &s, const std::string &fn,
                                   const Param &p, BoundWeight &w,
                                   const void *&out) {
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

extern "C" {

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
            if (u.part) {
              if (t.dtype != u.storage || t.shape != u.shape)
                return makeStatus(MOERT_INVALID_ARGUMENT,
                                  std::string(path) + ": tensor '" + t.name +
                                      "' is " + t.dtype + " " +
                                      shapeString(t.shape) +
                                      " but the artifact expects " + u.storage +
                                      " " + shapeString(u.shape) + " (the " +
                                      u.part + " of weight '" + u.param->name +
                                      "' " + shapeString(u.param->shape) + ")");
              continue;
            }
            std::optional<moe::DType> dt = moe::dtypeFromStorageName(t.dtype);
            // A weight recorded as stored in another dtype is converted when
            // resolved; it may also come in the dtype the function takes. A
            // block-quantized one may come as its bytes (U8, rows in bytes).
            bool dtypeOk =
                dt && (*dt == u.param->dtype || dt == u.param->storedDtype);
            std::optional<std::vector<int64_t>> asBytes =
                moe::blockBytesShape(u.param->dtype, u.shape);
            if (t.dtype == "U8" && asBytes && t.shape == *asBytes)
              continue;
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
                      (asBytes ? " (or its blocks as U8 " +
                                     shapeString(*asBytes) + ")"
                               : std::string()) +
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
        session->weights[name] =
            boundWeight(p->dtype, p->shape, tensor->data, kCallerMemory);
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
        // A rank binds its slots' experts: it needs its group first.
        for (const Param &p : fn->args)
          if (p.isWeight && p.slots && !session->weights.count(p.name) &&
              (!session->group.set ||
               session->group.table.size != p.slots->ranks()))
            return makeStatus(
                MOERT_FAILED_PRECONDITION,
                "function '" + fn->name + "': weight '" + p.name +
                    "' holds the experts of one rank of " +
                    std::to_string(p.slots->ranks()) + ": " +
                    (session->group.set
                         ? "the session's group has " +
                               std::to_string(session->group.table.size) +
                               " ranks"
                         : std::string("give the session its expert-parallel "
                                       "group first "
                                       "(moert_session_set_collectives)")));
        std::string missing;
        unsigned count = 0;
        bool noMemory = false;
        for (const Param &p : fn->args) {
          if (!p.isWeight || session->weights.count(p.name))
            continue;
          std::string why, invalid;
          if (resolveWeight(*session, p, why, noMemory, invalid))
            continue;
          if (!invalid.empty())
            return makeStatus(MOERT_INVALID_ARGUMENT,
                              "function '" + fn->name + "': weight '" + p.name +
                                  "' " + moe::dtypeName(p.dtype) + " " +
                                  shapeString(p.shape) + ": " + invalid);
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

} // extern "C"
