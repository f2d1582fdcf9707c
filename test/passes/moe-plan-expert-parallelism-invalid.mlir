// RUN: moe-opt %s --moe-plan-expert-parallelism --split-input-file --verify-diagnostics
// Options that cannot hold for the module's grid or layers, each an error
// naming what is wrong, on a module without a grid (Inputs/no-grid.mlir,
// one layer of 4 experts):
// RUN: not moe-opt %S/Inputs/no-grid.mlir --moe-plan-expert-parallelism="ranks=3 ranks-per-node=2" 2>&1 | FileCheck %s --check-prefix=NODES
// NODES: error: moe-plan-expert-parallelism: 3 ranks do not split into nodes of 2
// RUN: not moe-opt %S/Inputs/no-grid.mlir --moe-plan-expert-parallelism="ranks=2 slots-per-rank=1" 2>&1 | FileCheck %s --check-prefix=SLOTS
// SLOTS: no-grid.mlir:3:8: error: cannot plan expert parallelism: slots per rank 1 x 2 ranks = 2 < 4 experts
// RUN: not moe-opt %S/Inputs/no-grid.mlir --moe-plan-expert-parallelism="ranks=4 ranks-per-node=2 strategy=hierarchical" 2>&1 | FileCheck %s --check-prefix=GROUPS
// GROUPS: no-grid.mlir:3:8: error: cannot plan expert parallelism: 1 groups do not split evenly over 2 nodes
// RUN: not moe-opt %S/Inputs/no-grid.mlir --moe-plan-expert-parallelism="ranks=2 slots-per-rank=3 strategy=contiguous" 2>&1 | FileCheck %s --check-prefix=CONTIGUOUS
// CONTIGUOUS: no-grid.mlir:3:8: error: cannot plan expert parallelism:
// RUN: not moe-opt %S/Inputs/no-grid.mlir --moe-plan-expert-parallelism="ranks=2 statistics=%t.missing.json" 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: error: moe-plan-expert-parallelism: cannot read routing statistics '{{.*}}missing.json'
// RUN: not moe-opt %S/Inputs/no-grid.mlir --moe-plan-expert-parallelism="ranks=2 statistics=%S/Inputs/routing-six-experts.json" 2>&1 | FileCheck %s --check-prefix=EXPERTS
// EXPERTS: no-grid.mlir:3:8: error: the routing statistics of 'layer' site 0 count 6 experts, the layer has 4
// Options that disagree with an existing grid (Inputs/grid-2x2.mlir: 2
// nodes of 2 ranks), and sizes beyond what a plan may have:
// RUN: not moe-opt %S/Inputs/grid-2x2.mlir --moe-plan-expert-parallelism="ranks=8" 2>&1 | FileCheck %s --check-prefix=RANKS
// RANKS: grid-2x2.mlir:2:1: error: moe-plan-expert-parallelism: ranks=8, but the grid has 4 devices
// RUN: not moe-opt %S/Inputs/grid-2x2.mlir --moe-plan-expert-parallelism="ranks-per-node=4" 2>&1 | FileCheck %s --check-prefix=PERNODE
// PERNODE: grid-2x2.mlir:2:1: error: moe-plan-expert-parallelism: ranks-per-node=4, but the grid's nodes have 2 ranks
// RUN: not moe-opt %S/Inputs/no-grid.mlir --moe-plan-expert-parallelism="ranks=8388608" 2>&1 | FileCheck %s --check-prefix=HUGE
// HUGE: error: moe-plan-expert-parallelism: at most 4194304 ranks
// RUN: not moe-opt %S/Inputs/no-grid.mlir --moe-plan-expert-parallelism="ranks=2 slots-per-rank=4194304" 2>&1 | FileCheck %s --check-prefix=SLOTSHUGE
// SLOTSHUGE: no-grid.mlir:3:8: error: cannot plan expert parallelism: 1 nodes x 2 ranks x 4194304 slots is more than the 4194304 slots a plan may have
// RUN: not moe-opt %S/Inputs/no-grid.mlir --moe-plan-expert-parallelism="ranks=2 strategy=fastest" 2>&1 | FileCheck %s --check-prefix=STRATEGY
// STRATEGY: Cannot find option named 'fastest'!

// expected-error @+1 {{moe-plan-expert-parallelism: the module has no shard.grid @ep; give ranks=N to create one}}
module {
  func.func @no_grid(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
    %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
    return %y : tensor<?x16xf32>
  }
}

// -----

// expected-error @+1 {{moe-plan-expert-parallelism: 'ep' is not a shard.grid}}
func.func private @ep()
func.func @not_a_grid(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// expected-error @+1 {{moe-plan-expert-parallelism: the grid's shape must be static}}
shard.grid @ep(shape = 2x?)
func.func @dynamic_grid(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %wu: tensor<4x32x16xf32>, %wd: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  %y = moe.layer %x router_weight(%wr : tensor<4x16xf32>) up(%wu : tensor<4x32x16xf32>) down(%wd : tensor<4x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

shard.grid @ep(shape = 2)
func.func @dynamic_experts(%x: tensor<?x16xf32>, %l: tensor<?x?xf32>, %wu: tensor<?x32x16xf32>, %wd: tensor<?x16x32xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{cannot plan expert parallelism for a layer whose expert count is dynamic}}
  %y = moe.layer %x router_logits(%l : tensor<?x?xf32>) up(%wu : tensor<?x32x16xf32>) down(%wd : tensor<?x16x32xf32>) routing(#moe.routing<k = 2>) activation(#moe.activation<relu>) : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
