//===- LowerAllocations.cpp - the moe-lower-allocations pass --------------===//
//
// A layer's scratch buffers (routing tables, gathered rows, the experts'
// intermediate activations) are allocated and freed on every call. Taken
// from malloc, buffers of tens of MiB come straight from mmap and are
// page-faulted and zeroed by the kernel each time, which costs as much as
// a large part of the GEMMs. The runtime instead keeps a session's freed
// buffers for its next call; this pass routes the code's allocations there.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/Passes.h"
#include "codegen/cpu/RuntimeSlots.h"
#include "runtime/abi/ArtifactAbi.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOELOWERALLOCATIONS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

constexpr StringLiteral kAllocName = "_mlir_memref_to_llvm_alloc";
constexpr StringLiteral kFreeName = "_mlir_memref_to_llvm_free";

/// A declaration of the C function `name`, created if missing.
LLVM::LLVMFuncOp libcFunction(ModuleOp module, OpBuilder &b, StringRef name,
                              LLVM::LLVMFunctionType type) {
  if (auto fn = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
    return fn;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  return LLVM::LLVMFuncOp::create(b, module.getLoc(), name, type);
}

/// Gives the declaration `hook` a body: call the function in `slot` when
/// the runtime has set it, else `fallback`.
LogicalResult defineHook(ModuleOp module, OpBuilder &b, LLVM::LLVMFuncOp hook,
                         LLVM::LLVMFunctionType expected, StringRef slotName,
                         StringRef fallbackName) {
  if (!hook.isExternal())
    return hook.emitError("'")
           << hook.getName()
           << "' is already defined; moe-lower-allocations defines it";
  if (hook.getFunctionType() != expected)
    return hook.emitError("'")
           << hook.getName() << "' has type " << hook.getFunctionType()
           << ", expected " << expected;
  MLIRContext *ctx = b.getContext();
  Location loc = hook.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  LLVM::GlobalOp slot = getOrCreateRuntimeSlot(module, b, slotName);
  LLVM::LLVMFuncOp fallback = libcFunction(module, b, fallbackName, expected);
  // Only this artifact's code calls it.
  hook.setLinkage(LLVM::Linkage::Internal);

  OpBuilder::InsertionGuard guard(b);
  Block *entry = hook.addEntryBlock(b);
  b.setInsertionPointToStart(entry);
  Value slotAddr = LLVM::AddressOfOp::create(b, loc, slot);
  Value fn = LLVM::LoadOp::create(b, loc, ptr, slotAddr);
  Value null = LLVM::ZeroOp::create(b, loc, ptr);
  Value isNull =
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, fn, null);
  Block *libc = b.createBlock(&hook.getBody());
  Block *runtime = b.createBlock(&hook.getBody());
  b.setInsertionPointToEnd(entry);
  LLVM::CondBrOp::create(b, loc, isNull, libc, runtime);

  bool returnsValue = !isa<LLVM::LLVMVoidType>(expected.getReturnType());
  auto finish = [&](LLVM::CallOp call) {
    if (returnsValue)
      LLVM::ReturnOp::create(b, loc, call.getResult());
    else
      LLVM::ReturnOp::create(b, loc, ValueRange{});
  };
  b.setInsertionPointToStart(libc);
  finish(LLVM::CallOp::create(b, loc, fallback, entry->getArguments()));
  b.setInsertionPointToStart(runtime);
  SmallVector<Value> args = {fn};
  llvm::append_range(args, entry->getArguments());
  finish(LLVM::CallOp::create(b, loc, expected, args));
  return success();
}

struct LowerAllocationsPass
    : mlir::moe::impl::MoELowerAllocationsBase<LowerAllocationsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    OpBuilder b(ctx);
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    Type i64 = IntegerType::get(ctx, 64);
    auto allocType = LLVM::LLVMFunctionType::get(ptr, {i64});
    auto freeType =
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptr});
    if (auto alloc = module.lookupSymbol<LLVM::LLVMFuncOp>(kAllocName))
      if (failed(defineHook(module, b, alloc, allocType, ::moe::abi::kAllocSlot,
                            "malloc")))
        return signalPassFailure();
    if (auto release = module.lookupSymbol<LLVM::LLVMFuncOp>(kFreeName))
      if (failed(defineHook(module, b, release, freeType, ::moe::abi::kFreeSlot,
                            "free")))
        return signalPassFailure();
  }
};

} // namespace
