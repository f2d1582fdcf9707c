//===- MoEOps.td - moe dialect operations ------------------*- tablegen -*-===//
#ifndef MOEC_DIALECT_MOEOPS_TD
#define MOEC_DIALECT_MOEOPS_TD

include "dialect/MoEAttrs.td"
include "dialect/MoETypes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"

// Operand types are checked by the verifiers, which give numbered
// diagnostics; ODS only requires a ranked tensor.
defvar MoE_Tensor = AnyRankedTensor;

//===----------------------------------------------------------------------===//
// moe.route
//===----------------------------------------------------------------------===//

def MoE_RouteOp : MoE_Op<"route", [Pure,
    InferTypeOpAdaptor]> {
  let summary = "select each token's experts and their weights";
  let description = [{
    Applies `#moe.routing` to router logits `[T, E]`, giving for every token
    the weights `[T, k]` (f32) and expert indices `[T, k]` (i32) of its `k`
    experts, in descending order of selection score. The optional
    `correction_bias` `[E]` is added to the scores for selection only.

    Constraints:

    * (C1) `logits` is a rank-2 tensor of f32, bf16 or f16.
    * (C2) `routing.k <= E`.
    * (C3) `correction_bias` is a rank-1 float tensor of `E` elements.
    * (C4) `correction_bias` requires `order = score_then_topk`.
    * (C5) with `n_group > 1`: `E % n_group == 0`,
      `k <= topk_group · (E / n_group)`, and `top2_sum` needs groups of at
      least two experts.

    Results are inferred: `weights : tensor<T x k x f32>`,
    `indices : tensor<T x k x i32>`.

    ```mlir
    %w, %ids = moe.route %logits bias(%b : tensor<256xf32>)
        routing(#moe.routing<k = 8, scoring = sigmoid, renormalize = true,
                             scale = 2.5, n_group = 8, topk_group = 4,
                             group_score = top2_sum>) : tensor<?x256xf32>
    ```
  }];
  let arguments = (ins MoE_Tensor:$logits,
                       Optional<MoE_Tensor>:$correction_bias,
                       MoE_RoutingAttr:$routing);
  let results = (outs MoE_Tensor:$weights, MoE_Tensor:$indices);
  let assemblyFormat = [{
    $logits (`bias` `(` $correction_bias^ `:` type($correction_bias) `)`)?
    `routing` `(` qualified($routing) `)` attr-dict `:` type($logits)
  }];
}

//===----------------------------------------------------------------------===//
// moe.dispatch
//===----------------------------------------------------------------------===//

def MoE_DispatchOp : MoE_Op<"dispatch", [Pure,
    InferTypeOpAdaptor]> {
  let summary = "order the token-expert assignments by expert";
  let description = [{
    Given the expert indices `[T, k]` of every token, computes the plan that
    groups the `P = T·k` assignments by expert:

    * `sorted_tokens [P]`: the token of the assignment in each slot. Slots
      are ordered by expert, and within an expert by assignment `t·k + j`
      (so by ascending token).
    * `inverse [T, k]`: the slot of assignment `(t, j)`.
    * `offsets [E + 1]`: expert `e` owns slots `[offsets[e], offsets[e+1])`;
      `offsets[0] = 0` and `offsets[E] = P`. An expert that receives no token
      has an empty range.

    Indices outside `[0, E)` are undefined behaviour.

    Constraints:

    * (C1) `indices` is a rank-2 tensor of signless integers.
    * (C2) `num_experts >= 1`.

    Results are inferred, all `i32`.

    ```mlir
    %sorted, %inverse, %offsets = moe.dispatch %ids experts(8)
        : tensor<?x2xi32>
    ```
  }];
  let arguments = (ins MoE_Tensor:$indices, I64Attr:$num_experts);
  let results = (outs MoE_Tensor:$sorted_tokens, MoE_Tensor:$inverse,
                      MoE_Tensor:$offsets);
  let assemblyFormat = [{
    $indices `experts` `(` $num_experts `)` attr-dict `:` type($indices)
  }];
}

//===----------------------------------------------------------------------===//
// moe.record_routing
//===----------------------------------------------------------------------===//

def MoE_RecordRoutingOp : MoE_Op<"record_routing",
    [MemoryEffects<[MemWrite]>]> {
  let summary = "hand a layer's expert selection to the routing statistics";
  let description = [{
    Reports the expert indices `[T, k]` that a `moe.route` selected to the
    runtime's routing statistics (docs/Runtime.md, "Routing statistics"),
    which count per expert the tokens it received (and, on request, how
    often two experts were selected by the same token). `site` numbers the
    records of one function from 0; `experts` is the layer's `E`. When
    nothing records, the op does nothing; it never changes a value of the
    computation. Its write effect is the statistics, so it is neither moved
    across other records nor erased.

    `moe-instrument-routing` inserts one after each `moe.route` of an entry
    point (a public function); the CPU
    pipeline lowers it to a call through the artifact's
    `moec_record_routing` slot (`moe-lower-routing-records`).

    Constraints:

    * (C1) `indices` is a rank-2 tensor of i32.
    * (C2) `0 <= site < 2^31` and `1 <= experts <= 2^20`.
    * (C3) a static `k` (the indices' second dimension) is in
      `[1, experts]`.

    ```mlir
    moe.record_routing %ids site(0) experts(8) : tensor<?x2xi32>
    ```
  }];
  let arguments = (ins MoE_Tensor:$indices, I64Attr:$site,
                       I64Attr:$experts);
  let assemblyFormat = [{
    $indices `site` `(` $site `)` `experts` `(` $experts `)` attr-dict
    `:` type($indices)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// moe.exchange_plan
//===----------------------------------------------------------------------===//

def MoE_ExchangePlanOp : MoE_Op<"exchange_plan", [Pure,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>, InferTypeOpAdaptor]> {
  let summary = "order a rank's token-expert assignments by the rank that "
                "computes them";
  let description = [{
    The sending side of an expert-parallel layer (docs/ExpertParallelism.md)
    on rank `rank` of the placement's grid. Given the expert indices
    `[T, k]` of the rank's own tokens, it picks for each assignment
    `(t, j)` of expert `e` the slot that computes it, and orders the
    `P = T·k` assignments by the rank of that slot:

    * the `n`-th assignment of `e` on this rank (in assignment order
      `t·k + j`, from 0) goes to the `((n + rank) mod replicas[e])`-th of
      `e`'s slots, so a replicated expert's tokens are dealt to its
      replicas in turn, each rank starting at a different replica;
    * `send_tokens [P]` (i32): the token of each send row, ordered by
      destination rank, and within a rank by assignment;
    * `send_experts [P]` (i32): the expert of each send row;
    * `send_counts [R]` (i64): the rows for each rank;
    * `positions [T, k]` (i32): the send row of assignment `(t, j)`, where
      the returned expert output of that assignment arrives.

    Indices outside `[0, E)` and a rank outside `[0, R)` are undefined
    behaviour.

    Constraints:

    * (C1) `indices` is a rank-2 tensor of i32.
    * (C2) a static `k` is in `[1, E]`, `E` the placement's experts.
    * (C3) the placement's grid is a `shard.grid` of `R` devices, `R` the
      placement's ranks.

    ```mlir
    %tokens, %experts, %counts, %positions = moe.exchange_plan %ids
        rank(%rank) placement(#moe.expert_placement<grid = @ep,
        ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [0, 1, 2, 3],
        replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>)
        : tensor<?x2xi32>
    ```
  }];
  let arguments = (ins MoE_Tensor:$indices, Index:$rank,
                       MoE_ExpertPlacementAttr:$placement);
  let results = (outs MoE_Tensor:$send_tokens, MoE_Tensor:$send_experts,
                      MoE_Tensor:$send_counts, MoE_Tensor:$positions);
  let assemblyFormat = [{
    $indices `rank` `(` $rank `)` `placement` `(` qualified($placement) `)`
    attr-dict `:` type($indices)
  }];
}

//===----------------------------------------------------------------------===//
// moe.all_to_all_v
//===----------------------------------------------------------------------===//

def MoE_AllToAllVOp : MoE_Op<"all_to_all_v", [Pure,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    AllTypesMatch<["send_counts", "recv_counts"]>]> {
  let summary = "variable-count all-to-all of rows over a device grid";
  let description = [{
    Every device of `grid` sends each other device (itself included) its
    own number of rows: the rows of `input` for rank `i` are the
    `send_counts[i]` rows after `send_counts[0] + … + send_counts[i-1]`.
    The result holds, in rank order, the `recv_counts[i]` rows that rank
    `i` sent this one. Ranks are the grid's linear device indices
    (`shard.process_linear_index`), over all its axes.

    `recv_counts` must be what the peers send this rank, as the count
    exchange `shard.all_to_all` of `send_counts` gives it; an `input` of
    other than `Σ send_counts` rows, or counts that disagree with the
    peers', are undefined behaviour. `shard.all_to_all` cannot express this
    exchange: it splits its input into equal parts.

    Constraints:

    * (C1) `input` is a rank-1 or rank-2 tensor of integers or floats of a
      whole number of bytes.
    * (C2) the result has the input's element type and rank, and the
      input's columns.
    * (C3) the counts are rank-1 tensors of i64; a static size is `R`,
      the devices of `grid`.
    * (C4) `grid` is a `shard.grid` with a static number of devices.

    ```mlir
    %received = moe.all_to_all_v %rows, %send_counts, %recv_counts on @ep
        : tensor<?x64xbf16>, tensor<4xi64> -> tensor<?x64xbf16>
    ```
  }];
  let arguments = (ins MoE_Tensor:$input, MoE_Tensor:$send_counts,
                       MoE_Tensor:$recv_counts, FlatSymbolRefAttr:$grid);
  let results = (outs MoE_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $send_counts `,` $recv_counts `on` $grid attr-dict
    `:` type($input) `,` type($send_counts) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// moe.gather
//===----------------------------------------------------------------------===//

def MoE_GatherOp : MoE_Op<"gather", [Pure, AttrSizedOperandSegments,
    InferTypeOpAdaptor]> {
  let summary = "copy rows in a given order, optionally scaled";
  let description = [{
    `result[p, :] = input[rows[p], :]`: the permuted copy of the tokens that
    a grouped GEMM without a fused gather reads. Row indices outside the
    input are undefined behaviour.

    With `scales(weights, inverse)` (routing weights applied to the experts'
    inputs, `#moe.routing<scale_inputs = true>`, Llama-4), every row is
    multiplied by the routing weight of the assignment it holds:
    `result[p, :] = s_p · input[rows[p], :]` with
    `s_p = Σ_j [inverse[rows[p], j] == p] · weights[rows[p], j]`, i.e. the
    weight of the slot `j` of token `rows[p]` that `inverse` (a dispatch's,
    or an exchange plan's `positions`) sends to row `p`. The product is
    formed in f32 and rounded once to the result type.

    Constraints:

    * (C1) `input` is a rank-2 float tensor.
    * (C2) `rows` is a rank-1 tensor of signless integers.
    * (C3) `weights` (float) and `inverse` (signless integer) are rank-2
      tensors of one shape `[T, k]`, given together.

    The result `[P, d]` (P = size of `rows`) has the input's element type.

    ```mlir
    %xs = moe.gather %x[%sorted] : tensor<?x64xf32>, tensor<?xi32>
    %xw = moe.gather %x[%sorted]
        scales(%w, %inverse : tensor<?x1xf32>, tensor<?x1xi32>)
        : tensor<?x64xbf16>, tensor<?xi32>
    ```
  }];
  let arguments = (ins MoE_Tensor:$input, MoE_Tensor:$rows,
                       Optional<MoE_Tensor>:$weights,
                       Optional<MoE_Tensor>:$inverse);
  let results = (outs MoE_Tensor:$result);
  let assemblyFormat = [{
    $input `[` $rows `]`
    (`scales` `(` $weights^ `,` $inverse `:` type($weights) `,`
        type($inverse) `)`)?
    attr-dict `:` type($input) `,` type($rows)
  }];
  let builders = [
    OpBuilder<(ins "Value":$input, "Value":$rows), [{
      build($_builder, $_state, input, rows, /*weights=*/Value(),
            /*inverse=*/Value());
    }]>
  ];
}

//===----------------------------------------------------------------------===//
// moe.grouped_matmul
//===----------------------------------------------------------------------===//

def MoE_GroupedMatmulOp : MoE_Op<"grouped_matmul", [Pure,
    AttrSizedOperandSegments]> {
  let summary = "ragged GEMM: consecutive row groups, one weight each";
  let description = [{
    With `offsets` (`[G + 1]`) and a weight `[G, N, K]`: every row `m` with
    `offsets[g] <= m < offsets[g+1]` computes
    `result[m, n] = Σ_k input[m, k] · weight[g, n, k] (+ bias[g, n])`.
    Rows outside every group are zero. Offsets are non-decreasing; values
    outside `[0, M]` are undefined behaviour.

    Without `offsets` the weight is `[N, K]` and every row uses it (a dense
    projection: routers and shared experts).

    Weights are in the `nn.Linear` layout `[out, in]`. Products accumulate
    in f32 (or the wider result type) and round once to the result type. A
    block-quantized weight (`!moe.quant`) multiplies as its dequantized
    values.

    Fused forms (`moe-fuse-dispatch`, `moe-fuse-gate-up`):

    * `gather(%rows)`: row `m` of the product reads `input[rows[m]]`
      instead of `input[m]`, and the result has one row per element of
      `rows` (`M = |rows|`): the permuted copy `moe.gather` would make is
      never materialized. Row indices outside the input are undefined
      behaviour.
    * `activation(#moe.activation<...>)`: the activation is applied to the
      f32 sums (bias included) before rounding. An elementwise kind maps
      each output. A gated kind combines a gate and an up projection of the
      same row: with `up(%w_up)` (and `up_bias`), of the same shapes as
      `weight` (and `bias`), output `n` is `act(gate_n, up_n)` over weight
      row `n` of each; with `gate_up_layout`, `weight` holds both in `2N`
      rows (gate rows even and up rows odd when `interleaved`, the first
      and last `N` when `concatenated`) and the result has `N` columns.

    Constraints:

    * (C1) `input` is a rank-2 float tensor `[M, K]`.
    * (C2) `weight` is a float or `!moe.quant` tensor of rank 3 with
      `offsets`, rank 2 without.
    * (C3) the weight's last dimension is `K`.
    * (C4) `offsets` is a rank-1 signless-integer tensor of `G + 1` elements.
    * (C5) `bias` is a float tensor `[G, N]` with offsets, `[N]` without.
    * (C6) the result is a float tensor `[M, N]` (`|rows|` rows with
      `gather`, `N / 2` columns with `gate_up_layout`).
    * (C7) `rows` is a rank-1 signless-integer tensor.
    * (C8) `up` and `up_bias` need a gated `activation` without
      `gate_up_layout`, and have the types of `weight` and `bias`
      (`up_bias` needs `bias`, and `bias` needs `up_bias` alongside `up`).
    * (C9) `gate_up_layout` needs a gated `activation` and an even number of
      weight rows.
    * (C10) a gated `activation` needs `up` or `gate_up_layout`.
    * (C11) a quantized weight's `K` is static and a whole number of its
      format's blocks.

    ```mlir
    %h = moe.grouped_matmul %xs, %w_up offsets(%off : tensor<9xi32>)
        : tensor<?x64xf32>, tensor<8x96x64xbf16> -> tensor<?x96xf32>
    // Fused: the gather, gate and up projections and SwiGLU in one GEMM.
    %a = moe.grouped_matmul %x, %w_gate gather(%sorted : tensor<?xi32>)
        offsets(%off : tensor<9xi32>) up(%w_up : tensor<8x96x64xbf16>)
        activation(#moe.activation<swiglu>)
        : tensor<?x64xf32>, tensor<8x96x64xbf16> -> tensor<?x96xf32>
    ```
  }];
  let arguments = (ins MoE_Tensor:$input, MoE_Tensor:$weight,
                       Optional<MoE_Tensor>:$rows,
                       Optional<MoE_Tensor>:$offsets,
                       Optional<MoE_Tensor>:$bias,
                       Optional<MoE_Tensor>:$up,
                       Optional<MoE_Tensor>:$up_bias,
                       OptionalAttr<MoE_ActivationAttr>:$activation,
                       OptionalAttr<MoE_GateUpLayout>:$gate_up_layout);
  let results = (outs MoE_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight
    (`gather` `(` $rows^ `:` type($rows) `)`)?
    (`offsets` `(` $offsets^ `:` type($offsets) `)`)?
    (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`up` `(` $up^ `:` type($up) `)`)?
    (`up_bias` `(` $up_bias^ `:` type($up_bias) `)`)?
    (`activation` `(` qualified($activation)^ `)`)?
    (`gate_up_layout` `(` $gate_up_layout^ `)`)?
    attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
  let builders = [
    OpBuilder<(ins "Type":$result, "Value":$input, "Value":$weight,
                   "Value":$offsets, "Value":$bias), [{
      build($_builder, $_state, result, input, weight, /*rows=*/Value(),
            offsets, bias, /*up=*/Value(), /*up_bias=*/Value(),
            /*activation=*/nullptr, /*gate_up_layout=*/nullptr);
    }]>
  ];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// moe.activation
//===----------------------------------------------------------------------===//

def MoE_ActivationOp : MoE_Op<"activation", [Pure]> {
  let summary = "an expert's activation, gated or elementwise";
  let description = [{
    Applies `#moe.activation` row by row.

    * Gated kinds with two operands: `input` is the gate projection and `up`
      the up projection, both `[P, f]`.
    * Gated kinds with one operand: `input` is the fused `[P, 2f]`
      projection; `gate_up_layout` says whether the gate columns are the even
      ones (`interleaved`) or the first `f` (`concatenated`).
    * Elementwise kinds: `input` is `[P, f]`.

    Constraints:

    * (C1) operands and result are rank-2 float tensors.
    * (C2) a gated kind with `up`: `input` and `up` have the same shape, and
      no `gate_up_layout`.
    * (C3) a gated kind without `up`: `gate_up_layout` is given and the
      input has an even number of columns.
    * (C4) an elementwise kind has neither `up` nor `gate_up_layout`.
    * (C5) the result is `[P, f]`.

    ```mlir
    %a = moe.activation %gu activation(#moe.activation<swiglu,
        alpha = 1.702, beta = 1.0, limit = 7.0>) gate_up_layout(interleaved)
        : tensor<?x192xf32> -> tensor<?x96xf32>
    ```
  }];
  let arguments = (ins MoE_Tensor:$input, Optional<MoE_Tensor>:$up,
                       MoE_ActivationAttr:$activation,
                       OptionalAttr<MoE_GateUpLayout>:$gate_up_layout);
  let results = (outs MoE_Tensor:$result);
  let assemblyFormat = [{
    $input (`,` $up^)?
    `activation` `(` qualified($activation) `)`
    (`gate_up_layout` `(` $gate_up_layout^ `)`)?
    attr-dict `:` type($input) (`,` type($up)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// moe.combine
//===----------------------------------------------------------------------===//

def MoE_CombineOp : MoE_Op<"combine", [Pure, AttrSizedOperandSegments]> {
  let summary = "weighted sum of expert outputs back to token order";
  let description = [{
    `result[t] = Σ_j weights[t, j] · expert_out[inverse[t, j]]`, summed in at
    least f32 in slot order `j`, plus the shared experts' output when given:
    `+ shared[t]`, or `+ sigmoid(shared_gate_logits[t, 0]) · shared[t]` with a
    gate (Qwen2-MoE). Rounded once to the result type.

    Constraints:

    * (C1) `expert_out` is a rank-2 float tensor `[P, d]`.
    * (C2) `weights` (float) and `inverse` (signless integer) are rank-2
      tensors of the same shape `[T, k]`.
    * (C3) `shared` is a float tensor `[T, d]`.
    * (C4) `shared_gate_logits` is a float tensor `[T, 1]` and requires
      `shared`.
    * (C5) the result is a float tensor `[T, d]`.
    * (C6) `down` is a float tensor `[G, d, f]` whose last dimension is
      `expert_out`'s width, given with `down_offsets`, a rank-1
      signless-integer tensor of `G + 1` elements; `down_bias` is a float
      tensor `[G, d]` and needs `down`. With `down`, `d` above is `down`'s
      middle dimension.

    With `unweighted`, the factor `weights[t, j]` is left out (the routing
    weights were applied to the experts' inputs, see `moe.gather`'s
    `scales`): `weights` then only gives `[T, k]`.

    Fused form (`moe-fuse-combine`): with `down`, `expert_out` is the input
    of the experts' down projection, `[P, f]`, grouped by `down_offsets`
    like `moe.grouped_matmul`'s rows: row `p` of group `g` contributes
    `expert_out[p] · down[g]ᵀ (+ down_bias[g])` in f32. The projection is
    never materialized: each product row is scaled by its routing weight
    and added to its token's row as it is computed, and a token's
    contributions are summed in expert order rather than slot order.

    ```mlir
    %y = moe.combine %down_out, %w, %inverse
        shared(%s : tensor<?x64xf32>)
        : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>
        -> tensor<?x64xbf16>
    ```
  }];
  let arguments = (ins MoE_Tensor:$expert_out, MoE_Tensor:$weights,
                       MoE_Tensor:$inverse, Optional<MoE_Tensor>:$shared,
                       Optional<MoE_Tensor>:$shared_gate_logits,
                       Optional<MoE_Tensor>:$down,
                       Optional<MoE_Tensor>:$down_offsets,
                       Optional<MoE_Tensor>:$down_bias,
                       UnitAttr:$unweighted);
  let results = (outs MoE_Tensor:$result);
  let assemblyFormat = [{
    $expert_out `,` $weights `,` $inverse
    (`shared` `(` $shared^ `:` type($shared) `)`)?
    (`shared_gate` `(` $shared_gate_logits^ `:` type($shared_gate_logits) `)`)?
    (`down` `(` $down^ `:` type($down) `)`)?
    (`down_offsets` `(` $down_offsets^ `:` type($down_offsets) `)`)?
    (`down_bias` `(` $down_bias^ `:` type($down_bias) `)`)?
    (`unweighted` $unweighted^)?
    attr-dict `:` type($expert_out) `,` type($weights) `,` type($inverse)
    `->` type($result)
  }];
  let builders = [
    OpBuilder<(ins "Type":$result, "Value":$expert_out, "Value":$weights,
                   "Value":$inverse, "Value":$shared,
                   "Value":$shared_gate_logits), [{
      build($_builder, $_state, result, expert_out, weights, inverse, shared,
            shared_gate_logits, /*down=*/Value(), /*down_offsets=*/Value(),
            /*down_bias=*/Value(), /*unweighted=*/false);
    }]>
  ];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// moe.layer
//===----------------------------------------------------------------------===//

def MoE_LayerOp : MoE_Op<"layer", [Pure, AttrSizedOperandSegments,
    InferTypeOpAdaptor]> {
  let summary = "a whole Mixture-of-Experts block";
  let description = [{
    Computes, for hidden states `[T, d]`,
    `y[t] = Σ_j w[t,j] · expert_{e[t,j]}(x[t]) + shared(x[t])`, where
    `#moe.routing` chooses the experts `e` and weights `w` from router logits
    and `#moe.activation` defines the experts. With
    `#moe.routing<scale_inputs = true>` (Llama-4) the weight scales the
    expert's input instead: `y[t] = Σ_j expert_{e[t,j]}(w[t,j] · x[t]) +
    shared(x[t])`, the product `w · x` rounded to the hidden type.

    * Router: `router_logits [T, E]` given directly (as ONNX Runtime's MoE
      takes them), or computed as `x · router_weightᵀ (+ router_bias)` with
      `router_weight [E, d]`, `router_bias [E]`. `correction_bias [E]` is
      added to the scores for selection only (DeepSeek-V3).
    * Routed experts, `nn.Linear` layout: `down [E, d, f]`; for a gated
      kind either `gate` and `up` (each `[E, f, d]`) or `gate_up`
      `[E, 2f, d]` with `gate_up_layout`; for an elementwise kind `up`.
      Optional biases `gate_bias`/`up_bias [E, f]`, `gate_up_bias [E, 2f]`,
      `down_bias [E, d]` are added after their projection (the down bias
      before the routing weight).
    * Shared experts: a dense FFN with the same activation,
      `shared_up`/`shared_gate [fs, d]` (or, for a gated kind, both in
      `shared_gate_up [2fs, d]`, laid out as `gate_up_layout` says: Granite's
      shared MLP) and `shared_down [d, fs]`, added to every token,
      optionally scaled by `sigmoid(x · shared_expert_gateᵀ)` with
      `shared_expert_gate [1, d]` (Qwen2-MoE).

    Every weight may be f32, bf16 or f16, independently of the hidden states;
    the projections may also be block-quantized (`!moe.quant`); weights are
    operands (bound at run time), never required to be constants.

    Constraints:

    * (C1) `hidden` is a rank-2 tensor `[T, d]` of f32, bf16 or f16; every
      weight operand is a tensor of f32, bf16 or f16, or of `!moe.quant`
      where (C9) allows it.
    * (C2) exactly one of `router_weight [E, d]` and `router_logits [T, E]`;
      `router_bias [E]` only with `router_weight`.
    * (C3) `correction_bias` is `[E]`; routing is valid for `E` experts as
      for `moe.route` (k <= E, groups divide E, ...).
    * (C4) a gated kind has `gate` and `up`, or `gate_up`, not both; an
      elementwise kind has `up` only.
    * (C5) `gate`, `up` are `[E, f, d]`, `gate_up` is `[E, 2f, d]`, `down`
      is `[E, d, f]`.
    * (C6) `gate_up_layout` is given exactly when `gate_up` or
      `shared_gate_up` is; it lays out both.
    * (C7) biases match their projection (`[E, f]`, `[E, 2f]`, `[E, d]`) and
      only accompany a projection that is present.
    * (C8) shared experts: `shared_down [d, fs]` with `shared_up [fs, d]`,
      plus `shared_gate [fs, d]` for a gated kind, or for a gated kind with
      `shared_gate_up [2fs, d]` alone; `shared_expert_gate` `[1, d]`
      requires them.
    * (C9) only the projections (`gate`, `up`, `gate_up`, `down` and the
      shared ones, `shared_gate_up` among them) may be block-quantized
      (`!moe.quant<...>`), each with a static last dimension (`d`, or `f`
      for `down`) that is a whole number of the format's blocks.

    The result has the type of `hidden`.

    ```mlir
    %y = moe.layer %x router_weight(%wr : tensor<8x64xf32>)
        gate(%wg : tensor<8x96x64xbf16>) up(%wu : tensor<8x96x64xbf16>)
        down(%wd : tensor<8x64x96xbf16>)
        routing(#moe.routing<k = 2, renormalize = true>)
        activation(#moe.activation<swiglu>) : tensor<?x64xf32>
    ```
  }];
  let arguments = (ins
    MoE_Tensor:$hidden,
    Optional<MoE_Tensor>:$router_weight,
    Optional<MoE_Tensor>:$router_bias,
    Optional<MoE_Tensor>:$router_logits,
    Optional<MoE_Tensor>:$correction_bias,
    Optional<MoE_Tensor>:$gate,
    Optional<MoE_Tensor>:$up,
    Optional<MoE_Tensor>:$gate_up,
    MoE_Tensor:$down,
    Optional<MoE_Tensor>:$gate_bias,
    Optional<MoE_Tensor>:$up_bias,
    Optional<MoE_Tensor>:$gate_up_bias,
    Optional<MoE_Tensor>:$down_bias,
    Optional<MoE_Tensor>:$shared_gate,
    Optional<MoE_Tensor>:$shared_up,
    Optional<MoE_Tensor>:$shared_gate_up,
    Optional<MoE_Tensor>:$shared_down,
    Optional<MoE_Tensor>:$shared_expert_gate,
    MoE_RoutingAttr:$routing,
    MoE_ActivationAttr:$activation,
    OptionalAttr<MoE_GateUpLayout>:$gate_up_layout);
  let results = (outs MoE_Tensor:$result);
  let assemblyFormat = [{
    $hidden
    (`router_weight` `(` $router_weight^ `:` type($router_weight) `)`)?
    (`router_bias` `(` $router_bias^ `:` type($router_bias) `)`)?
    (`router_logits` `(` $router_logits^ `:` type($router_logits) `)`)?
    (`correction_bias` `(` $correction_bias^ `:` type($correction_bias) `)`)?
    (`gate` `(` $gate^ `:` type($gate) `)`)?
    (`up` `(` $up^ `:` type($up) `)`)?
    (`gate_up` `(` $gate_up^ `:` type($gate_up) `)`)?
    `down` `(` $down `:` type($down) `)`
    (`gate_bias` `(` $gate_bias^ `:` type($gate_bias) `)`)?
    (`up_bias` `(` $up_bias^ `:` type($up_bias) `)`)?
    (`gate_up_bias` `(` $gate_up_bias^ `:` type($gate_up_bias) `)`)?
    (`down_bias` `(` $down_bias^ `:` type($down_bias) `)`)?
    (`shared_gate` `(` $shared_gate^ `:` type($shared_gate) `)`)?
    (`shared_up` `(` $shared_up^ `:` type($shared_up) `)`)?
    (`shared_gate_up` `(` $shared_gate_up^ `:` type($shared_gate_up) `)`)?
    (`shared_down` `(` $shared_down^ `:` type($shared_down) `)`)?
    (`shared_expert_gate` `(` $shared_expert_gate^ `:`
        type($shared_expert_gate) `)`)?
    `routing` `(` qualified($routing) `)`
    `activation` `(` qualified($activation) `)`
    (`gate_up_layout` `(` $gate_up_layout^ `)`)?
    attr-dict `:` type($hidden)
  }];
  let extraClassDeclaration = [{
    /// The number of routed experts, or ShapedType::kDynamic.
    int64_t getNumExperts();
    /// The operands with a leading expert dimension: the routed experts'
    /// weights and biases that are present.
    ::llvm::SmallVector<::mlir::Value> getExpertOperands();
  }];
}

#endif // MOEC_DIALECT_MOEOPS_TD
