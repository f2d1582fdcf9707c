//===- MoEDialect.td - the moe dialect ---------------------*- tablegen -*-===//
#ifndef MOEC_DIALECT_MOEDIALECT_TD
#define MOEC_DIALECT_MOEDIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def MoE_Dialect : Dialect {
  let name = "moe";
  let cppNamespace = "::mlir::moe";
  let summary = "Mixture-of-Experts routing and expert computation";
  let description = [{
    The `moe` dialect captures a Mixture-of-Experts block at tensor level with
    value semantics. `moe.layer` holds a whole block (router, routed experts,
    optional shared experts) and is what importers emit; `moe-decompose`
    expands it into the stages a compiler schedules separately:
    `moe.route` (scores and top-k selection), `moe.dispatch` (the
    expert-sorted order of token rows), `moe.gather`, `moe.grouped_matmul`
    (one GEMM per expert over its contiguous rows), `moe.activation` and
    `moe.combine` (the weighted sum back to token order, plus shared experts).

    Weights are operands, never constants, so compiling never copies a
    checkpoint. Arithmetic is carried out in at least f32 whatever the
    storage type of an operand (f32, bf16 or f16, or for the experts'
    projections a block-quantized `!moe.quant<...>`); results are rounded
    to their declared element type once.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let extraClassDeclaration = [{
    /// The discardable attribute holding a layer's expert-parallel plan.
    static constexpr ::llvm::StringLiteral kExpertPlacementAttrName =
        "moe.expert_placement";
  }];
}

class MoE_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<MoE_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

class MoE_Op<string mnemonic, list<Trait> traits = []>
    : Op<MoE_Dialect, mnemonic, traits>;

#endif // MOEC_DIALECT_MOEDIALECT_TD
