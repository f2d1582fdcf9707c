//===- Passes.td - moe dialect transformations -------------*- tablegen -*-===//
#ifndef MOEC_PASSES_PASSES_TD
#define MOEC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoEDecompose : Pass<"moe-decompose"> {
  let summary = "Expand moe.layer into route, dispatch, grouped GEMMs, "
                "activation and combine";
  let description = [{
    Rewrites every `moe.layer` into the stages that later passes fuse and
    lower one by one:

    1. router logits: the given `router_logits`, or a dense
       `moe.grouped_matmul` of the hidden states with `router_weight`
       (+ `router_bias`), in f32;
    2. `moe.route` (with the correction bias, if any);
    3. `moe.dispatch` into expert-sorted slots;
    4. `moe.gather` of the token rows into slot order;
    5. `moe.grouped_matmul` for the gate and up projections (one GEMM over
       the fused `gate_up` weight, or one per projection), `moe.activation`,
       and `moe.grouped_matmul` for the down projection, all in f32 with
       their biases;
    6. shared experts as dense `moe.grouped_matmul`s and `moe.activation` on
       all tokens, and the shared-expert gate logits;
    7. `moe.combine` back to token order, in the hidden states' type.

    A layer whose expert count is not static cannot be dispatched and is
    reported as an error.

    ```mlir
    // Before
    %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>)
        up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>)
        routing(#moe.routing<k = 2>) activation(#moe.activation<relu>)
        : tensor<?x16xf32>
    // After
    %logits = moe.grouped_matmul %x, %wr : ... -> tensor<?x4xf32>
    %w, %ids = moe.route %logits routing(#moe.routing<k = 2>) : tensor<?x4xf32>
    %sorted, %inverse, %offsets = moe.dispatch %ids experts(4) : ...
    %xs = moe.gather %x[%sorted] : ...
    %u = moe.grouped_matmul %xs, %wu offsets(%offsets : tensor<5xi32>) : ...
    %h = moe.activation %u activation(#moe.activation<relu>) : ...
    %o = moe.grouped_matmul %h, %wd offsets(%offsets : tensor<5xi32>) : ...
    %y = moe.combine %o, %w, %inverse : ... -> tensor<?x16xf32>
    ```
  }];
  let dependentDialects = ["::mlir::moe::MoEDialect"];
}

def MoEFuseGateUp : Pass<"moe-fuse-gate-up"> {
  let summary = "Fold expert activations into their GEMMs: gate and up as "
                "one GEMM with the activation in its epilogue";
  let description = [{
    Rewrites each `moe.activation` whose operands are `moe.grouped_matmul`s
    into one `moe.grouped_matmul` with an `activation` epilogue:

    * a gated kind over separate gate and up projections of the same rows
      (same input, gather and offsets; weights of one type; biases on both
      or neither) becomes the gate GEMM with `up(...)` (and `up_bias`);
    * a gated kind over a fused gate/up projection keeps its weight and
      `gate_up_layout`;
    * an elementwise kind takes the GEMM's weight as it is.

    The kernel then reads each input row once for both projections and
    never writes the projections out. Only GEMMs producing f32 and used by
    nothing else are fused, so the activation sees the same values: the
    result is unchanged up to the order of the f32 sums.

    ```mlir
    // Before
    %g = moe.grouped_matmul %xs, %wg offsets(%off : tensor<5xi32>) : ...
    %u = moe.grouped_matmul %xs, %wu offsets(%off : tensor<5xi32>) : ...
    %h = moe.activation %g, %u activation(#moe.activation<swiglu>) : ...
    // After
    %h = moe.grouped_matmul %xs, %wg offsets(%off : tensor<5xi32>)
        up(%wu : tensor<4x32x16xf32>) activation(#moe.activation<swiglu>)
        : tensor<?x16xf32>, tensor<4x32x16xf32> -> tensor<?x32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::moe::MoEDialect"];
}

def MoEFuseDispatch : Pass<"moe-fuse-dispatch"> {
  let summary = "Read grouped GEMM rows through the dispatch's gather "
                "indices instead of a permuted copy";
  let description = [{
    A `moe.grouped_matmul` whose input is a `moe.gather` takes the gather's
    source and indices instead (`gather(%rows)`): the kernel loads each
    expert's token rows straight from the hidden states, and the permuted
    copy of the tokens, `[T·k, d]`, is never written. A gather left without
    users is removed. The result is unchanged.

    ```mlir
    // Before
    %xs = moe.gather %x[%sorted] : tensor<?x16xf32>, tensor<?xi32>
    %u = moe.grouped_matmul %xs, %wu offsets(%off : tensor<5xi32>) : ...
    // After
    %u = moe.grouped_matmul %x, %wu gather(%sorted : tensor<?xi32>)
        offsets(%off : tensor<5xi32>) : ...
    ```
  }];
  let dependentDialects = ["::mlir::moe::MoEDialect"];
}

def MoEFuseCombine : Pass<"moe-fuse-combine"> {
  let summary = "Fold the experts' down projection into moe.combine: routing "
                "weight and scatter-add in the GEMM's epilogue";
  let description = [{
    A `moe.combine` whose `expert_out` is a grouped `moe.grouped_matmul`
    (offsets, no gather or activation, f32 result, no other user) and a
    float weight takes that GEMM's input, weight, offsets and bias as
    `down`, `down_offsets` and `down_bias`; a block-quantized (`!moe.quant`)
    down projection stays a GEMM of its own. Lowered, each work item owns a tile of the output's
    columns and runs the GEMM kernel over every expert's rows in turn; the
    epilogue scales each product row by its routing weight and adds it to
    its token's row. The projected rows (`[T·k, d]`) are never written, and
    no two threads write the same element.

    The result is unchanged up to the order of f32 sums: a token's
    contributions are added in expert order instead of slot order.

    ```mlir
    // Before
    %o = moe.grouped_matmul %h, %wd offsets(%off : tensor<5xi32>) : ...
    %y = moe.combine %o, %w, %inv : ...
    // After
    %y = moe.combine %h, %w, %inv down(%wd : tensor<4x16x32xf32>)
        down_offsets(%off : tensor<5xi32>) : ...
    ```
  }];
  let dependentDialects = ["::mlir::moe::MoEDialect"];
}

def MoEDistributeExperts : Pass<"moe-distribute-experts"> {
  let summary = "Rewrite each layer with an expert placement into the "
                "program of one rank: local routing, an all-to-all of the "
                "token rows, the rank's experts, and the return exchange";
  let description = [{
    Every `moe.layer` that carries a `moe.expert_placement` (from
    `moe-plan-expert-parallelism`) becomes the program each rank of the
    placement's grid runs on its own tokens (docs/ExpertParallelism.md):

    1. the router and `moe.route` on the rank's tokens;
    2. `moe.exchange_plan` with the rank (`shard.process_linear_index`):
       each assignment's destination rank under the placement, the send
       order and the count per rank;
    3. the count exchange, upstream `shard.all_to_all` of the counts, then
       `moe.all_to_all_v` of the token rows and of their experts;
    4. `moe.dispatch` of the received rows by expert and the grouped GEMMs
       of the layer's expert FFN: a rank computes only the rows it
       received, which are those of the experts in its slots;
    5. the expert outputs in the order received, sent back by a second
       `moe.all_to_all_v` with the counts swapped, and `moe.combine` with
       the routing weights and the shared experts, computed locally.

    Layers without a placement are left alone; other passes then decompose
    them for one process.

    With `local-weights` (the default), a rank holds only its slots'
    expert weights: every expert weight or bias of a placed layer that is
    an argument of a public function, read by nothing but placed layers
    with the same placement, becomes `[slots_per_rank, ...]` with the
    argument attribute `moe.expert_slots` (the placement), which tells the
    runtime to bind rank r's slots: index s holds expert
    `phys_to_log[r * slots_per_rank + s]`. Such a layer dispatches the rows
    it receives by their expert's first slot on the rank (a constant table
    of `R x E` slots, read through the rank) instead of by expert.
    Weights of other layers, MXFP4 weights in the OCP layout
    (`moe.mx_scales`) and FP8 weights of one tensor stay whole: a layer
    whose expert weights are not all local keeps them all whole and
    dispatches by expert.

    ```mlir
    // Before
    %y = moe.layer %x router_weight(%wr : tensor<8x64xf32>) ...
        {moe.expert_placement = #moe.expert_placement<grid = @ep, ...>}
    // After (abridged)
    %rank = shard.process_linear_index on @ep : index
    %tok, %exp, %counts, %pos = moe.exchange_plan %ids rank(%rank)
        placement(#moe.expert_placement<grid = @ep, ...>) : tensor<?x2xi32>
    %recv_counts = shard.all_to_all %counts on @ep grid_axes = [0]
        split_axis = 0 concat_axis = 0 : tensor<2xi64> -> tensor<2xi64>
    %rows = moe.all_to_all_v %send, %counts, %recv_counts on @ep : ...
    ```
  }];
  let options = [
    Option<"localWeights", "local-weights", "bool", /*default=*/"true",
           "Give each rank only its slots' expert weights (arguments "
           "[slots_per_rank, ...] with moe.expert_slots)">,
  ];
  let dependentDialects = ["::mlir::moe::MoEDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::shard::ShardDialect",
                           "::mlir::tensor::TensorDialect"];
}

def MoEInstrumentRouting : Pass<"moe-instrument-routing", "func::FuncOp"> {
  let summary = "Record each layer's expert selection for routing statistics";
  let description = [{
    Inserts a `moe.record_routing` after every `moe.route` of a public
    function (an entry point: the runtime counts each report for the entry
    point being called), numbering the records of each function from 0 in
    the order of the routes (after the records the function has already:
    running the pass twice records each route once). A compiled layer then
    reports the experts it selected for every token to the runtime, which
    counts them when asked to (`moe-run --record-routing`,
    docs/Runtime.md); when nothing records, the cost is one call per layer
    call that returns at once. Routes of private functions, and routes over
    more than 2^20 experts, are not recorded.

    Numbering per function keeps identical layers identical, so moe-compile
    still compiles them once.

    A `moe.layer` must be decomposed first (`moe-decompose`), and a route
    whose expert count is dynamic cannot be recorded; both are errors.

    ```mlir
    // Before
    %w, %ids = moe.route %logits routing(#moe.routing<k = 2>) : tensor<?x8xf32>
    // After
    %w, %ids = moe.route %logits routing(#moe.routing<k = 2>) : tensor<?x8xf32>
    moe.record_routing %ids site(0) experts(8) : tensor<?x2xi32>
    ```
  }];
  let dependentDialects = ["::mlir::moe::MoEDialect"];
}

def MoEPlanExpertParallelism
    : Pass<"moe-plan-expert-parallelism", "ModuleOp"> {
  let summary = "Place each layer's experts on the ranks of a device grid";
  let description = [{
    Plans expert parallelism for every `moe.layer` of the module and records
    the plan as the layer's `moe.expert_placement` attribute
    (`#moe.expert_placement`: slots per rank, physical-to-logical and
    logical-to-physical maps, replica counts).

    The ranks are the devices of the `shard.grid` named by `grid`. A grid
    of shape `N x M` is N nodes of M ranks; a one-dimensional grid is one
    node unless `ranks-per-node` splits it. Without such a grid in the
    module, the pass creates it from `ranks` (and `ranks-per-node`).

    Each rank holds `slots-per-rank` experts (by default just enough for
    every expert once); the slots beyond the layer's `E` experts hold
    replicas of the hottest ones, whose tokens are dealt to the replicas in
    turn. The load of each expert comes from the routing statistics files
    of `moe-run --record-routing` (`statistics`, summed; a layer is found
    by its function's name and the layer's position in it, which is the
    routing site the CPU pipeline gives it); without statistics, or for a
    layer they lack (a warning), the load is uniform.

    Strategies (docs/ExpertParallelism.md):

    * `hierarchical`: each expert group (the routing's `n_group`) lives
      whole on one node, replicas included, so group-limited routing bounds
      a token's cross-node traffic; groups are spread over nodes to balance
      them, replicas are given within each node, then the node's experts
      are packed onto its ranks. With `cross-node-replicas`, redundant
      replicas may leave their group's node when that balances better.
    * `global`: replicas and packing over all ranks, ignoring nodes.
    * `contiguous`: expert `e` on rank `e / slots-per-rank`, no replicas.
    * `auto` (the default): `hierarchical` for a group-limited layer whose
      groups split evenly over several nodes, else `global`.

    Each plan is reported as a remark at its layer: the predicted balance
    (max over mean tokens per rank), the all-to-all bytes per rank of a
    batch of `tokens` tokens (dispatch and combine, sent plus received,
    the busiest rank and the mean), and the expert weight bytes per rank.

    Errors name the layer: a dynamic expert count, statistics for another
    expert count, more experts than slots, groups that do not split over
    the nodes, a grid of another size than `ranks`, a dynamic grid.
  }];
  let options = [
    Option<"grid", "grid", "std::string", /*default=*/"\"ep\"",
           "The shard.grid whose devices are the ranks (created when the "
           "module has none of that name)">,
    Option<"ranks", "ranks", "int64_t", /*default=*/"0",
           "The number of ranks: the size of the grid to create, or a "
           "check of the existing grid's (0: the grid's)">,
    Option<"ranksPerNode", "ranks-per-node", "int64_t", /*default=*/"0",
           "Ranks per node (0: a two-dimensional grid's second extent, "
           "else all ranks on one node)">,
    Option<"slotsPerRank", "slots-per-rank", "int64_t", /*default=*/"0",
           "Expert slots per rank; slots beyond the experts hold replicas "
           "(0: ceil(E / ranks))">,
    Option<"strategy", "strategy", "::mlir::moe::EpStrategy",
           /*default=*/"::mlir::moe::EpStrategy::Auto",
           "How experts are placed",
           [{::llvm::cl::values(
             clEnumValN(::mlir::moe::EpStrategy::Auto, "auto",
                        "hierarchical for group-limited layers on several "
                        "nodes, else global"),
             clEnumValN(::mlir::moe::EpStrategy::Hierarchical, "hierarchical",
                        "expert groups whole on nodes"),
             clEnumValN(::mlir::moe::EpStrategy::Global, "global",
                        "balance over all ranks"),
             clEnumValN(::mlir::moe::EpStrategy::Contiguous, "contiguous",
                        "expert e on rank e / slots, no replicas"))}]>,
    Option<"crossNodeReplicas", "cross-node-replicas", "bool",
           /*default=*/"false",
           "hierarchical: let redundant replicas leave their group's node">,
    ListOption<"statistics", "statistics", "std::string",
               "Routing statistics files (moe-run --record-routing), summed">,
    Option<"tokens", "tokens", "int64_t", /*default=*/"4096",
           "Tokens of one batch over all ranks, for the all-to-all report">
  ];
  let dependentDialects = ["::mlir::moe::MoEDialect",
                           "::mlir::shard::ShardDialect"];
}

#endif // MOEC_PASSES_PASSES_TD
