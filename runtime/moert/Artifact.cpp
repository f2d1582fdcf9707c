//===- Artifact.cpp - loading moe-compile's shared objects ----------------===//
#include "runtime/abi/ArtifactAbi.h"
#include "runtime/moert/CudaLaunch.h"
#include "runtime/moert/Internal.h"
#include "runtime/support/FileIO.h"

#include <climits>
#include <cstring>
#include <dlfcn.h>
#include <set>
#include <unistd.h>

using namespace moert;
namespace abi = moe::abi;
namespace json = moe::json;
using moe::abi::Int8PanelLayout;
using moe::abi::PanelLayout;

namespace {

/// A block-quantized parameter is a weight bound as it lies (not
/// assembled, converted or packed into float panels; int8 panels are
/// checked where they are read) whose rows are whole blocks.
std::string checkQuantized(const Param &p, bool result) {
  if (!moe::isBlockQuantized(p.dtype))
    return "";
  std::string what = std::string(result ? "result" : "argument") + " '" +
                     p.name + "' of dtype " + moe::dtypeName(p.dtype);
  if (!p.isWeight)
    return what + ": only weights may be quantized";
  // Stacked from tensors of its dtype (fp8_e4m3 from F8_E4M3 values and
  // their block scales), but not from MXFP4's OCP codes and scales.
  if (p.transposed || p.storedDtype || p.panel ||
      (!p.stack.empty() && !p.mxScales.empty()))
    return what + ": a quantized weight cannot be transposed, converted, "
                  "packed or stacked from OCP codes and scales";
  int64_t block = moe::dtypeBlockElements(p.dtype);
  if (p.shape.empty() || p.shape.back() < 0 || p.shape.back() % block != 0)
    return what + ": its rows must be whole blocks of " +
           std::to_string(block) + " elements, got shape " +
           shapeString(p.shape);
  return "";
}

/// Whether `s` can be handed out as a C string unchanged: the C API names
/// functions and parameters by NUL-terminated strings, and a name with a
/// NUL inside would read as another (JSON allows "\u0000").
bool isCName(const std::string &s) {
  return !s.empty() && s.find('\0') == std::string::npos;
}

/// Reads a weight's "expert_slots" into `p.slots`; "" or what is wrong.
std::string parseExpertSlots(const json::Value &v, Param &p) {
  const json::Value *experts = v.isObject() ? v.get("experts") : nullptr;
  const json::Value *perRank = v.isObject() ? v.get("slots_per_rank") : nullptr;
  const json::Value *physToLog =
      v.isObject() ? v.getArray("phys_to_log") : nullptr;
  std::optional<int64_t> e = experts ? experts->asInt64() : std::nullopt;
  std::optional<int64_t> s = perRank ? perRank->asInt64() : std::nullopt;
  if (!e || !s || !physToLog)
    return "must be {\"experts\": E, \"slots_per_rank\": S, "
           "\"phys_to_log\": [...]}";
  if (!p.isWeight || p.shape.size() < 2 || *s < 1 || p.shape[0] != *s)
    return "needs a weight of rank >= 2 whose leading dimension is its "
           "slots_per_rank, got " +
           shapeString(p.shape) + " for " + std::to_string(*s) + " slots";
  if (*e < 1 || *e > (int64_t(1) << 22))
    return "has " + std::to_string(*e) + " experts";
  Param::ExpertSlots slots{*e, *s, {}};
  for (const json::Value &x : physToLog->elements()) {
    std::optional<int64_t> expert = x.asInt64();
    if (!expert || *expert < 0 || *expert >= *e)
      return "phys_to_log must hold experts in [0, " + std::to_string(*e) + ")";
    slots.physToLog.push_back(*expert);
  }
  if (slots.physToLog.empty() ||
      slots.physToLog.size() % static_cast<size_t>(*s) != 0)
    return "phys_to_log must have a positive multiple of slots_per_rank (" +
           std::to_string(*s) + ") entries, got " +
           std::to_string(slots.physToLog.size());
  p.slots = std::move(slots);
  return "";
}

std::string parseParams(const json::Value *list, bool results,
                        std::vector<Param> &out) {
  if (!list || !list->isArray())
    return std::string("missing '") + (results ? "results" : "arguments") + "'";
  for (const json::Value &v : list->elements()) {
    Param p;
    const std::string *name = v.getString("name");
    const std::string *dtype = v.getString("dtype");
    const json::Value *shape = v.getArray("shape");
    if (!name || !dtype || !shape)
      return "a parameter lacks name, dtype or shape";
    if (!isCName(*name))
      return std::string("a parameter's name is empty or contains a NUL "
                         "character");
    p.name = *name;
    std::optional<moe::DType> dt = moe::parseDType(*dtype);
    if (!dt)
      return "parameter '" + p.name + "' has unknown dtype '" + *dtype + "'";
    p.dtype = *dt;
    for (const json::Value &d : shape->elements()) {
      std::optional<int64_t> n = d.asInt64();
      if (!n || *n < -1)
        return "parameter '" + p.name + "' has a bad shape";
      p.shape.push_back(*n);
    }
    if (!results) {
      const std::string *kind = v.getString("kind");
      if (!kind || (*kind != "input" && *kind != "weight"))
        return "argument '" + p.name + "' has no kind input/weight";
      p.isWeight = *kind == "weight";
      if (const json::Value *slots = v.get("expert_slots"))
        if (std::string err = parseExpertSlots(*slots, p); !err.empty())
          return "argument '" + p.name + "': 'expert_slots' " + err;
      if (const json::Value *stack = v.getArray("stack")) {
        for (const json::Value &t : stack->elements()) {
          if (!t.isString())
            return "argument '" + p.name + "': 'stack' must list names";
          p.stack.push_back(t.asString());
        }
        // A rank's slots read some of the stack: every expert is named.
        int64_t named = p.slots           ? p.slots->experts
                        : p.shape.empty() ? -1
                                          : p.shape[0];
        if (p.stack.empty() || named != static_cast<int64_t>(p.stack.size()))
          return "argument '" + p.name +
                 "': 'stack' must name one tensor per leading index";
      }
      if (const bool *t = v.getBool("transposed"))
        p.transposed = *t;
      if (const json::Value *stored = v.get("stored_dtype")) {
        std::optional<moe::DType> st = stored->isString()
                                           ? moe::parseDType(stored->asString())
                                           : std::nullopt;
        if (!st)
          return "argument '" + p.name +
                 "': 'stored_dtype' must be f32, bf16 or f16";
        if (!p.isWeight)
          return "argument '" + p.name + "': 'stored_dtype' needs a weight";
        if (*st != p.dtype)
          p.storedDtype = *st;
      }
      if (const json::Value *mx = v.get("mx_scales")) {
        if (!mx->isString() || mx->asString().empty() || !p.isWeight ||
            p.dtype != moe::DType::MXFP4)
          return "argument '" + p.name +
                 "': 'mx_scales' names the scales tensor of an mxfp4 weight";
        p.mxScales = mx->asString();
      }
      if (p.slots &&
          (!p.mxScales.empty() || (v.get("block_scales") && p.stack.empty())))
        return "argument '" + p.name +
               "': 'expert_slots' cannot take slices of an MXFP4 weight "
               "in the OCP layout or of an FP8 weight of one tensor";
      if (const json::Value *bs = v.get("block_scales")) {
        size_t sources = p.stack.empty() ? 1 : p.stack.size();
        bool ok = bs->isArray() && bs->elements().size() == sources &&
                  p.isWeight && p.dtype == moe::DType::FP8_E4M3 &&
                  p.shape.size() >= 2 && p.mxScales.empty();
        if (ok)
          for (const json::Value &t : bs->elements()) {
            ok &= t.isString() && !t.asString().empty();
            if (ok)
              p.blockScales.push_back(t.asString());
          }
        if (!ok)
          return "argument '" + p.name +
                 "': 'block_scales' names one scales tensor per source of an "
                 "fp8_e4m3 weight";
      }
      if (p.transposed && p.shape.size() < 2)
        return "argument '" + p.name + "': 'transposed' needs rank >= 2";
      if (const json::Value *packed = v.get("packed")) {
        const json::Value *panel =
            packed->isObject() ? packed->get("panel") : nullptr;
        std::optional<int64_t> width =
            panel ? panel->asInt64() : std::optional<int64_t>();
        if (!width || !PanelLayout::validPanel(*width))
          return "argument '" + p.name +
                 "': 'packed' must be {\"panel\": N} with 1 <= N <= " +
                 std::to_string(PanelLayout::kMaxPanel);
        if (!p.isWeight || (p.shape.size() != 2 && p.shape.size() != 3))
          return "argument '" + p.name +
                 "': 'packed' needs a weight of rank 2 or 3";
        p.panel = *width;
        if (const json::Value *group = packed->get("k_group")) {
          std::optional<int64_t> g = group->asInt64();
          if (!g || !PanelLayout::validKGroup(*g))
            return "argument '" + p.name +
                   "': 'packed' k_group must be an integer in [1, " +
                   std::to_string(PanelLayout::kMaxKGroup) + "]";
          p.kGroup = *g;
        }
        if (const json::Value *slices = packed->get("slices")) {
          std::optional<int64_t> n = slices->asInt64();
          int64_t rows = p.shape[p.shape.size() - 2];
          if (!n || !PanelLayout::validSlices(*n, p.panel, rows))
            return "argument '" + p.name +
                   "': 'packed' slices must be an integer in [1, " +
                   std::to_string(PanelLayout::kMaxSlices) +
                   "] whose product with the panel divides " +
                   std::to_string(rows);
          p.slices = *n;
        }
        // Whatever the checks above let through, the shared layout accepts.
        if (std::string err = p.layout().validate(p.shape); !err.empty())
          return "argument '" + p.name + "': 'packed': " + err;
      }
      if (const json::Value *int8 = v.get("int8_panels")) {
        std::optional<Int8PanelLayout> layout =
            Int8PanelLayout::forDType(moe::dtypeName(p.dtype));
        if (!int8->isBool() || !p.isWeight || !layout || !p.mxScales.empty())
          return "argument '" + p.name +
                 "': 'int8_panels' must be true or false, on a " +
                 Int8PanelLayout::dtypeList("or") +
                 " weight without 'mx_scales'";
        if (int8->asBool()) {
          if (std::string err = layout->validate(p.shape); !err.empty())
            return "argument '" + p.name + "': 'int8_panels': " + err;
          p.int8Panels = layout;
        }
      }
    }
    if (std::string err = checkQuantized(p, results); !err.empty())
      return err;
    out.push_back(std::move(p));
  }
  return "";
}

void fillCParams(const std::vector<Param> &params,
                 std::vector<moert_param_t> &out) {
  out.clear();
  for (const Param &p : params)
    out.push_back({p.name.c_str(), p.isWeight ? 1 : 0,
                   static_cast<moert_dtype_t>(p.dtype),
                   static_cast<int32_t>(p.shape.size()), p.shape.data()});
}

} // namespace

namespace {
/// Stores `fn` in the artifact's pointer slot `name`, when it has one.
template <typename Fn>
void bindSlot(void *handle, const char *name, Fn *fn) {
  if (void *slot = dlsym(handle, name))
    std::memcpy(slot, &fn, sizeof(fn));
}

/// Reads a function's "routing_sites" (absent: none) into `sites`.
std::string parseRoutingSites(const json::Value &f,
                              std::vector<RoutingSite> &sites) {
  const json::Value *list = f.get("routing_sites");
  if (!list)
    return "";
  if (!list->isArray())
    return "'routing_sites' is not an array";
  std::set<int64_t> seen;
  for (const json::Value &s : list->elements()) {
    auto field = [&](const char *key) -> std::optional<int64_t> {
      const json::Value *v = s.get(key);
      return v ? v->asInt64() : std::nullopt;
    };
    std::optional<int64_t> site = field("site"), experts = field("experts"),
                           k = field("k");
    if (!site || !experts || !k || *site < 0 || *experts < 1 ||
        *experts > kMaxRoutingExperts || *k < 1 || *k > *experts)
      return "routing site " + std::to_string(sites.size()) +
             " needs integers site >= 0, experts in [1, " +
             std::to_string(kMaxRoutingExperts) + "] and k in [1, experts]";
    if (!seen.insert(*site).second)
      return "routing site " + std::to_string(*site) + " is listed twice";
    sites.push_back({*site, *experts, *k});
  }
  return "";
}
} // namespace

std::string moert::parseMetadata(moert_artifact_s &a,
                                 void *(*resolve)(void *ctx,
                                                  const char *symbol),
                                 void *ctx) {
  json::Value doc;
  if (std::string err = json::parse(a.metadataText, doc); !err.empty())
    return "corrupt metadata: " + err;
  const std::string *format = doc.getString("format");
  if (!format || *format != abi::kMetadataFormat)
    return "not a moec artifact (metadata format)";
  const json::Value *version = doc.get("version");
  if (!version ||
      version->asInt64() != std::optional<int64_t>(abi::kMetadataVersion))
    return "unsupported artifact format version (this runtime reads " +
           std::to_string(abi::kMetadataVersion) + ")";
  // The target decides the device kind the code needs; a device checks the
  // rest (Device.h).
  if (const json::Value *target = doc.getObject("target")) {
    if (const std::string *triple = target->getString("triple"))
      a.target.triple = *triple;
    if (const std::string *cpu = target->getString("cpu"))
      a.target.cpu = *cpu;
    if (const json::Value *req = target->getArray("required_features"))
      for (const json::Value &f : req->elements())
        if (f.isString())
          a.target.features.push_back(f.asString());
    a.target.kind = deviceKindOfTriple(a.target.triple);
  }
  if (const json::Value *weights = doc.getArray("weights"))
    for (const json::Value &w : weights->elements())
      if (w.isString())
        a.weightFiles.push_back(w.asString());
  const json::Value *functions = doc.getArray("functions");
  if (!functions || functions->elements().empty())
    return "the artifact has no functions";
  for (const json::Value &f : functions->elements()) {
    Function fn;
    const std::string *name = f.getString("name");
    const std::string *symbol = f.getString("symbol");
    if (!name || !symbol)
      return "a function lacks name or symbol";
    if (!isCName(*name) || !isCName(*symbol))
      return "a function's name or symbol is empty or contains a NUL "
             "character";
    for (const Function &other : a.functions)
      if (other.name == *name)
        return "two functions are named '" + *name + "'";
    fn.name = *name;
    fn.symbol = *symbol;
    if (std::string err = parseParams(f.get("arguments"), false, fn.args);
        !err.empty())
      return "function '" + fn.name + "': " + err;
    if (std::string err = parseParams(f.get("results"), true, fn.results);
        !err.empty())
      return "function '" + fn.name + "': " + err;
    if (std::string err = parseRoutingSites(f, fn.routingSites); !err.empty())
      return "function '" + fn.name + "': " + err;
    if (const json::Value *ep = f.get("expert_parallel")) {
      const json::Value *devices = ep->get("devices");
      std::optional<int64_t> n = devices ? devices->asInt64() : std::nullopt;
      if (!n || *n < 1 || *n > (int64_t(1) << 24))
        return "function '" + fn.name +
               "': 'expert_parallel' needs 'devices', an integer in [1, "
               "2^24]";
      fn.expertParallelDevices = *n;
    }
    fn.entry = reinterpret_cast<EntryFn>(resolve(ctx, symbol->c_str()));
    if (!fn.entry)
      return "entry point '" + *symbol + "' is missing";
    a.functions.push_back(std::move(fn));
  }
  for (Function &fn : a.functions) {
    fillCParams(fn.args, fn.cArgs);
    fillCParams(fn.results, fn.cResults);
  }
  return "";
}

namespace {

/// The absolute directory of file `path` (symbolic links not resolved).
std::string directoryOf(const std::string &path) {
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "."
                    : slash == 0               ? "/"
                                               : path.substr(0, slash);
  if (dir[0] == '/')
    return dir;
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof(cwd)))
    return dir;
  return dir == "." ? std::string(cwd) : std::string(cwd) + "/" + dir;
}

} // namespace

const Function *moert_artifact_s::find(const std::string &name) const {
  for (const Function &f : functions)
    if (f.name == name)
      return &f;
  return nullptr;
}

const Param *moert_artifact_s::findWeight(const std::string &name) const {
  for (const Function &f : functions)
    for (const Param &p : f.args)
      if (p.isWeight && p.name == name)
        return &p;
  return nullptr;
}

extern "C" {

moert_status_t moert_artifact_load(const char *path,
                                   moert_artifact_t **out_artifact) {
  return moert::guardEntry("moert_artifact_load", [&]() -> moert_status_t {
    if (!out_artifact)
      return makeStatus(MOERT_INVALID_ARGUMENT, "out_artifact is null");
    *out_artifact = nullptr;
    if (!path)
      return makeStatus(MOERT_INVALID_ARGUMENT, "path is null");
    // A bare file name is a file here, not a library to search for.
    std::string file = path;
    if (file.find('/') == std::string::npos)
      file = "./" + file;
    // The seal first: the dynamic loader maps a truncated file and faults,
    // and runs whatever a flipped bit made of the code.
    std::string bytes;
    if (std::string err = moe::readFile(file, bytes); !err.empty())
      return makeStatus(MOERT_IO_ERROR, std::string("cannot load artifact '") +
                                            path + "': " + err);
    if (std::string err = abi::checkArtifactSeal(
            reinterpret_cast<const unsigned char *>(bytes.data()),
            bytes.size());
        !err.empty())
      return makeStatus(MOERT_IO_ERROR, std::string("cannot load artifact '") +
                                            path + "': " + err);
    bytes = std::string();
    void *handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char *err = dlerror();
      return makeStatus(MOERT_IO_ERROR,
                        std::string("cannot load artifact '") + path +
                            "': " + (err ? err : "unknown error"));
    }
    // Owned from here on: released by every way out, a thrown
    // std::bad_alloc included, until the artifact is handed out.
    std::unique_ptr<moert_artifact_s, void (*)(moert_artifact_t *)> a(
        nullptr, moert_artifact_release);
    try {
      a.reset(new moert_artifact_s());
    } catch (...) {
      dlclose(handle);
      throw;
    }
    a->handle = handle;
    const char *text =
        static_cast<const char *>(dlsym(handle, abi::kMetadataSymbol));
    if (!text) {
      return makeStatus(MOERT_INVALID_ARGUMENT,
                        std::string("'") + path +
                            "' is not a moec artifact (no " +
                            abi::kMetadataSymbol + " symbol)");
    }
    a->path = path;
    a->directory = directoryOf(file);
    a->metadataText = text;
    auto dlsymOf = [](void *lib, const char *symbol) {
      return dlsym(lib, symbol);
    };
    if (std::string err = parseMetadata(*a, dlsymOf, handle); !err.empty()) {
      return makeStatus(MOERT_UNSUPPORTED, std::string(path) + ": " + err);
    }
    // Code for the CPU must run on this one. A CUDA artifact loads without
    // a GPU (a session on a device is what needs one): its GPU work calls
    // this runtime, and its cubins are handed over now.
    if (a->target.kind == MOERT_DEVICE_CUDA) {
      if (std::string err = bindGpuRuntime(handle); !err.empty())
        return makeStatus(MOERT_UNSUPPORTED, std::string(path) + ": " + err);
      a->gpuBound = true;
    } else if (std::string unsupported = CpuDevice::host().supports(a->target);
               !unsupported.empty()) {
      return makeStatus(MOERT_UNSUPPORTED,
                        std::string(path) + ": " + unsupported);
    }
    // Generated parallel loops call back into this runtime's pool.
    if (void *slot = dlsym(handle, abi::kParallelForSlot)) {
      void (*fn)(ParallelBody, void *, int64_t) = moert_parallel_for;
      std::memcpy(slot, &fn, sizeof(fn));
    }
    // ... and allocate their scratch buffers from the session's cache.
    if (void *slot = dlsym(handle, abi::kAllocSlot)) {
      void *(*fn)(int64_t) = moert_scratch_alloc;
      std::memcpy(slot, &fn, sizeof(fn));
    }
    if (void *slot = dlsym(handle, abi::kFreeSlot)) {
      void (*fn)(void *) = moert_scratch_free;
      std::memcpy(slot, &fn, sizeof(fn));
    }
    // Layers report their expert selection to the session that records.
    if (void *slot = dlsym(handle, abi::kRecordRoutingSlot)) {
      void (*fn)(int64_t, const int32_t *, int64_t, int64_t, int64_t, int64_t) =
          moert_record_routing;
      std::memcpy(slot, &fn, sizeof(fn));
    }
    // Expert-parallel layers exchange rows through the session's group.
    bindSlot(handle, abi::kEpRankSlot, moert_ep_rank);
    bindSlot(handle, abi::kAllToAllSlot, moert_all_to_all);
    bindSlot(handle, abi::kAllToAllVSlot, moert_all_to_all_v);
    *out_artifact = a.release();
    return nullptr;
  });
}

void moert_artifact_release(moert_artifact_t *artifact) {
  if (!artifact || --artifact->refs > 0)
    return;
  if (artifact->gpuBound)
    unbindGpuRuntime(artifact->handle);
  if (artifact->handle)
    dlclose(artifact->handle);
  delete artifact;
}

moert_device_kind_t
moert_artifact_device_kind(const moert_artifact_t *artifact) {
  return artifact ? artifact->target.kind : MOERT_DEVICE_CPU;
}

const char *moert_artifact_metadata(const moert_artifact_t *artifact) {
  return artifact ? artifact->metadataText.c_str() : "";
}

int32_t moert_artifact_function_count(const moert_artifact_t *artifact) {
  return artifact ? static_cast<int32_t>(artifact->functions.size()) : 0;
}

const char *moert_artifact_function_name(const moert_artifact_t *artifact,
                                         int32_t index) {
  if (!artifact || index < 0 ||
      index >= static_cast<int32_t>(artifact->functions.size()))
    return nullptr;
  return artifact->functions[index].name.c_str();
}

int32_t moert_artifact_weight_file_count(const moert_artifact_t *artifact) {
  return artifact ? static_cast<int32_t>(artifact->weightFiles.size()) : 0;
}

const char *moert_artifact_weight_file(const moert_artifact_t *artifact,
                                       int32_t index) {
  if (!artifact || index < 0 ||
      index >= static_cast<int32_t>(artifact->weightFiles.size()))
    return nullptr;
  return artifact->weightFiles[index].c_str();
}

moert_status_t moert_artifact_function_signature(
    const moert_artifact_t *artifact, const char *name, int32_t *out_num_args,
    const moert_param_t **out_args, int32_t *out_num_results,
    const moert_param_t **out_results) {
  return moert::guardEntry(
      "moert_artifact_function_signature", [&]() -> moert_status_t {
        if (out_num_args)
          *out_num_args = 0;
        if (out_args)
          *out_args = nullptr;
        if (out_num_results)
          *out_num_results = 0;
        if (out_results)
          *out_results = nullptr;
        if (!artifact || !name)
          return makeStatus(MOERT_INVALID_ARGUMENT, "artifact or name is null");
        const Function *fn = artifact->find(name);
        if (!fn)
          return makeStatus(MOERT_NOT_FOUND, std::string("no function '") +
                                                 name + "' in " +
                                                 artifact->path);
        if (out_num_args)
          *out_num_args = static_cast<int32_t>(fn->cArgs.size());
        if (out_args)
          *out_args = fn->cArgs.data();
        if (out_num_results)
          *out_num_results = static_cast<int32_t>(fn->cResults.size());
        if (out_results)
          *out_results = fn->cResults.data();
        return nullptr;
      });
}

} // extern "C"
