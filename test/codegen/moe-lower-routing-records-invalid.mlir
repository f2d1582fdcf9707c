// RUN: moe-opt %s --moe-lower-routing-records --split-input-file --verify-diagnostics

func.func @twice(%ids: tensor<?x2xi32>) {
  // expected-note @+1 {{first recorded here}}
  moe.record_routing %ids site(0) experts(8) : tensor<?x2xi32>
  // expected-error @+1 {{routing site 0 is recorded twice in 'twice'}}
  moe.record_routing %ids site(0) experts(8) : tensor<?x2xi32>
  return
}

// -----

func.func @dynamic_k(%ids: tensor<?x?xi32>) {
  // expected-error @+1 {{the number of experts per token (the indices' second dimension) must be static}}
  moe.record_routing %ids site(0) experts(8) : tensor<?x?xi32>
  return
}

// -----

// expected-error @+1 {{'__moec_record_routing' is already defined; moe-lower-routing-records defines it}}
func.func private @__moec_record_routing(i64)

func.func @clash(%ids: tensor<?x2xi32>) {
  moe.record_routing %ids site(0) experts(8) : tensor<?x2xi32>
  return
}

// -----

func.func private @callee(%ids: tensor<?x2xi32>) {
  // expected-error @+1 {{a routing record must be in a public function (an entry point): the runtime counts each report for the entry point being called}}
  moe.record_routing %ids site(0) experts(8) : tensor<?x2xi32>
  return
}
