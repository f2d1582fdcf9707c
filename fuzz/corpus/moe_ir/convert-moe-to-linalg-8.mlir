func.func @combine(%y: tensor<?x16xf32>, %w: tensor<?x2xf32>, %inv: tensor<?x2xi32>, %s: tensor<?x16xf32>, %g: tensor<?x1xf32>) -> tensor<?x16xbf16> {
  %o = moe.combine %y, %w, %inv shared(%s : tensor<?x16xf32>) shared_gate(%g : tensor<?x1xf32>) : tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x16xbf16>
  return %o : tensor<?x16xbf16>
}
