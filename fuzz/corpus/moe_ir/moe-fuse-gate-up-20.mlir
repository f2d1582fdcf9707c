func.func @fused_weight(%x: tensor<?x16xf32>, %gu: tensor<4x48x16xf32>, %off: tensor<5xi32>, %rows: tensor<?xi32>) -> tensor<?x24xf32> {
  %0 = moe.grouped_matmul %x, %gu gather(%rows : tensor<?xi32>) offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x48x16xf32> -> tensor<?x48xf32>
  %1 = moe.activation %0 activation(#moe.activation<geglu>) gate_up_layout(concatenated) : tensor<?x48xf32> -> tensor<?x24xf32>
  return %1 : tensor<?x24xf32>
}
