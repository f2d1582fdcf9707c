//===- GpuDeviceBuffers.cpp - the moe-gpu-device-buffers pass -------------===//
//
// The host side of a GPU layer only sizes buffers, allocates them, takes
// views of them and launches kernels; every buffer lives in device memory.
// Allocations become gpu.alloc, freed by gpu.dealloc after the last op that
// uses the buffer or one of its views, so that gpu-async-region can then
// order the whole function on one stream.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEGPUDEVICEBUFFERS
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

bool hasMemRef(TypeRange types) {
  return llvm::any_of(types, llvm::IsaPred<BaseMemRefType>);
}

/// Ops of the host function that may take a buffer: they do not touch its
/// memory on the host (views, sizes) or are rewritten here.
bool allowedOnHost(Operation *op) {
  return isa<ViewLikeOpInterface, memref::DimOp, memref::AllocOp,
             memref::DeallocOp, memref::CopyOp, gpu::LaunchFuncOp,
             memref::ExtractStridedMetadataOp>(op);
}

/// The buffer `root` and every view of it, transitively.
SetVector<Value> aliasesOf(Value root) {
  SetVector<Value> aliases;
  aliases.insert(root);
  for (size_t i = 0; i < aliases.size(); ++i)
    for (Operation *user : aliases[i].getUsers())
      if (auto view = dyn_cast<ViewLikeOpInterface>(user))
        if (view.getViewSource() == aliases[i])
          for (Value r : user->getResults())
            if (isa<BaseMemRefType>(r.getType()))
              aliases.insert(r);
  return aliases;
}

LogicalResult placeBuffers(func::FuncOp fn) {
  if (fn.isExternal())
    return success();
  if (hasMemRef(fn.getResultTypes()))
    return fn.emitOpError("returns a memref; a GPU function writes its "
                          "results into buffers the caller passes (run "
                          "buffer-results-to-out-params first)");
  if (!fn.getBody().hasOneBlock())
    return fn.emitOpError("has more than one block; the host side of a GPU "
                          "function must be straight-line code");
  Block &body = fn.getBody().front();

  SmallVector<memref::AllocOp> allocs;
  for (Operation &op : body) {
    for (Region &region : op.getRegions()) {
      WalkResult nested = region.walk([&](Operation *inner) {
        if (isa<memref::AllocOp, memref::AllocaOp>(inner) ||
            hasMemRef(inner->getOperandTypes())) {
          inner->emitOpError("uses a buffer inside a region on the host; "
                             "a GPU function's buffers are device memory, "
                             "used by launches at the function's top level");
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      });
      if (nested.wasInterrupted())
        return failure();
    }
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      allocs.push_back(alloc);
      continue;
    }
    if (isa<func::ReturnOp>(op))
      continue; // results were checked above
    if (isa<memref::AllocaOp>(op))
      return op.emitOpError("allocates on the host stack; a GPU function's "
                            "buffers are device memory");
    if (hasMemRef(op.getOperandTypes()) && !allowedOnHost(&op))
      return op.emitOpError("touches a buffer on the host; a GPU function's "
                            "buffers are device memory, read and written by "
                            "its kernels only");
  }

  OpBuilder b(fn.getContext());
  for (memref::AllocOp alloc : allocs) {
    SetVector<Value> aliases = aliasesOf(alloc.getResult());
    Operation *last = alloc;
    bool freed = false;
    for (Value v : aliases)
      for (Operation *user : v.getUsers()) {
        // Every user is a top-level op the checks above allowed: a view,
        // a size, a launch, a copy or a free.
        Operation *top = body.findAncestorOpInBlock(*user);
        if (isa<memref::DeallocOp>(user))
          freed = true;
        if (last->isBeforeInBlock(top))
          last = top;
      }
    b.setInsertionPoint(alloc);
    auto device = gpu::AllocOp::create(
        b, alloc.getLoc(), alloc.getType(), /*asyncToken=*/Type(), ValueRange(),
        alloc.getDynamicSizes(), alloc.getSymbolOperands(),
        /*hostShared=*/false);
    alloc.getResult().replaceAllUsesWith(device.getMemref());
    if (!freed) {
      b.setInsertionPointAfter(last == alloc ? device.getOperation() : last);
      gpu::DeallocOp::create(b, alloc.getLoc(), /*asyncToken=*/Type(),
                             ValueRange(), device.getMemref());
    }
    alloc.erase();
  }
  for (Operation &op : llvm::make_early_inc_range(body)) {
    b.setInsertionPoint(&op);
    if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
      gpu::DeallocOp::create(b, op.getLoc(), Type(), ValueRange(),
                             dealloc.getMemref());
      op.erase();
    } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
      gpu::MemcpyOp::create(b, op.getLoc(), Type(), ValueRange(),
                            copy.getTarget(), copy.getSource());
      op.erase();
    }
  }
  return success();
}

struct MoEGpuDeviceBuffersPass
    : mlir::moe::impl::MoEGpuDeviceBuffersBase<MoEGpuDeviceBuffersPass> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (failed(placeBuffers(fn)))
        return signalPassFailure();
  }
};

} // namespace
