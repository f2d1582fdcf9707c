func.func @activation_gelu(%u: tensor<?x10xf32>) -> tensor<?x10xf32> {
  %h = moe.activation %u activation(#moe.activation<gelu>) : tensor<?x10xf32> -> tensor<?x10xf32>
  return %h : tensor<?x10xf32>
}
