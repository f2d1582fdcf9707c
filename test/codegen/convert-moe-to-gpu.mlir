// RUN: moe-opt %s --convert-moe-to-gpu --split-input-file | FileCheck %s
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
