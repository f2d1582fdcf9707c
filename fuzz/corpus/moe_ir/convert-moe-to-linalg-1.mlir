func.func @route_softmax(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 2, renormalize = true, scale = 2.0>) : tensor<?x8xf32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}
