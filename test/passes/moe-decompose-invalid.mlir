// RUN: moe-opt %s --moe-decompose -split-input-file -verify-diagnostics

// Dispatch needs a static expert count; a layer whose every expert dimension
// is dynamic is refused, not left behind.
func.func @dynamic_experts(%x: tensor<?x16xf32>, %l: tensor<?x?xf32>, %u: tensor<?x8x16xf32>, %d: tensor<?x16x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'moe.layer' op cannot be decomposed: its expert count is dynamic}}
  %y = moe.layer %x router_logits(%l : tensor<?x?xf32>) up(%u : tensor<?x8x16xf32>) down(%d : tensor<?x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// One static expert dimension anywhere suffices.
func.func @static_from_down(%x: tensor<?x16xf32>, %l: tensor<?x?xf32>, %u: tensor<?x8x16xf32>, %d: tensor<4x16x8xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_logits(%l : tensor<?x?xf32>) up(%u : tensor<?x8x16xf32>) down(%d : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
