// Block-quantized GEMMs for convert-moe-to-cpu-kernels with int8_dot
// (convert-moe-to-cpu-kernels.mlir, prefix INT8).

// q4_0, k 128: the item's rows quantized to int8 once (per block of 32:
// the largest magnitude, the scale, the values rounded to nearest even),
// stored in halves: block j of each 128 at 16 j (its first 16 values) and
// 64 + 16 j (its last 16), with 4 lanes of scale and of sums (both
// halves' values) per block. Then one unit of 4 blocks per loop trip:
// the next block's weight rows prefetched, each weight row's nibbles as
// two vectors of 64 unsigned bytes (low: first 16 of each block, high:
// last 16) and its 4 f16 scales converted together; per row two chained
// vpdpbusd from minus 8 times the lanes' sums, converted, scaled and
// accumulated.
// INT8-LABEL: func.func @grouped_matmul_q4_0
// INT8-SAME: %[[W:[a-z0-9_]+]]: tensor<4x32x72xi8>
// INT8: vector.reduction <maxnumf>, %{{.*}} fastmath<reassoc,nnan> : vector<32xf32> into f32
// INT8: %[[R:.*]] = math.roundeven %{{.*}} : vector<32xf32>
// INT8: %[[Q:.*]] = arith.fptosi %[[R]] : vector<32xf32> to vector<32xi8>
// INT8: vector.shuffle {{.*}} [0, 4, 8, 12, 16, 20, 24, 28] : vector<32xi32>, vector<32xi32>
// INT8: %[[FIRST:.*]] = vector.shuffle %[[Q]], %[[Q]] [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] : vector<32xi8>, vector<32xi8>
// INT8: vector.transfer_write %[[FIRST]]
// INT8: %[[LAST:.*]] = vector.shuffle %[[Q]], %[[Q]] [16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31] : vector<32xi8>, vector<32xi8>
// INT8: vector.transfer_write %[[LAST]]
// INT8: %[[WBUF:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<32x72xi8> to memref<32x72xi8, strided<[?, 1], offset: ?>>
// INT8: scf.for %{{.*}} = %c{{0(_[0-9]+)?}} to %c{{1(_[0-9]+)?}} step %c{{1(_[0-9]+)?}}
// INT8: memref.prefetch %[[WBUF]]
// INT8: %[[LO:.*]] = vector.transfer_read {{.*}} : tensor<?x128xi8>, vector<64xi8>
// INT8: %[[HI:.*]] = vector.transfer_read {{.*}} : tensor<?x128xi8>, vector<64xi8>
// INT8: %[[SA:.*]] = vector.transfer_read {{.*}} : tensor<?x16xf32>, vector<16xf32>
// INT8: %[[SUMS:.*]] = vector.transfer_read {{.*}} : tensor<?x16xi32>, vector<16xi32>
// INT8: %[[START:.*]] = arith.muli %[[SUMS]], %{{.*}} : vector<16xi32>
// INT8: %[[X:.*]] = vector.shuffle {{.*}} : vector<32xi8>, vector<32xi8>
// INT8: %[[WLO:.*]] = arith.andi %[[X]], %{{.*}} : vector<64xi8>
// INT8: %[[WHI:.*]] = arith.shrui %[[X]], %{{.*}} : vector<64xi8>
// INT8: %[[BITS:.*]] = vector.broadcast %{{.*}} : i64 to vector<1xi64>
// INT8: %[[HALVES:.*]] = vector.bitcast %[[BITS]] : vector<1xi64> to vector<4xf16>
// INT8: %[[D:.*]] = arith.extf %[[HALVES]] : vector<4xf16> to vector<4xf32>
// INT8: %[[SW:.*]] = vector.shuffle %[[D]], %[[D]] [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3] : vector<4xf32>, vector<4xf32>
// INT8: %[[P:.*]] = llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %[[START]], %[[WLO]], %[[LO]] : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// INT8: %[[P2:.*]] = llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %[[P]], %[[WHI]], %[[HI]] : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// INT8: %[[S:.*]] = arith.mulf %[[SW]], %[[SA]] : vector<16xf32>
// INT8: %[[F:.*]] = arith.sitofp %[[P2]] : vector<16xi32> to vector<16xf32>
// INT8: vector.fma %[[F]], %[[S]], %{{.*}} : vector<16xf32>
func.func @grouped_matmul_q4_0(%x: tensor<?x128xf32>, %w: tensor<4x32x128x!moe.quant<q4_0>>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x128xf32>, tensor<4x32x128x!moe.quant<q4_0>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// q8_0, k 32: not a multiple of 64, so the f32 kernel on the rows as
// they are.
// INT8-LABEL: func.func @dense_q8_0_k32
// INT8-NOT: llvm.inline_asm
// INT8: arith.sitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// INT8-NOT: llvm.inline_asm
// INT8: return
func.func @dense_q8_0_k32(%x: tensor<?x32xf32>, %w: tensor<32x32x!moe.quant<q8_0>>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x32xf32>, tensor<32x32x!moe.quant<q8_0>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// q4_0, k 192: one unit of 128, then a tail of 2 blocks. The rows' last
// 2 blocks keep their last 16 values 32 (not 64) after their first. The
// tail: the 2 blocks' nibbles as one vector of 64 bytes (low, then high),
// the rows' 8 scale lanes twice and 8 sums lanes then zeros, the weight
// scales in runs of 4 lanes, one vpdpbusd per (row, weight row).
// INT8-LABEL: func.func @dense_q4_0_k192
// INT8: %[[TAILAT:.*]] = arith.cmpi uge, %{{.*}}, %c4{{(_[0-9]+)?}} : index
// INT8: arith.select %[[TAILAT]], %c32{{(_[0-9]+)?}}, %c64{{(_[0-9]+)?}} : index
// INT8: scf.for %{{.*}} = %c{{0(_[0-9]+)?}} to %c{{1(_[0-9]+)?}} step %c{{1(_[0-9]+)?}}
// INT8-COUNT-2: llvm.inline_asm asm_dialect = att "vpdpbusd
// INT8: scf.yield
// INT8: %[[X:.*]] = vector.shuffle %{{.*}} : vector<16xi8>, vector<16xi8>
// INT8: %[[LO:.*]] = arith.andi %[[X]], %{{.*}} : vector<32xi8>
// INT8: %[[HI:.*]] = arith.shrui %[[X]], %{{.*}} : vector<32xi8>
// INT8: %[[W:.*]] = vector.shuffle %[[LO]], %[[HI]] {{.*}} : vector<32xi8>, vector<32xi8>
// INT8: %[[QA:.*]] = vector.transfer_read %{{.*}}[%{{.*}}, %c128{{(_[0-9]+)?}}]{{.*}} : tensor<?x192xi8>, vector<64xi8>
// INT8: %[[SA8:.*]] = vector.transfer_read {{.*}} : tensor<?x24xf32>, vector<8xf32>
// INT8: vector.shuffle %[[SA8]], %[[SA8]] [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7] : vector<8xf32>, vector<8xf32>
// INT8: %[[SUMS8:.*]] = vector.transfer_read {{.*}} : tensor<?x24xi32>, vector<8xi32>
// INT8: vector.shuffle %[[SUMS8]], %{{.*}} [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] : vector<8xi32>, vector<8xi32>
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %{{.*}}, %[[W]], %[[QA]]
func.func @dense_q4_0_k192(%x: tensor<?x192xf32>, %w: tensor<16x192x!moe.quant<q4_0>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x192xf32>, tensor<16x192x!moe.quant<q4_0>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// q8_0, k 128: the stored int8 values made unsigned by flipping their
// sign bit (plus 128), so the lanes start at minus 128 times their sums.
// INT8-LABEL: func.func @dense_q8_0
// INT8: arith.xori %{{.*}} : vector<64xi8>
// INT8: arith.xori %{{.*}} : vector<64xi8>
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd
func.func @dense_q8_0(%x: tensor<?x128xf32>, %w: tensor<32x128x!moe.quant<q8_0>>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x128xf32>, tensor<32x128x!moe.quant<q8_0>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// q4_k: rows in order, one super-block of 256 per loop trip, 4 steps of
// 64 (2 sub-blocks each); the 8 sub-blocks' 6-bit scales and mins
// unpacked and converted as vectors once per weight row; the nibbles are
// unsigned already (the lanes start at 0) and the mins add the rows'
// scaled sums times minus dmin · m.
// INT8-LABEL: func.func @grouped_matmul_q4_k
// INT8: scf.for %{{.*}} = %c{{0(_[0-9]+)?}} to %c{{1(_[0-9]+)?}} step %c{{1(_[0-9]+)?}}
// INT8: arith.uitofp %{{.*}} : vector<8xi8> to vector<8xf32>
// INT8: arith.negf %{{.*}} : vector<8xf32>
// INT8-COUNT-4: llvm.inline_asm asm_dialect = att "vpdpbusd
func.func @grouped_matmul_q4_k(%x: tensor<?x256xf32>, %w: tensor<4x32x256x!moe.quant<q4_k>>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x32x256x!moe.quant<q4_k>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// q6_k: the 6-bit values (ql's nibbles, qh's 2-bit pairs shifted up)
// are unsigned, their offset 32; an int8 scale per 16 (4 lanes), the 16
// converted as one vector.
// INT8-LABEL: func.func @dense_q6_k
// INT8: arith.shli %{{.*}} : vector<64xi8>
// INT8: arith.ori %{{.*}} : vector<64xi8>
// INT8: arith.sitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd
func.func @dense_q6_k(%x: tensor<?x256xf32>, %w: tensor<16x256x!moe.quant<q6_k>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x256xf32>, tensor<16x256x!moe.quant<q6_k>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// q5_1: a unit of 4 blocks in halves as q4_0's, the fifth bits of each
// half (bits 0-15 of the 4 blocks' qh, then 16-31) a 64-bit mask that
// selects 16 or 0 per byte, or'ed into the nibbles; unsigned (the lanes
// start at 0), the 4 blocks' f16 mins m added times the rows' scaled sums.
// INT8-LABEL: func.func @dense_q5_1
// INT8: %[[MASK:.*]] = vector.bitcast %{{.*}} : vector<1xi64> to vector<64xi1>
// INT8: %[[FIFTH:.*]] = arith.select %[[MASK]], %{{.*}}, %{{.*}} : vector<64xi1>, vector<64xi8>
// INT8: arith.ori %{{.*}}, %[[FIFTH]] : vector<64xi8>
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd
// INT8: vector.fma
// INT8: vector.fma
func.func @dense_q5_1(%x: tensor<?x128xf32>, %w: tensor<16x128x!moe.quant<q5_1>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x128xf32>, tensor<16x128x!moe.quant<q5_1>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// mxfp4, k 128: in halves as q4_0 (the low nibbles are each block's first
// 16 values); each nibble looked up by vpshufb in a table of the doubled
// e2m1 values plus 12 (unsigned, 0 to 24; repeated in each 16-byte lane),
// so the lanes start at minus 12 times their sums; the 4 blocks' e8m0
// scales in runs of 4 lanes.
// INT8-LABEL: func.func @dense_mxfp4
// INT8: %[[TABLE:.*]] = arith.constant dense<[12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0, 12,
// INT8: arith.muli %{{.*}} : vector<16xi32>
// INT8: %[[LO:.*]] = arith.andi %{{.*}} : vector<64xi8>
// INT8: %[[WLO:.*]] = llvm.inline_asm asm_dialect = att "vpshufb $2, $1, $0", "=v,v,v" %[[TABLE]], %[[LO]] : (vector<64xi8>, vector<64xi8>) -> vector<64xi8>
// INT8: %[[HI:.*]] = arith.shrui %{{.*}} : vector<64xi8>
// INT8: %[[WHI:.*]] = llvm.inline_asm asm_dialect = att "vpshufb $2, $1, $0", "=v,v,v" %[[TABLE]], %[[HI]] : (vector<64xi8>, vector<64xi8>) -> vector<64xi8>
// INT8: arith.bitcast %{{.*}} : i32 to f32
// INT8: vector.shuffle %{{.*}} [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] : vector<8xf32>, vector<8xf32>
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %{{.*}}, %[[WLO]], %{{.*}}
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %{{.*}}, %[[WHI]], %{{.*}}
func.func @dense_mxfp4(%x: tensor<?x128xf32>, %w: tensor<16x128x!moe.quant<mxfp4>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x128xf32>, tensor<16x128x!moe.quant<mxfp4>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// u8z, k 128: the codes are unsigned bytes already, so each lane starts
// from 0 (no offset times the row's sums); the 4 blocks' f32 scales d and
// their zero points z come in as mins, -d z per lane, added times the
// row's scaled sums after the scaled dot product. The 4 scales and zero
// points are gathered into vectors, converted and multiplied once, and
// spread over the 16 lanes (4 each) with one shuffle each.
// INT8-LABEL: func.func @grouped_matmul_u8z
// INT8-SAME: %[[UW:[a-z0-9_]+]]: tensor<32x148xi8>
// INT8: %[[ZERO:.*]] = arith.constant dense<0> : vector<16xi32>
// INT8: %[[SA8:.*]] = vector.transfer_read {{.*}} : tensor<?x16xf32>, vector<16xf32>
// INT8: %[[SUMS8:.*]] = vector.transfer_read {{.*}} : tensor<?x16xi32>, vector<16xi32>
// INT8: %[[SUMSF:.*]] = arith.sitofp %[[SUMS8]] : vector<16xi32> to vector<16xf32>
// INT8: %[[SCALED:.*]] = arith.mulf %[[SA8]], %[[SUMSF]] : vector<16xf32>
// INT8: vector.transfer_read %[[UW]]{{.*}} : tensor<32x148xi8>, vector<4xi8>
// INT8: %[[D4:.*]] = vector.from_elements %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : vector<4xf32>
// INT8: %[[Z4:.*]] = vector.from_elements %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : vector<4xi8>
// INT8: %[[ZF:.*]] = arith.uitofp %[[Z4]] : vector<4xi8> to vector<4xf32>
// INT8: %[[DZ:.*]] = arith.mulf %[[D4]], %[[ZF]] : vector<4xf32>
// INT8: %[[NEG4:.*]] = arith.negf %[[DZ]] : vector<4xf32>
// INT8: %[[SW8:.*]] = vector.shuffle %[[D4]], %[[D4]] [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3] : vector<4xf32>, vector<4xf32>
// INT8: %[[NEGMINS:.*]] = vector.shuffle %[[NEG4]], %[[NEG4]] [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3] : vector<4xf32>, vector<4xf32>
// INT8: %[[P:.*]] = llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %[[ZERO]],
// INT8: %[[P2:.*]] = llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %[[P]],
// INT8: %[[S8:.*]] = arith.mulf %[[SW8]], %[[SA8]] : vector<16xf32>
// INT8: %[[F8:.*]] = arith.sitofp %[[P2]] : vector<16xi32> to vector<16xf32>
// INT8: %[[ACC:.*]] = vector.fma %[[F8]], %[[S8]], %{{.*}} : vector<16xf32>
// INT8: vector.fma %[[NEGMINS]], %[[SCALED]], %[[ACC]] : vector<16xf32>
func.func @grouped_matmul_u8z(%x: tensor<?x128xf32>, %w: tensor<32x128x!moe.quant<u8z>>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x128xf32>, tensor<32x128x!moe.quant<u8z>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// u2z, k 192 (a unit of 4 blocks and a tail of 2): the 4 blocks' 8 code
// bytes read together; their bits 0-1 and 2-3 interleaved per block (8
// and 8) are the blocks' first 16 values, bits 4-5 and 6-7 their last 16;
// the tail's 2 blocks as one vector, first 16 values of both then their
// last 16.
// INT8-LABEL: func.func @grouped_matmul_u2z
// INT8-SAME: %[[W2:[a-z0-9_]+]]: tensor<32x78xi8>
// INT8: vector.transfer_read %[[W2]]{{.*}} : tensor<32x78xi8>, vector<8xi8>
// INT8: %[[X2:.*]] = vector.shuffle %{{.*}}, %{{.*}} [0, 1, {{.*}}, 30, 31] : vector<16xi8>, vector<16xi8>
// INT8: %[[B0:.*]] = arith.andi %[[X2]], %[[M3:.*]] : vector<32xi8>
// INT8: %[[SH1:.*]] = arith.shrui %[[X2]], %{{.*}} : vector<32xi8>
// INT8: %[[B1:.*]] = arith.andi %[[SH1]], %[[M3]] : vector<32xi8>
// INT8: %[[FIRST:.*]] = vector.shuffle %[[B0]], %[[B1]] [0, 1, 2, 3, 4, 5, 6, 7, 32, 33, 34, 35, 36, 37, 38, 39, 8, 9, {{.*}}] : vector<32xi8>, vector<32xi8>
// INT8: %[[SH2:.*]] = arith.shrui %[[X2]], %{{.*}} : vector<32xi8>
// INT8: %[[B2:.*]] = arith.andi %[[SH2]], %[[M3]] : vector<32xi8>
// INT8: %[[B3:.*]] = arith.shrui %[[X2]], %{{.*}} : vector<32xi8>
// INT8: %[[LAST:.*]] = vector.shuffle %[[B2]], %[[B3]] [0, 1, 2, 3, 4, 5, 6, 7, 32, {{.*}}] : vector<32xi8>, vector<32xi8>
// INT8: %[[P2A:.*]] = llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %{{.*}}, %[[FIRST]],
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %[[P2A]], %[[LAST]],
// INT8: %[[T01:.*]] = vector.shuffle %{{.*}}, %{{.*}} [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23, 8, {{.*}}] : vector<16xi8>, vector<16xi8>
// INT8: %[[T23:.*]] = vector.shuffle %{{.*}}, %{{.*}} [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23, 8, {{.*}}] : vector<16xi8>, vector<16xi8>
// INT8: %[[TAIL:.*]] = vector.shuffle %[[T01]], %[[T23]] [0, 1, {{.*}}, 62, 63] : vector<32xi8>, vector<32xi8>
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %{{.*}}, %[[TAIL]],
func.func @grouped_matmul_u2z(%x: tensor<?x192xf32>, %w: tensor<32x192x!moe.quant<u2z>>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x192xf32>, tensor<32x192x!moe.quant<u2z>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// u2z128, k 128: per step of 64 elements, 16 bytes' 4 pairs of bits in
// order, one vpdpbusd, the block's scale and min splat.
// INT8-LABEL: func.func @dense_u2z128
// INT8-SAME: %[[W2B:[a-z0-9_]+]]: tensor<16x37xi8>
// INT8: %[[X2B:.*]] = vector.transfer_read %[[W2B]]{{.*}} : tensor<16x37xi8>, vector<16xi8>
// INT8: %[[Q01:.*]] = vector.shuffle %{{.*}}, %{{.*}} [0, 1, {{.*}}, 30, 31] : vector<16xi8>, vector<16xi8>
// INT8: %[[Q23:.*]] = vector.shuffle %{{.*}}, %{{.*}} [0, 1, {{.*}}, 30, 31] : vector<16xi8>, vector<16xi8>
// INT8: %[[Q2B:.*]] = vector.shuffle %[[Q01]], %[[Q23]] [0, 1, {{.*}}, 62, 63] : vector<32xi8>, vector<32xi8>
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %{{.*}}, %[[Q2B]],
func.func @dense_u2z128(%x: tensor<?x128xf32>, %w: tensor<16x128x!moe.quant<u2z128>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x128xf32>, tensor<16x128x!moe.quant<u2z128>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// u4z16, k 128: a step of 64 elements is 4 blocks of 16 in order, one
// vpdpbusd each: their 4 x 8 code bytes read together, each block's low
// nibbles then its high ones; the 4 blocks' scales and zero points read as
// scalars, converted together and spread over 4 lanes each.
// INT8-LABEL: func.func @dense_u4z16
// INT8-SAME: %[[W416:[a-z0-9_]+]]: tensor<16x104xi8>
// INT8: vector.transfer_read %[[W416]]{{.*}} : tensor<16x104xi8>, vector<8xi8>
// INT8: %[[X416:.*]] = vector.shuffle %{{.*}}, %{{.*}} [0, 1, {{.*}}, 30, 31] : vector<16xi8>, vector<16xi8>
// INT8: %[[LO416:.*]] = arith.andi %[[X416]], %{{.*}} : vector<32xi8>
// INT8: %[[HI416:.*]] = arith.shrui %[[X416]], %{{.*}} : vector<32xi8>
// INT8: %[[Q416:.*]] = vector.shuffle %[[LO416]], %[[HI416]] [0, 1, 2, 3, 4, 5, 6, 7, 32, 33, 34, 35, 36, 37, 38, 39, 8, 9, {{.*}}, 62, 63] : vector<32xi8>, vector<32xi8>
// INT8: %[[D416:.*]] = vector.from_elements %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : vector<4xf32>
// INT8: vector.shuffle %[[D416]], %[[D416]] [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3] : vector<4xf32>, vector<4xf32>
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %{{.*}}, %[[Q416]],
func.func @dense_u4z16(%x: tensor<?x128xf32>, %w: tensor<16x128x!moe.quant<u4z16>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x128xf32>, tensor<16x128x!moe.quant<u4z16>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// u2z16, k 64: each block's 4 bytes give its elements 0-3, 4-7, 8-11 and
// 12-15 as their bits 0-1, 2-3, 4-5 and 6-7: runs of 4 of the first two
// and of the last two, then runs of 8 of those.
// INT8-LABEL: func.func @dense_u2z16
// INT8-SAME: %[[W216:[a-z0-9_]+]]: tensor<16x36xi8>
// INT8: %[[X216:.*]] = vector.shuffle %{{.*}}, %{{.*}} [0, 1, {{.*}}, 14, 15] : vector<8xi8>, vector<8xi8>
// INT8: %[[B0216:.*]] = arith.andi %[[X216]], %[[M3216:.*]] : vector<16xi8>
// INT8: %[[SH216:.*]] = arith.shrui %[[X216]], %{{.*}} : vector<16xi8>
// INT8: %[[B1216:.*]] = arith.andi %[[SH216]], %[[M3216]] : vector<16xi8>
// INT8: %[[R01:.*]] = vector.shuffle %[[B0216]], %[[B1216]] [0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, {{.*}}, 31] : vector<16xi8>, vector<16xi8>
// INT8: %[[R23:.*]] = vector.shuffle %{{.*}}, %{{.*}} [0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, {{.*}}, 31] : vector<16xi8>, vector<16xi8>
// INT8: %[[Q216:.*]] = vector.shuffle %[[R01]], %[[R23]] [0, 1, 2, 3, 4, 5, 6, 7, 32, 33, 34, 35, 36, 37, 38, 39, 8, 9, {{.*}}, 62, 63] : vector<32xi8>, vector<32xi8>
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %{{.*}}, %[[Q216]],
func.func @dense_u2z16(%x: tensor<?x64xf32>, %w: tensor<16x64x!moe.quant<u2z16>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x64xf32>, tensor<16x64x!moe.quant<u2z16>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// fp8_e4m3, k 128: FP8 values are not integers, so no int8 rows: the f32
// kernel, decoding the values in registers.
// INT8-LABEL: func.func @dense_fp8_no_int8
// INT8-NOT: llvm.inline_asm
// INT8: arith.extf %{{.*}} : vector<16xf16> to vector<16xf32>
// INT8-NOT: llvm.inline_asm
// INT8: return
func.func @dense_fp8_no_int8(%x: tensor<?x128xf32>, %w: tensor<32x128x!moe.quant<fp8_e4m3>>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x128xf32>, tensor<32x128x!moe.quant<fp8_e4m3>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// u4z128, k 128: blocks of 128 in order, as q4_k's (not in halves): per
// step of 64 elements, 32 bytes' low nibbles then their high ones, one
// vpdpbusd from 0, the block's scale and its min (-d z) splat over the
// lanes.
// INT8-LABEL: func.func @dense_u4z128
// INT8-SAME: %[[W128:[a-z0-9_]+]]: tensor<16x69xi8>
// INT8: %[[Z0:.*]] = arith.constant dense<0> : vector<16xi32>
// INT8: %[[X128:.*]] = vector.transfer_read %[[W128]]{{.*}} : tensor<16x69xi8>, vector<32xi8>
// INT8: %[[LO128:.*]] = arith.andi %[[X128]], %{{.*}} : vector<32xi8>
// INT8: %[[HI128:.*]] = arith.shrui %[[X128]], %{{.*}} : vector<32xi8>
// INT8: %[[Q128:.*]] = vector.shuffle %[[LO128]], %[[HI128]] [0, 1, {{.*}}, 62, 63] : vector<32xi8>, vector<32xi8>
// INT8: %[[NEG128:.*]] = arith.negf %{{.*}} : f32
// INT8: %[[D128S:.*]] = vector.broadcast %{{.*}} : f32 to vector<16xf32>
// INT8: %[[M128S:.*]] = vector.broadcast %[[NEG128]] : f32 to vector<16xf32>
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %[[Z0]], %[[Q128]],
// INT8: %[[ACC128:.*]] = vector.fma %{{.*}}, %{{.*}}, %{{.*}} : vector<16xf32>
// INT8: vector.fma %[[M128S]], %{{.*}}, %[[ACC128]] : vector<16xf32>
func.func @dense_u4z128(%x: tensor<?x128xf32>, %w: tensor<16x128x!moe.quant<u4z128>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x128xf32>, tensor<16x128x!moe.quant<u4z128>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// u4z with a bias, k 128, 40 output columns: items of at least
// int8_panel_rows rows (8 for u4z, the cost model's count) run the int8
// panel kernel, the others the row kernel, on the same int8 rows. The
// panel kernel first tabulates per row and block the lanes' start, the
// row's scale and its scaled sum (the zero points' mins); then per group
// of 32 columns it repacks the weight rows unit by unit (prefetching a few
// units ahead, each 16 x 16 lane matrix transposed in 4 shuffle stages)
// into a [2, 4, 8, 16] tile of i32 lanes with [2, 4, 16] scales and mins,
// and runs 6-row blocks over it: per block of 32 one vpdpbusd per (row,
// panel) and lane of 4 values, the row's 4 values broadcast, then the i32
// sums converted, scaled by the row's scale and the columns' scales, and
// the mins added; the first row block prefetches the next group's rows.
// The columns past the item's 40 are masked off.
// INT8-LABEL: func.func @grouped_matmul_u4z_panels
// INT8-SAME: %[[W:[a-z0-9_]+]]: tensor<4x40x84xi8>
// INT8: %[[MANY:.*]] = arith.cmpi uge, %[[COUNT:.*]], %c8 : index
// INT8: scf.if %[[MANY]] -> (tensor<?x?xf32>) {
// INT8: %[[TABLES:.*]]:3 = linalg.generic {{.*}} outs(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x4xi32>, tensor<?x4xf32>, tensor<?x4xf32>)
// INT8: bufferization.alloc_tensor() : tensor<2x4x8x16xi32>
// INT8: bufferization.alloc_tensor() : tensor<2x4x16xf32>
// INT8: bufferization.alloc_tensor() : tensor<2x4x16xf32>
// INT8: scf.for %[[COL:.*]] = %c0 to %{{.*}} step %c32
// INT8: memref.prefetch {{.*}} read, locality<3>, data
// INT8: vector.shuffle {{.*}} [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23] : vector<16xi32>, vector<16xi32>
// INT8: vector.shuffle {{.*}} [0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27] : vector<16xi32>, vector<16xi32>
// INT8: vector.transfer_write %{{.*}}, %{{.*}}[%c0, %{{.*}}, %c7, %c0] {in_bounds = [true]} : vector<16xi32>, tensor<2x4x8x16xi32>
// INT8: scf.for %[[M:.*]] = %c0 to %{{.*}} step %c6
// INT8: scf.for %[[BLK:.*]] = %c0 to %c4 step %c1
// INT8: scf.if
// INT8: memref.prefetch {{.*}} read, locality<2>, data
// INT8: tensor.extract %[[TABLES]]#0[%{{.*}}, %[[BLK]]] : tensor<?x4xi32>
// INT8: %[[WV:.*]] = vector.transfer_read {{.*}}[%c0, %[[BLK]], %c0, %c0]{{.*}} : tensor<2x4x8x16xi32>, vector<16xi32>
// INT8: %[[A:.*]] = vector.broadcast %{{.*}} : i32 to vector<16xi32>
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %{{.*}}, %[[WV]], %[[A]] : (vector<16xi32>, vector<16xi32>, vector<16xi32>) -> vector<16xi32>
// INT8: %[[F:.*]] = arith.sitofp %{{.*}} : vector<16xi32> to vector<16xf32>
// INT8: %[[S:.*]] = arith.mulf %[[F]], %{{.*}} : vector<16xf32>
// INT8: %[[ACC:.*]] = vector.fma %[[S]], %{{.*}}, %{{.*}} : vector<16xf32>
// INT8: vector.fma %{{.*}}, %{{.*}}, %[[ACC]] : vector<16xf32>
// INT8: vector.transfer_read %{{.*}} : tensor<40xf32>, vector<16xf32>
// INT8: vector.transfer_write %{{.*}} : vector<16xf32>, tensor<?x?xf32>
// INT8: } else {
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" {{.*}} : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
func.func @grouped_matmul_u4z_panels(%x: tensor<?x128xf32>, %w: tensor<4x40x128x!moe.quant<u4z>>, %off: tensor<5xi32>, %b: tensor<4x40xf32>) -> tensor<?x40xf32> {
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) bias(%b : tensor<4x40xf32>) : tensor<?x128xf32>, tensor<4x40x128x!moe.quant<u4z>> -> tensor<?x40xf32>
  return %0 : tensor<?x40xf32>
}

// -----

// q5_k: q4_k's steps with each value's fifth bit, bit 2c or 2c + 1 of
// qh's 32 bytes, shifted up 4 (each half apart, then joined) and or'ed
// into the 64 nibbles; 4 steps of
// 64 per super-block, the mins as q4_k's.
// INT8-LABEL: func.func @dense_q5_k
// INT8: arith.shli %{{.*}}, %{{.*}} : vector<32xi8>
// INT8: %[[HIGH:.*]] = vector.shuffle %{{.*}}, %{{.*}} [{{.*}}] : vector<32xi8>, vector<32xi8>
// INT8: arith.ori %{{.*}}, %[[HIGH]] : vector<64xi8>
// INT8: arith.negf %{{.*}} : vector<8xf32>
// INT8-COUNT-4: llvm.inline_asm asm_dialect = att "vpdpbusd
func.func @dense_q5_k(%x: tensor<?x256xf32>, %w: tensor<16x256x!moe.quant<q5_k>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x256xf32>, tensor<16x256x!moe.quant<q5_k>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// q3_k: per step of 64, the 2-bit values (shifted down 0, 2, 4 or 6) with
// their third bits from hm (bit 2c or 2c + 1, shifted up 2) or'ed in, over
// the offset 4 (the rows' sums times -4 start the lanes); the 16 6-bit
// scales of the super-block (nibbles of s[0..7], bit pairs of s[8..11])
// less 32, converted once, 4 of them a step.
// INT8-LABEL: func.func @dense_q3_k
// INT8: arith.shli %{{.*}}, %{{.*}} : vector<32xi8>
// INT8: %[[THIRD:.*]] = vector.shuffle %{{.*}}, %{{.*}} [{{.*}}] : vector<32xi8>, vector<32xi8>
// INT8: arith.ori %{{.*}}, %[[THIRD]] : vector<64xi8>
// INT8: %[[SC:.*]] = arith.subi %{{.*}}, %{{.*}} : vector<16xi8>
// INT8: arith.sitofp %[[SC]] : vector<16xi8> to vector<16xf32>
// INT8-COUNT-4: llvm.inline_asm asm_dialect = att "vpdpbusd
func.func @dense_q3_k(%x: tensor<?x256xf32>, %w: tensor<16x256x!moe.quant<q3_k>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x256xf32>, tensor<16x256x!moe.quant<q3_k>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// q2_k: the 2-bit values unsigned; the 16 scales (low nibbles) times d
// and mins (high nibbles) times dmin, negated, converted once per
// super-block, 4 of each a step.
// INT8-LABEL: func.func @dense_q2_k
// INT8: arith.uitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// INT8: %[[M:.*]] = arith.uitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// INT8: %[[DM:.*]] = arith.mulf %[[M]], %{{.*}} : vector<16xf32>
// INT8: arith.negf %[[DM]] : vector<16xf32>
// INT8-COUNT-4: llvm.inline_asm asm_dialect = att "vpdpbusd
func.func @dense_q2_k(%x: tensor<?x256xf32>, %w: tensor<16x256x!moe.quant<q2_k>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x256xf32>, tensor<16x256x!moe.quant<q2_k>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// iq4_xs: per step of 64, two sub-blocks' low and high nibbles in runs of
// 16, mapped to their non-linear values plus 128 by vpshufb on a table
// (offset 128: the rows' sums times -128 start the lanes); the 8 6-bit
// scales less 32, converted once per super-block.
// INT8-LABEL: func.func @dense_iq4_xs
// INT8: %[[LS:.*]] = arith.subi %{{.*}}, %{{.*}} : vector<8xi8>
// INT8: arith.sitofp %[[LS]] : vector<8xi8> to vector<8xf32>
// INT8: llvm.inline_asm asm_dialect = att "vpshufb $2, $1, $0", "=v,v,v" %{{.*}}, %{{.*}} : (vector<64xi8>, vector<64xi8>) -> vector<64xi8>
// INT8-COUNT-4: llvm.inline_asm asm_dialect = att "vpdpbusd
func.func @dense_iq4_xs(%x: tensor<?x256xf32>, %w: tensor<16x256x!moe.quant<iq4_xs>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x256xf32>, tensor<16x256x!moe.quant<iq4_xs>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// iq4_nl: q4_0's halves, each half's nibbles mapped by vpshufb, then 2
// vpdpbusd per unit of 128 (K 192: one unit and a tail of 64).
// INT8-LABEL: func.func @dense_iq4_nl
// INT8: llvm.inline_asm asm_dialect = att "vpshufb $2, $1, $0"
// INT8: llvm.inline_asm asm_dialect = att "vpshufb $2, $1, $0"
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd
func.func @dense_iq4_nl(%x: tensor<?x192xf32>, %w: tensor<16x192x!moe.quant<iq4_nl>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x192xf32>, tensor<16x192x!moe.quant<iq4_nl>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}
