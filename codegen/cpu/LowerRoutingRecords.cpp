//===- LowerRoutingRecords.cpp - the moe-lower-routing-records pass -------===//
//
// A moe.record_routing becomes a call that hands the indices' buffer to the
// runtime through the exported slot @moec_record_routing; the sites are
// listed for the artifact's metadata.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/Passes.h"
#include "codegen/cpu/RuntimeSlots.h"
#include "dialect/MoEOps.h"
#include "runtime/abi/ArtifactAbi.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include <map>

namespace mlir::moe {
#define GEN_PASS_DEF_MOELOWERROUTINGRECORDS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

constexpr StringLiteral kHookName = "__moec_record_routing";

/// Defines `void @__moec_record_routing(i64, ptr, i64, i64, i64, i64)`: call
/// the function in the slot when the runtime has set it.
LLVM::LLVMFuncOp defineHook(ModuleOp module, OpBuilder &b) {
  MLIRContext *ctx = b.getContext();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto i64 = IntegerType::get(ctx, 64);
  auto type = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                          {i64, ptr, i64, i64, i64, i64});
  return defineSlotHook(module, b, kHookName, ::moe::abi::kRecordRoutingSlot,
                        type);
}

/// Replaces `record` with the call of `hook` on its indices' buffer.
void lowerRecord(RecordRoutingOp record, LLVM::LLVMFuncOp hook) {
  OpBuilder b(record);
  Location loc = record.getLoc();
  MLIRContext *ctx = b.getContext();
  auto indices = cast<RankedTensorType>(record.getIndices().getType());
  int64_t dyn = ShapedType::kDynamic;
  auto layout = StridedLayoutAttr::get(ctx, dyn, {dyn, dyn});
  auto bufferType =
      MemRefType::get(indices.getShape(), indices.getElementType(), layout);
  Value buffer = bufferization::ToBufferOp::create(
      b, loc, bufferType, record.getIndices(), /*read_only=*/true);
  auto meta = memref::ExtractStridedMetadataOp::create(b, loc, buffer);
  auto i64 = b.getI64Type();
  auto toI64 = [&](Value index) {
    return arith::IndexCastOp::create(b, loc, i64, index).getResult();
  };
  Value first = bufferElementPointer(b, loc, buffer);
  Value site =
      arith::ConstantIntOp::create(b, loc, i64, record.getSiteAttr().getInt());
  LLVM::CallOp::create(b, loc, hook,
                       ValueRange{site, first, toI64(meta.getSizes()[0]),
                                  toI64(meta.getSizes()[1]),
                                  toI64(meta.getStrides()[0]),
                                  toI64(meta.getStrides()[1])});
  record.erase();
}

struct MoELowerRoutingRecordsPass
    : mlir::moe::impl::MoELowerRoutingRecordsBase<MoELowerRoutingRecordsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    // Each function's sites, in site order.
    std::map<std::string, std::map<int64_t, RecordRoutingOp>> sites;
    bool failed = false;
    module.walk([&](RecordRoutingOp record) {
      auto fn = record->getParentOfType<FunctionOpInterface>();
      auto indices = cast<RankedTensorType>(record.getIndices().getType());
      if (!fn || ShapedType::isDynamic(indices.getDimSize(1))) {
        record.emitError(fn ? "the number of experts per token (the indices' "
                              "second dimension) must be static"
                            : "a routing record must be in a function");
        failed = true;
        return;
      }
      if (!cast<SymbolOpInterface>(fn.getOperation()).isPublic()) {
        record.emitError("a routing record must be in a public function (an "
                         "entry point): the runtime counts each report for "
                         "the entry point being called");
        failed = true;
        return;
      }
      std::string name = fn.getName().str();
      int64_t site = record.getSiteAttr().getInt();
      auto [it, fresh] = sites[name].emplace(site, record);
      if (!fresh) {
        InFlightDiagnostic diag = record.emitError("routing site ")
                                  << site << " is recorded twice in '" << name
                                  << "'";
        diag.attachNote(it->second.getLoc()) << "first recorded here";
        failed = true;
      }
    });
    if (failed)
      return signalPassFailure();
    if (sites.empty())
      return;
    if (Operation *existing = module.lookupSymbol(kHookName)) {
      existing->emitError("'")
          << kHookName << "' is already defined; moe-lower-routing-records "
          << "defines it";
      return signalPassFailure();
    }
    OpBuilder b(ctx);
    LLVM::LLVMFuncOp hook = defineHook(module, b);
    SmallVector<NamedAttribute> table;
    for (auto &[name, records] : sites) {
      SmallVector<Attribute> list;
      for (auto &[site, record] : records) {
        auto indices = cast<RankedTensorType>(record.getIndices().getType());
        list.push_back(b.getDictionaryAttr(
            {b.getNamedAttr("experts", record.getExpertsAttr()),
             b.getNamedAttr("k", b.getI64IntegerAttr(indices.getDimSize(1))),
             b.getNamedAttr("site", record.getSiteAttr())}));
        lowerRecord(record, hook);
      }
      table.push_back(b.getNamedAttr(name, b.getArrayAttr(list)));
    }
    module->setAttr(kRoutingSitesAttr, b.getDictionaryAttr(table));
  }
};
} // namespace
