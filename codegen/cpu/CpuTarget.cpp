//===- CpuTarget.cpp - the CPU target description and its kernel rules ---===//
#include "codegen/cpu/CpuTarget.h"
#include "codegen/linalg/Passes.h"
#include "codegen/linalg/TargetDevice.h"

#include "mlir/Dialect/DLTI/DLTI.h"
#include "mlir/IR/BuiltinAttributes.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <algorithm>
#include <memory>

using namespace mlir;
using namespace mlir::moe;

namespace {

/// The ISA extensions the kernels and the runtime care about.
constexpr const char *kCheckedFeatures[] = {
    "sse4.2",     "avx",        "avx2",     "fma",      "f16c",
    "avx512f",    "avx512bw",   "avx512dq", "avx512vl", "avx512vnni",
    "avx512bf16", "avx512fp16", "amx-tile", "amx-bf16"};

/// Per-core L1d and L2 of CPUs LLVM names, where they differ from the
/// generic 32 KiB and 1 MiB.
struct KnownCaches {
  const char *cpu;
  int64_t l1dKiB, l2KiB;
};
constexpr KnownCaches kKnownCaches[] = {
    {"znver1", 32, 512},          {"znver2", 32, 512},
    {"znver3", 32, 512},          {"znver4", 32, 1024},
    {"znver5", 48, 1024},         {"haswell", 32, 256},
    {"broadwell", 32, 256},       {"skylake", 32, 256},
    {"skylake-avx512", 32, 1024}, {"cascadelake", 32, 1024},
    {"cooperlake", 32, 1024},     {"icelake-server", 48, 1280},
    {"sapphirerapids", 48, 2048}, {"emeraldrapids", 48, 2048},
    {"graniterapids", 48, 2048},  {"alderlake", 48, 1280},
};

/// The host's per-core cache size of `level` (1: data) in bytes, as Linux
/// reports it, or 0.
int64_t hostCacheBytes(int level) {
  for (int index = 0; index < 8; ++index) {
    std::string dir =
        "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index);
    auto read = [&](const char *name) -> std::string {
      // Read to the end: sysfs reports every file as 4096 bytes, so a read
      // of the stat size pads the few bytes there are with NULs.
      auto buf = llvm::MemoryBuffer::getFileAsStream(dir + "/" + name);
      return buf ? (*buf)->getBuffer().trim().str() : std::string();
    };
    std::string lvl = read("level");
    if (lvl.empty())
      break;
    std::string type = read("type");
    if (lvl != std::to_string(level) || (type != "Data" && type != "Unified"))
      continue;
    std::string text = read("size");
    StringRef size = text;
    int64_t value = 0;
    int64_t scale = 1;
    if (size.consume_back("K"))
      scale = 1024;
    else if (size.consume_back("M"))
      scale = 1024 * 1024;
    if (size.getAsInteger(10, value) || value <= 0)
      return 0;
    return value * scale;
  }
  return 0;
}

constexpr StringLiteral kDevice = "CPU";

} // namespace

bool CpuTargetDescription::hasFeature(StringRef feature) const {
  return llvm::is_contained(features, feature);
}

std::string mlir::moe::describeCpu(StringRef cpu, CpuTargetDescription &out) {
  llvm::InitializeNativeTarget();
  llvm::Triple triple(llvm::sys::getProcessTriple());
  if (triple.getArch() != llvm::Triple::x86_64)
    return "the CPU target supports x86-64 hosts; this host is " + triple.str();
  out = CpuTargetDescription();
  out.triple = triple.str();
  std::string features;
  if (cpu == "native") {
    out.cpu = llvm::sys::getHostCPUName().str();
    for (const auto &f : llvm::sys::getHostCPUFeatures()) {
      if (!features.empty())
        features += ",";
      features += (f.second ? "+" : "-") + f.first().str();
    }
  } else if (cpu == "generic" || cpu == "x86-64") {
    out.cpu = "x86-64";
  } else {
    out.cpu = cpu.str();
  }
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return "no LLVM target for " + out.triple + ": " + error;
  // Checked on the baseline subtarget first: a subtarget of an unknown CPU
  // prints LLVM's own warning.
  std::unique_ptr<llvm::MCSubtargetInfo> base(
      target->createMCSubtargetInfo(triple, "x86-64", ""));
  if (!base || !base->isCPUStringValid(out.cpu))
    return "unknown CPU '" + cpu.str() +
           "' (use native, x86-64, x86-64-v2, x86-64-v3, x86-64-v4 or an "
           "LLVM CPU name such as znver4 or skylake-avx512)";
  std::unique_ptr<llvm::MCSubtargetInfo> sti(
      target->createMCSubtargetInfo(triple, out.cpu, features));
  for (const char *f : kCheckedFeatures)
    if (sti->checkFeatures(std::string("+") + f))
      out.features.push_back(f);

  out.vectorBits = out.hasFeature("avx512f") ? 512
                   : out.hasFeature("avx2")  ? 256
                                             : 128;
  out.vectorRegisters = out.hasFeature("avx512f") ? 32 : 16;
  for (const KnownCaches &k : kKnownCaches)
    if (out.cpu == k.cpu) {
      out.l1dBytes = k.l1dKiB * 1024;
      out.l2Bytes = k.l2KiB * 1024;
    }
  // The host's own sizes, where Linux reports them, over the table's.
  if (cpu == "native") {
    if (int64_t l1 = hostCacheBytes(1))
      out.l1dBytes = l1;
    if (int64_t l2 = hostCacheBytes(2))
      out.l2Bytes = l2;
  }
  return "";
}

void mlir::moe::setCpuTarget(ModuleOp module,
                             const CpuTargetDescription &target) {
  MLIRContext *ctx = module.getContext();
  ctx->getOrLoadDialect<DLTIDialect>();
  Builder b(ctx);
  auto entry = [&](StringRef key, Attribute value) -> DataLayoutEntryInterface {
    return DataLayoutEntryAttr::get(b.getStringAttr(key), value);
  };
  SmallVector<DataLayoutEntryInterface> entries = {
      entry("triple", b.getStringAttr(target.triple)),
      entry("cpu", b.getStringAttr(target.cpu)),
      entry("features", b.getStringAttr(llvm::join(target.features, ","))),
      entry("vector_bits", b.getI64IntegerAttr(target.vectorBits)),
      entry("vector_registers", b.getI64IntegerAttr(target.vectorRegisters)),
      entry("L1_cache_size_in_bytes", b.getI64IntegerAttr(target.l1dBytes)),
      entry("L2_cache_size_in_bytes", b.getI64IntegerAttr(target.l2Bytes))};
  auto device = TargetDeviceSpecAttr::get(ctx, entries);
  auto system = TargetSystemSpecAttr::get(
      ctx, {DataLayoutEntryAttr::get(b.getStringAttr(kDevice), device)});
  module->setAttr(DLTIDialect::kTargetSystemDescAttrName, system);
}

FailureOr<CpuTargetDescription> mlir::moe::getCpuTarget(Operation *op,
                                                        StringRef passName) {
  auto fail = [&](const Twine &what) -> FailureOr<CpuTargetDescription> {
    op->emitError() << passName << ": " << what
                    << " (moe-set-cpu-target writes the CPU target "
                       "description: docs/Targets.md)";
    return failure();
  };
  std::string missing;
  FailureOr<TargetDeviceSpecInterface> device =
      findTargetDevice(op, kDevice, missing);
  if (failed(device))
    return fail(missing);
  CpuTargetDescription out;
  auto lookup = [&](StringRef key) { return targetDeviceEntry(*device, key); };
  auto str = [&](StringRef key, std::string &into) {
    auto v = llvm::dyn_cast_or_null<StringAttr>(lookup(key));
    if (v)
      into = v.getValue().str();
    return bool(v);
  };
  auto num = [&](StringRef key, int64_t &into) {
    auto v = llvm::dyn_cast_or_null<IntegerAttr>(lookup(key));
    if (!v || v.getValue().getSExtValue() <= 0)
      return false;
    into = v.getValue().getSExtValue();
    return true;
  };
  std::string features;
  for (const char *key : {"triple", "cpu", "features"}) {
    std::string &into = StringRef(key) == "triple" ? out.triple
                        : StringRef(key) == "cpu"  ? out.cpu
                                                   : features;
    if (!str(key, into))
      return fail(Twine("the CPU target description has no string \"") + key +
                  "\"");
  }
  for (StringRef f : llvm::split(features, ','))
    if (!f.empty())
      out.features.push_back(f.str());
  struct {
    const char *key;
    int64_t *into;
  } nums[] = {{"vector_bits", &out.vectorBits},
              {"vector_registers", &out.vectorRegisters},
              {"L1_cache_size_in_bytes", &out.l1dBytes},
              {"L2_cache_size_in_bytes", &out.l2Bytes}};
  for (auto &n : nums)
    if (!num(n.key, *n.into))
      return fail(Twine("the CPU target description has no positive integer "
                        "\"") +
                  n.key + "\"");
  if (out.vectorBits != 128 && out.vectorBits != 256 && out.vectorBits != 512)
    return fail("the CPU target description's vector_bits must be 128, 256 "
                "or 512, not " +
                Twine(out.vectorBits));
  if (out.vectorRegisters < 8)
    return fail("the CPU target description's vector_registers must be at "
                "least 8, not " +
                Twine(out.vectorRegisters));
  return out;
}

PanelBlocking mlir::moe::panelBlockingFor(const CpuTargetDescription &target) {
  PanelBlocking best{0, 0};
  for (int64_t vectors : {1, 2, 4}) {
    int64_t rows =
        std::min<int64_t>(6, (target.vectorRegisters - 1 - vectors) / vectors);
    if (rows >= 1 && rows * vectors > best.rows * best.vectors)
      best = {rows, vectors};
  }
  return best;
}

int64_t mlir::moe::panelWidthFor(const CpuTargetDescription &target) {
  return panelBlockingFor(target).vectors * target.lanes();
}

int64_t mlir::moe::defaultPanelSlices(const CpuTargetDescription &target) {
  return target.vectorBits >= 256 ? panelBlockingFor(target).vectors : 1;
}

DotBlocking mlir::moe::dotBlockingFor(const CpuTargetDescription &target) {
  DotBlocking best{0, 0};
  for (int64_t rows = 1; rows <= 6; ++rows)
    for (int64_t cols = 1; cols <= 4; ++cols)
      if (rows * cols + rows + 1 <= target.vectorRegisters &&
          rows * cols >= best.rows * best.cols)
        best = {rows, cols};
  return best;
}

int64_t mlir::moe::weightTileBytesFor(const CpuTargetDescription &target) {
  return target.l2Bytes / 2;
}

int64_t mlir::moe::streamAheadBytesFor(const CpuTargetDescription &target) {
  return target.l1dBytes / 8;
}

int64_t mlir::moe::panelDepthFor(const CpuTargetDescription &target) {
  int64_t rows = panelBlockingFor(target).rows;
  int64_t byL1 = target.l1dBytes / 2 / (rows * 4);
  int64_t byL2 = target.l2Bytes / 8 / (panelWidthFor(target) * 4);
  int64_t limit = std::max<int64_t>(std::min(byL1, byL2), 1);
  int64_t depth = 1;
  while (depth * 2 <= limit)
    depth *= 2;
  return depth;
}

int64_t CpuKernelConfig::maxPanelWidth() const {
  CpuTargetDescription shape;
  shape.vectorBits = lanes * 32;
  shape.vectorRegisters = registers;
  return panelWidthFor(shape);
}

CpuKernelConfig mlir::moe::kernelConfigFor(const CpuTargetDescription &target,
                                           bool bf16Dot, bool int8Dot) {
  CpuKernelConfig c;
  c.lanes = target.lanes();
  c.registers = target.vectorRegisters;
  c.panelRows = panelBlockingFor(target).rows;
  DotBlocking dot = dotBlockingFor(target);
  c.dotRows = dot.rows;
  c.dotCols = dot.cols;
  c.weightTileBytes = weightTileBytesFor(target);
  c.panelDepth = panelDepthFor(target);
  c.streamAheadBytes = streamAheadBytesFor(target);
  c.bf16Dot = bf16Dot;
  c.int8Dot = int8Dot;
  return c;
}

namespace {
struct ConfigField {
  const char *key;
  int64_t CpuKernelConfig::*field;
};
constexpr ConfigField kConfigFields[] = {
    {"lanes", &CpuKernelConfig::lanes},
    {"registers", &CpuKernelConfig::registers},
    {"panel_rows", &CpuKernelConfig::panelRows},
    {"dot_rows", &CpuKernelConfig::dotRows},
    {"dot_cols", &CpuKernelConfig::dotCols},
    {"weight_tile_bytes", &CpuKernelConfig::weightTileBytes},
    {"panel_depth", &CpuKernelConfig::panelDepth},
    {"stream_ahead_bytes", &CpuKernelConfig::streamAheadBytes}};
} // namespace

DictionaryAttr mlir::moe::kernelConfigAttr(MLIRContext *ctx,
                                           const CpuKernelConfig &c) {
  Builder b(ctx);
  SmallVector<NamedAttribute> entries = {
      b.getNamedAttr("target", b.getStringAttr("cpu")),
      b.getNamedAttr("bf16_dot", b.getBoolAttr(c.bf16Dot))};
  if (c.int8Dot)
    entries.push_back(b.getNamedAttr("int8_dot", b.getUnitAttr()));
  if (c.int8Dot && c.int8PanelRows > 0)
    entries.push_back(b.getNamedAttr("int8_panel_rows",
                                     b.getI64IntegerAttr(c.int8PanelRows)));
  for (const ConfigField &f : kConfigFields)
    entries.push_back(b.getNamedAttr(f.key, b.getI64IntegerAttr(c.*f.field)));
  return b.getDictionaryAttr(entries);
}

FailureOr<std::optional<CpuKernelConfig>>
mlir::moe::readKernelConfig(Operation *op) {
  Attribute attr = op->getAttr(kKernelAttrName);
  if (!attr)
    return std::optional<CpuKernelConfig>();
  auto dict = dyn_cast<DictionaryAttr>(attr);
  auto target = dict ? dict.getAs<StringAttr>("target") : StringAttr();
  if (!target) {
    op->emitOpError("has a malformed '")
        << kKernelAttrName << "': expected a dictionary with a string 'target'";
    return failure();
  }
  if (target.getValue() != "cpu")
    return std::optional<CpuKernelConfig>();
  CpuKernelConfig c;
  for (const ConfigField &f : kConfigFields) {
    auto v = dict.getAs<IntegerAttr>(f.key);
    if (!v || v.getValue().getSExtValue() < 1) {
      op->emitOpError("has a malformed '") << kKernelAttrName << "': '" << f.key
                                           << "' must be a positive integer";
      return failure();
    }
    c.*f.field = v.getValue().getSExtValue();
  }
  auto dot = dict.getAs<BoolAttr>("bf16_dot");
  if (!dot) {
    op->emitOpError("has a malformed '")
        << kKernelAttrName << "': 'bf16_dot' must be a boolean";
    return failure();
  }
  c.bf16Dot = dot.getValue();
  // Optional: a unit attribute where int8 dot products are on.
  Attribute int8 = dict.get("int8_dot");
  if (int8 && !isa<UnitAttr>(int8)) {
    op->emitOpError("has a malformed '")
        << kKernelAttrName << "': 'int8_dot' must be a unit attribute";
    return failure();
  }
  c.int8Dot = bool(int8);
  // Optional, with int8_dot: the fewest rows of an int8 panel item.
  if (Attribute rows = dict.get("int8_panel_rows")) {
    auto v = dyn_cast<IntegerAttr>(rows);
    if (!v || v.getValue().getSExtValue() < 1 || !c.int8Dot) {
      op->emitOpError("has a malformed '")
          << kKernelAttrName
          << "': 'int8_panel_rows' must be a positive integer, with 'int8_dot'";
      return failure();
    }
    c.int8PanelRows = v.getValue().getSExtValue();
  }
  if (c.lanes != 4 && c.lanes != 8 && c.lanes != 16) {
    op->emitOpError("has a malformed '")
        << kKernelAttrName << "': 'lanes' must be 4, 8 or 16, not " << c.lanes;
    return failure();
  }
  if (c.bf16Dot && c.lanes != 16) {
    op->emitOpError("has a malformed '")
        << kKernelAttrName << "': 'bf16_dot' needs 16 lanes (AVX512_BF16), not "
        << c.lanes;
    return failure();
  }
  if (c.int8Dot && c.lanes != 16) {
    op->emitOpError("has a malformed '")
        << kKernelAttrName << "': 'int8_dot' needs 16 lanes (AVX512_VNNI), not "
        << c.lanes;
    return failure();
  }
  if (c.dotRows * c.dotCols + c.dotRows + 1 > c.registers ||
      c.maxPanelWidth() < c.lanes) {
    op->emitOpError("has a malformed '")
        << kKernelAttrName << "': " << c.registers
        << " registers do not hold a " << c.dotRows << " x " << c.dotCols
        << " block";
    return failure();
  }
  return std::optional<CpuKernelConfig>(c);
}
