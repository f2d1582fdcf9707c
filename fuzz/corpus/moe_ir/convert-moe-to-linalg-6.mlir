func.func @activation_fused(%gu: tensor<?x20xf32>) -> tensor<?x10xf32> {
  %h = moe.activation %gu activation(#moe.activation<swiglu, alpha = 1.702, beta = 1.0, limit = 7.0>) gate_up_layout(interleaved) : tensor<?x20xf32> -> tensor<?x10xf32>
  return %h : tensor<?x10xf32>
}
