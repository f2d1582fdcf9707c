//===- LowerParallelLaunches.cpp - the moe-lower-parallel-launches pass ---===//
//
// The LLVM half of the runtime's parallel loops (see OutlineParallelLoops):
// arguments are packed into a stack struct only now, because only after the
// conversion to LLVM are memref descriptors plain scalars and pointers.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/Passes.h"
#include "codegen/cpu/RuntimeSlots.h"
#include "runtime/abi/ArtifactAbi.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOELOWERPARALLELLAUNCHES
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

constexpr StringLiteral kLaunchPrefix = "__moec_launch_";
const StringRef kSlotName = ::moe::abi::kParallelForSlot;

LogicalResult lowerLaunch(ModuleOp module, LLVM::LLVMFuncOp launch,
                          OpBuilder &b) {
  StringRef bodyName = launch.getName().drop_front(kLaunchPrefix.size());
  auto body = module.lookupSymbol<LLVM::LLVMFuncOp>(bodyName);
  if (!body)
    return launch.emitError("no parallel body '") << bodyName << "'";
  MLIRContext *ctx = b.getContext();
  Location loc = launch.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  Type i64 = IntegerType::get(ctx, 64);
  Type voidTy = LLVM::LLVMVoidType::get(ctx);
  LLVM::LLVMFunctionType launchType = launch.getFunctionType();
  ArrayRef<Type> fields = launchType.getParams().drop_front();
  LLVM::LLVMFunctionType bodyType = body.getFunctionType();
  if (launchType.getNumParams() < 1 || launchType.getParams()[0] != i64 ||
      bodyType.getNumParams() != fields.size() + 2)
    return launch.emitError("parallel launch and body '")
           << bodyName << "' disagree on their arguments";
  // Only the trampoline calls the body: keep it out of the export table.
  body.setLinkage(LLVM::Linkage::Internal);
  // Buffers moe-outline-parallel-loops found distinct from the others.
  if (auto noAlias =
          body->getAttrOfType<DenseI64ArrayAttr>(kNoAliasPointersAttr)) {
    for (int64_t at : noAlias.asArrayRef()) {
      if (at < 0 || at >= static_cast<int64_t>(bodyType.getNumParams()) ||
          !isa<LLVM::LLVMPointerType>(bodyType.getParams()[at]))
        return body.emitError("'")
               << kNoAliasPointersAttr << "' names argument " << at
               << ", which is not a pointer of '" << bodyName << "'";
      body.setArgAttr(at, LLVM::LLVMDialect::getNoAliasAttrName(),
                      b.getUnitAttr());
    }
    body->removeAttr(kNoAliasPointersAttr);
  }
  // The fewest iterations worth the pool (moe-outline-parallel-loops).
  int64_t minIterations = 1;
  if (Attribute attr = body->getAttr(kMinParallelIterationsAttr)) {
    auto least = dyn_cast<IntegerAttr>(attr);
    if (!least || least.getValue().getSExtValue() < 1)
      return body.emitError("'") << kMinParallelIterationsAttr << "' of '"
                                 << bodyName << "' must be a positive integer";
    minIterations = least.getValue().getSExtValue();
    body->removeAttr(kMinParallelIterationsAttr);
  }
  auto structTy = LLVM::LLVMStructType::getLiteral(ctx, fields);
  auto trampType = LLVM::LLVMFunctionType::get(voidTy, {ptr, i64, i64});

  // void tramp(ptr ctx, i64 begin, i64 end): reload and call the body.
  b.setInsertionPointAfter(body);
  auto tramp =
      LLVM::LLVMFuncOp::create(b, loc, ("__moec_tramp_" + bodyName).str(),
                               trampType, LLVM::Linkage::Internal);
  {
    OpBuilder::InsertionGuard guard(b);
    Block *entry = tramp.addEntryBlock(b);
    b.setInsertionPointToStart(entry);
    SmallVector<Value> args = {entry->getArgument(1), entry->getArgument(2)};
    for (auto [i, t] : llvm::enumerate(fields)) {
      Value addr = LLVM::GEPOp::create(
          b, loc, ptr, structTy, entry->getArgument(0),
          ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
      args.push_back(LLVM::LoadOp::create(b, loc, t, addr));
    }
    LLVM::CallOp::create(b, loc, body, args);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
  }

  // The launch: pack, then dispatch through the slot, or run inline
  // without a pool or below the fewest iterations worth it.
  LLVM::GlobalOp slot = getOrCreateRuntimeSlot(module, b, kSlotName);
  launch.setLinkage(LLVM::Linkage::Internal);
  OpBuilder::InsertionGuard guard(b);
  Block *entry = launch.addEntryBlock(b);
  b.setInsertionPointToStart(entry);
  Value one = LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(1));
  Value frame = LLVM::AllocaOp::create(b, loc, ptr, structTy, one);
  for (auto [i, arg] : llvm::enumerate(entry->getArguments().drop_front())) {
    Value addr =
        LLVM::GEPOp::create(b, loc, ptr, structTy, frame,
                            ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
    LLVM::StoreOp::create(b, loc, arg, addr);
  }
  Value n = entry->getArgument(0);
  Value fnAddr = LLVM::AddressOfOp::create(b, loc, tramp);
  Value slotAddr = LLVM::AddressOfOp::create(b, loc, slot);
  Value dispatcher = LLVM::LoadOp::create(b, loc, ptr, slotAddr);
  Value null = LLVM::ZeroOp::create(b, loc, ptr);
  Value runInline =
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, dispatcher, null);
  if (minIterations > 1)
    runInline = LLVM::OrOp::create(
        b, loc, runInline,
        LLVM::ICmpOp::create(
            b, loc, LLVM::ICmpPredicate::slt, n,
            LLVM::ConstantOp::create(b, loc, i64,
                                     b.getI64IntegerAttr(minIterations))));
  Block *inlineBlock = b.createBlock(&launch.getBody());
  Block *poolBlock = b.createBlock(&launch.getBody());
  b.setInsertionPointToEnd(entry);
  LLVM::CondBrOp::create(b, loc, runInline, inlineBlock, poolBlock);
  b.setInsertionPointToStart(inlineBlock);
  Value zero = LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(0));
  LLVM::CallOp::create(b, loc, tramp, ValueRange{frame, zero, n});
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  b.setInsertionPointToStart(poolBlock);
  auto dispatchType = LLVM::LLVMFunctionType::get(voidTy, {ptr, ptr, i64});
  LLVM::CallOp::create(b, loc, dispatchType,
                       ValueRange{dispatcher, fnAddr, frame, n});
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  return success();
}

struct LowerParallelLaunchesPass
    : mlir::moe::impl::MoELowerParallelLaunchesBase<LowerParallelLaunchesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder b(&getContext());
    SmallVector<LLVM::LLVMFuncOp> launches;
    for (auto fn : module.getOps<LLVM::LLVMFuncOp>())
      if (fn.isExternal() && fn.getName().starts_with(kLaunchPrefix))
        launches.push_back(fn);
    for (LLVM::LLVMFuncOp launch : launches)
      if (failed(lowerLaunch(module, launch, b)))
        return signalPassFailure();
  }
};

} // namespace
