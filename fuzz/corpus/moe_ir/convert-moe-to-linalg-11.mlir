func.func @grouped_matmul_gated_neutral(%x: tensor<?x32xf32>, %gu: tensor<4x16x32xf32>, %rows: tensor<?xi32>, %off: tensor<5xi32>) -> tensor<?x8xbf16> {
  %r = moe.grouped_matmul %x, %gu gather(%rows : tensor<?xi32>) offsets(%off : tensor<5xi32>) activation(#moe.activation<swiglu>) gate_up_layout(interleaved) : tensor<?x32xf32>, tensor<4x16x32xf32> -> tensor<?x8xbf16>
  return %r : tensor<?x8xbf16>
}
