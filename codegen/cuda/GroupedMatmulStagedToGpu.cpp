//===- GroupedMatmulStagedToGpu.cpp - the staged tensor-core GEMM ---------===//
//
// The grouped GEMM out[M, N] = in[M, K] * W[g][N, K]^T on tensor cores with
// its operands staged in shared memory: mma.sync m16n8k16 (bf16 or f16
// operands, f32 accumulators), each stage of both operands copied from
// global memory by cp.async (16 bytes a thread, `stages` stages in flight)
// and read into the fragments by ldmatrix. Its tiles come from the target
// description (stagedGemmRule): 8 warps over 128 weight rows, 128 or 16
// rows of one group, a kernel each (`K` and `K_decode`); the host gives
// one of them an empty grid, chosen from M.
//
// The tile schedule. Rows are sorted by group; the M rows fall into G + 2
// ranges: the rows below offsets[0], each group's [offsets[g],
// offsets[g + 1]), and the rows from offsets[G] on. A range of n rows has
// ceil(n / BM) row tiles, at most one of them partial, and at most
// min(G, M) groups have rows, so there are at most
// ceil(M / BM) + min(G, M) + 2 tiles in all: the grid is that many row
// tiles times the column tiles, and a program
// finds its tile from the prefix sums of the ranges' tile counts, which
// warp 0 builds with warp shuffles (ceil((G + 2) / 32) rounds of one
// scan) and leaves in shared memory. Programs past the last tile exit;
// the tiles of the first and last ranges (rows outside every group) store
// zeros. So a group's weights are read once per BM of its rows, and a
// group without rows costs nothing but its share of the scan. Without
// offsets (a dense GEMM) the tiles are ceil(M / BM) of one range.
//
// Shared memory holds `stages` stages of BM rows and 128 weight rows of 32
// elements (64 bytes, four 16-byte chunks); chunk c of row r is stored at
// chunk c ^ ((r / 2) % 4), so the 8 rows one ldmatrix reads at one chunk
// fall in 8 different 16-byte lines of the 128 bytes the banks cover.
// Rows past the tile's range and weight rows past N are clamped into the
// matrix and their products never stored; the bias is added to the f32
// sums, which are rounded once to the result type.
//
// The fused forms of moe-fuse-dispatch and moe-fuse-gate-up are taken
// whole: with `gather` a row's copies read the gathered token's row; with
// gate and up weights (`up`, or one gate_up_layout weight) a stage holds
// the gate and up weight rows of 64 output columns interleaved 8 by 8, so
// that n8 tiles 2p and 2p + 1 of a warp are the gate and up sums of the
// same outputs in one thread, and the epilogue applies the activation.
//
// The fused combine (moe.combine with down, CombineDownToGpu.cpp) ends in
// the same kernel with another epilogue: each product, plus its group's
// bias, scaled by its row's routing weight and added to its token's row
// of f32 sums with an atomic add (StagedGemm.h); the tiles of rows outside
// every group add nothing.
//
// On sm_90a (the rule's `wgmma`) the stages are multiplied by warpgroup
// MMA instead of ldmatrix and mma.sync: the stage layout above is wgmma's
// canonical K-major layout with the 64-byte swizzle, so each operand is a
// shared-memory descriptor; prefill gives each of the two warpgroups 64
// rows by the 128 weight rows (m64n128k16), decode is swapped (64 weight
// rows by the 16 rows, m64n16k16). The epilogue is shared: each sum knows
// its row and its stage weight row (Sums).
//
// Not yet: TMA and mbarriers for the stages (sm_90a), split-K for decode.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/Passes.h"
#include "codegen/cuda/StagedGemm.h"
#include "codegen/cuda/StagedGemmParts.h"
#include "codegen/linalg/LoweringUtils.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::gpu_kernels;
using namespace mlir::moe::gpu_kernels::staged;

bool gpu_kernels::takesStagedOperands(Type input, Type weight, Type up,
                                      const GpuKernelShape &shape) {
  const StagedGemmRule &rule = shape.staged;
  int64_t n, k;
  return rule.prefill.stages > 0 && rule.decode.stages > 0 &&
         hasTensorCoreOperands(input, weight, up, n, k) &&
         k % rule.prefill.depth == 0 && k % rule.decode.depth == 0;
}

bool mlir::moe::takesStagedGemm(GroupedMatmulOp op,
                                const GpuKernelShape &shape) {
  return takesStagedOperands(op.getInput().getType(), op.getWeight().getType(),
                             op.getUp() ? op.getUp().getType() : Type(), shape);
}

StagedGemm gpu_kernels::describeStagedGemm(OpBuilder &b, Location loc,
                                           const GemmBuffers &buffers,
                                           ActivationAttr activation,
                                           std::optional<GateUpLayout> layout,
                                           Type outType) {
  StagedGemm gemm;
  static_cast<GemmBuffers &>(gemm) = buffers;
  auto weightType = cast<MemRefType>(gemm.weight.getType());
  gemm.weightRows = weightType.getDimSize(weightType.getRank() - 2);
  gemm.K = weightType.getDimSize(weightType.getRank() - 1);
  gemm.activation = activation;
  gemm.layout = layout;
  gemm.gated = gemm.up || gemm.layout;
  gemm.outCols = gemm.layout ? gemm.weightRows / 2 : gemm.weightRows;
  gemm.elemType = cast<MemRefType>(gemm.input.getType()).getElementType();
  gemm.outType = outType;
  gemm.rowCount =
      memref::DimOp::create(b, loc, gemm.rows ? gemm.rows : gemm.input, 0);
  return gemm;
}

namespace {

/// The LLVM global (shared memory, address space 3) the staged GEMMs of a
/// module stage their operands in: internal, so that each kernel module
/// gets its own copy when the kernels are outlined.
constexpr llvm::StringLiteral kSharedName = "moe_gemm_staging";

using Gemm = StagedGemm;

/// The kernel's builder: the staged GEMM of `gemm` for the target's rule.
struct StagedGemmBuilder {
  const GpuKernelShape &shape;

  void build(OpBuilder &b, Location loc, ModuleOp module,
             const Gemm &gemm) const {
    declareStaging(b, module);
    const StagedGemmRule &rule = shape.staged;
    Emit e{b, loc};
    // Each range of rows has floor(n / BM) full tiles and at most one
    // partial one, and at most min(G, M) groups have rows: at most
    // ceil(M / BM) + min(G, M) + 2 tiles (decode: a few more than the
    // tokens' experts, not one per expert).
    Value extraTiles =
        gemm.offsets ? e.add(e.minU(gemm.rowCount, e.c(gemm.groups)), e.c(2))
                     : e.c(0);
    // One kernel per tile, each holding its own tile's code alone (one set
    // of sums live, one tile's wgmma for ptxas to pipeline). The host
    // chooses from M and G: the other kernel's grid is empty, and moert
    // launches no empty grid.
    Value large = usesPrefill(e, gemm);
    launch(e, Tile(rule.prefill), gemm, extraTiles, large, gemm.kernelName);
    launch(e, Tile(rule.decode), gemm, extraTiles,
           arith::XOrIOp::create(
               b, loc, large,
               arith::ConstantOp::create(b, loc, b.getBoolAttr(true))),
           (gemm.kernelName + "_decode").str());
  }

  /// The kernel of tile `t`, named `name`: where `taken`, (ceil(M / BM) +
  /// extraTiles) row tiles times the column tiles; else none.
  void launch(Emit &e, const Tile &t, const Gemm &gemm, Value extraTiles,
              Value taken, StringRef name) const {
    Value rowTiles = e.add(arith::CeilDivUIOp::create(e.b, e.loc, gemm.rowCount,
                                                      e.c(t.shape.rows)),
                           extraTiles);
    Value programs =
        e.select(taken, e.mul(rowTiles, e.c(columnTiles(t, gemm))), e.c(0));
    buildKernelNest(
        e.b, e.loc, programs, e.c(t.threads),
        [&](OpBuilder &ib, Location il, Value program, Value tid) {
          Emit k{ib, il};
          Value exists = k.cmp(P::ult, program, programs);
          auto guard = scf::IfOp::create(ib, il, exists, false);
          guard->setAttr(kKernelNameAttr, ib.getStringAttr(name));
          guard->setAttr(kMinBlocksPerSmAttr,
                         ib.getI32IntegerAttr(shape.staged.minBlocksPerSm));
          OpBuilder::InsertionGuard g(ib);
          ib.setInsertionPointToStart(guard.thenBlock());
          Value base = LLVM::AddressOfOp::create(
              ib, il, LLVM::LLVMPointerType::get(ib.getContext(), 3),
              kSharedName);
          buildProgram(k, t, gemm, base, program, tid);
        });
  }

  /// Output columns per program: the tile's weight rows, or half of them
  /// for gate and up projections.
  static int64_t programCols(const Tile &t, const Gemm &gemm) {
    return gemm.gated ? t.shape.cols / 2 : t.shape.cols;
  }
  static int64_t columnTiles(const Tile &t, const Gemm &gemm) {
    return (gemm.outCols + programCols(t, gemm) - 1) / programCols(t, gemm);
  }

  /// M >= prefillRowsPerGroup * max(G, 1): the prefill tile.
  Value usesPrefill(Emit &e, const Gemm &gemm) const {
    int64_t groups = std::max<int64_t>(gemm.groups, 1);
    return e.cmp(P::uge, gemm.rowCount,
                 e.c(shape.staged.prefillRowsPerGroup * groups));
  }

  /// Aligned to 1024 bytes: wgmma's swizzles are functions of the address,
  /// repeating every 8 rows of their width (at most 128 bytes), so the
  /// stages' swizzled rows are what the descriptors say only from an
  /// address aligned to that.
  void declareStaging(OpBuilder &b, ModuleOp module) const {
    if (module.lookupSymbol(kSharedName))
      return;
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(module.getBody());
    auto type =
        LLVM::LLVMArrayType::get(b.getI8Type(), shape.staged.sharedBytes);
    LLVM::GlobalOp::create(b, module.getLoc(), type, /*isConstant=*/false,
                           LLVM::Linkage::Internal, kSharedName, Attribute(),
                           /*alignment=*/1024, /*addrSpace=*/3);
  }

  /// One program: find its tile, then multiply it (or zero it).
  void buildProgram(Emit &e, const Tile &t, const Gemm &gemm, Value base,
                    Value program, Value tid) const {
    const int64_t colTiles = columnTiles(t, gemm);
    Value colTile = e.rem(program, colTiles);
    Value tile = e.div(program, colTiles);
    Value n0 = e.mul(colTile, e.c(programCols(t, gemm)));
    if (!gemm.offsets) {
      Value tiles = arith::CeilDivUIOp::create(e.b, e.loc, gemm.rowCount,
                                               e.c(t.shape.rows));
      e.ifThen(e.cmp(P::ult, tile, tiles), [&] {
        buildTile(e, t, gemm, base, tid, e.mul(tile, e.c(t.shape.rows)),
                  gemm.rowCount, Value(), n0);
      });
      return;
    }
    buildSchedule(e, t, gemm, base, tid, tile);
    Value total = e.fromI32(loadShared(e, base, 2));
    e.ifThen(e.cmp(P::ult, tile, total), [&] {
      Value range = e.fromI32(loadShared(e, base, 0));
      Value before = e.fromI32(loadShared(e, base, 1));
      // Every thread has read the schedule before the staging overwrites it.
      e.barrier();
      const int64_t G = gemm.groups;
      auto offsetAt = [&](Value i) {
        return moe::toIndex(
            e.b, e.loc, memref::LoadOp::create(e.b, e.loc, gemm.offsets, i));
      };
      // Range r is [r == 0 ? 0 : offsets[r - 1], r == G + 1 ? M : offsets[r]).
      Value isFirst = e.cmp(P::eq, range, e.c(0));
      Value isLast = e.cmp(P::eq, range, e.c(G + 1));
      Value prev =
          e.sub(arith::MaxUIOp::create(e.b, e.loc, range, e.c(1)), e.c(1));
      Value start = e.select(isFirst, e.c(0), offsetAt(prev));
      Value end =
          e.select(isLast, gemm.rowCount, offsetAt(e.minU(range, e.c(G))));
      Value rowStart =
          e.add(start, e.mul(e.sub(tile, before), e.c(t.shape.rows)));
      Value group = e.minU(prev, e.c(G - 1));
      auto tile = [&] {
        buildTile(e, t, gemm, base, tid, rowStart, end, group, n0);
      };
      // Rows outside every group: zeros, or nothing for the fused combine.
      if (gemm.scatter.sums)
        e.ifThenElse(
            e.orI(isFirst, isLast), [] {}, tile);
      else
        e.ifThenElse(
            e.orI(isFirst, isLast),
            [&] { buildZeros(e, t, gemm, tid, rowStart, end, n0); }, tile);
    });
  }

  Value loadShared(Emit &e, Value base, int64_t slot) const {
    return LLVM::LoadOp::create(e.b, e.loc, e.b.getI32Type(),
                                e.shared(base, e.i32(4 * slot)));
  }
  void storeShared(Emit &e, Value base, int64_t slot, Value v) const {
    LLVM::StoreOp::create(e.b, e.loc, v, e.shared(base, e.i32(4 * slot)));
  }

  /// Warp 0 finds the program's tile: the range r whose tiles
  /// [before(r), before(r + 1)) hold `tile`, with before(r) the tiles of
  /// the ranges below r, and the total. Slots 0, 1, 2 of the staging
  /// buffer (i32) get r, before(r) and the total; the slots of r are
  /// written only where the tile exists. A barrier follows.
  void buildSchedule(Emit &e, const Tile &t, const Gemm &gemm, Value base,
                     Value tid, Value tile) const {
    const int64_t G = gemm.groups, ranges = G + 2;
    const int64_t rounds = (ranges + 31) / 32;
    Value lane = e.rem(tid, 32);
    e.ifThen(e.cmp(P::ult, tid, e.c(32)), [&] {
      auto offsetAt = [&](Value i) {
        return moe::toIndex(
            e.b, e.loc, memref::LoadOp::create(e.b, e.loc, gemm.offsets, i));
      };
      // Every round's loads first, then the scans.
      SmallVector<Value> counts, rangeOf, valid;
      for (int64_t round = 0; round < rounds; ++round) {
        Value r = e.add(e.c(32 * round), lane);
        Value ok = e.cmp(P::ult, r, e.c(ranges));
        Value prev =
            e.minU(e.sub(arith::MaxUIOp::create(e.b, e.loc, r, e.c(1)), e.c(1)),
                   e.c(G));
        Value start = e.select(e.cmp(P::eq, r, e.c(0)), e.c(0), offsetAt(prev));
        Value end = e.select(e.cmp(P::uge, r, e.c(G + 1)), gemm.rowCount,
                             offsetAt(e.minU(r, e.c(G))));
        Value len =
            e.select(e.cmp(P::ugt, end, start), e.sub(end, start), e.c(0));
        Value n =
            arith::CeilDivUIOp::create(e.b, e.loc, len, e.c(t.shape.rows));
        counts.push_back(e.toI32(e.select(ok, n, e.c(0))));
        rangeOf.push_back(r);
        valid.push_back(ok);
      }
      Value t32 = e.toI32(tile);
      Value lane32 = e.toI32(lane);
      Value carry = e.i32(0);
      for (int64_t round = 0; round < rounds; ++round) {
        Value x = counts[round];
        for (int64_t d = 1; d < 32; d *= 2) {
          auto up = gpu::ShuffleOp::create(e.b, e.loc, x, d, 32,
                                           gpu::ShuffleMode::UP);
          Value has = e.cmp(P::uge, lane32, e.i32(d));
          x = e.add(x, e.select(has, up.getShuffleResult(), e.i32(0)));
        }
        Value incl = e.add(x, carry);
        Value excl = e.sub(incl, counts[round]);
        Value hit = e.andI(valid[round], e.andI(e.cmp(P::ule, excl, t32),
                                                e.cmp(P::ult, t32, incl)));
        e.ifThen(hit, [&] {
          storeShared(e, base, 0, e.toI32(rangeOf[round]));
          storeShared(e, base, 1, excl);
        });
        carry = gpu::ShuffleOp::create(e.b, e.loc, incl, 31, 32,
                                       gpu::ShuffleMode::IDX)
                    .getShuffleResult();
      }
      e.ifThen(e.cmp(P::eq, lane, e.c(0)),
               [&] { storeShared(e, base, 2, carry); });
    });
    e.barrier();
  }

  /// Zeros for rows [rowStart, min(rowStart + BM, end)) of the program's
  /// columns.
  void buildZeros(Emit &e, const Tile &t, const Gemm &gemm, Value tid,
                  Value rowStart, Value end, Value n0) const {
    const int64_t cols = programCols(t, gemm), cells = t.shape.rows * cols;
    scf::ForOp::create(
        e.b, e.loc, tid, e.c(cells), e.c(t.threads), ValueRange{},
        [&](OpBuilder &lb, Location ll, Value cell, ValueRange) {
          Emit l{lb, ll};
          Value row = l.add(rowStart, l.div(cell, cols));
          Value col = l.add(n0, l.rem(cell, cols));
          l.ifThen(l.andI(l.cmp(P::ult, row, end),
                          l.cmp(P::ult, col, l.c(gemm.outCols))),
                   [&] {
                     Value z = arith::ConstantOp::create(
                         lb, ll, lb.getFloatAttr(gemm.outType, 0.0));
                     memref::StoreOp::create(lb, ll, z, gemm.result,
                                             ValueRange{row, col});
                   });
          scf::YieldOp::create(lb, ll);
        });
  }

  /// The product of rows [rowStart, min(rowStart + BM, end)) of `group`'s
  /// rows (no group: the dense GEMM) and the weight rows of output columns
  /// [n0, n0 + programCols): BN of them, or, for gate and up projections,
  /// BN / 2 columns' gate and up rows, which the stage interleaves 8 by 8
  /// (stage rows 16 j .. 16 j + 7 gate, 16 j + 8 .. 16 j + 15 up, of
  /// columns n0 + 8 j ..), so that n8 tiles 2 p and 2 p + 1 of a warp are
  /// the gate and up sums of the same outputs in the same thread.
  void buildTile(Emit &e, const Tile &t, const Gemm &gemm, Value base,
                 Value tid, Value rowStart, Value end, Value group,
                 Value n0) const {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    const StagedGemmTile &s = t.shape;
    const int64_t K = gemm.K;
    const int64_t kTiles = K / s.depth, stageBytes = s.stageBytes();
    // No more stages than K has tiles (at least two: one landing, one
    // computed).
    const int64_t stages = std::max<int64_t>(2, std::min(s.stages, kTiles));
    auto baseOf = [&](Value buffer) {
      return e.toI64(
          memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer));
    };
    Value inBase = baseOf(gemm.input), wBase = baseOf(gemm.weight);
    Value upBase = gemm.up ? baseOf(gemm.up) : Value();

    // The thread's copies: the global byte address at k 0, the byte offset
    // in a stage, and whether the thread has that copy (the decode tile's
    // rows are fewer 16-byte chunks than threads).
    struct Copy {
      Value src, dst, has;
    };
    SmallVector<Copy> copies;
    Value lastRow = e.sub(end, e.c(1));
    Value groupBase =
        group ? e.mul(e.toI64(group), e.i64(gemm.weightRows * K * 2))
              : e.i64(0);
    // Stage row `row` of the weight tile: its weight row and the buffer
    // holding it.
    auto weightRow = [&](Value row) -> std::pair<Value, Value> {
      if (!gemm.gated)
        return {e.minU(e.add(n0, row), e.c(gemm.weightRows - 1)), wBase};
      Value isUp = e.cmp(P::eq, e.rem(e.div(row, 8), 2), e.c(1));
      Value col =
          e.minU(e.add(n0, e.add(e.mul(e.div(row, 16), e.c(8)), e.rem(row, 8))),
                 e.c(gemm.outCols - 1));
      Value upIndex = e.select(isUp, e.c(1), e.c(0));
      if (gemm.up)
        return {col, e.select(isUp, upBase, wBase)};
      if (gemm.layout == GateUpLayout::interleaved)
        return {e.add(e.mul(col, e.c(2)), upIndex), wBase};
      return {e.add(e.mul(upIndex, e.c(gemm.outCols)), col), wBase};
    };
    // Row `at` of the input: the gathered token's with `rows`.
    auto inputRow = [&](Value at) -> Value {
      if (!gemm.rows)
        return at;
      return moe::toIndex(b, loc,
                          memref::LoadOp::create(b, loc, gemm.rows, at));
    };
    auto addCopies = [&](int64_t rows, bool weights) {
      const int64_t total = rows * t.chunks;
      for (int64_t i = 0; i * t.threads < total; ++i) {
        Value id = e.add(tid, e.c(i * t.threads));
        Value has = (i + 1) * t.threads <= total
                        ? Value()
                        : e.cmp(P::ult, id, e.c(total));
        Value row = e.div(id, t.chunks), chunk = e.rem(id, t.chunks);
        Value at, buffer = inBase;
        if (weights)
          std::tie(at, buffer) = weightRow(row);
        else
          at = inputRow(e.minU(e.add(rowStart, row), lastRow));
        Value bytes = e.mul(
            e.toI64(e.add(e.mul(at, e.c(K)), e.mul(chunk, e.c(8)))), e.i64(2));
        Value src = weights ? e.add(e.add(buffer, groupBase), bytes)
                            : e.add(inBase, bytes);
        Value dst = e.mul(swizzled(e, t, row, chunk), e.c(16));
        if (weights)
          dst = e.add(dst, e.c(t.aBytes));
        copies.push_back({src, e.toI32(dst), has});
      }
    };
    addCopies(s.rows, /*weights=*/false);
    addCopies(s.cols, /*weights=*/true);
    auto issue = [&](Emit &x, Value kTile, Value stage) {
      Value kBytes = x.mul(x.toI64(kTile), x.i64(s.depth * 2));
      Value stageOff = x.mul(x.toI32(stage), x.i32(stageBytes));
      for (const Copy &copy : copies) {
        auto one = [&] {
          NVVM::CpAsyncOp::create(x.b, x.loc,
                                  x.shared(base, x.add(stageOff, copy.dst)),
                                  x.global(x.add(copy.src, kBytes)), 16,
                                  NVVM::LoadCacheModifierKind::CG, Value());
        };
        if (copy.has)
          x.ifThen(copy.has, one);
        else
          one();
      }
    };

    // The prologue: stages 0 .. S-2 in flight, one commit group each.
    for (int64_t st = 0; st + 1 < stages; ++st) {
      if (st < kTiles)
        issue(e, e.c(st), e.c(st));
      NVVM::CpAsyncCommitGroupOp::create(b, loc);
    }
    // The K loop: at step kt, stage kt % S has landed for this thread; the
    // barrier makes it so for all, and frees the stage computed at kt - 1
    // for kt + S - 1. `multiply` adds the stage's products to the sums.
    auto kLoop = [&](ValueRange init,
                     function_ref<SmallVector<Value>(Emit &, Value, ValueRange)>
                         multiply) {
      return scf::ForOp::create(
          b, loc, e.c(0), e.c(kTiles), e.c(1), init,
          [&](OpBuilder &lb, Location ll, Value kt, ValueRange acc) {
            Emit l{lb, ll};
            NVVM::CpAsyncWaitGroupOp::create(lb, ll, stages - 2);
            // wgmma reads the stage through the async proxy: the copies
            // this thread saw land are made visible to it first.
            if (shape.staged.wgmma)
              NVVM::FenceProxyOp::create(
                  lb, ll, NVVM::ProxyKind::async_shared,
                  NVVM::SharedSpaceAttr::get(lb.getContext(),
                                             NVVM::SharedSpace::shared_cta));
            l.barrier();
            Value next = l.add(kt, l.c(stages - 1));
            l.ifThen(l.cmp(P::ult, next, l.c(kTiles)),
                     [&] { issue(l, next, l.rem(next, stages)); });
            NVVM::CpAsyncCommitGroupOp::create(lb, ll);
            Value stageOff =
                l.mul(l.toI32(l.rem(kt, stages)), l.i32(stageBytes));
            scf::YieldOp::create(lb, ll, multiply(l, stageOff, acc));
          });
    };
    Sums sums = shape.staged.wgmma ? wgmmaSums(e, t, gemm, base, tid, kLoop)
                                   : mmaSums(e, t, gemm, base, tid, kLoop);
    NVVM::CpAsyncWaitGroupOp::create(b, loc, 0);
    buildEpilogue(e, gemm, sums, rowStart, end, group, n0);
  }

  /// The sums' epilogue: each item's output column (its stage weight row,
  /// or, for gate and up projections, the output column of stage rows
  /// 16 j + r and 16 j + 8 + r: 8 j + r), bias, activation, and the store
  /// or the fused combine's scaled atomic add.
  void buildEpilogue(Emit &e, const Gemm &gemm, const Sums &sums,
                     Value rowStart, Value end, Value group, Value n0) const {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    auto biasAt = [&](Value full, Value weightRow) {
      return group ? loadF32(b, loc, full, {group, weightRow})
                   : loadF32(b, loc, full, {weightRow});
    };
    SmallVector<Value> rows;
    for (Value r : sums.rows)
      rows.push_back(e.add(rowStart, r));
    // The fused combine: each of the thread's rows' token and routing
    // weight, read once (rows past T·k or the range add nothing).
    SmallVector<std::pair<Value, Value>> scatterTo;
    if (gemm.scatter.sums)
      for (Value row : rows)
        scatterTo.push_back(scatterRow(e, gemm, row, end));
    for (const Sums::Item &item : sums.items) {
      Value row = rows[item.row];
      Value col = gemm.gated
                      ? e.add(n0, e.add(e.mul(e.div(item.stageRow, 16), e.c(8)),
                                        e.rem(item.stageRow, 8)))
                      : e.add(n0, item.stageRow);
      Value rowOk = e.cmp(P::ult, row, end);
      Value token, routingWeight;
      if (gemm.scatter.sums) {
        std::tie(token, routingWeight) = scatterTo[item.row];
        rowOk = e.cmp(P::ult, token, e.c(kNoToken));
      }
      Value v = sums.values[item.value];
      Value u = item.up >= 0 ? sums.values[item.up] : Value();
      e.ifThen(e.andI(rowOk, e.cmp(P::ult, col, e.c(gemm.outCols))), [&] {
        Value gate = v, upSum = u;
        if (gemm.bias && !gemm.gated) {
          gate = arith::AddFOp::create(b, loc, gate, biasAt(gemm.bias, col));
        } else if (gemm.bias) {
          // The gate's and the up's weight rows of column `col`.
          Value gateRow = col, upRow = col;
          Value upBias = gemm.up ? gemm.upBias : gemm.bias;
          if (gemm.layout == GateUpLayout::interleaved) {
            gateRow = e.mul(col, e.c(2));
            upRow = e.add(gateRow, e.c(1));
          } else if (gemm.layout) {
            upRow = e.add(col, e.c(gemm.outCols));
          }
          gate =
              arith::AddFOp::create(b, loc, gate, biasAt(gemm.bias, gateRow));
          upSum = arith::AddFOp::create(b, loc, upSum, biasAt(upBias, upRow));
        }
        Value out = gate;
        if (gemm.activation)
          out = gemm.gated
                    ? applyActivation(b, loc, gemm.activation, gate, upSum)
                    : applyActivation(b, loc, gemm.activation, Value(), gate);
        if (gemm.scatter.sums) {
          memref::AtomicRMWOp::create(
              b, loc, arith::AtomicRMWKind::addf,
              arith::MulFOp::create(b, loc, routingWeight, out),
              gemm.scatter.sums, ValueRange{token, col});
          return;
        }
        memref::StoreOp::create(b, loc, castFloat(b, loc, out, gemm.outType),
                                gemm.result, ValueRange{row, col});
      });
    }
  }

  /// The token of no row: what scatterRow gives a row that adds nothing.
  static constexpr int64_t kNoToken = std::numeric_limits<int32_t>::max();

  /// The token t and routing weight w[t, j] of row `row` of the fused
  /// combine, from the assignment t·k + j of its slot; kNoToken (and 0)
  /// for a row at or past `end` or T·k.
  std::pair<Value, Value> scatterRow(Emit &e, const Gemm &gemm, Value row,
                                     Value end) const {
    const Gemm::Scatter &s = gemm.scatter;
    Value has =
        e.andI(e.cmp(P::ult, row, end), e.cmp(P::ult, row, s.assignments));
    auto found = scf::IfOp::create(
        e.b, e.loc, TypeRange{e.b.getIndexType(), e.b.getF32Type()}, has,
        /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard guard(e.b);
      e.b.setInsertionPointToStart(found.thenBlock());
      Value a = moe::toIndex(e.b, e.loc,
                             memref::LoadOp::create(e.b, e.loc, s.slotOf, row));
      Value token = arith::DivUIOp::create(e.b, e.loc, a, s.slotsPerToken);
      Value j = arith::RemUIOp::create(e.b, e.loc, a, s.slotsPerToken);
      Value w = loadF32(e.b, e.loc, s.weights, {token, j});
      scf::YieldOp::create(e.b, e.loc, ValueRange{token, w});
      e.b.setInsertionPointToStart(found.elseBlock());
      scf::YieldOp::create(e.b, e.loc,
                           ValueRange{e.c(kNoToken), f32Const(e.b, e.loc, 0)});
    }
    return {found.getResult(0), found.getResult(1)};
  }
};

struct GroupedMatmulStagedToGpu : OpRewritePattern<GroupedMatmulOp> {
  GroupedMatmulStagedToGpu(MLIRContext *ctx, const GpuKernelShape &shape)
      : OpRewritePattern(ctx), shape(shape) {}

  LogicalResult matchAndRewrite(GroupedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (!takesStagedGemm(op, shape))
      return rewriter.notifyMatchFailure(op, "not a staged tensor-core GEMM");
    auto module = op->getParentOfType<ModuleOp>();
    if (!module)
      return rewriter.notifyMatchFailure(op, "not inside a module");
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Gemm gemm = describeStagedGemm(b, loc, gemmBuffers(b, loc, op),
                                   op.getActivationAttr(), op.getGateUpLayout(),
                                   resultType.getElementType());
    gemm.result = allocLike(b, loc, resultType,
                            {gemm.rowCount, indexConst(b, loc, gemm.outCols)});
    StagedGemmBuilder{shape}.build(b, loc, module, gemm);
    rewriter.replaceOp(op, toTensor(b, loc, resultType, gemm.result));
    return success();
  }

  GpuKernelShape shape;
};

} // namespace

void gpu_kernels::buildStagedGemm(OpBuilder &b, Location loc,
                                  const GpuKernelShape &shape, ModuleOp module,
                                  const StagedGemm &gemm) {
  StagedGemmBuilder{shape}.build(b, loc, module, gemm);
}

void mlir::moe::populateGroupedMatmulStagedToGpuPatterns(
    RewritePatternSet &patterns, const GpuKernelShape &shape) {
  patterns.add<GroupedMatmulStagedToGpu>(patterns.getContext(), shape);
}
