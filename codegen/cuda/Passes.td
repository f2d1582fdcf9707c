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
  let summary = "Lower the moe dialect to GPU-mapped parallel loops, one "
                "kernel per op";
  let description = [{
    Lowers every moe op to loop nests on buffers that are GPU kernels in all
    but name: each kernel is an outer `scf.parallel` over programs mapped
    to `block_x` and an inner one over the program's threads mapped to
    `thread_x` (`#gpu.loop_dim_map`), 4 warps of the description's
    `warp_size` per program (docs/Targets.md), and a guard that idles the
    threads past the last item, marked with the kernel's name
    (`moe.kernel_name`, read by `moe-name-gpu-kernels`).
    `convert-parallel-loops-to-gpu` turns each nest into a `gpu.launch`;
    the same nest, lowered for the CPU, runs the kernel's logic one thread
    after the other, which is how the tests check it without a GPU.
    Operands enter as `bufferization.to_buffer`, results leave as
    `bufferization.to_tensor` of fresh buffers, so One-Shot Bufferize
    finishes the function. `moe.layer` is first decomposed as
    `moe-decompose` does.

    * `moe.route` (`route`): one thread per token. Softmax or sigmoid
      scores in f32 (logits of any float type), the correction bias for
      selection only, group-limited selection (`max` or `top2_sum` group
      scores, the `topk_group` best groups kept; at most 64 groups, kept
      as a bit mask), top-k for any `k` by `k` passes over the experts
      (each pass takes the best expert below the previous pick in
      (score, lower index) order, so no per-thread arrays),
      `topk_then_score` (softmax or sigmoid over the selected logits),
      `sparsemixer` (a pass over the experts per slot for its masked
      softmax share),
      renormalization and the scale. A NaN selection score ranks as
      `-inf`, so every slot holds an expert.
    * `moe.dispatch` (`dispatch_count`, `dispatch_scan`,
      `dispatch_offsets`, `dispatch_place`): a stable counting sort
      without atomics or a host round trip, over chunks of 256
      assignments: one thread per (chunk, expert) counts the expert's
      assignments in the chunk; one thread per expert turns its counts
      into the chunks' starting slots and the expert's total; one thread
      prefix-sums the totals into `offsets`; one thread per (chunk,
      expert) walks the chunk again and places the expert's assignments in
      order.
    * `moe.gather` (`gather`): one thread per element.
    * `moe.grouped_matmul` with bf16 (or f16) rows and weights and K a
      multiple of 32, where the target has tensor cores and
      `tensor-cores` is set (`gemm_mma_staged`), plain or in the fused
      forms of moe-fuse-dispatch and moe-fuse-gate-up (its rows gathered
      from the tokens through `gather` as they are staged; gate and up
      weights, or one `gate_up_layout` weight, with the activation and
      the biases in the epilogue): mma.sync m16n8k16 with
      f32 accumulators on operands staged in shared memory (48 KiB,
      static): each stage of 32 of K copied by cp.async, 16 bytes a
      thread, stored with an XOR swizzle of its 16-byte chunks, and read
      by ldmatrix; 3 to 5 stages in flight. Programs of 8 warps over 128
      weight rows and 128 rows (when the groups average 64 rows or more)
      or 16 rows of one group (the target description's rule), a kernel
      each (`gemm_mma_staged_decode` for 16); the host gives the kernel
      of the other tile an empty grid, which moert does not launch. The
      grid is
      (ceil(M / BM) + min(G, M) + 2) row tiles of the G + 2 ranges of
      rows (below the first offset, each group, from the last offset on)
      times the column tiles; warp 0 of
      each program scans the ranges' tile counts with warp shuffles to
      find its tile, programs past the last exit, the tiles of rows
      outside every group store zeros. The bias is added to the f32 sums,
      one rounding. With gate and up projections, a stage holds the gate
      and up weight rows of 64 output columns interleaved 8 by 8, so one
      thread holds both sums of each of its outputs. Where the target's
      `tensor_core` is `wgmma` (sm_90a) the stages are multiplied by
      wgmma m64nNk16 instead, both operands read through shared-memory
      descriptors (the stage layout is the 64-byte swizzle's): each of
      the 2 warpgroups takes 64 of the 128 rows by the 128 weight rows
      (prefill), or 64 of the weight rows by the 16 rows (decode).
    * The same with K an odd multiple of 16 (`gemm_mma`): programs of 4
      warps over 16 rows and 64 columns, 16 slots per row tile, slot `s`
      multiplying the tile by the group of its row `s` where that row is
      the group's first in the tile; fragments read 32 bits at a time
      from global memory.
    * Every other `moe.grouped_matmul` (`gemm`): the SIMT form, one thread
      per output element; the row's group by a binary search of the
      offsets, rows outside every group zero, products summed in f32 (or
      the wider result type), the bias added once, one rounding.
    * `moe.activation` (`activation`): one thread per output element, the
      gate and up values from two operands or from the halves of a fused
      `gate_up` input.
    * `moe.combine` (`combine`): one thread per output element, the `k`
      weighted rows summed in f32 in slot order, plus the shared expert
      (scaled by the sigmoid of its gate when gated).
    * `moe.combine` with its down projection fused (moe-fuse-combine),
      where the staged kernel takes the projection (16-bit rows and down
      weights, K a multiple of 32) and the slots come from a
      `moe.dispatch`: `combine_init` (one thread per element of f32 sums
      [T, d], set to the shared expert's term or 0; the first T·k threads
      record the assignment t·k + j of each slot), then the staged GEMM
      (`gemm_mma_staged_combine`) whose epilogue adds each product plus
      bias, scaled by its routing weight, to its token's row of the sums
      with an f32 atomic add, then `combine_round` to the result type
      (none for f32). The projected rows are never written out; the sums
      are added in no fixed order, so their low bits may differ from run
      to run (`fuse-combine=false` keeps the slot order).

    With tensor cores, an activation between two GEMMs whose rows and
    weights are bf16 (or f16) is rounded to that type, as the CPU's fused
    epilogue rounds it, so the down GEMM takes tensor cores too; with f32
    hidden states the activation stays f32. `tensor-cores=false` keeps
    every GEMM SIMT, the form mlir-runner runs on the CPU in the tests;
    the tensor-core kernels run on the CPU in a warp-level emulator
    (`test/codegen/gpu-mma-on-cpu.test`).

    A fused `moe.grouped_matmul` (`gather`, `up`, `activation`,
    `gate_up_layout`) that the staged kernel does not take is unfused
    first: a `moe.gather` of its rows, its GEMMs in f32, a `moe.activation`
    (an activation fused into a 16-bit GEMM whose users are all GEMMs of
    16-bit weights is rounded to that type, as above). So is a
    `moe.combine` with `down` that the fused kernels do not take (or every
    one with `fuse-combine=false`): the down GEMM in f32, then the combine.
    A grouped GEMM needs a static group count: otherwise an error at the
    op, before any kernel is built.
  }];
  let options = [
    Option<"tensorCores", "tensor-cores", "bool", /*default=*/"true",
           "Multiply bf16 and f16 grouped GEMMs with tensor cores "
           "(mma.sync, or wgmma on sm_90a) where the target has them; false "
           "keeps every GEMM in its SIMT form, which the CPU can run">,
    Option<"fuseCombine", "fuse-combine", "bool", /*default=*/"true",
           "Take a moe.combine with its down projection fused as the fused "
           "kernels (the scatter-add in the staged GEMM's epilogue, f32 "
           "atomics: sums in no fixed order); false unfuses it into the "
           "down GEMM and the combine, summed in slot order, the same "
           "bits on every run">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def MoENameGpuKernels : Pass<"moe-name-gpu-kernels", "ModuleOp"> {
  let summary = "Name each gpu.launch after its function and its kernel";
  let description = [{
    Gives every `gpu.launch` whose body holds a kernel of
    `convert-moe-to-gpu` (an op with the `moe.kernel_name` attribute) the
    `function` and `module` that `gpu-kernel-outlining` then uses: kernel
    `KERNEL` of function `F` becomes `@F_KERNEL`, the second kernel of the
    same name in `F` `@F_KERNEL_1` and so on, and all of `F`'s kernels go
    into one `gpu.module @F_kernels` (one PTX module per layer). The
    kernel names are `route`, `dispatch_count`, `dispatch_scan`,
    `dispatch_offsets`, `dispatch_place`, `gather`, `gemm`, `gemm_mma`,
    `gemm_mma_staged`, `activation` and `combine`. The marker attribute is removed; launches without one
    keep outlining's default names. A marker that is not a non-empty
    string is an error at its op.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def MoEGpuDeviceBuffers : Pass<"moe-gpu-device-buffers", "ModuleOp"> {
  let summary = "Put the host functions' buffers in device memory, freed "
                "after their last launch";
  let description = [{
    After `gpu-kernel-outlining`, a function of the host only computes
    sizes, allocates buffers, takes views of them and launches kernels.
    This pass makes every `memref.alloc` of such a function a `gpu.alloc`
    (device memory) and frees it with `gpu.dealloc` right after the last
    operation that uses it or a view of it (`memref.collapse_shape`,
    `memref.expand_shape`, `memref.subview`, `memref.cast`, ...), so a
    layer's scratch lives no longer than it is needed. A host
    `memref.copy` becomes `gpu.memcpy` and a `memref.dealloc` a
    `gpu.dealloc`. With every buffer op a GPU op, `gpu-async-region` then
    puts the whole function on one stream.

    It runs on the `func.func`s of the module (not the kernels'
    `gpu.module`s). It is an error, at the op, when such a function:

      * returns a memref (results are written into buffers the caller
        passes: run `buffer-results-to-out-params` first);
      * has more than one block, or uses a buffer inside a nested region;
      * allocates on the host stack (`memref.alloca`);
      * hands a buffer to any other op (`memref.load`, `memref.store`, a
        call, ...), which would touch device memory on the host.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def MoEGpuPointerArguments : Pass<"moe-gpu-pointer-arguments", "ModuleOp"> {
  let summary = "Pass each buffer to a kernel as one pointer and its sizes "
                "(Triton's convention)";
  let description = [{
    MLIR passes a buffer to a kernel as its memref descriptor (allocated
    and aligned pointers, offset, sizes and strides: 3 + 2 x rank
    parameters). This pass gives every kernel of the module's
    `gpu.module`s Triton's interface instead: a buffer argument becomes
    its aligned pointer (`!llvm.ptr`) followed by one `index` per dynamic
    dimension, and the kernel rebuilds the descriptor from them (offset 0,
    row-major strides, the static sizes as constants). Every
    `gpu.launch_func` passes its buffer's aligned pointer
    (`memref.extract_aligned_pointer_as_index`) and sizes (`memref.dim`).
    Other arguments are left as they are. Last come two `!llvm.ptr`
    parameters the kernels do not read, Triton's global and profile
    scratch, which launches pass as null, as Triton's launcher does for a
    kernel that needs no scratch. Each kernel records Triton's type name of
    each parameter before those (`*fp32`, `*bf16`, `*i32`, `i64`, ...; an
    index is `i64`) in `moe.triton_signature`. A kernel whose body asks
    for a number of blocks per SM (an op's `moe.min_blocks_per_sm`, as
    the staged GEMM's does) gets it as `nvvm.minctasm`, ptxas's
    `.minnctapersm`.

    A kernel of MLIR's pipeline then has one pointer parameter per buffer
    and scalars, as a Triton kernel has, and the descriptor fields it does
    not read disappear in LLVM's optimization.

    It is an error, at the kernel, when an argument is an unranked memref,
    a memref that is not dense and row-major (a layout other than the
    identity) or of an element type Triton has no pointer for, or a scalar
    of a type Triton's launcher does not pass; and at the launch when it launches something other than a
    `gpu.func` of the module (for instance after `convert-gpu-to-nvvm`).
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

#endif // MOEC_CODEGEN_CUDA_PASSES_TD
