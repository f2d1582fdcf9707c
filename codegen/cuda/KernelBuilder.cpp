//===- KernelBuilder.cpp - GPU-mapped loop nests for convert-moe-to-gpu ---===//
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/linalg/LoweringUtils.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::moe;

Value gpu_kernels::toBuffer(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  auto buffer = MemRefType::get(type.getShape(), type.getElementType());
  return bufferization::ToBufferOp::create(b, loc, buffer, tensor,
                                           /*read_only=*/true);
}

Value gpu_kernels::allocLike(OpBuilder &b, Location loc, Type tensorType,
                             ArrayRef<Value> sizes) {
  auto type = cast<RankedTensorType>(tensorType);
  assert(sizes.size() == static_cast<size_t>(type.getRank()) &&
         "one size per dimension");
  SmallVector<Value> dynamic;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      dynamic.push_back(sizes[i]);
  return memref::AllocOp::create(
      b, loc, MemRefType::get(type.getShape(), type.getElementType()), dynamic);
}

Value gpu_kernels::toTensor(OpBuilder &b, Location loc, Type tensorType,
                            Value buffer) {
  return bufferization::ToTensorOp::create(b, loc, tensorType, buffer,
                                           /*restrict=*/true,
                                           /*writable=*/true);
}

Value gpu_kernels::indexConst(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value gpu_kernels::loadF32(OpBuilder &b, Location loc, Value buffer,
                           ValueRange indices) {
  return castFloat(b, loc, memref::LoadOp::create(b, loc, buffer, indices),
                   b.getF32Type());
}

std::pair<Value, Value> gpu_kernels::rowAndColumn(OpBuilder &b, Location loc,
                                                  Value item, Value columns) {
  return {arith::DivUIOp::create(b, loc, item, columns),
          arith::RemUIOp::create(b, loc, item, columns)};
}

Value gpu_kernels::f32Const(OpBuilder &b, Location loc, double v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

/// #{g in [1, G] : offsets[g] <= row} by a binary search: ceil(log2(G + 1))
/// steps of selects, no branches.
Value gpu_kernels::groupOfRow(OpBuilder &b, Location loc, Value offsets,
                              Value row, int64_t groups) {
  Value lo = indexConst(b, loc, 0), hi = indexConst(b, loc, groups);
  Value one = indexConst(b, loc, 1), last = indexConst(b, loc, groups);
  int64_t steps = llvm::Log2_64_Ceil(static_cast<uint64_t>(groups) + 1);
  for (int64_t s = 0; s < steps; ++s) {
    Value active =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, lo, hi);
    Value mid = arith::DivUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, lo, hi), indexConst(b, loc, 2));
    Value next = arith::AddIOp::create(b, loc, mid, one);
    // In bounds even when the search is done (lo == hi == G).
    Value at = arith::MinUIOp::create(b, loc, next, last);
    Value bound =
        moe::toIndex(b, loc, memref::LoadOp::create(b, loc, offsets, at));
    Value below =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, bound, row);
    Value up = arith::AndIOp::create(b, loc, active, below);
    Value down = arith::AndIOp::create(
        b, loc, active,
        arith::XOrIOp::create(
            b, loc, below,
            arith::ConstantOp::create(b, loc, b.getBoolAttr(true))));
    lo = arith::SelectOp::create(b, loc, up, next, lo);
    hi = arith::SelectOp::create(b, loc, down, mid, hi);
  }
  return lo;
}

Value gpu_kernels::sharedExpertTerm(OpBuilder &b, Location loc, Value shared,
                                    Value gate, Value t, Value c) {
  Value s = loadF32(b, loc, shared, {t, c});
  if (!gate)
    return s;
  Value g = loadF32(b, loc, gate, {t, indexConst(b, loc, 0)});
  return arith::MulFOp::create(b, loc, moe::sigmoid(b, loc, g), s);
}

bool gpu_kernels::hasTensorCoreOperands(Type input, Type weight, Type up,
                                        int64_t &n, int64_t &k) {
  auto in = cast<RankedTensorType>(input);
  auto w = dyn_cast<RankedTensorType>(weight);
  if (!w || getQuantizedElementType(w))
    return false;
  Type et = in.getElementType();
  if (et != w.getElementType() || !(et.isBF16() || et.isF16()))
    return false;
  if (up && cast<RankedTensorType>(up).getElementType() != et)
    return false;
  n = w.getDimSize(w.getRank() - 2);
  k = w.getDimSize(w.getRank() - 1);
  return !ShapedType::isDynamic(n) && !ShapedType::isDynamic(k) && n > 0 &&
         k > 0;
}

bool gpu_kernels::hasTensorCoreOperands(GroupedMatmulOp op, int64_t &n,
                                        int64_t &k) {
  return hasTensorCoreOperands(
      op.getInput().getType(), op.getWeight().getType(),
      op.getUp() ? op.getUp().getType() : Type(), n, k);
}

gpu_kernels::GemmBuffers gpu_kernels::gemmBuffers(OpBuilder &b, Location loc,
                                                  GroupedMatmulOp op) {
  GemmBuffers out;
  out.input = toBuffer(b, loc, op.getInput());
  out.weight = toBuffer(b, loc, op.getWeight());
  if (op.getOffsets()) {
    out.offsets = toBuffer(b, loc, op.getOffsets());
    out.groups = cast<MemRefType>(out.weight.getType()).getDimSize(0);
  }
  if (op.getBias())
    out.bias = toBuffer(b, loc, op.getBias());
  if (op.getRows())
    out.rows = toBuffer(b, loc, op.getRows());
  if (op.getUp())
    out.up = toBuffer(b, loc, op.getUp());
  if (op.getUpBias())
    out.upBias = toBuffer(b, loc, op.getUpBias());
  return out;
}

void gpu_kernels::buildKernelNest(
    OpBuilder &b, Location loc, Value programs, Value threads,
    function_ref<void(OpBuilder &, Location, Value, Value)> body) {
  MLIRContext *ctx = b.getContext();
  Value zero = indexConst(b, loc, 0), one = indexConst(b, loc, 1);
  auto mapping = [&](gpu::Processor processor) {
    AffineMap id = AffineMap::getMultiDimIdentityMap(1, ctx);
    return b.getArrayAttr(
        {gpu::ParallelLoopDimMappingAttr::get(ctx, processor, id, id)});
  };
  auto outer = scf::ParallelOp::create(
      b, loc, ValueRange{zero}, ValueRange{programs}, ValueRange{one},
      [&](OpBuilder &ob, Location ol, ValueRange program) {
        auto inner = scf::ParallelOp::create(
            ob, ol, ValueRange{zero}, ValueRange{threads}, ValueRange{one},
            [&](OpBuilder &ib, Location il, ValueRange thread) {
              body(ib, il, program[0], thread[0]);
            });
        inner->setAttr("mapping", mapping(gpu::Processor::ThreadX));
      });
  outer->setAttr("mapping", mapping(gpu::Processor::BlockX));
}

void gpu_kernels::buildItemKernel(
    OpBuilder &b, Location loc, StringRef name, Value numItems, int64_t threads,
    function_ref<void(OpBuilder &, Location, Value)> body) {
  Value width = indexConst(b, loc, threads);
  Value programs = arith::CeilDivUIOp::create(b, loc, numItems, width);
  buildKernelNest(b, loc, programs, width,
                  [&](OpBuilder &ib, Location il, Value program, Value thread) {
                    Value first = arith::MulIOp::create(ib, il, program, width);
                    Value item = arith::AddIOp::create(ib, il, first, thread);
                    Value exists = arith::CmpIOp::create(
                        ib, il, arith::CmpIPredicate::ult, item, numItems);
                    auto guard = scf::IfOp::create(
                        ib, il, exists, [&](OpBuilder &tb, Location tl) {
                          body(tb, tl, item);
                          scf::YieldOp::create(tb, tl);
                        });
                    guard->setAttr(kKernelNameAttr, ib.getStringAttr(name));
                  });
}
