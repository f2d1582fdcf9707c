func.func @combine_down_neutral(%h: tensor<?x24xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %wd: tensor<4x32x24xf32>, %off: tensor<5xi32>, %bd: tensor<4x32xf32>) -> tensor<?x32xf32> {
  %o = moe.combine %h, %w, %inv down(%wd : tensor<4x32x24xf32>) down_offsets(%off : tensor<5xi32>) down_bias(%bd : tensor<4x32xf32>) : tensor<?x24xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x32xf32>
  return %o : tensor<?x32xf32>
}
