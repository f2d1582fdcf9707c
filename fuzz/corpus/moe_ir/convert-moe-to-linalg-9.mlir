func.func @layer(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %u: tensor<4x8x16xf32>, %d: tensor<4x16x8xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%u : tensor<4x8x16xf32>) down(%d : tensor<4x16x8xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
