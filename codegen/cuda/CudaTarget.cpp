//===- CudaTarget.cpp - the NVIDIA GPU target description -----------------===//
#include "codegen/cuda/CudaTarget.h"
#include "codegen/linalg/TargetDevice.h"

#include "mlir/Dialect/DLTI/DLTI.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::moe;

namespace {

constexpr StringLiteral kDevice = "GPU";

/// The chips moec generates code for. Shared memory is the opt-in maximum of
/// one block (CUDA's sharedMemPerBlockOptin); the PTX version is the oldest
/// LLVM's NVPTX backend accepts for the chip.
struct KnownChip {
  const char *chip;
  int64_t sm;
  const char *ptx;
  int64_t sharedKiB;
  const char *tensorCore;
};
constexpr KnownChip kChips[] = {
    {"sm_80", 80, "+ptx70", 163, "mma_sync"},   // A100
    {"sm_86", 86, "+ptx71", 99, "mma_sync"},    // RTX 30, A10, A40
    {"sm_89", 89, "+ptx78", 99, "mma_sync"},    // L4, L40, RTX 40
    {"sm_90", 90, "+ptx78", 227, "mma_sync"},   // H100, H200 (no wgmma)
    {"sm_90a", 90, "+ptx80", 227, "wgmma"},     // H100, H200
    {"sm_100", 100, "+ptx86", 227, "mma_sync"}, // B200 (no tcgen05)
    {"sm_100a", 100, "+ptx86", 227, "mma_sync"},
    {"sm_120", 120, "+ptx87", 99, "mma_sync"}, // RTX 50
};

} // namespace

std::string mlir::moe::knownCudaChips() {
  std::string out;
  for (const KnownChip &c : kChips)
    out += (out.empty() ? "" : ", ") + std::string(c.chip);
  return out;
}

std::string mlir::moe::describeCuda(StringRef chip,
                                    CudaTargetDescription &out) {
  for (const KnownChip &c : kChips) {
    if (chip != c.chip)
      continue;
    out = CudaTargetDescription();
    out.chip = c.chip;
    out.sm = c.sm;
    out.ptxFeatures = c.ptx;
    out.sharedMemoryPerBlock = c.sharedKiB * 1024;
    out.tensorCore = c.tensorCore;
    return "";
  }
  return "unknown CUDA chip '" + chip.str() + "' (known: " + knownCudaChips() +
         ")";
}

void mlir::moe::setCudaTarget(ModuleOp module,
                              const CudaTargetDescription &target) {
  MLIRContext *ctx = module.getContext();
  ctx->getOrLoadDialect<DLTIDialect>();
  Builder b(ctx);
  auto entry = [&](StringRef key, Attribute value) -> DataLayoutEntryInterface {
    return DataLayoutEntryAttr::get(b.getStringAttr(key), value);
  };
  SmallVector<DataLayoutEntryInterface> entries = {
      entry("chip", b.getStringAttr(target.chip)),
      entry("sm", b.getI64IntegerAttr(target.sm)),
      entry("ptx_features", b.getStringAttr(target.ptxFeatures)),
      entry("warp_size", b.getI64IntegerAttr(target.warpSize)),
      entry("max_threads_per_block",
            b.getI64IntegerAttr(target.maxThreadsPerBlock)),
      entry("shared_memory_per_block",
            b.getI64IntegerAttr(target.sharedMemoryPerBlock)),
      entry("registers_per_thread",
            b.getI64IntegerAttr(target.registersPerThread)),
      entry("tensor_core", b.getStringAttr(target.tensorCore))};
  auto device = TargetDeviceSpecAttr::get(ctx, entries);
  // Keep the other devices (the host CPU's description), replace the GPU's.
  SmallVector<DataLayoutEntryInterface> devices;
  if (auto old = module->getAttrOfType<TargetSystemSpecAttr>(
          DLTIDialect::kTargetSystemDescAttrName))
    for (DataLayoutEntryInterface e : old.getEntries())
      if (auto id = llvm::dyn_cast_if_present<StringAttr>(e.getKey());
          !id || id.getValue() != kDevice)
        devices.push_back(e);
  devices.push_back(DataLayoutEntryAttr::get(b.getStringAttr(kDevice), device));
  module->setAttr(DLTIDialect::kTargetSystemDescAttrName,
                  TargetSystemSpecAttr::get(ctx, devices));
}

FailureOr<CudaTargetDescription> mlir::moe::getCudaTarget(Operation *op,
                                                          StringRef passName) {
  auto fail = [&](const Twine &what) -> FailureOr<CudaTargetDescription> {
    op->emitError() << passName << ": " << what
                    << " (moe-set-cuda-target writes the GPU target "
                       "description: docs/Targets.md)";
    return failure();
  };
  std::string missing;
  FailureOr<TargetDeviceSpecInterface> device =
      findTargetDevice(op, kDevice, missing);
  if (failed(device))
    return fail(missing);
  auto lookup = [&](StringRef key) { return targetDeviceEntry(*device, key); };
  CudaTargetDescription out;
  for (auto [key, into] :
       {std::pair<const char *, std::string *>{"chip", &out.chip},
        {"ptx_features", &out.ptxFeatures},
        {"tensor_core", &out.tensorCore}}) {
    auto v = llvm::dyn_cast_or_null<StringAttr>(lookup(key));
    if (!v || v.getValue().empty())
      return fail(Twine("the GPU target description has no string \"") + key +
                  "\"");
    *into = v.getValue().str();
  }
  for (auto [key, into] :
       {std::pair<const char *, int64_t *>{"sm", &out.sm},
        {"warp_size", &out.warpSize},
        {"max_threads_per_block", &out.maxThreadsPerBlock},
        {"shared_memory_per_block", &out.sharedMemoryPerBlock},
        {"registers_per_thread", &out.registersPerThread}}) {
    auto v = llvm::dyn_cast_or_null<IntegerAttr>(lookup(key));
    if (!v || v.getValue().getSExtValue() <= 0)
      return fail(
          Twine("the GPU target description has no positive integer \"") + key +
          "\"");
    *into = v.getValue().getSExtValue();
  }
  if (itemKernelWarps(out) * out.warpSize > out.maxThreadsPerBlock)
    return fail("the GPU target description's max_threads_per_block (" +
                Twine(out.maxThreadsPerBlock) + ") is below one program of " +
                Twine(itemKernelWarps(out)) + " warps of " +
                Twine(out.warpSize) + " threads");
  return out;
}

int64_t mlir::moe::itemKernelWarps(const CudaTargetDescription &) { return 4; }

int64_t mlir::moe::dispatchChunk(const CudaTargetDescription &) { return 256; }

MmaGemmTile mlir::moe::mmaGemmTile(const CudaTargetDescription &) {
  return MmaGemmTile{};
}

StagedGemmRule mlir::moe::stagedGemmRule(const CudaTargetDescription &target) {
  // Static shared memory per block on every chip from sm_80 on.
  constexpr int64_t kStaticShared = 48 * 1024;
  StagedGemmRule rule;
  rule.wgmma = target.tensorCore == "wgmma";
  rule.prefill = StagedGemmTile{128, 128, 32, 2, 4, 0};
  rule.decode = StagedGemmTile{16, 128, 32, 1, 8, 0};
  for (StagedGemmTile *t : {&rule.prefill, &rule.decode}) {
    t->stages = std::min<int64_t>(kStaticShared / t->stageBytes(), 5);
    rule.sharedBytes = std::max(rule.sharedBytes, t->stages * t->stageBytes());
  }
  return rule;
}
