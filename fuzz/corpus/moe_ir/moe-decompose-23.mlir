func.func @swiglu_shared_gate(%x: tensor<?x16xf32>, %wr: tensor<8x16xf32>, %g: tensor<8x24x16xbf16>, %u: tensor<8x24x16xbf16>, %d: tensor<8x16x24xbf16>, %sg: tensor<32x16xf32>, %su: tensor<32x16xf32>, %sd: tensor<16x32xf32>, %seg: tensor<1x16xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<8x16xf32>) gate(%g : tensor<8x24x16xbf16>) up(%u : tensor<8x24x16xbf16>) down(%d : tensor<8x16x24xbf16>) shared_gate(%sg : tensor<32x16xf32>) shared_up(%su : tensor<32x16xf32>) shared_down(%sd : tensor<16x32xf32>) shared_expert_gate(%seg : tensor<1x16xf32>) routing(#moe.routing<k = 2, renormalize = true>) activation(#moe.activation<swiglu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

func.func @fused_gate_up_logits(%x: tensor<6x16xbf16>, %l: tensor<6x4xf32>, %gu: tensor<4x20x16xf32>, %d: tensor<4x16x10xf32>, %b1: tensor<4x20xf32>, %b2: tensor<4x16xf32>) -> tensor<6x16xbf16> {
  %y = moe.layer %x router_logits(%l : tensor<6x4xf32>) gate_up(%gu : tensor<4x20x16xf32>) down(%d : tensor<4x16x10xf32>) gate_up_bias(%b1 : tensor<4x20xf32>) down_bias(%b2 : tensor<4x16xf32>) routing(#moe.routing<k = 4, order = topk_then_score>) activation(#moe.activation<swiglu, alpha = 1.702, beta = 1.0, limit = 7.0>) gate_up_layout(interleaved) : tensor<6x16xbf16>
  return %y : tensor<6x16xbf16>
}

func.func @relu_biases_correction(%x: tensor<?x16xf16>, %wr: tensor<4x16xf32>, %br: tensor<4xf32>, %cb: tensor<4xf32>, %u: tensor<4x8x16xf16>, %d: tensor<4x16x8xf16>, %bu: tensor<4x8xf16>, %su: tensor<12x16xf16>, %sd: tensor<16x12xf16>) -> tensor<?x16xf16> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) router_bias(%br : tensor<4xf32>) correction_bias(%cb : tensor<4xf32>) up(%u : tensor<4x8x16xf16>) down(%d : tensor<4x16x8xf16>) up_bias(%bu : tensor<4x8xf16>) shared_up(%su : tensor<12x16xf16>) shared_down(%sd : tensor<16x12xf16>) routing(#moe.routing<k = 2, scoring = sigmoid, renormalize = true, scale = 2.5, n_group = 2, topk_group = 1, group_score = top2_sum>) activation(#moe.activation<relu>) : tensor<?x16xf16>
  return %y : tensor<?x16xf16>
}

func.func @two_layers(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %u: tensor<4x8x16xf32>, %d: tensor<4x16x8xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) up(%u : tensor<4x8x16xf32>) down(%d : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<gelu>) : tensor<?x16xf32>
  %z = moe.layer %y router_logits(%l : tensor<?x4xf32>) up(%u : tensor<4x8x16xf32>) down(%d : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<gelu>) : tensor<?x16xf32>
  return %z : tensor<?x16xf32>
}
