//===- Passes.td - target-neutral lowering to linalg -------*- tablegen -*-===//
#ifndef MOEC_CODEGEN_LINALG_PASSES_TD
#define MOEC_CODEGEN_LINALG_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertMoEToLinalg : Pass<"convert-moe-to-linalg"> {
  let summary = "Lower every moe op to linalg, tensor, scf, arith and math "
                "on tensors";
  let description = [{
    Lowers the dialect to upstream ops on tensors, for any target, keeping
    value semantics so that One-Shot Bufferize, tiling and vectorization
    apply afterwards. `moe.layer` is first expanded as `moe-decompose`
    does; then:

    * `moe.route`: scores (softmax / sigmoid, in f32), the correction bias
      and the group limit as `linalg.generic`s; top-k by rank (an expert's
      rank is the number of experts with a larger score, or an equal score
      and a lower index), so slot `j` holds the expert of rank `j` and ties
      go to the lower index; then renormalization and the scale.
    * `moe.dispatch`: a stable counting sort in three `scf.for` loops on
      tensors (count, prefix sum, place).
    * `moe.exchange_plan`: two `scf.for` loops on tensors (each
      assignment's replica, rank and the count per rank; then the place of
      each at its rank's cursor) around a prefix sum, the placement's
      tables as constants.
    * `moe.gather`: a parallel `linalg.generic` reading rows through
      `tensor.extract`.
    * `moe.grouped_matmul`: with offsets, a reduction `linalg.generic`
      gives each row its group (the number of offsets after the first that
      are at most the row); then one contraction `linalg.generic` over
      `(m, n, k)` per projection (the gate's, and a gated activation's up
      projection: a second weight, or the other rows of a `gate_up_layout`
      weight) sums in f32 the row (through `tensor.extract` of the gathered
      row with `gather`) times the weight row of its group, read through
      `tensor.extract`; an elementwise `linalg.generic` adds the biases,
      applies the activation, zeroes rows outside every group and converts
      to the result type. A weight read back from packed panels
      (`linalg.unpack`, moe-pack-weights) stays a `linalg.unpack`.
    * `moe.activation`: one elementwise `linalg.generic` in f32; a fused
      `gate_up` input is split by strided or contiguous slices.
    * `moe.combine`: a reduction `linalg.generic` over `(t, c, j)` reading
      expert rows through `tensor.extract`, plus the (gated) shared expert.
      With a fused down projection (moe-fuse-combine) the reduction runs
      over `(t, c, j, k)` and multiplies each expert row by the down weight
      of its group on the fly, adding the group's bias once per slot.

    An op carrying a `moe.kernel` attribute is left as it is: a target's
    kernel selection (moe-cpu-select-kernels) has claimed it for its own
    lowering (convert-moe-to-cpu-kernels), which runs later. So is
    `moe.record_routing`, which has no value semantics to lower: it reports
    to a runtime, which is the target's business
    (moe-lower-routing-records on the CPU). The exchange between ranks,
    `moe.all_to_all_v`, `shard.all_to_all` and
    `shard.process_linear_index`, is left likewise (moe-lower-collectives
    on the CPU).

    The token count may be dynamic everywhere. A `moe.layer` with a dynamic
    expert count, or group-limited routing over a dynamic expert count, is
    reported as an error.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::bufferization::BufferizationDialect"
  ];
}

#endif // MOEC_CODEGEN_LINALG_PASSES_TD
