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
// Whole layers: a shared expert with its gate, bf16 weights; a fused
// interleaved gate_up weight with biases and the clamped SwiGLU.
func.func @qwen2_layer(%x: tensor<?x64xf32>, %r: tensor<16x64xbf16>, %g: tensor<16x32x64xbf16>, %u: tensor<16x32x64xbf16>, %d: tensor<16x64x32xbf16>, %sg: tensor<48x64xbf16>, %su: tensor<48x64xbf16>, %sd: tensor<64x48xbf16>, %seg: tensor<1x64xbf16>) -> tensor<?x64xf32> {
  %y = moe.layer %x router_weight(%r : tensor<16x64xbf16>) gate(%g : tensor<16x32x64xbf16>) up(%u : tensor<16x32x64xbf16>) down(%d : tensor<16x64x32xbf16>) shared_gate(%sg : tensor<48x64xbf16>) shared_up(%su : tensor<48x64xbf16>) shared_down(%sd : tensor<64x48xbf16>) shared_expert_gate(%seg : tensor<1x64xbf16>) routing(#moe.routing<k = 4>) activation(#moe.activation<swiglu>) : tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
func.func @gpt_oss_layer(%x: tensor<?x64xf32>, %r: tensor<32x64xf32>, %rb: tensor<32xf32>, %gu: tensor<32x64x64xbf16>, %gub: tensor<32x64xf32>, %d: tensor<32x64x32xbf16>, %db: tensor<32x64xf32>) -> tensor<?x64xf32> {
  %y = moe.layer %x router_weight(%r : tensor<32x64xf32>) router_bias(%rb : tensor<32xf32>) gate_up(%gu : tensor<32x64x64xbf16>) down(%d : tensor<32x64x32xbf16>) gate_up_bias(%gub : tensor<32x64xf32>) down_bias(%db : tensor<32x64xf32>) routing(#moe.routing<k = 4, order = topk_then_score>) activation(#moe.activation<swiglu, alpha = 1.702, beta = 1.0, limit = 7.0>) gate_up_layout(interleaved) : tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
// bf16 hidden states and weights: every GEMM on tensor cores (the router's,
// gate, up and down; the activation rounded to bf16 between them).
func.func @bf16_layer(%x: tensor<?x128xbf16>, %r: tensor<16x128xbf16>, %g: tensor<16x48x128xbf16>, %u: tensor<16x48x128xbf16>, %d: tensor<16x128x48xbf16>) -> tensor<?x128xbf16> {
  %y = moe.layer %x router_weight(%r : tensor<16x128xbf16>) gate(%g : tensor<16x48x128xbf16>) up(%u : tensor<16x48x128xbf16>) down(%d : tensor<16x128x48xbf16>) routing(#moe.routing<k = 4, renormalize = true>) activation(#moe.activation<swiglu>) : tensor<?x128xbf16>
  return %y : tensor<?x128xbf16>
}

// bf16 with the down projection's K (f = 64) a multiple of 32: the down
// projection fused into the combine (its scatter-add in the staged GEMM).
func.func @bf16_fused_layer(%x: tensor<?x128xbf16>, %r: tensor<16x128xbf16>, %g: tensor<16x64x128xbf16>, %u: tensor<16x64x128xbf16>, %d: tensor<16x128x64xbf16>) -> tensor<?x128xbf16> {
  %y = moe.layer %x router_weight(%r : tensor<16x128xbf16>) gate(%g : tensor<16x64x128xbf16>) up(%u : tensor<16x64x128xbf16>) down(%d : tensor<16x128x64xbf16>) routing(#moe.routing<k = 8, renormalize = true>) activation(#moe.activation<swiglu>) : tensor<?x128xbf16>
  return %y : tensor<?x128xbf16>
}
