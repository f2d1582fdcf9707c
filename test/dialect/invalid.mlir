// RUN: moe-opt %s -split-input-file -verify-diagnostics

// Each case is named after the constraint it breaks: (Rn) of #moe.routing,
// (An) of #moe.activation, (Cn) of the op.

func.func @routing_r1(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{(R1) routing needs k >= 1, got k = 0}}
  %w, %i = moe.route %l routing(#moe.routing<k = 0>) : tensor<?x8xf32>
  return
}

// -----

func.func @routing_r2(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{(R2) routing scale must be finite and positive}}
  %w, %i = moe.route %l routing(#moe.routing<k = 2, scale = -1.0>) : tensor<?x8xf32>
  return
}

// -----

func.func @routing_r3(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{(R3) routing needs 1 <= topk_group <= n_group, got n_group = 2, topk_group = 3}}
  %w, %i = moe.route %l routing(#moe.routing<k = 2, n_group = 2, topk_group = 3>) : tensor<?x8xf32>
  return
}

// -----

func.func @routing_r4(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{(R4) group-limited routing (n_group = 2) needs order = score_then_topk}}
  %w, %i = moe.route %l routing(#moe.routing<k = 2, order = topk_then_score, n_group = 2>) : tensor<?x8xf32>
  return
}

// -----

func.func @routing_r5_negative(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{(R5) renorm_epsilon must be finite, >= 0, and above 0 only with renormalize = true, got -5.000000e-01}}
  %w, %i = moe.route %l routing(#moe.routing<k = 2, renormalize = true, renorm_epsilon = -0.5>) : tensor<?x8xf32>
  return
}

// -----

func.func @routing_r5_without_renormalize(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{(R5) renorm_epsilon must be finite, >= 0, and above 0 only with renormalize = true, got 1.000000e-03}}
  %w, %i = moe.route %l routing(#moe.routing<k = 2, renorm_epsilon = 1.0e-3>) : tensor<?x8xf32>
  return
}

// -----

func.func @routing_r6(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{(R6) order = sparsemixer needs scoring = softmax}}
  %w, %i = moe.route %l routing(#moe.routing<k = 2, scoring = sigmoid, order = sparsemixer>) : tensor<?x8xf32>
  return
}

// -----

func.func @routing_r7_negative(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{(R7) sparsemixer_eps must be finite, >= 0, and set only with order = sparsemixer, got -1.000000e-01}}
  %w, %i = moe.route %l routing(#moe.routing<k = 2, order = sparsemixer, sparsemixer_eps = -0.1>) : tensor<?x8xf32>
  return
}

// -----

func.func @routing_r7_without_sparsemixer(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{(R7) sparsemixer_eps must be finite, >= 0, and set only with order = sparsemixer, got 2.000000e-01}}
  %w, %i = moe.route %l routing(#moe.routing<k = 2, order = topk_then_score, sparsemixer_eps = 0.2>) : tensor<?x8xf32>
  return
}

// -----

func.func @sparsemixer_correction_bias(%l: tensor<?x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{correction_bias needs order = score_then_topk}}
  %w, %i = moe.route %l bias(%b : tensor<8xf32>) routing(#moe.routing<k = 2, order = sparsemixer>) : tensor<?x8xf32>
  return
}

// -----

func.func @routing_bad_bool(%l: tensor<?x8xf32>) {
  // expected-error @+2 {{expected 'true' or 'false'}}
  // expected-error @+1 {{failed to parse MoE_RoutingAttr parameter 'renormalize' which is to be a `bool`}}
  %w, %i = moe.route %l routing(#moe.routing<k = 2, renormalize = 1>) : tensor<?x8xf32>
  return
}

// -----

func.func @routing_missing_k(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{struct is missing required parameter: k}}
  %w, %i = moe.route %l routing(#moe.routing<renormalize = true>) : tensor<?x8xf32>
  return
}

// -----

func.func @activation_a1(%u: tensor<?x8xf32>) {
  // expected-error @+1 {{(A1) 'alpha' applies to swiglu only, not to relu}}
  %0 = moe.activation %u activation(#moe.activation<relu, alpha = 2.0>) : tensor<?x8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @activation_a2(%u: tensor<?x8xf32>) {
  // expected-error @+1 {{(A2) 'beta' and 'limit' apply to gated activations only, not to gelu}}
  %0 = moe.activation %u activation(#moe.activation<gelu, limit = 7.0>) : tensor<?x8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @activation_a3(%g: tensor<?x8xf32>, %u: tensor<?x8xf32>) {
  // expected-error @+1 {{(A3) 'limit' must be positive, got 0}}
  %0 = moe.activation %g, %u activation(#moe.activation<swiglu, limit = 0.0>) : tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @activation_unknown_kind(%u: tensor<?x8xf32>) {
  // expected-error @+1 {{unknown activation 'tanh', expected one of swiglu, geglu, relu, relu2, gelu, gelu_tanh, silu, identity}}
  %0 = moe.activation %u activation(#moe.activation<tanh>) : tensor<?x8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @activation_unknown_param(%g: tensor<?x8xf32>, %u: tensor<?x8xf32>) {
  // expected-error @+1 {{unknown activation parameter 'gamma', expected alpha, beta or limit}}
  %0 = moe.activation %g, %u activation(#moe.activation<swiglu, gamma = 1.0>) : tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @activation_duplicate_param(%g: tensor<?x8xf32>, %u: tensor<?x8xf32>) {
  // expected-error @+1 {{duplicate activation parameter 'beta'}}
  %0 = moe.activation %g, %u activation(#moe.activation<swiglu, beta = 1.0, beta = 2.0>) : tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @route_c1(%l: tensor<?x8xi32>) {
  // expected-error @+1 {{'moe.route' op (C1) logits must be a rank-2 tensor of f32, bf16 or f16, got 'tensor<?x8xi32>'}}
  %w, %i = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x8xi32>
  return
}

// -----

func.func @route_c1_rank(%l: tensor<8xf32>) {
  // expected-error @+1 {{'moe.route' op (C1) logits must be a rank-2 tensor}}
  %w, %i = moe.route %l routing(#moe.routing<k = 2>) : tensor<8xf32>
  return
}

// -----

func.func @route_c2(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op (C2) routing selects k = 9 experts but there are 8}}
  %w, %i = moe.route %l routing(#moe.routing<k = 9>) : tensor<?x8xf32>
  return
}

// -----

func.func @route_c3(%l: tensor<?x8xf32>, %b: tensor<7xf32>) {
  // expected-error @+1 {{'moe.route' op (C3) correction_bias must be a float tensor of 8 elements, got 'tensor<7xf32>'}}
  %w, %i = moe.route %l bias(%b : tensor<7xf32>) routing(#moe.routing<k = 2>) : tensor<?x8xf32>
  return
}

// -----

func.func @route_c4(%l: tensor<?x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{'moe.route' op (C4) correction_bias needs order = score_then_topk}}
  %w, %i = moe.route %l bias(%b : tensor<8xf32>) routing(#moe.routing<k = 2, order = topk_then_score>) : tensor<?x8xf32>
  return
}

// -----

func.func @route_c5_divide(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op (C5) n_group = 3 does not divide the expert count 8}}
  %w, %i = moe.route %l routing(#moe.routing<k = 2, n_group = 3>) : tensor<?x8xf32>
  return
}

// -----

func.func @route_c5_kept(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op (C5) k = 3 exceeds the 2 experts of the topk_group = 1 kept groups}}
  %w, %i = moe.route %l routing(#moe.routing<k = 3, n_group = 4>) : tensor<?x8xf32>
  return
}

// -----

func.func @route_c5_top2(%l: tensor<?x4xf32>) {
  // expected-error @+1 {{'moe.route' op (C5) group_score = top2_sum needs groups of at least 2 experts, got 1}}
  %w, %i = moe.route %l routing(#moe.routing<k = 2, n_group = 4, topk_group = 2, group_score = top2_sum>) : tensor<?x4xf32>
  return
}

// -----

func.func @record_routing_c1(%i: tensor<?x2xi64>) {
  // expected-error @+1 {{'moe.record_routing' op (C1) indices must be a rank-2 tensor of i32, got 'tensor<?x2xi64>'}}
  moe.record_routing %i site(0) experts(8) : tensor<?x2xi64>
  return
}

// -----

func.func @record_routing_c1_rank(%i: tensor<?xi32>) {
  // expected-error @+1 {{'moe.record_routing' op (C1) indices must be a rank-2 tensor of i32, got 'tensor<?xi32>'}}
  moe.record_routing %i site(0) experts(8) : tensor<?xi32>
  return
}

// -----

func.func @record_routing_c2_negative_site(%i: tensor<?x2xi32>) {
  // expected-error @+1 {{'moe.record_routing' op (C2) site must be in [0, 2147483647], got -1}}
  moe.record_routing %i site(-1) experts(8) : tensor<?x2xi32>
  return
}

// -----

func.func @record_routing_c2_experts(%i: tensor<?x2xi32>) {
  // expected-error @+1 {{'moe.record_routing' op (C2) experts must be in [1, 1048576], got 0}}
  moe.record_routing %i site(0) experts(0) : tensor<?x2xi32>
  return
}

// -----

func.func @record_routing_c2_huge(%i: tensor<?x2xi32>) {
  // expected-error @+1 {{'moe.record_routing' op (C2) experts must be in [1, 1048576], got 1048577}}
  moe.record_routing %i site(0) experts(1048577) : tensor<?x2xi32>
  return
}

// -----

func.func @record_routing_c2_site(%i: tensor<?x2xi32>) {
  // expected-error @+1 {{'moe.record_routing' op (C2) site must be in [0, 2147483647], got 2147483648}}
  moe.record_routing %i site(2147483648) experts(8) : tensor<?x2xi32>
  return
}

// -----

func.func @record_routing_c3(%i: tensor<?x4xi32>) {
  // expected-error @+1 {{'moe.record_routing' op (C3) the indices' 4 experts per token must be in [1, experts = 2]}}
  moe.record_routing %i site(0) experts(2) : tensor<?x4xi32>
  return
}

// -----

func.func @dispatch_c1(%i: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op (C1) indices must be a rank-2 tensor of signless integers, got 'tensor<?x2xf32>'}}
  %s, %inv, %off = moe.dispatch %i experts(8) : tensor<?x2xf32>
  return
}

// -----

func.func @dispatch_c2(%i: tensor<?x2xi32>) {
  // expected-error @+1 {{'moe.dispatch' op (C2) num_experts must be at least 1, got 0}}
  %s, %inv, %off = moe.dispatch %i experts(0) : tensor<?x2xi32>
  return
}

// -----

func.func @gather_c1(%x: tensor<?x4x16xf32>, %rows: tensor<?xi32>) {
  // expected-error @+1 {{'moe.gather' op (C1) input must be a rank-2 tensor of f32, bf16 or f16}}
  %r = moe.gather %x[%rows] : tensor<?x4x16xf32>, tensor<?xi32>
  return
}

// -----

func.func @gather_c2(%x: tensor<?x16xf32>, %rows: tensor<?x1xi32>) {
  // expected-error @+1 {{'moe.gather' op (C2) rows must be a rank-1 tensor of signless integers}}
  %r = moe.gather %x[%rows] : tensor<?x16xf32>, tensor<?x1xi32>
  return
}

// -----

func.func @gather_c3_shape(%x: tensor<?x16xf32>, %rows: tensor<?xi32>, %w: tensor<?x2xf32>, %inv: tensor<?x3xi32>) {
  // expected-error @+1 {{'moe.gather' op (C3) scales need weights (float) and inverse (integer), rank-2 tensors of one shape [T, k]}}
  %r = moe.gather %x[%rows] scales(%w, %inv : tensor<?x2xf32>, tensor<?x3xi32>) : tensor<?x16xf32>, tensor<?xi32>
  return
}

// -----

func.func @gather_c3_types(%x: tensor<?x16xf32>, %rows: tensor<?xi32>, %w: tensor<?x2xi32>, %inv: tensor<?x2xi32>) {
  // expected-error @+1 {{'moe.gather' op (C3) scales need weights (float) and inverse (integer)}}
  %r = moe.gather %x[%rows] scales(%w, %inv : tensor<?x2xi32>, tensor<?x2xi32>) : tensor<?x16xf32>, tensor<?xi32>
  return
}

// -----

func.func @grouped_matmul_c1(%x: tensor<?x16xi8>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C1) input must be a rank-2 tensor of f32, bf16 or f16, got 'tensor<?x16xi8>'}}
  %0 = moe.grouped_matmul %x, %w : tensor<?x16xi8>, tensor<8x16xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @grouped_matmul_c2(%x: tensor<?x16xf32>, %w: tensor<8x24x16xf32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C2) weight must be a rank-2 tensor of f32, bf16, f16 or !moe.quant without offsets}}
  %0 = moe.grouped_matmul %x, %w : tensor<?x16xf32>, tensor<8x24x16xf32> -> tensor<?x24xf32>
  return
}

// -----

func.func @grouped_matmul_c2_grouped(%x: tensor<?x16xf32>, %w: tensor<24x16xf32>, %off: tensor<9xi32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C2) weight must be a rank-3 tensor of f32, bf16, f16 or !moe.quant with offsets}}
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<9xi32>) : tensor<?x16xf32>, tensor<24x16xf32> -> tensor<?x24xf32>
  return
}

// -----

func.func @grouped_matmul_c3(%x: tensor<?x16xf32>, %w: tensor<8x24x15xf32>, %off: tensor<9xi32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C3) weight 'tensor<8x24x15xf32>' does not contract with the input's 16 columns}}
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<9xi32>) : tensor<?x16xf32>, tensor<8x24x15xf32> -> tensor<?x24xf32>
  return
}

// -----

func.func @grouped_matmul_c4(%x: tensor<?x16xf32>, %w: tensor<8x24x16xf32>, %off: tensor<8xi32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C4) offsets must be a rank-1 integer tensor of 9 elements (groups + 1), got 'tensor<8xi32>'}}
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<8xi32>) : tensor<?x16xf32>, tensor<8x24x16xf32> -> tensor<?x24xf32>
  return
}

// -----

func.func @grouped_matmul_c5(%x: tensor<?x16xf32>, %w: tensor<8x24x16xf32>, %off: tensor<9xi32>, %b: tensor<24xf32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C5) bias must be a float tensor [groups, N] matching weight 'tensor<8x24x16xf32>', got 'tensor<24xf32>'}}
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<9xi32>) bias(%b : tensor<24xf32>) : tensor<?x16xf32>, tensor<8x24x16xf32> -> tensor<?x24xf32>
  return
}

// -----

func.func @grouped_matmul_c6(%x: tensor<?x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C6) result must be a float tensor [?, 8] (rows x outputs), got 'tensor<?x16xf32>'}}
  %0 = moe.grouped_matmul %x, %w : tensor<?x16xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
  return
}

// -----

// The fused gather's row count gives the result's rows.
func.func @grouped_matmul_c6_gather(%x: tensor<?x16xf32>, %w: tensor<8x24x16xf32>, %off: tensor<9xi32>, %rows: tensor<12xi32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C6) result must be a float tensor [12, 24] (rows x outputs), got 'tensor<10x24xf32>'}}
  %0 = moe.grouped_matmul %x, %w gather(%rows : tensor<12xi32>) offsets(%off : tensor<9xi32>) : tensor<?x16xf32>, tensor<8x24x16xf32> -> tensor<10x24xf32>
  return
}

// -----

// A fused gate/up weight gives half as many outputs as rows.
func.func @grouped_matmul_c6_layout(%x: tensor<?x16xf32>, %w: tensor<8x24x16xf32>, %off: tensor<9xi32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C6) result must be a float tensor [?, 12] (rows x outputs), got 'tensor<?x24xf32>'}}
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<9xi32>) activation(#moe.activation<swiglu>) gate_up_layout(interleaved) : tensor<?x16xf32>, tensor<8x24x16xf32> -> tensor<?x24xf32>
  return
}

// -----

func.func @grouped_matmul_c7(%x: tensor<?x16xf32>, %w: tensor<8x24x16xf32>, %off: tensor<9xi32>, %rows: tensor<?xf32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C7) gather rows must be a rank-1 integer tensor, got 'tensor<?xf32>'}}
  %0 = moe.grouped_matmul %x, %w gather(%rows : tensor<?xf32>) offsets(%off : tensor<9xi32>) : tensor<?x16xf32>, tensor<8x24x16xf32> -> tensor<?x24xf32>
  return
}

// -----

func.func @grouped_matmul_c8_not_gated(%x: tensor<?x16xf32>, %w: tensor<8x24x16xf32>, %off: tensor<9xi32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C8) up needs a gated activation without gate_up_layout}}
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<9xi32>) up(%w : tensor<8x24x16xf32>) activation(#moe.activation<relu>) : tensor<?x16xf32>, tensor<8x24x16xf32> -> tensor<?x24xf32>
  return
}

// -----

func.func @grouped_matmul_c8_type(%x: tensor<?x16xf32>, %w: tensor<8x24x16xf32>, %u: tensor<8x24x16xbf16>, %off: tensor<9xi32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C8) up 'tensor<8x24x16xbf16>' must have the weight's type 'tensor<8x24x16xf32>'}}
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<9xi32>) up(%u : tensor<8x24x16xbf16>) activation(#moe.activation<swiglu>) : tensor<?x16xf32>, tensor<8x24x16xf32> -> tensor<?x24xf32>
  return
}

// -----

func.func @grouped_matmul_c8_bias(%x: tensor<?x16xf32>, %w: tensor<8x24x16xf32>, %off: tensor<9xi32>, %b: tensor<8x24xf32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C8) bias and up_bias are given together or not at all}}
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<9xi32>) bias(%b : tensor<8x24xf32>) up(%w : tensor<8x24x16xf32>) activation(#moe.activation<swiglu>) : tensor<?x16xf32>, tensor<8x24x16xf32> -> tensor<?x24xf32>
  return
}

// -----

func.func @grouped_matmul_c9_not_gated(%x: tensor<?x16xf32>, %w: tensor<8x24x16xf32>, %off: tensor<9xi32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C9) gate_up_layout needs a gated activation}}
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<9xi32>) activation(#moe.activation<gelu>) gate_up_layout(concatenated) : tensor<?x16xf32>, tensor<8x24x16xf32> -> tensor<?x12xf32>
  return
}

// -----

func.func @grouped_matmul_c9_odd(%x: tensor<?x16xf32>, %w: tensor<8x25x16xf32>, %off: tensor<9xi32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C9) a fused gate/up weight needs an even number of rows, got 25}}
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<9xi32>) activation(#moe.activation<swiglu>) gate_up_layout(interleaved) : tensor<?x16xf32>, tensor<8x25x16xf32> -> tensor<?x12xf32>
  return
}

// -----

func.func @grouped_matmul_c10(%x: tensor<?x16xf32>, %w: tensor<8x24x16xf32>, %off: tensor<9xi32>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C10) swiglu needs up or gate_up_layout}}
  %0 = moe.grouped_matmul %x, %w offsets(%off : tensor<9xi32>) activation(#moe.activation<swiglu>) : tensor<?x16xf32>, tensor<8x24x16xf32> -> tensor<?x24xf32>
  return
}

// -----

func.func @combine_c6_offsets(%h: tensor<?x24xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %wd: tensor<4x16x24xf32>) {
  // expected-error @+1 {{'moe.combine' op (C6) down needs down_offsets, a rank-1 integer tensor of 5 elements (groups + 1)}}
  %0 = moe.combine %h, %w, %inv down(%wd : tensor<4x16x24xf32>) : tensor<?x24xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
  return
}

// -----

func.func @combine_c6_width(%h: tensor<?x24xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %wd: tensor<4x16x32xf32>, %off: tensor<5xi32>) {
  // expected-error @+1 {{'moe.combine' op (C6) down must be a float tensor [G, d, 24] (expert_out's width last), got 'tensor<4x16x32xf32>'}}
  %0 = moe.combine %h, %w, %inv down(%wd : tensor<4x16x32xf32>) down_offsets(%off : tensor<5xi32>) : tensor<?x24xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
  return
}

// -----

func.func @combine_c6_bias(%h: tensor<?x24xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %b: tensor<4x16xf32>) {
  // expected-error @+1 {{'moe.combine' op (C6) down_offsets and down_bias need down}}
  %0 = moe.combine %h, %w, %inv down_bias(%b : tensor<4x16xf32>) : tensor<?x24xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x24xf32>
  return
}

// -----

// With down, the result's width is down's output dimension.
func.func @combine_c5_down(%h: tensor<?x24xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %wd: tensor<4x16x24xf32>, %off: tensor<5xi32>) {
  // expected-error @+1 {{'moe.combine' op (C5) result must be a float tensor [?, 16], got 'tensor<?x24xf32>'}}
  %0 = moe.combine %h, %w, %inv down(%wd : tensor<4x16x24xf32>) down_offsets(%off : tensor<5xi32>) : tensor<?x24xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x24xf32>
  return
}

// -----

func.func @activation_c1(%u: tensor<?x8xi32>) {
  // expected-error @+1 {{'moe.activation' op (C1) input must be a rank-2 tensor of f32, bf16 or f16}}
  %0 = moe.activation %u activation(#moe.activation<relu>) : tensor<?x8xi32> -> tensor<?x8xf32>
  return
}

// -----

func.func @activation_c1_up(%g: tensor<?x8xf32>, %u: tensor<8xf32>) {
  // expected-error @+1 {{'moe.activation' op (C1) up must be a rank-2 tensor of f32, bf16 or f16}}
  %0 = moe.activation %g, %u activation(#moe.activation<swiglu>) : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @activation_c1_result(%u: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.activation' op (C1) result must be a rank-2 tensor of f32, bf16 or f16}}
  %0 = moe.activation %u activation(#moe.activation<relu>) : tensor<?x8xf32> -> tensor<?x8xi32>
  return
}

// -----

func.func @activation_c2(%g: tensor<?x8xf32>, %u: tensor<?x9xf32>) {
  // expected-error @+1 {{'moe.activation' op (C2) gate 'tensor<?x8xf32>' and up 'tensor<?x9xf32>' must have the same shape}}
  %0 = moe.activation %g, %u activation(#moe.activation<swiglu>) : tensor<?x8xf32>, tensor<?x9xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @activation_c2_layout(%g: tensor<?x8xf32>, %u: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.activation' op (C2) gate_up_layout applies to a fused gate/up input}}
  %0 = moe.activation %g, %u activation(#moe.activation<swiglu>) gate_up_layout(interleaved) : tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @activation_c3(%gu: tensor<?x16xf32>) {
  // expected-error @+1 {{'moe.activation' op (C3) swiglu with a single fused input needs gate_up_layout}}
  %0 = moe.activation %gu activation(#moe.activation<swiglu>) : tensor<?x16xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @activation_c3_odd(%gu: tensor<?x15xf32>) {
  // expected-error @+1 {{'moe.activation' op (C3) a fused gate/up input needs an even number of columns, got 15}}
  %0 = moe.activation %gu activation(#moe.activation<geglu>) gate_up_layout(concatenated) : tensor<?x15xf32> -> tensor<?x7xf32>
  return
}

// -----

func.func @activation_c4(%g: tensor<?x8xf32>, %u: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.activation' op (C4) elementwise activation relu takes one operand and no gate_up_layout}}
  %0 = moe.activation %g, %u activation(#moe.activation<relu>) : tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @activation_c4_layout(%u: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.activation' op (C4) elementwise activation silu takes one operand and no gate_up_layout}}
  %0 = moe.activation %u activation(#moe.activation<silu>) gate_up_layout(interleaved) : tensor<?x8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @activation_c5(%gu: tensor<?x16xf32>) {
  // expected-error @+1 {{'moe.activation' op (C5) result must be [?, 8], got 'tensor<?x16xf32>'}}
  %0 = moe.activation %gu activation(#moe.activation<swiglu>) gate_up_layout(interleaved) : tensor<?x16xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @combine_c1(%y: tensor<?xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>) {
  // expected-error @+1 {{'moe.combine' op (C1) expert_out must be a rank-2 tensor of f32, bf16 or f16}}
  %0 = moe.combine %y, %w, %inv : tensor<?xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
  return
}

// -----

func.func @combine_c2(%y: tensor<?x16xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x3xi32>) {
  // expected-error @+1 {{'moe.combine' op (C2) weights (float) and inverse (integer) must be rank-2 tensors of one shape [T, k], got 'tensor<?x2xf32>' and 'tensor<?x3xi32>'}}
  %0 = moe.combine %y, %w, %inv : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x3xi32> -> tensor<?x16xf32>
  return
}

// -----

func.func @combine_c3(%y: tensor<?x16xf32>, %w: tensor<4x2xf32>, %inv: tensor<4x2xi32>, %s: tensor<5x16xf32>) {
  // expected-error @+1 {{'moe.combine' op (C3) shared must be a float tensor [4, 16], got 'tensor<5x16xf32>'}}
  %0 = moe.combine %y, %w, %inv shared(%s : tensor<5x16xf32>) : tensor<?x16xf32>, tensor<4x2xf32>, tensor<4x2xi32> -> tensor<4x16xf32>
  return
}

// -----

func.func @combine_c4(%y: tensor<?x16xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %g: tensor<?x1xf32>) {
  // expected-error @+1 {{'moe.combine' op (C4) shared_gate needs a shared expert output}}
  %0 = moe.combine %y, %w, %inv shared_gate(%g : tensor<?x1xf32>) : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
  return
}

// -----

func.func @combine_c4_shape(%y: tensor<?x16xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %s: tensor<?x16xf32>, %g: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.combine' op (C4) shared_gate must be a float tensor [?, 1], got 'tensor<?x2xf32>'}}
  %0 = moe.combine %y, %w, %inv shared(%s : tensor<?x16xf32>) shared_gate(%g : tensor<?x2xf32>) : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
  return
}

// -----

func.func @combine_c5(%y: tensor<?x16xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>) {
  // expected-error @+1 {{'moe.combine' op (C5) result must be a float tensor [?, 16], got 'tensor<?x8xf32>'}}
  %0 = moe.combine %y, %w, %inv : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x8xf32>
  return
}

// -----

func.func @layer_c1(%x: tensor<?x16xf64>, %wr: tensor<4x16xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C1) hidden must be a rank-2 tensor of f32, bf16 or f16, got 'tensor<?x16xf64>'}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf64>
  return
}

// -----

func.func @layer_c1_weight(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x8x16xi8>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C1) up must be a tensor of f32, bf16 or f16 (or !moe.quant for a projection), got 'tensor<4x8x16xi8>'}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x8x16xi8>) down(%wd : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c2_none(%x: tensor<?x16xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C2) needs exactly one of router_weight and router_logits}}
  %y = moe.layer %x up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c2_both(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %l: tensor<?x4xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C2) needs exactly one of router_weight and router_logits}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) router_logits(%l : tensor<?x4xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c2_bias(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %br: tensor<4xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C2) router_bias needs router_weight}}
  %y = moe.layer %x router_bias(%br : tensor<4xf32>) router_logits(%l : tensor<?x4xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c2_shape(%x: tensor<?x16xf32>, %wr: tensor<4x15xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C2) router_weight must be [E, d] = [4, 16], got 'tensor<4x15xf32>'}}
  %y = moe.layer %x router_weight(%wr : tensor<4x15xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c3_k(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C3) routing selects k = 5 experts but there are 4}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) routing(#moe.routing<k = 5>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c3_bias(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %cb: tensor<5xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C3) correction_bias must be a float tensor of 4 elements, got 'tensor<5xf32>'}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) correction_bias(%cb : tensor<5xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c4_missing_up(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wg: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C4) gated activation swiglu needs gate and up, or gate_up, but not both}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) gate(%wg : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<swiglu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c4_both(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wg: tensor<4x8x16xf32>, %wgu: tensor<4x16x16xf32>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C4) gated activation geglu needs gate and up, or gate_up, but not both}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) gate(%wg : tensor<4x8x16xf32>) up(%wg : tensor<4x8x16xf32>) gate_up(%wgu : tensor<4x16x16xf32>) down(%wd : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<geglu>) gate_up_layout(interleaved) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c4_elementwise(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wg: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C4) elementwise activation gelu_tanh needs up and no gate or gate_up}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) gate(%wg : tensor<4x8x16xf32>) up(%wg : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<gelu_tanh>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c5_down(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x9xf32>) {
  // expected-error @+1 {{'moe.layer' op (C5) down must be [E, d, f] = [4, 16, 8], got 'tensor<4x16x9xf32>'}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x9xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c5_experts(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<3x8x16xf32>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C5) up must be [E, f, d] = [4, 8, 16], got 'tensor<3x8x16xf32>'}}
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<3x8x16xf32>) down(%wd : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c5_gate_up(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %wgu: tensor<4x15x16xf32>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C5) gate_up must be [E, 2f, d] = [4, 14, 16], got 'tensor<4x15x16xf32>'}}
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) gate_up(%wgu : tensor<4x15x16xf32>) down(%wd : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<swiglu>) gate_up_layout(interleaved) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c6(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %wgu: tensor<4x16x16xf32>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C6) gate_up_layout must be given exactly when gate_up or shared_gate_up is}}
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) gate_up(%wgu : tensor<4x16x16xf32>) down(%wd : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<swiglu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c6_extra(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %wg: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C6) gate_up_layout must be given exactly when gate_up or shared_gate_up is}}
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) gate(%wg : tensor<4x8x16xf32>) up(%wg : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<swiglu>) gate_up_layout(concatenated) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c7_owner(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>, %bg: tensor<4x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C7) a bias is given for a projection that is absent}}
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) gate_bias(%bg : tensor<4x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c7_shape(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>, %bd: tensor<4x8xf32>) {
  // expected-error @+1 {{'moe.layer' op (C7) down_bias must be [E, d] = [4, 16], got 'tensor<4x8xf32>'}}
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) down_bias(%bd : tensor<4x8xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c8_incomplete(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>, %su: tensor<20x16xf32>) {
  // expected-error @+1 {{'moe.layer' op (C8) shared experts need shared_up and shared_down and no shared_gate for activation relu}}
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) shared_up(%su : tensor<20x16xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c8_gated(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>, %su: tensor<20x16xf32>, %sd: tensor<16x20xf32>) {
  // expected-error @+1 {{'moe.layer' op (C8) shared experts need shared_up and shared_down and shared_gate (or shared_gate_up) for activation swiglu}}
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) gate(%wu : tensor<4x8x16xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) shared_up(%su : tensor<20x16xf32>) shared_down(%sd : tensor<16x20xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<swiglu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c8_fused_elementwise(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>, %sgu: tensor<40x16xf32>, %sd: tensor<16x20xf32>) {
  // expected-error @+1 {{'moe.layer' op (C8) shared_gate_up needs a gated activation and shared_down, and no shared_gate or shared_up; got activation relu}}
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) shared_gate_up(%sgu : tensor<40x16xf32>) shared_down(%sd : tensor<16x20xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) gate_up_layout(concatenated) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c8_fused_and_up(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>, %su: tensor<20x16xf32>, %sgu: tensor<40x16xf32>, %sd: tensor<16x20xf32>) {
  // expected-error @+1 {{'moe.layer' op (C8) shared_gate_up needs a gated activation and shared_down, and no shared_gate or shared_up; got activation swiglu}}
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) gate(%wu : tensor<4x8x16xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) shared_up(%su : tensor<20x16xf32>) shared_gate_up(%sgu : tensor<40x16xf32>) shared_down(%sd : tensor<16x20xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<swiglu>) gate_up_layout(concatenated) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c8_fused_shape(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>, %sgu: tensor<42x16xf32>, %sd: tensor<16x20xf32>) {
  // expected-error @+1 {{'moe.layer' op (C8) shared_gate_up must be [2fs, d] = [40, 16], got 'tensor<42x16xf32>'}}
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) gate(%wu : tensor<4x8x16xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) shared_gate_up(%sgu : tensor<42x16xf32>) shared_down(%sd : tensor<16x20xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<swiglu>) gate_up_layout(concatenated) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c6_shared_fused(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>, %sgu: tensor<40x16xf32>, %sd: tensor<16x20xf32>) {
  // expected-error @+1 {{'moe.layer' op (C6) gate_up_layout must be given exactly when gate_up or shared_gate_up is}}
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) gate(%wu : tensor<4x8x16xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) shared_gate_up(%sgu : tensor<40x16xf32>) shared_down(%sd : tensor<16x20xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<swiglu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c8_shape(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>, %su: tensor<20x16xf32>, %sd: tensor<16x21xf32>) {
  // expected-error @+1 {{'moe.layer' op (C8) shared_down must be [d, fs] = [16, 20], got 'tensor<16x21xf32>'}}
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) shared_up(%su : tensor<20x16xf32>) shared_down(%sd : tensor<16x21xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c8_gate(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>, %sg: tensor<1x16xf32>) {
  // expected-error @+1 {{'moe.layer' op (C8) shared_expert_gate needs shared experts}}
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) shared_expert_gate(%sg : tensor<1x16xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_c8_gate_shape(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>, %su: tensor<20x16xf32>, %sd: tensor<16x20xf32>, %sg: tensor<16xf32>) {
  // expected-error @+1 {{'moe.layer' op (C8) shared_expert_gate must be [1, d] = [1, 16], got 'tensor<16xf32>'}}
  %y = moe.layer %x router_logits(%l : tensor<?x4xf32>) up(%wu : tensor<4x8x16xf32>) down(%wd : tensor<4x16x8xf32>) shared_up(%su : tensor<20x16xf32>) shared_down(%sd : tensor<16x20xf32>) shared_expert_gate(%sg : tensor<16xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return
}

// -----

func.func @layer_generic_missing_attr(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>, %wu: tensor<4x8x16xf32>, %wd: tensor<4x16x8xf32>) {
  // expected-error @+1 {{'moe.layer' op requires attribute 'activation'}}
  %y = "moe.layer"(%x, %l, %wu, %wd) <{operandSegmentSizes = array<i32: 1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0>}> : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @route_generic_missing_routing(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op requires attribute 'routing'}}
  %w, %i = "moe.route"(%l) <{operandSegmentSizes = array<i32: 1, 0>}> : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return
}

// -----

// Declared result types must agree with the inferred ones.
func.func @route_generic_wrong_results(%l: tensor<?x8xf32>) {
  // expected-error @+2 {{'moe.route' op failed to infer returned types}}
  // expected-error @+1 {{'moe.route' op inferred type(s) 'tensor<?x2xf32>', 'tensor<?x2xi32>' are incompatible with return type(s) of operation 'tensor<?x3xf32>', 'tensor<?x3xi32>'}}
  %w, %i = "moe.route"(%l) <{operandSegmentSizes = array<i32: 1, 0>, routing = #moe.routing<k = 2>}> : (tensor<?x8xf32>) -> (tensor<?x3xf32>, tensor<?x3xi32>)
  return
}

// -----

func.func @dispatch_generic_wrong_results(%i: tensor<?x2xi32>) {
  // expected-error @+2 {{'moe.dispatch' op failed to infer returned types}}
  // expected-error @+1 {{'moe.dispatch' op inferred type(s) 'tensor<?xi32>', 'tensor<?x2xi32>', 'tensor<9xi32>' are incompatible with return type(s) of operation 'tensor<?xi32>', 'tensor<?x2xi32>', 'tensor<8xi32>'}}
  %s, %inv, %off = "moe.dispatch"(%i) <{num_experts = 8 : i64}> : (tensor<?x2xi32>) -> (tensor<?xi32>, tensor<?x2xi32>, tensor<8xi32>)
  return
}

// -----

func.func @layer_c9_router(%x: tensor<?x64xf32>, %wr: tensor<4x64x!moe.quant<q8_0>>, %wu: tensor<4x32x64xf32>, %wd: tensor<4x64x32xf32>) {
  // expected-error @+1 {{'moe.layer' op (C9) router_weight cannot be quantized ('tensor<4x64x!moe.quant<q8_0>>'): only the experts' and shared experts' projections may be}}
  %y = moe.layer %x router_weight(%wr : tensor<4x64x!moe.quant<q8_0>>) up(%wu : tensor<4x32x64xf32>) down(%wd : tensor<4x64x32xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x64xf32>
  return
}

// -----

func.func @layer_c9_partial_block(%x: tensor<?x48xf32>, %wr: tensor<4x48xf32>, %wu: tensor<4x32x48x!moe.quant<q4_0>>, %wd: tensor<4x48x32xf32>) {
  // expected-error @+1 {{'moe.layer' op (C9) up 'tensor<4x32x48x!moe.quant<q4_0>>' has rows of 48 elements, not whole blocks of 32}}
  %y = moe.layer %x router_weight(%wr : tensor<4x48xf32>) up(%wu : tensor<4x32x48x!moe.quant<q4_0>>) down(%wd : tensor<4x48x32xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x48xf32>
  return
}

// -----

func.func @layer_c9_bias(%x: tensor<?x64xf32>, %wr: tensor<4x64xf32>, %wu: tensor<4x32x64xf32>, %wd: tensor<4x64x32xf32>, %bd: tensor<4x64x!moe.quant<q8_0>>) {
  // expected-error @+1 {{'moe.layer' op (C9) down_bias cannot be quantized}}
  %y = moe.layer %x router_weight(%wr : tensor<4x64xf32>) up(%wu : tensor<4x32x64xf32>) down(%wd : tensor<4x64x32xf32>) down_bias(%bd : tensor<4x64x!moe.quant<q8_0>>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x64xf32>
  return
}

// -----

func.func @grouped_matmul_c11(%x: tensor<?x40xf32>, %w: tensor<8x40x!moe.quant<q8_0>>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C11) a quantized weight 'tensor<8x40x!moe.quant<q8_0>>' needs rows of a static whole number of blocks of 32 elements}}
  %0 = moe.grouped_matmul %x, %w : tensor<?x40xf32>, tensor<8x40x!moe.quant<q8_0>> -> tensor<?x8xf32>
  return
}

// -----

func.func @grouped_matmul_c11_u4z(%x: tensor<?x48xf32>, %w: tensor<8x48x!moe.quant<u4z>>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C11) a quantized weight 'tensor<8x48x!moe.quant<u4z>>' needs rows of a static whole number of blocks of 32 elements}}
  %0 = moe.grouped_matmul %x, %w : tensor<?x48xf32>, tensor<8x48x!moe.quant<u4z>> -> tensor<?x8xf32>
  return
}

// -----

func.func @grouped_matmul_c11_q5_1(%x: tensor<?x48xf32>, %w: tensor<8x48x!moe.quant<q5_1>>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C11) a quantized weight 'tensor<8x48x!moe.quant<q5_1>>' needs rows of a static whole number of blocks of 32 elements}}
  %0 = moe.grouped_matmul %x, %w : tensor<?x48xf32>, tensor<8x48x!moe.quant<q5_1>> -> tensor<?x8xf32>
  return
}

// -----

func.func @grouped_matmul_c11_u4z128(%x: tensor<?x96xf32>, %w: tensor<8x96x!moe.quant<u4z128>>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C11) a quantized weight 'tensor<8x96x!moe.quant<u4z128>>' needs rows of a static whole number of blocks of 128 elements}}
  %0 = moe.grouped_matmul %x, %w : tensor<?x96xf32>, tensor<8x96x!moe.quant<u4z128>> -> tensor<?x8xf32>
  return
}

// -----

func.func @grouped_matmul_c11_u2z(%x: tensor<?x48xf32>, %w: tensor<8x48x!moe.quant<u2z>>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C11) a quantized weight 'tensor<8x48x!moe.quant<u2z>>' needs rows of a static whole number of blocks of 32 elements}}
  %0 = moe.grouped_matmul %x, %w : tensor<?x48xf32>, tensor<8x48x!moe.quant<u2z>> -> tensor<?x8xf32>
  return
}

// -----

func.func @grouped_matmul_c11_u4z16(%x: tensor<?x40xf32>, %w: tensor<8x40x!moe.quant<u4z16>>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C11) a quantized weight 'tensor<8x40x!moe.quant<u4z16>>' needs rows of a static whole number of blocks of 16 elements}}
  %0 = moe.grouped_matmul %x, %w : tensor<?x40xf32>, tensor<8x40x!moe.quant<u4z16>> -> tensor<?x8xf32>
  return
}

// -----

func.func @grouped_matmul_c11_mxfp4(%x: tensor<?x48xf32>, %w: tensor<8x48x!moe.quant<mxfp4>>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C11) a quantized weight 'tensor<8x48x!moe.quant<mxfp4>>' needs rows of a static whole number of blocks of 32 elements}}
  %0 = moe.grouped_matmul %x, %w : tensor<?x48xf32>, tensor<8x48x!moe.quant<mxfp4>> -> tensor<?x8xf32>
  return
}

// -----

func.func @grouped_matmul_c2_quant_rank(%x: tensor<?x32xf32>, %w: tensor<4x8x32x!moe.quant<q4_0>>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C2) weight must be a rank-2 tensor of f32, bf16, f16 or !moe.quant without offsets, got 'tensor<4x8x32x!moe.quant<q4_0>>'}}
  %0 = moe.grouped_matmul %x, %w : tensor<?x32xf32>, tensor<4x8x32x!moe.quant<q4_0>> -> tensor<?x8xf32>
  return
}

// -----

// expected-error @+2 {{expected ::mlir::moe::QuantFormat to be one of: q8_0, q4_0}}
// expected-error @+1 {{failed to parse MoE_QuantizedType parameter 'format'}}
func.func @quant_unknown_format(%w: tensor<8x32x!moe.quant<tq1_0>>)

// -----

func.func @grouped_matmul_c11_k_quant(%x: tensor<?x64xf32>, %w: tensor<8x64x!moe.quant<q4_k>>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C11) a quantized weight 'tensor<8x64x!moe.quant<q4_k>>' needs rows of a static whole number of blocks of 256 elements}}
  %0 = moe.grouped_matmul %x, %w : tensor<?x64xf32>, tensor<8x64x!moe.quant<q4_k>> -> tensor<?x8xf32>
  return
}

// -----

func.func @grouped_matmul_c11_iq2_xxs(%x: tensor<?x128xf32>, %w: tensor<8x128x!moe.quant<iq2_xxs>>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C11) a quantized weight 'tensor<8x128x!moe.quant<iq2_xxs>>' needs rows of a static whole number of blocks of 256 elements}}
  %0 = moe.grouped_matmul %x, %w : tensor<?x128xf32>, tensor<8x128x!moe.quant<iq2_xxs>> -> tensor<?x8xf32>
  return
}

// -----

func.func @grouped_matmul_c11_iq4_xs(%x: tensor<?x32xf32>, %w: tensor<8x32x!moe.quant<iq4_xs>>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C11) a quantized weight 'tensor<8x32x!moe.quant<iq4_xs>>' needs rows of a static whole number of blocks of 256 elements}}
  %0 = moe.grouped_matmul %x, %w : tensor<?x32xf32>, tensor<8x32x!moe.quant<iq4_xs>> -> tensor<?x8xf32>
  return
}

// -----

func.func @grouped_matmul_c11_q2_k(%x: tensor<?x128xf32>, %w: tensor<8x128x!moe.quant<q2_k>>) {
  // expected-error @+1 {{'moe.grouped_matmul' op (C11) a quantized weight 'tensor<8x128x!moe.quant<q2_k>>' needs rows of a static whole number of blocks of 256 elements}}
  %0 = moe.grouped_matmul %x, %w : tensor<?x128xf32>, tensor<8x128x!moe.quant<q2_k>> -> tensor<?x8xf32>
  return
}
