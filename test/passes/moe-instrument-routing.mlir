// RUN: moe-opt %s --moe-instrument-routing --split-input-file | FileCheck %s
// RUN: moe-opt %s --moe-instrument-routing --moe-instrument-routing --split-input-file | FileCheck %s

// Every route gets one record, numbered per function in route order; a
// second run adds none.
// CHECK-LABEL: func.func @two_routes
// CHECK: %[[W:.*]], %[[IDS:.*]] = moe.route %arg0
// CHECK-NEXT: moe.record_routing %[[IDS]] site(0) experts(8) : tensor<?x2xi32>
// CHECK: %[[W2:.*]], %[[IDS2:.*]] = moe.route %arg1
// CHECK-NEXT: moe.record_routing %[[IDS2]] site(1) experts(4) : tensor<?x3xi32>
// CHECK-NOT: moe.record_routing
func.func @two_routes(%l: tensor<?x8xf32>, %m: tensor<?x4xbf16>) -> (tensor<?x2xf32>, tensor<?x3xf32>) {
  %w, %ids = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x8xf32>
  %w2, %ids2 = moe.route %m routing(#moe.routing<k = 3>) : tensor<?x4xbf16>
  return %w, %w2 : tensor<?x2xf32>, tensor<?x3xf32>
}

// Numbering starts again in every function, so identical functions stay
// identical.
// CHECK-LABEL: func.func @another
// CHECK: %[[W:.*]], %[[IDS:.*]] = moe.route %arg0
// CHECK-NEXT: moe.record_routing %[[IDS]] site(0) experts(8) : tensor<?x2xi32>
func.func @another(%l: tensor<?x8xf32>) -> tensor<?x2xf32> {
  %w, %ids = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x8xf32>
  return %w : tensor<?x2xf32>
}

// -----

// A function that records already keeps its records and numbers new ones
// after them.
// CHECK-LABEL: func.func @partly_recorded
// CHECK: %[[W:.*]], %[[IDS:.*]] = moe.route %arg0
// CHECK-NEXT: moe.record_routing %[[IDS]] site(3) experts(8)
// CHECK: %[[W2:.*]], %[[IDS2:.*]] = moe.route %arg0
// CHECK-NEXT: moe.record_routing %[[IDS2]] site(4) experts(8)
// CHECK-NOT: moe.record_routing
func.func @partly_recorded(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x1xf32>) {
  %w, %ids = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x8xf32>
  moe.record_routing %ids site(3) experts(8) : tensor<?x2xi32>
  %w2, %ids2 = moe.route %l routing(#moe.routing<k = 1>) : tensor<?x8xf32>
  return %w, %w2 : tensor<?x2xf32>, tensor<?x1xf32>
}

// -----

// A function without routes is left alone.
// CHECK-LABEL: func.func @no_route
// CHECK-NOT: moe.record_routing
func.func @no_route(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  return %x : tensor<?x8xf32>
}

// -----

// Only entry points record: a private function's routes are left alone,
// as are routes over more than 2^20 experts.
// CHECK-LABEL: func.func private @callee
// CHECK-NOT: moe.record_routing
// CHECK-LABEL: func.func @huge
// CHECK-NOT: moe.record_routing
func.func private @callee(%l: tensor<?x8xf32>) -> tensor<?x2xf32> {
  %w, %ids = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x8xf32>
  return %w : tensor<?x2xf32>
}
func.func @huge(%l: tensor<?x1048577xf32>) -> tensor<?x2xf32> {
  %w, %ids = moe.route %l routing(#moe.routing<k = 2>) : tensor<?x1048577xf32>
  return %w : tensor<?x2xf32>
}
