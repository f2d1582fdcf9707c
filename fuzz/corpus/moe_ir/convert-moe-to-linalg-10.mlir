func.func @grouped_matmul_neutral(%x: tensor<?x36xf32>, %w: tensor<4x8x36xbf16>, %off: tensor<5xi32>, %b: tensor<4x8xf32>) -> tensor<?x8xf32> {
  %r = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) bias(%b : tensor<4x8xf32>) : tensor<?x36xf32>, tensor<4x8x36xbf16> -> tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}
