//===- GroupedMatmulToKernels.cpp - moe.grouped_matmul to CPU kernels -----===//
//
// A grouped GEMM is an scf.forall over work items (group, weight tile): the
// weight rows of a group are cut into tiles that fit in L2, and each item
// runs the register-blocked kernel of ContractionKernel.h over the group's
// rows against one tile. Items write disjoint blocks of the result, so they
// run in any order on any thread; the runtime hands them out one at a time,
// which balances groups of different sizes. Rows outside every group keep
// the zero fill; on the row and int8 kernels an item of a group without
// rows (most experts in decode) does nothing. Without offsets the items
// are (row chunk, weight tile).
//
// A weight packed by moe-pack-weights (the group's weight is a
// linalg.unpack of panels [E, P, K, NB]) runs the panel kernel of
// PanelKernel.h on the packed operand instead, with items (group, panels).
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/ContractionKernel.h"
#include "codegen/cpu/PanelKernel.h"
#include "codegen/cpu/Passes.h"
#include "codegen/linalg/LoweringUtils.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Rows of a dense (offset-free) projection per work item.
constexpr int64_t kDenseRowChunk = 64;

Value ceilDiv(OpBuilder &b, Location loc, Value x, int64_t d) {
  Value dm1 = arith::ConstantIndexOp::create(b, loc, d - 1);
  Value dv = arith::ConstantIndexOp::create(b, loc, d);
  return arith::DivUIOp::create(b, loc, arith::AddIOp::create(b, loc, x, dm1),
                                dv);
}

/// A fresh [m, n] tensor whose rows outside every group (before
/// offsets[0], from offsets[G] on) are zero; the items write the rest.
/// bufferization.alloc_tensor, unlike tensor.empty, is never merged with
/// another op's buffer by CSE, which would cost a copy.
Value zeroOutsideGroups(OpBuilder &b, Location loc, Value m, int64_t n,
                        Type elt, Value offsets) {
  auto type = RankedTensorType::get({ShapedType::kDynamic, n}, elt);
  Value out = bufferization::AllocTensorOp::create(b, loc, type, ValueRange{m});
  int64_t groups = cast<RankedTensorType>(offsets.getType()).getDimSize(0) - 1;
  Value first =
      toIndex(b, loc,
              tensor::ExtractOp::create(
                  b, loc, offsets,
                  ValueRange{arith::ConstantIndexOp::create(b, loc, 0)}));
  Value last =
      toIndex(b, loc,
              tensor::ExtractOp::create(
                  b, loc, offsets,
                  ValueRange{arith::ConstantIndexOp::create(b, loc, groups)}));
  // Offsets beyond [0, m] are undefined behaviour; clamping keeps the
  // fills in bounds regardless.
  Value zeroIdx = arith::ConstantIndexOp::create(b, loc, 0);
  first = arith::MinSIOp::create(
      b, loc, arith::MaxSIOp::create(b, loc, first, zeroIdx), m);
  last = arith::MinSIOp::create(b, loc,
                                arith::MaxSIOp::create(b, loc, last, first), m);
  Value zero = floatConst(b, loc, elt, 0.0);
  OpFoldResult z = b.getIndexAttr(0), u = b.getIndexAttr(1),
               nAttr = b.getIndexAttr(n);
  auto fillRows = [&](Value tensor, Value lo, Value count) {
    SmallVector<OpFoldResult> at = {lo, z}, sizes = {count, nAttr},
                              strides = {u, u};
    Value slice =
        tensor::ExtractSliceOp::create(b, loc, tensor, at, sizes, strides);
    Value filled = linalg::FillOp::create(b, loc, zero, slice).getResult(0);
    return tensor::InsertSliceOp::create(b, loc, filled, tensor, at, sizes,
                                         strides)
        .getResult();
  };
  out = fillRows(out, zeroIdx, first);
  return fillRows(out, last, arith::SubIOp::create(b, loc, m, last));
}

/// The work items of a grouped GEMM: an scf.forall over (group, tile) with
/// `inits` shared (the result first), and in its body the group, the tile
/// and the group's rows (offsets[g] and its count, or without offsets the
/// g-th chunk of kDenseRowChunk of the m rows).
struct Items {
  scf::ForallOp forall;
  SmallVector<Value> outs;
  Value g, t, lo, count;
};

/// Creates the items' loop and leaves `b` at the start of its body (the
/// caller holds an insertion guard).
Items beginItems(OpBuilder &b, Location loc, Value offsets, int64_t groups,
                 Value m, int64_t tiles, ValueRange inits) {
  Value tileCount = arith::ConstantIndexOp::create(b, loc, tiles);
  Value groupCount = offsets
                         ? Value(arith::ConstantIndexOp::create(b, loc, groups))
                         : ceilDiv(b, loc, m, kDenseRowChunk);
  Value count = arith::MulIOp::create(b, loc, groupCount, tileCount);
  Items items;
  items.forall = scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{count},
                                       inits, std::nullopt);
  b.setInsertionPointToStart(items.forall.getBody());
  Value item = items.forall.getInductionVars()[0];
  items.outs.assign(items.forall.getRegionIterArgs().begin(),
                    items.forall.getRegionIterArgs().end());
  items.g = arith::DivUIOp::create(b, loc, item, tileCount);
  items.t = arith::RemUIOp::create(b, loc, item, tileCount);
  if (offsets) {
    std::tie(items.lo, items.count) = groupRows(b, loc, offsets, items.g);
  } else {
    Value chunk = arith::ConstantIndexOp::create(b, loc, kDenseRowChunk);
    items.lo = arith::MulIOp::create(b, loc, items.g, chunk);
    items.count = arith::MinUIOp::create(
        b, loc, chunk, arith::SubIOp::create(b, loc, m, items.lo));
  }
  return items;
}

/// Ends the items' loop: each item's `tiles` go to outs[at, extent].
void endItems(OpBuilder &b, Location loc, Items &items, ValueRange tiles,
              ArrayRef<OpFoldResult> at, ArrayRef<OpFoldResult> extent) {
  SmallVector<OpFoldResult> strides(at.size(), b.getIndexAttr(1));
  b.setInsertionPointToStart(items.forall.getTerminator().getBody());
  for (auto [tile, out] : llvm::zip_equal(tiles, items.outs))
    tensor::ParallelInsertSliceOp::create(b, loc, tile, out, at, extent,
                                          strides);
}

/// The panels of a GEMM weight that the panel kernel reads: from
/// [E, P, K, NB] (with offsets) or [P, K, NB] (without), or in slices from
/// [S, E, P, K, w] (or [S, P, K, w]); a null unpack otherwise.
PackedPanels packedPanels(GroupedMatmulOp op, Value weightValue) {
  auto type = cast<RankedTensorType>(weightValue.getType());
  int64_t rank = op.getOffsets() ? 3 : 2;
  if (type.getRank() != rank)
    return {};
  PackedPanels packed = packedPanelsOf(weightValue);
  linalg::UnPackOp unpack = packed.unpack;
  if (!unpack || !unpack.getSourceType().hasStaticShape())
    return {};
  // The tiled N dimension of the unpack's result, after the slices'.
  int64_t nDim = rank - 2 + (packed.slices > 1 ? 1 : 0);
  SmallVector<int64_t> perm;
  if (packed.slices > 1 && rank == 3)
    perm = {1, 0, 2, 3};
  if (unpack.getOuterDimsPerm() != ArrayRef<int64_t>(perm))
    return {};
  ArrayRef<int64_t> tiles = unpack.getStaticInnerTiles();
  if (tiles.empty() || ShapedType::isDynamic(tiles[0]))
    return {};
  // Slices hold whole panels.
  if (packed.slices > 1 &&
      unpack.getDestType().getDimSize(nDim) % tiles[0] != 0)
    return {};
  if (unpack.getInnerDimsPos() == ArrayRef<int64_t>{nDim} && tiles.size() == 1)
    return packed;
  // Pairs of k for bf16 dot products: only experts' bf16 weights, whose
  // rows are rounded to bf16 per item.
  if (rank == 3 &&
      unpack.getInnerDimsPos() == ArrayRef<int64_t>{nDim, nDim + 1} &&
      tiles.size() == 2 && tiles[1] == 2 && type.getElementType().isBF16() &&
      type.getDimSize(2) % 2 == 0)
    return packed;
  return {};
}

/// The packed panels of a GEMM the panel kernel runs: of its weight when
/// it is plain (an f32 result) or has an elementwise activation in its
/// epilogue, or of its gate weight when it is the gate and up projections
/// of a gated activation (moe-fuse-gate-up) as two weights packed alike; a
/// null unpack otherwise. The GEMM may read its rows through indices
/// (moe-fuse-dispatch).
PackedPanels packedWeight(GroupedMatmulOp op) {
  if (!runsOnPanels(op))
    return {};
  PackedPanels packed = packedPanels(op, op.getWeight());
  if (!packed.unpack || !op.getUp())
    return packed;
  PackedPanels up = packedPanels(op, op.getUp());
  if (!up.unpack || up.slices != packed.slices ||
      up.unpack.getSourceType() != packed.unpack.getSourceType() ||
      up.unpack.getInnerDimsPos() != packed.unpack.getInnerDimsPos() ||
      up.unpack.getStaticInnerTiles() != packed.unpack.getStaticInnerTiles())
    return {};
  return packed;
}

/// Whether `unpack` interleaves pairs of k (see packedWeight).
bool unpacksPairs(linalg::UnPackOp unpack) {
  return unpack.getInnerDimsPos().size() == 2;
}

/// The flat element offset in the packed weights of the chunk an item
/// should prefetch last: the first chunk of the item that follows it with
/// rows. That is the panel after this item's in the same group (`end`, in
/// panels of `panelElts`), else the first panel of the next group with
/// rows (groups of `groupElts`; past the end when none), or without
/// offsets the weight's first panel (the next chunk of rows reads the
/// whole weight again). With few rows most experts are empty, and the
/// chunk after an expert's last one in memory is not the next one read.
Value nextItemChunk(OpBuilder &b, Location loc, Value offsets, int64_t groups,
                    Value g, Value t, int64_t tiles, Value groupElts, Value end,
                    Value panelElts) {
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value lastTile = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, t,
                                         cst(tiles - 1));
  Value inGroup = arith::MulIOp::create(b, loc, end, panelElts);
  if (!offsets)
    return arith::SelectOp::create(b, loc, lastTile, cst(0), inGroup);
  Value here = arith::MulIOp::create(b, loc, g, groupElts);
  auto ifOp = scf::IfOp::create(b, loc, TypeRange{b.getIndexType()}, lastTile,
                                /*withElse=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(
        b, loc, arith::AddIOp::create(b, loc, here, inGroup).getResult());
    b.setInsertionPointToStart(ifOp.thenBlock());
    // The first group after g with rows, or the group count.
    Value first = arith::AddIOp::create(b, loc, g, cst(1));
    auto whileOp = scf::WhileOp::create(
        b, loc, TypeRange{b.getIndexType()}, ValueRange{first},
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          OpBuilder::InsertionGuard inner(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value at = args[0];
          Value inside = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::ult, at, cst(groups));
          Value clamped = arith::MinUIOp::create(b, loc, at, cst(groups - 1));
          Value count = groupRows(b, loc, offsets, clamped).second;
          Value empty = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle,
                                              count, cst(0));
          scf::ConditionOp::create(
              b, loc, arith::AndIOp::create(b, loc, inside, empty), at);
        },
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          OpBuilder::InsertionGuard inner(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          scf::YieldOp::create(
              b, loc,
              arith::AddIOp::create(b, loc, args[0], cst(1)).getResult());
        });
    scf::YieldOp::create(
        b, loc,
        arith::MulIOp::create(b, loc, whileOp.getResult(0), groupElts)
            .getResult());
  }
  return ifOp.getResult(0);
}

/// `packed` (a weight's panels) as one flat buffer, for prefetching the
/// chunk after the one being multiplied (it may be the next item's).
Value flatBuffer(OpBuilder &b, Location loc, Value packed) {
  auto type = cast<RankedTensorType>(packed.getType());
  Value buffer = bufferization::ToBufferOp::create(
      b, loc, MemRefType::get(type.getShape(), type.getElementType()), packed,
      /*read_only=*/true);
  ReassociationIndices all;
  for (int64_t d = 0; d < type.getRank(); ++d)
    all.push_back(d);
  return memref::CollapseShapeOp::create(
      b, loc, buffer, SmallVector<ReassociationIndices>{all});
}

/// The activation in a GEMM's epilogue, over an item's f32 tiles of the
/// gate projection and (gated) the up projection, into `dest` (the item's
/// tile of the result, of any float type; it may be `gate` itself).
Value activationEpilogue(OpBuilder &b, Location loc, ActivationAttr act,
                         Value gate, Value up, Value dest) {
  auto type = cast<RankedTensorType>(dest.getType());
  unsigned rank = type.getRank();
  SmallVector<Value> ins;
  if (gate != dest)
    ins.push_back(gate);
  if (up)
    ins.push_back(up);
  SmallVector<AffineMap> maps(ins.size() + 1, b.getMultiDimIdentityMap(rank));
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{type}, ins, ValueRange{dest}, maps, iterators(rank),
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        // args: gate (unless it is dest), up (gated), dest.
        Value g = gate == dest ? args.back() : args[0];
        Value h = up ? applyActivation(nb, nl, act, g, args[ins.size() - 1])
                     : applyActivation(nb, nl, act, Value(), g);
        linalg::YieldOp::create(nb, nl,
                                castFloat(nb, nl, h, type.getElementType()));
      });
  return generic.getResult(0);
}

/// Items (group, panels): each group's panels in runs of about the
/// kernel's weightTileBytes;
/// without offsets, (chunk of 64 rows, panels). With an activation in the
/// epilogue (moe-fuse-gate-up), the gate and up projections of a gated one
/// run in the same items: the gate's panels into the result (an f32 one,
/// else a scratch tensor), the up's into a scratch tensor, then the
/// activation over the item's tile into the result. An item streams the
/// gate's panels, then the up's same panels, and no activation phase or
/// GEMM between them waits for the others.
Value lowerPacked(GroupedMatmulOp op, PackedPanels weight,
                  const PanelKernel &kernel, OpBuilder &b) {
  Location loc = op.getLoc();
  linalg::UnPackOp unpack = weight.unpack;
  int64_t slices = weight.slices;
  Value packed = unpack.getSource();
  // Packed alike (packedWeight).
  Value upPacked =
      op.getUp() ? packedPanelsOf(op.getUp()).unpack.getSource() : Value();
  Value offsets = op.getOffsets();
  auto packedType = cast<RankedTensorType>(packed.getType());
  bool pairs = unpacksPairs(unpack);
  // [.., P, K, NB], or [E, P, K / 2, NB, 2] with pairs; with slices
  // [S, .., P, K, w] (P panels of w columns per slice).
  ArrayRef<int64_t> shape = packedType.getShape().take_back(pairs ? 4 : 3);
  int64_t panels = shape[0], k = shape[1] * (pairs ? 2 : 1),
          tileWidth = shape[2], width = tileWidth * slices;
  // The experts' dimension.
  int64_t groupDim = slices > 1 ? 1 : 0;
  int64_t groups = offsets ? packedType.getDimSize(groupDim) : 1;
  auto weightType = cast<RankedTensorType>(op.getWeight().getType());
  int64_t n = weightType.getDimSize(weightType.getRank() - 2);
  int64_t eltBytes =
      std::max<int64_t>(packedType.getElementTypeBitWidth() / 8, 1);
  // Runs of panels as for one weight, also when an item streams the gate's
  // and then the up's: halving them was slower on mixtral-small (d = 1024)
  // in decode (docs/performance.md).
  int64_t perItem = std::clamp<int64_t>(
      kernel.weightTileBytes / (k * width * eltBytes), 1, panels);
  int64_t tiles = (panels + perItem - 1) / perItem;
  Type f32 = b.getF32Type();
  ActivationAttr activation = op.getActivationAttr();
  Type resultElt =
      cast<RankedTensorType>(op.getResult().getType()).getElementType();
  // Sums go through the result between k chunks when it is f32.
  bool gateInResult = resultElt.isF32();

  Value rows = op.getRows();
  Value m = tensor::DimOp::create(b, loc, rows ? rows : op.getInput(), 0);
  SmallVector<Value> inits = {
      offsets
          ? zeroOutsideGroups(b, loc, m, n, resultElt, offsets)
          : emptyTensor(b, loc, SmallVector<OpFoldResult>{m, b.getIndexAttr(n)},
                        resultElt)};
  // Scratch sums of the gate (without an f32 result) and up projections:
  // the items write only their own tiles, which the activation reads back.
  auto scratch = [&] {
    inits.push_back(bufferization::AllocTensorOp::create(
        b, loc, RankedTensorType::get({ShapedType::kDynamic, n}, f32),
        ValueRange{m}));
    return inits.size() - 1;
  };
  size_t gateOut = gateInResult ? 0 : scratch();
  size_t upOut = upPacked ? scratch() : 0;
  if (slices > 1) {
    // [M, N] as [M, S, N / S]: an item's columns, one run per slice.
    for (Value &init : inits) {
      Type elt = cast<RankedTensorType>(init.getType()).getElementType();
      auto sliced = RankedTensorType::get(
          {ShapedType::kDynamic, slices, n / slices}, elt);
      init = tensor::ExpandShapeOp::create(
          b, loc, sliced, init, SmallVector<ReassociationIndices>{{0}, {1, 2}},
          SmallVector<OpFoldResult>{m, b.getIndexAttr(slices),
                                    b.getIndexAttr(n / slices)});
    }
  }
  Value flat = flatBuffer(b, loc, packed);
  Value upFlat = upPacked ? flatBuffer(b, loc, upPacked) : Value();
  OpBuilder::InsertionGuard guard(b);
  Items items = beginItems(b, loc, offsets, groups, m, tiles, inits);
  Value g = items.g, lo = items.lo, count = items.count;
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value p0 = arith::MulIOp::create(b, loc, items.t, cst(perItem));
  Value np = arith::MinUIOp::create(
      b, loc, cst(perItem), arith::SubIOp::create(b, loc, cst(panels), p0));
  // Columns in each slice's run with slices.
  int64_t runWidth = slices > 1 ? tileWidth : width;
  Value c0 = arith::MulIOp::create(b, loc, p0, cst(runWidth));
  Value cols = arith::MinUIOp::create(
      b, loc, arith::MulIOp::create(b, loc, np, cst(runWidth)),
      arith::SubIOp::create(b, loc, cst(n / slices), c0));
  SmallVector<OpFoldResult> at = {lo, c0}, extent = {count, cols};
  if (slices > 1) {
    at.insert(at.begin() + 1, b.getIndexAttr(0));
    extent.insert(extent.begin() + 1, b.getIndexAttr(slices));
  }
  SmallVector<OpFoldResult> strides(at.size(), b.getIndexAttr(1));
  SmallVector<Value> dests;
  for (Value out : items.outs)
    dests.push_back(
        tensor::ExtractSliceOp::create(b, loc, out, at, extent, strides));
  // The group's panels, with pairs as [.., P, K / 2, 2 NB].
  auto groupPanels = [&](Value all) {
    Value panelsV = offsets ? groupSlice(b, loc, all, g, groupDim) : all;
    if (!pairs)
      return panelsV;
    SmallVector<ReassociationIndices> pairGroups = {{0}, {1}, {2, 3}};
    if (slices > 1)
      pairGroups = {{0}, {1}, {2}, {3, 4}};
    return Value(tensor::CollapseShapeOp::create(b, loc, panelsV, pairGroups));
  };
  PanelOperands operands;
  operands.a = op.getInput();
  operands.rows = rows;
  operands.rowBase = lo;
  operands.numRows = count;
  if (pairs) {
    // bf16 dot products read bf16 rows: the group's, rounded once per item
    // (gathering them on the way), 1/perItem of the item's work.
    operands.pairs = true;
    operands.a = bf16Rows(b, loc, op.getInput(), rows, lo, count, k);
    operands.rows = Value();
    operands.rowBase = cst(0);
  }
  operands.panels = groupPanels(packed);
  operands.firstPanel = p0;
  operands.numPanels = np;
  operands.bias = offsets ? groupSlice(b, loc, op.getBias(), g) : op.getBias();
  operands.prefetch = flat;
  // A group's panels in the first slice are panels · k · tileWidth
  // elements (all of them without slices); a panel starts k · tileWidth
  // after the one before; each slice holds every group's.
  int64_t groupElts = panels * k * tileWidth;
  operands.slices = slices;
  operands.sliceStride = groups * groupElts;
  operands.prefetchBase =
      offsets ? Value(arith::MulIOp::create(b, loc, g, cst(groupElts)))
              : cst(0);
  operands.itemNext =
      nextItemChunk(b, loc, offsets, groups, g, items.t, tiles, cst(groupElts),
                    arith::AddIOp::create(b, loc, p0, np), cst(k * tileWidth));
  if (!activation) {
    Value tile = emitPanelContraction(b, loc, operands, dests[0], kernel);
    endItems(b, loc, items, ValueRange{tile}, at, extent);
  } else {
    SmallVector<Value> tiles(inits.size());
    Value upTile;
    if (upPacked) {
      // The gate's last chunk prefetches the up's first, where the gate's
      // first is in its own weight; the up's last chunk the next item's
      // (a gate chunk).
      PanelOperands gate = operands;
      gate.itemNext = arith::AddIOp::create(
          b, loc, operands.prefetchBase,
          arith::MulIOp::create(b, loc, p0, cst(k * tileWidth)));
      gate.itemNextBuffer = upFlat;
      PanelOperands up = operands;
      up.panels = groupPanels(upPacked);
      up.bias =
          offsets ? groupSlice(b, loc, op.getUpBias(), g) : op.getUpBias();
      up.prefetch = upFlat;
      up.itemNextBuffer = flat;
      tiles[gateOut] =
          emitPanelContraction(b, loc, gate, dests[gateOut], kernel);
      upTile = tiles[upOut] =
          emitPanelContraction(b, loc, up, dests[upOut], kernel);
    } else {
      tiles[gateOut] =
          emitPanelContraction(b, loc, operands, dests[gateOut], kernel);
    }
    tiles[0] = activationEpilogue(b, loc, activation, tiles[gateOut], upTile,
                                  gateInResult ? tiles[0] : dests[0]);
    endItems(b, loc, items, tiles, at, extent);
  }
  Value result = items.forall.getResult(0);
  b.setInsertionPointAfter(items.forall);
  if (slices > 1)
    result = tensor::CollapseShapeOp::create(
        b, loc, result, SmallVector<ReassociationIndices>{{0}, {1, 2}});
  return result;
}

struct GroupedMatmulToKernels : OpRewritePattern<GroupedMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GroupedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<std::optional<CpuKernelConfig>> config = readKernelConfig(op);
    if (failed(config) || !*config)
      return rewriter.notifyMatchFailure(op, "no CPU moe.kernel");
    ContractionKernel kernel = contractionKernelFor(**config);
    PanelKernel panelKernel = panelKernelFor(**config);
    if (PackedPanels packed = packedWeight(op); packed.unpack) {
      // convert-moe-to-cpu-kernels refuses pairs below 16 lanes up front.
      if (unpacksPairs(packed.unpack) && panelKernel.lanes != 16)
        return rewriter.notifyMatchFailure(op, "pairs of k need 16 lanes");
      // As are slices the kernel cannot read as one panel.
      if (packed.slices > 1 &&
          !readsSlices(panelKernel, packed.unpack.getStaticInnerTiles()[0],
                       packed.slices))
        return rewriter.notifyMatchFailure(
            op, "slices of more than one vector each");
      Value result = lowerPacked(op, packed, panelKernel, rewriter);
      replaceWithResultTypes(rewriter, op, result);
      return success();
    }
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type elt = resultType.getElementType();
    Value input = op.getInput(), weight = op.getWeight();
    Value offsets = op.getOffsets(), bias = op.getBias();
    Value up = op.getUp(), upBias = op.getUpBias(), rows = op.getRows();
    ActivationAttr activation = op.getActivationAttr();
    std::optional<GateUpLayout> layout = op.getGateUpLayout();
    bool gated = activation && activation.isGated();
    auto weightType = cast<RankedTensorType>(weight.getType());
    int64_t rank = weightType.getRank();
    int64_t weightRows = weightType.getDimSize(rank - 2);
    int64_t k = weightType.getDimSize(rank - 1);
    if (ShapedType::isDynamic(weightRows) || ShapedType::isDynamic(k))
      return rewriter.notifyMatchFailure(op, "dynamic weight shape");
    int64_t n = layout ? weightRows / 2 : weightRows; // output columns
    // A block-quantized weight (and up) is read as its bytes.
    KernelWeight kernelW = kernelWeight(weight), kernelUp = kernelWeight(up);
    if (!kernelW.tensor || (up && !kernelUp.tensor))
      return rewriter.notifyMatchFailure(op, "quantized weight not retyped");
    // A gated output column reads two weight rows.
    int64_t tileRows =
        weightTileRows(n, kernelW.rowBytes(k), gated ? 2 : 1, kernel);
    // Int8 panels are read in groups of two panels of 16 columns: tiles
    // start at multiples of 32.
    if (kernelW.int8Panels && tileRows < n)
      tileRows = std::min(std::max<int64_t>(tileRows / 32 * 32, 32), n);
    int64_t tiles = (n + tileRows - 1) / tileRows;

    Value m = tensor::DimOp::create(b, loc, rows ? rows : input, 0);
    SmallVector<OpFoldResult> outSizes = {m, b.getIndexAttr(n)};
    Value init = offsets ? zeroOutsideGroups(b, loc, m, n, elt, offsets)
                         : emptyTensor(b, loc, outSizes, elt);
    // int8 dot products read int8 rows. With several weight tiles, every
    // row is quantized once, before the items (in parallel chunks), rather
    // than once per tile.
    bool int8 = usesInt8Rows(kernel, kernelW.quant, k);
    // The panel kernel reads them in halves, also for q4_k.
    bool halves =
        kernelW.int8Panels || (int8 && int8RowsInHalves(kernelW.quant));
    Int8Rows allRows;
    if (int8 && tiles > 1)
      allRows = allInt8Rows(b, loc, input, rows, m, k, halves);
    Items items;
    {
      OpBuilder::InsertionGuard guard(b);
      items =
          beginItems(b, loc, offsets, offsets ? weightType.getDimSize(0) : 0, m,
                     tiles, init);
      Value g = items.g, lo = items.lo, count = items.count;
      Value tileRowsV = arith::ConstantIndexOp::create(b, loc, tileRows);
      Value n0 = arith::MulIOp::create(b, loc, items.t, tileRowsV);
      Value nLeft = arith::SubIOp::create(
          b, loc, arith::ConstantIndexOp::create(b, loc, n), n0);
      Value size = arith::MinUIOp::create(b, loc, tileRowsV, nLeft);
      OpFoldResult u = b.getIndexAttr(1);
      SmallVector<OpFoldResult> at = {lo, n0}, extent = {count, size},
                                strides = {u, u};
      Value dest = tensor::ExtractSliceOp::create(b, loc, items.outs[0], at,
                                                  extent, strides);
      // The item's tile of the result. An expert without rows (most of
      // them in decode) skips it: no rows quantized or rounded, no
      // kernel tables or loops (qwen3-30b-a3b q4_0 at T=1 on one thread:
      // 0.42 to 0.35 ms).
      auto itemTile = [&]() -> Value {
        ContractionOperands operands;
        operands.a = input;
        operands.rows = rows;
        operands.rowBase = lo;
        // Only the experts' GEMMs: a dense projection may be the router, whose
        // top-k must not see rounded logits.
        bool roundRows = offsets && roundsRowsToBf16(kernel, weight, input);
        ContractionKernel itemKernel = kernel;
        itemKernel.bf16Dot = kernel.bf16Dot && offsets;
        if (roundRows) {
          // bf16 dot products need bf16 rows: round the group's rows once per
          // item (gathering them on the way), 1/tileRows of the item's work.
          operands.a = bf16Rows(b, loc, input, rows, lo, count, k);
          operands.rows = Value();
          operands.rowBase = arith::ConstantIndexOp::create(b, loc, 0);
        }
        if (allRows.values) {
          operands.int8 = allRows;
          operands.rows = Value();
        } else if (int8) {
          // With one weight tile: the group's rows, quantized in its item
          // (gathering them on the way).
          operands.int8 = int8Rows(b, loc, input, rows, lo, count, k, halves);
          operands.rows = Value();
          operands.rowBase = arith::ConstantIndexOp::create(b, loc, 0);
        }
        operands.numRows = count;
        // The group's weight (and bias) as a whole: the kernel indexes the
        // rows of its output columns, which a fused gate/up layout spreads.
        auto perGroup = [&](Value full) {
          return offsets ? groupSlice(b, loc, full, g) : full;
        };
        operands.w = perGroup(kernelW.tensor);
        operands.quant = kernelW.quant;
        operands.int8Panels = kernelW.int8Panels;
        operands.bias = perGroup(bias);
        operands.up = perGroup(kernelUp.tensor);
        operands.upBias = perGroup(upBias);
        operands.activation = activation;
        operands.layout = layout;
        operands.outputs = n;
        operands.colBase = n0;
        operands.numCols = size;
        Value tile;
        if (operands.int8Panels) {
          // The weight's own panels (checked by convert-moe-to-cpu-kernels):
          // every item runs the panel kernel.
          tile = emitInt8Panels(b, loc, operands, dest, itemKernel);
        } else if (itemKernel.int8PanelRows > 0 &&
                   runsOnInt8Panels(operands, itemKernel)) {
          // Items of many rows repack their weights for the panel kernel
          // (moe.kernel's int8_panel_rows); the others run the row kernel.
          // Both read the same int8 rows: the results differ in the order
          // of f32 sums.
          Value many = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::uge, count,
              arith::ConstantIndexOp::create(b, loc, itemKernel.int8PanelRows));
          auto choice =
              scf::IfOp::create(b, loc, TypeRange{dest.getType()}, many,
                                /*withElseRegion=*/true);
          OpBuilder::InsertionGuard inner(b);
          b.setInsertionPointToStart(choice.thenBlock());
          scf::YieldOp::create(
              b, loc, emitInt8Panels(b, loc, operands, dest, itemKernel));
          b.setInsertionPointToStart(choice.elseBlock());
          scf::YieldOp::create(
              b, loc, emitContraction(b, loc, operands, dest, itemKernel));
          b.setInsertionPointAfter(choice);
          tile = choice.getResult(0);
        } else {
          tile = emitContraction(b, loc, operands, dest, itemKernel);
        }
        return tile;
      };
      Value tile;
      if (offsets) {
        Value any =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, count,
                                  arith::ConstantIndexOp::create(b, loc, 0));
        auto guard = scf::IfOp::create(b, loc, TypeRange{dest.getType()}, any,
                                       /*withElseRegion=*/true);
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPointToStart(guard.thenBlock());
        scf::YieldOp::create(b, loc, itemTile());
        b.setInsertionPointToStart(guard.elseBlock());
        scf::YieldOp::create(b, loc, dest);
        tile = guard.getResult(0);
      } else {
        tile = itemTile();
      }
      endItems(b, loc, items, ValueRange{tile}, at, extent);
    }
    replaceWithResultTypes(rewriter, op, items.forall.getResult(0));
    return success();
  }
};

} // namespace

void mlir::moe::populateGroupedMatmulToCpuKernelsPatterns(
    RewritePatternSet &patterns) {
  patterns.add<GroupedMatmulToKernels>(patterns.getContext());
}
