//===- GroupedMatmulToGpu.cpp - moe.grouped_matmul as a GPU kernel
//---------===//
//
// The SIMT form of the grouped GEMM: one thread per element of the result
// [M, N], consecutive threads on consecutive columns of a row (the row's
// inputs are shared, the weight rows they read are K apart). A row finds
// its group by a binary search of the offsets, ceil(log2(G + 1)) steps of
// selects; rows outside every group are zero. The k loop accumulates in
// f32 (the result type if wider), the bias is added once, and the sum is
// rounded once to the result type.
//
// This is the kernel the tests check the grouping and indexing of on the
// CPU (tensor-cores=false). Where the tensor-core kernel takes a GEMM
// (takesMmaGemm: bf16 or f16 operands; GroupedMatmulMmaToGpu.cpp), this
// pattern leaves it.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/Passes.h"
#include "codegen/linalg/LoweringUtils.h"
#include "dialect/MoEOps.h"

#include "mlir/IR/PatternMatch.h"

#include "llvm/Support/MathExtras.h"

#include <tuple>

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::gpu_kernels;

namespace {

struct GroupedMatmulToGpu : OpRewritePattern<GroupedMatmulOp> {
  GroupedMatmulToGpu(MLIRContext *ctx, const GpuKernelShape &shape)
      : OpRewritePattern(ctx), shape(shape) {}

  LogicalResult matchAndRewrite(GroupedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getRows() || op.getUp() || op.getActivation() ||
        op.getGateUpLayout())
      return rewriter.notifyMatchFailure(op,
                                         "fused forms: checked by the pass");
    if (takesMmaGemm(op, shape) || takesStagedGemm(op, shape))
      return rewriter.notifyMatchFailure(op, "the tensor-core kernel's");
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type outType = resultType.getElementType();
    Type accType =
        outType.getIntOrFloatBitWidth() > 32 ? outType : b.getF32Type();
    GemmBuffers operands = gemmBuffers(b, loc, op);
    Value input = operands.input, weight = operands.weight,
          offsets = operands.offsets, bias = operands.bias;
    int64_t groups = operands.groups;
    unsigned nDim = offsets ? 1 : 0;
    Value rowCount = memref::DimOp::create(b, loc, input, 0);
    Value depth = memref::DimOp::create(b, loc, input, 1);
    Value columns = memref::DimOp::create(b, loc, weight, nDim);
    Value result = allocLike(b, loc, resultType, {rowCount, columns});
    Value items = arith::MulIOp::create(b, loc, rowCount, columns);

    buildItemKernel(
        b, loc, "gemm", items, shape.threadsPerProgram,
        [&](OpBuilder &nb, Location nl, Value item) {
          Value m, n;
          std::tie(m, n) = rowAndColumn(nb, nl, item, columns);
          auto load = [&](OpBuilder &lb, Location ll, Value buffer,
                          ValueRange idx) {
            return castFloat(
                lb, ll, memref::LoadOp::create(lb, ll, buffer, idx), accType);
          };
          // The dot product of row m with weight row n of group g (or of
          // the only weight), plus the bias.
          auto dot = [&](OpBuilder &db, Location dl, Value g) -> Value {
            Value zero = arith::ConstantOp::create(
                db, dl, db.getFloatAttr(accType, 0.0));
            auto loop = scf::ForOp::create(
                db, dl, indexConst(db, dl, 0), depth, indexConst(db, dl, 1),
                ValueRange{zero},
                [&](OpBuilder &lb, Location ll, Value k, ValueRange acc) {
                  Value x = load(lb, ll, input, {m, k});
                  Value w = g ? load(lb, ll, weight, {g, n, k})
                              : load(lb, ll, weight, {n, k});
                  Value sum = arith::AddFOp::create(
                      lb, ll, acc[0], arith::MulFOp::create(lb, ll, x, w));
                  scf::YieldOp::create(lb, ll, ValueRange{sum});
                });
            Value sum = loop.getResult(0);
            if (bias) {
              Value bv =
                  g ? load(db, dl, bias, {g, n}) : load(db, dl, bias, {n});
              sum = arith::AddFOp::create(db, dl, sum, bv);
            }
            return sum;
          };
          Value value;
          if (!offsets) {
            value = dot(nb, nl, Value());
          } else {
            Value g = groupOfRow(nb, nl, offsets, m, groups);
            Value first = moe::toIndex(
                nb, nl,
                memref::LoadOp::create(nb, nl, offsets, indexConst(nb, nl, 0)));
            Value inside = arith::AndIOp::create(
                nb, nl,
                arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ule, first,
                                      m),
                arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult, g,
                                      indexConst(nb, nl, groups)));
            auto branch = scf::IfOp::create(nb, nl, TypeRange{accType}, inside,
                                            /*withElseRegion=*/true);
            {
              OpBuilder tb = branch.getThenBodyBuilder();
              scf::YieldOp::create(tb, nl, ValueRange{dot(tb, nl, g)});
            }
            {
              OpBuilder eb = branch.getElseBodyBuilder();
              scf::YieldOp::create(eb, nl,
                                   ValueRange{arith::ConstantOp::create(
                                       eb, nl, eb.getFloatAttr(accType, 0.0))});
            }
            value = branch.getResult(0);
          }
          memref::StoreOp::create(nb, nl, castFloat(nb, nl, value, outType),
                                  result, ValueRange{m, n});
        });
    rewriter.replaceOp(op, toTensor(b, loc, resultType, result));
    return success();
  }

  GpuKernelShape shape;
};

} // namespace

void mlir::moe::populateGroupedMatmulToGpuPatterns(
    RewritePatternSet &patterns, const GpuKernelShape &shape) {
  patterns.add<GroupedMatmulToGpu>(patterns.getContext(), shape);
}
