// An f32 weight packed for AVX2 in 2 slices of panels of 8 columns
// (moe-pack-weights panel-width=16 slices=2).
func.func @slices_avx2(%x: tensor<?x16xf32>, %p: tensor<2x4x2x16x8xf32>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
  %e = tensor.empty() : tensor<4x2x16x16xf32>
  %u = linalg.unpack %p outer_dims_perm = [1, 0, 2, 3] inner_dims_pos = [2] inner_tiles = [8] into %e : tensor<2x4x2x16x8xf32> -> tensor<4x2x16x16xf32>
  %w = tensor.collapse_shape %u [[0], [1, 2], [3]] : tensor<4x2x16x16xf32> into tensor<4x32x16xf32>
  %r = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x32x16xf32> -> tensor<?x32xf32>
  return %r : tensor<?x32xf32>
}
