// Two entry points: a layer with router logits as an input, and a function
// of decomposed ops (which --verify cannot recompute).
func.func @relu_logits(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %u: tensor<4x8x16xf32>, %d: tensor<4x16x8xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) up(%u : tensor<4x8x16xf32>) down(%d : tensor<4x16x8xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

func.func @decomposed(%x: tensor<?x16xf32>, %w: tensor<8x16xf32>) -> tensor<?x8xf32> {
  %y = moe.grouped_matmul %x, %w : tensor<?x16xf32>, tensor<8x16xf32> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
