// A layer of 4 experts and a grid of 2 nodes of 2 ranks.
shard.grid @ep(shape = 2x2)
func.func @layer(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
