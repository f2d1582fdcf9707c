//===- GroupedMatmulMmaToGpu.cpp - moe.grouped_matmul on tensor cores -----===//
//
// The grouped GEMM out[M, N] = in[M, K] * W[g][N, K]^T with mma.sync
// m16n8k16 (bf16 or f16 operands, f32 accumulators), for the GEMMs
// takesMmaGemm accepts. The tile comes from the target description
// (mmaGemmTile): a program is `warps` warps over 16 rows, each warp
// 8 * nTiles columns, so a program covers 16 x (warps * 8 * nTiles).
//
// Rows are sorted by group, and a 16-row tile may hold rows of several
// groups (at decode, every row may be another expert's). The grid is
// (row tiles) x (column tiles) x (slots): slot s of a tile is row
// rowStart + s, and its program multiplies the tile by that row's group's
// weight only when the row is the group's first in the tile; it stores the
// rows of that group alone. So each group's weight tile is read once per
// row tile it has rows in, and a tile with one group leaves the other
// slots' programs to exit after a binary search. Slot 0 also writes the
// zeros of the tile's rows outside every group. Without offsets (a dense
// GEMM) there is one slot.
//
// Operands are read straight into the mma fragments, two 16-bit elements
// per 32-bit load (the PTX ISA's fragment layouts of m16n8k16, row-major A
// and column-major B: K is contiguous in both the input rows and the weight
// rows). Rows past the tile's group are clamped into the matrix and their
// products never stored; columns past N likewise. The bias is added to the
// f32 sums, which are rounded once to the result type.
//
// Not yet: shared-memory staging (ldmatrix, cp.async), wgmma with TMA, and
// the fusions; the SIMT kernel (GroupedMatmulToGpu.cpp) keeps every GEMM
// this one does not take.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/Passes.h"
#include "codegen/linalg/LoweringUtils.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::gpu_kernels;

bool mlir::moe::takesMmaGemm(GroupedMatmulOp op, const GpuKernelShape &shape) {
  if (shape.mmaWarps <= 0 || op.getRows() || op.getUp() || op.getActivation() ||
      op.getGateUpLayout())
    return false;
  int64_t n, k;
  return hasTensorCoreOperands(op, n, k) && k % 16 == 0 && n % 8 == 0;
}

namespace {

Value i64Const(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v));
}

Value toI64(OpBuilder &b, Location loc, Value index) {
  return arith::IndexCastUIOp::create(b, loc, b.getI64Type(), index);
}

/// The 32 bits at element `element` (an i64 count of 16-bit elements) of
/// the buffer whose base address is `base` (i64): two consecutive
/// elements, the lower-indexed one in the low half, as mma.sync takes them.
Value loadPair(OpBuilder &b, Location loc, Value base, Value element) {
  Value bytes = arith::ShLIOp::create(b, loc, element, i64Const(b, loc, 1));
  Value addr = arith::AddIOp::create(b, loc, base, bytes);
  // Global memory (address space 1): ld.global.
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext(), 1);
  Value ptr = LLVM::IntToPtrOp::create(b, loc, ptrType, addr);
  return LLVM::LoadOp::create(b, loc, b.getI32Type(), ptr, /*alignment=*/4);
}

struct GroupedMatmulMmaToGpu : OpRewritePattern<GroupedMatmulOp> {
  GroupedMatmulMmaToGpu(MLIRContext *ctx, const GpuKernelShape &shape)
      : OpRewritePattern(ctx), shape(shape) {}

  LogicalResult matchAndRewrite(GroupedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (!takesMmaGemm(op, shape) || takesStagedGemm(op, shape))
      return rewriter.notifyMatchFailure(
          op, "not a tensor-core GEMM, or one the staged kernel takes");
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type outType = resultType.getElementType();
    Type elemType =
        cast<RankedTensorType>(op.getInput().getType()).getElementType();
    GemmBuffers operands = gemmBuffers(b, loc, op);
    Value input = operands.input, weight = operands.weight,
          offsets = operands.offsets, bias = operands.bias;
    int64_t groups = operands.groups;
    auto weightType = cast<MemRefType>(weight.getType());
    int64_t N = weightType.getDimSize(weightType.getRank() - 2);
    int64_t K = weightType.getDimSize(weightType.getRank() - 1);
    Value rowCount = memref::DimOp::create(b, loc, input, 0);
    Value result =
        allocLike(b, loc, resultType, {rowCount, indexConst(b, loc, N)});

    const int64_t tileRows = shape.mmaRows, warps = shape.mmaWarps,
                  nTiles = shape.mmaNTiles, warpSize = 32;
    const int64_t warpCols = 8 * nTiles, programCols = warps * warpCols;
    const int64_t colTiles = (N + programCols - 1) / programCols;
    const int64_t slots = offsets ? tileRows : 1;
    const int64_t threads = warps * warpSize;
    Value rowTiles = arith::CeilDivUIOp::create(b, loc, rowCount,
                                                indexConst(b, loc, tileRows));
    Value programs = arith::MulIOp::create(
        b, loc, rowTiles, indexConst(b, loc, colTiles * slots));

    buildKernelNest(
        b, loc, programs, indexConst(b, loc, threads),
        [&](OpBuilder &ib, Location il, Value program, Value tid) {
          // Every program exists; the guard carries the kernel's name.
          Value exists = arith::CmpIOp::create(
              ib, il, arith::CmpIPredicate::ult, program, programs);
          auto guard = scf::IfOp::create(
              ib, il, exists, [&](OpBuilder &tb, Location tl) {
                buildBody(tb, tl, program, tid, input, weight, offsets, bias,
                          result, rowCount, groups, N, K, elemType, outType);
                scf::YieldOp::create(tb, tl);
              });
          guard->setAttr(kKernelNameAttr, ib.getStringAttr("gemm_mma"));
        });
    rewriter.replaceOp(op, toTensor(b, loc, resultType, result));
    return success();
  }

  /// One thread's part of one program.
  void buildBody(OpBuilder &b, Location loc, Value program, Value tid,
                 Value input, Value weight, Value offsets, Value bias,
                 Value result, Value rowCount, int64_t groups, int64_t N,
                 int64_t K, Type elemType, Type outType) const {
    MLIRContext *ctx = b.getContext();
    const int64_t tileRows = shape.mmaRows, nTiles = shape.mmaNTiles;
    const int64_t warpCols = 8 * nTiles,
                  programCols = shape.mmaWarps * warpCols;
    const int64_t colTiles = (N + programCols - 1) / programCols;
    const int64_t slots = offsets ? tileRows : 1;
    auto c = [&](int64_t v) { return indexConst(b, loc, v); };
    auto add = [&](Value x, Value y) {
      return arith::AddIOp::create(b, loc, x, y).getResult();
    };
    auto mul = [&](Value x, Value y) {
      return arith::MulIOp::create(b, loc, x, y).getResult();
    };
    auto cmp = [&](arith::CmpIPredicate p, Value x, Value y) {
      return arith::CmpIOp::create(b, loc, p, x, y).getResult();
    };
    auto andI = [&](Value x, Value y) {
      return arith::AndIOp::create(b, loc, x, y).getResult();
    };
    using P = arith::CmpIPredicate;

    Value warp = arith::DivUIOp::create(b, loc, tid, c(32));
    Value lane = arith::RemUIOp::create(b, loc, tid, c(32));
    Value gid = arith::DivUIOp::create(b, loc, lane, c(4));
    Value tig = arith::RemUIOp::create(b, loc, lane, c(4));
    Value slot = arith::RemUIOp::create(b, loc, program, c(slots));
    Value rest = arith::DivUIOp::create(b, loc, program, c(slots));
    Value colTile = arith::RemUIOp::create(b, loc, rest, c(colTiles));
    Value rowTile = arith::DivUIOp::create(b, loc, rest, c(colTiles));
    Value rowStart = mul(rowTile, c(tileRows));
    Value tileEnd =
        arith::MinUIOp::create(b, loc, add(rowStart, c(tileRows)), rowCount);
    Value n0 = add(mul(colTile, c(programCols)), mul(warp, c(warpCols)));
    // The thread's two rows of the m16 tile (fragment rows gid, gid + 8).
    Value row0 = add(rowStart, gid), row1 = add(row0, c(8));
    Value lastRow = arith::SubIOp::create(b, loc, rowCount, c(1));

    // This program's group and its rows [lo, hi) of the tile.
    Value run, g, lo, hi;
    Value first, end;
    if (offsets) {
      Value r = add(rowStart, slot);
      Value inMatrix = cmp(P::ult, r, rowCount);
      Value rc = arith::MinUIOp::create(b, loc, r, lastRow);
      g = groupOfRow(b, loc, offsets, rc, groups);
      Value gc = arith::MinUIOp::create(b, loc, g, c(groups - 1));
      auto offsetAt = [&](Value i) {
        return moe::toIndex(b, loc, memref::LoadOp::create(b, loc, offsets, i));
      };
      first = offsetAt(c(0));
      end = offsetAt(c(groups));
      Value gStart = offsetAt(gc);
      Value gEnd = offsetAt(add(gc, c(1)));
      Value inside = andI(cmp(P::ule, first, rc), cmp(P::ult, g, c(groups)));
      Value startsHere =
          cmp(P::eq, r, arith::MaxUIOp::create(b, loc, rowStart, gStart));
      run = andI(andI(inMatrix, inside), startsHere);
      g = gc;
      lo = r;
      hi = arith::MinUIOp::create(b, loc, tileEnd, gEnd);
    } else {
      run = cmp(P::ult, rowStart, rowCount);
      lo = rowStart;
      hi = tileEnd;
    }

    // Base addresses: the buffers have the identity layout (offset 0).
    auto baseOf = [&](Value buffer) {
      Value p = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer);
      return toI64(b, loc, p);
    };
    Type f32 = b.getF32Type();
    auto accStruct =
        LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});

    scf::IfOp::create(b, loc, run, [&](OpBuilder &tb, Location tl) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(tb.getInsertionBlock(), tb.getInsertionPoint());
      Value inBase = baseOf(input), wBase = baseOf(weight);
      Value kI64 = i64Const(b, loc, K);
      // Element offsets (i64) of the thread's A rows and B columns at k 0.
      Value ra0 = arith::MinUIOp::create(b, loc, row0, lastRow);
      Value ra1 = arith::MinUIOp::create(b, loc, row1, lastRow);
      Value tig2 = toI64(b, loc, mul(tig, c(2)));
      Value aRow0 = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, toI64(b, loc, ra0), kI64),
          tig2);
      Value aRow1 = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, toI64(b, loc, ra1), kI64),
          tig2);
      Value wGroup = offsets ? arith::MulIOp::create(b, loc, toI64(b, loc, g),
                                                     i64Const(b, loc, N * K))
                                   .getResult()
                             : i64Const(b, loc, 0);
      SmallVector<Value> bCols;
      for (int64_t j = 0; j < nTiles; ++j) {
        Value col = add(n0, add(c(8 * j), gid));
        col = arith::MinUIOp::create(b, loc, col, c(N - 1));
        Value at = arith::AddIOp::create(
            b, loc,
            arith::AddIOp::create(
                b, loc, wGroup,
                arith::MulIOp::create(b, loc, toI64(b, loc, col), kI64)),
            tig2);
        bCols.push_back(at);
      }
      SmallVector<Value> init(4 * nTiles, f32Const(b, loc, 0.0));
      auto operand = [&](OpBuilder &lb, Location ll, Value pair) -> Value {
        if (elemType.isF16())
          return LLVM::BitcastOp::create(
              lb, ll, VectorType::get({2}, lb.getF16Type()), pair);
        return pair;
      };
      auto kLoop = scf::ForOp::create(
          b, loc, c(0), c(K), c(16), init,
          [&](OpBuilder &lb, Location ll, Value k, ValueRange acc) {
            OpBuilder::InsertionGuard inner(b);
            b.setInsertionPoint(lb.getInsertionBlock(), lb.getInsertionPoint());
            Value k64 = toI64(b, ll, k);
            Value k8 = arith::AddIOp::create(b, ll, k64, i64Const(b, ll, 8));
            auto at = [&](Value rowAt, Value kk) {
              return operand(b, ll,
                             loadPair(b, ll, inBase,
                                      arith::AddIOp::create(b, ll, rowAt, kk)));
            };
            SmallVector<Value> a = {at(aRow0, k64), at(aRow1, k64),
                                    at(aRow0, k8), at(aRow1, k8)};
            SmallVector<Value> next;
            for (int64_t j = 0; j < nTiles; ++j) {
              auto bAt = [&](Value kk) {
                return operand(
                    b, ll,
                    loadPair(b, ll, wBase,
                             arith::AddIOp::create(b, ll, bCols[j], kk)));
              };
              SmallVector<Value> bv = {bAt(k64), bAt(k8)};
              SmallVector<Value> cv(acc.begin() + 4 * j,
                                    acc.begin() + 4 * j + 4);
              NVVM::MMATypes ptx =
                  elemType.isF16() ? NVVM::MMATypes::f16 : NVVM::MMATypes::bf16;
              Value d = NVVM::MmaOp::create(
                  b, ll, accStruct, a, bv, cv, ArrayRef<int64_t>{16, 8, 16},
                  std::nullopt, std::nullopt,
                  std::array<NVVM::MMATypes, 2>{ptx, ptx},
                  std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                                 NVVM::MMALayout::col});
              for (int64_t i = 0; i < 4; ++i)
                next.push_back(LLVM::ExtractValueOp::create(
                    b, ll, d, ArrayRef<int64_t>{i}));
            }
            scf::YieldOp::create(b, ll, next);
          });
      // The epilogue: accumulator i of n8 tile j is row gid + 8 * (i / 2),
      // column n0 + 8 j + 2 tig + i % 2.
      for (int64_t j = 0; j < nTiles; ++j) {
        for (int64_t i = 0; i < 4; ++i) {
          Value row = i < 2 ? row0 : row1;
          Value col = add(n0, add(c(8 * j + i % 2), mul(tig, c(2))));
          Value ok = andI(andI(cmp(P::uge, row, lo), cmp(P::ult, row, hi)),
                          cmp(P::ult, col, c(N)));
          Value v = kLoop.getResult(4 * j + i);
          scf::IfOp::create(b, loc, ok, [&](OpBuilder &sb, Location sl) {
            Value sum = v;
            if (bias) {
              Value bv = offsets ? loadF32(sb, sl, bias, {g, col})
                                 : loadF32(sb, sl, bias, {col});
              sum = arith::AddFOp::create(sb, sl, sum, bv);
            }
            memref::StoreOp::create(sb, sl, castFloat(sb, sl, sum, outType),
                                    result, ValueRange{row, col});
            scf::YieldOp::create(sb, sl);
          });
        }
      }
      scf::YieldOp::create(b, loc);
    });

    // Slot 0 writes the zeros of the tile's rows outside every group.
    if (offsets) {
      Value slotZero = cmp(P::eq, slot, c(0));
      for (int64_t j = 0; j < nTiles; ++j) {
        for (int64_t i = 0; i < 4; ++i) {
          Value row = i < 2 ? row0 : row1;
          Value col = add(n0, add(c(8 * j + i % 2), mul(tig, c(2))));
          Value outside = arith::OrIOp::create(b, loc, cmp(P::ult, row, first),
                                               cmp(P::uge, row, end));
          Value ok =
              andI(andI(slotZero, outside),
                   andI(cmp(P::ult, row, rowCount), cmp(P::ult, col, c(N))));
          scf::IfOp::create(b, loc, ok, [&](OpBuilder &sb, Location sl) {
            Value z = arith::ConstantOp::create(sb, sl,
                                                sb.getFloatAttr(outType, 0.0));
            memref::StoreOp::create(sb, sl, z, result, ValueRange{row, col});
            scf::YieldOp::create(sb, sl);
          });
        }
      }
    }
  }

  GpuKernelShape shape;
};

} // namespace

void mlir::moe::populateGroupedMatmulMmaToGpuPatterns(
    RewritePatternSet &patterns, const GpuKernelShape &shape) {
  patterns.add<GroupedMatmulMmaToGpu>(patterns.getContext(), shape);
}
