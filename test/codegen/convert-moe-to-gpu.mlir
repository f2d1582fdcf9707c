// RUN: moe-opt %s --convert-moe-to-gpu --split-input-file | FileCheck %s
// RUN: moe-opt %s --convert-moe-to-gpu=tensor-cores=false --split-input-file | FileCheck %s --check-prefix=SIMT
// RUN: moe-opt %s --convert-moe-to-gpu=fuse-combine=false --split-input-file | FileCheck %s --check-prefix=NOFUSE
// Each kernel is a GPU-mapped loop nest on buffers: programs (block_x) of
// 4 warps of 32 threads (thread_x), the item guarded; operands enter as
// buffers and results leave as tensors of fresh buffers.

// One thread per token: softmax statistics, then k passes over the experts
// (ranked by the logit: no bias), each below the previous pick in
// (score, lower index) order; the weight is the softmax score of the pick.
// CHECK-LABEL: func.func @route_softmax
// CHECK: %[[L:[a-zA-Z0-9_]+]] = bufferization.to_buffer %{{.*}} read_only : tensor<?x8xf32> to memref<?x8xf32>
// CHECK: %[[T:[a-zA-Z0-9_]+]] = memref.dim %[[L]], %{{.*}} : memref<?x8xf32>
// CHECK: %[[W:[a-zA-Z0-9_]+]] = memref.alloc(%[[T]]) : memref<?x2xf32>
// CHECK: %[[I:[a-zA-Z0-9_]+]] = memref.alloc(%[[T]]) : memref<?x2xi32>
// CHECK: %[[THREADS:[a-zA-Z0-9_]+]] = arith.constant 128 : index
// CHECK: %[[PROGRAMS:[a-zA-Z0-9_]+]] = arith.ceildivui %[[T]], %[[THREADS]] : index
// CHECK: scf.parallel (%[[P:[a-zA-Z0-9_]+]]) = (%{{.*}}) to (%[[PROGRAMS]])
// CHECK: scf.parallel (%[[TH:[a-zA-Z0-9_]+]]) = (%{{.*}}) to (%[[THREADS]])
// CHECK: %[[FIRST:[a-zA-Z0-9_]+]] = arith.muli %[[P]], %[[THREADS]] : index
// CHECK: %[[TOK:[a-zA-Z0-9_]+]] = arith.addi %[[FIRST]], %[[TH]] : index
// CHECK: %[[IN:[a-zA-Z0-9_]+]] = arith.cmpi ult, %[[TOK]], %[[T]] : index
// CHECK: scf.if %[[IN]] {
// CHECK: %[[MAX:[a-zA-Z0-9_]+]] = scf.for {{.*}} -> (f32)
// CHECK: arith.maximumf
// CHECK: %[[SUM:[a-zA-Z0-9_]+]] = scf.for {{.*}} -> (f32)
// CHECK: math.exp
// CHECK: scf.for %[[J:[a-zA-Z0-9_]+]] = {{.*}} iter_args(%[[PV:[a-zA-Z0-9_]+]] = %{{.*}}, %[[PI:[a-zA-Z0-9_]+]] = %{{.*}}) -> (f32, index)
// CHECK: %[[BEST:[a-zA-Z0-9_]+]]:2 = scf.for %[[E:[a-zA-Z0-9_]+]] = {{.*}} -> (f32, index)
// CHECK: %[[LOGIT:[a-zA-Z0-9_]+]] = memref.load %[[L]][%[[TOK]], %[[E]]]
// CHECK: arith.cmpf uno
// CHECK: arith.cmpf olt, %{{.*}}, %[[PV]] : f32
// CHECK: arith.cmpf oeq, %{{.*}}, %[[PV]] : f32
// CHECK: arith.cmpi sgt, %[[E]], %[[PI]] : index
// CHECK: memref.load %[[L]][%[[TOK]], %[[BEST]]#1]
// CHECK: arith.subf %{{.*}}, %[[MAX]]
// CHECK: math.exp
// CHECK: arith.divf %{{.*}}, %[[SUM]]
// CHECK: memref.store %{{.*}}, %[[W]][%[[TOK]], %[[J]]] : memref<?x2xf32>
// CHECK: %[[ID:[a-zA-Z0-9_]+]] = arith.index_cast %[[BEST]]#1 : index to i32
// CHECK: memref.store %[[ID]], %[[I]][%[[TOK]], %[[J]]] : memref<?x2xi32>
// Renormalization: the sum of the k weights, then each divided by it.
// CHECK: arith.divf
// CHECK: {mapping = [#gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>]}
// CHECK: {mapping = [#gpu.loop_dim_map<processor = block_x, map = (d0) -> (d0), bound = (d0) -> (d0)>]}
// CHECK: %[[WT:[a-zA-Z0-9_]+]] = bufferization.to_tensor %[[W]] restrict writable
// CHECK: %[[IT:[a-zA-Z0-9_]+]] = bufferization.to_tensor %[[I]] restrict writable
// CHECK: return %[[WT]], %[[IT]]
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @route_softmax(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
    %w, %i = moe.route %l routing(#moe.routing<k = 2, renormalize = true>) : tensor<?x8xf32>
    return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
  }
}

// -----

// LFM2-MoE's renormalization: renorm_epsilon added to the weights' sum.
// CHECK-LABEL: func.func @route_renorm_epsilon
// CHECK: %[[S:[a-zA-Z0-9_]+]] = scf.for {{.*}} -> (f32) {
// CHECK: %[[EPS:[a-zA-Z0-9_]+]] = arith.constant 9.99999997E-7 : f32
// CHECK: %[[SUM:[a-zA-Z0-9_]+]] = arith.addf %[[S]], %[[EPS]] : f32
// CHECK: arith.divf %{{.*}}, %[[SUM]] : f32
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @route_renorm_epsilon(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
    %w, %i = moe.route %l routing(#moe.routing<k = 2, scoring = sigmoid, renormalize = true, renorm_epsilon = 1.0e-06>) : tensor<?x8xf32>
    return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
  }
}

// -----

// Group-limited sigmoid routing with a correction bias: groups scored by
// the sum of their two best selection scores, the kept ones a 64-bit mask,
// the experts of the other groups at -inf; bf16 logits read as f32.
// CHECK-LABEL: func.func @route_grouped
// CHECK: %[[B:[a-zA-Z0-9_]+]] = bufferization.to_buffer %{{.*}} read_only : tensor<8xf32> to memref<8xf32>
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: %[[KEPT:[a-zA-Z0-9_]+]] = scf.for {{.*}} -> (i64)
// CHECK: scf.for {{.*}} -> (f32, index)
// CHECK: scf.for {{.*}} -> (f32, f32)
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: math.exp
// CHECK: memref.load %[[B]]
// CHECK: arith.addf
// CHECK: arith.shli
// CHECK: arith.ori
// CHECK: scf.for {{.*}} -> (f32, index)
// CHECK: arith.divui
// CHECK: arith.andi %[[KEPT]]
// CHECK: arith.mulf %{{.*}}, %{{.*}} : f32
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_80", "sm" = 80 : i64, "ptx_features" = "+ptx70", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 166912 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "mma_sync">>} {
  func.func @route_grouped(%l: tensor<?x8xbf16>, %b: tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
    %w, %i = moe.route %l bias(%b : tensor<8xf32>) routing(#moe.routing<k = 2, scoring = sigmoid, scale = 2.5, n_group = 4, topk_group = 2, group_score = top2_sum>) : tensor<?x8xbf16>
    return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
  }
}

// -----

// The stable counting sort: four kernels over (chunk of 256 assignments,
// expert) pairs, experts, one thread, and the pairs again.
// CHECK-LABEL: func.func @dispatch
// CHECK: %[[IDS:[a-zA-Z0-9_]+]] = memref.collapse_shape %{{.*}} {{\[}}[0, 1]] : memref<?x2xi32> into memref<?xi32>
// CHECK: %[[P:[a-zA-Z0-9_]+]] = arith.muli %{{.*}}, %{{.*}} : index
// CHECK: %[[SORTED:[a-zA-Z0-9_]+]] = memref.alloc(%[[P]]) : memref<?xi32>
// CHECK: %[[INV:[a-zA-Z0-9_]+]] = memref.alloc(%{{.*}}) : memref<?x2xi32>
// CHECK: %[[INVFLAT:[a-zA-Z0-9_]+]] = memref.collapse_shape %[[INV]]
// CHECK: %[[OFF:[a-zA-Z0-9_]+]] = memref.alloc() : memref<5xi32>
// CHECK: %[[CHUNK:[a-zA-Z0-9_]+]] = arith.constant 256 : index
// CHECK: %[[CHUNKS:[a-zA-Z0-9_]+]] = arith.ceildivui %[[P]], %[[CHUNK]] : index
// CHECK: %[[PAIRS:[a-zA-Z0-9_]+]] = arith.muli %[[CHUNKS]], %{{.*}} : index
// CHECK: %[[COUNTS:[a-zA-Z0-9_]+]] = memref.alloc(%[[PAIRS]]) : memref<?xi32>
// Count.
// CHECK: scf.parallel
// CHECK: scf.for {{.*}} -> (i32)
// CHECK: memref.load %[[IDS]]
// CHECK: memref.store %{{.*}}, %[[COUNTS]]
// Chunk starts and expert totals.
// CHECK: scf.parallel
// CHECK: scf.for {{.*}} -> (i32)
// CHECK: memref.store %{{.*}}, %[[COUNTS]]
// CHECK: memref.store %{{.*}}, %[[OFF]]
// Prefix sums of the totals.
// CHECK: scf.parallel
// CHECK: scf.for {{.*}} -> (i32)
// CHECK: memref.store %{{.*}}, %[[OFF]]
// Placement.
// CHECK: scf.parallel
// CHECK: scf.for {{.*}} -> (i32)
// CHECK: scf.if %{{.*}} -> (i32)
// CHECK: memref.store %{{.*}}, %[[SORTED]]
// CHECK: memref.store %{{.*}}, %[[INVFLAT]]
// CHECK: return
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @dispatch(%ids: tensor<?x2xi32>) -> (tensor<?xi32>, tensor<?x2xi32>, tensor<5xi32>) {
    %s, %inv, %off = moe.dispatch %ids experts(4) : tensor<?x2xi32>
    return %s, %inv, %off : tensor<?xi32>, tensor<?x2xi32>, tensor<5xi32>
  }
}

// -----

// The SIMT grouped GEMM: one thread per output, the row's group by a
// binary search of the offsets (3 steps for 4 groups), rows outside every
// group zero, the k loop in f32 over bf16 weights, the bias once.
// CHECK-LABEL: func.func @gemm
// CHECK: %[[OFF:[a-zA-Z0-9_]+]] = bufferization.to_buffer %{{.*}} read_only : tensor<5xi32> to memref<5xi32>
// CHECK: %[[OUT:[a-zA-Z0-9_]+]] = memref.alloc(%{{.*}}) : memref<?x8xf32>
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: %[[M:[a-zA-Z0-9_]+]] = arith.divui
// CHECK: %[[N:[a-zA-Z0-9_]+]] = arith.remui
// CHECK-COUNT-3: memref.load %[[OFF]]
// CHECK: %[[FIRST:[a-zA-Z0-9_]+]] = memref.load %[[OFF]]
// CHECK: %[[INSIDE:[a-zA-Z0-9_]+]] = arith.andi
// CHECK: scf.if %[[INSIDE]] -> (f32) {
// CHECK: scf.for {{.*}} -> (f32)
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: memref.load
// CHECK: arith.addf
// CHECK: } else {
// CHECK: memref.store %{{.*}}, %[[OUT]][%[[M]], %[[N]]] : memref<?x8xf32>
// CHECK: } {moe.kernel_name = "gemm"}
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @gemm(%x: tensor<?x16xf32>, %w: tensor<4x8x16xbf16>, %off: tensor<5xi32>, %b: tensor<4x8xf32>) -> tensor<?x8xf32> {
    %y = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) bias(%b : tensor<4x8xf32>) : tensor<?x16xf32>, tensor<4x8x16xbf16> -> tensor<?x8xf32>
    return %y : tensor<?x8xf32>
  }
}

// -----

// A layer is decomposed first; each of its ops becomes one kernel, in
// order. The activation reads the gate and up halves of a fused gate_up
// input (interleaved: even and odd columns); the combine adds the shared
// expert scaled by the sigmoid of its gate.
// CHECK-LABEL: func.func @layer
// CHECK-NOT: moe.
// CHECK: } {moe.kernel_name = "gemm"}
// CHECK: } {moe.kernel_name = "route"}
// CHECK: } {moe.kernel_name = "dispatch_count"}
// CHECK: } {moe.kernel_name = "dispatch_scan"}
// CHECK: } {moe.kernel_name = "dispatch_offsets"}
// CHECK: } {moe.kernel_name = "dispatch_place"}
// CHECK: } {moe.kernel_name = "gather"}
// CHECK: } {moe.kernel_name = "gemm"}
// CHECK: arith.muli %{{.*}}, %{{.*}} : index
// CHECK: arith.addi
// CHECK: math.exp
// CHECK: } {moe.kernel_name = "activation"}
// CHECK: } {moe.kernel_name = "gemm"}
// CHECK: } {moe.kernel_name = "gemm"}
// CHECK: } {moe.kernel_name = "activation"}
// CHECK: } {moe.kernel_name = "gemm"}
// CHECK: } {moe.kernel_name = "gemm"}
// CHECK: scf.for {{.*}} -> (f32)
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: arith.mulf
// CHECK: } {moe.kernel_name = "combine"}
// CHECK: return
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @layer(%x: tensor<?x16xf32>, %r: tensor<4x16xf32>, %gu: tensor<4x16x16xf32>, %d: tensor<4x16x8xf32>, %sg: tensor<6x16xf32>, %su: tensor<6x16xf32>, %sd: tensor<16x6xf32>, %seg: tensor<1x16xf32>) -> tensor<?x16xf32> {
    %y = moe.layer %x router_weight(%r : tensor<4x16xf32>) gate_up(%gu : tensor<4x16x16xf32>) down(%d : tensor<4x16x8xf32>) shared_gate(%sg : tensor<6x16xf32>) shared_up(%su : tensor<6x16xf32>) shared_down(%sd : tensor<16x6xf32>) shared_expert_gate(%seg : tensor<1x16xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<swiglu>) gate_up_layout(interleaved) : tensor<?x16xf32>
    return %y : tensor<?x16xf32>
  }
}

// -----

// The direct tensor-core grouped GEMM (bf16 rows and weights, K an odd
// multiple of 16, N of 8): programs of 4 warps over 16 rows x 64 columns, 16 slots a row
// tile (slot s: the group of row 16 * tile + s, multiplied only where that
// row is its group's first in the tile); K in steps of 16, each a
// mma.sync m16n8k16 per n8 tile of the warp (2), fragments loaded 32 bits
// at a time from global memory; the bias added to the f32 sums, one
// rounding; slot 0 writes the zeros of rows outside every group.
// CHECK-LABEL: func.func @gemm_mma
// CHECK: %[[X:[a-zA-Z0-9_]+]] = bufferization.to_buffer %{{.*}} read_only : tensor<?x48xbf16> to memref<?x48xbf16>
// CHECK: %[[W:[a-zA-Z0-9_]+]] = bufferization.to_buffer %{{.*}} read_only : tensor<4x24x48xbf16> to memref<4x24x48xbf16>
// CHECK: %[[OUT:[a-zA-Z0-9_]+]] = memref.alloc(%{{.*}}) : memref<?x24xbf16>
// CHECK: %[[TILES:[a-zA-Z0-9_]+]] = arith.ceildivui %{{.*}}, %{{.*}} : index
// CHECK: %[[PROGRAMS:[a-zA-Z0-9_]+]] = arith.muli %[[TILES]], %{{.*}} : index
// CHECK: %[[THREADS:[a-zA-Z0-9_]+]] = arith.constant 128 : index
// CHECK: scf.parallel (%[[P:[a-zA-Z0-9_]+]]) = (%{{.*}}) to (%[[PROGRAMS]])
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%[[THREADS]])
// CHECK: %[[SLOT:[a-zA-Z0-9_]+]] = arith.remui %[[P]], %{{.*}} : index
// The slot's row clamped into the matrix, its group by a binary search
// of the offsets (3 steps for 4 groups), then offsets 0, 4 and the group's
// bounds.
// CHECK-COUNT-7: memref.load %{{.*}} : memref<5xi32>
// CHECK: scf.if %{{.*}} {
// CHECK: memref.extract_aligned_pointer_as_index %[[X]]
// CHECK: memref.extract_aligned_pointer_as_index %[[W]]
// CHECK: %[[ACC:[a-zA-Z0-9_]+]]:8 = scf.for {{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK: llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> i32
// CHECK: nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: scf.yield
// CHECK: memref.load %{{.*}} : memref<4x24xf32>
// CHECK: arith.addf %[[ACC]]#0
// CHECK: %[[R:[a-zA-Z0-9_]+]] = arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store %[[R]], %[[OUT]]
// CHECK: %[[SLOT0:[a-zA-Z0-9_]+]] = arith.cmpi eq, %[[SLOT]], %{{.*}} : index
// CHECK: arith.constant 0.000000e+00 : bf16
// CHECK: } {moe.kernel_name = "gemm_mma"}
// tensor-cores=false: the SIMT kernel.
// SIMT-LABEL: func.func @gemm_mma
// SIMT-NOT: nvvm.mma.sync
// SIMT: } {moe.kernel_name = "gemm"}
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @gemm_mma(%x: tensor<?x48xbf16>, %w: tensor<4x24x48xbf16>, %off: tensor<5xi32>, %b: tensor<4x24xf32>) -> tensor<?x24xbf16> {
    %y = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) bias(%b : tensor<4x24xf32>) : tensor<?x48xbf16>, tensor<4x24x48xbf16> -> tensor<?x24xbf16>
    return %y : tensor<?x24xbf16>
  }
}

// -----

// The staged tensor-core grouped GEMM (K a multiple of 32) on sm_80
// (mma.sync): one kernel per tile, 256 threads a program, the tile chosen
// on the host from M (prefill, 128 rows, when M >= 64 * G; decode, 16
// rows, below), the other kernel's grid empty; (ceil(M / BM) + min(G, M) +
// 2) row tiles of the G + 2 ranges times the column tiles. Warp 0 scans
// the ranges' tile counts with warp shuffles into the staging buffer's
// first slots; then each tile is staged by cp.async (16 bytes a copy, one
// commit group a stage) and read by ldmatrix into mma.sync m16n8k16, with a
// barrier per stage.
// CHECK: llvm.mlir.global internal @moe_gemm_staging() {addr_space = 3 : i32, alignment = 1024 : i64} : !llvm.array<49152 x i8>
// CHECK-LABEL: func.func @gemm_mma_staged
// CHECK: %[[M:[a-zA-Z0-9_]+]] = memref.dim %{{.*}}, %{{.*}} : memref<?x128xbf16>
// CHECK: %[[LARGE:[a-zA-Z0-9_]+]] = arith.cmpi uge, %[[M]], %{{.*}} : index
// CHECK: %[[PT:[a-zA-Z0-9_]+]] = arith.ceildivui %[[M]], %{{.*}} : index
// CHECK: %[[PTILES:[a-zA-Z0-9_]+]] = arith.addi %[[PT]], %{{.*}} : index
// CHECK: %[[PPROGRAMS:[a-zA-Z0-9_]+]] = arith.muli %[[PTILES]], %{{.*}} : index
// CHECK: %[[PGRID:[a-zA-Z0-9_]+]] = arith.select %[[LARGE]], %[[PPROGRAMS]], %{{.*}} : index
// CHECK: %[[THREADS:[a-zA-Z0-9_]+]] = arith.constant 256 : index
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%[[PGRID]])
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%[[THREADS]])
// CHECK: %[[BASE:[a-zA-Z0-9_]+]] = llvm.mlir.addressof @moe_gemm_staging : !llvm.ptr<3>
// CHECK-COUNT-5: gpu.shuffle  up
// CHECK: gpu.shuffle  idx
// CHECK: gpu.barrier
// CHECK: llvm.load %{{.*}} : !llvm.ptr<3> -> i32
// CHECK: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache =  cg : !llvm.ptr<3>, !llvm.ptr<1>
// CHECK: nvvm.cp.async.commit.group
// CHECK: %[[ACC:[a-zA-Z0-9_]+]]:64 = scf.for
// CHECK: nvvm.cp.async.wait.group 1
// CHECK-NEXT: gpu.barrier
// CHECK-COUNT-4: nvvm.cp.async.shared.global
// CHECK: nvvm.ldmatrix %{{.*}} {eltType = #nvvm.ld_st_matrix_elt_type<b16>, layout = #nvvm.mma_layout<row>, num = 4 : i32, shape = #nvvm.ld_st_matrix_shape<m = 8, n = 8>} : (!llvm.ptr<3>) -> !llvm.struct<(i32, i32, i32, i32)>
// CHECK: nvvm.mma.sync {{.*}} {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>}
// CHECK: %[[R:[a-zA-Z0-9_]+]] = arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store %[[R]]
// CHECK: } {moe.kernel_name = "gemm_mma_staged", moe.min_blocks_per_sm = 1 : i32}
// The decode kernel: taken where the prefill one is not; 8 warps side by
// side, 4 mma.sync a warp per stage, 4 stages (K has 4 tiles of 32).
// CHECK: %[[SMALL:[a-zA-Z0-9_]+]] = arith.xori %[[LARGE]], %{{.*}} : i1
// CHECK: %[[DT:[a-zA-Z0-9_]+]] = arith.ceildivui %[[M]], %{{.*}} : index
// CHECK: %[[DTILES:[a-zA-Z0-9_]+]] = arith.addi %[[DT]], %{{.*}} : index
// CHECK: %[[DPROGRAMS:[a-zA-Z0-9_]+]] = arith.muli %[[DTILES]], %{{.*}} : index
// CHECK: %[[DGRID:[a-zA-Z0-9_]+]] = arith.select %[[SMALL]], %[[DPROGRAMS]], %{{.*}} : index
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%[[DGRID]])
// CHECK: %{{.*}}:8 = scf.for
// CHECK: nvvm.cp.async.wait.group 2
// CHECK: } {moe.kernel_name = "gemm_mma_staged_decode", moe.min_blocks_per_sm = 1 : i32}
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_80", "sm" = 80 : i64, "ptx_features" = "+ptx70", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 166912 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "mma_sync">>} {
  func.func @gemm_mma_staged(%x: tensor<?x128xbf16>, %w: tensor<4x48x128xbf16>, %off: tensor<5xi32>, %b: tensor<4x48xf32>) -> tensor<?x48xbf16> {
    %y = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) bias(%b : tensor<4x48xf32>) : tensor<?x128xbf16>, tensor<4x48x128xbf16> -> tensor<?x48xbf16>
    return %y : tensor<?x48xbf16>
  }
}

// -----

// On sm_90a (tensor_core "wgmma") the same tiles and stages are multiplied
// by warpgroup MMA: each stage, once landed, is fenced for the async proxy
// before the barrier; each warpgroup's sums are one LLVM struct carried by
// the K loop, and two wgmma per stage (16 of K each) read both operands
// through shared-memory descriptors built from the staging buffer's
// address, then commit and wait. Prefill: m64n128k16 (64 of the tile's
// rows a warpgroup by the 128 weight rows); decode, swapped: m64n16k16 (64
// weight rows a warpgroup by the tile's 16 rows).
// CHECK-LABEL: func.func @gemm_wgmma
// CHECK: %[[BASE:[a-zA-Z0-9_]+]] = llvm.mlir.addressof @moe_gemm_staging : !llvm.ptr<3>
// CHECK: llvm.ptrtoint %[[BASE]] : !llvm.ptr<3> to i64
// CHECK: %[[ZERO:[a-zA-Z0-9_]+]] = llvm.mlir.zero : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
// CHECK: %[[SUMS:[a-zA-Z0-9_]+]] = scf.for %{{.*}} iter_args(%[[D:[a-zA-Z0-9_]+]] = %[[ZERO]])
// CHECK: nvvm.cp.async.wait.group 1
// CHECK-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT: gpu.barrier
// CHECK-COUNT-4: nvvm.cp.async.shared.global
// CHECK: nvvm.wgmma.fence.aligned
// CHECK: %[[D1:[a-zA-Z0-9_]+]] = nvvm.wgmma.mma_async %{{.*}}, %{{.*}}, %[[D]], <m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// CHECK: %[[D2:[a-zA-Z0-9_]+]] = nvvm.wgmma.mma_async %{{.*}}, %{{.*}}, %[[D1]], <m = 64, n = 128, k = 16>
// CHECK-NEXT: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-NEXT: scf.yield %[[D2]]
// CHECK: llvm.extractvalue %[[SUMS]][63]
// CHECK: nvvm.cp.async.wait.group 0
// CHECK: } {moe.kernel_name = "gemm_mma_staged", moe.min_blocks_per_sm = 1 : i32}
// CHECK: scf.for
// CHECK: nvvm.cp.async.wait.group 2
// CHECK: nvvm.wgmma.mma_async %{{.*}}, %{{.*}}, %{{.*}}, <m = 64, n = 16, k = 16>
// CHECK: } {moe.kernel_name = "gemm_mma_staged_decode", moe.min_blocks_per_sm = 1 : i32}
// CHECK-NOT: nvvm.mma.sync
// CHECK-NOT: nvvm.ldmatrix
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @gemm_wgmma(%x: tensor<?x128xbf16>, %w: tensor<4x48x128xbf16>, %off: tensor<5xi32>, %b: tensor<4x48xf32>) -> tensor<?x48xbf16> {
    %y = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) bias(%b : tensor<4x48xf32>) : tensor<?x128xbf16>, tensor<4x48x128xbf16> -> tensor<?x48xbf16>
    return %y : tensor<?x48xbf16>
  }
}

// -----

// f16 operands go to the mma as vector<2xf16>; a dense GEMM (no offsets)
// has one slot per row tile. K not a multiple of 16, or f32 rows, keep
// the SIMT kernel.
// CHECK-LABEL: func.func @gemm_mma_f16
// CHECK: %[[PROGRAMS:[a-zA-Z0-9_]+]] = arith.muli %{{.*}}, %[[C1:[a-zA-Z0-9_]+]] : index
// CHECK: llvm.bitcast %{{.*}} : i32 to vector<2xf16>
// CHECK: nvvm.mma.sync {{.*}} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK: } {moe.kernel_name = "gemm_mma"}
// CHECK-LABEL: func.func @gemm_k24
// CHECK-NOT: nvvm.mma.sync
// CHECK: } {moe.kernel_name = "gemm"}
// CHECK-LABEL: func.func @gemm_f32_rows
// CHECK-NOT: nvvm.mma.sync
// CHECK: } {moe.kernel_name = "gemm"}
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_80", "sm" = 80 : i64, "ptx_features" = "+ptx70", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 166912 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "mma_sync">>} {
  func.func @gemm_mma_f16(%x: tensor<?x16xf16>, %w: tensor<8x16xf16>) -> tensor<?x8xf32> {
    %y = moe.grouped_matmul %x, %w : tensor<?x16xf16>, tensor<8x16xf16> -> tensor<?x8xf32>
    return %y : tensor<?x8xf32>
  }
  func.func @gemm_k24(%x: tensor<?x24xbf16>, %w: tensor<8x24xbf16>) -> tensor<?x8xf32> {
    %y = moe.grouped_matmul %x, %w : tensor<?x24xbf16>, tensor<8x24xbf16> -> tensor<?x8xf32>
    return %y : tensor<?x8xf32>
  }
  func.func @gemm_f32_rows(%x: tensor<?x16xf32>, %w: tensor<8x16xbf16>) -> tensor<?x8xf32> {
    %y = moe.grouped_matmul %x, %w : tensor<?x16xf32>, tensor<8x16xbf16> -> tensor<?x8xf32>
    return %y : tensor<?x8xf32>
  }
}

// -----

// With bf16 hidden states and weights the activation between the GEMMs is
// rounded to bf16, so the down GEMM takes tensor cores too; with f32
// hidden states it stays f32 (and the down GEMM SIMT).
// The router, gate and up GEMMs (K = 32) take the staged kernels (prefill
// and decode), the down GEMM (K = 16) the direct one.
// CHECK-LABEL: func.func @bf16_layer
// CHECK: } {moe.kernel_name = "gemm_mma_staged", moe.min_blocks_per_sm = 1 : i32}
// CHECK: } {moe.kernel_name = "gemm_mma_staged_decode", moe.min_blocks_per_sm = 1 : i32}
// CHECK: } {moe.kernel_name = "gemm_mma_staged", moe.min_blocks_per_sm = 1 : i32}
// CHECK: } {moe.kernel_name = "gemm_mma_staged_decode", moe.min_blocks_per_sm = 1 : i32}
// CHECK: } {moe.kernel_name = "gemm_mma_staged", moe.min_blocks_per_sm = 1 : i32}
// CHECK: } {moe.kernel_name = "gemm_mma_staged_decode", moe.min_blocks_per_sm = 1 : i32}
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK-NEXT: memref.store %{{.*}} : memref<?x16xbf16>
// CHECK-NEXT: } {moe.kernel_name = "activation"}
// CHECK: } {moe.kernel_name = "gemm_mma"}
// CHECK-LABEL: func.func @f32_layer
// CHECK-NOT: arith.truncf
// CHECK: } {moe.kernel_name = "activation"}
// CHECK: } {moe.kernel_name = "gemm"}
// CHECK: } {moe.kernel_name = "combine"}
// SIMT-LABEL: func.func @bf16_layer
// SIMT-NOT: gemm_mma
// SIMT-NOT: arith.truncf
// SIMT: } {moe.kernel_name = "activation"}
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @bf16_layer(%x: tensor<?x32xbf16>, %r: tensor<8x32xbf16>, %g: tensor<8x16x32xbf16>, %u: tensor<8x16x32xbf16>, %d: tensor<8x32x16xbf16>) -> tensor<?x32xbf16> {
    %y = moe.layer %x router_weight(%r : tensor<8x32xbf16>) gate(%g : tensor<8x16x32xbf16>) up(%u : tensor<8x16x32xbf16>) down(%d : tensor<8x32x16xbf16>) routing(#moe.routing<k = 2>) activation(#moe.activation<swiglu>) : tensor<?x32xbf16>
    return %y : tensor<?x32xbf16>
  }
  func.func @f32_layer(%x: tensor<?x32xf32>, %r: tensor<8x32xbf16>, %g: tensor<8x16x32xbf16>, %u: tensor<8x16x32xbf16>, %d: tensor<8x32x16xbf16>) -> tensor<?x32xf32> {
    %y = moe.layer %x router_weight(%r : tensor<8x32xbf16>) gate(%g : tensor<8x16x32xbf16>) up(%u : tensor<8x16x32xbf16>) down(%d : tensor<8x32x16xbf16>) routing(#moe.routing<k = 2>) activation(#moe.activation<swiglu>) : tensor<?x32xf32>
    return %y : tensor<?x32xf32>
  }
}

// -----

// The fused forms moe-fuse-dispatch and moe-fuse-gate-up make. With 16-bit
// rows and weights and K a multiple of 32 the staged kernel takes them
// whole: the rows gathered through the indices as they are staged, the gate
// and up weight rows interleaved 8 by 8 in each stage (64 output columns a
// program), the bias and the activation in the epilogue. Its result feeds
// a down GEMM with bf16 weights, so it is rounded to bf16 (as a
// moe.activation's would be) and the down GEMM takes tensor cores too.
// CHECK-LABEL: func.func @fused_staged
// CHECK-NOT: moe.
// CHECK: %[[ROWS:[a-zA-Z0-9_]+]] = bufferization.to_buffer %{{.*}} read_only : tensor<?xi32> to memref<?xi32>
// CHECK: %[[H:[a-zA-Z0-9_]+]] = memref.alloc(%{{.*}}) : memref<?x64xbf16>
// CHECK: memref.load %[[ROWS]][%{{.*}}] : memref<?xi32>
// CHECK: nvvm.cp.async.shared.global
// CHECK: nvvm.wgmma.mma_async
// CHECK: math.exp
// CHECK: %[[R:[a-zA-Z0-9_]+]] = arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store %[[R]], %[[H]]
// CHECK: } {moe.kernel_name = "gemm_mma_staged", moe.min_blocks_per_sm = 1 : i32}
// CHECK: } {moe.kernel_name = "gemm_mma_staged_decode", moe.min_blocks_per_sm = 1 : i32}
// CHECK: bufferization.to_tensor %[[H]]
// CHECK: } {moe.kernel_name = "gemm_mma_staged", moe.min_blocks_per_sm = 1 : i32}
// CHECK: } {moe.kernel_name = "gemm_mma_staged_decode", moe.min_blocks_per_sm = 1 : i32}
// CHECK-NOT: moe.kernel_name
// f32 rows: no tensor-core kernel takes the fused GEMM, which is unfused
// into the gather, the GEMM and the activation.
// CHECK-LABEL: func.func @fused_f32
// CHECK: } {moe.kernel_name = "gather"}
// CHECK: } {moe.kernel_name = "gemm"}
// CHECK: } {moe.kernel_name = "activation"}
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @fused_staged(%x: tensor<?x64xbf16>, %rows: tensor<?xi32>, %off: tensor<5xi32>, %g: tensor<4x64x64xbf16>, %u: tensor<4x64x64xbf16>, %gb: tensor<4x64xf32>, %ub: tensor<4x64xf32>, %d: tensor<4x64x64xbf16>) -> tensor<?x64xf32> {
    %h = moe.grouped_matmul %x, %g gather(%rows : tensor<?xi32>) offsets(%off : tensor<5xi32>) bias(%gb : tensor<4x64xf32>) up(%u : tensor<4x64x64xbf16>) up_bias(%ub : tensor<4x64xf32>) activation(#moe.activation<swiglu>) : tensor<?x64xbf16>, tensor<4x64x64xbf16> -> tensor<?x64xf32>
    %y = moe.grouped_matmul %h, %d offsets(%off : tensor<5xi32>) : tensor<?x64xf32>, tensor<4x64x64xbf16> -> tensor<?x64xf32>
    return %y : tensor<?x64xf32>
  }
  func.func @fused_f32(%x: tensor<?x16xf32>, %rows: tensor<?xi32>, %off: tensor<5xi32>, %w: tensor<4x8x16xf32>) -> tensor<?x8xf32> {
    %y = moe.grouped_matmul %x, %w gather(%rows : tensor<?xi32>) offsets(%off : tensor<5xi32>) activation(#moe.activation<relu>) : tensor<?x16xf32>, tensor<4x8x16xf32> -> tensor<?x8xf32>
    return %y : tensor<?x8xf32>
  }
}

// -----

// The combine with the down projection fused (moe-fuse-combine), slots
// from a moe.dispatch, 16-bit rows and down weights: combine_init sets the
// f32 sums to the shared expert's term and records each slot's assignment;
// the staged GEMM's epilogue scales each product plus bias by its routing
// weight and adds it to its token's row with an atomic add; combine_round
// rounds the sums once.
// CHECK-LABEL: func.func @fused_combine
// CHECK: %[[SUMS:[a-zA-Z0-9_]+]] = memref.alloc(%{{.*}}) : memref<?x64xf32>
// CHECK: %[[SLOT:[a-zA-Z0-9_]+]] = memref.alloc(%{{.*}}) : memref<?xi32>
// CHECK: memref.store %{{.*}}, %[[SUMS]][%{{.*}}, %{{.*}}] : memref<?x64xf32>
// CHECK: memref.store %{{.*}}, %[[SLOT]][%{{.*}}] : memref<?xi32>
// CHECK: } {moe.kernel_name = "combine_init"}
// CHECK: nvvm.wgmma.mma_async
// CHECK: memref.load %[[SLOT]][%{{.*}}] : memref<?xi32>
// CHECK: %[[V:[a-zA-Z0-9_]+]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK: memref.atomic_rmw addf %[[V]], %[[SUMS]][%{{.*}}, %{{.*}}] : (f32, memref<?x64xf32>) -> f32
// CHECK: } {moe.kernel_name = "gemm_mma_staged_combine", moe.min_blocks_per_sm = 1 : i32}
// CHECK: } {moe.kernel_name = "gemm_mma_staged_combine_decode", moe.min_blocks_per_sm = 1 : i32}
// CHECK: %[[R:[a-zA-Z0-9_]+]] = arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store %[[R]]
// CHECK: } {moe.kernel_name = "combine_round"}
// An f32 result is the sums: no rounding kernel.
// CHECK-LABEL: func.func @fused_combine_f32
// CHECK: } {moe.kernel_name = "combine_init"}
// CHECK: } {moe.kernel_name = "gemm_mma_staged_combine", moe.min_blocks_per_sm = 1 : i32}
// CHECK: } {moe.kernel_name = "gemm_mma_staged_combine_decode", moe.min_blocks_per_sm = 1 : i32}
// CHECK-NOT: moe.kernel_name
// CHECK: return
// Slots that are not a moe.dispatch's, or f32 rows: the down GEMM and the
// combine, as before the fusion.
// CHECK-LABEL: func.func @fused_combine_slots_argument
// CHECK: } {moe.kernel_name = "gemm_mma_staged", moe.min_blocks_per_sm = 1 : i32}
// CHECK: } {moe.kernel_name = "gemm_mma_staged_decode", moe.min_blocks_per_sm = 1 : i32}
// CHECK: } {moe.kernel_name = "combine"}
// CHECK-LABEL: func.func @fused_combine_f32_rows
// CHECK: } {moe.kernel_name = "gemm"}
// CHECK: } {moe.kernel_name = "combine"}
// fuse-combine=false: always the down GEMM and the combine.
// NOFUSE-LABEL: func.func @fused_combine
// NOFUSE-NOT: combine_init
// NOFUSE: } {moe.kernel_name = "gemm_mma_staged", moe.min_blocks_per_sm = 1 : i32}
// NOFUSE: } {moe.kernel_name = "gemm_mma_staged_decode", moe.min_blocks_per_sm = 1 : i32}
// NOFUSE: } {moe.kernel_name = "combine"}
module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80", "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64, "shared_memory_per_block" = 232448 : i64, "registers_per_thread" = 255 : i64, "tensor_core" = "wgmma">>} {
  func.func @fused_combine(%h: tensor<?x64xbf16>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi32>, %d: tensor<4x64x64xbf16>, %db: tensor<4x64xf32>, %s: tensor<?x64xf32>) -> tensor<?x64xbf16> {
    %sorted, %inv, %off = moe.dispatch %ids experts(4) : tensor<?x2xi32>
    %y = moe.combine %h, %w, %inv shared(%s : tensor<?x64xf32>) down(%d : tensor<4x64x64xbf16>) down_offsets(%off : tensor<5xi32>) down_bias(%db : tensor<4x64xf32>) : tensor<?x64xbf16>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x64xbf16>
    return %y : tensor<?x64xbf16>
  }
  func.func @fused_combine_f32(%h: tensor<?x64xbf16>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi32>, %d: tensor<4x64x64xbf16>) -> tensor<?x64xf32> {
    %sorted, %inv, %off = moe.dispatch %ids experts(4) : tensor<?x2xi32>
    %y = moe.combine %h, %w, %inv down(%d : tensor<4x64x64xbf16>) down_offsets(%off : tensor<5xi32>) : tensor<?x64xbf16>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x64xf32>
    return %y : tensor<?x64xf32>
  }
  func.func @fused_combine_slots_argument(%h: tensor<?x64xbf16>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %d: tensor<4x64x64xbf16>, %off: tensor<5xi32>) -> tensor<?x64xbf16> {
    %y = moe.combine %h, %w, %inv down(%d : tensor<4x64x64xbf16>) down_offsets(%off : tensor<5xi32>) : tensor<?x64xbf16>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x64xbf16>
    return %y : tensor<?x64xbf16>
  }
  func.func @fused_combine_f32_rows(%h: tensor<?x24xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %d: tensor<4x32x24xf32>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
    %y = moe.combine %h, %w, %inv down(%d : tensor<4x32x24xf32>) down_offsets(%off : tensor<5xi32>) : tensor<?x24xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x32xf32>
    return %y : tensor<?x32xf32>
  }
}
