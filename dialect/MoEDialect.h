//===- MoEDialect.h - the moe dialect and its attributes --------*- C++ -*-===//
#ifndef MOEC_DIALECT_MOEDIALECT_H
#define MOEC_DIALECT_MOEDIALECT_H

// The generated headers need these first.
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/OpImplementation.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/DialectImplementation.h"

#include <optional>

#include "dialect/MoEDialect.h.inc"
#include "dialect/MoEEnums.h.inc"

namespace mlir::moe::params {
// Parsers and printer for the float and bool parameters of the dialect's
// attributes (ODS has no field parser for them).
FailureOr<llvm::APFloat> parseF64(AsmParser &parser);
FailureOr<std::optional<llvm::APFloat>> parseOptionalF64(AsmParser &parser);
FailureOr<bool> parseBool(AsmParser &parser);
void printF64(AsmPrinter &printer, const llvm::APFloat &value);
FailureOr<SmallVector<int64_t>> parseI64List(AsmParser &parser);
void printI64List(AsmPrinter &printer, ArrayRef<int64_t> values);
} // namespace mlir::moe::params

namespace mlir::moe {
/// Function-argument attributes that tell the compiler and runtime where a
/// weight comes from (docs/Compiling.md, docs/Artifact.md):
/// `moe.name` names the argument (a weight's tensor name in its checkpoint,
/// or an input's name; without it, moe.layer roles name arguments);
/// `moe.stack = ["t0", "t1", ...]` assembles the weight by stacking one
/// checkpoint tensor per index of its leading dimension; `moe.transposed`
/// says the checkpoint holds its last two dimensions swapped;
/// `moe.stored_dtype` (below) that it holds another dtype.
constexpr const char *kArgNameAttr = "moe.name";
constexpr const char *kArgStackAttr = "moe.stack";
constexpr const char *kArgTransposedAttr = "moe.transposed";
/// `moe.stored_dtype = "f32"` (or "bf16", "f16"): the checkpoint stores the
/// weight in that dtype and the runtime converts it to the argument's
/// element type when it binds it (narrowing rounds to nearest even).
constexpr const char *kArgStoredDtypeAttr = "moe.stored_dtype";
/// `moe.mx_scales = "t"` on a `!moe.quant<mxfp4>` weight: the checkpoint
/// holds it as two tensors in the OCP layout transformers writes: `moe.name`
/// the e2m1 codes, u8 [..., N, K/32, 16], element 2i of a block in the low
/// nibble of byte i and 2i+1 in the high one; `t` the e8m0 exponents, u8
/// [..., N, K/32]. The runtime assembles them once into the blocks the
/// kernels read (docs/Artifact.md), still 17 bytes per 32 elements.
constexpr const char *kArgMxScalesAttr = "moe.mx_scales";
/// `moe.block_scales = ["t0", ...]` on a `!moe.quant<fp8_e4m3>` weight: the
/// checkpoint holds its e4m3fn values as F8_E4M3 tensors (`moe.name`, or
/// each of `moe.stack`), rows of output features, and each tensor's scales
/// apart: one f32 per 128 x 128 block, [ceil(N / 128), K / 128]
/// (DeepSeek-V3's `weight_scale_inv`), named here in the same order. The
/// runtime assembles them once into the 132-byte blocks the kernels read.
constexpr const char *kArgBlockScalesAttr = "moe.block_scales";
/// Set by moe-pack-weights: the argument holds panels of this many output
/// columns (the runtime packs the weight when it is bound).
constexpr const char *kArgPackedPanelAttr = "moe.packed_panel";
/// Set by moe-pack-weights (int8-dot) on a q8_0, q4_0, q4_1, q5_0, q5_1, mxfp4,
/// u8z, u4z, q4_k, q5_k or q6_k weight: the argument holds it in int8 panels
/// (runtime/abi/Int8PanelLayout.h), which the runtime packs when it is bound.
constexpr const char *kArgInt8PanelsAttr = "moe.int8_panels";
/// With it, also consecutive k of this count interleaved in each panel row
/// (pairs, for bf16 dot products).
constexpr const char *kArgPackedKGroupAttr = "moe.packed_k_group";
/// With it, also the N dimension in this many slices, one after another
/// (runtime/moert/Packing.h).
constexpr const char *kArgPackedSlicesAttr = "moe.packed_slices";
/// Set by moe-distribute-experts: the argument holds the expert weights of
/// one rank's slots only, [slots_per_rank, ...] where the layer reads [E,
/// ...]: on rank r, index s holds expert phys_to_log[r * slots_per_rank + s]
/// of this #moe.expert_placement (the runtime binds those experts' slices
/// of the checkpoint's [E, ...] tensor, or of its stack).
constexpr const char *kArgExpertSlotsAttr = "moe.expert_slots";
} // namespace mlir::moe

#define GET_ATTRDEF_CLASSES
#include "dialect/MoEAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/MoETypes.h.inc"

namespace mlir::moe {
/// The !moe.quant element type of a ranked tensor type, or null.
QuantizedType getQuantizedElementType(Type type);
/// Whether moe.layer's operand `name` may be block-quantized (C9): the
/// experts' and the shared experts' projections.
bool isQuantizableLayerOperand(llvm::StringRef name);
} // namespace mlir::moe

#endif // MOEC_DIALECT_MOEDIALECT_H
