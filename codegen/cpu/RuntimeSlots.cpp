//===- RuntimeSlots.cpp - exported function-pointer slots for moert ------===//
#include "codegen/cpu/RuntimeSlots.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;

LLVM::GlobalOp mlir::moe::getOrCreateRuntimeSlot(ModuleOp module, OpBuilder &b,
                                                 StringRef name) {
  if (auto g = module.lookupSymbol<LLVM::GlobalOp>(name))
    return g;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(module.getBody());
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  auto global = LLVM::GlobalOp::create(
      b, module.getLoc(), ptr,
      /*isConstant=*/false, LLVM::Linkage::External, name, Attribute());
  Block *init = b.createBlock(&global.getInitializerRegion());
  b.setInsertionPointToStart(init);
  Value zero = LLVM::ZeroOp::create(b, module.getLoc(), ptr);
  LLVM::ReturnOp::create(b, module.getLoc(), zero);
  return global;
}

LLVM::LLVMFuncOp mlir::moe::defineSlotHook(ModuleOp module, OpBuilder &b,
                                           StringRef hookName,
                                           StringRef slotName,
                                           LLVM::LLVMFunctionType type) {
  Location loc = module.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  LLVM::GlobalOp slot = getOrCreateRuntimeSlot(module, b, slotName);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  auto hook =
      LLVM::LLVMFuncOp::create(b, loc, hookName, type, LLVM::Linkage::Internal);
  Block *entry = hook.addEntryBlock(b);
  b.setInsertionPointToStart(entry);
  Value fn = LLVM::LoadOp::create(b, loc, ptr,
                                  LLVM::AddressOfOp::create(b, loc, slot));
  Value isNull = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, fn,
                                      LLVM::ZeroOp::create(b, loc, ptr));
  Block *call = b.createBlock(&hook.getBody());
  Block *none = b.createBlock(&hook.getBody());
  b.setInsertionPointToEnd(entry);
  LLVM::CondBrOp::create(b, loc, isNull, none, call);
  Type result = type.getReturnType();
  bool isVoid = isa<LLVM::LLVMVoidType>(result);
  b.setInsertionPointToStart(call);
  SmallVector<Value> args = {fn};
  llvm::append_range(args, entry->getArguments());
  auto called = LLVM::CallOp::create(b, loc, type, args);
  LLVM::ReturnOp::create(
      b, loc, isVoid ? ValueRange{} : ValueRange{called.getResult()});
  b.setInsertionPointToStart(none);
  if (isVoid)
    LLVM::ReturnOp::create(b, loc, ValueRange{});
  else
    LLVM::ReturnOp::create(b, loc,
                           ValueRange{LLVM::ZeroOp::create(b, loc, result)});
  return hook;
}

Value mlir::moe::bufferElementPointer(OpBuilder &b, Location loc,
                                      Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  auto i64 = b.getI64Type();
  auto toI64 = [&](Value index) {
    return arith::IndexCastOp::create(b, loc, i64, index).getResult();
  };
  auto meta = memref::ExtractStridedMetadataOp::create(b, loc, buffer);
  Value base =
      toI64(memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer));
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  return LLVM::GEPOp::create(b, loc, ptr, type.getElementType(),
                             LLVM::IntToPtrOp::create(b, loc, ptr, base),
                             ValueRange{toI64(meta.getOffset())});
}
