//===- DispatchToGpu.cpp - moe.dispatch as GPU kernels
//---------------------===//
//
// A stable counting sort of the P = T*k assignments by expert, without
// atomics and without a host round trip, in four kernels over chunks of C
// assignments (counts[c*E + e], so the 32 threads of a warp are 32 experts
// of one chunk: they read the same index and write adjacent counts):
//
//   1. thread (c, e): counts[c*E + e] = #{p in chunk c : ids[p] == e}
//   2. thread e:      counts[c*E + e] = the expert's assignments in the
//                     chunks before c; offsets[e + 1] = its total
//   3. one thread:    offsets = the prefix sums of the totals
//   4. thread (c, e): walks chunk c in order and places the expert's
//                     assignments from offsets[e] + counts[c*E + e] on
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/Passes.h"
#include "codegen/linalg/LoweringUtils.h"
#include "dialect/MoEOps.h"

#include "mlir/IR/PatternMatch.h"

#include <tuple>

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::gpu_kernels;

namespace {

struct DispatchToGpu : OpRewritePattern<DispatchOp> {
  DispatchToGpu(MLIRContext *ctx, const GpuKernelShape &shape)
      : OpRewritePattern(ctx), shape(shape) {}

  LogicalResult matchAndRewrite(DispatchOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto idsType = cast<RankedTensorType>(op.getIndices().getType());
    int64_t k = idsType.getDimSize(1), experts = op.getNumExperts();
    if (ShapedType::isDynamic(k))
      return rewriter.notifyMatchFailure(op, "checked by the pass");
    OpBuilder &b = rewriter;
    auto c = [&](int64_t v) { return indexConst(b, loc, v); };
    Type i32 = b.getI32Type();
    auto i32c = [&](OpBuilder &nb, Location nl, Value v) -> Value {
      return arith::IndexCastOp::create(nb, nl, i32, v);
    };

    Value ids2d = toBuffer(b, loc, op.getIndices());
    Value ids = memref::CollapseShapeOp::create(
        b, loc, ids2d, ArrayRef<ReassociationIndices>{{0, 1}});
    Value numTokens = memref::DimOp::create(b, loc, ids2d, 0);
    Value total = arith::MulIOp::create(b, loc, numTokens, c(k));
    Value sorted = allocLike(b, loc, op.getSortedTokens().getType(), {total});
    Value inverse2d =
        allocLike(b, loc, op.getInverse().getType(), {numTokens, Value()});
    Value inverse = memref::CollapseShapeOp::create(
        b, loc, inverse2d, ArrayRef<ReassociationIndices>{{0, 1}});
    Value offsets = allocLike(b, loc, op.getOffsets().getType(), {Value()});

    int64_t chunk = shape.dispatchChunk;
    Value numChunks = arith::CeilDivUIOp::create(b, loc, total, c(chunk));
    Value numE = c(experts);
    Value pairs = arith::MulIOp::create(b, loc, numChunks, numE);
    Value counts = memref::AllocOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic}, i32),
        ValueRange{pairs});

    // The chunk's assignments [first, last) and the thread's expert, for
    // the (chunk, expert) kernels.
    auto chunkOf = [&](OpBuilder &nb, Location nl, Value item) {
      Value ch = arith::DivUIOp::create(nb, nl, item, numE);
      Value e = arith::RemUIOp::create(nb, nl, item, numE);
      Value first = arith::MulIOp::create(nb, nl, ch, c(chunk));
      Value end = arith::AddIOp::create(nb, nl, first, c(chunk));
      Value last = arith::MinUIOp::create(nb, nl, end, total);
      return std::make_tuple(e, first, last);
    };
    auto isExpert = [&](OpBuilder &nb, Location nl, Value p, Value e) {
      Value id = toIndex(nb, nl, memref::LoadOp::create(nb, nl, ids, p));
      return arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, id, e);
    };
    Value zero32 = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
    Value one32 = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(1));

    // 1. Count.
    buildItemKernel(
        b, loc, "dispatch_count", pairs, shape.threadsPerProgram,
        [&](OpBuilder &nb, Location nl, Value item) {
          Value e, first, last;
          std::tie(e, first, last) = chunkOf(nb, nl, item);
          auto count = scf::ForOp::create(
              nb, nl, first, last, c(1), ValueRange{zero32},
              [&](OpBuilder &lb, Location ll, Value p, ValueRange acc) {
                Value inc =
                    arith::ExtUIOp::create(lb, ll, i32, isExpert(lb, ll, p, e));
                scf::YieldOp::create(
                    lb, ll,
                    ValueRange{arith::AddIOp::create(lb, ll, acc[0], inc)});
              });
          memref::StoreOp::create(nb, nl, count.getResult(0), counts, item);
        });

    // 2. Each expert's chunk starts (exclusive scan over chunks) and total.
    buildItemKernel(
        b, loc, "dispatch_scan", numE, shape.threadsPerProgram,
        [&](OpBuilder &nb, Location nl, Value e) {
          auto scan = scf::ForOp::create(
              nb, nl, c(0), numChunks, c(1), ValueRange{zero32},
              [&](OpBuilder &lb, Location ll, Value ch, ValueRange acc) {
                Value at = arith::AddIOp::create(
                    lb, ll, arith::MulIOp::create(lb, ll, ch, numE), e);
                Value n = memref::LoadOp::create(lb, ll, counts, at);
                memref::StoreOp::create(lb, ll, acc[0], counts, at);
                scf::YieldOp::create(
                    lb, ll,
                    ValueRange{arith::AddIOp::create(lb, ll, acc[0], n)});
              });
          Value next = arith::AddIOp::create(nb, nl, e, c(1));
          memref::StoreOp::create(nb, nl, scan.getResult(0), offsets, next);
        });

    // 3. Offsets: the prefix sums of the totals.
    buildItemKernel(
        b, loc, "dispatch_offsets", c(1), shape.threadsPerProgram,
        [&](OpBuilder &nb, Location nl, Value) {
          memref::StoreOp::create(nb, nl, zero32, offsets, c(0));
          scf::ForOp::create(
              nb, nl, c(1), c(experts + 1), c(1), ValueRange{zero32},
              [&](OpBuilder &lb, Location ll, Value e, ValueRange acc) {
                Value n = memref::LoadOp::create(lb, ll, offsets, e);
                Value sum = arith::AddIOp::create(lb, ll, acc[0], n);
                memref::StoreOp::create(lb, ll, sum, offsets, e);
                scf::YieldOp::create(lb, ll, ValueRange{sum});
              });
        });

    // 4. Place, in assignment order within each expert.
    buildItemKernel(
        b, loc, "dispatch_place", pairs, shape.threadsPerProgram,
        [&](OpBuilder &nb, Location nl, Value item) {
          Value e, first, last;
          std::tie(e, first, last) = chunkOf(nb, nl, item);
          Value base = arith::AddIOp::create(
              nb, nl, memref::LoadOp::create(nb, nl, offsets, e),
              memref::LoadOp::create(nb, nl, counts, item));
          scf::ForOp::create(
              nb, nl, first, last, c(1), ValueRange{base},
              [&](OpBuilder &lb, Location ll, Value p, ValueRange slot) {
                auto mine = scf::IfOp::create(lb, ll, TypeRange{i32},
                                              isExpert(lb, ll, p, e),
                                              /*withElseRegion=*/true);
                {
                  OpBuilder tb = mine.getThenBodyBuilder();
                  Value s = toIndex(tb, ll, slot[0]);
                  Value token =
                      arith::DivUIOp::create(tb, ll, p, indexConst(tb, ll, k));
                  memref::StoreOp::create(tb, ll, i32c(tb, ll, token), sorted,
                                          s);
                  memref::StoreOp::create(tb, ll, slot[0], inverse, p);
                  scf::YieldOp::create(tb, ll,
                                       ValueRange{arith::AddIOp::create(
                                           tb, ll, slot[0], one32)});
                }
                {
                  OpBuilder eb = mine.getElseBodyBuilder();
                  scf::YieldOp::create(eb, ll, ValueRange{slot[0]});
                }
                scf::YieldOp::create(lb, ll, mine.getResults());
              });
        });

    rewriter.replaceOp(
        op, {toTensor(b, loc, op.getSortedTokens().getType(), sorted),
             toTensor(b, loc, op.getInverse().getType(), inverse2d),
             toTensor(b, loc, op.getOffsets().getType(), offsets)});
    return success();
  }

  GpuKernelShape shape;
};

} // namespace

void mlir::moe::populateDispatchToGpuPatterns(RewritePatternSet &patterns,
                                              const GpuKernelShape &shape) {
  patterns.add<DispatchToGpu>(patterns.getContext(), shape);
}
