func.func @claimed(%x: tensor<?x8xf32>, %w: tensor<2x8x8xf32>, %off: tensor<3xi32>) -> tensor<?x8xf32> {
  %a = moe.grouped_matmul %x, %w offsets(%off : tensor<3xi32>) {moe.kernel = {target = "cpu"}} : tensor<?x8xf32>, tensor<2x8x8xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}
