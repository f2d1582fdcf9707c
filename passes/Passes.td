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

#endif // MOEC_PASSES_PASSES_TD
