//===- RuntimeSlots.cpp - exported function-pointer slots for moert ------===//
#include "codegen/cpu/RuntimeSlots.h"

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
