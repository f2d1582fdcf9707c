// A bf16 weight packed in pairs of k (moe-pack-weights bf16-dot=true).
func.func @pairs(%x: tensor<?x16xf32>, %p: tensor<4x1x8x64x2xbf16>, %off: tensor<5xi32>) -> tensor<?x40xf32> {
  %e = tensor.empty() : tensor<4x40x16xbf16>
  %w = linalg.unpack %p inner_dims_pos = [1, 2] inner_tiles = [64, 2] into %e : tensor<4x1x8x64x2xbf16> -> tensor<4x40x16xbf16>
  %r = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x16xf32>, tensor<4x40x16xbf16> -> tensor<?x40xf32>
  return %r : tensor<?x40xf32>
}
