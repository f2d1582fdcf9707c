// The same layer twice: weights read in place, and weights assembled at
// binding time from per-expert tensors (moe.stack) and a transposed tensor
// (moe.transposed).
func.func @direct(%x: tensor<?x12xf32>,
    %r: tensor<4x12xbf16> {moe.name = "router"},
    %g: tensor<4x10x12xbf16> {moe.name = "gate"},
    %u: tensor<4x10x12xbf16> {moe.name = "up"},
    %d: tensor<4x12x10xbf16> {moe.name = "down"}) -> tensor<?x12xf32> {
  %y = moe.layer %x router_weight(%r : tensor<4x12xbf16>) gate(%g : tensor<4x10x12xbf16>) up(%u : tensor<4x10x12xbf16>) down(%d : tensor<4x12x10xbf16>) routing(#moe.routing<k = 2, renormalize = true>) activation(#moe.activation<swiglu>) : tensor<?x12xf32>
  return %y : tensor<?x12xf32>
}

func.func @assembled(%x: tensor<?x12xf32>,
    %r: tensor<4x12xbf16> {moe.name = "router"},
    %g: tensor<4x10x12xbf16> {moe.name = "experts.gate", moe.stack = ["experts.0.gate", "experts.1.gate", "experts.2.gate", "experts.3.gate"]},
    %u: tensor<4x10x12xbf16> {moe.name = "experts.up", moe.stack = ["experts.0.up", "experts.1.up", "experts.2.up", "experts.3.up"]},
    %d: tensor<4x12x10xbf16> {moe.name = "down_t", moe.transposed}) -> tensor<?x12xf32> {
  %y = moe.layer %x router_weight(%r : tensor<4x12xbf16>) gate(%g : tensor<4x10x12xbf16>) up(%u : tensor<4x10x12xbf16>) down(%d : tensor<4x12x10xbf16>) routing(#moe.routing<k = 2, renormalize = true>) activation(#moe.activation<swiglu>) : tensor<?x12xf32>
  return %y : tensor<?x12xf32>
}
