//===- KernelBuilder.h - GPU-mapped loop nests for convert-moe-to-gpu -----===//
//
// The pieces every kernel of convert-moe-to-gpu is built from: operands as
// buffers, result buffers, scalar helpers, and the kernel nest itself (an
// scf.parallel over programs mapped to block_x around one over threads
// mapped to thread_x, the item guarded).
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CUDA_KERNELBUILDER_H
#define MOEC_CODEGEN_CUDA_KERNELBUILDER_H

#include "mlir/IR/Builders.h"

#include <utility>

namespace mlir::moe {
class GroupedMatmulOp;
} // namespace mlir::moe

namespace mlir::moe::gpu_kernels {

/// `tensor` as a read-only buffer of the identity layout.
Value toBuffer(OpBuilder &b, Location loc, Value tensor);

/// A fresh buffer shaped like the ranked tensor type `tensorType`; `sizes`
/// holds one size per dimension, of which those of the dynamic dimensions
/// are used (the others may be null).
Value allocLike(OpBuilder &b, Location loc, Type tensorType,
                ArrayRef<Value> sizes);

/// The buffer as the tensor a rewritten op's result is replaced with.
Value toTensor(OpBuilder &b, Location loc, Type tensorType, Value buffer);

Value indexConst(OpBuilder &b, Location loc, int64_t v);
/// memref.load of `buffer[indices]`, converted to f32.
Value loadF32(OpBuilder &b, Location loc, Value buffer, ValueRange indices);
/// item / columns and item % columns: the (row, column) of an item of a
/// row-major [rows, columns] kernel.
std::pair<Value, Value> rowAndColumn(OpBuilder &b, Location loc, Value item,
                                     Value columns);
Value f32Const(OpBuilder &b, Location loc, double v);
/// moe.combine's shared-expert term of element (t, c) in f32:
/// shared[t, c], times sigmoid(gate[t, 0]) when `gate` is given.
Value sharedExpertTerm(OpBuilder &b, Location loc, Value shared, Value gate,
                       Value t, Value c);
/// The group of `row` under the non-decreasing offsets [G + 1] of a grouped
/// GEMM: #{g in [1, G] : offsets[g] <= row}, G past the last group (rows
/// below offsets[0] get 0: callers check offsets[0] <= row).
Value groupOfRow(OpBuilder &b, Location loc, Value offsets, Value row,
                 int64_t groups);
/// Whether `op` multiplies 16-bit float rows by a weight of the same type
/// (bf16 or f16, not block-quantized, and so is its `up` weight) whose
/// rows N and depth K are static and positive: what tensor cores take.
/// Sets `n` and `k`.
bool hasTensorCoreOperands(GroupedMatmulOp op, int64_t &n, int64_t &k);
/// The same for a GEMM of `input` rows by `weight` (and `up`, which may be
/// null): the tensor types of its operands.
bool hasTensorCoreOperands(Type input, Type weight, Type up, int64_t &n,
                           int64_t &k);

/// A grouped GEMM's operands as buffers: those the op does not have null;
/// `groups` the weight's leading dimension with offsets, 0 without.
struct GemmBuffers {
  Value input, weight, offsets, bias;
  /// The fused forms' gather indices, up weight and its bias.
  Value rows, up, upBias;
  int64_t groups = 0;
};
GemmBuffers gemmBuffers(OpBuilder &b, Location loc, GroupedMatmulOp op);

/// The attribute that names a kernel (on its item guard, which stays in
/// the kernel's body through every conversion); moe-name-gpu-kernels reads
/// it.
constexpr llvm::StringLiteral kKernelNameAttr = "moe.kernel_name";
/// The blocks per SM a kernel asks ptxas to leave room for (an i32 on an op
/// of its body; moe-gpu-pointer-arguments makes it the kernel's
/// nvvm.minctasm). Without it ptxas budgets registers for several blocks
/// of a kernel's declared block size.
constexpr llvm::StringLiteral kMinBlocksPerSmAttr = "moe.min_blocks_per_sm";

/// The nest every kernel is: `programs` programs (an scf.parallel mapped to
/// block_x) of `threads` threads (one mapped to thread_x); `body` builds a
/// thread's work from its program and thread indices, and must mark an op
/// of it with the kernel's name (kKernelNameAttr).
void buildKernelNest(
    OpBuilder &b, Location loc, Value programs, Value threads,
    function_ref<void(OpBuilder &, Location, Value, Value)> body);
/// One kernel named `name` over the items [0, numItems):
/// ceil(numItems / threads) programs (block_x) of `threads` threads
/// (thread_x); the thread of item program * threads + thread runs `body`
/// if that item exists.
void buildItemKernel(OpBuilder &b, Location loc, StringRef name, Value numItems,
                     int64_t threads,
                     function_ref<void(OpBuilder &, Location, Value)> body);

} // namespace mlir::moe::gpu_kernels

#endif // MOEC_CODEGEN_CUDA_KERNELBUILDER_H
