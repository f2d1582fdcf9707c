// Block-quantized weights in int8 panels: moe-pack-weights with int8-dot
// marks them (moe-pack-weights.mlir, prefixes INT8 and NOINT8), then
// convert-moe-to-cpu-kernels retypes them to their panels' bytes and runs
// every item of their GEMMs on the int8 panel kernel
// (convert-moe-to-cpu-kernels.mlir, prefix PANELS).

// q8_0 experts' weights [4, 40, 128], a q4_0 dense one [24, 128] and q4_k
// experts' [4, 40, 256] are marked and keep their types; a K of 64 (not a
// multiple of 128) and the weights of a gated GEMM are not. The f32
// router is packed into float panels as without int8-dot.
// INT8-LABEL: func.func @int8_panels
// INT8-SAME: %[[X:[^:]*]]: tensor<?x128xf32>,
// INT8-SAME: %[[W8:[^:]*]]: tensor<4x40x128x!moe.quant<q8_0>> {moe.int8_panels},
// INT8-SAME: %[[W4:[^:]*]]: tensor<24x128x!moe.quant<q4_0>> {moe.int8_panels},
// INT8-SAME: %[[WK:[^:]*]]: tensor<4x40x256x!moe.quant<q4_k>> {moe.int8_panels},
// INT8-SAME: %{{[^:]*}}: tensor<4x40x64x!moe.quant<q8_0>>,
// INT8-SAME: %{{[^:]*}}: tensor<4x40x128x!moe.quant<q8_0>>,
// INT8-SAME: %{{[^:]*}}: tensor<4x40x128x!moe.quant<q8_0>>,
// INT8-SAME: %{{[^:]*}}: tensor<1x128x64xf32> {moe.packed_panel = 64 : i64}
// INT8: moe.grouped_matmul %[[X]], %[[W8]] offsets(
// INT8: moe.grouped_matmul %[[X]], %[[W4]] :
// INT8: moe.grouped_matmul %{{[^,]*}}, %[[WK]] offsets(
// Without int8-dot, none is marked.
// NOINT8-LABEL: func.func @int8_panels
// NOINT8-NOT: moe.int8_panels
// NOINT8: return

// After the kernels, the marked weights are their panels' bytes:
// [4, ceil(40 / 16), 128 / 32, 544] for q8_0, [ceil(24 / 16), 4, 288] for
// q4_0, [4, 3, 256 / 256, 2368] for q4_k (records of a super-block); the
// others their rows' bytes. Each item of their GEMMs prefetches the next
// pair of panels while it multiplies a pair, or, where one row block reads
// the pair, the block stream_ahead_bytes on (4096 on cooperlake: 2048 per
// panel, 4 blocks of q8_0's 544 bytes; past the pair's 4 blocks, the next
// pair's), reads 64 bytes of i32 lanes per step and the columns'
// f16 scales (q4_0's lanes t and t + 4 shifted and masked out of one
// vector of nibbles; q4_k's d and dmin times its blocks' byte scales and
// mins; d and dmin read once per super-block outside the loop over its 8
// blocks where they fit the registers, for 4 rows but not cooperlake's 6),
// with no scf.if choosing the row kernel; an item of experts'
// GEMMs runs only for an expert with rows (the scf.if on count > 0).
// PANELS-LABEL: func.func @int8_panels
// PANELS-SAME: tensor<4x3x4x544xi8> {moe.int8_panels}
// PANELS-SAME: tensor<2x4x288xi8> {moe.int8_panels}
// PANELS-SAME: tensor<4x3x1x2368xi8> {moe.int8_panels}
// PANELS-SAME: tensor<4x40x68xi8>,
// PANELS: scf.forall
// PANELS: %[[ANY:.*]] = arith.cmpi ugt, %{{.*}}, %c0 : index
// PANELS-NEXT: scf.if %[[ANY]] -> (tensor
// PANELS-NOT: scf.if {{.*}} -> (tensor
// PANELS: scf.for %[[BLK:[^ ]*]] = %c{{0(_[0-9]+)?}} to %c{{4(_[0-9]+)?}} step %c{{1(_[0-9]+)?}} iter_args
// PANELS: %[[AHEAD:.*]] = arith.addi %[[BLK]], %c{{4(_[0-9]+)?}} : index
// PANELS-NEXT: %[[IN:.*]] = arith.cmpi ult, %[[AHEAD]], %c{{4(_[0-9]+)?}} : index
// PANELS-NEXT: %[[ONE:.*]] = arith.cmpi eq, %{{.*}}, %c{{1(_[0-9]+)?}} : index
// PANELS: %[[WRAP:.*]] = arith.subi %[[AHEAD]], %c{{4(_[0-9]+)?}} : index
// PANELS-NEXT: %[[SBLK:.*]] = arith.select %[[IN]], %[[AHEAD]], %[[WRAP]] : index
// PANELS: %[[FBLK:.*]] = arith.select %[[ONE]], %[[SBLK]], %[[BLK]] : index
// PANELS: memref.prefetch %{{.*}}[%{{.*}}, %[[FBLK]], %c{{0(_[0-9]+)?}}], read, locality<3>, data : memref<3x4x544xi8, strided<[?, ?, 1], offset: ?>>
// PANELS: vector.transfer_read %{{.*}} : tensor<3x4x544xi8>, vector<64xi8>
// PANELS: vector.bitcast %{{.*}} : vector<64xi8> to vector<16xi32>
// PANELS: llvm.inline_asm asm_dialect = att "vpdpbusd
// PANELS: vector.transfer_read %{{.*}} : tensor<3x4x544xi8>, vector<32xi8>
// PANELS: vector.bitcast %{{.*}} : vector<32xi8> to vector<16xf16>
// PANELS: arith.extf %{{.*}} : vector<16xf16> to vector<16xf32>
// PANELS-NOT: scf.if {{.*}} -> (tensor
// PANELS: vector.transfer_read %{{.*}} : tensor<2x4x288xi8>, vector<64xi8>
// PANELS: arith.shrui
// PANELS: arith.andi
// PANELS: llvm.inline_asm asm_dialect = att "vpdpbusd
// PANELS: vector.transfer_read %{{.*}} : tensor<2x4x288xi8>, vector<32xi8>
// PANELS: %[[ANYK:.*]] = arith.cmpi ugt, %{{.*}}, %c0 : index
// PANELS-NEXT: scf.if %[[ANYK]] -> (tensor
// PANELS-NOT: scf.if {{.*}} -> (tensor
// PANELS: scf.for %{{.*}} = %c0{{(_[0-9]+)?}} to %{{.*}} step %c6
// PANELS: scf.for %{{.*}} = %c0{{(_[0-9]+)?}} to %c8{{(_[0-9]+)?}} step
// PANELS: vector.transfer_read %{{.*}}[%{{.*}}, %{{.*}}, %c2048]{{.*}} : tensor<3x1x2368xi8>, vector<32xi8>
// PANELS: scf.for %{{.*}} step %c4
// PANELS: scf.for %{{.*}} = %c0{{(_[0-9]+)?}} to %c1{{(_[0-9]+)?}} step
// PANELS-NOT: vector.transfer_read
// PANELS: vector.transfer_read %{{.*}}[%{{.*}}, %{{.*}}, %c2048]{{.*}} : tensor<3x1x2368xi8>, vector<32xi8>
// PANELS: arith.extf %{{.*}} : vector<16xf16> to vector<16xf32>
// PANELS: vector.transfer_read %{{.*}}[%{{.*}}, %{{.*}}, %c2080]{{.*}} : tensor<3x1x2368xi8>, vector<32xi8>
// PANELS: %[[NEGDMIN:.*]] = arith.negf %{{.*}} : vector<16xf32>
// PANELS: scf.for %{{.*}} = %c0{{(_[0-9]+)?}} to %c8{{(_[0-9]+)?}} step
// PANELS-NOT: vector<32xi8>
// PANELS: memref.prefetch %{{.*}}, read, locality<3>, data : memref<3x1x2368xi8, strided<[?, ?, 1], offset: ?>>
// PANELS-NOT: vector<32xi8>
// PANELS: vector.transfer_read %{{.*}} : tensor<3x1x2368xi8>, vector<64xi8>
// PANELS: arith.shrui
// PANELS: llvm.inline_asm asm_dialect = att "vpdpbusd
// PANELS-NOT: vector<32xi8>
// PANELS: vector.transfer_read %{{.*}} : tensor<3x1x2368xi8>, vector<16xi8>
// PANELS: arith.uitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// PANELS-NOT: vector<32xi8>
// PANELS: arith.mulf %[[NEGDMIN]], %{{.*}} : vector<16xf32>
// PANELS-NOT: vector<32xi8>
// PANELS: scf.yield
// PANELS: return
func.func @int8_panels(%x: tensor<?x128xf32>, %w8: tensor<4x40x128x!moe.quant<q8_0>>, %w4: tensor<24x128x!moe.quant<q4_0>>, %wk: tensor<4x40x256x!moe.quant<q4_k>>, %w64: tensor<4x40x64x!moe.quant<q8_0>>, %wu: tensor<4x40x128x!moe.quant<q8_0>>, %wg: tensor<4x40x128x!moe.quant<q8_0>>, %r: tensor<64x128xf32>, %off: tensor<5xi32>, %xk: tensor<?x256xf32>, %x64: tensor<?x64xf32>) -> (tensor<?x40xf32>, tensor<?x24xf32>, tensor<?x40xf32>, tensor<?x40xf32>, tensor<?x40xf32>, tensor<?x64xf32>) {
  %a = moe.grouped_matmul %x, %w8 offsets(%off : tensor<5xi32>) : tensor<?x128xf32>, tensor<4x40x128x!moe.quant<q8_0>> -> tensor<?x40xf32>
  %b = moe.grouped_matmul %x, %w4 : tensor<?x128xf32>, tensor<24x128x!moe.quant<q4_0>> -> tensor<?x24xf32>
  %c = moe.grouped_matmul %xk, %wk offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x40x256x!moe.quant<q4_k>> -> tensor<?x40xf32>
  %d = moe.grouped_matmul %x64, %w64 offsets(%off : tensor<5xi32>) : tensor<?x64xf32>, tensor<4x40x64x!moe.quant<q8_0>> -> tensor<?x40xf32>
  %e = moe.grouped_matmul %x, %wg offsets(%off : tensor<5xi32>) up(%wu : tensor<4x40x128x!moe.quant<q8_0>>) activation(#moe.activation<swiglu>) : tensor<?x128xf32>, tensor<4x40x128x!moe.quant<q8_0>> -> tensor<?x40xf32>
  %l = moe.grouped_matmul %x, %r : tensor<?x128xf32>, tensor<64x128xf32> -> tensor<?x64xf32>
  return %a, %b, %c, %d, %e, %l : tensor<?x40xf32>, tensor<?x24xf32>, tensor<?x40xf32>, tensor<?x40xf32>, tensor<?x40xf32>, tensor<?x64xf32>
}

// mxfp4 experts' weights are marked too, except one the runtime assembles
// from OCP codes and scales (moe.mx_scales), which it would then hold
// twice. After the kernels the marked one is [4, 2, 4, 272] bytes (the
// e2m1 codes as q4_0's, then 16 e8m0 scale bytes), its codes mapped to
// values by vpshufb and its scales widened from bytes.
// INT8-LABEL: func.func @int8_panels_mxfp4
// INT8-SAME: tensor<4x32x128x!moe.quant<mxfp4>> {moe.int8_panels},
// INT8-SAME: tensor<4x32x128x!moe.quant<mxfp4>> {moe.mx_scales = "s"}
// PANELS-LABEL: func.func @int8_panels_mxfp4
// PANELS-SAME: tensor<4x2x4x272xi8> {moe.int8_panels},
// PANELS-SAME: tensor<4x32x68xi8> {moe.mx_scales = "s"}
// PANELS: vector.transfer_read %{{.*}} : tensor<2x4x272xi8>, vector<64xi8>
// PANELS: arith.andi
// PANELS: llvm.inline_asm asm_dialect = att "vpshufb
// PANELS: llvm.inline_asm asm_dialect = att "vpdpbusd
// PANELS: vector.transfer_read %{{.*}} : tensor<2x4x272xi8>, vector<16xi8>
// PANELS: arith.extui %{{.*}} : vector<16xi8> to vector<16xi32>
// PANELS: return
func.func @int8_panels_mxfp4(%x: tensor<?x128xf32>, %w: tensor<4x32x128x!moe.quant<mxfp4>>, %ocp: tensor<4x32x128x!moe.quant<mxfp4>> {moe.mx_scales = "s"}, %off: tensor<5xi32>) -> (tensor<?x32xf32>, tensor<?x32xf32>) {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x128xf32>, tensor<4x32x128x!moe.quant<mxfp4>> -> tensor<?x32xf32>
  %b = moe.grouped_matmul %x, %ocp offsets(%off : tensor<5xi32>) : tensor<?x128xf32>, tensor<4x32x128x!moe.quant<mxfp4>> -> tensor<?x32xf32>
  return %a, %b : tensor<?x32xf32>, tensor<?x32xf32>
}

// u8z and u4z (QMoE's blocks with zero points) are marked as well; after
// the kernels u8z's panels are [4, 2, 4, 592] bytes (the codes as lanes,
// then 16 f32 scales and 16 zero points), whose mins -d z the kernel
// computes from them. u2z keeps its rows' bytes.
// INT8-LABEL: func.func @int8_panels_zero_points
// INT8-SAME: tensor<4x32x128x!moe.quant<u8z>> {moe.int8_panels},
// INT8-SAME: tensor<4x32x128x!moe.quant<u4z>> {moe.int8_panels},
// INT8-SAME: tensor<4x32x128x!moe.quant<u2z>>,
// PANELS-LABEL: func.func @int8_panels_zero_points
// PANELS-SAME: tensor<4x2x4x592xi8> {moe.int8_panels},
// PANELS-SAME: tensor<4x2x4x336xi8> {moe.int8_panels},
// PANELS-SAME: tensor<4x32x52xi8>,
// PANELS: vector.transfer_read %{{.*}} : tensor<2x4x592xi8>, vector<64xi8>
// PANELS: llvm.inline_asm asm_dialect = att "vpdpbusd
// PANELS: vector.transfer_read %{{.*}} : tensor<2x4x592xi8>, vector<64xi8>
// PANELS: vector.bitcast %{{.*}} : vector<64xi8> to vector<16xf32>
// PANELS: vector.transfer_read %{{.*}} : tensor<2x4x592xi8>, vector<16xi8>
// PANELS: arith.uitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// PANELS: arith.negf
// PANELS: vector.transfer_read %{{.*}} : tensor<2x4x336xi8>, vector<64xi8>
// PANELS: return
func.func @int8_panels_zero_points(%x: tensor<?x128xf32>, %w8: tensor<4x32x128x!moe.quant<u8z>>, %w4: tensor<4x32x128x!moe.quant<u4z>>, %w2: tensor<4x32x128x!moe.quant<u2z>>, %off: tensor<5xi32>) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %a = moe.grouped_matmul %x, %w8 offsets(%off : tensor<5xi32>) : tensor<?x128xf32>, tensor<4x32x128x!moe.quant<u8z>> -> tensor<?x32xf32>
  %b = moe.grouped_matmul %x, %w4 offsets(%off : tensor<5xi32>) : tensor<?x128xf32>, tensor<4x32x128x!moe.quant<u4z>> -> tensor<?x32xf32>
  %c = moe.grouped_matmul %x, %w2 offsets(%off : tensor<5xi32>) : tensor<?x128xf32>, tensor<4x32x128x!moe.quant<u2z>> -> tensor<?x32xf32>
  return %a, %b, %c : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// q6_k, q5_k and q5_0 experts' weights are marked. After the kernels the
// q6_k panels are [4, 2, 512 / 256, 3360] bytes (per block of 32 four rows
// of nibbles and two of high bit pairs, then the 16 f16 d at 3072 and the
// int8 scales from 3104), the q5_k ones [4, 2, 2, 2880] (q4_k's with a
// fifth row of fifth bits per block: d at 2560, dmin at 2592), the q5_0
// ones [4, 2, 512 / 32, 352] (per block four rows of nibbles, a row of
// fifth bits, 16 f16 d). The kernel reads both
// halves of each block's int8 row values for their two sums (the offset
// 32 of the codes times each half's sum), runs row blocks of 4 (each
// (row, panel) keeps two i32 sums, one per half), builds each lane row
// from its nibbles and its high bits shifted and masked to bits 4 and 5,
// and scales each half's sum by its own int8 scales times d.
// INT8-LABEL: func.func @int8_panels_q6_k
// INT8-SAME: tensor<4x32x512x!moe.quant<q6_k>> {moe.int8_panels},
// INT8-SAME: tensor<4x32x512x!moe.quant<q5_k>> {moe.int8_panels},
// INT8-SAME: tensor<4x32x512x!moe.quant<q5_0>> {moe.int8_panels},
// PANELS-LABEL: func.func @int8_panels_q6_k
// PANELS-SAME: tensor<4x2x2x3360xi8> {moe.int8_panels},
// PANELS-SAME: tensor<4x2x2x2880xi8> {moe.int8_panels},
// PANELS-SAME: tensor<4x2x16x352xi8> {moe.int8_panels},
// PANELS: %[[LO:.*]] = vector.transfer_read %{{.*}} : tensor<?x512xi8>, vector<16xi8>
// PANELS: vector.reduction <add>
// PANELS: %[[HIAT:.*]] = arith.addi %{{.*}}, %c64 : index
// PANELS: vector.transfer_read %{{.*}}[%{{.*}}, %[[HIAT]]]{{.*}} : tensor<?x512xi8>, vector<16xi8>
// PANELS: vector.reduction <add>
// PANELS: arith.muli %{{.*}}, %c-32_i32 : i32
// PANELS: scf.for %{{.*}} = %c0{{(_[0-9]+)?}} to %{{.*}} step %c4
// PANELS: scf.for %{{.*}} = %c0{{(_[0-9]+)?}} to %c2{{(_[0-9]+)?}} step
// PANELS: vector.transfer_read %{{.*}}[%{{.*}}, %{{.*}}, %c3072]{{.*}} : tensor<2x2x3360xi8>, vector<32xi8>
// PANELS: scf.for %{{.*}} = %c0{{(_[0-9]+)?}} to %c8{{(_[0-9]+)?}} step
// PANELS: vector.transfer_read %{{.*}} : tensor<2x2x3360xi8>, vector<64xi8>
// PANELS: arith.andi %{{.*}}, %cst{{.*}} : vector<16xi32>
// PANELS: arith.shli %{{.*}}, %cst{{.*}} : vector<16xi32>
// PANELS: arith.andi %{{.*}}, %cst{{.*}} : vector<16xi32>
// PANELS: arith.ori
// PANELS: llvm.inline_asm asm_dialect = att "vpdpbusd
// PANELS: arith.shrui
// PANELS: llvm.inline_asm asm_dialect = att "vpdpbusd
// PANELS: vector.transfer_read %{{.*}} : tensor<2x2x3360xi8>, vector<16xi8>
// PANELS: arith.sitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// PANELS: vector.transfer_read %{{.*}} : tensor<2x2x3360xi8>, vector<16xi8>
// PANELS: arith.sitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// PANELS: vector.fma
// PANELS: vector.fma
// The q5_k GEMM: row blocks of 6, its d and dmin read per super-block, the
// fifth bits (bit t of row 4) moved to bit 4 and or'ed into the nibbles.
// PANELS: scf.for %{{.*}} = %c0{{(_[0-9]+)?}} to %{{.*}} step %c6
// PANELS: vector.transfer_read %{{.*}}[%{{.*}}, %{{.*}}, %c2560]{{.*}} : tensor<2x2x2880xi8>, vector<32xi8>
// PANELS: vector.transfer_read %{{.*}}[%{{.*}}, %{{.*}}, %c2592]{{.*}} : tensor<2x2x2880xi8>, vector<32xi8>
// PANELS: scf.for %{{.*}} = %c0{{(_[0-9]+)?}} to %c8{{(_[0-9]+)?}} step
// PANELS: vector.transfer_read %{{.*}} : tensor<2x2x2880xi8>, vector<64xi8>
// PANELS: arith.shli %{{.*}}, %cst{{.*}} : vector<16xi32>
// PANELS: arith.andi %{{.*}}, %cst{{.*}} : vector<16xi32>
// PANELS: arith.ori
// PANELS: llvm.inline_asm asm_dialect = att "vpdpbusd
// PANELS: arith.uitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// PANELS: return
func.func @int8_panels_q6_k(%x: tensor<?x512xf32>, %w: tensor<4x32x512x!moe.quant<q6_k>>, %w5: tensor<4x32x512x!moe.quant<q5_k>>, %w50: tensor<4x32x512x!moe.quant<q5_0>>, %off: tensor<5xi32>) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x512xf32>, tensor<4x32x512x!moe.quant<q6_k>> -> tensor<?x32xf32>
  %b = moe.grouped_matmul %x, %w5 offsets(%off : tensor<5xi32>) : tensor<?x512xf32>, tensor<4x32x512x!moe.quant<q5_k>> -> tensor<?x32xf32>
  %c = moe.grouped_matmul %x, %w50 offsets(%off : tensor<5xi32>) : tensor<?x512xf32>, tensor<4x32x512x!moe.quant<q5_0>> -> tensor<?x32xf32>
  return %a, %b, %c : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// iq4_xs and iq4_nl experts' weights are marked; u2z's are not (no
// panels). After the kernels the iq4_xs panels
// are [4, 2, 512 / 256, 2208] bytes (per block of 32 four rows of nibbles,
// then the 16 f16 d at 2048 and the int8 scales ls - 32 from 2080), the
// iq4_nl ones q4_0's [4, 2, 512 / 32, 288]. The codes become their
// non-linear values plus 128 by vpshufb (the rows' sums times -128 start
// the lanes), and iq4_xs's scales are signed.
// INT8-LABEL: func.func @int8_panels_iq4
// INT8-SAME: tensor<4x32x512x!moe.quant<iq4_xs>> {moe.int8_panels},
// INT8-SAME: tensor<4x32x512x!moe.quant<iq4_nl>> {moe.int8_panels},
// INT8-SAME: %{{[^:]*}}: tensor<4x32x512x!moe.quant<u2z>>,
// PANELS-LABEL: func.func @int8_panels_iq4
// PANELS-SAME: tensor<4x2x2x2208xi8> {moe.int8_panels},
// PANELS-SAME: tensor<4x2x16x288xi8> {moe.int8_panels},
// PANELS-SAME: tensor<4x32x{{[0-9]+}}xi8>,
// PANELS: arith.muli %{{.*}}, %c-128_i32 : i32
// PANELS: vector.transfer_read %{{.*}}[%{{.*}}, %{{.*}}, %c2048]{{.*}} : tensor<2x2x2208xi8>, vector<32xi8>
// PANELS: vector.transfer_read %{{.*}} : tensor<2x2x2208xi8>, vector<64xi8>
// PANELS: llvm.inline_asm asm_dialect = att "vpshufb
// PANELS: llvm.inline_asm asm_dialect = att "vpdpbusd
// PANELS: arith.sitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// PANELS: vector.transfer_read %{{.*}} : tensor<2x16x288xi8>, vector<64xi8>
// PANELS: llvm.inline_asm asm_dialect = att "vpshufb
// PANELS: llvm.inline_asm asm_dialect = att "vpdpbusd
// PANELS: return
func.func @int8_panels_iq4(%x: tensor<?x512xf32>, %w: tensor<4x32x512x!moe.quant<iq4_xs>>, %wn: tensor<4x32x512x!moe.quant<iq4_nl>>, %w2: tensor<4x32x512x!moe.quant<u2z>>, %off: tensor<5xi32>) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x512xf32>, tensor<4x32x512x!moe.quant<iq4_xs>> -> tensor<?x32xf32>
  %b = moe.grouped_matmul %x, %wn offsets(%off : tensor<5xi32>) : tensor<?x512xf32>, tensor<4x32x512x!moe.quant<iq4_nl>> -> tensor<?x32xf32>
  %c = moe.grouped_matmul %x, %w2 offsets(%off : tensor<5xi32>) : tensor<?x512xf32>, tensor<4x32x512x!moe.quant<u2z>> -> tensor<?x32xf32>
  return %a, %b, %c : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// q3_k experts' weights are marked, and their panels are [4, 2, 512 /
// 256, 1824] bytes: per block of 32 two rows of crumbs and one of third
// bits, then the 16 f16 d at 1536 and the int8 scales less 32 of each 16
// values from 1568. Each half of a block sums apart, started by the row's
// half sums times -4 (the codes are the values plus 4); a step's crumbs
// are shifted down to bits 0-1, its third bits up or down to bit 2; the
// two halves' sums times their signed scales.
// INT8-LABEL: func.func @int8_panels_q3_k
// INT8-SAME: tensor<4x32x512x!moe.quant<q3_k>> {moe.int8_panels},
// PANELS-LABEL: func.func @int8_panels_q3_k
// PANELS-SAME: tensor<4x2x2x1824xi8> {moe.int8_panels},
// PANELS: arith.muli %{{.*}}, %c-4_i32 : i32
// PANELS: arith.muli %{{.*}}, %c-4_i32 : i32
// PANELS: vector.transfer_read %{{.*}}[%{{.*}}, %{{.*}}, %c1536]{{.*}} : tensor<2x2x1824xi8>, vector<32xi8>
// PANELS: scf.for %{{.*}} = %c0{{(_[0-9]+)?}} to %c8{{(_[0-9]+)?}} step
// PANELS: vector.transfer_read %{{.*}} : tensor<2x2x1824xi8>, vector<64xi8>
// PANELS: arith.andi %{{.*}}, %cst{{.*}} : vector<16xi32>
// PANELS: vector.transfer_read %{{.*}} : tensor<2x2x1824xi8>, vector<64xi8>
// PANELS: arith.shli %{{.*}}, %cst{{.*}} : vector<16xi32>
// PANELS: arith.andi %{{.*}}, %cst{{.*}} : vector<16xi32>
// PANELS: arith.ori
// PANELS: llvm.inline_asm asm_dialect = att "vpdpbusd
// PANELS: arith.shrui
// PANELS: llvm.inline_asm asm_dialect = att "vpdpbusd
// PANELS: arith.sitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// PANELS: arith.sitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// PANELS: vector.fma
// PANELS: return
func.func @int8_panels_q3_k(%x: tensor<?x512xf32>, %w: tensor<4x32x512x!moe.quant<q3_k>>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x512xf32>, tensor<4x32x512x!moe.quant<q3_k>> -> tensor<?x32xf32>
  return %a : tensor<?x32xf32>
}

// q2_k experts' weights are marked, and their panels are [4, 2, 512 /
// 256, 1344] bytes: per block of 32 two rows of crumbs, then the 16 f16 d
// at 1024, the 16 f16 dmin at 1056 and the bytes of scales and mins of
// each 16 values from 1088. A step's crumbs are shifted down to bits 0-1
// and masked, nothing more; each half's sum is scaled by the low nibbles
// of its bytes, and -dmin times their high nibbles times the row's scaled
// half sum is added, per half.
// INT8-LABEL: func.func @int8_panels_q2_k
// INT8-SAME: tensor<4x32x512x!moe.quant<q2_k>> {moe.int8_panels},
// PANELS-LABEL: func.func @int8_panels_q2_k
// PANELS-SAME: tensor<4x2x2x1344xi8> {moe.int8_panels},
// PANELS: arith.sitofp %{{.*}} : i32 to f32
// PANELS: arith.mulf
// PANELS: arith.sitofp %{{.*}} : i32 to f32
// PANELS: arith.mulf
// PANELS: vector.transfer_read %{{.*}}[%{{.*}}, %{{.*}}, %c1024]{{.*}} : tensor<2x2x1344xi8>, vector<32xi8>
// PANELS: vector.transfer_read %{{.*}}[%{{.*}}, %{{.*}}, %c1056]{{.*}} : tensor<2x2x1344xi8>, vector<32xi8>
// PANELS: vector.transfer_read %{{.*}} : tensor<2x2x1344xi8>, vector<64xi8>
// PANELS-NEXT: vector.bitcast
// PANELS-NEXT: arith.andi %{{.*}}, %cst{{.*}} : vector<16xi32>
// PANELS: llvm.inline_asm asm_dialect = att "vpdpbusd
// PANELS: arith.shrui %{{.*}}, %cst{{.*}} : vector<16xi32>
// PANELS-NEXT: arith.andi %{{.*}}, %cst{{.*}} : vector<16xi32>
// PANELS: llvm.inline_asm asm_dialect = att "vpdpbusd
// PANELS: arith.andi %{{.*}}, %cst{{.*}} : vector<16xi8>
// PANELS: arith.uitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// PANELS: arith.shrui %{{.*}}, %cst{{.*}} : vector<16xi8>
// PANELS: arith.uitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// PANELS: vector.fma
// PANELS: vector.fma
// PANELS: vector.fma
// PANELS: return
func.func @int8_panels_q2_k(%x: tensor<?x512xf32>, %w: tensor<4x32x512x!moe.quant<q2_k>>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x512xf32>, tensor<4x32x512x!moe.quant<q2_k>> -> tensor<?x32xf32>
  return %a : tensor<?x32xf32>
}
