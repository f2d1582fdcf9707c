// Block-quantized GEMMs for convert-moe-to-cpu-kernels with int8_dot
// (convert-moe-to-cpu-kernels.mlir, prefix INT8).

// q4_0, k 64: the item's rows quantized to int8 once (per block of 32: the
// largest magnitude, the scale, the values rounded to nearest even, each
// lane's 4 values summed), then one step of 64 per loop trip: each weight
// row's two blocks' nibbles as 64 unsigned bytes, vpdpbusd from minus 8
// times the lanes' sums, converted, scaled and accumulated.
// INT8-LABEL: func.func @grouped_matmul_q4_0
// INT8-SAME: %[[W:[a-z0-9_]+]]: tensor<4x32x36xi8>
// INT8: vector.reduction <maxnumf>, %{{.*}} fastmath<reassoc,nnan> : vector<32xf32> into f32
// INT8: %[[R:.*]] = math.roundeven %{{.*}} : vector<32xf32>
// INT8: arith.fptosi %[[R]] : vector<32xf32> to vector<32xi8>
// INT8: vector.shuffle {{.*}} [0, 4, 8, 12, 16, 20, 24, 28] : vector<32xi32>, vector<32xi32>
// INT8: scf.for %{{.*}} = %c{{0(_[0-9]+)?}} to %c{{1(_[0-9]+)?}} step %c{{1(_[0-9]+)?}}
// INT8: %[[QA:.*]] = vector.transfer_read {{.*}} : tensor<?x64xi8>, vector<64xi8>
// INT8: %[[SA:.*]] = vector.transfer_read {{.*}} : tensor<?x16xf32>, vector<16xf32>
// INT8: %[[SUMS:.*]] = vector.transfer_read {{.*}} : tensor<?x16xi32>, vector<16xi32>
// INT8: %[[START:.*]] = arith.muli %[[SUMS]], %{{.*}} : vector<16xi32>
// INT8: arith.andi %{{.*}} : vector<16xi8>
// INT8: arith.shrui %{{.*}} : vector<16xi8>
// INT8: %[[U:.*]] = vector.shuffle {{.*}} : vector<32xi8>, vector<32xi8>
// INT8: %[[D:.*]] = llvm.inline_asm asm_dialect = att "vpdpbusd $3, $2, $0", "=v,0,v,v" %[[START]], %[[U]], %[[QA]] : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// INT8: %[[S:.*]] = arith.mulf %{{.*}}, %[[SA]] : vector<16xf32>
// INT8: %[[F:.*]] = arith.sitofp %[[D]] : vector<16xi32> to vector<16xf32>
// INT8: vector.fma %[[F]], %[[S]], %{{.*}} : vector<16xf32>
func.func @grouped_matmul_q4_0(%x: tensor<?x64xf32>, %w: tensor<4x32x64x!moe.quant<q4_0>>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x64xf32>, tensor<4x32x64x!moe.quant<q4_0>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// q8_0, k 32: not whole steps of 64, so the f32 kernel on the rows as
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

// q8_0, k 64: the stored int8 values made unsigned by flipping their sign
// bit (plus 128), so the lanes start at minus 128 times their sums.
// INT8-LABEL: func.func @dense_q8_0
// INT8: arith.xori %{{.*}} : vector<64xi8>
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd
func.func @dense_q8_0(%x: tensor<?x64xf32>, %w: tensor<32x64x!moe.quant<q8_0>>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x64xf32>, tensor<32x64x!moe.quant<q8_0>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// q4_k: one super-block of 256 per loop trip, 4 steps of 64 (2 sub-blocks
// each); the nibbles are unsigned already (the lanes start at 0) and the
// mins add the rows' scaled sums times minus dmin · m.
// INT8-LABEL: func.func @grouped_matmul_q4_k
// INT8: scf.for %{{.*}} = %c{{0(_[0-9]+)?}} to %c{{1(_[0-9]+)?}} step %c{{1(_[0-9]+)?}}
// INT8-COUNT-4: llvm.inline_asm asm_dialect = att "vpdpbusd
// INT8: arith.negf %{{.*}} : vector<16xf32>
func.func @grouped_matmul_q4_k(%x: tensor<?x256xf32>, %w: tensor<4x32x256x!moe.quant<q4_k>>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x32x256x!moe.quant<q4_k>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// q6_k: the 6-bit values (ql's nibbles, qh's 2-bit pairs shifted up)
// are unsigned, their offset 32; an int8 scale per 16 (4 lanes).
// INT8-LABEL: func.func @dense_q6_k
// INT8: arith.shli %{{.*}} : vector<64xi8>
// INT8: arith.ori %{{.*}} : vector<64xi8>
// INT8: llvm.inline_asm asm_dialect = att "vpdpbusd
func.func @dense_q6_k(%x: tensor<?x256xf32>, %w: tensor<16x256x!moe.quant<q6_k>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x256xf32>, tensor<16x256x!moe.quant<q6_k>> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}
