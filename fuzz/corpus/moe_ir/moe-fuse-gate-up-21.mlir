func.func @elementwise(%x: tensor<?x16xf32>, %w: tensor<32x16xf32>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
  %1 = moe.activation %0 activation(#moe.activation<gelu_tanh>) : tensor<?x32xf32> -> tensor<?x32xf32>
  return %1 : tensor<?x32xf32>
}
