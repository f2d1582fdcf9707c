//===- LoweringUtils.h - helpers shared by the moe-to-linalg patterns -----===//
//
// Small builders every convert-moe-to-linalg pattern needs: float casts,
// empty and filled tensors with dynamic sizes, and elementwise or reducing
// linalg.generic ops over identity-style maps.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_LINALG_LOWERINGUTILS_H
#define MOEC_CODEGEN_LINALG_LOWERINGUTILS_H

#include "dialect/MoEDialect.h"
#include "dialect/MoEOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {

/// Converts a float scalar to `to` (extf, truncf or nothing).
Value castFloat(OpBuilder &b, Location loc, Value v, Type to);

/// Converts a signless integer scalar to index.
Value toIndex(OpBuilder &b, Location loc, Value v);

/// A float constant of type `type`.
Value floatConst(OpBuilder &b, Location loc, Type type, double value);

/// tensor.empty of the given sizes.
Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elementType);

/// tensor.empty filled with `value` (linalg.fill).
Value filledTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   Type elementType, Value value);

/// The sizes of a ranked tensor value, static ones as attributes.
SmallVector<OpFoldResult> sizesOf(OpBuilder &b, Location loc, Value tensor);

/// Iterator types: `numParallel` parallel loops followed by `numReduction`
/// reduction loops.
SmallVector<utils::IteratorType> iterators(unsigned numParallel,
                                           unsigned numReduction = 0);

/// An affine map over `numDims` loops selecting the listed dimensions.
AffineMap dimsMap(MLIRContext *ctx, unsigned numDims, ArrayRef<unsigned> dims);

/// Elementwise linalg.generic over rank-N operands with identity maps: the
/// result has `resultType`'s element type and `inputs[0]`'s shape.
Value elementwise(OpBuilder &b, Location loc, ValueRange inputs,
                  Type resultElementType,
                  function_ref<Value(OpBuilder &, Location, ValueRange)> body);

/// Replaces `op` by `values`, casting each (tensor.cast) to the op's declared
/// result type where the lowering produced a less static one.
void replaceWithResultTypes(PatternRewriter &rewriter, Operation *op,
                            ValueRange values);

/// 1 / (1 + exp(-x)) in the type of x.
Value sigmoid(OpBuilder &b, Location loc, Value x);

/// `act` of one element in the type of `up`: gated kinds combine `gate`
/// and `up`; elementwise kinds map `up` (and `gate` is null).
Value applyActivation(OpBuilder &b, Location loc, ActivationAttr act,
                      Value gate, Value up);

/// The group of each of `rowCount` rows given a grouped GEMM's offsets
/// [G + 1]: group[m] = #{g < G : offsets[g + 1] <= m}, an index tensor
/// [rowCount] (G for rows past the last group; rows before offsets[0] get
/// 0 and are outside every group too).
Value groupOfRows(OpBuilder &b, Location loc, Value offsets, Value rowCount);

/// Whether row `row`, of group `group` (groupOfRows), lies inside a group:
/// offsets[0] <= row and group < `groups`.
Value insideGroups(OpBuilder &b, Location loc, Value offsets, Value row,
                   Value group, int64_t groups);

/// The end of moe.combine's lowering, after its routed sum (an f32 [T, d]
/// tensor): adds the shared expert, σ(gate)-scaled when gated, and
/// converts to the result type.
Value finishCombine(OpBuilder &b, Location loc, CombineOp op, Value routed);

} // namespace mlir::moe

#endif // MOEC_CODEGEN_LINALG_LOWERINGUTILS_H
