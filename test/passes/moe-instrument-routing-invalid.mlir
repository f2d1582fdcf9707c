// RUN: moe-opt %s --moe-instrument-routing --split-input-file --verify-diagnostics

func.func @undecomposed(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{moe.layer must be decomposed before its routing can be recorded (run moe-decompose first)}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @dynamic_experts(%l: tensor<?x?xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{cannot record the routing of a route whose expert count is dynamic: 'tensor<?x?xf32>'}}
  %w, %ids = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x?xf32>
  return %w : tensor<?x2xf32>
}
