//===- PanelKernel.cpp - the GEMM kernel on packed weight panels ----------===//
#include "codegen/cpu/PanelKernel.h"
#include "codegen/cpu/ContractionKernel.h"
#include "codegen/linalg/LoweringUtils.h"
#include "dialect/MoEOps.h"

#include <algorithm>

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"

using namespace mlir;
using namespace mlir::moe;

PanelKernel mlir::moe::panelKernelFor(const CpuKernelConfig &config) {
  PanelKernel kernel;
  kernel.lanes = config.lanes;
  kernel.registers = config.registers;
  kernel.rowBlock = config.panelRows;
  kernel.depth = config.panelDepth;
  kernel.weightTileBytes = config.weightTileBytes;
  kernel.maxPanelWidth = config.maxPanelWidth();
  return kernel;
}

PackedPanels mlir::moe::packedPanelsOf(Value weight) {
  PackedPanels panels;
  auto type = cast<RankedTensorType>(weight.getType());
  if (auto collapse = weight.getDefiningOp<tensor::CollapseShapeOp>()) {
    // [.., S, N / S, K] -> [.., N, K].
    SmallVector<ReassociationIndices> sliced =
        type.getRank() == 3
            ? SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}}
            : SmallVector<ReassociationIndices>{{0, 1}, {2}};
    if (collapse.getReassociationIndices() != sliced)
      return panels;
    panels.slices = collapse.getSrcType().getDimSize(type.getRank() - 2);
    weight = collapse.getSrc();
  }
  panels.unpack = weight.getDefiningOp<linalg::UnPackOp>();
  return panels;
}

bool mlir::moe::runsOnPanels(GroupedMatmulOp op) {
  if (op.getGateUpLayout())
    return false;
  ActivationAttr activation = op.getActivationAttr();
  if (!activation)
    return !op.getUp() && cast<RankedTensorType>(op.getResult().getType())
                              .getElementType()
                              .isF32();
  return bool(op.getUp()) == activation.isGated();
}

bool mlir::moe::readsSlices(const PanelKernel &kernel, int64_t tile,
                            int64_t slices) {
  return tile <= kernel.lanes && slices * tile <= kernel.maxPanelWidth;
}

namespace {

/// Bytes of one cache line: the prefetch granule.
constexpr int64_t kLineBytes = 64;

class PanelEmitter {
public:
  PanelEmitter(OpBuilder &b, Location loc, const PanelOperands &o,
               const PanelKernel &kernel)
      : b(b), loc(loc), o(o), depth(kernel.depth) {
    auto type = cast<RankedTensorType>(o.panels.getType());
    // With pairs, [P, K / 2, 2 NB]: the two k of a step side by side.
    kStep = o.pairs ? 2 : 1;
    slices = std::max<int64_t>(o.slices, 1);
    // [S, P, K, w] with slices: the dimensions after the slice's.
    int64_t first = slices > 1 ? 1 : 0;
    k = type.getDimSize(first + 1) * kStep;
    tile = type.getDimSize(first + 2) / kStep;
    wElt = type.getElementType();
    f32 = b.getF32Type();
    if (slices > 1) {
      // One vector per slice: panel p of each.
      lanes = tile;
      vecs = slices;
      width = tile * slices;
      slicePanels = type.getDimSize(1);
    } else {
      // The widest vector of at most kernel.lanes that tiles the panel.
      width = tile;
      lanes = kernel.lanes;
      while (lanes > 1 && width % lanes)
        lanes /= 2;
      vecs = width / lanes;
    }
    // Accumulators, the weight vectors and a broadcast fit the registers.
    int64_t registers = kernel.registers;
    rowBlock =
        std::clamp<int64_t>((registers - vecs - 1) / vecs, 1, kernel.rowBlock);
    int64_t eltBytes = std::max<int64_t>(wElt.getIntOrFloatBitWidth() / 8, 1);
    lineElts = kLineBytes / eltBytes;
    linesPerStep = (width * kStep * eltBytes + kLineBytes - 1) / kLineBytes;
    // The streams the next chunk is prefetched in: a slice each, or
    // linesPerStep runs of the panel's lines.
    streams = slices > 1 ? slices : linesPerStep;
    streamStep = slices > 1 ? tile * kStep : lineElts;
  }

  Value run(Value dest) {
    Value zero = index(0);
    return loop(zero, o.numPanels, 1, dest,
                [&](Value p, Value d) { return panel(p, d); });
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }

  Value loop(Value lo, Value hi, int64_t step, Value init,
             function_ref<Value(Value, Value)> body) {
    return loopThreading(b, loc, lo, hi, step, init, body);
  }

  /// Panel `p` (relative to firstPanel): every k chunk.
  Value panel(Value p, Value dest) {
    Value pAbs = add(o.firstPanel, p);
    // Within each slice of dest with slices.
    Value col0 = mul(p, index(slices > 1 ? tile : width));
    return loop(index(0), index(k), depth, dest, [&](Value k0, Value d) {
      Value kLen = arith::MinUIOp::create(
          b, loc, index(depth), arith::SubIOp::create(b, loc, index(k), k0));
      Value steps = arith::DivUIOp::create(b, loc, kLen, index(kStep));
      Chunk c{pAbs, col0, k0, steps, {}, {}, {}, {}, {}, {}};
      if (o.prefetch) {
        // Flat element offsets of this chunk and of the one after it (in
        // the first slice with slices).
        c.here =
            add(o.prefetchBase, mul(add(mul(pAbs, index(k)), k0), index(tile)));
        c.next = add(c.here, mul(kLen, index(tile)));
        c.buffer = o.prefetch;
        c.stay = c.here;
        if (o.itemNext) {
          Value lastPanel = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::eq, add(p, index(1)), o.numPanels);
          Value lastChunk =
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                    add(k0, index(depth)), index(k));
          Value jump = arith::AndIOp::create(b, loc, lastPanel, lastChunk);
          c.next = arith::SelectOp::create(b, loc, jump, o.itemNext, c.next);
          c.jump = jump;
          // A chunk's prefetches all go to one buffer: with another for the
          // jump, the last chunk's slots with nothing to prefetch point at
          // the jump's first lines instead of at this chunk.
          if (o.itemNextBuffer) {
            c.buffer = arith::SelectOp::create(b, loc, jump, o.itemNextBuffer,
                                               o.prefetch);
            c.stay = arith::SelectOp::create(b, loc, jump, c.next, c.here);
          }
        }
        auto bufType = cast<MemRefType>(o.prefetch.getType());
        // Prefetches stay inside the buffer: the last line a chunk's
        // stream can touch starts steps · linesPerStep lines after its base
        // (steps lines of its slice with slices).
        int64_t reach = slices > 1 ? streamStep : linesPerStep * lineElts;
        Value last = arith::SubIOp::create(b, loc, index(bufType.getDimSize(0)),
                                           mul(steps, index(reach)));
        c.limit = arith::MaxSIOp::create(b, loc, last, index(0));
      }
      return chunk(c, d);
    });
  }

  struct Chunk {
    Value panel, col0, k0, steps; // steps of kStep k each
    Value here, next, limit;      // with prefetch
    /// With itemNext: whether `next` is the next item's first chunk rather
    /// than the one after this in memory (null: never).
    Value jump;
    /// The buffer the chunk's prefetches read, and where a slot with no
    /// stream points: at lines already being read (with prefetch).
    Value buffer, stay;
  };

  /// Rows in blocks of rowBlock, then the rest in blocks of 4, 3, 2 and 1
  /// (one block, or 4 and 1 for 5 rows with the 6-row kernel).
  ///
  /// The next chunk is `streams` streams of one line per step (a slice
  /// each, or runs of the panel's lines), and the full blocks share them
  /// out: with F = min(full blocks, streams),
  /// full block b < F prefetches streams b, b + F, ... So the prefetch runs
  /// while the widest blocks multiply, whatever the row count (with 8 rows
  /// the one full block takes all four streams, and the 2-row block that
  /// follows reads the chunk from cache). With no full block, the first
  /// block prefetches every stream, but with slices only the jump to the
  /// next item: the blocks of a few rows read the slices about as fast as
  /// memory delivers them, the hardware prefetcher follows each slice, and
  /// software prefetches of the same lines only take miss buffers from it
  /// (docs/performance.md); no hardware prefetcher guesses the jump.
  Value chunk(const Chunk &c, Value dest) {
    SmallVector<int64_t> sizes = {rowBlock};
    for (int64_t s : {int64_t(4), int64_t(3), int64_t(2), int64_t(1)})
      if (s < sizes.back())
        sizes.push_back(s);
    Value begin = index(0);
    Value fullBlocks =
        arith::DivUIOp::create(b, loc, o.numRows, index(rowBlock));
    for (int64_t mr : sizes) {
      Value end = begin;
      if (mr == 1) {
        end = o.numRows;
      } else {
        Value count = arith::SubIOp::create(b, loc, o.numRows, begin);
        Value blocks = arith::DivUIOp::create(b, loc, count, index(mr));
        end = add(begin, mul(blocks, index(mr)));
      }
      auto blocks = [&](Value d, int64_t slots) {
        return loop(begin, end, mr, d, [&](Value m0, Value d) {
          return block(c, m0, mr, prefetchBases(c, m0, mr, fullBlocks, slots),
                       d);
        });
      };
      if (!c.here || mr != rowBlock || streams == 1) {
        dest = blocks(dest, streams);
      } else {
        // One stream per block when there are blocks enough for all of
        // them, else every stream a block may take: two loops, so the
        // common case issues one prefetch per step.
        Value enough = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                             fullBlocks, index(streams));
        auto ifOp = scf::IfOp::create(b, loc, TypeRange{dest.getType()}, enough,
                                      /*withElse=*/true);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(ifOp.thenBlock());
        scf::YieldOp::create(b, loc, blocks(dest, 1));
        b.setInsertionPointToStart(ifOp.elseBlock());
        scf::YieldOp::create(b, loc, blocks(dest, streams));
        dest = ifOp.getResult(0);
      }
      begin = end;
    }
    return dest;
  }

  /// The first line of the next chunk's streams that the block of rows
  /// [m0, m0 + mr) prefetches, `slots` of them; a slot with no stream
  /// points at c.stay (lines already being read). Empty without prefetch.
  SmallVector<Value> prefetchBases(const Chunk &c, Value m0, int64_t mr,
                                   Value fullBlocks, int64_t slots) {
    SmallVector<Value> bases;
    if (!c.here)
      return bases;
    auto cmp = [&](arith::CmpIPredicate pred, Value x, Value y) -> Value {
      return arith::CmpIOp::create(b, loc, pred, x, y);
    };
    auto stream = [&](Value l) {
      if (slices > 1)
        return add(c.next, mul(l, index(o.sliceStride)));
      return add(c.next, mul(mul(l, c.steps), index(lineElts)));
    };
    if (mr == rowBlock) {
      Value blockIdx = arith::DivUIOp::create(b, loc, m0, index(mr));
      Value share = arith::MinUIOp::create(b, loc, fullBlocks, index(streams));
      for (int64_t s = 0; s < slots; ++s) {
        // Stream blockIdx + s · share, when below streams.
        Value l = add(blockIdx, mul(index(s), share));
        Value on = cmp(arith::CmpIPredicate::ult, l, index(streams));
        bases.push_back(arith::SelectOp::create(b, loc, on, stream(l), c.stay));
      }
    } else {
      Value first = arith::AndIOp::create(
          b, loc, cmp(arith::CmpIPredicate::eq, fullBlocks, index(0)),
          cmp(arith::CmpIPredicate::eq, m0, index(0)));
      if (slices > 1)
        first = c.jump ? Value(arith::AndIOp::create(b, loc, first, c.jump))
                       : Value(arith::ConstantIntOp::create(b, loc, 0, 1));
      for (int64_t l = 0; l < streams; ++l)
        bases.push_back(
            arith::SelectOp::create(b, loc, first, stream(index(l)), c.stay));
    }
    for (Value &base : bases)
      base = arith::MinSIOp::create(b, loc, base, c.limit);
    return bases;
  }

  /// The accumulators of rows [m0, m0 + mr) over the chunk's panel columns:
  /// the bias (or zero) on the first chunk, else what dest holds.
  SmallVector<Value> initial(const Chunk &c, Value m0, int64_t mr, Value dest) {
    auto vType = VectorType::get({lanes}, f32);
    SmallVector<Type> types(mr * vecs, vType);
    Value first =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, c.k0, index(0));
    auto ifOp = scf::IfOp::create(b, loc, types, first, /*withElse=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      SmallVector<Value> vals;
      for (int64_t j = 0; j < vecs; ++j) {
        Value v;
        if (o.bias) {
          Value col =
              slices > 1
                  ? mul(add(c.panel, index(j * slicePanels)), index(tile))
                  : add(mul(c.panel, index(width)), index(j * lanes));
          auto biasType = cast<RankedTensorType>(o.bias.getType());
          Type elt = biasType.getElementType();
          if (elt == f32) {
            v = vector::TransferReadOp::create(
                b, loc, vType, o.bias, ValueRange{col},
                floatConst(b, loc, f32, 0.0), ArrayRef<bool>{false});
          } else {
            // Lane by lane (clamped: lanes past N are never written): a
            // masked load of a bf16 vector needs compiler-rt on CPUs
            // without AVX512_BF16.
            Value last = index(biasType.getDimSize(0) - 1);
            SmallVector<Value> lanesV;
            for (int64_t l = 0; l < lanes; ++l) {
              Value at =
                  arith::MinUIOp::create(b, loc, add(col, index(l)), last);
              lanesV.push_back(castFloat(
                  b, loc, tensor::ExtractOp::create(b, loc, o.bias, at), f32));
            }
            v = vector::FromElementsOp::create(b, loc, vType, lanesV);
          }
        } else {
          v = arith::ConstantOp::create(
              b, loc, vType,
              DenseElementsAttr::get(vType, b.getF32FloatAttr(0)));
        }
        vals.push_back(v);
      }
      SmallVector<Value> all;
      for (int64_t i = 0; i < mr; ++i)
        all.append(vals.begin(), vals.end());
      scf::YieldOp::create(b, loc, all);
      b.setInsertionPointToStart(ifOp.elseBlock());
      SmallVector<Value> loaded;
      Value pad = floatConst(b, loc, f32, 0.0);
      for (int64_t i = 0; i < mr; ++i)
        for (int64_t j = 0; j < vecs; ++j)
          loaded.push_back(vector::TransferReadOp::create(
              b, loc, vType, dest, destIndices(c, add(m0, index(i)), j), pad,
              ArrayRef<bool>{false}));
      scf::YieldOp::create(b, loc, loaded);
    }
    return SmallVector<Value>(ifOp.getResults());
  }

  /// The row of `a` that output row `m` reads: m, or rows[m].
  Value rowOf(Value m) {
    if (!o.rows)
      return m;
    Value idx = tensor::ExtractOp::create(b, loc, o.rows, m);
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), idx);
  }

  Value block(const Chunk &c, Value m0, int64_t mr, ArrayRef<Value> prefetch,
              Value dest) {
    SmallVector<Value> inits = initial(c, m0, mr, dest);
    SmallVector<Value> rows;
    for (int64_t i = 0; i < mr; ++i)
      rows.push_back(rowOf(add(o.rowBase, add(m0, index(i)))));
    auto forOp = scf::ForOp::create(
        b, loc, index(0), c.steps, index(1), inits,
        [&](OpBuilder &nb, Location, Value kk, ValueRange accs) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          SmallVector<Value> next =
              o.pairs ? pairStep(c, kk, rows, accs) : step(c, kk, rows, accs);
          Value line = mul(kk, index(streamStep));
          for (Value base : prefetch)
            memref::PrefetchOp::create(b, loc, c.buffer,
                                       ValueRange{add(base, line)},
                                       /*isWrite=*/false, /*localityHint=*/3,
                                       /*isDataCache=*/true);
          scf::YieldOp::create(b, loc, next);
        });
    for (int64_t i = 0; i < mr; ++i)
      for (int64_t j = 0; j < vecs; ++j)
        dest = vector::TransferWriteOp::create(
                   b, loc, forOp.getResult(i * vecs + j), dest,
                   destIndices(c, add(m0, index(i)), j), ArrayRef<bool>{false})
                   .getResult();
    return dest;
  }

  /// Where weight vector j of the chunk's panel at row `kRow` of the
  /// panels starts: [j, panel, kRow, 0] with slices, else [panel, kRow,
  /// `at`].
  SmallVector<Value> weightIndices(const Chunk &c, int64_t j, Value kRow,
                                   int64_t at) {
    if (slices > 1)
      return {index(j), c.panel, kRow, index(0)};
    return {c.panel, kRow, index(at)};
  }

  /// Where row m's vector j of the chunk's panel lies in dest.
  SmallVector<Value> destIndices(const Chunk &c, Value m, int64_t j) {
    if (slices > 1)
      return {m, index(j), c.col0};
    return {m, add(c.col0, index(j * lanes))};
  }

  /// One k: a panel row's vectors times each row's broadcast element.
  SmallVector<Value> step(const Chunk &c, Value kk, ArrayRef<Value> rows,
                          ValueRange accs) {
    auto vType = VectorType::get({lanes}, f32);
    auto wType = VectorType::get({lanes}, wElt);
    Value wPad = floatConst(b, loc, wElt, 0.0);
    Value kAbs = add(c.k0, kk);
    SmallVector<Value> ws, next;
    for (int64_t j = 0; j < vecs; ++j) {
      Value w = vector::TransferReadOp::create(
          b, loc, wType, o.panels, weightIndices(c, j, kAbs, j * lanes), wPad,
          ArrayRef<bool>{true});
      if (wElt != f32)
        w = arith::ExtFOp::create(b, loc, vType, w);
      ws.push_back(w);
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      Value s =
          tensor::ExtractOp::create(b, loc, o.a, ValueRange{rows[i], kAbs});
      Value a =
          vector::BroadcastOp::create(b, loc, vType, castFloat(b, loc, s, f32));
      for (int64_t j = 0; j < vecs; ++j)
        next.push_back(
            vector::FMAOp::create(b, loc, a, ws[j], accs[i * vecs + j]));
    }
    return next;
  }

  /// Two k at once with AVX512_BF16 dot products: each lane of a panel
  /// vector holds a column's two weights, multiplied with the row's two
  /// (bf16) elements broadcast as one 32-bit pair.
  SmallVector<Value> pairStep(const Chunk &c, Value kk, ArrayRef<Value> rows,
                              ValueRange accs) {
    Type bf16 = b.getBF16Type();
    auto pairType = VectorType::get({2 * lanes}, bf16);
    Value pad = floatConst(b, loc, bf16, 0.0);
    Value kq = add(arith::DivUIOp::create(b, loc, c.k0, index(2)), kk);
    Value kAbs = mul(kq, index(2));
    SmallVector<Value> ws, next;
    for (int64_t j = 0; j < vecs; ++j)
      ws.push_back(vector::TransferReadOp::create(
          b, loc, pairType, o.panels, weightIndices(c, j, kq, 2 * j * lanes),
          pad, ArrayRef<bool>{true}));
    auto i32 = b.getI32Type();
    for (size_t i = 0; i < rows.size(); ++i) {
      Value two = vector::TransferReadOp::create(
          b, loc, VectorType::get({2}, bf16), o.a, ValueRange{rows[i], kAbs},
          pad, ArrayRef<bool>{true});
      Value word =
          vector::BitCastOp::create(b, loc, VectorType::get({1}, i32), two);
      Value wide = vector::BroadcastOp::create(
          b, loc, VectorType::get({lanes}, i32), word);
      Value a = vector::BitCastOp::create(b, loc, pairType, wide);
      for (int64_t j = 0; j < vecs; ++j)
        next.push_back(
            x86vector::DotBF16Op::create(b, loc, accs[i * vecs + j], a, ws[j]));
    }
    return next;
  }

  OpBuilder &b;
  Location loc;
  const PanelOperands &o;
  int64_t depth;
  int64_t k, kStep, width, lanes, vecs, rowBlock, lineElts, linesPerStep;
  /// With slices > 1, `panels` is [slices, slicePanels, K, tile]: panel
  /// p's vector s is panels[s, p], its columns s · N / slices + p · tile
  /// onward, and dest is [rows, slices, N / slices].
  int64_t slices, tile, slicePanels = 0, streams, streamStep;
  Type wElt, f32;
};

} // namespace

Value mlir::moe::emitPanelContraction(OpBuilder &b, Location loc,
                                      const PanelOperands &operands, Value dest,
                                      const PanelKernel &kernel) {
  return PanelEmitter(b, loc, operands, kernel).run(dest);
}
