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
    (offsets, no gather or activation, f32 result, no other user) takes
    that GEMM's input, weight, offsets and bias as `down`, `down_offsets`
    and `down_bias`. Lowered, each work item owns a tile of the output's
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

def MoEInstrumentRouting : Pass<"moe-instrument-routing", "func::FuncOp"> {
  let summary = "Record each layer's expert selection for routing statistics";
  let description = [{
    Inserts a `moe.record_routing` after every `moe.route`, numbering the
    records of each function from 0 in the order of the routes (after the
    records the function has already: running the pass twice records each
    route once). A compiled layer then reports the experts it selected
    for every token to the runtime, which counts them when asked to
    (`moe-run --record-routing`, docs/Runtime.md); when nothing records,
    the cost is a load and a branch per call.

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

#endif // MOEC_PASSES_PASSES_TD
