func.func @separate(%x: tensor<?x16xf32>, %g: tensor<4x24x16xbf16>, %u: tensor<4x24x16xbf16>, %off: tensor<5xi32>, %bg: tensor<4x24xf32>, %bu: tensor<4x24xf32>) -> tensor<?x24xbf16> {
  %0 = moe.grouped_matmul %x, %g offsets(%off : tensor<5xi32>) bias(%bg : tensor<4x24xf32>) : tensor<?x16xf32>, tensor<4x24x16xbf16> -> tensor<?x24xf32>
  %1 = moe.grouped_matmul %x, %u offsets(%off : tensor<5xi32>) bias(%bu : tensor<4x24xf32>) : tensor<?x16xf32>, tensor<4x24x16xbf16> -> tensor<?x24xf32>
  %2 = moe.activation %0, %1 activation(#moe.activation<swiglu, alpha = 1.702, beta = 1.0, limit = 7.0>) : tensor<?x24xf32>, tensor<?x24xf32> -> tensor<?x24xbf16>
  return %2 : tensor<?x24xbf16>
}
