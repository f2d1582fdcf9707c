// A layer of block-quantized experts (q4_0 gate and up, q8_0 down) for
// moe-plan-expert-parallelism.mlir: its remark counts the blocks' bytes.
func.func @quantized(%x: tensor<?x256xf32>, %wr: tensor<4x256xf32>, %wg: tensor<4x256x256x!moe.quant<q4_0>>, %wu: tensor<4x256x256x!moe.quant<q4_0>>, %wd: tensor<4x256x256x!moe.quant<q8_0>>) -> tensor<?x256xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x256xf32>) gate(%wg : tensor<4x256x256x!moe.quant<q4_0>>) up(%wu : tensor<4x256x256x!moe.quant<q4_0>>) down(%wd : tensor<4x256x256x!moe.quant<q8_0>>) routing(#moe.routing<k = 2>) activation(#moe.activation<swiglu>) : tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}
