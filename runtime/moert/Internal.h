//===- Internal.h - moert's objects behind the C handles --------*- C++ -*-===//
#ifndef MOEC_RUNTIME_MOERT_INTERNAL_H
#define MOEC_RUNTIME_MOERT_INTERNAL_H

#include "runtime/abi/Int8PanelLayout.h"
#include "runtime/abi/PanelLayout.h"
#include "runtime/moert/Collectives.h"
#include "runtime/moert/Device.h"
#include "runtime/moert/Packing.h"
#include "runtime/moert/Routing.h"
#include "runtime/moert/Scratch.h"
#include "runtime/moert/ThreadPool.h"
#include "runtime/moert/moert.h"
#include "runtime/support/DType.h"
#include "runtime/support/Json.h"
#include "runtime/support/Safetensors.h"

#include <atomic>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

struct moert_status_s {
  moert_status_code_t code;
  std::string message;
};

namespace moert {

moert_status_t makeStatus(moert_status_code_t code, std::string message);

/// The status of an allocation that failed: MOERT_RESOURCE_EXHAUSTED,
/// "out of memory", made without allocating (freeing it is a no-op).
moert_status_t outOfMemoryStatus();

/// Runs the body of a C API entry point that returns a status, so that no
/// exception crosses the C API: std::bad_alloc becomes
/// MOERT_RESOURCE_EXHAUSTED, any other exception MOERT_INTERNAL naming
/// the entry point.
template <typename Body>
moert_status_t guardEntry(const char *entry, Body &&body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return outOfMemoryStatus();
  } catch (const std::exception &e) {
    try {
      return makeStatus(MOERT_INTERNAL,
                        std::string(entry) + ": unexpected error: " + e.what());
    } catch (...) {
      return outOfMemoryStatus();
    }
  } catch (...) {
    try {
      return makeStatus(MOERT_INTERNAL,
                        std::string(entry) + ": unexpected error");
    } catch (...) {
      return outOfMemoryStatus();
    }
  }
}

struct Param {
  std::string name;
  bool isWeight = false;
  moe::DType dtype = moe::DType::F32;
  std::vector<int64_t> shape; // -1: the token dimension
  /// How a weight is assembled from checkpoint tensors (docs/Artifact.md):
  /// by default the tensor named `name`; with `stack`, those tensors stacked
  /// along a new leading dimension; with `transposed`, the source holds the
  /// last two dimensions swapped.
  std::vector<std::string> stack;
  bool transposed = false;
  /// The dtype the checkpoint stores the weight in ("stored_dtype"), when
  /// it differs from `dtype`: binding converts it (narrowing rounds to
  /// nearest even).
  std::optional<moe::DType> storedDtype;
  bool isAssembled() const { return !stack.empty() || transposed; }
  /// An mxfp4 weight stored in the OCP layout ("mx_scales"): `name` holds
  /// its e2m1 codes (u8 [..., N, K/32, 16]) and this tensor its e8m0 scales
  /// (u8 [..., N, K/32]); binding assembles them (moe::mxfp4FromOcp).
  std::string mxScales;
  /// An fp8_e4m3 weight stored as F8_E4M3 values ("block_scales"): the
  /// tensors of `name` (or `stack`), each [N, K], with these f32 scales,
  /// one per source, each [ceil(N / 128), K / 128]; binding assembles them
  /// into 132-byte blocks.
  std::vector<std::string> blockScales;
  /// With `packed`: the function takes the weight [E, N, K] as panels of
  /// this many columns (runtime/moert/Packing.h); 0 when not packed.
  int64_t panel = 0;
  /// With `panel`: consecutive k per group ("k_group", 1 when absent).
  int64_t kGroup = 1;
  /// With `panel`: slices of the N dimension stored one after another
  /// ("slices", 1 when absent; runtime/moert/Packing.h).
  int64_t slices = 1;
  /// The panel layout of a packed weight (runtime/abi/PanelLayout.h).
  moe::abi::PanelLayout layout() const { return {panel, kGroup, slices}; }
  /// With `int8_panels`: the function takes the block-quantized weight
  /// in this layout (runtime/abi/Int8PanelLayout.h), packed at binding.
  std::optional<moe::abi::Int8PanelLayout> int8Panels;
  /// An expert weight of which each rank of an expert-parallel group holds
  /// its slots only ("expert_slots"): `shape` is [perRank, ...] and the
  /// checkpoint holds [experts, ...] (or a stack of `experts` tensors);
  /// rank r binds index s from expert physToLog[r * perRank + s].
  struct ExpertSlots {
    int64_t experts = 0, perRank = 0;
    std::vector<int64_t> physToLog;
    int64_t ranks() const { return int64_t(physToLog.size()) / perRank; }
  };
  std::optional<ExpertSlots> slots;
};

std::string shapeString(const std::vector<int64_t> &shape);
/// True when a tensor of shape `have` can be bound where `want` is
/// expected: the same row-major bytes (moe::safetensors::sameRowMajorShape:
/// leading dimensions of size 1 dropped, or leading ones merged).
bool bindableShape(const std::vector<int64_t> &have,
                   const std::vector<int64_t> &want);

using EntryFn = void (*)(void **);

struct Function {
  std::string name;
  std::string symbol;
  std::vector<Param> args, results;
  std::vector<moert_param_t> cArgs, cResults; // views of the above
  EntryFn entry = nullptr;
  /// Its routing records (metadata "routing_sites"), in order.
  std::vector<RoutingSite> routingSites;
  /// The ranks it exchanges rows with (metadata "expert_parallel"
  /// "devices"); 0 when it runs on one process.
  int64_t expertParallelDevices = 0;
};

} // namespace moert

struct moert_artifact_s {
  std::atomic<int> refs{1};
  void *handle = nullptr;
  std::string path;
  /// The absolute directory the artifact was loaded from, where recorded
  /// weight files are looked for first.
  std::string directory;
  std::string metadataText;
  std::vector<moert::Function> functions;
  std::vector<std::string> weightFiles;
  /// What the code needs of a device (metadata "target").
  moert::TargetRequirements target;
  /// A CUDA artifact whose GPU runtime calls are bound (CudaLaunch.h).
  bool gpuBound = false;

  const moert::Function *find(const std::string &name) const;
  /// The expected weight of that name (first function declaring it).
  const moert::Param *findWeight(const std::string &name) const;
};

namespace moert {
/// A tensor of a bound file.
struct CatalogEntry {
  std::shared_ptr<moe::safetensors::File> file;
  const moe::safetensors::TensorInfo *info = nullptr;
};

struct BoundWeight {
  moe::DType dtype = moe::DType::F32;
  std::vector<int64_t> shape;
  /// The weight as the functions read it; null for an assembled weight
  /// until something needs it that way (weightData in SessionWeights.cpp).
  mutable const void *data = nullptr;
  std::string source; // file path, or "caller memory"
  /// The buffer of an assembled weight, once assembled.
  mutable std::shared_ptr<std::vector<unsigned char>> owned;
  /// The weight packed into panels, by (panel width, k group, slices),
  /// made on first use.
  std::map<std::tuple<int64_t, int64_t, int64_t>, std::shared_ptr<PackedBuffer>>
      packed;
  /// An assembled weight's source tensors as mapped: the stacked parts in
  /// order, or the one transposed tensor (Param::stack, transposed).
  std::vector<const void *> parts;
  bool stacked = false, transposed = false;
  /// Source tensors converted from their stored dtype, which `parts` or
  /// `data` point into.
  std::vector<std::shared_ptr<std::vector<unsigned char>>> converted;
  /// The weight in the memory of the session's device when the host
  /// cannot address that, uploaded on first use (deviceWeight in
  /// SessionWeights.cpp) and freed with the binding.
  std::shared_ptr<void> onDevice;
  /// The weight in int8 panels (Param::int8Panels), made on first use.
  std::shared_ptr<PackedBuffer> int8Packed;
  /// The mapped tensor each of `parts` lies in (a stack's parts, or one
  /// tensor for all of a rank's slots): the pages of a part are released
  /// once weightData has copied it or int8PanelData packed it. Empty when
  /// there is nothing to release (caller memory, converted parts).
  std::vector<CatalogEntry> partTensors;
};

} // namespace moert

struct moert_session_s {
  moert_artifact_t *artifact = nullptr;
  /// The device the session runs on, and its queue there (Device.h).
  moert_device_s *device = nullptr;
  std::unique_ptr<moert::Queue> queue;
  /// Calls captured and replayed as CUDA graphs (moert_session_config_t).
  bool cudaGraphs = false;
  std::unique_ptr<moert::ThreadPool> pool;
  /// Scratch buffers of the generated code, kept between calls.
  std::unique_ptr<moert::ScratchCache> scratch =
      std::make_unique<moert::ScratchCache>();
  /// Resolved weights by argument name.
  std::map<std::string, moert::BoundWeight> weights;
  /// Every tensor of every bound file by name (a later file wins).
  std::map<std::string, moert::CatalogEntry> catalog;
  std::vector<std::shared_ptr<moe::safetensors::File>> files;
  /// Routing statistics, while or after recording.
  moert::RoutingRecorder routing;
  /// The expert-parallel group the session's calls exchange rows with.
  moert::Group group;
  /// The scratch bytes the last CPU call asked for and could not get (0:
  /// none); that call ended there (Scratch.h).
  uint64_t scratchFailure = 0;
  /// The thread inside a call on this session (none: no call). A call from
  /// another thread meanwhile fails instead of racing on the state above;
  /// calls on the owning thread nest.
  mutable std::atomic<std::thread::id> owner{};
};

namespace moert {

/// Marks a session in use by this thread for the length of one API call
/// (nested calls on the same thread share it); a call from another thread
/// at the same time fails with a status saying so (docs/Runtime.md).
class SessionUse {
public:
  explicit SessionUse(const moert_session_s &session) : session_(session) {
    std::thread::id none, me = std::this_thread::get_id();
    owns_ = session.owner.compare_exchange_strong(none, me);
    ok_ = owns_ || none == me;
  }
  ~SessionUse() {
    if (owns_)
      session_.owner.store(std::thread::id());
  }
  SessionUse(const SessionUse &) = delete;
  SessionUse &operator=(const SessionUse &) = delete;
  /// Null when this thread may go on; else why not.
  moert_status_t status(const char *call) const {
    if (ok_)
      return nullptr;
    return makeStatus(MOERT_FAILED_PRECONDITION,
                      std::string(call) +
                          ": the session is in a call on another thread; call "
                          "each session from one thread at a time, or give "
                          "each thread a session of its own");
  }

private:
  const moert_session_s &session_;
  bool owns_ = false, ok_ = false;
};

/// The shape of a caller's tensor: empty when it has no rank or shape
/// (Session.cpp).
std::vector<int64_t> shapeOf(const moert_tensor_t &t);

// A session's weights as the calls read them (SessionWeights.cpp).

/// The shape of the buffer the generated code reads a weight of `dtype`
/// and `shape` as: the same, except that a block-quantized weight's rows
/// are bytes (docs/Artifact.md, "Quantized weights").
std::vector<int64_t> storageShape(moe::DType dtype, std::vector<int64_t> shape);
/// Forgets the weights bound from the session's files as a rank's slots
/// (Param::slots): another group or rank binds other experts, on the next
/// call.
void dropRankWeights(moert_session_s &session);

/// Weight `w` as the functions read it unpacked, assembled from its parts
/// now unless it was already; null when the memory for it cannot be had.
const void *weightData(const BoundWeight &w);

/// Weight `w` packed as parameter `p` takes it, packed now on the
/// session's threads unless it was already; null when the memory for it
/// cannot be had.
const PackedBuffer *packedData(moert_session_s &s, BoundWeight &w,
                               const Param &p);

/// Weight `w` in the int8 panels parameter `p` takes, packed now on the
/// session's threads unless it was already; the source pages of a weight
/// mapped from a file are released from resident memory after. Null when
/// the memory for it cannot be had.
const PackedBuffer *int8PanelData(moert_session_s &s, BoundWeight &w,
                                  const Param &p);

/// Weight `w` in the memory of the session's device, uploaded now unless
/// it was already; a status naming the weight when it cannot be. (A GPU's
/// kernels take weights as bound: moe-compile packs none for them.)
moert_status_t deviceWeight(moert_session_s &s, const std::string &fn,
                            const Param &p, BoundWeight &w, const void *&out);

/// Parses `a.metadataText`, the artifact's metadata record (docs/Artifact.md),
/// into `a`, taking each entry point from `resolve(ctx, symbol)` (dlsym on
/// the loaded artifact; the metadata fuzz target passes a stand-in).
/// Returns "" or what is wrong.
std::string parseMetadata(moert_artifact_s &a,
                          void *(*resolve)(void *ctx, const char *symbol),
                          void *ctx);

} // namespace moert

#endif // MOEC_RUNTIME_MOERT_INTERNAL_H
