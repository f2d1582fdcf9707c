// An f32 weight packed in 4 slices of panels of 16 columns
// (moe-pack-weights slices=4).
func.func @slices(%x: tensor<?x16xf32>, %p: tensor<4x4x2x16x16xf32>, %off: tensor<5xi32>, %b: tensor<4x128xf32>) -> tensor<?x128xf32> {
  %e = tensor.empty() : tensor<4x4x32x16xf32>
  %u = linalg.unpack %p outer_dims_perm = [1, 0, 2, 3] inner_dims_pos = [2] inner_tiles = [16] into %e : tensor<4x4x2x16x16xf32> -> tensor<4x4x32x16xf32>
  %w = tensor.collapse_shape %u [[0], [1, 2], [3]] : tensor<4x4x32x16xf32> into tensor<4x128x16xf32>
  %r = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) bias(%b : tensor<4x128xf32>) : tensor<?x16xf32>, tensor<4x128x16xf32> -> tensor<?x128xf32>
  return %r : tensor<?x128xf32>
}
