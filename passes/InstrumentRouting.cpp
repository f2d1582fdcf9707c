//===- InstrumentRouting.cpp - the moe-instrument-routing pass ------------===//
//
// Puts a moe.record_routing after every moe.route, so that a compiled layer
// can report the experts it selects to the runtime's routing statistics.
//
//===----------------------------------------------------------------------===//
#include "dialect/MoEOps.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEINSTRUMENTROUTING
#include "passes/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
/// Whether `route` already has its indices recorded.
bool isRecorded(RouteOp route) {
  for (Operation *user : route.getIndices().getUsers())
    if (isa<RecordRoutingOp>(user))
      return true;
  return false;
}

struct MoEInstrumentRoutingPass
    : mlir::moe::impl::MoEInstrumentRoutingBase<MoEInstrumentRoutingPass> {
  using Base::Base;
  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    // The runtime counts a report for the entry point being called: only
    // entry points record (a private callee's routes are not recorded).
    if (!fn.isPublic() || fn.isExternal())
      return;
    int64_t nextSite = 0;
    bool failed = false;
    fn.walk([&](Operation *op) {
      if (auto record = dyn_cast<RecordRoutingOp>(op))
        nextSite = std::max(nextSite, record.getSiteAttr().getInt() + 1);
      if (isa<LayerOp>(op)) {
        op->emitError("moe.layer must be decomposed before its routing can be "
                      "recorded (run moe-decompose first)");
        failed = true;
      }
    });
    if (failed)
      return signalPassFailure();
    fn.walk([&](RouteOp route) {
      if (isRecorded(route))
        return;
      int64_t experts =
          cast<RankedTensorType>(route.getLogits().getType()).getDimSize(1);
      if (ShapedType::isDynamic(experts)) {
        route.emitError("cannot record the routing of a route whose expert "
                        "count is dynamic: ")
            << route.getLogits().getType();
        failed = true;
        return;
      }
      // Beyond what the runtime counts: left unrecorded.
      if (experts > kMaxRecordedExperts)
        return;
      OpBuilder b(route->getContext());
      b.setInsertionPointAfter(route);
      RecordRoutingOp::create(b, route.getLoc(), route.getIndices(), nextSite++,
                              experts);
    });
    if (failed)
      signalPassFailure();
  }
};
} // namespace
