func.func @dispatch(%ids: tensor<?x2xi32>) -> (tensor<?xi32>, tensor<?x2xi32>, tensor<5xi32>) {
  %s, %inv, %off = moe.dispatch %ids experts(4) : tensor<?x2xi32>
  return %s, %inv, %off : tensor<?xi32>, tensor<?x2xi32>, tensor<5xi32>
}
