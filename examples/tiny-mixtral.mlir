// A tiny Mixtral-style MoE block: 8 experts, top-2 with renormalization,
// SwiGLU experts (gate w1, up w3, down w2), hidden size 64, expert width 96.
// Weights are function arguments bound at run time by name (moe.name) from
// a .safetensors file; the token count is dynamic. examples/tiny_mixtral.py
// generates matching weights.
func.func @tiny_mixtral(
    %hidden: tensor<?x64xf32> {moe.name = "hidden_states"},
    %router: tensor<8x64xf32> {moe.name = "block_sparse_moe.gate.weight"},
    %w1: tensor<8x96x64xf32> {moe.name = "block_sparse_moe.experts.w1"},
    %w3: tensor<8x96x64xf32> {moe.name = "block_sparse_moe.experts.w3"},
    %w2: tensor<8x64x96xf32> {moe.name = "block_sparse_moe.experts.w2"})
    -> tensor<?x64xf32> {
  %y = moe.layer %hidden router_weight(%router : tensor<8x64xf32>)
      gate(%w1 : tensor<8x96x64xf32>) up(%w3 : tensor<8x96x64xf32>)
      down(%w2 : tensor<8x64x96xf32>)
      routing(#moe.routing<k = 2, renormalize = true>)
      activation(#moe.activation<swiglu>) : tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
