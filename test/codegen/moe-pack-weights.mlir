// RUN: moe-opt %s --moe-set-cpu-target=cpu=x86-64-v4 --moe-pack-weights=slices=1 --split-input-file | FileCheck %s
// RUN: moe-opt %s "--moe-pack-weights=panel-width=24 slices=1" --split-input-file | FileCheck %s --check-prefix=W24
// RUN: moe-opt %s --moe-set-cpu-target=cpu=x86-64-v4 "--moe-pack-weights=slices=1 bf16-dot=true" --split-input-file | FileCheck %s --check-prefix=DOT
// RUN: moe-opt %s --moe-set-cpu-target=cpu=x86-64-v4 --moe-pack-weights=bf16-dot=true --split-input-file | FileCheck %s --check-prefix=SLICES
// The panel width and the slices follow the target description: AVX2's
// panels are 16 columns in 2 slices of 8, SSE's 8 columns whole.
// RUN: moe-opt %s --moe-set-cpu-target=cpu=x86-64-v3 --moe-pack-weights --split-input-file | FileCheck %s --check-prefix=AVX2
// RUN: moe-opt %s --moe-set-cpu-target=cpu=x86-64 --moe-pack-weights --split-input-file | FileCheck %s --check-prefix=SSE
// Block-quantized weights in int8 panels with int8-dot (and none without):
// RUN: moe-opt %S/Inputs/int8-panels.mlir --moe-set-cpu-target=cpu=cooperlake "--moe-pack-weights=slices=1 int8-dot=true" | FileCheck %S/Inputs/int8-panels.mlir --check-prefix=INT8
// RUN: moe-opt %S/Inputs/int8-panels.mlir --moe-set-cpu-target=cpu=cooperlake --moe-pack-weights=slices=1 | FileCheck %S/Inputs/int8-panels.mlir --check-prefix=NOINT8

// Two experts' GEMMs on f32 weights: each weight becomes panels
// [E, ceil(N / 64), K, 64] (N = 40 pads to one panel) read through
// linalg.unpack, and is marked for the runtime; the router (a GEMM without
// offsets) becomes [ceil(N / 64), K, 64]. The bias keeps its type.
// CHECK-LABEL: func.func @experts
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x16xf32>, %[[R:[^:]*]]: tensor<1x16x64xf32> {moe.packed_panel = 64 : i64},
// CHECK-SAME: %[[G:[^:]*]]: tensor<4x1x16x64xf32> {moe.packed_panel = 64 : i64},
// CHECK-SAME: %[[D:[^:]*]]: tensor<4x1x40x64xf32> {moe.packed_panel = 64 : i64},
// CHECK-SAME: %[[OFF:[^:]*]]: tensor<5xi32>, %[[B:[^:]*]]: tensor<4x16xf32>)
// CHECK-DAG: %[[GE:.*]] = tensor.empty() : tensor<4x40x16xf32>
// CHECK-DAG: %[[GU:.*]] = linalg.unpack %[[G]] inner_dims_pos = [1] inner_tiles = [64] into %[[GE]] : tensor<4x1x16x64xf32> -> tensor<4x40x16xf32>
// CHECK-DAG: %[[DE:.*]] = tensor.empty() : tensor<4x16x40xf32>
// CHECK-DAG: %[[DU:.*]] = linalg.unpack %[[D]] inner_dims_pos = [1] inner_tiles = [64] into %[[DE]] : tensor<4x1x40x64xf32> -> tensor<4x16x40xf32>
// CHECK-DAG: %[[RE:.*]] = tensor.empty() : tensor<4x16xf32>
// CHECK-DAG: %[[RU:.*]] = linalg.unpack %[[R]] inner_dims_pos = [0] inner_tiles = [64] into %[[RE]] : tensor<1x16x64xf32> -> tensor<4x16xf32>
// CHECK: moe.grouped_matmul %[[X]], %[[RU]] :
// CHECK: %[[H:.*]] = moe.grouped_matmul %[[X]], %[[GU]] offsets(%[[OFF]]
// CHECK: moe.grouped_matmul %[[H]], %[[DU]] offsets(%[[OFF]] : tensor<5xi32>) bias(%[[B]]
// W24-LABEL: func.func @experts
// W24-SAME: tensor<4x2x16x24xf32> {moe.packed_panel = 24 : i64}
// W24-SAME: tensor<4x1x40x24xf32> {moe.packed_panel = 24 : i64}
// W24: linalg.unpack %{{.*}} inner_dims_pos = [1] inner_tiles = [24] into %{{.*}} : tensor<4x2x16x24xf32> -> tensor<4x40x16xf32>
func.func @experts(%x: tensor<?x16xf32>, %r: tensor<4x16xf32>, %g: tensor<4x40x16xf32>, %d: tensor<4x16x40xf32>, %off: tensor<5xi32>, %b: tensor<4x16xf32>) -> (tensor<?x4xf32>, tensor<?x16xf32>) {
  %l = moe.grouped_matmul %x, %r : tensor<?x16xf32>, tensor<4x16xf32> -> tensor<?x4xf32>
  %h = moe.grouped_matmul %x, %g offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x40x16xf32> -> tensor<?x40xf32>
  %y = moe.grouped_matmul %h, %d offsets(%off : tensor<5xi32>) bias(%b : tensor<4x16xf32>) : tensor<?x40xf32>, tensor<4x16x40xf32> -> tensor<?x16xf32>
  return %l, %y : tensor<?x4xf32>, tensor<?x16xf32>
}

// -----

// A GEMM that reads its rows through a dispatch's indices
// (moe-fuse-dispatch) is packed like a plain one.
// CHECK-LABEL: func.func @gathered_rows
// CHECK-SAME: %[[W:[^:]*]]: tensor<2x1x8x64xf32> {moe.packed_panel = 64 : i64}
// CHECK: %[[U:.*]] = linalg.unpack %[[W]]
// CHECK: moe.grouped_matmul %{{.*}}, %[[U]] gather(
func.func @gathered_rows(%x: tensor<?x8xf32>, %rows: tensor<?xi32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  %a = moe.grouped_matmul %x, %w gather(%rows : tensor<?xi32>) offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

// One weight read by two GEMMs is packed once.
// CHECK-LABEL: func.func @shared_weight
// CHECK-SAME: tensor<2x1x8x64xf32> {moe.packed_panel = 64 : i64}
// CHECK: %[[U:.*]] = linalg.unpack
// CHECK-NOT: linalg.unpack
// CHECK: moe.grouped_matmul %{{.*}}, %[[U]]
// CHECK: moe.grouped_matmul %{{.*}}, %[[U]]
func.func @shared_weight(%x: tensor<?x8xf32>, %y: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  %b = moe.grouped_matmul %y, %w offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a, %b : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// bf16 and f16 weights are packed in their own type (the kernel widens
// them as it loads). With bf16-dot, the experts' bf16 weights with an even
// K are packed in pairs of k for vdpbf16ps; with an odd K, dense ones
// (whose rows stay f32) and f16 ones as plain panels.
// CHECK-LABEL: func.func @half_floats
// CHECK-SAME: tensor<2x1x8x64xbf16> {moe.packed_panel = 64 : i64}
// CHECK-SAME: tensor<2x1x8x64xf16> {moe.packed_panel = 64 : i64}
// CHECK-SAME: tensor<2x1x7x64xbf16> {moe.packed_panel = 64 : i64}
// CHECK-SAME: tensor<1x8x64xbf16> {moe.packed_panel = 64 : i64}
// CHECK-NOT: moe.packed_k_group
// DOT-LABEL: func.func @half_floats
// DOT-SAME: %[[W:[^:]*]]: tensor<2x1x4x64x2xbf16> {moe.packed_k_group = 2 : i64, moe.packed_panel = 64 : i64}
// DOT-SAME: tensor<2x1x8x64xf16> {moe.packed_panel = 64 : i64}
// DOT-SAME: tensor<2x1x7x64xbf16> {moe.packed_panel = 64 : i64}
// DOT-SAME: tensor<1x8x64xbf16> {moe.packed_panel = 64 : i64}
// DOT: linalg.unpack %[[W]] inner_dims_pos = [1, 2] inner_tiles = [64, 2] into %{{.*}} : tensor<2x1x4x64x2xbf16> -> tensor<2x8x8xbf16>
func.func @half_floats(%x: tensor<?x8xf32>, %w: tensor<2x8x8xbf16>, %v: tensor<2x8x8xf16>, %odd: tensor<2x8x7xbf16>, %r: tensor<8x8xbf16>, %off: tensor<3xi32>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<2x8x8xbf16> -> tensor<?x8xf32>
  %b = moe.grouped_matmul %x, %v offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<2x8x8xf16> -> tensor<?x8xf32>
  %x7 = tensor.extract_slice %x[0, 0] [2, 7] [1, 1] : tensor<?x8xf32> to tensor<2x7xf32>
  %c = moe.grouped_matmul %x7, %odd offsets(%off : tensor<3xi32>) : tensor<2x7xf32>, tensor<2x8x7xbf16> -> tensor<2x8xf32>
  %cc = tensor.cast %c : tensor<2x8xf32> to tensor<?x8xf32>
  %d = moe.grouped_matmul %x, %r : tensor<?x8xf32>, tensor<8x8xbf16> -> tensor<?x8xf32>
  return %a, %cc, %d : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// With slices=4, a weight whose N is a multiple of 64 is stored as 4
// slices of N/4 columns, slice first, in panels of 16 columns: [4, E,
// N/64, K, 16] read back through an unpack into [E, 4, N/4, K] and a
// collapse; a dense one as [4, N/64, K, 16]; pairs of k alike. N = 40
// keeps whole panels. The default packs whole panels.
// CHECK-LABEL: func.func @sliced
// CHECK-SAME: tensor<2x2x8x64xf32> {moe.packed_panel = 64 : i64}
// CHECK-SAME: tensor<1x8x64xf32> {moe.packed_panel = 64 : i64}
// CHECK-NOT: moe.packed_slices
// SLICES-LABEL: func.func @sliced
// SLICES-SAME: %[[W:[^:]*]]: tensor<4x2x2x8x16xf32> {moe.packed_panel = 16 : i64, moe.packed_slices = 4 : i64}
// SLICES-SAME: %[[R:[^:]*]]: tensor<4x1x8x16xf32> {moe.packed_panel = 16 : i64, moe.packed_slices = 4 : i64}
// SLICES-SAME: %[[N40:[^:]*]]: tensor<2x1x8x64xf32> {moe.packed_panel = 64 : i64}
// SLICES-SAME: %[[B:[^:]*]]: tensor<4x2x2x4x16x2xbf16> {moe.packed_k_group = 2 : i64, moe.packed_panel = 16 : i64, moe.packed_slices = 4 : i64}
// SLICES-DAG: %[[BU:.*]] = linalg.unpack %[[B]] outer_dims_perm = [1, 0, 2, 3] inner_dims_pos = [2, 3] inner_tiles = [16, 2] into %{{.*}} : tensor<4x2x2x4x16x2xbf16> -> tensor<2x4x32x8xbf16>
// SLICES-DAG: %[[BC:.*]] = tensor.collapse_shape %[[BU]] {{\[}}[0], [1, 2], [3]] : tensor<2x4x32x8xbf16> into tensor<2x128x8xbf16>
// SLICES-DAG: %[[NU:.*]] = linalg.unpack %[[N40]] inner_dims_pos = [1] inner_tiles = [64] into %{{.*}} : tensor<2x1x8x64xf32> -> tensor<2x40x8xf32>
// SLICES-DAG: %[[RU:.*]] = linalg.unpack %[[R]] inner_dims_pos = [1] inner_tiles = [16] into %{{.*}} : tensor<4x1x8x16xf32> -> tensor<4x16x8xf32>
// SLICES-DAG: %[[RC:.*]] = tensor.collapse_shape %[[RU]] {{\[}}[0, 1], [2]] : tensor<4x16x8xf32> into tensor<64x8xf32>
// SLICES-DAG: %[[WU:.*]] = linalg.unpack %[[W]] outer_dims_perm = [1, 0, 2, 3] inner_dims_pos = [2] inner_tiles = [16] into %{{.*}} : tensor<4x2x2x8x16xf32> -> tensor<2x4x32x8xf32>
// SLICES-DAG: %[[WC:.*]] = tensor.collapse_shape %[[WU]] {{\[}}[0], [1, 2], [3]] : tensor<2x4x32x8xf32> into tensor<2x128x8xf32>
// SLICES: moe.grouped_matmul %{{.*}}, %[[WC]] offsets
// SLICES: moe.grouped_matmul %{{.*}}, %[[RC]] :
// SLICES: moe.grouped_matmul %{{.*}}, %[[NU]] offsets
// SLICES: moe.grouped_matmul %{{.*}}, %[[BC]] offsets
// AVX2-LABEL: func.func @sliced
// AVX2-SAME: tensor<2x2x8x8x8xf32> {moe.packed_panel = 8 : i64, moe.packed_slices = 2 : i64}
// AVX2-SAME: tensor<2x4x8x8xf32> {moe.packed_panel = 8 : i64, moe.packed_slices = 2 : i64}
// AVX2-SAME: tensor<2x3x8x16xf32> {moe.packed_panel = 16 : i64}
// SSE-LABEL: func.func @sliced
// SSE-SAME: tensor<2x16x8x8xf32> {moe.packed_panel = 8 : i64}
// SSE-SAME: tensor<8x8x8xf32> {moe.packed_panel = 8 : i64}
// SSE-SAME: tensor<2x5x8x8xf32> {moe.packed_panel = 8 : i64}
func.func @sliced(%x: tensor<?x8xf32>, %w: tensor<2x128x8xf32>, %r: tensor<64x8xf32>, %n40: tensor<2x40x8xf32>, %bw: tensor<2x128x8xbf16>, %off: tensor<3xi32>) -> (tensor<?x128xf32>, tensor<?x64xf32>, tensor<?x40xf32>, tensor<?x128xf32>) {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<2x128x8xf32> -> tensor<?x128xf32>
  %b = moe.grouped_matmul %x, %r : tensor<?x8xf32>, tensor<64x8xf32> -> tensor<?x64xf32>
  %c = moe.grouped_matmul %x, %n40 offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<2x40x8xf32> -> tensor<?x40xf32>
  %d = moe.grouped_matmul %x, %bw offsets(%off : tensor<3xi32>) : tensor<?x8xf32>, tensor<2x128x8xbf16> -> tensor<?x128xf32>
  return %a, %b, %c, %d : tensor<?x128xf32>, tensor<?x64xf32>, tensor<?x40xf32>, tensor<?x128xf32>
}

// -----

// The gate and up projections of a gated activation (moe-fuse-gate-up) as
// two weights: both are packed alike, with slices too. Packed together or
// not at all: when the up weight has a use the panel kernel does not read
// (here the function returns it), the gate weight stays unpacked as well.
// A fused gate/up weight in one tensor (gate_up_layout) stays unpacked.
// The weight of an elementwise activation's GEMM is packed, whatever the
// float type of its result.
// CHECK-LABEL: func.func @gate_up
// CHECK-SAME: %[[G:[^:]*]]: tensor<2x1x8x64xf32> {moe.packed_panel = 64 : i64}
// CHECK-SAME: %[[U:[^:]*]]: tensor<2x1x8x64xf32> {moe.packed_panel = 64 : i64}
// CHECK-SAME: %[[G2:[^:]*]]: tensor<2x64x8xf32>,
// CHECK-SAME: %[[U2:[^:]*]]: tensor<2x64x8xf32>,
// CHECK-SAME: %[[GU:[^:]*]]: tensor<2x128x8xf32>,
// CHECK-SAME: %[[E:[^:]*]]: tensor<2x1x8x64xf32> {moe.packed_panel = 64 : i64},
// CHECK-DAG: %[[GP:.*]] = linalg.unpack %[[G]] inner_dims_pos = [1] inner_tiles = [64]
// CHECK-DAG: %[[UP:.*]] = linalg.unpack %[[U]] inner_dims_pos = [1] inner_tiles = [64]
// CHECK-DAG: %[[EP:.*]] = linalg.unpack %[[E]] inner_dims_pos = [1] inner_tiles = [64]
// CHECK: moe.grouped_matmul %{{.*}}, %[[GP]] offsets(%{{.*}}) up(%[[UP]] : tensor<2x64x8xf32>) activation(#moe.activation<swiglu>)
// CHECK: moe.grouped_matmul %{{.*}}, %[[G2]] offsets(%{{.*}}) up(%[[U2]] : tensor<2x64x8xf32>) activation(#moe.activation<swiglu>)
// CHECK: moe.grouped_matmul %{{.*}}, %[[GU]] offsets(%{{.*}}) activation(#moe.activation<swiglu>) gate_up_layout(interleaved)
// CHECK: moe.grouped_matmul %{{.*}}, %[[EP]] offsets(%{{.*}}) activation(#moe.activation<gelu>) : tensor<?x8xf32>, tensor<2x64x8xf32> -> tensor<?x64xbf16>
// SLICES-LABEL: func.func @gate_up
// SLICES-SAME: tensor<4x2x1x8x16xf32> {moe.packed_panel = 16 : i64, moe.packed_slices = 4 : i64}
// SLICES-SAME: tensor<4x2x1x8x16xf32> {moe.packed_panel = 16 : i64, moe.packed_slices = 4 : i64}
// SLICES-SAME: tensor<2x64x8xf32>,
func.func @gate_up(%x: tensor<?x8xf32>, %g: tensor<2x64x8xf32>, %u: tensor<2x64x8xf32>, %g2: tensor<2x64x8xf32>, %u2: tensor<2x64x8xf32>, %gu: tensor<2x128x8xf32>, %e: tensor<2x64x8xf32>, %off: tensor<3xi32>) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<2x64x8xf32>, tensor<?x64xbf16>) {
  %a = moe.grouped_matmul %x, %g offsets(%off : tensor<3xi32>) up(%u : tensor<2x64x8xf32>) activation(#moe.activation<swiglu>) : tensor<?x8xf32>, tensor<2x64x8xf32> -> tensor<?x64xf32>
  %b = moe.grouped_matmul %x, %g2 offsets(%off : tensor<3xi32>) up(%u2 : tensor<2x64x8xf32>) activation(#moe.activation<swiglu>) : tensor<?x8xf32>, tensor<2x64x8xf32> -> tensor<?x64xf32>
  %c = moe.grouped_matmul %x, %gu offsets(%off : tensor<3xi32>) activation(#moe.activation<swiglu>) gate_up_layout(interleaved) : tensor<?x8xf32>, tensor<2x128x8xf32> -> tensor<?x64xf32>
  %d = moe.grouped_matmul %x, %e offsets(%off : tensor<3xi32>) activation(#moe.activation<gelu>) : tensor<?x8xf32>, tensor<2x64x8xf32> -> tensor<?x64xbf16>
  return %a, %b, %c, %u2, %d : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<2x64x8xf32>, tensor<?x64xbf16>
}
