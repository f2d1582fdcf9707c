// RUN: moe-opt %s --moe-set-cpu-target=cpu=x86-64-v4 --moe-cpu-select-kernels --convert-moe-to-linalg --convert-moe-to-cpu-kernels --split-input-file | FileCheck %s
// RUN: moe-opt %s --moe-set-cpu-target=cpu=x86-64-v3 --moe-cpu-select-kernels --convert-moe-to-linalg --convert-moe-to-cpu-kernels --split-input-file | FileCheck %s --check-prefix=AVX2
// RUN: moe-opt %s --moe-set-cpu-target=cpu=x86-64 --moe-cpu-select-kernels --convert-moe-to-linalg --convert-moe-to-cpu-kernels --split-input-file | FileCheck %s --check-prefix=SSE
// RUN: moe-opt %s --moe-set-cpu-target=cpu=cooperlake --moe-cpu-select-kernels=bf16-dot=true --convert-moe-to-linalg --convert-moe-to-cpu-kernels --split-input-file | FileCheck %s --check-prefix=DOT
// RUN: moe-opt %S/Inputs/int8-dot.mlir --moe-set-cpu-target=cpu=cooperlake --moe-cpu-select-kernels=int8-dot=true --convert-moe-to-linalg --convert-moe-to-cpu-kernels --split-input-file | FileCheck %S/Inputs/int8-dot.mlir --check-prefix=INT8
// RUN: moe-opt %S/Inputs/int8-panels.mlir --moe-set-cpu-target=cpu=cooperlake "--moe-pack-weights=slices=1 int8-dot=true" --moe-cpu-select-kernels=int8-dot=true --convert-moe-to-linalg --convert-moe-to-cpu-kernels | FileCheck %S/Inputs/int8-panels.mlir --check-prefix=PANELS
// RUN: moe-opt %S/Inputs/int8-rows-once.mlir --convert-moe-to-linalg --convert-moe-to-cpu-kernels | FileCheck %S/Inputs/int8-rows-once.mlir --check-prefix=ONCE
// RUN: moe-opt %S/Inputs/int8-rows-once.mlir --convert-moe-to-linalg --convert-moe-to-cpu-kernels --cse | FileCheck %S/Inputs/int8-rows-once.mlir --check-prefix=CSE
// RUN: moe-opt %S/Inputs/pairs.mlir --moe-set-cpu-target=cpu=x86-64-v4 --moe-cpu-select-kernels --convert-moe-to-linalg --convert-moe-to-cpu-kernels | FileCheck %s --check-prefix=PAIRS
// RUN: moe-opt %S/Inputs/slices.mlir --moe-set-cpu-target=cpu=x86-64-v4 --moe-cpu-select-kernels --convert-moe-to-linalg --convert-moe-to-cpu-kernels | FileCheck %s --check-prefix=SLICED
// RUN: moe-opt %S/Inputs/slices-avx2.mlir --moe-set-cpu-target=cpu=x86-64-v3 --moe-cpu-select-kernels --convert-moe-to-linalg --convert-moe-to-cpu-kernels | FileCheck %s --check-prefix=AVX2SLICED
// The GEMMs claimed by moe-cpu-select-kernels, sized by the target
// description's rules (docs/Targets.md), as register-blocked vector kernels
// on tensors; convert-moe-to-linalg lowers what surrounds them first.

// One work item per (expert, weight tile); here one tile per expert. The
// kernel keeps 6 x 4 f32 vector accumulators across the k loop (16 lanes,
// bf16 weights widened), a 4-lane tail for k = 32..36, one reduction per
// output, then the bias. Leftover rows run in blocks of 4, 2 and 1, leftover
// weight rows one at a time.
// CHECK-LABEL: func.func @grouped_matmul
// CHECK-SAME: %[[ARG0:[a-z0-9_]+]]: tensor<?x36xf32>
// CHECK-SAME: %[[ARG1:[a-z0-9_]+]]: tensor<4x8x36xbf16>
// CHECK-SAME: %[[ARG2:[a-z0-9_]+]]: tensor<5xi32>
// CHECK-SAME: %[[ARG3:[a-z0-9_]+]]: tensor<4x8xf32>
// Only the rows before offsets[0] and from offsets[4] on are zero-filled.
// CHECK: %[[INIT:.*]] = bufferization.alloc_tensor(%[[M:.*]]) : tensor<?x8xf32>
// CHECK: %[[FIRST:.*]] = tensor.extract %[[ARG2]][%c{{0(_[0-9]+)?}}]
// CHECK: %[[LAST:.*]] = tensor.extract %[[ARG2]][%c{{4(_[0-9]+)?}}]
// CHECK: %[[HEAD:.*]] = tensor.extract_slice %[[INIT]][%c{{0(_[0-9]+)?}}, 0]
// CHECK: %[[HEADZ:.*]] = linalg.fill ins(%{{.*}}) outs(%[[HEAD]]
// CHECK: %[[INIT1:.*]] = tensor.insert_slice %[[HEADZ]] into %[[INIT]]
// CHECK: %[[TAIL:.*]] = tensor.extract_slice %[[INIT1]]
// CHECK: %[[TAILZ:.*]] = linalg.fill ins(%{{.*}}) outs(%[[TAIL]]
// CHECK: %[[ZERO:.*]] = tensor.insert_slice %[[TAILZ]] into %[[INIT1]]
// CHECK: scf.forall (%[[I:.*]]) in (%{{.*}}) shared_outs(%[[OUT:.*]] = %[[ZERO]])
// CHECK: %[[E:.*]] = arith.divui %[[I]]
// CHECK: %[[LO:.*]] = arith.index_cast
// CHECK: %[[HI:.*]] = arith.index_cast
// CHECK: %[[ROWS:.*]] = arith.subi %[[HI]], %[[LO]]
// CHECK: %[[DEST:.*]] = tensor.extract_slice %[[OUT]][%[[LO]], %[[N0:.*]]] [%[[ROWS]], %[[SIZE:.*]]] [1, 1]
// CHECK: %[[W:.*]] = tensor.extract_slice %[[ARG1]][%[[E]], 0, 0] [1, 8, 36] [1, 1, 1] : tensor<4x8x36xbf16> to tensor<8x36xbf16>
// CHECK: %[[B:.*]] = tensor.extract_slice %[[ARG3]][%[[E]], 0] [1, 8] [1, 1] : tensor<4x8xf32> to tensor<8xf32>
// CHECK: scf.for %{{.*}} step %c{{6(_[0-9]+)?}} iter_args(%{{.*}} = %[[DEST]])
// CHECK: scf.for %{{.*}} step %c{{4(_[0-9]+)?}} iter_args
// CHECK: scf.for %{{.*}} = %c{{0(_[0-9]+)?}} to %c{{32(_[0-9]+)?}} step %c{{16(_[0-9]+)?}} iter_args({{.*}}) -> (vector<16xf32>, {{.*}}, vector<16xf32>)
// CHECK-COUNT-6: vector.transfer_read %[[ARG0]][{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<?x36xf32>, vector<16xf32>
// CHECK: vector.transfer_read %[[W]]{{.*}} : tensor<8x36xbf16>, vector<16xbf16>
// CHECK: arith.extf {{.*}} : vector<16xbf16> to vector<16xf32>
// CHECK-COUNT-24: vector.fma
// CHECK: scf.yield
// CHECK-COUNT-24: vector.reduction <add>, {{.*}} fastmath<reassoc,contract> : vector<16xf32> into f32
// CHECK: vector.transfer_read %[[ARG0]][{{.*}}, %c{{32(_[0-9]+)?}}]{{.*}} : tensor<?x36xf32>, vector<4xf32>
// CHECK: vector.fma {{.*}} : vector<4xf32>
// CHECK: tensor.extract %[[B]]
// CHECK: tensor.insert
// CHECK: scf.for %{{.*}} step %c{{1(_[0-9]+)?}} iter_args
// CHECK: scf.for %{{.*}} step %c{{4(_[0-9]+)?}} iter_args
// CHECK: scf.for %{{.*}} step %c{{2(_[0-9]+)?}} iter_args
// CHECK: scf.for %{{.*}} step %c{{1(_[0-9]+)?}} iter_args
// CHECK: scf.forall.in_parallel
// CHECK: tensor.parallel_insert_slice %{{.*}} into %[[OUT]][%[[LO]], %[[N0]]] [%[[ROWS]], %[[SIZE]]] [1, 1]
func.func @grouped_matmul(%x: tensor<?x36xf32>, %w: tensor<4x8x36xbf16>, %off: tensor<5xi32>, %b: tensor<4x8xf32>) -> tensor<?x8xf32> {
  %r = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) bias(%b : tensor<4x8xf32>) : tensor<?x36xf32>, tensor<4x8x36xbf16> -> tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// -----

// Without offsets: work items are chunks of 64 rows; no zero fill; the
// result is converted to f16.
// CHECK-LABEL: func.func @dense_matmul
// CHECK-NOT: linalg.fill
// CHECK: %[[CHUNKS:.*]] = arith.divui %{{.*}}, %c{{64(_[0-9]+)?}}
// CHECK: scf.forall
// CHECK: arith.extf {{.*}} : vector<16xf16> to vector<16xf32>
// CHECK: arith.truncf {{.*}} : f32 to f16
func.func @dense_matmul(%x: tensor<?x16xf16>, %w: tensor<8x16xf32>) -> tensor<?x8xf16> {
  %r = moe.grouped_matmul %x, %w : tensor<?x16xf16>, tensor<8x16xf32> -> tensor<?x8xf16>
  return %r : tensor<?x8xf16>
}

// -----

// A weight wider than a cache tile: 42 rows of 16384 f32 (64 KiB each) go
// in tiles of 8 rows, 6 tiles per expert, the last one of 2 rows.
// CHECK-LABEL: func.func @grouped_matmul_tiled
// CHECK: %[[ITEMS:.*]] = arith.muli %c{{2(_[0-9]+)?}}, %c{{6(_[0-9]+)?}}
// CHECK: scf.forall (%[[I:.*]]) in (%[[ITEMS]])
// CHECK: %[[E:.*]] = arith.divui %[[I]], %c{{6(_[0-9]+)?}}
// CHECK: %[[T:.*]] = arith.remui %[[I]], %c{{6(_[0-9]+)?}}
// CHECK: %[[N0:.*]] = arith.muli %[[T]], %c{{8(_[0-9]+)?}}
// CHECK: %[[LEFT:.*]] = arith.subi %c{{42(_[0-9]+)?}}, %[[N0]]
// CHECK: %[[SIZE:.*]] = arith.minui %c{{8(_[0-9]+)?}}, %[[LEFT]]
// CHECK: tensor.extract_slice %{{.*}}[%{{.*}}, %[[N0]]] [%{{.*}}, %[[SIZE]]] [1, 1]
// CHECK: tensor.extract_slice %{{.*}}[%[[E]], 0, 0] [1, 42, 16384] [1, 1, 1]
// CHECK: %[[B:.*]] = tensor.extract_slice %{{.*}}[%[[E]], 0] [1, 42] [1, 1]
// The kernel reads weight row and bias element n0 + j.
// CHECK: %[[C:.*]] = arith.addi %[[N0]], %{{.*}} : index
// CHECK: vector.transfer_read %{{.*}}[%[[C]], %{{.*}}]
// CHECK: tensor.extract %[[B]][%[[C]]]
func.func @grouped_matmul_tiled(%x: tensor<?x16384xf32>, %w: tensor<2x42x16384xf32>, %off: tensor<3xi32>, %b: tensor<2x42xf32>) -> tensor<?x42xf32> {
  %r = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) bias(%b : tensor<2x42xf32>) : tensor<?x16384xf32>, tensor<2x42x16384xf32> -> tensor<?x42xf32>
  return %r : tensor<?x42xf32>
}

// -----

// The kernel's blocking follows the target description's registers
// (docs/Targets.md: rows x cols + rows + 1 registers): 6 x 4 accumulators
// of 16 lanes for AVX-512 (32 registers); 3 x 4 of 8 lanes for AVX2 and of
// 4 lanes for SSE (16 registers).
// Blocks of fewer rows take more weight rows within the same 24
// accumulators, up to 8: 4 x 6, 2 x 8 and 1 x 8.
// CHECK-LABEL: func.func @blocking
// CHECK: scf.for {{.*}} step %c{{6(_[0-9]+)?}} iter_args
// CHECK: scf.for {{.*}} step %c{{4(_[0-9]+)?}} iter_args
// CHECK-COUNT-24: vector.fma {{.*}} : vector<16xf32>
// CHECK-NEXT: scf.yield
// CHECK: scf.for {{.*}} step %c{{4(_[0-9]+)?}} iter_args
// CHECK: scf.for {{.*}} step %c{{6(_[0-9]+)?}} iter_args
// CHECK: scf.for {{.*}} step %c{{2(_[0-9]+)?}} iter_args
// CHECK: scf.for {{.*}} step %c{{8(_[0-9]+)?}} iter_args
// CHECK: %{{.*}}:16 = scf.for
// CHECK: scf.for {{.*}} step %c{{1(_[0-9]+)?}} iter_args
// CHECK: scf.for {{.*}} step %c{{8(_[0-9]+)?}} iter_args
// CHECK: %{{.*}}:8 = scf.for
// AVX2-LABEL: func.func @blocking
// AVX2: scf.for %{{.*}} step %c{{3(_[0-9]+)?}} iter_args
// AVX2: scf.for %{{.*}} step %c{{4(_[0-9]+)?}} iter_args
// AVX2: scf.for {{.*}} -> (vector<8xf32>, {{.*}}, vector<8xf32>)
// AVX2-COUNT-12: vector.fma {{.*}} : vector<8xf32>
// AVX2-NEXT: scf.yield
// SSE-LABEL: func.func @blocking
// SSE: scf.for {{.*}} -> (vector<4xf32>, {{.*}}, vector<4xf32>)
// SSE-COUNT-12: vector.fma {{.*}} : vector<4xf32>
// SSE-NEXT: scf.yield
func.func @blocking(%x: tensor<?x32xf32>, %w: tensor<4x8x32xf32>, %off: tensor<5xi32>) -> tensor<?x8xf32> {
  %r = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x32xf32>, tensor<4x8x32xf32> -> tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// -----

// Fused forms. Rows come through the gather's indices (no permuted copy);
// gate and up rows of each output column are accumulated side by side (2
// outputs x 2 projections per block, 6 rows: 24 accumulators), and the
// epilogue adds each bias and applies SwiGLU before rounding to bf16.
// CHECK-LABEL: func.func @fused_gather_gate_up
// CHECK-SAME: (%[[X:.*]]: tensor<?x32xf32>, %[[G:.*]]: tensor<4x8x32xf32>, %[[U:.*]]: tensor<4x8x32xf32>, %[[ROWS:.*]]: tensor<?xi32>, %[[OFF:.*]]: tensor<5xi32>, %[[BG:.*]]: tensor<4x8xf32>, %[[BU:.*]]: tensor<4x8xf32>)
// CHECK: %[[M:.*]] = tensor.dim %[[ROWS]], %c{{0(_[0-9]+)?}}
// CHECK: bufferization.alloc_tensor(%[[M]]) : tensor<?x8xbf16>
// CHECK: scf.forall
// CHECK: %[[GW:.*]] = tensor.extract_slice %[[G]]
// CHECK: %[[GB:.*]] = tensor.extract_slice %[[BG]]
// CHECK: %[[UW:.*]] = tensor.extract_slice %[[U]]
// CHECK: %[[UB:.*]] = tensor.extract_slice %[[BU]]
// CHECK: scf.for {{.*}} step %c{{6(_[0-9]+)?}}
// CHECK: scf.for {{.*}} step %c{{2(_[0-9]+)?}}
// CHECK: %[[R:.*]] = tensor.extract %[[ROWS]]
// CHECK: %[[RI:.*]] = arith.index_cast %[[R]] : i32 to index
// CHECK: vector.transfer_read %[[X]][%[[RI]], %{{.*}}]
// CHECK: vector.transfer_read %[[GW]]
// CHECK: vector.transfer_read %[[UW]]
// CHECK-COUNT-24: vector.fma
// CHECK: tensor.extract %[[GB]]
// CHECK: tensor.extract %[[UB]]
// CHECK: math.exp
// CHECK: arith.truncf {{.*}} : f32 to bf16
func.func @fused_gather_gate_up(%x: tensor<?x32xf32>, %g: tensor<4x8x32xf32>, %u: tensor<4x8x32xf32>, %rows: tensor<?xi32>, %off: tensor<5xi32>, %bg: tensor<4x8xf32>, %bu: tensor<4x8xf32>) -> tensor<?x8xbf16> {
  %r = moe.grouped_matmul %x, %g gather(%rows : tensor<?xi32>) offsets(%off : tensor<5xi32>) bias(%bg : tensor<4x8xf32>) up(%u : tensor<4x8x32xf32>) up_bias(%bu : tensor<4x8xf32>) activation(#moe.activation<swiglu>) : tensor<?x32xf32>, tensor<4x8x32xf32> -> tensor<?x8xbf16>
  return %r : tensor<?x8xbf16>
}

// -----

// A fused interleaved gate/up weight: output column c reads weight rows 2c
// and 2c + 1.
// CHECK-LABEL: func.func @fused_interleaved
// CHECK-SAME: %[[ARG1:[a-z0-9_]+]]: tensor<4x16x32xf32>
// CHECK: scf.forall
// CHECK: %[[W:.*]] = tensor.extract_slice %[[ARG1]][%{{.*}}, 0, 0] [1, 16, 32] [1, 1, 1] : tensor<4x16x32xf32> to tensor<16x32xf32>
// CHECK: scf.for {{.*}} step %c{{2(_[0-9]+)?}} iter_args
// CHECK: %[[GATE:.*]] = arith.muli %{{.*}}, %c{{2(_[0-9]+)?}} : index
// CHECK-NEXT: %[[UP:.*]] = arith.addi %[[GATE]], %c{{1(_[0-9]+)?}}
// CHECK: vector.transfer_read %[[W]][%[[GATE]], %{{.*}}]
// CHECK: vector.transfer_read %[[W]][%[[UP]], %{{.*}}]
func.func @fused_interleaved(%x: tensor<?x32xf32>, %gu: tensor<4x16x32xf32>, %off: tensor<5xi32>) -> tensor<?x8xf32> {
  %r = moe.grouped_matmul %x, %gu offsets(%off : tensor<5xi32>) activation(#moe.activation<swiglu>) gate_up_layout(interleaved) : tensor<?x32xf32>, tensor<4x16x32xf32> -> tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// -----

// bf16-dot: an expert GEMM with bf16 weights rounds the group's rows to bf16
// once per item (through the gather), then accumulates 32 bf16 per step
// with AVX512_BF16 dot products; k = 80 leaves a 16-wide f32 tail. The
// dense projection (which may be a router) keeps f32 rows. Without the
// option nothing is rounded.
// DOT-LABEL: func.func @bf16_dot
// DOT-SAME: %[[ARG0:[a-z0-9_]+]]: tensor<?x80xf32>
// DOT-SAME: %[[ARG3:[a-z0-9_]+]]: tensor<?xi32>
// DOT: scf.forall
// DOT: %[[ROWS:.*]] = linalg.generic
// DOT: tensor.extract %[[ARG3]]
// DOT: tensor.extract %[[ARG0]]
// DOT: arith.truncf {{.*}} : f32 to bf16
// DOT: scf.for %{{.*}} = %c{{0(_[0-9]+)?}} to %c{{64(_[0-9]+)?}} step %c{{32(_[0-9]+)?}} iter_args
// DOT: vector.transfer_read %[[ROWS]]{{.*}} : tensor<?x80xbf16>, vector<32xbf16>
// DOT-COUNT-24: x86vector.avx512.dot {{.*}} : vector<32xbf16> -> vector<16xf32>
// DOT: vector.transfer_read %[[ROWS]][%{{.*}}, %c{{64(_[0-9]+)?}}]{{.*}} : tensor<?x80xbf16>, vector<16xbf16>
// DOT: arith.extf {{.*}} : vector<16xbf16> to vector<16xf32>
// DOT: scf.forall
// DOT-NOT: x86vector
// DOT: return
// CHECK-LABEL: func.func @bf16_dot
// CHECK-NOT: x86vector
// CHECK-NOT: arith.truncf {{.*}} : f32 to bf16
// CHECK: return
func.func @bf16_dot(%x: tensor<?x80xf32>, %w: tensor<4x8x80xbf16>, %off: tensor<5xi32>, %rows: tensor<?xi32>, %wr: tensor<4x80xbf16>) -> (tensor<?x8xf32>, tensor<?x4xf32>) {
  %r = moe.grouped_matmul %x, %w gather(%rows : tensor<?xi32>) offsets(%off : tensor<5xi32>) : tensor<?x80xf32>, tensor<4x8x80xbf16> -> tensor<?x8xf32>
  %l = moe.grouped_matmul %x, %wr : tensor<?x80xf32>, tensor<4x80xbf16> -> tensor<?x4xf32>
  return %r, %l : tensor<?x8xf32>, tensor<?x4xf32>
}

// -----

// A combine with the down projection fused in: each slot's row gets its
// token and routing weight (sequential loops over T x k), then an
// scf.forall over column tiles of the output (about 16 tiles, whole column
// blocks: here 8 of 4 columns) walks every expert's rows
// with the GEMM kernel and adds w · (row · downᵀ + bias) into the token's
// row of its own columns.
// CHECK-LABEL: func.func @combine_fused_down
// CHECK-SAME: %[[ARG3:[a-z0-9_]+]]: tensor<4x32x24xf32>
// CHECK: scf.for
// CHECK: scf.for
// CHECK: %[[P:.*]] = arith.index_cast
// CHECK: tensor.insert %{{.*}} into %{{.*}}[%[[P]]] : tensor<?xindex>
// CHECK: tensor.insert %{{.*}} into %{{.*}}[%[[P]]] : tensor<?xf32>
// CHECK: scf.forall (%[[I:.*]]) in (8) shared_outs(%[[OUT:.*]] =
// CHECK: %[[DEST:.*]] = tensor.extract_slice %[[OUT]][0, %[[N0:.*]]] [%{{.*}}, %[[SIZE:.*]]] [1, 1]
// CHECK: scf.for %[[G:.*]] = %c{{0(_[0-9]+)?}} to %c{{4(_[0-9]+)?}} step %c{{1(_[0-9]+)?}} iter_args(%{{.*}} = %[[DEST]])
// CHECK: tensor.extract_slice %[[ARG3]][%[[G]], 0, 0] [1, 32, 24] [1, 1, 1]
// CHECK: vector.fma
// CHECK: %[[TOK:.*]] = tensor.extract %{{.*}} : tensor<?xindex>
// CHECK: %[[SCALE:.*]] = tensor.extract %{{.*}} : tensor<?xf32>
// CHECK: %[[OLD:.*]] = tensor.extract %{{.*}}[%[[TOK]], %{{.*}}] : tensor<?x?xf32>
// CHECK: %[[ADD:.*]] = arith.mulf %[[SCALE]], %{{.*}} : f32
// CHECK: %[[NEW:.*]] = arith.addf %[[OLD]], %[[ADD]] : f32
// CHECK: tensor.insert %[[NEW]] into %{{.*}}[%[[TOK]], %{{.*}}] : tensor<?x?xf32>
// CHECK: tensor.parallel_insert_slice %{{.*}} into %[[OUT]][0, %[[N0]]] [%{{.*}}, %[[SIZE]]] [1, 1]
func.func @combine_fused_down(%h: tensor<?x24xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %wd: tensor<4x32x24xf32>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
  %y = moe.combine %h, %w, %inv down(%wd : tensor<4x32x24xf32>) down_offsets(%off : tensor<5xi32>) : tensor<?x24xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// A weight packed by moe-pack-weights: the GEMM reads the panels (the
// unpack goes away). Items are (group, panels); each k step loads the four
// vectors of one panel row, broadcasts one input element per row and
// prefetches lines of the next chunk (after an item's last chunk, the
// next item's first); the first chunk starts from the bias, later ones from
// the output. The next chunk's four streams go to
// the 6-row blocks: one each when there are four blocks or more, else
// each block prefetches up to four (two loops); the smaller blocks
// prefetch only when there is no 6-row block, and then only the first.
// The rows left after the 6-row blocks run as one block (of 4, 3, 2 or 1
// rows) or two (5: 4 and 1).
// CHECK-LABEL: func.func @grouped_matmul_packed
// CHECK-SAME: %[[ARG0:[a-z0-9_]+]]: tensor<?x16xf32>
// CHECK-SAME: %[[ARG1:[a-z0-9_]+]]: tensor<4x1x16x64xf32>
// CHECK-SAME: %[[ARG2:[a-z0-9_]+]]: tensor<5xi32>
// CHECK-NOT: linalg.unpack
// CHECK: %[[BUF:.*]] = bufferization.to_buffer %[[ARG1]] read_only : tensor<4x1x16x64xf32> to memref<4x1x16x64xf32>
// CHECK: %[[FLAT:.*]] = memref.collapse_shape %[[BUF]] {{\[\[}}0, 1, 2, 3]] : memref<4x1x16x64xf32> into memref<4096xf32>
// CHECK: scf.forall
// CHECK: %[[P:.*]] = tensor.extract_slice %[[ARG1]][%{{.*}}, 0, 0, 0] [1, 1, 16, 64] [1, 1, 1, 1] : tensor<4x1x16x64xf32> to tensor<1x16x64xf32>
// The chunk the item prefetches last: at a group's last panel run, the
// first panel (1024 elements a group) of the next group with rows.
// CHECK: %[[NEXT:.*]] = scf.if
// CHECK: scf.while
// CHECK: arith.cmpi ult, %{{.*}}, %c{{4(_[0-9]+)?}}
// CHECK: tensor.extract %[[ARG2]]
// CHECK: arith.cmpi sle
// CHECK: scf.condition
// CHECK: arith.muli %{{.*}}, %c{{1024(_[0-9]+)?}}
// CHECK: } else {
// CHECK: scf.for
// CHECK: %[[LASTP:.*]] = arith.cmpi eq, %{{.*}}, %{{.*}} : index
// CHECK: %[[LASTK:.*]] = arith.cmpi uge, %{{.*}}, %c{{16(_[0-9]+)?}}
// CHECK: %[[LAST:.*]] = arith.andi %[[LASTP]], %[[LASTK]]
// CHECK: arith.select %[[LAST]], %[[NEXT]], %{{.*}} : index
// CHECK: %[[FULL:.*]] = arith.divui %{{.*}}, %c{{6(_[0-9]+)?}}
// CHECK: %[[ENOUGH:.*]] = arith.cmpi uge, %[[FULL]], %c{{4(_[0-9]+)?}}
// CHECK: scf.if %[[ENOUGH]]
// CHECK: scf.for %{{.*}} step %c{{6(_[0-9]+)?}} iter_args
// CHECK: scf.if
// CHECK: vector.transfer_read %{{.*}} : tensor<40xf32>, vector<16xf32>
// CHECK: } else {
// CHECK: vector.transfer_read %{{.*}} : tensor<?x?xf32>, vector<16xf32>
// CHECK: scf.for %{{.*}} step %c{{1(_[0-9]+)?}} iter_args({{.*}}) -> (vector<16xf32>,
// CHECK-COUNT-4: vector.transfer_read %[[P]]{{.*}} {in_bounds = [true]} : tensor<1x16x64xf32>, vector<16xf32>
// CHECK: tensor.extract %[[ARG0]]
// CHECK: vector.broadcast {{.*}} : f32 to vector<16xf32>
// CHECK-COUNT-24: vector.fma
// CHECK: memref.prefetch %[[FLAT]][%{{.*}}], read, locality<3>, data : memref<4096xf32>
// CHECK-NEXT: scf.yield
// CHECK-COUNT-24: vector.transfer_write
// CHECK: } else {
// CHECK: scf.for %{{.*}} step %c{{6(_[0-9]+)?}} iter_args
// CHECK-COUNT-24: vector.fma
// CHECK-COUNT-4: memref.prefetch %[[FLAT]]
// CHECK-NEXT: scf.yield
// CHECK: scf.for %{{.*}} step %c{{4(_[0-9]+)?}} iter_args
// CHECK: %[[NONE:.*]] = arith.cmpi eq, %[[FULL]], %c{{0(_[0-9]+)?}}
// CHECK: %[[AT0:.*]] = arith.cmpi eq, %{{.*}}, %c{{0(_[0-9]+)?}}
// CHECK: arith.andi %[[NONE]], %[[AT0]]
// CHECK-COUNT-16: vector.fma
// CHECK-COUNT-4: memref.prefetch %[[FLAT]]
// CHECK: scf.for %{{.*}} step %c{{3(_[0-9]+)?}} iter_args
// CHECK-COUNT-12: vector.fma
// CHECK-COUNT-4: memref.prefetch %[[FLAT]]
// CHECK: scf.for %{{.*}} step %c{{2(_[0-9]+)?}} iter_args
// CHECK: scf.for %{{.*}} step %c{{1(_[0-9]+)?}} iter_args
// CHECK: tensor.parallel_insert_slice
// With 16 AVX2 registers, 8 vectors per panel row leave room for one row.
// AVX2-LABEL: func.func @grouped_matmul_packed
// AVX2-NOT: step %c{{6(_[0-9]+)?}}
// AVX2-COUNT-8: vector.fma {{.*}} : vector<8xf32>
// AVX2: scf.yield
func.func @grouped_matmul_packed(%x: tensor<?x16xf32>, %p: tensor<4x1x16x64xf32>, %off: tensor<5xi32>, %b: tensor<4x40xf32>) -> tensor<?x40xf32> {
  %e = tensor.empty() : tensor<4x40x16xf32>
  %w = linalg.unpack %p inner_dims_pos = [1] inner_tiles = [64] into %e : tensor<4x1x16x64xf32> -> tensor<4x40x16xf32>
  %r = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) bias(%b : tensor<4x40xf32>) : tensor<?x16xf32>, tensor<4x40x16xf32> -> tensor<?x40xf32>
  return %r : tensor<?x40xf32>
}

// -----

// Packed panels under a GEMM that gathers its rows (moe-fuse-dispatch):
// the output has one row per index, and each block row reads the input
// row its index names.
// CHECK-LABEL: func.func @grouped_matmul_packed_gather
// CHECK-SAME: %[[ARG0:[a-z0-9_]+]]: tensor<?x16xf32>
// CHECK-SAME: %[[ARG1:[a-z0-9_]+]]: tensor<?xi32>
// CHECK: %[[M:.*]] = tensor.dim %[[ARG1]], %c{{0(_[0-9]+)?}} : tensor<?xi32>
// CHECK: scf.forall
// CHECK: scf.for %{{.*}} step %c{{6(_[0-9]+)?}} iter_args
// CHECK: %[[I:.*]] = tensor.extract %[[ARG1]][%{{.*}}] : tensor<?xi32>
// CHECK: %[[ROW:.*]] = arith.index_cast %[[I]] : i32 to index
// CHECK: scf.for %{{.*}} step %c{{1(_[0-9]+)?}} iter_args
// CHECK: tensor.extract %[[ARG0]][%[[ROW]], %{{.*}}] : tensor<?x16xf32>
func.func @grouped_matmul_packed_gather(%x: tensor<?x16xf32>, %rows: tensor<?xi32>, %p: tensor<4x1x16x64xf32>, %off: tensor<5xi32>) -> tensor<?x40xf32> {
  %e = tensor.empty() : tensor<4x40x16xf32>
  %w = linalg.unpack %p inner_dims_pos = [1] inner_tiles = [64] into %e : tensor<4x1x16x64xf32> -> tensor<4x40x16xf32>
  %r = moe.grouped_matmul %x, %w gather(%rows : tensor<?xi32>) offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x40x16xf32> -> tensor<?x40xf32>
  return %r : tensor<?x40xf32>
}

// -----

// A packed weight of a GEMM without offsets (a router or shared expert):
// items are (chunk of 64 rows, panels); nothing is zero-filled. After the
// last panel run the next item reads the weight from its start again.
// CHECK-LABEL: func.func @dense_matmul_packed
// CHECK-SAME: %[[ARG1:[a-z0-9_]+]]: tensor<2x32x64xf32>
// CHECK-NOT: linalg.fill
// CHECK: bufferization.to_buffer %[[ARG1]] read_only : tensor<2x32x64xf32> to memref<2x32x64xf32>
// CHECK: memref.collapse_shape %{{.*}} {{\[\[}}0, 1, 2]] : memref<2x32x64xf32> into memref<4096xf32>
// CHECK: %[[CHUNKS:.*]] = arith.divui %{{.*}}, %c{{64(_[0-9]+)?}}
// CHECK: scf.forall
// CHECK: %[[FINALTILE:.*]] = arith.cmpi eq, %{{.*}}, %c{{0(_[0-9]+)?}} : index
// CHECK: arith.select %[[FINALTILE]], %c{{0(_[0-9]+)?}}, %{{.*}} : index
// CHECK: scf.for %{{.*}} step %c{{6(_[0-9]+)?}} iter_args
// CHECK: vector.transfer_read %[[ARG1]]{{.*}} {in_bounds = [true]} : tensor<2x32x64xf32>, vector<16xf32>
// CHECK: arith.extf {{.*}} : f16 to f32
// CHECK: vector.broadcast {{.*}} : f32 to vector<16xf32>
func.func @dense_matmul_packed(%x: tensor<?x32xf16>, %p: tensor<2x32x64xf32>) -> tensor<?x100xf32> {
  %e = tensor.empty() : tensor<100x32xf32>
  %w = linalg.unpack %p inner_dims_pos = [0] inner_tiles = [64] into %e : tensor<2x32x64xf32> -> tensor<100x32xf32>
  %r = moe.grouped_matmul %x, %w : tensor<?x32xf16>, tensor<100x32xf32> -> tensor<?x100xf32>
  return %r : tensor<?x100xf32>
}

// -----

// The gate and up projections with the activation in the epilogue
// (moe-fuse-gate-up) on packed panels: one item streams the gate's panels
// into the result, then the up's same panels into a scratch tensor, then
// applies the activation to its tile. The gate's last chunk prefetches
// the up's first from the up weight (the buffer is chosen per chunk); the
// up's last chunk the next item's first gate chunk.
// CHECK-LABEL: func.func @gate_up_packed
// CHECK-SAME: %[[ARG1:[a-z0-9_]+]]: tensor<4x1x16x64xf32>
// CHECK-SAME: %[[ARG2:[a-z0-9_]+]]: tensor<4x1x16x64xf32>
// CHECK-NOT: linalg.unpack
// CHECK: %[[GB:.*]] = bufferization.to_buffer %[[ARG1]] read_only
// CHECK: %[[GF:.*]] = memref.collapse_shape %[[GB]]
// CHECK: %[[UB:.*]] = bufferization.to_buffer %[[ARG2]] read_only
// CHECK: %[[UF:.*]] = memref.collapse_shape %[[UB]]
// CHECK: scf.forall (%{{.*}}) in (%{{.*}}) shared_outs(%[[OUT:.*]] = %{{.*}}, %[[UPOUT:.*]] = %{{.*}}) -> (tensor<?x40xf32>, tensor<?x40xf32>)
// CHECK: %[[GD:.*]] = tensor.extract_slice %[[OUT]]
// CHECK: %[[UD:.*]] = tensor.extract_slice %[[UPOUT]]
// CHECK: %[[GP:.*]] = tensor.extract_slice %[[ARG1]]
// CHECK: %[[UP:.*]] = tensor.extract_slice %[[ARG2]]
// CHECK: %[[G:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %[[GD]])
// CHECK: arith.select %{{.*}}, %[[UF]], %[[GF]] : memref<4096xf32>
// CHECK: vector.transfer_read %[[GP]]
// CHECK: %[[U:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %[[UD]])
// CHECK: arith.select %{{.*}}, %[[GF]], %[[UF]] : memref<4096xf32>
// CHECK: vector.transfer_read %[[UP]]
// CHECK: %[[H:.*]] = linalg.generic {{.*}} ins(%[[U]] : tensor<?x?xf32>) outs(%[[G]] : tensor<?x?xf32>)
// CHECK: math.exp
// CHECK: tensor.parallel_insert_slice %[[H]] into %[[OUT]]
// CHECK: tensor.parallel_insert_slice %[[U]] into %[[UPOUT]]
func.func @gate_up_packed(%x: tensor<?x16xf32>, %pg: tensor<4x1x16x64xf32>, %pu: tensor<4x1x16x64xf32>, %off: tensor<5xi32>, %bg: tensor<4x40xf32>, %bu: tensor<4x40xf32>) -> tensor<?x40xf32> {
  %e = tensor.empty() : tensor<4x40x16xf32>
  %g = linalg.unpack %pg inner_dims_pos = [1] inner_tiles = [64] into %e : tensor<4x1x16x64xf32> -> tensor<4x40x16xf32>
  %e2 = tensor.empty() : tensor<4x40x16xf32>
  %u = linalg.unpack %pu inner_dims_pos = [1] inner_tiles = [64] into %e2 : tensor<4x1x16x64xf32> -> tensor<4x40x16xf32>
  %r = moe.grouped_matmul %x, %g offsets(%off : tensor<5xi32>) bias(%bg : tensor<4x40xf32>) up(%u : tensor<4x40x16xf32>) up_bias(%bu : tensor<4x40xf32>) activation(#moe.activation<swiglu>) : tensor<?x16xf32>, tensor<4x40x16xf32> -> tensor<?x40xf32>
  return %r : tensor<?x40xf32>
}

// -----

// An elementwise activation in the epilogue of a packed GEMM with a bf16
// result: the sums go through an f32 scratch tensor, and the epilogue
// writes the activation, rounded, into the result's tile.
// CHECK-LABEL: func.func @gelu_packed_bf16
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : bf16
// CHECK: linalg.fill ins(%[[ZERO]] : bf16)
// CHECK: %[[SCRATCH:.*]] = bufferization.alloc_tensor(%{{.*}}) : tensor<?x40xf32>
// CHECK: scf.forall (%{{.*}}) in (%{{.*}}) shared_outs(%[[OUT:.*]] = %{{.*}}, %[[SUMS:.*]] = %[[SCRATCH]]) -> (tensor<?x40xbf16>, tensor<?x40xf32>)
// CHECK: %[[D:.*]] = tensor.extract_slice %[[OUT]]
// CHECK: %[[SD:.*]] = tensor.extract_slice %[[SUMS]]
// CHECK: %[[S:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %[[SD]])
// CHECK: vector.fma
// CHECK: %[[H:.*]] = linalg.generic {{.*}} ins(%[[S]] : tensor<?x?xf32>) outs(%[[D]] : tensor<?x?xbf16>)
// CHECK: math.erf
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: tensor.parallel_insert_slice %[[H]] into %[[OUT]]
// CHECK: tensor.parallel_insert_slice %[[S]] into %[[SUMS]]
func.func @gelu_packed_bf16(%x: tensor<?x16xf32>, %p: tensor<4x1x16x64xf32>, %off: tensor<5xi32>) -> tensor<?x40xbf16> {
  %e = tensor.empty() : tensor<4x40x16xf32>
  %w = linalg.unpack %p inner_dims_pos = [1] inner_tiles = [64] into %e : tensor<4x1x16x64xf32> -> tensor<4x40x16xf32>
  %r = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) activation(#moe.activation<gelu>) : tensor<?x16xf32>, tensor<4x40x16xf32> -> tensor<?x40xbf16>
  return %r : tensor<?x40xbf16>
}

// bf16 weights packed in pairs of k (moe-pack-weights with bf16-dot): each
// item rounds its rows to bf16 once; each step loads four vectors of 16
// columns x 2 k and does one vdpbf16ps per row and vector with the row's
// two elements broadcast as a 32-bit pair.
// PAIRS-LABEL: func.func @pairs
// PAIRS-SAME: %[[ARG1:[a-z0-9_]+]]: tensor<4x1x8x64x2xbf16>
// PAIRS: bufferization.to_buffer %[[ARG1]] read_only : tensor<4x1x8x64x2xbf16> to memref<4x1x8x64x2xbf16>
// PAIRS: scf.forall
// PAIRS: linalg.generic {{.*}} outs(%{{.*}} : tensor<?x16xbf16>)
// PAIRS: %[[C:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0], [1], [2, 3]] : tensor<1x8x64x2xbf16> into tensor<1x8x128xbf16>
// PAIRS: scf.for %{{.*}} step %c{{6(_[0-9]+)?}} iter_args
// PAIRS-COUNT-4: vector.transfer_read %[[C]]{{.*}} : tensor<1x8x128xbf16>, vector<32xbf16>
// PAIRS: vector.bitcast %{{.*}} : vector<2xbf16> to vector<1xi32>
// PAIRS: vector.broadcast %{{.*}} : vector<1xi32> to vector<16xi32>
// PAIRS: vector.bitcast %{{.*}} : vector<16xi32> to vector<32xbf16>
// PAIRS-COUNT-4: x86vector.avx512.dot

// Panels in 4 slices (moe-pack-weights slices=4: [S, E, P, K, w] =
// [4, 4, 2, 16, 16], N = 128): panel p of an expert reads its 4 vectors
// from panel p of each slice, whose columns are 32 apart in the output.
// The items write [rows, 4, 32] views of the result, one run of columns
// per slice. Each slice's next chunk is a prefetch stream: an expert's
// panels start 2 · 16 · 16 = 512 elements apart in a slice, the slices
// 4 · 512 = 2048 apart. The blocks below 6 rows prefetch only the jump to
// the next item (its first chunk after the item's last), not the chunk
// that follows in memory, which the hardware prefetcher streams.
// SLICED-LABEL: func.func @slices
// SLICED-SAME: %[[ARG1:[a-z0-9_]+]]: tensor<4x4x2x16x16xf32>
// SLICED: %[[OUT:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [%{{.*}}, 4, 32] : tensor<?x128xf32> into tensor<?x4x32xf32>
// SLICED: %[[FLAT:.*]] = memref.collapse_shape %{{.*}} : memref<4x4x2x16x16xf32> into memref<8192xf32>
// SLICED: %[[R:.*]] = scf.forall {{.*}} shared_outs(%{{.*}} = %[[OUT]]) -> (tensor<?x4x32xf32>)
// SLICED: %[[P:.*]] = tensor.extract_slice %[[ARG1]][0, %[[G:.*]], 0, 0, 0] [4, 1, 2, 16, 16] [1, 1, 1, 1, 1] : tensor<4x4x2x16x16xf32> to tensor<4x2x16x16xf32>
// SLICED: arith.muli %[[G]], %c{{512(_[0-9]+)?}} : index
// SLICED: arith.cmpi uge, %{{.*}}, %c{{16(_[0-9]+)?}} : index
// SLICED-NEXT: %[[JUMP:.*]] = arith.andi %{{.*}}, %{{.*}} : i1
// SLICED-NEXT: arith.select %[[JUMP]]
// SLICED: arith.muli %{{.*}}, %c{{2048(_[0-9]+)?}} : index
// SLICED: vector.transfer_read %{{.*}}[%{{.*}}, %c{{3(_[0-9]+)?}}, %{{.*}}], %{{.*}} : tensor<?x4x?xf32>, vector<16xf32>
// SLICED: vector.transfer_read %[[P]][%c{{0(_[0-9]+)?}}, %[[PANEL:.*]], %[[K:.*]], %c{{0(_[0-9]+)?}}], %{{.*}} {in_bounds = [true]} : tensor<4x2x16x16xf32>, vector<16xf32>
// SLICED-NEXT: vector.transfer_read %[[P]][%c{{1(_[0-9]+)?}}, %[[PANEL]], %[[K]], %c{{0(_[0-9]+)?}}]
// SLICED-NEXT: vector.transfer_read %[[P]][%c{{2(_[0-9]+)?}}, %[[PANEL]], %[[K]], %c{{0(_[0-9]+)?}}]
// SLICED-NEXT: vector.transfer_read %[[P]][%c{{3(_[0-9]+)?}}, %[[PANEL]], %[[K]], %c{{0(_[0-9]+)?}}]
// SLICED-COUNT-24: vector.fma
// SLICED: memref.prefetch %[[FLAT]]
// SLICED: vector.transfer_write %{{.*}}, %{{.*}}[%{{.*}}, %c{{3(_[0-9]+)?}}, %{{.*}}] : vector<16xf32>, tensor<?x4x?xf32>
// SLICED: scf.for %{{.*}} step %c{{4(_[0-9]+)?}}
// SLICED-NEXT: arith.cmpi eq, %{{.*}}, %c{{0(_[0-9]+)?}} : index
// SLICED-NEXT: arith.cmpi eq, %{{.*}}, %c{{0(_[0-9]+)?}} : index
// SLICED-NEXT: %[[FIRST:.*]] = arith.andi
// SLICED-NEXT: %[[ON:.*]] = arith.andi %[[FIRST]], %[[JUMP]] : i1
// SLICED-NEXT: arith.muli %c{{0(_[0-9]+)?}}, %c{{2048(_[0-9]+)?}} : index
// SLICED-NEXT: %[[S0:.*]] = arith.addi
// SLICED-NEXT: arith.select %[[ON]], %[[S0]], %{{.*}} : index
// SLICED: tensor.parallel_insert_slice %{{.*}} into %{{.*}}[%{{.*}}, 0, %{{.*}}] [%{{.*}}, 4, %{{.*}}] [1, 1, 1] : tensor<?x4x?xf32> into tensor<?x4x32xf32>
// SLICED: %[[C:.*]] = tensor.collapse_shape %[[R]] {{\[}}[0], [1, 2]] : tensor<?x4x32xf32> into tensor<?x128xf32>
// SLICED: return %[[C]]

// AVX2's panels: 2 slices of 8-column panels (moe-pack-weights
// panel-width=16 slices=2) read as one 16-column panel, in blocks of 6 rows
// x 2 vectors of 8 lanes (12 accumulators of the 16 registers), then 4, 3,
// 2 and 1 rows.
// AVX2SLICED-LABEL: func.func @slices_avx2
// AVX2SLICED-SAME: %[[ARG1:[a-z0-9_]+]]: tensor<2x4x2x16x8xf32>
// AVX2SLICED: %[[P:.*]] = tensor.extract_slice %[[ARG1]][0, %{{.*}}, 0, 0, 0] [2, 1, 2, 16, 8]
// AVX2SLICED: scf.for %{{.*}} step %c{{6(_[0-9]+)?}} iter_args
// AVX2SLICED: scf.for {{.*}} -> (vector<8xf32>, {{.*}}, vector<8xf32>)
// AVX2SLICED: vector.transfer_read %[[P]][%c{{0(_[0-9]+)?}}, {{.*}} : tensor<2x2x16x8xf32>, vector<8xf32>
// AVX2SLICED: vector.transfer_read %[[P]][%c{{1(_[0-9]+)?}}, {{.*}} : tensor<2x2x16x8xf32>, vector<8xf32>
// AVX2SLICED-COUNT-12: vector.fma {{.*}} : vector<8xf32>
// AVX2SLICED: memref.prefetch
// AVX2SLICED: scf.for %{{.*}} step %c{{4(_[0-9]+)?}} iter_args
// AVX2SLICED-COUNT-8: vector.fma {{.*}} : vector<8xf32>

// -----

// Block-quantized weights are read as they lie: the argument becomes its
// bytes (q4_0: 18 bytes per 32 k, so [4, 32, 36] i8), and the kernel walks
// k one block at a time, loading each weight row's f16 scale and its 16
// bytes of 4-bit values (low halves for k 0..15, high halves for 16..31),
// less 8, to f32 times the scale before the FMAs; chunk by chunk of 16 k,
// each weight row's chunk decoded once for the block's rows.
// CHECK-LABEL: func.func @grouped_matmul_q4_0
// CHECK-SAME: %{{[a-z0-9_]+}}: tensor<?x64xf32>
// CHECK-SAME: %[[QW:[a-z0-9_]+]]: tensor<4x32x36xi8>
// CHECK-NOT: unrealized_conversion_cast
// CHECK: scf.forall
// CHECK: %[[QE:.*]] = tensor.extract_slice %[[QW]][%{{.*}}, 0, 0] [1, 32, 36] [1, 1, 1] : tensor<4x32x36xi8> to tensor<32x36xi8>
// CHECK: scf.for %[[KB:.*]] = %c{{0(_[0-9]+)?}} to %c{{2(_[0-9]+)?}} step %c{{1(_[0-9]+)?}}
// CHECK: %[[D8:.*]] = vector.transfer_read %[[QE]][%{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<32x36xi8>, vector<2xi8>
// CHECK: %[[D16:.*]] = vector.bitcast %[[D8]] : vector<2xi8> to vector<1xf16>
// CHECK: %[[LO8:.*]] = vector.transfer_read %[[QE]]{{.*}} : tensor<32x36xi8>, vector<16xi8>
// CHECK: %[[LO:.*]] = arith.andi %[[LO8]], %{{.*}} : vector<16xi8>
// CHECK: %[[LOC:.*]] = arith.subi %[[LO]], %{{.*}} : vector<16xi8>
// CHECK: %[[LOF:.*]] = arith.sitofp %[[LOC]] : vector<16xi8> to vector<16xf32>
// CHECK: %[[LOW:.*]] = arith.mulf %[[LOF]], %{{.*}} : vector<16xf32>
// CHECK: vector.fma %{{.*}}, %[[LOW]], %{{.*}} : vector<16xf32>
// Then the high halves of the same 16 bytes.
// CHECK: arith.shrui %{{.*}}, %{{.*}} : vector<16xi8>
// AVX2-LABEL: func.func @grouped_matmul_q4_0
// AVX2: vector.bitcast %{{.*}} : vector<2xi8> to vector<1xf16>
// AVX2: arith.sitofp %{{.*}} : vector<8xi8> to vector<8xf32>
// AVX2: arith.shrui %{{.*}} : vector<8xi8>
func.func @grouped_matmul_q4_0(%x: tensor<?x64xf32>, %w: tensor<4x32x64x!moe.quant<q4_0>>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x64xf32>, tensor<4x32x64x!moe.quant<q4_0>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// q8_0: 34 bytes per 32 k; the shared expert's dense weight alike.
// CHECK-LABEL: func.func @dense_q8_0
// CHECK-SAME: %[[Q8:[a-z0-9_]+]]: tensor<32x68xi8>
// CHECK: vector.transfer_read %[[Q8]]{{.*}} : tensor<32x68xi8>, vector<2xi8>
// CHECK: %[[Q:.*]] = vector.transfer_read %[[Q8]]{{.*}} : tensor<32x68xi8>, vector<16xi8>
// CHECK: arith.sitofp %[[Q]] : vector<16xi8> to vector<16xf32>
func.func @dense_q8_0(%x: tensor<?x64xf32>, %w: tensor<32x64x!moe.quant<q8_0>>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x64xf32>, tensor<32x64x!moe.quant<q8_0>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// mxfp4: 17 bytes per 32 k, the e8m0 exponent first. Its scale (halved,
// for the doubled e2m1 values) is built as f32 bits: 0x00200000 << e
// below 2, else (e - 1) << 23. With 16 lanes the doubled values are a
// table looked up by vpermps (the low 4 bits of each widened byte; the
// high nibbles shifted down first); with fewer, each nibble's doubled
// value is x + max(x - 4, 0) + 2 max(x - 6, 0) for its low 3 bits x,
// negated by bit 3 as (v ^ -s) + s.
// CHECK-LABEL: func.func @dense_mxfp4
// CHECK-SAME: %[[MX:[a-z0-9_]+]]: tensor<16x34xi8>
// CHECK: %[[TABLE:.*]] = arith.constant dense<[0.000000e+00, 1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00, 6.000000e+00, 8.000000e+00, 1.200000e+01, -0.000000e+00, -1.000000e+00, -2.000000e+00, -3.000000e+00, -4.000000e+00, -6.000000e+00, -8.000000e+00, -1.200000e+01]> : vector<16xf32>
// CHECK: %[[RAW:.*]] = vector.transfer_read %[[MX]]{{.*}} : tensor<16x34xi8>, vector<16xi8>
// CHECK: %[[IDX:.*]] = arith.extui %[[RAW]] : vector<16xi8> to vector<16xi32>
// CHECK: %[[V:.*]] = llvm.inline_asm asm_dialect = att "vpermps $2, $1, $0", "=v,v,v" %[[IDX]], %[[TABLE]] : (vector<16xi32>, vector<16xf32>) -> vector<16xf32>
// CHECK: %[[E8:.*]] = tensor.extract %[[MX]]
// CHECK: %[[E:.*]] = arith.extui %[[E8]] : i8 to i32
// CHECK: %[[SMALL:.*]] = arith.cmpi ult, %[[E]], %{{.*}} : i32
// CHECK: %[[SUB:.*]] = arith.shli %{{.*}}, %[[E]] : i32
// CHECK: %[[EM1:.*]] = arith.subi %[[E]], %{{.*}} : i32
// CHECK: %[[NORM:.*]] = arith.shli %[[EM1]], %{{.*}} : i32
// CHECK: %[[BITS:.*]] = arith.select %[[SMALL]], %[[SUB]], %[[NORM]] : i32
// CHECK: %[[SCALE:.*]] = arith.bitcast %[[BITS]] : i32 to f32
// CHECK: %[[SPLAT:.*]] = vector.broadcast %[[SCALE]] : f32 to vector<16xf32>
// CHECK: arith.mulf %[[V]], %[[SPLAT]] : vector<16xf32>
// The high nibbles: the widened bytes shifted right by 4.
// CHECK: %[[HSH:.*]] = arith.shrui %{{.*}}, %{{.*}} : vector<16xi32>
// CHECK: llvm.inline_asm asm_dialect = att "vpermps $2, $1, $0", "=v,v,v" %[[HSH]], %[[TABLE]]
// AVX2-LABEL: func.func @dense_mxfp4
// AVX2-NOT: llvm.inline_asm
// AVX2: %[[N:.*]] = arith.andi %{{.*}}, %{{.*}} : vector<8xi8>
// AVX2: %[[X:.*]] = arith.andi %[[N]], %{{.*}} : vector<8xi8>
// AVX2: %[[X4:.*]] = arith.subi %[[X]], %{{.*}} : vector<8xi8>
// AVX2: %[[A4:.*]] = arith.maxsi %[[X4]], %{{.*}} : vector<8xi8>
// AVX2: %[[M:.*]] = arith.addi %[[X]], %[[A4]] : vector<8xi8>
// AVX2: arith.maxsi
// AVX2: %[[S:.*]] = arith.shrui %[[N]], %{{.*}} : vector<8xi8>
// AVX2: %[[NS:.*]] = arith.subi %{{.*}}, %[[S]] : vector<8xi8>
// AVX2: %[[F:.*]] = arith.xori %{{.*}}, %[[NS]] : vector<8xi8>
// AVX2: %[[V2:.*]] = arith.addi %[[F]], %[[S]] : vector<8xi8>
// AVX2: arith.sitofp %[[V2]] : vector<8xi8> to vector<8xf32>
// SSE-LABEL: func.func @dense_mxfp4
// SSE: arith.sitofp %{{.*}} : vector<4xi8> to vector<4xf32>
func.func @dense_mxfp4(%x: tensor<?x64xf32>, %w: tensor<16x64x!moe.quant<mxfp4>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x64xf32>, tensor<16x64x!moe.quant<mxfp4>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// u4z: 21 bytes per 32 k, an f32 scale, the zero point, then q4_0's
// nibbles. Each chunk is (n - z) in f32, then times the scale: the codes
// widened unsigned, the zero point subtracted exactly, as ONNX Runtime's
// QMoE dequantizes.
// CHECK-LABEL: func.func @dense_u4z
// CHECK-SAME: %[[UZ:[a-z0-9_]+]]: tensor<16x42xi8>
// CHECK: %[[RAW4:.*]] = vector.transfer_read %[[UZ]]{{.*}} : tensor<16x42xi8>, vector<16xi8>
// CHECK: %[[N4:.*]] = arith.andi %[[RAW4]], %{{.*}} : vector<16xi8>
// CHECK: %[[Z8:.*]] = tensor.extract %[[UZ]]
// CHECK: %[[Z32:.*]] = arith.extui %[[Z8]] : i8 to i32
// CHECK: %[[Z:.*]] = arith.uitofp %[[Z32]] : i32 to f32
// CHECK: %[[NF:.*]] = arith.uitofp %[[N4]] : vector<16xi8> to vector<16xf32>
// CHECK: %[[ZS:.*]] = vector.broadcast %[[Z]] : f32 to vector<16xf32>
// CHECK: %[[NZ:.*]] = arith.subf %[[NF]], %[[ZS]] : vector<16xf32>
// CHECK: %[[D4:.*]] = vector.transfer_read %[[UZ]]{{.*}} : tensor<16x42xi8>, vector<4xi8>
// CHECK: %[[D1:.*]] = vector.bitcast %[[D4]] : vector<4xi8> to vector<1xf32>
// CHECK: %[[D:.*]] = vector.extract %[[D1]][0] : f32 from vector<1xf32>
// CHECK: %[[DS:.*]] = vector.broadcast %[[D]] : f32 to vector<16xf32>
// CHECK: arith.mulf %[[NZ]], %[[DS]] : vector<16xf32>
// The high nibbles, for elements 16 to 31.
// CHECK: arith.shrui %{{.*}}, %{{.*}} : vector<16xi8>
// AVX2-LABEL: func.func @dense_u4z
// AVX2: arith.uitofp %{{.*}} : vector<8xi8> to vector<8xf32>
// AVX2: arith.subf %{{.*}}, %{{.*}} : vector<8xf32>
func.func @dense_u4z(%x: tensor<?x64xf32>, %w: tensor<16x64x!moe.quant<u4z>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x64xf32>, tensor<16x64x!moe.quant<u4z>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// u4z128: 69 bytes per 128 k; chunks 0 and 1 the low nibbles of bytes 5
// to 36, chunks 2 and 3 (elements 32 to 63) their high nibbles.
// CHECK-LABEL: func.func @dense_u4z128
// CHECK-SAME: %[[UZ128:[a-z0-9_]+]]: tensor<16x69xi8>
// CHECK: %[[R0:.*]] = vector.transfer_read %[[UZ128]]{{.*}} : tensor<16x69xi8>, vector<16xi8>
// CHECK: arith.andi %[[R0]], %{{.*}} : vector<16xi8>
// CHECK: arith.subf %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK: arith.shrui %{{.*}}, %{{.*}} : vector<16xi8>
func.func @dense_u4z128(%x: tensor<?x128xf32>, %w: tensor<16x128x!moe.quant<u4z128>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x128xf32>, tensor<16x128x!moe.quant<u4z128>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// u2z: 13 bytes per 32 k, an f32 scale, the zero point, then 8 bytes
// holding element j in bits 2 (j / 8). A 16-lane chunk is the 8 bytes'
// bits 0-1 then bits 2-3 (or 4-5 then 6-7), less the zero point, times
// the scale; 8 lanes (AVX2) one pair of bits.
// CHECK-LABEL: func.func @dense_u2z
// CHECK-SAME: %[[U2:[a-z0-9_]+]]: tensor<16x26xi8>
// CHECK: %[[R2:.*]] = vector.transfer_read %[[U2]]{{.*}} : tensor<16x26xi8>, vector<8xi8>
// CHECK: %[[C0:.*]] = arith.andi %[[R2]], %[[THREE:.*]] : vector<8xi8>
// CHECK: %[[S1:.*]] = arith.shrui %[[R2]], %{{.*}} : vector<8xi8>
// CHECK: %[[C1:.*]] = arith.andi %[[S1]], %[[THREE]] : vector<8xi8>
// CHECK: %[[Q2:.*]] = vector.shuffle %[[C0]], %[[C1]] [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] : vector<8xi8>, vector<8xi8>
// CHECK: %[[QF2:.*]] = arith.uitofp %[[Q2]] : vector<16xi8> to vector<16xf32>
// CHECK: %[[QZ2:.*]] = arith.subf %[[QF2]], %{{.*}} : vector<16xf32>
// CHECK: arith.mulf %[[QZ2]], %{{.*}} : vector<16xf32>
// AVX2-LABEL: func.func @dense_u2z
// AVX2: %[[R2A:.*]] = vector.transfer_read %{{.*}} : tensor<16x26xi8>, vector<8xi8>
// AVX2: %[[C0A:.*]] = arith.andi %[[R2A]], %{{.*}} : vector<8xi8>
// AVX2: arith.uitofp %[[C0A]] : vector<8xi8> to vector<8xf32>
func.func @dense_u2z(%x: tensor<?x64xf32>, %w: tensor<16x64x!moe.quant<u2z>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x64xf32>, tensor<16x64x!moe.quant<u2z>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// u2z128: 37 bytes per 128 k; chunk c of 16 elements is bits 2 (c % 4)
// of the 16 bytes at 5 + 16 (c / 4).
// CHECK-LABEL: func.func @dense_u2z128
// CHECK-SAME: %[[U2B:[a-z0-9_]+]]: tensor<16x37xi8>
// CHECK: %[[R2B:.*]] = vector.transfer_read %[[U2B]]{{.*}} : tensor<16x37xi8>, vector<16xi8>
// CHECK: %[[C0B:.*]] = arith.andi %[[R2B]], %{{.*}} : vector<16xi8>
// CHECK: arith.uitofp %[[C0B]] : vector<16xi8> to vector<16xf32>
// The next chunk's, bits 2-3:
// CHECK: %[[S2C:.*]] = arith.shrui %{{.*}}, %{{.*}} : vector<16xi8>
// CHECK: arith.andi %[[S2C]], %{{.*}} : vector<16xi8>
func.func @dense_u2z128(%x: tensor<?x128xf32>, %w: tensor<16x128x!moe.quant<u2z128>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x128xf32>, tensor<16x128x!moe.quant<u2z128>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// u4z16: 13 bytes per 16 k, the f32 scale, the zero point, then 8 bytes
// holding elements j and j + 8. A block is one 16-lane chunk: the 8 bytes'
// low nibbles then their high ones; 8 lanes (AVX2) take the low nibbles,
// then the high ones; 4 lanes (SSE) bytes 0-3 and 4-7 of each.
// CHECK-LABEL: func.func @dense_u4z16
// CHECK-SAME: %[[U16:[a-z0-9_]+]]: tensor<16x52xi8>
// CHECK: %[[R16:.*]] = vector.transfer_read %[[U16]]{{.*}} : tensor<16x52xi8>, vector<8xi8>
// CHECK: %[[LO16:.*]] = arith.andi %[[R16]], %{{.*}} : vector<8xi8>
// CHECK: %[[HI16:.*]] = arith.shrui %[[R16]], %{{.*}} : vector<8xi8>
// CHECK: %[[Q16:.*]] = vector.shuffle %[[LO16]], %[[HI16]] [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] : vector<8xi8>, vector<8xi8>
// CHECK: %[[QF16:.*]] = arith.uitofp %[[Q16]] : vector<16xi8> to vector<16xf32>
// CHECK: %[[QZ16:.*]] = arith.subf %[[QF16]], %{{.*}} : vector<16xf32>
// CHECK: arith.mulf %[[QZ16]], %{{.*}} : vector<16xf32>
// AVX2-LABEL: func.func @dense_u4z16
// AVX2: %[[R16A:.*]] = vector.transfer_read %{{.*}} : tensor<16x52xi8>, vector<8xi8>
// AVX2: %[[LO16A:.*]] = arith.andi %[[R16A]], %{{.*}} : vector<8xi8>
// AVX2: arith.uitofp %[[LO16A]] : vector<8xi8> to vector<8xf32>
// The high nibbles' chunk, after the low ones' of every weight row:
// AVX2: %[[HI16A:.*]] = arith.shrui %{{.*}}, %{{.*}} : vector<8xi8>
// AVX2: arith.uitofp %[[HI16A]] : vector<8xi8> to vector<8xf32>
// SSE-LABEL: func.func @dense_u4z16
// SSE: %[[R16S:.*]] = vector.transfer_read %{{.*}} : tensor<16x52xi8>, vector<4xi8>
// SSE: %[[LO16S:.*]] = arith.andi %[[R16S]], %{{.*}} : vector<4xi8>
// SSE: arith.uitofp %[[LO16S]] : vector<4xi8> to vector<4xf32>
func.func @dense_u4z16(%x: tensor<?x64xf32>, %w: tensor<16x64x!moe.quant<u4z16>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x64xf32>, tensor<16x64x!moe.quant<u4z16>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// u2z16: 9 bytes per 16 k; a 16-lane chunk is the 4 bytes' bits 0-1, 2-3,
// 4-5 and 6-7 end to end.
// CHECK-LABEL: func.func @dense_u2z16
// CHECK-SAME: %[[U216:[a-z0-9_]+]]: tensor<16x36xi8>
// CHECK: %[[R216:.*]] = vector.transfer_read %[[U216]]{{.*}} : tensor<16x36xi8>, vector<4xi8>
// CHECK: %[[C0216:.*]] = arith.andi %[[R216]], %[[M216:.*]] : vector<4xi8>
// CHECK: %[[S1216:.*]] = arith.shrui %[[R216]], %{{.*}} : vector<4xi8>
// CHECK: %[[C1216:.*]] = arith.andi %[[S1216]], %[[M216]] : vector<4xi8>
// CHECK: %[[S2216:.*]] = arith.shrui %[[R216]], %{{.*}} : vector<4xi8>
// CHECK: %[[C2216:.*]] = arith.andi %[[S2216]], %[[M216]] : vector<4xi8>
// CHECK: %[[C3216:.*]] = arith.shrui %[[R216]], %{{.*}} : vector<4xi8>
// CHECK: %[[C01:.*]] = vector.shuffle %[[C0216]], %[[C1216]] [0, 1, 2, 3, 4, 5, 6, 7] : vector<4xi8>, vector<4xi8>
// CHECK: %[[C23:.*]] = vector.shuffle %[[C2216]], %[[C3216]] [0, 1, 2, 3, 4, 5, 6, 7] : vector<4xi8>, vector<4xi8>
// CHECK: %[[Q216:.*]] = vector.shuffle %[[C01]], %[[C23]] [0, 1, {{.*}}, 14, 15] : vector<8xi8>, vector<8xi8>
// CHECK: arith.uitofp %[[Q216]] : vector<16xi8> to vector<16xf32>
func.func @dense_u2z16(%x: tensor<?x64xf32>, %w: tensor<16x64x!moe.quant<u2z16>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x64xf32>, tensor<16x64x!moe.quant<u2z16>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// fp8_e4m3: 132 bytes per 128 k, the f32 scale first. Each chunk's e4m3
// bytes become f16 bits (sign << 8 | rest << 7: the value times 2^-8),
// widened to f32, times the scale times 256.
// CHECK-LABEL: func.func @dense_fp8
// CHECK-SAME: %[[F8:[a-z0-9_]+]]: tensor<16x264xi8>
// CHECK: %[[RAW8:.*]] = vector.transfer_read %[[F8]]{{.*}} : tensor<16x264xi8>, vector<16xi8>
// CHECK: %[[W16:.*]] = arith.extui %[[RAW8]] : vector<16xi8> to vector<16xi16>
// CHECK: %[[SIGN:.*]] = arith.andi %[[W16]], %{{.*}} : vector<16xi16>
// CHECK: %[[SIGNHI:.*]] = arith.shli %[[SIGN]], %{{.*}} : vector<16xi16>
// CHECK: %[[REST:.*]] = arith.andi %[[W16]], %{{.*}} : vector<16xi16>
// CHECK: %[[RESTHI:.*]] = arith.shli %[[REST]], %{{.*}} : vector<16xi16>
// CHECK: %[[BITS16:.*]] = arith.ori %[[SIGNHI]], %[[RESTHI]] : vector<16xi16>
// CHECK: %[[HALF:.*]] = arith.bitcast %[[BITS16]] : vector<16xi16> to vector<16xf16>
// CHECK: %[[WIDE:.*]] = arith.extf %[[HALF]] : vector<16xf16> to vector<16xf32>
// CHECK: %[[D8:.*]] = vector.bitcast %{{.*}} : vector<4xi8> to vector<1xf32>
// CHECK: %[[D8S:.*]] = vector.extract %[[D8]][0] : f32 from vector<1xf32>
// CHECK: %[[D256:.*]] = arith.mulf %[[D8S]], %{{.*}} : f32
// CHECK: %[[DSPLAT:.*]] = vector.broadcast %[[D256]] : f32 to vector<16xf32>
// CHECK: arith.mulf %[[WIDE]], %[[DSPLAT]] : vector<16xf32>
// AVX2-LABEL: func.func @dense_fp8
// AVX2: arith.extf %{{.*}} : vector<8xf16> to vector<8xf32>
func.func @dense_fp8(%x: tensor<?x256xf32>, %w: tensor<16x256x!moe.quant<fp8_e4m3>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x256xf32>, tensor<16x256x!moe.quant<fp8_e4m3>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// An unused quantized argument takes its bytes' type too.
// CHECK-LABEL: func.func @unused_q8_0
// CHECK-SAME: %{{[a-z0-9_]+}}: tensor<8x34xi8>
func.func @unused_q8_0(%x: tensor<?x32xf32>, %w: tensor<8x32x!moe.quant<q8_0>>) -> tensor<?x32xf32> {
  return %x : tensor<?x32xf32>
}

// -----

// q4_k: 144 bytes per 256 k. Each 16-lane chunk reads its sub-block's
// 6-bit scale and min (scalar bytes, widened to i32), the f16 d and dmin,
// and 16 bytes of nibbles: w = n · (d · sc) − dmin · m. An item runs
// only for an expert with rows (most have none in decode); the others
// keep the result's zeros.
// CHECK-LABEL: func.func @grouped_matmul_q4_k
// CHECK-SAME: %[[K4:[a-z0-9_]+]]: tensor<4x32x144xi8>
// CHECK: scf.forall
// CHECK: %[[DEST:.*]] = tensor.extract_slice
// CHECK: %[[ANY:.*]] = arith.cmpi ugt, %{{.*}}, %c0 : index
// CHECK-NEXT: %[[TILE:.*]] = scf.if %[[ANY]] -> (tensor<?x?xf32>) {
// CHECK: scf.for %{{.*}} = %c{{0(_[0-9]+)?}} to %c{{1(_[0-9]+)?}} step %c{{1(_[0-9]+)?}}
// CHECK: %[[SB:.*]] = tensor.extract %{{.*}} : tensor<32x144xi8>
// CHECK: %[[SC:.*]] = arith.extui %[[SB]] : i8 to i32
// CHECK: arith.andi %[[SC]], %{{.*}} : i32
// CHECK: vector.bitcast %{{.*}} : vector<2xi8> to vector<1xf16>
// CHECK: arith.uitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// CHECK: arith.subf %{{.*}} : vector<16xf32>
// CHECK: vector.fma
// CHECK: } else {
// CHECK-NEXT: scf.yield %[[DEST]] : tensor<?x?xf32>
// CHECK: tensor.parallel_insert_slice %[[TILE]]
func.func @grouped_matmul_q4_k(%x: tensor<?x256xf32>, %w: tensor<4x32x256x!moe.quant<q4_k>>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x32x256x!moe.quant<q4_k>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// q6_k: 210 bytes per 256 k; 4 low bits from ql and 2 high bits from qh
// joined in i8, less 32, times d · sc (an int8 per 16 elements). Each
// block of weight rows prefetches the next block's rows as it goes.
// CHECK-LABEL: func.func @dense_q6_k
// CHECK-SAME: %[[K6:[a-z0-9_]+]]: tensor<16x210xi8>
// CHECK: %[[THREE:.*]] = arith.constant dense<3> : vector<16xi8>
// CHECK: %[[WBUF:.*]] = bufferization.to_buffer %[[K6]] read_only : tensor<16x210xi8> to memref<16x210xi8, strided<[?, 1], offset: ?>>
// CHECK: memref.prefetch %[[WBUF]][%{{.*}}, %{{.*}}], read, locality<3>, data : memref<16x210xi8, strided<[?, 1], offset: ?>>
// CHECK: %[[HB:.*]] = arith.andi %{{.*}}, %[[THREE]] : vector<16xi8>
// CHECK: arith.shli %[[HB]], %{{.*}} : vector<16xi8>
// CHECK: arith.ori
// CHECK: arith.subi
// CHECK: arith.sitofp %{{.*}} : i8 to f32
// CHECK: arith.sitofp %{{.*}} : vector<16xi8> to vector<16xf32>
func.func @dense_q6_k(%x: tensor<?x256xf32>, %w: tensor<16x256x!moe.quant<q6_k>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x256xf32>, tensor<16x256x!moe.quant<q6_k>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// q5_0: 22 bytes per 32 k; each 16-lane chunk's fifth bits are the u32
// qh (shifted by the chunk's first element), a 16-bit mask selecting 16
// or 0 per lane, or'ed into the nibbles, less 16, times d.
// CHECK-LABEL: func.func @dense_q5_0
// CHECK-SAME: %{{[a-z0-9_]+}}: tensor<16x44xi8>
// CHECK: %[[QH:.*]] = vector.bitcast %{{.*}} : vector<4xi8> to vector<1xi32>
// CHECK: %[[MASK:.*]] = vector.bitcast %{{.*}} : vector<1xi16> to vector<16xi1>
// CHECK: %[[FIFTH:.*]] = arith.select %[[MASK]], %{{.*}}, %{{.*}} : vector<16xi1>, vector<16xi8>
// CHECK: %[[N:.*]] = arith.ori %{{.*}}, %[[FIFTH]] : vector<16xi8>
// CHECK: arith.subi %[[N]], %{{.*}} : vector<16xi8>
// CHECK: arith.sitofp %{{.*}} : vector<16xi8> to vector<16xf32>
func.func @dense_q5_0(%x: tensor<?x64xf32>, %w: tensor<16x64x!moe.quant<q5_0>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x64xf32>, tensor<16x64x!moe.quant<q5_0>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// q4_1: 20 bytes per 32 k; the unsigned nibbles times d, plus the f16 min
// m (bytes 2 and 3).
// CHECK-LABEL: func.func @dense_q4_1
// CHECK-SAME: %{{[a-z0-9_]+}}: tensor<16x40xi8>
// CHECK: %[[V:.*]] = arith.uitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// CHECK: %[[DV:.*]] = arith.mulf %[[V]], %{{.*}} : vector<16xf32>
// CHECK: arith.addf %[[DV]], %{{.*}} : vector<16xf32>
func.func @dense_q4_1(%x: tensor<?x64xf32>, %w: tensor<16x64x!moe.quant<q4_1>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x64xf32>, tensor<16x64x!moe.quant<q4_1>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}
