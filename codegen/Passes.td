//===- Passes.td - moe lowerings and code generation -------*- tablegen -*-===//
#ifndef MOEC_CODEGEN_PASSES_TD
#define MOEC_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertMoEToLinalg : Pass<"convert-moe-to-linalg"> {
  let summary = "Lower every moe op to linalg, tensor, scf, arith and math "
                "on tensors";
  let description = [{
    Lowers the dialect to upstream ops on tensors, keeping value semantics so
    that One-Shot Bufferize, tiling and vectorization apply afterwards.
    `moe.layer` is first expanded as `moe-decompose` does; then:

    * `moe.route`: scores (softmax / sigmoid, in f32), the correction bias
      and the group limit as `linalg.generic`s; top-k by rank (an expert's
      rank is the number of experts with a larger score, or an equal score
      and a lower index), so slot `j` holds the expert of rank `j` and ties
      go to the lower index; then renormalization and the scale.
    * `moe.dispatch`: a stable counting sort in three `scf.for` loops on
      tensors (count, prefix sum, place).
    * `moe.gather`: a parallel `linalg.generic` reading rows through
      `tensor.extract`.
    * `moe.grouped_matmul`: an `scf.forall` over work items (group, weight
      tile), or (row chunk of 64, weight tile) without offsets. A tile is
      at most 512 KiB of weight rows, so it stays in L2 while the group's
      rows stream past. Each item runs a register-blocked kernel in the
      vector dialect: blocks of input rows times weight rows (6 x 4 for
      `vector-bits=512`, 3 x 3 otherwise) keep one f32 vector accumulator
      per output in registers across the k loop (`vector.fma`, inputs of
      any float type widened to f32) and reduce it once
      (`vector.reduction` free to reassociate). Each item writes its block
      with `tensor.parallel_insert_slice`. With `bf16-dot`, a GEMM with
      bf16 weights rounds each item's rows to bf16 once and accumulates
      pairs of k with `x86vector.avx512.dot` (`vdpbf16ps`).
      A plain GEMM (rows gathered or not) whose weight is a
      `linalg.unpack` of panels (from `moe-pack-weights`) reads the panels
      instead: items (group or row
      chunk, panels of about 512 KiB), blocks of 6 rows
      times the panel's columns as an outer product (one `vector.fma` per
      row and panel vector, the row's element broadcast), k in chunks of
      512 whose sums go through the output, and `memref.prefetch` of the
      next chunk (after an item's last, the next item with rows' first;
      with slices, an item with no full block of rows prefetches only that
      jump);
      panels with pairs of k use `x86vector.avx512.dot` and
      need `vector-bits=512`. A GEMM with its activation in the epilogue
      on packed panels (moe-fuse-gate-up; a gated one with the gate and up
      weights packed alike) runs both projections in the same items: the
      gate's panels into the result (an f32 one, else f32 scratch), the
      up's same panels into f32 scratch, then an elementwise
      `linalg.generic` over the item's tile applies the activation; the
      gate's last chunk prefetches the up's first (the chunk's prefetch
      buffer is an `arith.select` of the two weights).
    * `moe.activation`: one elementwise `linalg.generic` in f32; a fused
      `gate_up` input is split by strided or contiguous slices.
    * `moe.combine`: a reduction `linalg.generic` over `(t, c, j)` reading
      expert rows through `tensor.extract`, plus the (gated) shared expert.

    The token count may be dynamic everywhere. A `moe.layer` with a dynamic
    expert count, or group-limited routing over a dynamic expert count, is
    reported as an error.
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "int64_t", /*default=*/"512",
           "Vector register width in bits the GEMM kernel is blocked for: "
           "512 (AVX-512), 256 (AVX2) or 128 (SSE). moe-compile picks it "
           "from the target CPU.">,
    Option<"bf16Dot", "bf16-dot", "bool", /*default=*/"false",
           "Multiply bf16 weights with AVX512_BF16 dot products "
           "(x86vector.avx512.dot): the rows they multiply are rounded to "
           "bf16 first, so results differ from the f32 path by bf16 "
           "rounding of the activations. Needs vector-bits=512.">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect", "::mlir::x86vector::X86VectorDialect"
  ];
}

def MoEPackWeights : Pass<"moe-pack-weights", "ModuleOp"> {
  let summary = "Take expert weights as panels packed once at load time";
  let description = [{
    The grouped GEMM kernel is fastest on weights laid out so that the
    output columns of one k are contiguous. This pass changes the public
    functions' signatures so that the runtime packs such weights once, when
    they are bound, instead of every call reading them in the nn.Linear
    layout [N, K].

    An argument qualifies when it is a static f32, f16 or bf16
    `tensor<E x N x K>` whose every use is the weight of a
    plain `moe.grouped_matmul` with offsets and an f32 result, or a
    `tensor<N x K>` whose every use is the weight of such a GEMM without
    offsets (a router or shared expert). Plain means no `up`, `activation`
    or `gate_up_layout`; a `gather` (moe-fuse-dispatch) is allowed. The
    weights of a GEMM with its activation in the epilogue
    (moe-fuse-gate-up), whatever the float type of its result, qualify
    too: the weight of an elementwise activation, and the gate and up
    weights of a gated one, which are packed together or not at all. A
    `gate_up_layout` weight (gate and up in one tensor) keeps the row
    layout.
    Its type becomes the panels `tensor<E x ceil(N/NB) x K x NB>` (or
    `tensor<ceil(N/NB) x K x NB>`), where `panels[e, p, k, j]` holds
    `W[e, p * NB + j, k]` (zero past N), and the function reads it back
    through `linalg.unpack` (`inner_dims_pos` the N dimension, `inner_tiles
    = [NB]`), which `convert-moe-to-linalg` folds into the GEMM. With
    `bf16-dot`, a bf16 `tensor<E x N x K>` with an even K is packed for
    AVX512_BF16 dot products: `tensor<E x ceil(N/NB) x K/2 x NB x 2>`
    (`inner_dims_pos = [1, 2]`, `inner_tiles = [NB, 2]`), the two k of a
    pair side by side, and marked `moe.packed_k_group = 2` as well. The argument is marked `moe.packed_panel = NB`; moe-compile
    records it in the artifact (`packed`, docs/Artifact.md) and moert packs
    the bound weight accordingly. Functions that are called from within the
    module keep their signatures.

    With `slices` S > 1 and N a multiple of NB, N is cut into S slices of
    N/S columns stored one after another, each in panels of w = NB/S
    columns: `tensor<S x E x N/NB x K x w>` (`tensor<S x N/NB x K x w>`
    without experts), where `panels[s, e, p, k, j]` holds
    `W[e, s * N/S + p * w + j, k]`. The function reads it back through a
    `linalg.unpack` into `tensor<E x S x N/S x K>` (`outer_dims_perm =
    [1, 0, 2, 3]`, `inner_tiles = [w]`) and a `tensor.collapse_shape` to
    `tensor<E x N x K>`, and the argument is also marked
    `moe.packed_slices = S`. The GEMM lowering reads panel p of every
    slice as one panel of NB columns: S streams, each slice's weights for
    all experts a quarter of the weight apart.
  }];
  let options = [
    Option<"panelWidth", "panel-width", "int64_t", /*default=*/"64",
           "Output columns per panel (NB): 64 for AVX-512 (four vector "
           "registers of 16 f32), 16 for AVX2 and 8 for SSE (two registers "
           "of 8 or 4 f32). moe-compile picks it from the target CPU.">,
    Option<"slices", "slices", "int64_t", /*default=*/"1",
           "Where N is a multiple of panel-width, pack N in this many "
           "slices stored one after another, in panels of panel-width / "
           "slices columns; convert-moe-to-linalg reads one panel of each "
           "slice as one panel, so the weights stream from that many "
           "places at once. 1 packs whole panels. moe-compile uses 4 with "
           "AVX-512, 2 with AVX2 and 1 with SSE (--panel-slices).">,
    Option<"bf16Dot", "bf16-dot", "bool", /*default=*/"false",
           "Pack bf16 expert weights in pairs of k, for "
           "convert-moe-to-linalg's bf16 dot products (its bf16-dot): a "
           "GEMM on such panels always uses them, rounding its rows to "
           "bf16.">
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def MoEOutlineParallelLoops : Pass<"moe-outline-parallel-loops", "ModuleOp"> {
  let summary = "Outline outermost parallel loops for the runtime's thread pool";
  let description = [{
    Runs on buffers, after bufferization. Every outermost `scf.parallel`
    and one-dimensional `scf.forall` without results becomes

    * a private function `@<func>_parallel_<n>(%begin, %end, captures...)`
      that runs the loop with its first dimension restricted to iterations
      `[begin, end)` (inner dimensions unchanged), and
    * a call `@__moec_launch_<body>(%iterations, captures...)` to a
      declaration that `moe-lower-parallel-launches` defines once the
      module is in the LLVM dialect.

    Constants used in the loop are cloned into the body instead of being
    passed. Loops nested in an outlined loop stay sequential. Multi-dimensional
    or non-unit-step `scf.forall`s are left for `scf-forall-to-for`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::scf::SCFDialect"];
}

def MoELowerParallelLaunches
    : Pass<"moe-lower-parallel-launches", "ModuleOp"> {
  let summary = "Define the parallel launches as calls into the runtime";
  let description = [{
    Runs on the LLVM dialect, after `moe-outline-parallel-loops` and the
    conversion to LLVM. Each declaration `@__moec_launch_<body>(i64 n,
    args...)` gets a definition that stores `args` into a stack struct and
    calls the function pointer in the exported global `@moec_parallel_for`
    as `moec_parallel_for(@__moec_tramp_<body>, &struct, n)`; the trampoline
    `(ptr ctx, i64 begin, i64 end)` reloads the arguments and calls the
    body. The runtime stores its thread pool's entry into
    `@moec_parallel_for` when it loads the artifact; while the slot is null
    (e.g. the object is called without moert) the launch runs the whole
    range on the calling thread.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def MoELowerAllocations : Pass<"moe-lower-allocations", "ModuleOp"> {
  let summary = "Route the generated code's buffer allocations to the runtime";
  let description = [{
    Runs on the LLVM dialect, after `finalize-memref-to-llvm` with
    `use-generic-functions`, which allocates through the declarations
    `@_mlir_memref_to_llvm_alloc(i64) -> ptr` and
    `@_mlir_memref_to_llvm_free(ptr)`. This pass defines both (with
    internal linkage): each calls the function pointer in the exported
    global `@moec_alloc` or `@moec_free`, and `malloc` or `free` while the
    slot is null (the object called without moert).

    moert fills the slots with its scratch allocator, which keeps a
    session's freed buffers for its next call: a layer's large scratch
    buffers are then not page-faulted and zeroed by the kernel on every
    call, as they are when malloc takes them from mmap.

    A module that already defines either function, or declares it with
    another type, is an error.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def MoELowerCopies : Pass<"moe-lower-copies"> {
  let summary = "Rewrite memref.copy as linalg.copy, to become plain loops";
  let description = [{
    `memref.copy` between buffers that are not contiguous (subviews, left by
    bufferization) lowers to a call to `memrefCopy`, a function of MLIR's
    C runner utilities, which an artifact must not depend on. This pass
    rewrites such a `memref.copy` as `linalg.copy`, which
    `convert-linalg-to-loops` turns into loops like any other linalg op.
    Copies between identity-layout buffers stay (they become `memcpy`).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

#endif // MOEC_CODEGEN_PASSES_TD
