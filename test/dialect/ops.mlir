// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s -mlir-print-op-generic | moe-opt | FileCheck %s

// CHECK-LABEL: func.func @route_defaults
// CHECK: moe.route %{{.*}} routing(#moe.routing<k = 2>) : tensor<?x8xf32>
func.func @route_defaults(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x8xf32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

// Every field away from its default; the result types are inferred.
// CHECK-LABEL: func.func @route_deepseek_v3
// CHECK: moe.route %{{.*}} bias(%{{.*}} : tensor<16xf32>) routing(#moe.routing<k = 4, scoring = sigmoid, renormalize = true, scale = 2.5, n_group = 4, topk_group = 2, group_score = top2_sum>) : tensor<5x16xbf16>
func.func @route_deepseek_v3(%l: tensor<5x16xbf16>, %b: tensor<16xf32>) -> (tensor<5x4xf32>, tensor<5x4xi32>) {
  %w, %i = moe.route %l bias(%b : tensor<16xf32>) routing(#moe.routing<group_score = top2_sum, k = 4, scoring = sigmoid, renormalize = true, scale = 2.5, n_group = 4, topk_group = 2>) : tensor<5x16xbf16>
  return %w, %i : tensor<5x4xf32>, tensor<5x4xi32>
}

// LFM2-MoE's renormalization: 1e-6 added to the sum.
// CHECK-LABEL: func.func @route_renorm_epsilon
// CHECK: routing(#moe.routing<k = 4, scoring = sigmoid, renormalize = true, renorm_epsilon = 1.0e-06>)
func.func @route_renorm_epsilon(%l: tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<?x4xi32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 4, scoring = sigmoid, renormalize = true, renorm_epsilon = 1.0e-6>) : tensor<?x8xf32>
  return %w, %i : tensor<?x4xf32>, tensor<?x4xi32>
}

// CHECK-LABEL: func.func @route_topk_then_score
// CHECK: routing(#moe.routing<k = 4, order = topk_then_score>)
// CHECK: routing(#moe.routing<k = 1, scoring = sigmoid, order = topk_then_score>)
// CHECK: routing(#moe.routing<k = 3, n_group = 3, topk_group = 2>)
func.func @route_topk_then_score(%l: tensor<?x6xf16>) -> (tensor<?x4xf32>, tensor<?x1xf32>, tensor<?x3xf32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 4, order = topk_then_score>) : tensor<?x6xf16>
  %w2, %i2 = moe.route %l routing(#moe.routing<k = 1, scoring = sigmoid, order = topk_then_score>) : tensor<?x6xf16>
  %w3, %i3 = moe.route %l routing(#moe.routing<k = 3, n_group = 3, topk_group = 2>) : tensor<?x6xf16>
  return %w, %w2, %w3 : tensor<?x4xf32>, tensor<?x1xf32>, tensor<?x3xf32>
}

// Phi-3.5-MoE's sparsemixer: the default distance (0.01) is not printed.
// CHECK-LABEL: func.func @route_sparsemixer
// CHECK: routing(#moe.routing<k = 2, order = sparsemixer>)
// CHECK: routing(#moe.routing<k = 3, order = sparsemixer, renormalize = true, sparsemixer_eps = 0.25>)
func.func @route_sparsemixer(%l: tensor<?x8xbf16>) -> (tensor<?x2xf32>, tensor<?x3xf32>) {
  %w, %i = moe.route %l routing(#moe.routing<k = 2, order = sparsemixer>) : tensor<?x8xbf16>
  %w2, %i2 = moe.route %l routing(#moe.routing<k = 3, order = sparsemixer, renormalize = true, sparsemixer_eps = 0.25>) : tensor<?x8xbf16>
  return %w, %w2 : tensor<?x2xf32>, tensor<?x3xf32>
}

// CHECK-LABEL: func.func @dispatch
// CHECK: moe.dispatch %{{.*}} experts(8) : tensor<?x2xi32>
// CHECK: moe.dispatch %{{.*}} experts(3) : tensor<4x3xi64>
func.func @dispatch(%i: tensor<?x2xi32>, %j: tensor<4x3xi64>) -> (tensor<?xi32>, tensor<?x2xi32>, tensor<9xi32>, tensor<12xi32>, tensor<4xi32>) {
  %s, %inv, %off = moe.dispatch %i experts(8) : tensor<?x2xi32>
  %s2, %inv2, %off2 = moe.dispatch %j experts(3) : tensor<4x3xi64>
  return %s, %inv, %off, %s2, %off2 : tensor<?xi32>, tensor<?x2xi32>, tensor<9xi32>, tensor<12xi32>, tensor<4xi32>
}

// CHECK-LABEL: func.func @record_routing
// CHECK-SAME: (%[[IDS:.*]]: tensor<?x2xi32>)
// CHECK: moe.record_routing %[[IDS]] site(0) experts(8) : tensor<?x2xi32>
// CHECK: moe.record_routing %[[IDS]] site(1) experts(2) : tensor<?x2xi32>
func.func @record_routing(%ids: tensor<?x2xi32>) {
  moe.record_routing %ids site(0) experts(8) : tensor<?x2xi32>
  moe.record_routing %ids site(1) experts(2) : tensor<?x2xi32>
  return
}

// CHECK-LABEL: func.func @gather
// CHECK: moe.gather %{{.*}}[%{{.*}}] : tensor<?x16xbf16>, tensor<?xi32>
func.func @gather(%x: tensor<?x16xbf16>, %rows: tensor<?xi32>) -> tensor<?x16xbf16> {
  %r = moe.gather %x[%rows] : tensor<?x16xbf16>, tensor<?xi32>
  return %r : tensor<?x16xbf16>
}

// Llama-4: rows scaled by their routing weights, summed unweighted.
// CHECK-LABEL: func.func @gather_scaled
// CHECK-SAME: (%[[X:.*]]: tensor<?x16xbf16>, %[[ROWS:.*]]: tensor<?xi32>, %[[W:.*]]: tensor<?x2xf32>, %[[INV:.*]]: tensor<?x2xi32>, %[[Y:.*]]: tensor<?x16xf32>)
// CHECK: moe.gather %[[X]][%[[ROWS]]] scales(%[[W]], %[[INV]] : tensor<?x2xf32>, tensor<?x2xi32>) : tensor<?x16xbf16>, tensor<?xi32>
// CHECK: moe.combine %[[Y]], %[[W]], %[[INV]] unweighted : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xbf16>
// CHECK: routing(#moe.routing<k = 1, scoring = sigmoid, order = topk_then_score, scale_inputs = true>)
func.func @gather_scaled(%x: tensor<?x16xbf16>, %rows: tensor<?xi32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %y: tensor<?x16xf32>) -> (tensor<?x16xbf16>, tensor<?x16xbf16>, tensor<?x1xf32>) {
  %r = moe.gather %x[%rows] scales(%w, %inv : tensor<?x2xf32>, tensor<?x2xi32>) : tensor<?x16xbf16>, tensor<?xi32>
  %c = moe.combine %y, %w, %inv unweighted : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xbf16>
  %w1, %i1 = moe.route %x routing(#moe.routing<k = 1, scoring = sigmoid, order = topk_then_score, scale_inputs = true>) : tensor<?x16xbf16>
  return %r, %c, %w1 : tensor<?x16xbf16>, tensor<?x16xbf16>, tensor<?x1xf32>
}

// A combine with the experts' down projection fused in.
// CHECK-LABEL: func.func @combine_fused_down
// CHECK: moe.combine %{{.*}}, %{{.*}}, %{{.*}} down(%{{.*}} : tensor<4x16x24xbf16>) down_offsets(%{{.*}} : tensor<5xi32>) down_bias(%{{.*}} : tensor<4x16xf32>) : tensor<?x24xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
func.func @combine_fused_down(%h: tensor<?x24xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %wd: tensor<4x16x24xbf16>, %off: tensor<5xi32>, %b: tensor<4x16xf32>) -> tensor<?x16xf32> {
  %0 = moe.combine %h, %w, %inv down(%wd : tensor<4x16x24xbf16>) down_offsets(%off : tensor<5xi32>) down_bias(%b : tensor<4x16xf32>) : tensor<?x24xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// Fused forms: gather, gate and up with SwiGLU; a fused gate/up weight.
// CHECK-LABEL: func.func @grouped_matmul_fused
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} gather(%{{.*}} : tensor<?xi32>) offsets(%{{.*}} : tensor<9xi32>) bias(%{{.*}} : tensor<8x24xf32>) up(%{{.*}} : tensor<8x24x16xbf16>) up_bias(%{{.*}} : tensor<8x24xf32>) activation(#moe.activation<swiglu>) : tensor<?x16xf32>, tensor<8x24x16xbf16> -> tensor<?x24xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} offsets(%{{.*}} : tensor<9xi32>) activation(#moe.activation<swiglu, alpha = 1.702{{.*}}>) gate_up_layout(interleaved) : tensor<?x16xf32>, tensor<8x24x16xbf16> -> tensor<?x12xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} gather(%{{.*}} : tensor<?xi32>) activation(#moe.activation<gelu>) : tensor<?x16xf32>, tensor<24x16xbf16> -> tensor<?x24xbf16>
func.func @grouped_matmul_fused(%x: tensor<?x16xf32>, %w: tensor<8x24x16xbf16>, %u: tensor<8x24x16xbf16>, %rows: tensor<?xi32>, %off: tensor<9xi32>, %b: tensor<8x24xf32>, %wd: tensor<24x16xbf16>) -> (tensor<?x24xf32>, tensor<?x12xf32>, tensor<?x24xbf16>) {
  %0 = moe.grouped_matmul %x, %w gather(%rows : tensor<?xi32>) offsets(%off : tensor<9xi32>) bias(%b : tensor<8x24xf32>) up(%u : tensor<8x24x16xbf16>) up_bias(%b : tensor<8x24xf32>) activation(#moe.activation<swiglu>) : tensor<?x16xf32>, tensor<8x24x16xbf16> -> tensor<?x24xf32>
  %1 = moe.grouped_matmul %x, %w offsets(%off : tensor<9xi32>) activation(#moe.activation<swiglu, alpha = 1.702, beta = 1.0, limit = 7.0>) gate_up_layout(interleaved) : tensor<?x16xf32>, tensor<8x24x16xbf16> -> tensor<?x12xf32>
  %2 = moe.grouped_matmul %x, %wd gather(%rows : tensor<?xi32>) activation(#moe.activation<gelu>) : tensor<?x16xf32>, tensor<24x16xbf16> -> tensor<?x24xbf16>
  return %0, %1, %2 : tensor<?x24xf32>, tensor<?x12xf32>, tensor<?x24xbf16>
}

// CHECK-LABEL: func.func @grouped_matmul
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} offsets(%{{.*}} : tensor<9xi32>) : tensor<?x16xf32>, tensor<8x24x16xbf16> -> tensor<?x24xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} offsets(%{{.*}} : tensor<9xi32>) bias(%{{.*}} : tensor<8x24xf16>) : tensor<?x16xf32>, tensor<8x24x16xbf16> -> tensor<?x24xbf16>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<8xf32>) : tensor<?x16xf32>, tensor<8x16xf32> -> tensor<?x8xf32>
func.func @grouped_matmul(%x: tensor<?x16xf32>, %w: tensor<8x24x16xbf16>, %off: tensor<9xi32>, %b: tensor<8x24xf16>, %wr: tensor<8x16xf32>, %br: tensor<8xf32>) -> (tensor<?x24xf32>, tensor<?x24xbf16>, tensor<?x8xf32>) {
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<9xi32>) : tensor<?x16xf32>, tensor<8x24x16xbf16> -> tensor<?x24xf32>
  %1 = moe.grouped_matmul %x, %w offsets(%off : tensor<9xi32>) bias(%b : tensor<8x24xf16>) : tensor<?x16xf32>, tensor<8x24x16xbf16> -> tensor<?x24xbf16>
  %2 = moe.grouped_matmul %x, %wr bias(%br : tensor<8xf32>) : tensor<?x16xf32>, tensor<8x16xf32> -> tensor<?x8xf32>
  return %0, %1, %2 : tensor<?x24xf32>, tensor<?x24xbf16>, tensor<?x8xf32>
}

// CHECK-LABEL: func.func @activation
// CHECK: moe.activation %{{.*}}, %{{.*}} activation(#moe.activation<swiglu>) : tensor<?x24xf32>, tensor<?x24xf32> -> tensor<?x24xf32>
// CHECK: moe.activation %{{.*}} activation(#moe.activation<swiglu, alpha = 1.702, beta = 1.0, limit = 7.0>) gate_up_layout(interleaved) : tensor<?x48xf32> -> tensor<?x24xf32>
// CHECK: moe.activation %{{.*}} activation(#moe.activation<geglu, limit = 0.5>) gate_up_layout(concatenated) : tensor<?x48xf32> -> tensor<?x24xbf16>
// CHECK: activation(#moe.activation<relu>)
// CHECK: activation(#moe.activation<gelu>)
// CHECK: activation(#moe.activation<gelu_tanh>)
// CHECK: activation(#moe.activation<silu>)
// CHECK: activation(#moe.activation<identity>)
// CHECK: activation(#moe.activation<relu2>)
func.func @activation(%g: tensor<?x24xf32>, %u: tensor<?x24xf32>, %gu: tensor<?x48xf32>) -> (tensor<?x24xf32>, tensor<?x24xf32>, tensor<?x24xbf16>) {
  %0 = moe.activation %g, %u activation(#moe.activation<swiglu>) : tensor<?x24xf32>, tensor<?x24xf32> -> tensor<?x24xf32>
  %1 = moe.activation %gu activation(#moe.activation<swiglu, limit = 7.0, alpha = 1.702, beta = 1.0>) gate_up_layout(interleaved) : tensor<?x48xf32> -> tensor<?x24xf32>
  %2 = moe.activation %gu activation(#moe.activation<geglu, limit = 0.5>) gate_up_layout(concatenated) : tensor<?x48xf32> -> tensor<?x24xbf16>
  %3 = moe.activation %u activation(#moe.activation<relu>) : tensor<?x24xf32> -> tensor<?x24xf32>
  %4 = moe.activation %3 activation(#moe.activation<gelu>) : tensor<?x24xf32> -> tensor<?x24xf32>
  %5 = moe.activation %4 activation(#moe.activation<gelu_tanh>) : tensor<?x24xf32> -> tensor<?x24xf32>
  %6 = moe.activation %5 activation(#moe.activation<silu>) : tensor<?x24xf32> -> tensor<?x24xf32>
  %7 = moe.activation %6 activation(#moe.activation<identity>) : tensor<?x24xf32> -> tensor<?x24xf32>
  %8 = moe.activation %7 activation(#moe.activation<relu2>) : tensor<?x24xf32> -> tensor<?x24xf32>
  return %8, %1, %2 : tensor<?x24xf32>, tensor<?x24xf32>, tensor<?x24xbf16>
}

// CHECK-LABEL: func.func @combine
// CHECK: moe.combine %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xbf16>
// CHECK: moe.combine %{{.*}}, %{{.*}}, %{{.*}} shared(%{{.*}} : tensor<?x16xf32>) shared_gate(%{{.*}} : tensor<?x1xf32>) : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
func.func @combine(%y: tensor<?x16xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %s: tensor<?x16xf32>, %g: tensor<?x1xf32>) -> (tensor<?x16xbf16>, tensor<?x16xf32>) {
  %0 = moe.combine %y, %w, %inv : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xbf16>
  %1 = moe.combine %y, %w, %inv shared(%s : tensor<?x16xf32>) shared_gate(%g : tensor<?x1xf32>) : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
  return %0, %1 : tensor<?x16xbf16>, tensor<?x16xf32>
}

// Mixtral: softmax over all, top-2, renormalize; SwiGLU on separate gate/up.
// CHECK-LABEL: func.func @layer_mixtral
// CHECK: moe.layer %{{.*}} router_weight(%{{.*}} : tensor<8x64xbf16>) gate(%{{.*}} : tensor<8x96x64xbf16>) up(%{{.*}} : tensor<8x96x64xbf16>) down(%{{.*}} : tensor<8x64x96xbf16>) routing(#moe.routing<k = 2, renormalize = true>) activation(#moe.activation<swiglu>) : tensor<?x64xbf16>
func.func @layer_mixtral(%x: tensor<?x64xbf16>, %wr: tensor<8x64xbf16>, %wg: tensor<8x96x64xbf16>, %wu: tensor<8x96x64xbf16>, %wd: tensor<8x64x96xbf16>) -> tensor<?x64xbf16> {
  %y = moe.layer %x router_weight(%wr : tensor<8x64xbf16>) gate(%wg : tensor<8x96x64xbf16>) up(%wu : tensor<8x96x64xbf16>) down(%wd : tensor<8x64x96xbf16>) routing(#moe.routing<k = 2, renormalize = true>) activation(#moe.activation<swiglu>) : tensor<?x64xbf16>
  return %y : tensor<?x64xbf16>
}

// ONNX Runtime MoE: logits as input, interleaved fc1 with biases.
// CHECK-LABEL: func.func @layer_ort
// CHECK: moe.layer %{{.*}} router_logits(%{{.*}} : tensor<?x5xf32>) gate_up(%{{.*}} : tensor<5x26x37xf32>) down(%{{.*}} : tensor<5x37x13xf32>) gate_up_bias(%{{.*}} : tensor<5x26xf32>) down_bias(%{{.*}} : tensor<5x37xf32>) routing(#moe.routing<k = 5>) activation(#moe.activation<swiglu, alpha = 1.702, beta = 1.0, limit = 7.0>) gate_up_layout(interleaved) : tensor<?x37xf32>
func.func @layer_ort(%x: tensor<?x37xf32>, %l: tensor<?x5xf32>, %fc1: tensor<5x26x37xf32>, %fc2: tensor<5x37x13xf32>, %b1: tensor<5x26xf32>, %b2: tensor<5x37xf32>) -> tensor<?x37xf32> {
  %y = moe.layer %x router_logits(%l : tensor<?x5xf32>) gate_up(%fc1 : tensor<5x26x37xf32>) down(%fc2 : tensor<5x37x13xf32>) gate_up_bias(%b1 : tensor<5x26xf32>) down_bias(%b2 : tensor<5x37xf32>) routing(#moe.routing<k = 5>) activation(#moe.activation<swiglu, alpha = 1.702, beta = 1.0, limit = 7.0>) gate_up_layout(interleaved) : tensor<?x37xf32>
  return %y : tensor<?x37xf32>
}

// DeepSeek-V3: sigmoid, correction bias, groups, scale, shared expert.
// CHECK-LABEL: func.func @layer_deepseek_v3
// CHECK: moe.layer %{{.*}} router_weight(%{{.*}} : tensor<16x32xf32>) correction_bias(%{{.*}} : tensor<16xf32>) gate(%{{.*}}) up(%{{.*}}) down(%{{.*}}) shared_gate(%{{.*}} : tensor<24x32xbf16>) shared_up(%{{.*}} : tensor<24x32xbf16>) shared_down(%{{.*}} : tensor<32x24xbf16>) routing(#moe.routing<k = 4, scoring = sigmoid, renormalize = true, scale = 2.5, n_group = 4, topk_group = 2, group_score = top2_sum>) activation(#moe.activation<swiglu>) : tensor<7x32xbf16>
func.func @layer_deepseek_v3(%x: tensor<7x32xbf16>, %wr: tensor<16x32xf32>, %cb: tensor<16xf32>, %wg: tensor<16x12x32xbf16>, %wu: tensor<16x12x32xbf16>, %wd: tensor<16x32x12xbf16>, %sg: tensor<24x32xbf16>, %su: tensor<24x32xbf16>, %sd: tensor<32x24xbf16>) -> tensor<7x32xbf16> {
  %y = moe.layer %x router_weight(%wr : tensor<16x32xf32>) correction_bias(%cb : tensor<16xf32>) gate(%wg : tensor<16x12x32xbf16>) up(%wu : tensor<16x12x32xbf16>) down(%wd : tensor<16x32x12xbf16>) shared_gate(%sg : tensor<24x32xbf16>) shared_up(%su : tensor<24x32xbf16>) shared_down(%sd : tensor<32x24xbf16>) routing(#moe.routing<k = 4, scoring = sigmoid, renormalize = true, scale = 2.5, n_group = 4, topk_group = 2, group_score = top2_sum>) activation(#moe.activation<swiglu>) : tensor<7x32xbf16>
  return %y : tensor<7x32xbf16>
}

// Qwen2-MoE: shared expert with a sigmoid gate; f16 weights; non-gated relu
// experts for the elementwise form with per-expert biases.
// CHECK-LABEL: func.func @layer_shared_gate_relu
// CHECK: moe.layer %{{.*}} router_weight(%{{.*}} : tensor<4x16xf16>) router_bias(%{{.*}} : tensor<4xf16>) up(%{{.*}} : tensor<4x8x16xf16>) down(%{{.*}} : tensor<4x16x8xf16>) up_bias(%{{.*}} : tensor<4x8xf16>) down_bias(%{{.*}} : tensor<4x16xf16>) shared_up(%{{.*}} : tensor<20x16xf16>) shared_down(%{{.*}} : tensor<16x20xf16>) shared_expert_gate(%{{.*}} : tensor<1x16xf16>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
func.func @layer_shared_gate_relu(%x: tensor<?x16xf32>, %wr: tensor<4x16xf16>, %br: tensor<4xf16>, %wu: tensor<4x8x16xf16>, %wd: tensor<4x16x8xf16>, %bu: tensor<4x8xf16>, %bd: tensor<4x16xf16>, %su: tensor<20x16xf16>, %sd: tensor<16x20xf16>, %sg: tensor<1x16xf16>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf16>) router_bias(%br : tensor<4xf16>) up(%wu : tensor<4x8x16xf16>) down(%wd : tensor<4x16x8xf16>) up_bias(%bu : tensor<4x8xf16>) down_bias(%bd : tensor<4x16xf16>) shared_up(%su : tensor<20x16xf16>) shared_down(%sd : tensor<16x20xf16>) shared_expert_gate(%sg : tensor<1x16xf16>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// Granite: fused experts and a shared MLP whose gate and up are one
// [2fs, d] tensor, both laid out by gate_up_layout.
// CHECK-LABEL: func.func @layer_shared_gate_up
// CHECK: moe.layer %{{.*}} router_weight(%{{.*}} : tensor<4x16xf32>) gate_up(%{{.*}} : tensor<4x16x16xf32>) down(%{{.*}} : tensor<4x16x8xf32>) shared_gate_up(%{{.*}} : tensor<24x16xbf16>) shared_down(%{{.*}} : tensor<16x12xbf16>) routing(#moe.routing<k = 2, order = topk_then_score>) activation(#moe.activation<swiglu>) gate_up_layout(concatenated) : tensor<?x16xf32>
func.func @layer_shared_gate_up(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wgu: tensor<4x16x16xf32>, %wd: tensor<4x16x8xf32>, %sgu: tensor<24x16xbf16>, %sd: tensor<16x12xbf16>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) gate_up(%wgu : tensor<4x16x16xf32>) down(%wd : tensor<4x16x8xf32>) shared_gate_up(%sgu : tensor<24x16xbf16>) shared_down(%sd : tensor<16x12xbf16>) routing(#moe.routing<k = 2, order = topk_then_score>) activation(#moe.activation<swiglu>) gate_up_layout(concatenated) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// Block-quantized projections: the experts' and shared experts' weights in
// ggml's q8_0 and q4_0 blocks, the router and biases in float.
// CHECK-LABEL: func.func @layer_quantized
// CHECK-SAME: %[[WG:[a-z0-9_]+]]: tensor<4x32x64x!moe.quant<q4_0>>
// CHECK-SAME: %[[WD:[a-z0-9_]+]]: tensor<4x64x32x!moe.quant<q8_0>>
// CHECK: moe.layer %{{.*}} router_weight(%{{.*}} : tensor<4x64xf32>) gate(%[[WG]] : tensor<4x32x64x!moe.quant<q4_0>>) up(%{{.*}} : tensor<4x32x64x!moe.quant<q4_0>>) down(%[[WD]] : tensor<4x64x32x!moe.quant<q8_0>>) down_bias(%{{.*}} : tensor<4x64xf32>) shared_gate(%{{.*}} : tensor<32x64x!moe.quant<q8_0>>)
func.func @layer_quantized(%x: tensor<?x64xf32>, %wr: tensor<4x64xf32>, %wg: tensor<4x32x64x!moe.quant<q4_0>>, %wu: tensor<4x32x64x!moe.quant<q4_0>>, %wd: tensor<4x64x32x!moe.quant<q8_0>>, %bd: tensor<4x64xf32>, %sg: tensor<32x64x!moe.quant<q8_0>>, %su: tensor<32x64x!moe.quant<q8_0>>, %sd: tensor<64x32x!moe.quant<q8_0>>) -> tensor<?x64xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x64xf32>) gate(%wg : tensor<4x32x64x!moe.quant<q4_0>>) up(%wu : tensor<4x32x64x!moe.quant<q4_0>>) down(%wd : tensor<4x64x32x!moe.quant<q8_0>>) down_bias(%bd : tensor<4x64xf32>) shared_gate(%sg : tensor<32x64x!moe.quant<q8_0>>) shared_up(%su : tensor<32x64x!moe.quant<q8_0>>) shared_down(%sd : tensor<64x32x!moe.quant<q8_0>>) routing(#moe.routing<k = 2>) activation(#moe.activation<swiglu>) : tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// CHECK-LABEL: func.func @grouped_matmul_quantized
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} offsets(%{{.*}} : tensor<5xi32>) : tensor<?x64xf32>, tensor<4x32x64x!moe.quant<q4_0>> -> tensor<?x32xf32>
func.func @grouped_matmul_quantized(%x: tensor<?x64xf32>, %w: tensor<4x32x64x!moe.quant<q4_0>>, %off: tensor<5xi32>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x64xf32>, tensor<4x32x64x!moe.quant<q4_0>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// u8z, u4z and u2z: blocks of 32 with an f32 scale and a zero point;
// u4z128, u8z128 and u2z128 the same in blocks of 128.
// CHECK-LABEL: func.func @grouped_matmul_zero_point_blocks
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<32x64x!moe.quant<u8z>> -> tensor<?x32xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} : tensor<?x32xf32>, tensor<64x32x!moe.quant<u4z>> -> tensor<?x64xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<128x64x!moe.quant<u4z>> -> tensor<?x128xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} : tensor<?x128xf32>, tensor<128x128x!moe.quant<u4z128>> -> tensor<?x128xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} : tensor<?x128xf32>, tensor<8x128x!moe.quant<u8z128>> -> tensor<?x8xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} : tensor<?x128xf32>, tensor<32x128x!moe.quant<u2z>> -> tensor<?x32xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} : tensor<?x128xf32>, tensor<8x128x!moe.quant<u2z128>> -> tensor<?x8xf32>
func.func @grouped_matmul_zero_point_blocks(%x: tensor<?x64xf32>, %w8: tensor<32x64x!moe.quant<u8z>>, %w4: tensor<64x32x!moe.quant<u4z>>, %w4b: tensor<128x64x!moe.quant<u4z>>, %w128: tensor<128x128x!moe.quant<u4z128>>, %w8b: tensor<8x128x!moe.quant<u8z128>>, %w2: tensor<32x128x!moe.quant<u2z>>, %w2b: tensor<8x128x!moe.quant<u2z128>>) -> tensor<?x8xf32> {
  %0 = moe.grouped_matmul %x, %w8 : tensor<?x64xf32>, tensor<32x64x!moe.quant<u8z>> -> tensor<?x32xf32>
  %1 = moe.grouped_matmul %0, %w4 : tensor<?x32xf32>, tensor<64x32x!moe.quant<u4z>> -> tensor<?x64xf32>
  %2 = moe.grouped_matmul %1, %w4b : tensor<?x64xf32>, tensor<128x64x!moe.quant<u4z>> -> tensor<?x128xf32>
  %3 = moe.grouped_matmul %2, %w128 : tensor<?x128xf32>, tensor<128x128x!moe.quant<u4z128>> -> tensor<?x128xf32>
  %4 = moe.grouped_matmul %3, %w8b : tensor<?x128xf32>, tensor<8x128x!moe.quant<u8z128>> -> tensor<?x8xf32>
  %5 = moe.grouped_matmul %3, %w2 : tensor<?x128xf32>, tensor<32x128x!moe.quant<u2z>> -> tensor<?x32xf32>
  %6 = moe.grouped_matmul %3, %w2b : tensor<?x128xf32>, tensor<8x128x!moe.quant<u2z128>> -> tensor<?x8xf32>
  return %4 : tensor<?x8xf32>
}

// u8z16, u4z16 and u2z16: blocks of 16, rows of a multiple of 16.
// CHECK-LABEL: func.func @grouped_matmul_zero_point_blocks_of_16
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} : tensor<?x48xf32>, tensor<16x48x!moe.quant<u8z16>> -> tensor<?x16xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} : tensor<?x16xf32>, tensor<80x16x!moe.quant<u4z16>> -> tensor<?x80xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} : tensor<?x80xf32>, tensor<8x80x!moe.quant<u2z16>> -> tensor<?x8xf32>
func.func @grouped_matmul_zero_point_blocks_of_16(%x: tensor<?x48xf32>, %w8: tensor<16x48x!moe.quant<u8z16>>, %w4: tensor<80x16x!moe.quant<u4z16>>, %w2: tensor<8x80x!moe.quant<u2z16>>) -> tensor<?x8xf32> {
  %0 = moe.grouped_matmul %x, %w8 : tensor<?x48xf32>, tensor<16x48x!moe.quant<u8z16>> -> tensor<?x16xf32>
  %1 = moe.grouped_matmul %0, %w4 : tensor<?x16xf32>, tensor<80x16x!moe.quant<u4z16>> -> tensor<?x80xf32>
  %2 = moe.grouped_matmul %1, %w2 : tensor<?x80xf32>, tensor<8x80x!moe.quant<u2z16>> -> tensor<?x8xf32>
  return %2 : tensor<?x8xf32>
}

// MXFP4: blocks of 32 in 17 bytes.
// CHECK-LABEL: func.func @grouped_matmul_mxfp4
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<32x64x!moe.quant<mxfp4>> -> tensor<?x32xf32>
func.func @grouped_matmul_mxfp4(%x: tensor<?x64xf32>, %w: tensor<32x64x!moe.quant<mxfp4>>) -> tensor<?x32xf32> {
  %0 = moe.grouped_matmul %x, %w : tensor<?x64xf32>, tensor<32x64x!moe.quant<mxfp4>> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// The k-quants: super-blocks of 256.
// CHECK-LABEL: func.func @grouped_matmul_k_quants
// CHECK: tensor<4x32x256x!moe.quant<q4_k>>
// CHECK: tensor<4x64x256x!moe.quant<q6_k>>
// CHECK: tensor<4x32x256x!moe.quant<q5_k>>
func.func @grouped_matmul_k_quants(%x: tensor<?x256xf32>, %w: tensor<4x32x256x!moe.quant<q4_k>>, %d: tensor<4x64x256x!moe.quant<q6_k>>, %f: tensor<4x32x256x!moe.quant<q5_k>>, %off: tensor<5xi32>) -> (tensor<?x32xf32>, tensor<?x64xf32>, tensor<?x32xf32>) {
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x32x256x!moe.quant<q4_k>> -> tensor<?x32xf32>
  %1 = moe.grouped_matmul %x, %d offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x64x256x!moe.quant<q6_k>> -> tensor<?x64xf32>
  %2 = moe.grouped_matmul %x, %f offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x32x256x!moe.quant<q5_k>> -> tensor<?x32xf32>
  return %0, %1, %2 : tensor<?x32xf32>, tensor<?x64xf32>, tensor<?x32xf32>
}

// The 2- and 3-bit k-quants: super-blocks of 256 too.
// CHECK-LABEL: func.func @grouped_matmul_low_bit_k_quants
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} offsets(%{{.*}} : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x32x256x!moe.quant<q2_k>> -> tensor<?x32xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} : tensor<?x256xf32>, tensor<32x256x!moe.quant<q3_k>> -> tensor<?x32xf32>
func.func @grouped_matmul_low_bit_k_quants(%x: tensor<?x256xf32>, %w: tensor<4x32x256x!moe.quant<q2_k>>, %d: tensor<32x256x!moe.quant<q3_k>>, %off: tensor<5xi32>) -> (tensor<?x32xf32>, tensor<?x32xf32>) {
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x32x256x!moe.quant<q2_k>> -> tensor<?x32xf32>
  %1 = moe.grouped_matmul %x, %d : tensor<?x256xf32>, tensor<32x256x!moe.quant<q3_k>> -> tensor<?x32xf32>
  return %0, %1 : tensor<?x32xf32>, tensor<?x32xf32>
}

// ggml's non-linear 4-bit formats: blocks of 32 (iq4_nl) and 256 (iq4_xs).
// CHECK-LABEL: func.func @grouped_matmul_iq4
// CHECK: tensor<4x32x64x!moe.quant<iq4_nl>>
// CHECK: tensor<4x32x256x!moe.quant<iq4_xs>>
func.func @grouped_matmul_iq4(%x: tensor<?x64xf32>, %y: tensor<?x256xf32>, %w: tensor<4x32x64x!moe.quant<iq4_nl>>, %d: tensor<4x32x256x!moe.quant<iq4_xs>>, %off: tensor<5xi32>) -> (tensor<?x32xf32>, tensor<?x32xf32>) {
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<5xi32>) : tensor<?x64xf32>, tensor<4x32x64x!moe.quant<iq4_nl>> -> tensor<?x32xf32>
  %1 = moe.grouped_matmul %y, %d offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x32x256x!moe.quant<iq4_xs>> -> tensor<?x32xf32>
  return %0, %1 : tensor<?x32xf32>, tensor<?x32xf32>
}

// ggml's 1- to 3-bit i-quants: blocks of 256 (codebook groups).
// CHECK-LABEL: func.func @grouped_matmul_iq_grids
// CHECK-SAME: (%[[Y:.*]]: tensor<?x256xf32>, %[[W0:[^:]*]]: tensor<4x32x256x!moe.quant<iq2_xxs>>, %[[W1:[^:]*]]: tensor<4x32x256x!moe.quant<iq2_xs>>, %[[W2:[^:]*]]: tensor<4x32x256x!moe.quant<iq2_s>>, %[[W3:[^:]*]]: tensor<4x32x256x!moe.quant<iq3_xxs>>, %[[W4:[^:]*]]: tensor<4x32x256x!moe.quant<iq3_s>>, %[[W5:[^:]*]]: tensor<4x32x256x!moe.quant<iq1_s>>, %[[W6:[^:]*]]: tensor<4x32x256x!moe.quant<iq1_m>>, %{{.*}}: tensor<5xi32>)
// CHECK: moe.grouped_matmul %[[Y]], %[[W0]]{{.*}}tensor<4x32x256x!moe.quant<iq2_xxs>>
// CHECK: moe.grouped_matmul %[[Y]], %[[W1]]{{.*}}tensor<4x32x256x!moe.quant<iq2_xs>>
// CHECK: moe.grouped_matmul %[[Y]], %[[W2]]{{.*}}tensor<4x32x256x!moe.quant<iq2_s>>
// CHECK: moe.grouped_matmul %[[Y]], %[[W3]]{{.*}}tensor<4x32x256x!moe.quant<iq3_xxs>>
// CHECK: moe.grouped_matmul %[[Y]], %[[W4]]{{.*}}tensor<4x32x256x!moe.quant<iq3_s>>
// CHECK: moe.grouped_matmul %[[Y]], %[[W5]]{{.*}}tensor<4x32x256x!moe.quant<iq1_s>>
// CHECK: moe.grouped_matmul %[[Y]], %[[W6]]{{.*}}tensor<4x32x256x!moe.quant<iq1_m>>
func.func @grouped_matmul_iq_grids(%y: tensor<?x256xf32>, %w0: tensor<4x32x256x!moe.quant<iq2_xxs>>, %w1: tensor<4x32x256x!moe.quant<iq2_xs>>, %w2: tensor<4x32x256x!moe.quant<iq2_s>>, %w3: tensor<4x32x256x!moe.quant<iq3_xxs>>, %w4: tensor<4x32x256x!moe.quant<iq3_s>>, %w5: tensor<4x32x256x!moe.quant<iq1_s>>, %w6: tensor<4x32x256x!moe.quant<iq1_m>>, %off: tensor<5xi32>) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %0 = moe.grouped_matmul %y, %w0 offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x32x256x!moe.quant<iq2_xxs>> -> tensor<?x32xf32>
  %1 = moe.grouped_matmul %y, %w1 offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x32x256x!moe.quant<iq2_xs>> -> tensor<?x32xf32>
  %2 = moe.grouped_matmul %y, %w2 offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x32x256x!moe.quant<iq2_s>> -> tensor<?x32xf32>
  %3 = moe.grouped_matmul %y, %w3 offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x32x256x!moe.quant<iq3_xxs>> -> tensor<?x32xf32>
  %4 = moe.grouped_matmul %y, %w4 offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x32x256x!moe.quant<iq3_s>> -> tensor<?x32xf32>
  %5 = moe.grouped_matmul %y, %w5 offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x32x256x!moe.quant<iq1_s>> -> tensor<?x32xf32>
  %6 = moe.grouped_matmul %y, %w6 offsets(%off : tensor<5xi32>) : tensor<?x256xf32>, tensor<4x32x256x!moe.quant<iq1_m>> -> tensor<?x32xf32>
  return %0, %1, %2, %3, %4, %5, %6 : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// ggml's formats with a min or a fifth bit: blocks of 32.
// CHECK-LABEL: func.func @grouped_matmul_min_and_fifth_bit
// CHECK: tensor<4x32x64x!moe.quant<q4_1>>
// CHECK: tensor<4x32x64x!moe.quant<q5_0>>
// CHECK: tensor<4x32x64x!moe.quant<q5_1>>
func.func @grouped_matmul_min_and_fifth_bit(%x: tensor<?x64xf32>, %a: tensor<4x32x64x!moe.quant<q4_1>>, %b: tensor<4x32x64x!moe.quant<q5_0>>, %c: tensor<4x32x64x!moe.quant<q5_1>>, %off: tensor<5xi32>) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %0 = moe.grouped_matmul %x, %a offsets(%off : tensor<5xi32>) : tensor<?x64xf32>, tensor<4x32x64x!moe.quant<q4_1>> -> tensor<?x32xf32>
  %1 = moe.grouped_matmul %x, %b offsets(%off : tensor<5xi32>) : tensor<?x64xf32>, tensor<4x32x64x!moe.quant<q5_0>> -> tensor<?x32xf32>
  %2 = moe.grouped_matmul %x, %c offsets(%off : tensor<5xi32>) : tensor<?x64xf32>, tensor<4x32x64x!moe.quant<q5_1>> -> tensor<?x32xf32>
  return %0, %1, %2 : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}
