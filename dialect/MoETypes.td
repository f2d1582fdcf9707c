//===- MoETypes.td - moe dialect types ---------------------*- tablegen -*-===//
#ifndef MOEC_DIALECT_MOETYPES_TD
#define MOEC_DIALECT_MOETYPES_TD

include "dialect/MoEAttrs.td"

def MoE_QuantFormat : I32EnumAttr<"QuantFormat",
    "a block-quantized weight format", [
      I32EnumAttrCase<"q8_0", 0>,
      I32EnumAttrCase<"q4_0", 1>]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def MoE_QuantizedType : TypeDef<MoE_Dialect, "Quantized"> {
  let mnemonic = "quant";
  let summary = "a block-quantized weight element";
  let description = [{
    The element type of a weight stored in blocks of quantized values with
    a scale per block, as ggml (GGUF files) stores them. A tensor
    `tensor<E x N x K x !moe.quant<FORMAT>>` has the logical shape of the
    float weight it encodes; its rows (the last dimension, the one a GEMM
    contracts) are `K / 32` blocks of 32 elements laid end to end, and the
    tensor's bytes are the blocks of row 0, then row 1, ... Weights stay in
    this form from the file to the kernels, which dequantize in registers.

    * `q8_0`: a block is 34 bytes, a little-endian f16 scale `d` then 32
      int8 `q`; element `j` is `d · q[j]`.
    * `q4_0`: a block is 18 bytes, an f16 scale `d` then 16 bytes `qs`;
      element `j` is `d · (n − 8)` with `n = qs[j] & 15` for `j < 16` and
      `n = qs[j − 16] >> 4` for `j >= 16`.

    Products with a quantized weight are those of the dequantized value
    (computed exactly in f32: `d` is an f16 and `q` a small integer),
    accumulated in f32. Upstream `!quant.uniform` types hold their scales
    in the type, as compile-time constants; these scales are checkpoint
    data bound at run time, one per 32 weights, hence a `moe` type.

    ```mlir
    %y = moe.layer %x router_weight(%wr : tensor<8x64xf32>)
        gate(%wg : tensor<8x32x64x!moe.quant<q4_0>>)
        up(%wu : tensor<8x32x64x!moe.quant<q4_0>>)
        down(%wd : tensor<8x64x32x!moe.quant<q8_0>>)
        routing(#moe.routing<k = 2>) activation(#moe.activation<swiglu>)
        : tensor<?x64xf32>
    ```
  }];
  let parameters = (ins EnumParameter<MoE_QuantFormat>:$format);
  let assemblyFormat = "`<` $format `>`";
  let extraClassDeclaration = [{
    /// Elements per block (32) and bytes per block (34 for q8_0, 18 for
    /// q4_0).
    int64_t getBlockElements() const;
    int64_t getBlockBytes() const;
    /// Bytes of a row of `elements` elements (a multiple of the block).
    int64_t getRowBytes(int64_t elements) const;
  }];
}

#endif // MOEC_DIALECT_MOETYPES_TD
