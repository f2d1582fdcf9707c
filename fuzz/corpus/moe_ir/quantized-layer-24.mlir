func.func @layer(%x: tensor<?x64xf32>, %wr: tensor<8x64xf32>, %wg: tensor<8x32x64x!moe.quant<q4_0>>, %wu: tensor<8x32x64x!moe.quant<u4z16>>, %wd: tensor<8x64x32x!moe.quant<q8_0>>) -> tensor<?x64xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<8x64xf32>) gate(%wg : tensor<8x32x64x!moe.quant<q4_0>>) up(%wu : tensor<8x32x64x!moe.quant<u4z16>>) down(%wd : tensor<8x64x32x!moe.quant<q8_0>>) routing(#moe.routing<k = 2>) activation(#moe.activation<swiglu>) : tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
