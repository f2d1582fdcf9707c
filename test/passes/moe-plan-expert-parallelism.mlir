// RUN: moe-opt %s --split-input-file --moe-plan-expert-parallelism -o %t.uniform 2> %t.uniform.diag
// RUN: FileCheck %s --check-prefix=UNIFORM < %t.uniform
// RUN: FileCheck %s --check-prefix=UNIFORM-DIAG < %t.uniform.diag
// RUN: moe-opt %s --split-input-file --moe-plan-expert-parallelism="slots-per-rank=3 statistics=%S/Inputs/routing-skewed.json" -o %t.skewed 2> %t.skewed.diag
// RUN: FileCheck %s --check-prefix=SKEWED < %t.skewed
// RUN: FileCheck %s --check-prefix=SKEWED-DIAG < %t.skewed.diag
// RUN: moe-opt %s --split-input-file --moe-plan-expert-parallelism="slots-per-rank=3 statistics=%S/Inputs/routing-skewed.json,%S/Inputs/routing-more.json" 2>/dev/null | FileCheck %s --check-prefix=SUMMED
// RUN: moe-opt %s --split-input-file --moe-plan-expert-parallelism="strategy=contiguous" -o %t.contiguous 2> %t.contiguous.diag
// RUN: FileCheck %s --check-prefix=CONTIGUOUS < %t.contiguous
// RUN: FileCheck %s --check-prefix=CONTIGUOUS-DIAG < %t.contiguous.diag
// RUN: moe-opt %S/Inputs/no-grid.mlir --moe-plan-expert-parallelism="ranks=4 ranks-per-node=2" 2>/dev/null | FileCheck %s --check-prefix=CREATED
// RUN: moe-opt %S/Inputs/no-grid.mlir --moe-plan-expert-parallelism="grid=mesh ranks=2" 2>/dev/null | FileCheck %s --check-prefix=CREATED1D
// RUN: moe-opt %S/Inputs/quantized-layer.mlir --moe-plan-expert-parallelism="ranks=2" -o /dev/null 2>&1 | FileCheck %s --check-prefix=QUANT

// Block-quantized experts weigh their blocks' bytes: 2 experts per rank of
// 2 x 36864 (q4_0) + 69632 (q8_0) bytes each are 0.27 MiB (f32: 1.50).
// QUANT: remark: expert placement (global): 4 experts on 2 ranks x 2 slots, {{.*}}; expert weights 0.27 MiB per rank

// Without the grid, the pass makes it from 'ranks' and 'ranks-per-node':
// N x M for N nodes of M ranks, one dimension for one node.
// CREATED: shard.grid @ep(shape = 2x2)
// CREATED: #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 1,
// CREATED1D: shard.grid @mesh(shape = 2)
// CREATED1D: #moe.expert_placement<grid = @mesh, ranks_per_node = 2, slots_per_rank = 2,

// Uniform load, 4 experts on the 2 ranks of the grid: 2 slots each, no
// replicas, balance 1. Each plan is reported at its layer.
// UNIFORM-LABEL: func.func @skewed
// UNIFORM: moe.layer {{.*}}{moe.expert_placement = #moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [{{[0-3], [0-3], [0-3], [0-3]}}], replicas = [1, 1, 1, 1], log_to_phys = [{{.*}}]>}
// UNIFORM-DIAG: moe-plan-expert-parallelism.mlir:[[@LINE+19]]:8: remark: expert placement (global): 4 experts on 2 ranks x 2 slots, 0 replicas; predicted balance 1.000 (max/mean tokens per rank); all-to-all per rank for 4096 tokens: 0.50 MiB max, 0.50 MiB mean; expert weights 0.01 MiB per rank

// Expert 0 gets 12 of 16 selections: with 2 redundant slots it gets both
// replicas (12/3 = 4 per replica), and the 6 slots split 8 and 8.
// SKEWED-LABEL: func.func @skewed
// SKEWED: replicas = [3, 1, 1, 1]
// SKEWED-DIAG: remark: expert placement (global): 4 experts on 2 ranks x 3 slots, 2 replicas; predicted balance 1.000

// Two files are summed: expert 3 then has 4 selections, expert 0 still 12:
// the replicas stay with expert 0.
// SUMMED-LABEL: func.func @skewed
// SUMMED: replicas = [3, 1, 1, 1]

// The contiguous baseline: expert e on rank e / 2.
// CONTIGUOUS-LABEL: func.func @skewed
// CONTIGUOUS: phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]
// CONTIGUOUS-DIAG: remark: expert placement (contiguous): 4 experts on 2 ranks x 2 slots, 0 replicas; predicted balance 1.000
shard.grid @ep(shape = 2)
func.func @skewed(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Layers are found in the statistics by function and position: the second
// layer of @two_layers sends every token to expert 3, which takes both
// replicas (2 of its 3 replicas share a rank: 1.333 is the best balance);
// the first has no statistics and is planned for a uniform load.
// SKEWED-LABEL: func.func @two_layers
// SKEWED: replicas = [2, 2, 1, 1]
// SKEWED: replicas = [1, 1, 1, 3]
// SKEWED-DIAG: warning: no routing statistics for 'two_layers' site 0; planned for a uniform load
// SKEWED-DIAG: remark: expert placement (global): 4 experts on 2 ranks x 3 slots, 2 replicas; predicted balance 1.333
shard.grid @ep(shape = 2)
func.func @two_layers(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  %z = moe.layer %y router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %z : tensor<?x16xf32>
}

// -----

// A grid of 2 nodes of 2 ranks and a layer whose 8 experts form 2 groups
// (group-limited routing): 'auto' keeps each group, replicas included, on
// one node: experts 0-3 on the ranks of one node, 4-7 on the other.
// UNIFORM-LABEL: func.func @groups
// UNIFORM: moe.layer {{.*}}#moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 2, phys_to_log = [{{[0-3], [0-3], [0-3], [0-3], [4-7], [4-7], [4-7], [4-7]|[4-7], [4-7], [4-7], [4-7], [0-3], [0-3], [0-3], [0-3]}}]
// UNIFORM-DIAG: remark: expert placement (hierarchical): 8 experts on 4 ranks (2 nodes of 2) x 2 slots, 0 replicas; predicted balance 1.000
shard.grid @ep(shape = 2x2)
func.func @groups(%x: tensor<?x16xf32>, %wr: tensor<8x16xf32>, %wu: tensor<8x32x16xf32>, %wd: tensor<8x16x32xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<8x16xf32>) up(%wu : tensor<8x32x16xf32>) down(%wd : tensor<8x16x32xf32>) routing(#moe.routing<k = 2, n_group = 2, topk_group = 1>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
