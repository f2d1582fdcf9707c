// The routing variants and the dispatch, for the PTX checks.
func.func @deepseek_v3(%l: tensor<?x256xbf16>, %b: tensor<256xf32>) -> (tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<?x8xi32>, tensor<257xi32>) {
  %w, %i = moe.route %l bias(%b : tensor<256xf32>) routing(#moe.routing<k = 8, scoring = sigmoid, renormalize = true, scale = 2.5, n_group = 8, topk_group = 4, group_score = top2_sum>) : tensor<?x256xbf16>
  %s, %inv, %off = moe.dispatch %i experts(256) : tensor<?x8xi32>
  return %w, %i, %s, %inv, %off : tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<?x8xi32>, tensor<257xi32>
}
func.func @gpt_oss(%l: tensor<?x32xf16>) -> (tensor<?x4xf32>, tensor<?x4xi32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 4, order = topk_then_score>) : tensor<?x32xf16>
  return %w, %i : tensor<?x4xf32>, tensor<?x4xi32>
}
func.func @qwen3(%l: tensor<?x?xf32>) -> (tensor<?x8xf32>, tensor<?x8xi32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 8, renormalize = true>) : tensor<?x?xf32>
  return %w, %i : tensor<?x8xf32>, tensor<?x8xi32>
}
