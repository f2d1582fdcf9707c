// RUN: moe-opt %s --moe-cuda-pipeline=compile-to=fused | FileCheck %s --check-prefix=FUSED
// RUN: moe-opt %s --moe-cuda-pipeline=compile-to=loops | FileCheck %s --check-prefix=LOOPS
// RUN: moe-opt %s --moe-cuda-pipeline=compile-to=gpu | FileCheck %s --check-prefix=GPU
// RUN: moe-opt %s "--moe-cuda-pipeline=compile-to=nvvm chip=sm_80" | FileCheck %s --check-prefix=NVVM
// The phases of the GPU lowering, one stopping point each.

// fused: the target description set (default sm_90a); moe.route and
// moe.dispatch as they were.
// FUSED: module attributes {dlti.target_system_spec = #dlti.target_system_spec<"GPU" = #dlti.target_device_spec<"chip" = "sm_90a"
// FUSED-LABEL: func.func @routing
// FUSED: moe.route
// FUSED: moe.dispatch
// A layer decomposed, the gather fused into the up GEMM and the activation
// into its epilogue, the down projection into the combine
// (moe-fuse-dispatch, moe-fuse-gate-up, moe-fuse-combine).
// FUSED-LABEL: func.func @layer
// FUSED: %[[SORTED:[a-zA-Z0-9_]+]], %[[INV:[a-zA-Z0-9_]+]], %[[OFF:[a-zA-Z0-9_]+]] = moe.dispatch
// FUSED-NOT: moe.gather
// FUSED: %[[H:[a-zA-Z0-9_]+]] = moe.grouped_matmul %{{.*}}, %{{.*}} gather(%[[SORTED]] : tensor<?xi32>) offsets(%[[OFF]] : tensor<5xi32>) activation(#moe.activation<relu>)
// FUSED-NOT: moe.activation
// FUSED-NOT: moe.grouped_matmul
// FUSED: moe.combine %[[H]], %{{.*}}, %[[INV]] down(%{{.*}}) down_offsets(%[[OFF]] : tensor<5xi32>)

// loops: bufferized GPU-mapped nests, the mapping kept (no canonicalizer
// merges them before they become launches).
// LOOPS-LABEL: func.func @routing
// LOOPS-SAME: (%{{.*}}: memref<?x8xf32>) -> (memref<?x2xf32>, memref<?x2xi32>, memref<?xi32>, memref<?x2xi32>, memref<5xi32>)
// LOOPS-NOT: moe.route
// LOOPS-NOT: moe.dispatch
// LOOPS-NOT: bufferization.to_tensor
// LOOPS: } {moe.kernel_name = "route"}
// LOOPS: processor = block_x
// LOOPS: } {moe.kernel_name = "dispatch_count"}
// LOOPS-COUNT-4: processor = block_x

// gpu: five launches of 128-thread programs (route; dispatch's count,
// scan, offsets, placement), each outlined into a gpu.func of one
// gpu.module per function and named after it (moe-name-gpu-kernels). The
// results are buffers the caller passes; the scratch is device memory, and
// every launch, allocation and free is ordered on one stream, waited for
// once at the end.
// GPU-LABEL: func.func @routing
// GPU-SAME: (%[[L:.*]]: memref<?x8xf32>, %[[W:.*]]: memref<?x2xf32>, %[[I:.*]]: memref<?x2xi32>, %{{.*}}: memref<?xi32>, %{{.*}}: memref<?x2xi32>, %{{.*}}: memref<5xi32>)
// GPU-NOT: memref.alloc
// GPU: %[[T0:.*]] = gpu.wait async
// A buffer is passed as its pointer and its token count, with two null
// pointers last (Triton's convention, moe-gpu-pointer-arguments).
// GPU: %[[LA:.*]] = memref.extract_aligned_pointer_as_index %[[L]]
// GPU: %[[LI:.*]] = arith.index_cast %[[LA]] : index to i64
// GPU: %[[LP:.*]] = llvm.inttoptr %[[LI]] : i64 to !llvm.ptr
// GPU: %[[LT:.*]] = memref.dim %[[L]], %{{.*}} : memref<?x8xf32>
// GPU: %[[WA:.*]] = memref.extract_aligned_pointer_as_index %[[W]]
// GPU: %[[IA:.*]] = memref.extract_aligned_pointer_as_index %[[I]]
// GPU: %[[N0:.*]] = llvm.mlir.zero : !llvm.ptr
// GPU: %[[N1:.*]] = llvm.mlir.zero : !llvm.ptr
// GPU: %[[ROUTE:.*]] = gpu.launch_func async [%[[T0]]] @routing_kernels::@routing_route blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%c128, %{{.*}}, %{{.*}}) args(%[[LP]] : !llvm.ptr, %[[LT]] : index, %{{.*}} : !llvm.ptr, %{{.*}} : index, %{{.*}} : !llvm.ptr, %{{.*}} : index, %[[N0]] : !llvm.ptr, %[[N1]] : !llvm.ptr)
// GPU: %[[COUNTS:.*]], %[[T1:.*]] = gpu.alloc async [%[[ROUTE]]] (%{{.*}}) : memref<?xi32>
// GPU: %[[C:.*]] = gpu.launch_func async [%[[T1]]] @routing_kernels::@routing_dispatch_count
// GPU: %[[S:.*]] = gpu.launch_func async [%[[C]]] @routing_kernels::@routing_dispatch_scan
// GPU: %[[O:.*]] = gpu.launch_func async [%[[S]]] @routing_kernels::@routing_dispatch_offsets
// GPU: %[[P:.*]] = gpu.launch_func async [%[[O]]] @routing_kernels::@routing_dispatch_place
// GPU: %[[F:.*]] = gpu.dealloc async [%[[P]]] %[[COUNTS]]
// GPU: gpu.wait [%[[F]]]
// GPU-NEXT: return
// GPU: gpu.module @routing_kernels
// GPU: gpu.func @routing_route(%[[P:.*]]: !llvm.ptr, %[[T:.*]]: index, %{{.*}}: !llvm.ptr, %{{.*}}: index, %{{.*}}: !llvm.ptr, %{{.*}}: index, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr) kernel attributes {known_block_size = array<i32: 128, 1, 1>, moe.triton_signature = ["*fp32", "i64", "*fp32", "i64", "*i32", "i64"]}
// The kernel rebuilds each descriptor: the pointer, offset 0, the sizes
// and row-major strides.
// GPU: %[[D0:.*]] = llvm.insertvalue %[[P]], %{{.*}}[0]
// GPU: %[[D1:.*]] = llvm.insertvalue %[[P]], %[[D0]][1]
// GPU: %[[TI:.*]] = arith.index_cast %[[T]] : index to i64
// GPU: llvm.insertvalue %[[TI]], %{{.*}}[3, 0]
// GPU: builtin.unrealized_conversion_cast %{{.*}} : !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)> to memref<?x8xf32>
// GPU: gpu.block_id x
// GPU: gpu.thread_id x
// GPU-COUNT-4: gpu.func @routing_dispatch
// A layer is the same stream of launches, one per op of its decomposition:
// f32 rows take no tensor cores, so the fused GEMM is unfused again into
// the gather, the GEMM and the activation.
// GPU-LABEL: func.func @layer
// GPU: gpu.launch_func async [%{{.*}}] @layer_kernels::@layer_gemm
// GPU: gpu.launch_func async [%{{.*}}] @layer_kernels::@layer_route
// GPU: gpu.launch_func async [%{{.*}}] @layer_kernels::@layer_dispatch_count
// GPU: gpu.launch_func async [%{{.*}}] @layer_kernels::@layer_dispatch_scan
// GPU: gpu.launch_func async [%{{.*}}] @layer_kernels::@layer_dispatch_offsets
// GPU: gpu.launch_func async [%{{.*}}] @layer_kernels::@layer_dispatch_place
// GPU: gpu.launch_func async [%{{.*}}] @layer_kernels::@layer_gather
// GPU: gpu.launch_func async [%{{.*}}] @layer_kernels::@layer_gemm_1
// GPU: gpu.launch_func async [%{{.*}}] @layer_kernels::@layer_activation
// GPU: gpu.launch_func async [%{{.*}}] @layer_kernels::@layer_gemm_2
// GPU: gpu.launch_func async [%{{.*}}] @layer_kernels::@layer_combine
// GPU-NOT: gpu.launch_func
// GPU: gpu.wait [%{{.*}}]
// GPU-NEXT: return
// GPU: gpu.module @layer_kernels
// GPU-COUNT-11: gpu.func @layer_

// nvvm: the kernels in the NVVM dialect, for the chip and PTX version of
// the description.
// NVVM: gpu.module @routing_kernels [#nvvm.target<O = 3, chip = "sm_80", features = "+ptx70">]
// NVVM: llvm.func @routing_route({{.*}}) attributes {gpu.kernel, {{.*}}nvvm.kernel, nvvm.maxntid = array<i32: 128, 1, 1>}
// NVVM: nvvm.read.ptx.sreg.ctaid.x
// NVVM: nvvm.read.ptx.sreg.tid.x
// NVVM: llvm.call @__nv_expf
func.func @routing(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>, tensor<?xi32>, tensor<?x2xi32>, tensor<5xi32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 2, renormalize = true>) : tensor<?x8xf32>
  %s, %inv, %off = moe.dispatch %i experts(4) : tensor<?x2xi32>
  return %w, %i, %s, %inv, %off : tensor<?x2xf32>, tensor<?x2xi32>, tensor<?xi32>, tensor<?x2xi32>, tensor<5xi32>
}

func.func @layer(%x: tensor<?x16xf32>, %r: tensor<4x16xf32>, %u: tensor<4x8x16xf32>, %d: tensor<4x16x8xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%r : tensor<4x16xf32>) up(%u : tensor<4x8x16xf32>) down(%d : tensor<4x16x8xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
