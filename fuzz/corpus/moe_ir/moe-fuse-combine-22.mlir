func.func @down_into_combine(%h: tensor<?x24xf32>, %wd: tensor<4x16x24xbf16>, %off: tensor<5xi32>, %bd: tensor<4x16xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %s: tensor<?x16xf32>, %g: tensor<?x1xf32>) -> tensor<?x16xbf16> {
  %o = moe.grouped_matmul %h, %wd offsets(%off : tensor<5xi32>) bias(%bd : tensor<4x16xf32>) : tensor<?x24xf32>, tensor<4x16x24xbf16> -> tensor<?x16xf32>
  %y = moe.combine %o, %w, %inv shared(%s : tensor<?x16xf32>) shared_gate(%g : tensor<?x1xf32>) : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xbf16>
  return %y : tensor<?x16xbf16>
}
