func.func @route_grouped(%l: tensor<?x8xbf16>, %b: tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = moe.route %l bias(%b : tensor<8xf32>) routing(#moe.routing<k = 2, scoring = sigmoid, n_group = 4, topk_group = 2, group_score = top2_sum>) : tensor<?x8xbf16>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}
