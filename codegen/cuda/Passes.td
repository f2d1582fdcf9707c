//===- Passes.td - NVIDIA GPU code generation --------------*- tablegen -*-===//
#ifndef MOEC_CODEGEN_CUDA_PASSES_TD
#define MOEC_CODEGEN_CUDA_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoESetCudaTarget : Pass<"moe-set-cuda-target", "ModuleOp"> {
  let summary = "Describe the NVIDIA GPU the module is compiled for";
  let description = [{
    Sets the `"GPU"` device of the module's `dlti.target_system_spec` to the
    target description the GPU passes read (docs/Targets.md): `chip` (the
    PTX target, `sm_80` ... `sm_120`), `sm` (the compute capability as a
    number), `ptx_features` (the PTX ISA version, as LLVM's NVPTX feature
    string), `warp_size`, `max_threads_per_block`,
    `shared_memory_per_block` (the opt-in maximum, in bytes),
    `registers_per_thread` and `tensor_core` (`mma_sync`, or `wgmma` on
    the `a` variants of sm_90). The values come from a table of known
    chips; an unknown chip is an error that lists the known ones. Other
    devices of an existing system spec (the host's `"CPU"`) are kept.
  }];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_90a\"",
           "The GPU: sm_80 (A100), sm_86, sm_89, sm_90 or sm_90a (H100, "
           "H200), sm_100, sm_100a, sm_120.">
  ];
  let dependentDialects = ["::mlir::DLTIDialect"];
}

def ConvertMoEToGpu : Pass<"convert-moe-to-gpu", "ModuleOp"> {
  let summary = "Lower moe routing and dispatch to GPU-mapped parallel loops";
  let description = [{
    Lowers the ops the GPU backend has kernels for to loop nests on buffers
    that are GPU kernels in all but name: each kernel is an outer
    `scf.parallel` over programs mapped to `block_x` and an inner one over
    the program's threads mapped to `thread_x`
    (`#gpu.loop_dim_map`), 4 warps of the description's `warp_size` per
    program (docs/Targets.md), and a guard that idles the threads past the
    last item. `convert-parallel-loops-to-gpu` turns each nest into a
    `gpu.launch`; the same nest, lowered for the CPU, runs the kernel's
    logic sequentially, which is how the tests check it without a GPU.
    Operands enter as `bufferization.to_buffer`, results leave as
    `bufferization.to_tensor` of fresh buffers, so One-Shot Bufferize
    finishes the function.

    * `moe.route`: one thread per token. Softmax or sigmoid scores in f32
      (logits of any float type), the correction bias for selection only,
      group-limited selection (`max` or `top2_sum` group scores, the
      `topk_group` best groups kept; at most 64 groups, kept as a bit
      mask), top-k for any `k` by `k` passes over the experts (each pass
      takes the best expert below the previous pick in (score, lower index)
      order, so no per-thread arrays), `topk_then_score` (softmax or sigmoid
      over the selected logits), renormalization and the scale. A NaN
      selection score ranks as `-inf`, so every slot holds an expert.
    * `moe.dispatch`: a stable counting sort without atomics or a host
      round trip, in four kernels over chunks of 256 assignments: one
      thread per (chunk, expert) counts the expert's assignments in the
      chunk; one thread per expert turns its counts into the chunks'
      starting slots and the expert's total; one thread prefix-sums the
      totals into `offsets`; one thread per (chunk, expert) walks the
      chunk again and places the expert's assignments in order.

    The other moe ops (gather, grouped GEMM, activation, combine, layer)
    have no GPU lowering yet: each is an error at the op, before anything
    is rewritten.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

#endif // MOEC_CODEGEN_CUDA_PASSES_TD
