//===- LowerCollectives.cpp - the moe-lower-collectives pass --------------===//
//
// The rank query and the two all-to-alls of an expert-parallel layer become
// calls through the runtime's slots, on the buffers of their tensors.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/Passes.h"
#include "codegen/cpu/RuntimeSlots.h"
#include "dialect/MoEOps.h"
#include "dialect/MoEVerifyUtils.h"
#include "passes/Passes.h"
#include "runtime/abi/ArtifactAbi.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "llvm/ADT/TypeSwitch.h"

#include <map>

namespace mlir::moe {
#define GEN_PASS_DEF_MOELOWERCOLLECTIVES
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

constexpr StringLiteral kRankHook = "__moec_ep_rank";
constexpr StringLiteral kAllToAllHook = "__moec_all_to_all";
constexpr StringLiteral kAllToAllVHook = "__moec_all_to_all_v";

/// The hooks, defined on first use.
class Hooks {
public:
  Hooks(ModuleOp module) : module(module), b(module.getContext()) {}

  LLVM::LLVMFuncOp get(StringRef name) {
    auto &hook = defined[name.str()];
    if (hook)
      return hook;
    MLIRContext *ctx = b.getContext();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    auto voidType = LLVM::LLVMVoidType::get(ctx);
    if (name == kRankHook)
      hook = defineSlotHook(module, b, name, ::moe::abi::kEpRankSlot,
                            LLVM::LLVMFunctionType::get(i64, {i64}));
    else if (name == kAllToAllHook)
      hook = defineSlotHook(
          module, b, name, ::moe::abi::kAllToAllSlot,
          LLVM::LLVMFunctionType::get(voidType, {i64, i64, ptr, ptr, i64}));
    else
      hook = defineSlotHook(module, b, name, ::moe::abi::kAllToAllVSlot,
                            LLVM::LLVMFunctionType::get(
                                voidType, {i64, ptr, ptr, ptr, ptr, i64}));
    return hook;
  }

private:
  ModuleOp module;
  OpBuilder b;
  std::map<std::string, LLVM::LLVMFuncOp> defined;
};

/// Lowers the collectives of one module, recording each function's grid.
class Lowering {
public:
  explicit Lowering(ModuleOp module) : module(module), hooks(module) {}

  /// The devices of the grid `op` names, recorded for its function; an
  /// error when dynamic or unlike another grid of the function.
  FailureOr<int64_t> devicesOf(Operation *op, FlatSymbolRefAttr gridName) {
    auto grid =
        SymbolTable::lookupNearestSymbolFrom<shard::GridOp>(op, gridName);
    if (!grid)
      return op->emitOpError("names ") << gridName << ", which is not a "
                                       << "shard.grid";
    int64_t devices = gridDeviceCount(grid.getShape());
    if (ShapedType::isDynamic(devices))
      return op->emitOpError("needs a grid with a static number of devices");
    auto fn = op->getParentOfType<FunctionOpInterface>();
    if (!fn)
      return op->emitOpError("must be in a function");
    auto [it, fresh] = functionDevices.emplace(fn.getName().str(), devices);
    if (!fresh && it->second != devices)
      return op->emitOpError("uses a grid of ")
             << devices << " devices, but its function already uses one of "
             << it->second << ": a function runs on one group of ranks";
    return devices;
  }

  LogicalResult lower(shard::ProcessLinearIndexOp op) {
    FailureOr<int64_t> devices = devicesOf(op, op.getGridAttr());
    if (failed(devices))
      return failure();
    OpBuilder b(op);
    Location loc = op.getLoc();
    Value rank = LLVM::CallOp::create(b, loc, hooks.get(kRankHook),
                                      ValueRange{i64(b, loc, *devices)})
                     .getResult();
    op.replaceAllUsesWith(
        arith::IndexCastOp::create(b, loc, b.getIndexType(), rank).getResult());
    op.erase();
    return success();
  }

  LogicalResult lower(shard::AllToAllOp op) {
    FailureOr<int64_t> devices = devicesOf(op, op.getGridAttr());
    if (failed(devices))
      return failure();
    auto type = cast<RankedTensorType>(op.getInput().getType());
    auto grid = SymbolTable::lookupNearestSymbolFrom<shard::GridOp>(
        op, op.getGridAttr());
    if (type.getRank() != 1 || !type.hasStaticShape() ||
        type.getDimSize(0) % *devices || op.getSplitAxis() != 0 ||
        op.getConcatAxis() != 0 ||
        int64_t(op.getGridAxes().size()) != grid.getRank() ||
        !type.getElementType().isIntOrFloat() ||
        type.getElementType().getIntOrFloatBitWidth() % 8)
      return op.emitOpError("cannot be lowered for the CPU: only an "
                            "all-to-all of a static rank-1 tensor of whole "
                            "bytes over all the grid's axes is supported");
    OpBuilder b(op);
    Location loc = op.getLoc();
    Value send = inputBuffer(b, loc, op.getInput());
    auto resultType = MemRefType::get(type.getShape(), type.getElementType());
    Value recv = memref::AllocOp::create(b, loc, resultType);
    int64_t bytes = type.getDimSize(0) / *devices *
                    (type.getElementType().getIntOrFloatBitWidth() / 8);
    int64_t fingerprint = 0;
    if (auto attr = op->getAttrOfType<IntegerAttr>(kPlacementFingerprintAttr))
      fingerprint = attr.getInt();
    LLVM::CallOp::create(
        b, loc, hooks.get(kAllToAllHook),
        ValueRange{i64(b, loc, *devices), i64(b, loc, fingerprint),
                   bufferElementPointer(b, loc, send),
                   bufferElementPointer(b, loc, recv), i64(b, loc, bytes)});
    replace(b, op, recv);
    return success();
  }

  LogicalResult lower(AllToAllVOp op) {
    FailureOr<int64_t> devices = devicesOf(op, op.getGridAttr());
    if (failed(devices))
      return failure();
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getInput().getType());
    Type element = type.getElementType();
    // Σ recv_counts rows.
    Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
    Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
    Value ranks = tensor::DimOp::create(b, loc, op.getRecvCounts(), 0);
    auto sum = scf::ForOp::create(
        b, loc, c0, ranks, c1, ValueRange{i64(b, loc, 0)},
        [&](OpBuilder &nb, Location nl, Value r, ValueRange iter) {
          Value count =
              tensor::ExtractOp::create(nb, nl, op.getRecvCounts(), r);
          scf::YieldOp::create(
              nb, nl,
              ValueRange{arith::AddIOp::create(nb, nl, iter[0], count)});
        });
    Value rows =
        arith::IndexCastOp::create(b, loc, b.getIndexType(), sum.getResult(0));
    SmallVector<Value> sizes = {rows};
    SmallVector<int64_t> shape = {ShapedType::kDynamic};
    Value rowBytes = i64(b, loc, element.getIntOrFloatBitWidth() / 8);
    if (type.getRank() == 2) {
      shape.push_back(type.getDimSize(1));
      Value columns = tensor::DimOp::create(b, loc, op.getInput(), 1);
      if (type.isDynamicDim(1))
        sizes.push_back(columns);
      rowBytes = arith::MulIOp::create(
          b, loc, rowBytes,
          arith::IndexCastOp::create(b, loc, b.getI64Type(), columns));
    }
    Value recv =
        memref::AllocOp::create(b, loc, MemRefType::get(shape, element), sizes);
    Value send = inputBuffer(b, loc, op.getInput());
    Value sendCounts = inputBuffer(b, loc, op.getSendCounts());
    Value recvCounts = inputBuffer(b, loc, op.getRecvCounts());
    LLVM::CallOp::create(
        b, loc, hooks.get(kAllToAllVHook),
        ValueRange{i64(b, loc, *devices), bufferElementPointer(b, loc, send),
                   bufferElementPointer(b, loc, sendCounts),
                   bufferElementPointer(b, loc, recv),
                   bufferElementPointer(b, loc, recvCounts), rowBytes});
    replace(b, op, recv);
    return success();
  }

  /// {function = devices}, for the artifact's metadata.
  DictionaryAttr table(Builder &b) const {
    SmallVector<NamedAttribute> entries;
    for (auto &[name, devices] : functionDevices)
      entries.push_back(b.getNamedAttr(name, b.getI64IntegerAttr(devices)));
    return b.getDictionaryAttr(entries);
  }

private:
  static Value i64(OpBuilder &b, Location loc, int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v));
  }

  /// The buffer of `tensor`, read only, in the identity layout (contiguous
  /// rows, as the runtime reads them).
  static Value inputBuffer(OpBuilder &b, Location loc, Value tensor) {
    auto type = cast<RankedTensorType>(tensor.getType());
    return bufferization::ToBufferOp::create(
        b, loc, MemRefType::get(type.getShape(), type.getElementType()), tensor,
        /*read_only=*/true);
  }

  /// Replaces `op`'s result by the buffer the runtime wrote.
  static void replace(OpBuilder &b, Operation *op, Value buffer) {
    Value result = bufferization::ToTensorOp::create(
        b, op->getLoc(), op->getResult(0).getType(), buffer,
        /*restrict=*/true, /*writable=*/true);
    op->getResult(0).replaceAllUsesWith(result);
    op->erase();
  }

  ModuleOp module;
  Hooks hooks;
  std::map<std::string, int64_t> functionDevices;
};

struct MoELowerCollectivesPass
    : mlir::moe::impl::MoELowerCollectivesBase<MoELowerCollectivesPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<Operation *> ops;
    bool unsupported = false;
    module.walk([&](Operation *op) {
      if (isa<shard::ProcessLinearIndexOp, shard::AllToAllOp, AllToAllVOp>(op))
        ops.push_back(op);
      else if (isa<shard::ShardDialect>(op->getDialect()) &&
               !isa<shard::GridOp>(op)) {
        op->emitOpError("cannot be lowered for the CPU: of the shard "
                        "dialect, only grids, process_linear_index and "
                        "all_to_all are supported");
        unsupported = true;
      }
    });
    if (unsupported)
      return signalPassFailure();
    if (!ops.empty() && failed(lowerAll(module, ops)))
      return signalPassFailure();
    // The arguments' expert slots are in the artifact's metadata (recorded
    // after the fused phase); like the grids they name, the lowered code
    // no longer needs them.
    for (auto fn : module.getOps<func::FuncOp>())
      for (unsigned i = 0; i < fn.getNumArguments(); ++i)
        fn.removeArgAttr(i, kArgExpertSlotsAttr);
    // The grids are names the lowered code no longer needs.
    for (auto grid : llvm::make_early_inc_range(module.getOps<shard::GridOp>()))
      if (SymbolTable::symbolKnownUseEmpty(grid, module))
        grid.erase();
  }

  LogicalResult lowerAll(ModuleOp module, ArrayRef<Operation *> ops) {
    for (StringRef hook : {kRankHook, kAllToAllHook, kAllToAllVHook})
      if (Operation *existing = module.lookupSymbol(hook))
        return existing->emitError("'")
               << hook << "' is already defined; moe-lower-collectives "
               << "defines it";
    Lowering lowering(module);
    for (Operation *op : ops) {
      LogicalResult done =
          TypeSwitch<Operation *, LogicalResult>(op)
              .Case<shard::ProcessLinearIndexOp, shard::AllToAllOp,
                    AllToAllVOp>([&](auto op) { return lowering.lower(op); });
      if (failed(done))
        return failure();
    }
    Builder b(module.getContext());
    module->setAttr(kExpertParallelAttr, lowering.table(b));
    return success();
  }
};
} // namespace
