//===- StagedGemmMultiply.cpp - a stage of the staged GEMM, multiplied ----===//
//
// The two ways the staged tensor-core GEMM (GroupedMatmulStagedToGpu.cpp)
// multiplies its stages: mma.sync m16n8k16 on fragments read by ldmatrix,
// and, on sm_90a, wgmma m64nNk16 on shared-memory descriptors of the
// stages (their layout is the 64-byte swizzle's canonical K-major one).
// Each gives the thread's sums and where they belong (Sums).
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/StagedGemmParts.h"
#include "codegen/linalg/LoweringUtils.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::gpu_kernels;
using namespace mlir::moe::gpu_kernels::staged;

/// multiplies rows wm * warpRows .. by stage weight rows wn * warpCols ..,
/// its fragments read by ldmatrix.
Sums staged::mmaSums(Emit &e, const Tile &t, const StagedGemm &gemm, Value base,
                     Value tid, KLoop kLoop) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  MLIRContext *ctx = b.getContext();
  const StagedGemmTile &s = t.shape;
  Value warp = e.div(tid, 32), lane = e.rem(tid, 32);
  Value wm = e.div(warp, s.warpsN), wn = e.rem(warp, s.warpsN);
  // The thread's ldmatrix addresses in a stage, per 16 of K: A (x4: rows
  // 0-7 and 8-15 of an m16 tile at chunks 2ks and 2ks + 1) and B (x4: two
  // n8 tiles, each at chunks 2ks and 2ks + 1).
  const int64_t kSteps = s.depth / 16;
  Value l8 = e.rem(lane, 8), lh = e.rem(e.div(lane, 8), 2),
        lq = e.div(lane, 16);
  SmallVector<Value> aAddr, bAddr; // [ks][mi], [ks][nj]
  for (int64_t ks = 0; ks < kSteps; ++ks) {
    for (int64_t mi = 0; mi < t.mTiles; ++mi) {
      Value row = e.add(e.add(e.mul(wm, e.c(t.warpRows)), e.c(16 * mi)),
                        e.add(l8, e.mul(lh, e.c(8))));
      Value chunk = e.add(e.c(2 * ks), lq);
      aAddr.push_back(e.toI32(e.mul(swizzled(e, t, row, chunk), e.c(16))));
    }
    for (int64_t nj = 0; nj < t.nTiles / 2; ++nj) {
      Value row = e.add(e.add(e.mul(wn, e.c(t.warpCols)), e.c(16 * nj)),
                        e.add(l8, e.mul(lq, e.c(8))));
      Value chunk = e.add(e.c(2 * ks), lh);
      bAddr.push_back(e.toI32(
          e.add(e.mul(swizzled(e, t, row, chunk), e.c(16)), e.c(t.aBytes))));
    }
  }

  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  auto x4 = LLVM::LLVMStructType::getLiteral(ctx, {i32, i32, i32, i32});
  auto accStruct = LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
  NVVM::MMATypes ptx =
      gemm.elemType.isF16() ? NVVM::MMATypes::f16 : NVVM::MMATypes::bf16;
  SmallVector<Value> init(4 * t.mTiles * t.nTiles, f32Const(b, loc, 0.0));
  auto loop = kLoop(init, [&](Emit &l, Value stageOff, ValueRange acc) {
    OpBuilder &lb = l.b;
    Location ll = l.loc;
    auto fragments = [&](Value addr) {
      Value ptr = l.shared(base, l.add(stageOff, addr));
      auto ld =
          NVVM::LdMatrixOp::create(lb, ll, x4, ptr, 4, NVVM::MMALayout::row,
                                   NVVM::LdStMatrixShapeAttr::get(ctx, 8, 8),
                                   NVVM::LdStMatrixEltType::B16);
      SmallVector<Value> regs;
      for (int64_t i = 0; i < 4; ++i) {
        Value r =
            LLVM::ExtractValueOp::create(lb, ll, ld, ArrayRef<int64_t>{i});
        if (gemm.elemType.isF16())
          r = LLVM::BitcastOp::create(lb, ll,
                                      VectorType::get({2}, lb.getF16Type()), r);
        regs.push_back(r);
      }
      return regs;
    };
    SmallVector<Value> out(acc.begin(), acc.end());
    for (int64_t ks = 0; ks < kSteps; ++ks) {
      SmallVector<SmallVector<Value>> a, bf;
      for (int64_t mi = 0; mi < t.mTiles; ++mi)
        a.push_back(fragments(aAddr[ks * t.mTiles + mi]));
      for (int64_t nj = 0; nj < t.nTiles / 2; ++nj) {
        SmallVector<Value> r = fragments(bAddr[ks * (t.nTiles / 2) + nj]);
        bf.push_back({r[0], r[1]});
        bf.push_back({r[2], r[3]});
      }
      for (int64_t mi = 0; mi < t.mTiles; ++mi)
        for (int64_t nt = 0; nt < t.nTiles; ++nt) {
          int64_t at = 4 * (mi * t.nTiles + nt);
          SmallVector<Value> cv(out.begin() + at, out.begin() + at + 4);
          Value d = NVVM::MmaOp::create(
              lb, ll, accStruct, a[mi], bf[nt], cv,
              ArrayRef<int64_t>{16, 8, 16}, std::nullopt, std::nullopt,
              std::array<NVVM::MMATypes, 2>{ptx, ptx},
              std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                             NVVM::MMALayout::col});
          for (int64_t i = 0; i < 4; ++i)
            out[at + i] =
                LLVM::ExtractValueOp::create(lb, ll, d, ArrayRef<int64_t>{i});
        }
    }
    return out;
  });

  // Accumulator i of tile (mi, nt) is row 16 mi + gid + 8 (i / 2), stage
  // weight row 8 nt + 2 tig + i % 2 of the warp's part of the tile; for
  // gate and up projections tiles 2 p (gate) and 2 p + 1 (up) hold the
  // same outputs.
  Sums sums;
  sums.values.assign(loop.getResults().begin(), loop.getResults().end());
  Value gid = e.div(lane, 4), tig = e.rem(lane, 4);
  Value warpRow0 = e.add(e.mul(wm, e.c(t.warpRows)), gid);
  for (int64_t mi = 0; mi < t.mTiles; ++mi)
    for (int64_t half = 0; half < 2; ++half)
      sums.rows.push_back(e.add(warpRow0, e.c(16 * mi + 8 * half)));
  Value stageCol0 = e.add(e.mul(wn, e.c(t.warpCols)), e.mul(tig, e.c(2)));
  const int64_t step = gemm.gated ? 2 : 1;
  for (int64_t mi = 0; mi < t.mTiles; ++mi)
    for (int64_t nt = 0; nt < t.nTiles; nt += step)
      for (int64_t i = 0; i < 4; ++i)
        sums.items.push_back(
            {4 * (mi * t.nTiles + nt) + i,
             gemm.gated ? 4 * (mi * t.nTiles + nt + 1) + i : -1, 2 * mi + i / 2,
             e.add(stageCol0, e.c(8 * nt + i % 2))});
  return sums;
}

/// wgmma m64nNk16 (sm_90a): the program's two warpgroups each multiply
/// 64 rows of one operand by all rows of the other, both read from the
/// stage through shared-memory descriptors. Prefill: A is 64 of the
/// tile's rows, B the 128 weight rows (N 128). Decode, swapped: A is 64
/// of the weight rows, B the tile's rows (N = rows).
Sums staged::wgmmaSums(Emit &e, const Tile &t, const StagedGemm &gemm,
                       Value base, Value tid, KLoop kLoop) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  MLIRContext *ctx = b.getContext();
  const StagedGemmTile &s = t.shape;
  const int64_t warpgroups = t.threads / 128;
  const bool swapped = s.rows != 64 * warpgroups;
  assert((swapped ? s.cols : s.rows) == 64 * warpgroups &&
         "one operand's rows are 64 per warpgroup");
  const int64_t n = swapped ? s.rows : s.cols;
  assert(n % 8 == 0 && n <= 256 && "wgmma's N is a multiple of 8 to 256");
  const int64_t rowBytes = s.depth * 2;
  Value wg = e.div(tid, 128);
  // The operands' first row in a stage, in bytes: A's the warpgroup's 64.
  Value aStart = e.toI64(
      e.add(e.c(swapped ? t.aBytes : 0), e.mul(wg, e.c(64 * rowBytes))));
  Value bStart = e.i64(swapped ? 0 : t.aBytes);
  // The descriptor of the stage at shared address 0: the K-major
  // canonical layout of rows of rowBytes, swizzled over rowBytes (the
  // stage's chunk ^ (row / rowsPerLine) % chunks is that swizzle: 64
  // bytes, 2; 128, 1; 32, 3); the leading byte offset unused (1), the
  // stride byte offset that of 8 rows. The descriptor of the operand at
  // byte b of the staging buffer adds b / 16 (the start address field).
  const int64_t mode = rowBytes == 128 ? 1 : rowBytes == 64 ? 2 : 3;
  assert((rowBytes == 32 || rowBytes == 64 || rowBytes == 128) &&
         "the stage rows are a wgmma swizzle width");
  Value addr = LLVM::PtrToIntOp::create(b, loc, b.getI64Type(), base);
  Value desc = e.orI(
      arith::ShRUIOp::create(b, loc, e.andI(addr, e.i64(0x3FFFF)), e.i64(4)),
      e.i64((int64_t(1) << 16) | (int64_t(8 * rowBytes / 16) << 32) |
            int64_t(uint64_t(mode) << 62)));

  Type f32 = b.getF32Type();
  auto accStruct =
      LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(n / 2, f32));
  NVVM::WGMMATypes type =
      gemm.elemType.isF16() ? NVVM::WGMMATypes::f16 : NVVM::WGMMATypes::bf16;
  Value zero = LLVM::ZeroOp::create(b, loc, accStruct);
  auto loop = kLoop(zero, [&](Emit &l, Value stageOff, ValueRange acc) {
    Value stage =
        l.add(desc, arith::ShRUIOp::create(
                        l.b, l.loc, l.toI64(l.fromI32(stageOff)), l.i64(4)));
    Value d = acc[0];
    NVVM::WgmmaFenceAlignedOp::create(l.b, l.loc);
    for (int64_t ks = 0; ks < s.depth / 16; ++ks) {
      auto at = [&](Value start) {
        return l.add(stage, arith::ShRUIOp::create(l.b, l.loc,
                                                   l.add(start, l.i64(32 * ks)),
                                                   l.i64(4)));
      };
      d = NVVM::WgmmaMmaAsyncOp::create(
          l.b, l.loc, accStruct, d, at(aStart), at(bStart),
          NVVM::MMAShapeAttr::get(ctx, 64, n, 16), type, type,
          NVVM::WGMMATypes::f32, NVVM::WGMMAScaleOut::one,
          NVVM::WGMMAScaleIn::one, NVVM::WGMMAScaleIn::one,
          NVVM::MMALayout::row, NVVM::MMALayout::col,
          NVVM::MMAIntOverflowAttr());
    }
    NVVM::WgmmaGroupSyncAlignedOp::create(l.b, l.loc);
    // The stage is overwritten after the next step's barrier: its
    // products are done before this warpgroup reaches it.
    NVVM::WgmmaWaitGroupSyncOp::create(l.b, l.loc, 0);
    return SmallVector<Value>{d};
  });

  // Sum i of the m64nN result is its row 16 w + gid + 8 ((i % 4) / 2) (w
  // the warp of the warpgroup) and column 8 (i / 4) + 2 tig + i % 2.
  Sums sums;
  for (int64_t i = 0; i < n / 2; ++i)
    sums.values.push_back(LLVM::ExtractValueOp::create(
        b, loc, loop.getResult(0), ArrayRef<int64_t>{i}));
  Value lane = e.rem(tid, 32), gid = e.div(lane, 4), tig = e.rem(lane, 4);
  // The result row of the thread's sums 0 and 1 (8 more for 2 and 3).
  Value row0 = e.add(e.mul(e.div(tid, 32), e.c(16)), gid);
  Value col0 = e.mul(tig, e.c(2));
  if (!swapped) {
    // Result rows are tile rows (64 a warpgroup), columns stage rows; for
    // gate and up projections n8 blocks 2 p and 2 p + 1.
    sums.rows = {row0, e.add(row0, e.c(8))};
    const int64_t step = gemm.gated ? 2 : 1;
    for (int64_t c = 0; c < n / 8; c += step)
      for (int64_t i = 0; i < 4; ++i)
        sums.items.push_back({4 * c + i, gemm.gated ? 4 * (c + 1) + i : -1,
                              i / 2, e.add(col0, e.c(8 * c + i % 2))});
    return sums;
  }
  // Swapped: result rows are stage weight rows (64 a warpgroup: for gate
  // and up projections, rows 16 j + gid the gate and 16 j + 8 + gid the
  // up of one output), columns tile rows.
  for (int64_t c = 0; c < n / 8; ++c)
    for (int64_t v = 0; v < 2; ++v)
      sums.rows.push_back(e.add(col0, e.c(8 * c + v)));
  for (int64_t c = 0; c < n / 8; ++c)
    for (int64_t v = 0; v < 2; ++v)
      for (int64_t h = 0; h < (gemm.gated ? 1 : 2); ++h)
        sums.items.push_back({4 * c + 2 * h + v,
                              gemm.gated ? 4 * c + 2 + v : -1, 2 * c + v,
                              e.add(row0, e.c(8 * h))});
  return sums;
}
