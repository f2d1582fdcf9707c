//===- Passes.td - CPU code generation ----------------------*- tablegen -*-===//
#ifndef MOEC_CODEGEN_CPU_PASSES_TD
#define MOEC_CODEGEN_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoESetCpuTarget : Pass<"moe-set-cpu-target", "ModuleOp"> {
  let summary = "Describe the CPU the module is compiled for";
  let description = [{
    Sets the module's `dlti.target_system_spec` to a `"CPU"` device whose
    `#dlti.target_device_spec` holds the target description every
    CPU-specific pass reads (docs/Targets.md): `triple`, `cpu` (the LLVM
    CPU name), `features` (the ISA extensions the code may use, comma
    separated: `avx2`, `avx512f`, `avx512bf16`, ...), `vector_bits` (512
    with AVX-512, 256 with AVX2, else 128), `vector_registers` (32 with
    AVX-512, else 16), `L1_cache_size_in_bytes` and `L2_cache_size_in_bytes`
    (per core). For `cpu=native` they are the host's (the cache sizes as
    Linux reports them); for a named CPU, LLVM's features of that CPU and
    the cache sizes of a table of known CPUs, or 32 KiB and 1 MiB.

    `l1d-cache-bytes` and `l2-cache-bytes` override the cache sizes (for a
    machine whose caches the table does not know, or to study the rules).
    An unknown CPU name, or a negative cache size, is an error. A module
    that has a target system spec already gets it replaced.
  }];
  let options = [
    Option<"cpu", "cpu", "std::string", /*default=*/"\"native\"",
           "The CPU: native (the host), x86-64 (any x86-64), "
           "x86-64-v2/v3/v4, or an LLVM CPU name such as znver4.">,
    Option<"l1dCacheBytes", "l1d-cache-bytes", "int64_t", /*default=*/"0",
           "The per-core L1 data cache in bytes, instead of the host's or "
           "the table's (0).">,
    Option<"l2CacheBytes", "l2-cache-bytes", "int64_t", /*default=*/"0",
           "The per-core L2 cache in bytes, instead of the host's or the "
           "table's (0).">
  ];
  let dependentDialects = ["::mlir::DLTIDialect"];
}

def MoEPrepareEntryPoints : Pass<"moe-prepare-entry-points", "ModuleOp"> {
  let summary = "Give the public functions the runtime's calling convention";
  let description = [{
    Every public function with a body gets `llvm.emit_c_interface` (its
    `_mlir_ciface_` wrapper is what the artifact's packed entry point
    calls, docs/Artifact.md), and every argument is marked
    `bufferization.writable = false`, since the runtime binds weights from
    read-only mappings. The argument attributes only the artifact's
    metadata needs (`moe.name`, `moe.stack`, `moe.transposed`,
    `moe.stored_dtype`, `moe.mx_scales`) are dropped: moe-compile records
    them before the pipeline runs.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::bufferization::BufferizationDialect"];
}

def MoECpuSelectKernels : Pass<"moe-cpu-select-kernels", "ModuleOp"> {
  let summary = "Claim the GEMMs for the CPU kernels and size them";
  let description = [{
    Marks every `moe.grouped_matmul`, and every `moe.combine` with a fused
    down projection, with the attribute `moe.kernel`: a dictionary of the
    CPU kernel's sizes, derived from the module's CPU target description
    (moe-set-cpu-target) by the rules of docs/Targets.md:

    * `target = "cpu"`;
    * `lanes`: f32 lanes of a vector register (`vector_bits / 32`);
    * `registers`: vector registers (`vector_registers`);
    * `panel_rows`: input rows per block of the outer-product kernel on
      packed panels;
    * `dot_rows`, `dot_cols`: input rows and weight rows per block of the
      dot-product kernel on unpacked weights;
    * `weight_tile_bytes`: weight bytes a work item keeps in L2 while its
      rows stream past (half of L2);
    * `panel_depth`: k per chunk of the panel kernel;
    * `stream_ahead_bytes`: how far ahead of its reads the int8 panel
      kernel prefetches its panels where one row block reads them (an
      eighth of L1d);
    * `bf16_dot`: bf16 weights multiply bf16-rounded rows with AVX512_BF16
      dot products (with the `bf16-dot` option, on a target with
      `avx512bf16`);
    * `int8_dot` (a unit attribute, present or not): block-quantized
      weights multiply rows quantized to int8 with AVX512_VNNI dot products
      (with the `int8-dot` option, on a target with `avx512vnni`);
    * `int8_panel_rows`, with `int8_dot` on a GEMM of q8_0, q4_0, mxfp4,
      u8z, u4z or u2z weights (the formats the int8 panel kernel takes;
      their int8 rows are in halves): the work items with at least this
      many rows repack their
      weights into panels for the int8 panel kernel, the others run the
      row kernel. The cost model of docs/Targets.md gives the count per
      format (where the rows' savings cover the repacking), or the
      `int8-panel-rows` option.

    `convert-moe-to-linalg` leaves the marked ops to
    `convert-moe-to-cpu-kernels`, which reads only these sizes, so the IR
    between the two shows which kernel each GEMM gets and how it is sized,
    and a test or a user can change them by hand. `moe.layer` ops are
    decomposed first, as `moe-decompose` does.
  }];
  let options = [
    Option<"bf16Dot", "bf16-dot", "bool", /*default=*/"false",
           "Multiply bf16 weights with AVX512_BF16 dot products: the rows "
           "they multiply are rounded to bf16 first, so results differ from "
           "the f32 path by bf16 rounding of the activations. Needs a "
           "target with avx512bf16.">,
    Option<"int8Dot", "int8-dot", "bool", /*default=*/"false",
           "Multiply block-quantized expert weights (!moe.quant) with "
           "AVX512_VNNI int8 dot products: the rows they multiply are "
           "quantized to int8 first, one scale per 32 elements, so results "
           "differ from the f32 path by that rounding. Needs a target with "
           "avx512vnni.">,
    Option<"int8PanelRows", "int8-panel-rows", "int64_t", /*default=*/"0",
           "With int8-dot: the fewest rows for which a work item repacks "
           "its weights for the int8 panel kernel, instead of the cost "
           "model's count per format (0, the default). A count larger than "
           "any item keeps every item on the row kernel.">
  ];
}

def ConvertMoEToCpuKernels : Pass<"convert-moe-to-cpu-kernels"> {
  let summary = "Lower the GEMMs moe-cpu-select-kernels claimed to "
                "register-blocked vector kernels";
  let description = [{
    Lowers each `moe.grouped_matmul` and `moe.combine` that carries a CPU
    `moe.kernel` (moe-cpu-select-kernels) to `scf.forall` work items of
    vector-dialect code on tensors, sized by that attribute alone:

    * `moe.grouped_matmul`: items (group, weight tile), or (row chunk of
      64, weight tile) without offsets. A tile is at most
      `weight_tile_bytes` of weight rows, so it stays in L2 while the
      group's rows stream past. Each item runs a register-blocked kernel:
      blocks of `dot_rows` input rows times `dot_cols` weight rows keep one
      f32 vector accumulator per output in registers across the k loop
      (`vector.fma`, inputs of any float type widened to f32) and reduce
      it once (`vector.reduction` free to reassociate). Each item writes
      its block with `tensor.parallel_insert_slice`. With `bf16_dot`, a
      GEMM with bf16 weights rounds each item's rows to bf16 once and
      accumulates pairs of k with `x86vector.avx512.dot` (`vdpbf16ps`).
      A plain GEMM (rows gathered or not) whose weight is a `linalg.unpack`
      of panels (from `moe-pack-weights`) reads the panels instead: items
      (group or row chunk, panels of about `weight_tile_bytes`), blocks of
      `panel_rows` rows times the panel's columns as an outer product (one
      `vector.fma` per row and panel vector, the row's element broadcast),
      k in chunks of `panel_depth` whose sums go through the output, and
      `memref.prefetch` of the next chunk (after an item's last, the next
      item with rows' first; with slices, an item with no full block of
      rows prefetches only that jump); panels with pairs of k use
      `x86vector.avx512.dot` and need 16 lanes. A GEMM with its activation
      in the epilogue on packed panels (moe-fuse-gate-up; a gated one with
      the gate and up weights packed alike) runs both projections in the
      same items: the gate's panels into the result (an f32 one, else f32
      scratch), the up's same panels into f32 scratch, then an elementwise
      `linalg.generic` over the item's tile applies the activation; the
      gate's last chunk prefetches the up's first (the chunk's prefetch
      buffer is an `arith.select` of the two weights).
    * `moe.combine` with a fused down projection (moe-fuse-combine): an
      `scf.forall` over column tiles of the output runs the dot-product
      kernel over every expert's rows in turn, and its epilogue adds each
      product row, scaled by its routing weight, to its token's row; then
      the shared expert as `convert-moe-to-linalg` adds it.

    Block-quantized weights (`!moe.quant`, function arguments) are read
    as they lie: each such argument is retyped to its bytes, `[.., N, row
    bytes]` of i8, and the dot-product kernel walks k a block of 32 at a
    time, loading each weight row's f16 scale and its 32 quantized values
    (int8, or two 4-bit halves of 16 bytes), converting them to f32 in
    registers and scaling them before the `vector.fma`s, so each quantized
    byte is read once per block of rows. As a block of weight rows goes,
    it prefetches (`memref.prefetch` on a `bufferization.to_buffer` of the
    weight) the same bytes of the next block's rows: rows of a few hundred
    bytes are too short for the hardware prefetchers.

    With `int8_dot`, where k is a multiple of 64, the kernel instead
    quantizes the item's rows to int8 once (one f32 scale per 32 elements,
    the largest magnitude to 127, rounded to nearest even; the formats with
    blocks of 32, q8_0, q4_0, q4_1, q5_0, q5_1, mxfp4, u8z, u4z and u2z,
    store each 4 blocks'
    first 16 values, then their last 16, so both halves put a block in the
    same 4 i32 lanes, and a last 2 blocks where k is not a multiple of 128
    as their first 16 values, then their last 16) and walks k a step at a
    time (128 elements for the blocks of 32, the last 2 blocks a step of
    64; 64 for the others: the K-quants, blocks of 128, and 4 blocks of 16
    whose scales take 4 lanes each): each weight row's values
    become 64 unsigned bytes per vector (the stored value plus 128, 8, 16,
    32 or 4 for q8_0, q4_0, q5_0, q6_k and q3_k (q5_0's and q5_1's fifth
    bits selected into a byte vector by a bit mask, q3_k's third bits
    shifted in), mxfp4's doubled e2m1 value plus 12, iq4_nl's and
    iq4_xs's non-linear value plus 128 (both looked up with `vpshufb`);
    q4_1's, q5_1's, q2_k's, q4_k's, q5_k's (its fifth bits shifted in) and
    the zero-point formats' are unsigned already; iq2_xxs's, iq2_xs's,
    iq2_s's, iq3_xxs's and iq3_s's 8 groups of 8 their codebook entries
    read at their codes, negated by their sign bits, plus 64; iq1_s,
    iq1_m and fp8_e4m3 keep the f32 kernel), one
    AVX512_VNNI `vpdpbusd` per (row, weight row, vector) sums 4 products
    per i32 lane (as `llvm.inline_asm` without side effects, which buffer
    deallocation accepts, unlike `llvm.call_intrinsic`), starting from the
    row's sums times minus that offset, and the lanes are converted to f32
    once per step and scaled by the weight's (sub-)block scale times the
    row's scale; q2_k's and q4_k's mins, and the zero-point formats' d z,
    add the row's scaled sums times minus the min (q4_1's and q5_1's m times
    plus it). Where the weight has several
    tiles, the rows are quantized once for all its items, in parallel
    chunks before them (an `scf.forall` into `tensor.empty`s, so that CSE
    merges two GEMMs' quantizations of the same rows: an expert's gate and
    up). A quantized weight used by anything else, or not a function
    argument, is an error.

    Where `moe.kernel` has `int8_panel_rows` and the GEMM has no
    epilogue (no activation, up weight or fused combine), its format
    stores int8 rows in halves and k is a multiple of 128, each work item
    with at least that many rows runs the int8 panel kernel instead (an
    `scf.if` on the item's row count; the others run the kernel above on
    the same int8 rows): per group of 32 output columns it repacks the
    weight rows into a scratch tile where a vector holds the same 4 stored
    values (one i32 lane each) of 16 columns, in the lane order of the
    int8 rows (16 x 16 lane matrices transposed by shuffles, the blocks'
    scales and negated mins gathered per column), then runs blocks of rows
    over the tile: per block of 32 one `vpdpbusd` per (row, panel of 16
    columns) and lane of 4 values, the row's 4 values broadcast to every
    lane, so each i32 lane sums a whole block of one column before it is
    converted and scaled by the row's and the column's scales (the mins
    times the row's scaled sum added). The first block of rows prefetches
    the next group's weight rows. A weight the runtime packed into int8
    panels at binding (`moe.int8_panels`, `moe-pack-weights`) is read in
    place, with no repacking: each block of rows fetches its share of the
    next group's panels, or, where one block of rows reads the group
    (decode), it prefetches each panel `stream_ahead_bytes` (over the
    group's panels) ahead of its reads, into the next group's past the
    group's end.

    A malformed `moe.kernel`, or one the op's weights do not fit (pairs of
    k below 16 lanes, slices wider than a vector), is an error at the op.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect",
    "::mlir::memref::MemRefDialect", "::mlir::x86vector::X86VectorDialect",
    "::mlir::LLVM::LLVMDialect"
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
    = [NB]`), which `convert-moe-to-cpu-kernels` folds into the GEMM. With
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

    With `int8-dot`, a static q8_0, q4_0, q4_1, q5_0, q5_1, mxfp4, u8z, u4z, q4_k, q5_k, q6_k, q3_k, q2_k, iq4_nl or iq4_xs `tensor<E x N x K x
    !moe.quant<..>>` with K a multiple of 128 (not an mxfp4 one with
    `moe.mx_scales`, which the runtime assembles) whose every use is the weight
    of a `moe.grouped_matmul` with offsets and without `up`, `activation`
    or `gate_up_layout` (a `tensor<N x K x ..>` of such GEMMs without
    offsets) is marked `moe.int8_panels` and keeps its type:
    `convert-moe-to-cpu-kernels` retypes it to its int8 panels,
    `tensor<E x ceil(N/16) x K/R x B x i8>` (runtime/abi/Int8PanelLayout.h:
    per panel of 16 columns and block of R = 32 values, the i32 lanes
    vpdpbusd multiplies, then the 16 columns' scales; B = 544 for q8_0, 288
    for q4_0, 272 for mxfp4, 592 for u8z, 336 for u4z, the same bytes as
    the blocks; for q4_k per super-block, R = 256, B = 2368, the 6-bit
    scales and mins a byte each), and every GEMM on
    it runs the int8
    panel kernel (moe-cpu-select-kernels int8-dot must be on as well).
    moe-compile records it in the artifact (`int8_panels`) and moert packs
    the bound weight accordingly, releasing the file's pages after.
  }];
  let options = [
    Option<"panelWidth", "panel-width", "int64_t", /*default=*/"0",
           "Output columns per panel (NB). 0, the default, takes it from "
           "the module's CPU target description (moe-set-cpu-target): the "
           "vectors of the panel kernel's register blocking times the f32 "
           "lanes, 64 with AVX-512, 16 with AVX2, 8 with SSE "
           "(docs/Targets.md).">,
    Option<"slices", "slices", "int64_t", /*default=*/"0",
           "Where N is a multiple of the panel width, pack N in this many "
           "slices stored one after another, in panels of panel-width / "
           "slices columns; convert-moe-to-cpu-kernels reads one panel of "
           "each slice as one panel, so the weights stream from that many "
           "places at once. 1 packs whole panels; 0, the default, takes "
           "one slice per vector of a panel from the target description "
           "with AVX-512 and AVX2 (4 and 2), and 1 with SSE.">,
    Option<"bf16Dot", "bf16-dot", "bool", /*default=*/"false",
           "Pack bf16 expert weights in pairs of k, for AVX512_BF16 dot "
           "products (moe-cpu-select-kernels bf16-dot): a GEMM on such "
           "panels always uses them, rounding its rows to bf16.">,
    Option<"int8Dot", "int8-dot", "bool", /*default=*/"false",
           "Take q8_0, q4_0, q4_1, q5_0, q5_1, mxfp4, u8z, u4z, q4_k, q5_k, q6_k, q3_k, q2_k, iq4_nl and iq4_xs expert weights in int8 "
           "panels, for "
           "the int8 panel kernel (moe-cpu-select-kernels int8-dot): every "
           "GEMM on such a weight runs that kernel on it, at any row "
           "count.">
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

    A body whose buffers include some that alias none of its other buffers
    (by MLIR's local alias analysis in the caller: distinct allocations and
    globals, or a caller's argument that is the body's only buffer; never
    two of the caller's arguments, nor a view and its source) lists them in
    `moe.noalias_pointers`: the positions, among the body's arguments once
    converted to LLVM (a rank-r memref is 3 + 2r of them: allocated and
    aligned pointer, offset, sizes, strides), of their aligned pointers.
    `moe-lower-parallel-launches` makes those `llvm.noalias`, so that LLVM
    hoists index loads past the loop's stores and vectorizes (a row
    gather's column loop becomes a `memcpy`).

    A body whose work per iteration is known gets
    `moe.min_parallel_iterations`: the fewest iterations that give two
    threads `min-task-elements` elements each, the elements of an
    iteration being the product of the loop's other dimensions' constant
    trip counts (one for an `scf.forall`), where the body runs no loop of
    its own and works on scalars. `moe-lower-parallel-launches` runs a
    launch of fewer iterations on the calling thread: below that, the
    pool's dispatch and the data moving between cores cost more than a
    second thread saves (a per-expert table of 129 entries; a decode
    call's 8 rows of 768). A
    body with nested loops (a GEMM's work items), vectors or a dynamic
    inner dimension always goes to the pool.
  }];
  let options = [
    Option<"minTaskElements", "min-task-elements", "int64_t",
           /*default=*/"16384",
           "Elements of elementwise work one thread should get from a "
           "parallel loop for it to go to the pool (0: every loop does)">
  ];
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
    range on the calling thread, and so it does for fewer iterations than
    the body's `moe.min_parallel_iterations` (see
    `moe-outline-parallel-loops`; not a positive integer: an error). The
    body's arguments that its `moe.noalias_pointers` names become
    `llvm.noalias`; a position that is not a pointer argument is an error.
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

def MoELowerCollectives : Pass<"moe-lower-collectives", "ModuleOp"> {
  let summary = "Call the runtime's collectives for the exchange between "
                "the ranks of an expert-parallel layer";
  let description = [{
    Runs on tensors, before bufferization, and lowers the ops by which one
    rank of a `shard.grid` reaches the others (moe-distribute-experts) to
    calls through exported runtime slots (runtime/abi/ArtifactAbi.h):

    * `shard.process_linear_index on @g` becomes `@__moec_ep_rank(devices)`,
      the rank of this process in the runtime's group, which must have the
      grid's number of devices.
    * `shard.all_to_all` of a rank-1 tensor along its only axis, over all
      the grid's axes, becomes `@__moec_all_to_all(devices, fingerprint,
      send, recv, bytes)` into a new buffer; `fingerprint` is the op's
      `moe.placement_fingerprint` (0 without), on which the runtime makes
      every rank agree before the exchange.
    * `moe.all_to_all_v` becomes `@__moec_all_to_all_v(devices, send,
      send_counts, recv, recv_counts, row_bytes)` into a new buffer of
      `Σ recv_counts` rows.

    Inputs are read through `bufferization.to_buffer` (read only, identity
    layout: contiguous rows); results are `memref.alloc`s handed back with
    `bufferization.to_tensor restrict writable`. Each hook is defined once
    with internal linkage and does nothing (rank 0) while its slot is null.
    The module attribute `moe.expert_parallel` maps each function with
    such ops to its grid's number of devices, for the artifact's metadata.
    Arguments lose their `moe.expert_slots` (the artifact's metadata holds
    them, recorded after the fused phase), and grids that nothing names
    any more are erased. Other `shard` ops, an
    all-to-all of another form, grids of different sizes in one function,
    or a dynamic grid are errors.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def MoELowerRoutingRecords
    : Pass<"moe-lower-routing-records", "ModuleOp"> {
  let summary = "Report routing records to the runtime through its slot";
  let description = [{
    Runs on tensors, before bufferization. Every `moe.record_routing`
    becomes a call of `@__moec_record_routing(i64 site, ptr indices,
    i64 tokens, i64 k, i64 row_stride, i64 column_stride)`, with the indices' buffer
    (`bufferization.to_buffer`, read only) as a pointer to its first
    element. That function, defined once here with internal linkage, calls
    the function pointer in the exported global `@moec_record_routing`
    (runtime/abi/ArtifactAbi.h), and does nothing while the slot is null:
    moert fills it when it loads the artifact and counts only while a
    session records (docs/Runtime.md, "Routing statistics").

    The pass lists each function's records in the module attribute
    `moe.routing_sites`, a dictionary from function name to an array with,
    per site, `{experts = E, k = k}`; moe-compile copies it into the
    artifact's metadata. Two records of one site in a function, or a
    `@__moec_record_routing` that is already there, are errors.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect"];
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

def MoECpuApproximateMath : Pass<"moe-cpu-approximate-math"> {
  let summary = "Compute exp, tanh and erf with polynomials instead of libm";
  let description = [{
    Replaces `math.exp`, `math.tanh` and `math.erf` on f32 scalars and
    vectors by MLIR's polynomial approximations (plain arith and vector
    ops; f16 and bf16 are computed in f32). LLVM lowers these ops to libm
    calls, one per vector lane, and a loop with such a call is not
    vectorized: the activations (SiLU, GELU) and the routing's softmax and
    sigmoid would otherwise take one `expf` call per element. The
    approximations are within a few units in the last place of f32 (the
    activations' and the routing's results change at the 1e-7 relative
    level); NaN and infinities follow the functions' limits.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::vector::VectorDialect"];
}

#endif // MOEC_CODEGEN_CPU_PASSES_TD
