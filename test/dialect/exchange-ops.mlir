// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s -mlir-print-op-generic | moe-opt | FileCheck %s
// The expert-parallel exchange: moe.exchange_plan infers its results from
// the indices and the placement; moe.all_to_all_v keeps the element type
// and the columns, with as many rows as the peers send.

shard.grid @ep(shape = 2)
shard.grid @nodes(shape = 2x2)

// CHECK-LABEL: func.func @plan
// CHECK: %[[T:.*]], %[[E:.*]], %[[C:.*]], %[[P:.*]] = moe.exchange_plan %{{.*}} rank(%{{.*}}) placement(#moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>) : tensor<?x2xi32>
// CHECK: return %[[T]], %[[E]], %[[C]], %[[P]] : tensor<?xi32>, tensor<?xi32>, tensor<2xi64>, tensor<?x2xi32>
func.func @plan(%ids: tensor<?x2xi32>, %rank: index) -> (tensor<?xi32>, tensor<?xi32>, tensor<2xi64>, tensor<?x2xi32>) {
  %t, %e, %c, %p = moe.exchange_plan %ids rank(%rank) placement(#moe.expert_placement<grid = @ep, ranks_per_node = 2, slots_per_rank = 3, phys_to_log = [0, 1, 0, 2, 3, 1], replicas = [2, 2, 1, 1], log_to_phys = [0, 2, 1, 5, 3, 4]>) : tensor<?x2xi32>
  return %t, %e, %c, %p : tensor<?xi32>, tensor<?xi32>, tensor<2xi64>, tensor<?x2xi32>
}

// A static token count gives static send rows: T * k.
// CHECK-LABEL: func.func @plan_static
// CHECK: moe.exchange_plan {{.*}} : tensor<5x2xi32>
// CHECK: return {{.*}} : tensor<10xi32>, tensor<10xi32>, tensor<4xi64>, tensor<5x2xi32>
func.func @plan_static(%ids: tensor<5x2xi32>, %rank: index) -> (tensor<10xi32>, tensor<10xi32>, tensor<4xi64>, tensor<5x2xi32>) {
  %t, %e, %c, %p = moe.exchange_plan %ids rank(%rank) placement(#moe.expert_placement<grid = @nodes, ranks_per_node = 2, slots_per_rank = 1, phys_to_log = [0, 1, 2, 3], replicas = [1, 1, 1, 1], log_to_phys = [0, 1, 2, 3]>) : tensor<5x2xi32>
  return %t, %e, %c, %p : tensor<10xi32>, tensor<10xi32>, tensor<4xi64>, tensor<5x2xi32>
}

// Rows of any whole-byte element type, rank 1 or 2.
// CHECK-LABEL: func.func @exchange
// CHECK: %[[R:.*]] = moe.all_to_all_v %{{.*}}, %[[S:.*]], %[[V:.*]] on @ep : tensor<?x64xbf16>, tensor<2xi64> -> tensor<?x64xbf16>
// CHECK: moe.all_to_all_v %{{.*}}, %[[S]], %[[V]] on @ep : tensor<?xi32>, tensor<2xi64> -> tensor<?xi32>
// CHECK: moe.all_to_all_v %{{.*}}, %{{.*}}, %{{.*}} on @nodes : tensor<6x8xf32>, tensor<4xi64> -> tensor<?x8xf32>
func.func @exchange(%rows: tensor<?x64xbf16>, %ids: tensor<?xi32>, %s: tensor<2xi64>, %r: tensor<2xi64>, %x: tensor<6x8xf32>, %s4: tensor<4xi64>, %r4: tensor<4xi64>) -> (tensor<?x64xbf16>, tensor<?xi32>, tensor<?x8xf32>) {
  %a = moe.all_to_all_v %rows, %s, %r on @ep : tensor<?x64xbf16>, tensor<2xi64> -> tensor<?x64xbf16>
  %b = moe.all_to_all_v %ids, %s, %r on @ep : tensor<?xi32>, tensor<2xi64> -> tensor<?xi32>
  %c = moe.all_to_all_v %x, %s4, %r4 on @nodes : tensor<6x8xf32>, tensor<4xi64> -> tensor<?x8xf32>
  return %a, %b, %c : tensor<?x64xbf16>, tensor<?xi32>, tensor<?x8xf32>
}
