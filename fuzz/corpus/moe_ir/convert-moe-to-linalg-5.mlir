func.func @gather(%x: tensor<?x16xbf16>, %rows: tensor<?xi32>) -> tensor<?x16xbf16> {
  %r = moe.gather %x[%rows] : tensor<?x16xbf16>, tensor<?xi32>
  return %r : tensor<?x16xbf16>
}
