//===- MoETypes.td - moe dialect types ---------------------*- tablegen -*-===//
#ifndef MOEC_DIALECT_MOETYPES_TD
#define MOEC_DIALECT_MOETYPES_TD

include "dialect/MoEAttrs.td"

def MoE_QuantFormat : I32EnumAttr<"QuantFormat",
    "a block-quantized weight format", [
      I32EnumAttrCase<"q8_0", 0>,
      I32EnumAttrCase<"q4_0", 1>,
      I32EnumAttrCase<"q4_k", 2>,
      I32EnumAttrCase<"q6_k", 3>,
      I32EnumAttrCase<"mxfp4", 4>,
      I32EnumAttrCase<"u8z", 5>,
      I32EnumAttrCase<"u4z", 6>,
      I32EnumAttrCase<"fp8_e4m3", 7>,
      I32EnumAttrCase<"u8z128", 8>,
      I32EnumAttrCase<"u4z128", 9>,
      I32EnumAttrCase<"u2z", 10>,
      I32EnumAttrCase<"u2z128", 11>,
      I32EnumAttrCase<"u8z16", 12>,
      I32EnumAttrCase<"u4z16", 13>,
      I32EnumAttrCase<"u2z16", 14>,
      I32EnumAttrCase<"q4_1", 15>,
      I32EnumAttrCase<"q5_0", 16>,
      I32EnumAttrCase<"q5_1", 17>,
      I32EnumAttrCase<"q5_k", 18>,
      I32EnumAttrCase<"q2_k", 19>,
      I32EnumAttrCase<"q3_k", 20>,
      I32EnumAttrCase<"iq4_nl", 21>,
      I32EnumAttrCase<"iq4_xs", 22>,
      I32EnumAttrCase<"iq2_xxs", 23>,
      I32EnumAttrCase<"iq2_xs", 24>,
      I32EnumAttrCase<"iq2_s", 25>,
      I32EnumAttrCase<"iq3_xxs", 26>,
      I32EnumAttrCase<"iq3_s", 27>,
      I32EnumAttrCase<"iq1_s", 28>,
      I32EnumAttrCase<"iq1_m", 29>]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def MoE_QuantizedType : TypeDef<MoE_Dialect, "Quantized"> {
  let mnemonic = "quant";
  let summary = "a block-quantized weight element";
  let description = [{
    The element type of a weight stored in blocks of quantized values with
    scales per block, as ggml (GGUF files) stores them, or in moec's own
    blocks for ONNX Runtime's QMoE weights (`u8z`, `u4z`, `u2z`,
    `u8z128`, `u4z128`, `u2z128`, `u8z16`, `u4z16`, `u2z16`) and FP8
    checkpoints (`fp8_e4m3`). A tensor
    `tensor<E x N x K x !moe.quant<FORMAT>>` has the logical shape of the
    float weight it encodes; its rows (the last dimension, the one a GEMM
    contracts) are `K / B` blocks of `B` elements laid end to end, and the
    tensor's bytes are the blocks of row 0, then row 1, ... Weights stay in
    this form from the file to the kernels, which dequantize in registers.
    f16 values are little-endian; `b[i]` is byte `i` of a block.

    * `q8_0`: `B = 32` in 34 bytes, an f16 scale `d` then 32 int8 `q`;
      element `j` is `d · q[j]`.
    * `q4_0`: `B = 32` in 18 bytes, an f16 scale `d` then 16 bytes `qs`;
      element `j` is `d · (n − 8)` with `n = qs[j] & 15` for `j < 16` and
      `n = qs[j − 16] >> 4` for `j >= 16`.
    * `q4_1`: `B = 32` in 20 bytes, an f16 scale `d` (`b[0..1]`), an f16
      min `m` (`b[2..3]`), then 16 bytes `qs`; element `j` is `d · n + m`
      with `n` as `q4_0`'s.
    * `q5_0`: `B = 32` in 22 bytes, an f16 scale `d` (`b[0..1]`), 4 bytes
      `qh` (`b[2..5]`, a little-endian 32-bit integer), then 16 bytes
      `qs`; element `j` is `d · (n − 16)` with `n` the 4 bits of
      `q4_0`'s `n` or'ed with `((qh >> j) & 1) << 4`.
    * `q5_1`: `B = 32` in 24 bytes, f16 `d` (`b[0..1]`) and `m`
      (`b[2..3]`), 4 bytes `qh` (`b[4..7]`), then 16 bytes `qs`; element
      `j` is `d · n + m` with `n` as `q5_0`'s.
    * `q4_k`: `B = 256` in 144 bytes, f16 `d` (`b[0..1]`) and `dmin`
      (`b[2..3]`), 12 bytes `s` of 6-bit scales and mins (`b[4..15]`), 128
      bytes `qs`; element `j`, of sub-block `t = j / 32`, is
      `(d · sc) · n − dmin · m` with `n` the low nibble of
      `qs[32 (j / 64) + j % 32]` when `j % 64 < 32`, else its high nibble,
      and `sc = s[t] & 63`, `m = s[t + 4] & 63` for `t < 4`, else
      `sc = (s[t + 4] & 15) | (s[t − 4] >> 6) << 4`,
      `m = (s[t + 4] >> 4) | (s[t] >> 6) << 4`.
    * `q5_k`: `B = 256` in 176 bytes, as `q4_k` with 32 bytes `qh`
      (`b[16..47]`) before the 128 bytes `qs` (`b[48..175]`): `n` gains
      a fifth bit, `((qh[j % 32] >> t) & 1) << 4`.
    * `q6_k`: `B = 256` in 210 bytes, 128 bytes `ql`, 64 bytes `qh`, 16
      int8 scales `sc` (`b[192..207]`), f16 `d` (`b[208..209]`); element
      `j` is `(d · sc[j / 16]) · (q − 32)` with, for `h = j / 128` and
      `r = j % 128`, `q` the low (`r < 64`) or high nibble of
      `ql[64 h + r % 64]` or'ed with
      `((qh[32 h + r % 32] >> 2 (r / 32)) & 3) << 4`.
    * `q2_k`: `B = 256` in 84 bytes, 16 bytes `s` of 4-bit scales and mins
      (`b[0..15]`), 64 bytes `qs` (`b[16..79]`), f16 `d` (`b[80..81]`) and
      `dmin` (`b[82..83]`); element `j`, of sub-block `t = j / 16`, is
      `(d · (s[t] & 15)) · n − dmin · (s[t] >> 4)` with
      `n = (qs[32 (j / 128) + j % 32] >> 2 ((j % 128) / 32)) & 3`.
    * `q3_k`: `B = 256` in 110 bytes, 32 bytes `hm` (`b[0..31]`), 64 bytes
      `qs` (`b[32..95]`), 12 bytes `s` of 6-bit scales (`b[96..107]`), f16
      `d` (`b[108..109]`); element `j`, of sub-block `t = j / 16`, is
      `(d · (sc − 32)) · (n − 4)` with `n` the 2 bits of `q2_k`'s `n` (from
      `qs`) or'ed with `((hm[j % 32] >> (j / 32)) & 1) << 2`, and
      `sc = (s[t % 8] >> 4 (t / 8)) & 15 | ((s[8 + t % 4] >> 2 (t / 4)) & 3) << 4`.
    * `iq4_nl`: `B = 32` in 18 bytes, an f16 scale `d` then 16 bytes `qs`;
      element `j` is `d · v[n]` with `n` as `q4_0`'s and the non-linear
      `v = −127, −104, −83, −65, −49, −35, −22, −10, 1, 13, 25, 38, 53,
      69, 89, 113`.
    * `iq4_xs`: `B = 256` in 136 bytes, f16 `d` (`b[0..1]`), a
      little-endian 16-bit `sh` (`b[2..3]`), 4 bytes `sl` (`b[4..7]`), 128
      bytes `qs`; element `j`, of sub-block `t = j / 32`, is
      `(d · (ls − 32)) · v[n]` with `v` as `iq4_nl`'s, `n` the low nibble
      of `qs[16 t + j % 16]` when `j % 32 < 16`, else its high nibble, and
      `ls = (sl[t / 2] >> 4 (t % 2)) & 15 | ((sh >> 2 t) & 3) << 4`.
    * The i-quants `iq2_xxs`, `iq2_xs`, `iq2_s`, `iq3_xxs`, `iq3_s`,
      `iq1_s` and `iq1_m` (`B = 256`) index ggml's codebooks, fixed tables
      of entries of 8 (`G2` for the 2-bit formats, `G1` for the 1-bit
      ones) or 4 values (`G3`; runtime/support/IQGrids.h, as ggml defines
      them). Element `j` lies in group `g = j / 8` (`l = g % 4` within
      its 32 elements `ib = j / 32`) at `k = j % 8`. Where a group's sign
      comes from a 7-bit `s`, its sign byte is `s` with bit 7 the parity
      of `s` (an even number of minus signs); element `j` is negated when
      bit `k` of the group's sign byte is set. `u16`/`u32` are
      little-endian.
      * `iq2_xxs`: 66 bytes, f16 `d` (`b[0..1]`), then per `ib` 8 bytes:
        4 codes and a `u32` `a` (`b[6 + 8 ib..]`); element `j` is
        `d · (2 (a >> 28) + 1) / 8 · G2[b[2 + 8 ib + l]][k]`, its sign
        from `s = (a >> 7 l) & 127`.
      * `iq2_xs`: 74 bytes, f16 `d`, 32 `u16` `q` (`b[2..65]`), 8 bytes of
        4-bit scales `sc` (`b[66..73]`); with `q = q[g]`, element `j` is
        `d · (2 c + 1) / 8 · G2'[q & 511][k]`, `c = (sc[ib] >> 4 (l / 2)) & 15`,
        its sign from `s = q >> 9` (`G2'` the 512-entry table).
      * `iq2_s`: 82 bytes, f16 `d`, 32 bytes `qs` (`b[2..33]`), 32 sign
        bytes (`b[34..65]`), 8 bytes `qh` (`b[66..73]`), 8 bytes of 4-bit
        scales (`b[74..81]`); element `j` is
        `d · (2 c + 1) / 8 · G2''[qs[g] | ((qh[ib] >> 2 l) & 3) << 8][k]`
        with `c` as `iq2_xs`'s, negated by bit `k` of sign byte `g`
        (`G2''` the 1024-entry table).
      * `iq3_xxs`: 98 bytes, f16 `d`, 64 bytes `qs` (`b[2..65]`), 8 `u32`
        `a` (`b[66..97]`); element `j` is
        `d · (2 (a[ib] >> 28) + 1) / 4 · G3[qs[2 g + k / 4]][k % 4]`, its
        sign from `s = (a[ib] >> 7 l) & 127`.
      * `iq3_s`: 110 bytes, f16 `d`, 64 bytes `qs` (`b[2..65]`), 8 bytes
        `qh` (`b[66..73]`), 32 sign bytes (`b[74..105]`), 4 bytes of 4-bit
        scales (`b[106..109]`); with `m = 2 g + k / 4`, element `j` is
        `d · (2 c + 1) · G3'[qs[m] | ((qh[m / 8] >> m % 8) & 1) << 8][k % 4]`,
        `c = (b[106 + ib / 2] >> 4 (ib % 2)) & 15`, negated by bit `k` of
        sign byte `g` (`G3'` the 512-entry table).
      * `iq1_s`: 50 bytes, f16 `d`, 32 bytes `qs` (`b[2..33]`), 8 `u16`
        `h` (`b[34..49]`); element `j` is
        `d · (2 ((h[ib] >> 12) & 7) + 1) · (G1[qs[g] | ((h[ib] >> 3 l) & 7) << 8][k] + δ)`
        with `δ = −1/8` when bit 15 of `h[ib]` is set, else `1/8`.
      * `iq1_m`: 56 bytes, 32 bytes `qs` (`b[0..31]`), 16 bytes `qh`
        (`b[32..47]`), 4 `u16` `sc` (`b[48..55]`) whose top nibbles are
        the f16 `d` (`sc[0] >> 12` its lowest); with `n = (qh[g / 2] >>
        4 (g % 2)) & 15` and `c = (sc[g / 8] >> 3 ((g / 2) % 4)) & 7`,
        element `j` is `d · (2 c + 1) · (G1[qs[g] | (n & 7) << 8][k] + δ)`,
        `δ = −1/8` when `n & 8`, else `1/8`.
    * `mxfp4` (OCP microscaling MXFP4, as ggml stores it): `B = 32` in 17
      bytes, an e8m0 exponent `e` (`b[0]`) then 16 bytes `qs` of e2m1
      values; element `j` is `v[n] · s` with `n` the low nibble of
      `qs[j]` for `j < 16`, else the high nibble of `qs[j − 16]`,
      `v = 0, 1, 2, 3, 4, 6, 8, 12, −0, −1, −2, −3, −4, −6, −8, −12` (the
      e2m1 values doubled) and `s = 2^(e − 128)`, the f32 whose bits are
      `0x00200000 << e` for `e < 2` (a subnormal), else `(e − 1) << 23`
      (so `e = 255` is `2^127`, not NaN).
    * `u8z`: `B = 32` in 37 bytes, an f32 scale `d` (`b[0..3]`), an
      unsigned zero point `z` (`b[4]`), then 32 unsigned bytes `q`;
      element `j` is `d · (q[j] − z)`.
    * `u4z`: `B = 32` in 21 bytes, an f32 scale `d` (`b[0..3]`), a zero
      point `z` (`b[4]`), then 16 bytes `qs`; element `j` is `d · (n − z)`
      with `n = qs[j] & 15` for `j < 16` and `n = qs[j − 16] >> 4` for
      `j >= 16` (as `q4_0`).
    * `u8z128`: `B = 128` in 133 bytes, as `u8z` with 128 bytes `q`.
    * `u4z128`: `B = 128` in 69 bytes, an f32 scale `d` (`b[0..3]`), a
      zero point `z` (`b[4]`), then 64 bytes `qs`; element `j` is
      `d · (n − z)` with `n` the low nibble of `qs[32 (j / 64) + j % 32]`
      when `j % 64 < 32`, else its high nibble (as `q4_k`).
    * `u2z`: `B = 32` in 13 bytes, an f32 scale `d` (`b[0..3]`), a zero
      point `z` (`b[4]`), then 8 bytes `qs`; element `j` is `d · (n − z)`
      with `n = (qs[j % 8] >> 2 · (j / 8)) & 3`.
    * `u2z128`: `B = 128` in 37 bytes, an f32 scale `d` (`b[0..3]`), a
      zero point `z` (`b[4]`), then 32 bytes `qs`; element `j` is
      `d · (n − z)` with `n = (qs[16 · (j / 64) + j % 16] >> 2 · ((j % 64) / 16)) & 3`
      (each 16 bytes hold 64 elements in order, 2 bits at a time).
    * `u8z16`: `B = 16` in 21 bytes, as `u8z` with 16 bytes `q`.
    * `u4z16`: `B = 16` in 13 bytes, an f32 scale `d` (`b[0..3]`), a zero
      point `z` (`b[4]`), then 8 bytes `qs`; element `j` is `d · (n − z)`
      with `n = qs[j] & 15` for `j < 8` and `n = qs[j − 8] >> 4` for
      `j >= 8`.
    * `u2z16`: `B = 16` in 9 bytes, an f32 scale `d` (`b[0..3]`), a zero
      point `z` (`b[4]`), then 4 bytes `qs`; element `j` is `d · (n − z)`
      with `n = (qs[j % 4] >> 2 · (j / 4)) & 3`.

    * `fp8_e4m3`: `B = 128` in 132 bytes, an f32 scale `d` (`b[0..3]`),
      then 128 e4m3fn bytes `q`; element `j` is `d · v(q[j])` with, for
      the bits `s eeee mmm` of `q[j]`, `v = (−1)^s · 2^(e − 7) · (1 + m/8)`
      when `e > 0` and `(−1)^s · 2^−6 · m/8` when `e = 0` (`0x7F` and
      `0xFF` are NaN; moert refuses weights that hold them).

    `u8z`, `u4z` and `u2z` hold ONNX Runtime's QMoE 8-, 4- and 2-bit weights
    exactly: `w = scale · (q − zero_point)` with per-row scales, or scales
    per block of a multiple of 32, repeated in each block of 32 (the
    importer assembles them, docs/Importing.md); `u8z128`, `u4z128` and `u2z128`
    those with per-row scales or scales per block of a multiple of 128, in
    rows of a multiple of 128, at a quarter of the scales' bytes; `u8z16`,
    `u4z16` and `u2z16` those with scales per block of 16, and those whose
    rows are a multiple of 16 but not of 32. `fp8_e4m3` holds FP8
    checkpoints with 128 × 128 block scales (DeepSeek-V3's
    `weight_scale_inv`), each row's 128-element blocks with their scale
    (moert assembles them when it binds the checkpoint).

    Products with a quantized weight are those of the dequantized value,
    computed in f32 as written (the scale products first), accumulated in
    f32. Upstream `!quant.uniform` types hold their scales
    in the type, as compile-time constants; these scales are checkpoint
    data bound at run time, one per block of weights, hence a `moe` type.

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
    /// Elements per block (32, 256 for the k-quants, 128 for fp8_e4m3,
    /// u8z128, u4z128 and u2z128, 16 for u8z16, u4z16 and u2z16)
    /// and bytes per block (34, 18, 144, 210, 17, 37, 21, 132, 133, 69,
    /// 13, 37, 21, 13, 9, 20, 22, 24, 176, 84, 110, 18, 136).
    int64_t getBlockElements() const;
    int64_t getBlockBytes() const;
    /// Bytes of a row of `elements` elements (a multiple of the block).
    int64_t getRowBytes(int64_t elements) const;
  }];
}

#endif // MOEC_DIALECT_MOETYPES_TD
