// A bf16 layer whose down projection has K = f = 64 (a multiple of 32):
// the GPU pipeline fuses it into the combine unless told to keep the
// result bits fixed.
func.func @bf16_layer(%x: tensor<?x128xbf16>, %r: tensor<16x128xbf16>, %g: tensor<16x64x128xbf16>, %u: tensor<16x64x128xbf16>, %d: tensor<16x128x64xbf16>) -> tensor<?x128xbf16> {
  %y = moe.layer %x router_weight(%r : tensor<16x128xbf16>) gate(%g : tensor<16x64x128xbf16>) up(%u : tensor<16x64x128xbf16>) down(%d : tensor<16x128x64xbf16>) routing(#moe.routing<k = 8, renormalize = true>) activation(#moe.activation<swiglu>) : tensor<?x128xbf16>
  return %y : tensor<?x128xbf16>
}
