func.func @route_topk_then_score(%l: tensor<5x4xf32>) -> (tensor<5x3xf32>, tensor<5x3xi32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 3, order = topk_then_score>) : tensor<5x4xf32>
  return %w, %i : tensor<5x3xf32>, tensor<5x3xi32>
}
