func.func @chain(%x: tensor<?x256xf32>, %a: tensor<128x256x!moe.quant<q4_k>>, %b: tensor<64x128x!moe.quant<u2z>>, %c: tensor<128x64x!moe.quant<mxfp4>>, %d: tensor<32x128x!moe.quant<u8z128>>, %e: tensor<16x32x!moe.quant<u2z16>>) -> tensor<?x16xf32> {
  %0 = moe.grouped_matmul %x, %a : tensor<?x256xf32>, tensor<128x256x!moe.quant<q4_k>> -> tensor<?x128xf32>
  %1 = moe.grouped_matmul %0, %b : tensor<?x128xf32>, tensor<64x128x!moe.quant<u2z>> -> tensor<?x64xf32>
  %2 = moe.grouped_matmul %1, %c : tensor<?x64xf32>, tensor<128x64x!moe.quant<mxfp4>> -> tensor<?x128xf32>
  %3 = moe.grouped_matmul %2, %d : tensor<?x128xf32>, tensor<32x128x!moe.quant<u8z128>> -> tensor<?x32xf32>
  %4 = moe.grouped_matmul %3, %e : tensor<?x32xf32>, tensor<16x32x!moe.quant<u2z16>> -> tensor<?x16xf32>
  return %4 : tensor<?x16xf32>
}
