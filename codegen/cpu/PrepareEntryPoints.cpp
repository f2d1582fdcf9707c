//===- PrepareEntryPoints.cpp - the moe-prepare-entry-points pass ---------===//
#include "codegen/cpu/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEPREPAREENTRYPOINTS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
struct MoEPrepareEntryPointsPass
    : mlir::moe::impl::MoEPrepareEntryPointsBase<MoEPrepareEntryPointsPass> {
  using Base::Base;
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    for (func::FuncOp fn : getOperation().getOps<func::FuncOp>()) {
      if (!fn.isPublic() || fn.isExternal())
        continue;
      fn->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                  UnitAttr::get(ctx));
      for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
        for (const char *recorded :
             {kArgNameAttr, kArgStackAttr, kArgTransposedAttr,
              kArgStoredDtypeAttr, kArgMxScalesAttr, kArgBlockScalesAttr})
          fn.removeArgAttr(i, recorded);
        fn.setArgAttr(i, bufferization::BufferizationDialect::kWritableAttrName,
                      BoolAttr::get(ctx, false));
      }
    }
  }
};
} // namespace
