// RUN: moe-opt %s --moe-decompose | FileCheck %s

// Separate gate/up SwiGLU experts, a gated shared expert, bf16 weights.
// CHECK-LABEL: func.func @swiglu_shared_gate
// CHECK-SAME: (%[[X:.*]]: tensor<?x16xf32>, %[[WR:.*]]: tensor<8x16xf32>, %[[G:.*]]: tensor<8x24x16xbf16>, %[[U:.*]]: tensor<8x24x16xbf16>, %[[D:.*]]: tensor<8x16x24xbf16>, %[[SG:.*]]: tensor<32x16xf32>, %[[SU:.*]]: tensor<32x16xf32>, %[[SD:.*]]: tensor<16x32xf32>, %[[SEG:.*]]: tensor<1x16xf32>)
// CHECK:      %[[LOGITS:.*]] = moe.grouped_matmul %[[X]], %[[WR]] : tensor<?x16xf32>, tensor<8x16xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %[[W:.*]], %[[IDS:.*]] = moe.route %[[LOGITS]] routing(#moe.routing<k = 2, renormalize = true>) : tensor<?x8xf32>
// CHECK-NEXT: %[[SORTED:.*]], %[[INV:.*]], %[[OFF:.*]] = moe.dispatch %[[IDS]] experts(8) : tensor<?x2xi32>
// CHECK-NEXT: %[[ROWS:.*]] = moe.gather %[[X]][%[[SORTED]]] : tensor<?x16xf32>, tensor<?xi32>
// CHECK-NEXT: %[[GP:.*]] = moe.grouped_matmul %[[ROWS]], %[[G]] offsets(%[[OFF]] : tensor<9xi32>) : tensor<?x16xf32>, tensor<8x24x16xbf16> -> tensor<?x24xf32>
// CHECK-NEXT: %[[UP:.*]] = moe.grouped_matmul %[[ROWS]], %[[U]] offsets(%[[OFF]] : tensor<9xi32>) : tensor<?x16xf32>, tensor<8x24x16xbf16> -> tensor<?x24xf32>
// CHECK-NEXT: %[[H:.*]] = moe.activation %[[GP]], %[[UP]] activation(#moe.activation<swiglu>) : tensor<?x24xf32>, tensor<?x24xf32> -> tensor<?x24xf32>
// CHECK-NEXT: %[[OUT:.*]] = moe.grouped_matmul %[[H]], %[[D]] offsets(%[[OFF]] : tensor<9xi32>) : tensor<?x24xf32>, tensor<8x16x24xbf16> -> tensor<?x16xf32>
// CHECK-NEXT: %[[SGP:.*]] = moe.grouped_matmul %[[X]], %[[SG]] : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
// CHECK-NEXT: %[[SUP:.*]] = moe.grouped_matmul %[[X]], %[[SU]] : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
// CHECK-NEXT: %[[SH:.*]] = moe.activation %[[SGP]], %[[SUP]] activation(#moe.activation<swiglu>) : tensor<?x32xf32>, tensor<?x32xf32> -> tensor<?x32xf32>
// CHECK-NEXT: %[[SOUT:.*]] = moe.grouped_matmul %[[SH]], %[[SD]] : tensor<?x32xf32>, tensor<16x32xf32> -> tensor<?x16xf32>
// CHECK-NEXT: %[[GATE:.*]] = moe.grouped_matmul %[[X]], %[[SEG]] : tensor<?x16xf32>, tensor<1x16xf32> -> tensor<?x1xf32>
// CHECK-NEXT: %[[Y:.*]] = moe.combine %[[OUT]], %[[W]], %[[INV]] shared(%[[SOUT]] : tensor<?x16xf32>) shared_gate(%[[GATE]] : tensor<?x1xf32>) : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
// CHECK-NEXT: return %[[Y]]
// CHECK-NOT: moe.layer
func.func @swiglu_shared_gate(%x: tensor<?x16xf32>, %wr: tensor<8x16xf32>, %g: tensor<8x24x16xbf16>, %u: tensor<8x24x16xbf16>, %d: tensor<8x16x24xbf16>, %sg: tensor<32x16xf32>, %su: tensor<32x16xf32>, %sd: tensor<16x32xf32>, %seg: tensor<1x16xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<8x16xf32>) gate(%g : tensor<8x24x16xbf16>) up(%u : tensor<8x24x16xbf16>) down(%d : tensor<8x16x24xbf16>) shared_gate(%sg : tensor<32x16xf32>) shared_up(%su : tensor<32x16xf32>) shared_down(%sd : tensor<16x32xf32>) shared_expert_gate(%seg : tensor<1x16xf32>) routing(#moe.routing<k = 2, renormalize = true>) activation(#moe.activation<swiglu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// Router logits given (ONNX Runtime style), fused interleaved gate_up with
// biases, static token count, bf16 hidden states: the combine rounds to bf16.
// CHECK-LABEL: func.func @fused_gate_up_logits
// CHECK-SAME: (%[[X:.*]]: tensor<6x16xbf16>, %[[L:.*]]: tensor<6x4xf32>, %[[GU:.*]]: tensor<4x20x16xf32>, %[[D:.*]]: tensor<4x16x10xf32>, %[[B1:.*]]: tensor<4x20xf32>, %[[B2:.*]]: tensor<4x16xf32>)
// CHECK-NOT:  moe.grouped_matmul %[[X]]
// CHECK:      %[[W:.*]], %[[IDS:.*]] = moe.route %[[L]] routing(#moe.routing<k = 4, order = topk_then_score>) : tensor<6x4xf32>
// CHECK-NEXT: %[[SORTED:.*]], %[[INV:.*]], %[[OFF:.*]] = moe.dispatch %[[IDS]] experts(4) : tensor<6x4xi32>
// CHECK-NEXT: %[[ROWS:.*]] = moe.gather %[[X]][%[[SORTED]]] : tensor<6x16xbf16>, tensor<24xi32>
// CHECK-NEXT: %[[GUP:.*]] = moe.grouped_matmul %[[ROWS]], %[[GU]] offsets(%[[OFF]] : tensor<5xi32>) bias(%[[B1]] : tensor<4x20xf32>) : tensor<24x16xbf16>, tensor<4x20x16xf32> -> tensor<24x20xf32>
// CHECK-NEXT: %[[H:.*]] = moe.activation %[[GUP]] activation(#moe.activation<swiglu, alpha = 1.702, beta = 1.0, limit = 7.0>) gate_up_layout(interleaved) : tensor<24x20xf32> -> tensor<24x10xf32>
// CHECK-NEXT: %[[OUT:.*]] = moe.grouped_matmul %[[H]], %[[D]] offsets(%[[OFF]] : tensor<5xi32>) bias(%[[B2]] : tensor<4x16xf32>) : tensor<24x10xf32>, tensor<4x16x10xf32> -> tensor<24x16xf32>
// CHECK-NEXT: %[[Y:.*]] = moe.combine %[[OUT]], %[[W]], %[[INV]] : tensor<24x16xf32>, tensor<6x4xf32>, tensor<6x4xi32> -> tensor<6x16xbf16>
// CHECK-NEXT: return %[[Y]]
func.func @fused_gate_up_logits(%x: tensor<6x16xbf16>, %l: tensor<6x4xf32>, %gu: tensor<4x20x16xf32>, %d: tensor<4x16x10xf32>, %b1: tensor<4x20xf32>, %b2: tensor<4x16xf32>) -> tensor<6x16xbf16> {
  %y = moe.layer %x router_logits(%l : tensor<6x4xf32>) gate_up(%gu : tensor<4x20x16xf32>) down(%d : tensor<4x16x10xf32>) gate_up_bias(%b1 : tensor<4x20xf32>) down_bias(%b2 : tensor<4x16xf32>) routing(#moe.routing<k = 4, order = topk_then_score>) activation(#moe.activation<swiglu, alpha = 1.702, beta = 1.0, limit = 7.0>) gate_up_layout(interleaved) : tensor<6x16xbf16>
  return %y : tensor<6x16xbf16>
}

// Elementwise experts with biases, a router bias and a correction bias, an
// ungated shared expert (DeepSeek style).
// CHECK-LABEL: func.func @relu_biases_correction
// CHECK-SAME: (%[[X:.*]]: tensor<?x16xf16>, %[[WR:.*]]: tensor<4x16xf32>, %[[BR:.*]]: tensor<4xf32>, %[[CB:.*]]: tensor<4xf32>, %[[U:.*]]: tensor<4x8x16xf16>, %[[D:.*]]: tensor<4x16x8xf16>, %[[BU:.*]]: tensor<4x8xf16>, %[[SU:.*]]: tensor<12x16xf16>, %[[SD:.*]]: tensor<16x12xf16>)
// CHECK:      %[[LOGITS:.*]] = moe.grouped_matmul %[[X]], %[[WR]] bias(%[[BR]] : tensor<4xf32>) : tensor<?x16xf16>, tensor<4x16xf32> -> tensor<?x4xf32>
// CHECK-NEXT: %[[W:.*]], %[[IDS:.*]] = moe.route %[[LOGITS]] bias(%[[CB]] : tensor<4xf32>) routing(#moe.routing<k = 2, scoring = sigmoid, renormalize = true, scale = 2.5, n_group = 2, group_score = top2_sum>) : tensor<?x4xf32>
// CHECK:      %[[UP:.*]] = moe.grouped_matmul %{{.*}}, %[[U]] offsets(%{{.*}} : tensor<5xi32>) bias(%[[BU]] : tensor<4x8xf16>)
// CHECK-NEXT: %[[H:.*]] = moe.activation %[[UP]] activation(#moe.activation<relu>) : tensor<?x8xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %[[OUT:.*]] = moe.grouped_matmul %[[H]], %[[D]] offsets
// CHECK-NEXT: %[[SUP:.*]] = moe.grouped_matmul %[[X]], %[[SU]] : tensor<?x16xf16>, tensor<12x16xf16> -> tensor<?x12xf32>
// CHECK-NEXT: %[[SH:.*]] = moe.activation %[[SUP]] activation(#moe.activation<relu>)
// CHECK-NEXT: %[[SOUT:.*]] = moe.grouped_matmul %[[SH]], %[[SD]] : tensor<?x12xf32>, tensor<16x12xf16> -> tensor<?x16xf32>
// CHECK-NEXT: moe.combine %[[OUT]], %[[W]], %{{.*}} shared(%[[SOUT]] : tensor<?x16xf32>) : {{.*}} -> tensor<?x16xf16>
func.func @relu_biases_correction(%x: tensor<?x16xf16>, %wr: tensor<4x16xf32>, %br: tensor<4xf32>, %cb: tensor<4xf32>, %u: tensor<4x8x16xf16>, %d: tensor<4x16x8xf16>, %bu: tensor<4x8xf16>, %su: tensor<12x16xf16>, %sd: tensor<16x12xf16>) -> tensor<?x16xf16> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) router_bias(%br : tensor<4xf32>) correction_bias(%cb : tensor<4xf32>) up(%u : tensor<4x8x16xf16>) down(%d : tensor<4x16x8xf16>) up_bias(%bu : tensor<4x8xf16>) shared_up(%su : tensor<12x16xf16>) shared_down(%sd : tensor<16x12xf16>) routing(#moe.routing<k = 2, scoring = sigmoid, renormalize = true, scale = 2.5, n_group = 2, topk_group = 1, group_score = top2_sum>) activation(#moe.activation<relu>) : tensor<?x16xf16>
  return %y : tensor<?x16xf16>
}

// Granite's shared MLP with gate and up in one [2fs, d] tensor: one dense
// GEMM of 2fs columns, then the activation splits it as gate_up_layout says.
// CHECK-LABEL: func.func @shared_gate_up
// CHECK-SAME: %[[SGU:[^:]*]]: tensor<24x16xbf16>, %[[SD:[^:]*]]: tensor<16x12xbf16>)
// CHECK:      %[[SH:.*]] = moe.grouped_matmul %{{.*}}, %[[SGU]] : tensor<?x16xf32>, tensor<24x16xbf16> -> tensor<?x24xf32>
// CHECK-NEXT: %[[SA:.*]] = moe.activation %[[SH]] activation(#moe.activation<swiglu>) gate_up_layout(concatenated) : tensor<?x24xf32> -> tensor<?x12xf32>
// CHECK-NEXT: %[[SOUT:.*]] = moe.grouped_matmul %[[SA]], %[[SD]] : tensor<?x12xf32>, tensor<16x12xbf16> -> tensor<?x16xf32>
// CHECK-NEXT: moe.combine %{{.*}}, %{{.*}}, %{{.*}} shared(%[[SOUT]] : tensor<?x16xf32>)
func.func @shared_gate_up(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wgu: tensor<4x16x16xf32>, %wd: tensor<4x16x8xf32>, %sgu: tensor<24x16xbf16>, %sd: tensor<16x12xbf16>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) gate_up(%wgu : tensor<4x16x16xf32>) down(%wd : tensor<4x16x8xf32>) shared_gate_up(%sgu : tensor<24x16xbf16>) shared_down(%sd : tensor<16x12xbf16>) routing(#moe.routing<k = 2, order = topk_then_score>) activation(#moe.activation<swiglu>) gate_up_layout(concatenated) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// Two layers in one function (a checkpoint's layers) both expand; the second
// reads the first's output.
// CHECK-LABEL: func.func @two_layers
// CHECK-COUNT-2: moe.combine
// CHECK-NOT: moe.layer
func.func @two_layers(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %u: tensor<4x8x16xf32>, %d: tensor<4x16x8xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) up(%u : tensor<4x8x16xf32>) down(%d : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<gelu>) : tensor<?x16xf32>
  %z = moe.layer %y router_logits(%l : tensor<?x4xf32>) up(%u : tensor<4x8x16xf32>) down(%d : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<gelu>) : tensor<?x16xf32>
  return %z : tensor<?x16xf32>
}

// Llama-4: the routing weights scale the gathered rows (the gather reads
// them through the dispatch's inverse) and the combine sums unweighted.
// CHECK-LABEL: func.func @scale_inputs
// CHECK-SAME: (%[[X:.*]]: tensor<?x16xbf16>, %[[WR:.*]]: tensor<8x16xbf16>, %[[GU:.*]]: tensor<8x48x16xbf16>, %[[D:.*]]: tensor<8x16x24xbf16>, %[[SG:.*]]: tensor<24x16xbf16>, %[[SU:.*]]: tensor<24x16xbf16>, %[[SD:.*]]: tensor<16x24xbf16>)
// CHECK:      %[[W:.*]], %[[IDS:.*]] = moe.route %{{.*}} routing(#moe.routing<k = 1, scoring = sigmoid, order = topk_then_score, scale_inputs = true>) : tensor<?x8xf32>
// CHECK-NEXT: %[[SORTED:.*]], %[[INV:.*]], %[[OFF:.*]] = moe.dispatch %[[IDS]] experts(8) : tensor<?x1xi32>
// CHECK-NEXT: %[[ROWS:.*]] = moe.gather %[[X]][%[[SORTED]]] scales(%[[W]], %[[INV]] : tensor<?x1xf32>, tensor<?x1xi32>) : tensor<?x16xbf16>, tensor<?xi32>
// CHECK-NEXT: moe.grouped_matmul %[[ROWS]], %[[GU]]
// CHECK:      %[[Y:.*]] = moe.combine %{{.*}}, %[[W]], %[[INV]] shared(%{{.*}} : tensor<?x16xf32>) unweighted : tensor<?x16xf32>, tensor<?x1xf32>, tensor<?x1xi32> -> tensor<?x16xbf16>
// CHECK-NEXT: return %[[Y]]
func.func @scale_inputs(%x: tensor<?x16xbf16>, %wr: tensor<8x16xbf16>, %gu: tensor<8x48x16xbf16>, %d: tensor<8x16x24xbf16>, %sg: tensor<24x16xbf16>, %su: tensor<24x16xbf16>, %sd: tensor<16x24xbf16>) -> tensor<?x16xbf16> {
  %y = moe.layer %x router_weight(%wr : tensor<8x16xbf16>) gate_up(%gu : tensor<8x48x16xbf16>) down(%d : tensor<8x16x24xbf16>) shared_gate(%sg : tensor<24x16xbf16>) shared_up(%su : tensor<24x16xbf16>) shared_down(%sd : tensor<16x24xbf16>) routing(#moe.routing<k = 1, scoring = sigmoid, order = topk_then_score, scale_inputs = true>) activation(#moe.activation<swiglu>) gate_up_layout(concatenated) : tensor<?x16xbf16>
  return %y : tensor<?x16xbf16>
}
