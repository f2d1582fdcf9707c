//===- MoEAttrs.td - moe dialect attributes ----------------*- tablegen -*-===//
#ifndef MOEC_DIALECT_MOEATTRS_TD
#define MOEC_DIALECT_MOEATTRS_TD

include "dialect/MoEDialect.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def MoE_ScoringFunc : I32EnumAttr<"ScoringFunc",
    "how router logits become expert scores", [
      I32EnumAttrCase<"softmax", 0>,
      I32EnumAttrCase<"sigmoid", 1>]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def MoE_RoutingOrder : I32EnumAttr<"RoutingOrder",
    "whether experts are selected on the scores or on the raw logits", [
      I32EnumAttrCase<"score_then_topk", 0>,
      I32EnumAttrCase<"topk_then_score", 1>,
      I32EnumAttrCase<"sparsemixer", 2>]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def MoE_GroupScoreFunc : I32EnumAttr<"GroupScoreFunc",
    "how a group of experts is scored for group-limited selection", [
      I32EnumAttrCase<"max", 0>,
      I32EnumAttrCase<"top2_sum", 1>]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def MoE_ActivationKind : I32EnumAttr<"ActivationKind",
    "expert activation", [
      I32EnumAttrCase<"swiglu", 0>,
      I32EnumAttrCase<"geglu", 1>,
      I32EnumAttrCase<"relu", 2>,
      I32EnumAttrCase<"gelu", 3>,
      I32EnumAttrCase<"gelu_tanh", 4>,
      I32EnumAttrCase<"silu", 5>,
      I32EnumAttrCase<"identity", 6>,
      I32EnumAttrCase<"relu2", 7>]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def MoE_GateUpLayout : I32EnumAttr<"GateUpLayout",
    "row layout of a fused gate/up projection", [
      I32EnumAttrCase<"interleaved", 0>,
      I32EnumAttrCase<"concatenated", 1>]> {
  let cppNamespace = "::mlir::moe";
}

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

class MoE_EnumParam<EnumAttrInfo info, string default>
    : EnumParameter<info> {
  let defaultValue = "::mlir::moe::" # info.className # "::" # default;
}

// Floats are held as f64 APFloats (hashable, compared bitwise) and written
// as plain decimals.
class MoE_F64Param<string default, string desc>
    : APFloatParameter<desc> {
  let parser = "::mlir::moe::params::parseF64($_parser)";
  let printer = "::mlir::moe::params::printF64($_printer, $_self)";
  let defaultValue = "::llvm::APFloat(" # default # ")";
}

def MoE_OptionalF64Param
    : AttrOrTypeParameter<"std::optional<::llvm::APFloat>", "an optional float"> {
  let parser = "::mlir::moe::params::parseOptionalF64($_parser)";
  let printer = "::mlir::moe::params::printF64($_printer, *$_self)";
  let defaultValue = "std::nullopt";
}

class MoE_BoolParam<string default, string desc>
    : AttrOrTypeParameter<"bool", desc> {
  let parser = "::mlir::moe::params::parseBool($_parser)";
  let printer = "$_printer << ($_self ? \"true\" : \"false\")";
  let defaultValue = default;
}

class MoE_I64Param<string default, string desc>
    : AttrOrTypeParameter<"int64_t", desc> {
  let defaultValue = default;
}

// A list of integers written `[a, b, c]`.
class MoE_I64ListParam<string desc> : ArrayRefParameter<"int64_t", desc> {
  let parser = "::mlir::moe::params::parseI64List($_parser)";
  let printer = "::mlir::moe::params::printI64List($_printer, $_self)";
}

//===----------------------------------------------------------------------===//
// #moe.routing
//===----------------------------------------------------------------------===//

def MoE_RoutingAttr : MoE_Attr<"Routing", "routing"> {
  let summary = "how a token's experts and their weights are chosen";
  let description = [{
    Describes routing for `E` experts from router logits `l` (one row per
    token). Only `k` is required; every other field has a default and is
    omitted when printed at its default.

    * `scoring` (`softmax` | `sigmoid`, default `softmax`): the score `s` of
      each expert.
    * `order` (default `score_then_topk`): `score_then_topk` computes `s`
      over all `E` experts (softmax over all of them), selects the top `k`
      of the selection score `c = s + correction_bias` (the bias operand of
      `moe.route`/`moe.layer` is optional) and takes weights `w = s` of the
      selected experts: the bias never reaches the weights (DeepSeek-V3).
      `topk_then_score` selects the top `k` raw logits and scores only them:
      a softmax over the `k` selected logits (gpt-oss; Mixtral's equivalent
      form) or a sigmoid of each (Llama-4). `sparsemixer` (Phi-3.5-MoE,
      softmax scoring only) picks the experts one slot at a time on the
      raw logits `l`: slot `j` takes the largest logit `m_j` among the
      experts not picked yet (its expert `i_j`), masks every expert
      picked before it and every `e` with
      `(m_j - l_e) / max(|l_e|, m_j) > 2·sparsemixer_eps` (a NaN quotient
      masks nothing), and weighs `i_j` by its share of a softmax over the
      unmasked logits: `w_j = 1 / Σ_{e unmasked} exp(l_e - m_j)`. With
      `k = 2` this is transformers' `sparsemixer` at inference.
    * `sparsemixer_eps` (default `0.01`, Phi-3.5-MoE's
      `router_jitter_noise`): the relative distance below a slot's logit
      within which experts share its softmax.
    * `renormalize` (default `false`): divide the `k` weights by their sum,
      plus `renorm_epsilon` (default `0.0`; LFM2-MoE's 1e-6).
    * `scale` (default `1.0`): multiply the final weights (DeepSeek's
      `routed_scaling_factor`), after renormalization.
    * `scale_inputs` (default `false`): the consumer multiplies each
      selected expert's input row by the token's weight for it, instead of
      the expert's output (Llama-4): `moe.layer` computes
      `Σ_j expert_j(w_j · x)`. `moe.route`'s results do not change.
    * `n_group`, `topk_group` (default `1`, `1`): group-limited selection.
      The `E` experts form `n_group` contiguous groups; each is scored by
      `group_score` over its selection scores `c` (`max`: its largest,
      DeepSeek-V2; `top2_sum`: the sum of its two largest, DeepSeek-V3); the
      `topk_group` best groups are kept and the experts of the other groups
      get `c = -inf` before the top-`k`.

    Ties in any top-k go to the lower index. The `k` selected experts of a
    token come out in descending order of their selection score.

    Constraints (the consumer's expert count checks the rest):

    * (R1) `k >= 1`.
    * (R2) `scale` is finite and positive.
    * (R3) `1 <= topk_group <= n_group`.
    * (R4) group-limited selection (`n_group > 1`) needs
      `order = score_then_topk`.
    * (R5) `renorm_epsilon` is finite and non-negative, and above 0 only
      with `renormalize = true`.
    * (R6) `order = sparsemixer` needs `scoring = softmax`.
    * (R7) `sparsemixer_eps` is finite and non-negative, and differs from
      its default only with `order = sparsemixer`.

    Examples:

    ```mlir
    #moe.routing<k = 2, renormalize = true>                      // Mixtral
    #moe.routing<k = 8, scoring = sigmoid, renormalize = true, scale = 2.5,
                 n_group = 8, topk_group = 4, group_score = top2_sum> // V3
    #moe.routing<k = 4, order = topk_then_score>                 // gpt-oss
    #moe.routing<k = 2, order = sparsemixer>                     // Phi-3.5-MoE
    #moe.routing<k = 1, scoring = sigmoid, order = topk_then_score,
                 scale_inputs = true>                             // Llama-4
    ```
  }];
  let parameters = (ins
    "int64_t":$k,
    MoE_EnumParam<MoE_ScoringFunc, "softmax">:$scoring,
    MoE_EnumParam<MoE_RoutingOrder, "score_then_topk">:$order,
    MoE_BoolParam<"false", "divide the weights by their sum">:$renormalize,
    MoE_F64Param<"1.0", "factor on the final weights">:$scale,
    MoE_I64Param<"1", "number of expert groups">:$n_group,
    MoE_I64Param<"1", "number of groups kept">:$topk_group,
    MoE_EnumParam<MoE_GroupScoreFunc, "max">:$group_score,
    MoE_F64Param<"0.0", "added to the sum the weights are divided by">:$renorm_epsilon,
    MoE_F64Param<"0.01", "sparsemixer's relative masking distance, halved">:$sparsemixer_eps,
    MoE_BoolParam<"false", "weigh the experts' inputs, not their outputs">:$scale_inputs
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// True when experts are chosen within the best groups only.
    bool isGroupLimited() const { return getNGroup() > 1; }
    double getScaleValue() const { return getScale().convertToDouble(); }
    double getRenormEpsilonValue() const {
      return getRenormEpsilon().convertToDouble();
    }
    double getSparsemixerEpsValue() const {
      return getSparsemixerEps().convertToDouble();
    }
  }];
}

//===----------------------------------------------------------------------===//
// #moe.activation
//===----------------------------------------------------------------------===//

def MoE_ActivationAttr : MoE_Attr<"Activation", "activation"> {
  let summary = "the activation between an expert's two projections";
  let description = [{
    `kind` selects the function; gated kinds combine a gate projection `g`
    and an up projection `u`, elementwise kinds apply to one projection `u`.

    * `swiglu`: `min(g, limit)·sigmoid(alpha·min(g, limit))·(clamp(u, -limit,
      limit) + beta)`. With the defaults (`alpha = 1`, `beta = 0`, no limit)
      this is `silu(g)·u`; gpt-oss uses `alpha = 1.702, beta = 1.0,
      limit = 7.0`.
    * `geglu`: `gelu(g)·(u + beta)` with the exact (erf) gelu, `g` and `u`
      clamped as for `swiglu` when a limit is given.
    * `relu`, `relu2` (the squared ReLU, `max(u, 0)²`), `gelu` (erf),
      `gelu_tanh` (the tanh approximation), `silu`, `identity`: elementwise
      on `u`.

    Constraints:

    * (A1) `alpha` differs from 1 only for `swiglu`.
    * (A2) `beta` and `limit` are given only for gated kinds.
    * (A3) `limit` is positive.

    Examples:

    ```mlir
    #moe.activation<swiglu>
    #moe.activation<swiglu, alpha = 1.702, beta = 1.0, limit = 7.0>
    #moe.activation<gelu_tanh>
    ```
  }];
  let parameters = (ins
    EnumParameter<MoE_ActivationKind>:$kind,
    MoE_F64Param<"1.0", "slope inside the SwiGLU sigmoid">:$alpha,
    MoE_F64Param<"0.0", "offset added to the up projection">:$beta,
    MoE_OptionalF64Param:$limit
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// True for kinds that take a gate and an up projection.
    bool isGated() const;
    double getAlphaValue() const { return getAlpha().convertToDouble(); }
    double getBetaValue() const { return getBeta().convertToDouble(); }
    std::optional<double> getLimitValue() const {
      if (!getLimit())
        return std::nullopt;
      return getLimit()->convertToDouble();
    }
  }];
}

//===----------------------------------------------------------------------===//
// #moe.expert_placement
//===----------------------------------------------------------------------===//

def MoE_ExpertPlacementAttr
    : MoE_Attr<"ExpertPlacement", "expert_placement"> {
  let summary = "where a layer's experts live under expert parallelism";
  let description = [{
    An expert-parallel plan of one layer with `E` experts, on the ranks of
    the `shard.grid` named `grid`: each of its `R` ranks holds
    `slots_per_rank` expert slots, and the `P = R · slots_per_rank` slots
    hold the `E` experts, the `P - E` redundant ones replicas of hot
    experts. Slot `p` lives on rank `p / slots_per_rank`, which is on node
    `rank / ranks_per_node`.

    * `phys_to_log` (`P` entries): the expert in each slot.
    * `replicas` (`E` entries): the number of slots of each expert.
    * `log_to_phys` (`P` entries): the slots of expert 0 (`replicas[0]` of
      them, ascending), then those of expert 1, and so on.

    A replicated expert's tokens are dealt to its replicas in turn: the
    `j`-th (token, expert) assignment of expert `e` in a batch (in token
    order, from 0) goes to its `j mod replicas[e]`-th slot.

    `moe-plan-expert-parallelism` writes it as the discardable attribute
    `moe.expert_placement` of a `moe.layer`, where the dialect also checks
    that `replicas` has the layer's `E` entries and that the grid exists
    with `R` devices.

    Constraints:

    * (P1) `slots_per_rank >= 1` and `ranks_per_node >= 1`.
    * (P2) `phys_to_log` has a positive multiple of `slots_per_rank`
      entries, `R` ranks, and `R` is a multiple of `ranks_per_node`.
    * (P3) every expert has at least one replica and at most `P`, and the
      replica counts sum to `P`.
    * (P4) every slot holds an expert in `[0, E)`.
    * (P5) `log_to_phys` has `P` entries, lists each slot once, and lists
      for each expert exactly the slots that `phys_to_log` gives it, in
      ascending order.

    ```mlir
    #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3,
        phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1],
        log_to_phys = [0, 2, 1, 5, 3, 4]>
    ```
  }];
  let parameters = (ins
    "::mlir::FlatSymbolRefAttr":$grid,
    "int64_t":$ranks_per_node,
    "int64_t":$slots_per_rank,
    MoE_I64ListParam<"the expert of each slot">:$phys_to_log,
    MoE_I64ListParam<"the slots of each expert">:$replicas,
    MoE_I64ListParam<"each expert's slots, expert by expert">:$log_to_phys
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getNumSlots() const { return getPhysToLog().size(); }
    int64_t getNumRanks() const { return getNumSlots() / getSlotsPerRank(); }
    int64_t getNumExperts() const { return getReplicas().size(); }
  }];
}

#endif // MOEC_DIALECT_MOEATTRS_TD
