"""Block-quantized weights from Python: bound from the GGUF file that holds
them (written here with the gguf package, ggml's own quantizers), checked
against NumPy float64 on the weights the gguf package dequantizes; binding
one from an array is refused naming it."""

import gguf
import numpy as np
import pytest

import moec

from conftest import TOLERANCE, rel_l2

MLIR = """
func.func @project(%x: tensor<?x64xf32> {moe.name = "x"},
                   %w: tensor<24x64x!moe.quant<FMT>> {moe.name = "w"})
    -> tensor<?x24xf32> {
  %y = moe.grouped_matmul %x, %w
      : tensor<?x64xf32>, tensor<24x64x!moe.quant<FMT>> -> tensor<?x24xf32>
  return %y : tensor<?x24xf32>
}
"""


@pytest.mark.parametrize("fmt,qtype", [
    ("q8_0", gguf.GGMLQuantizationType.Q8_0),
    ("q4_0", gguf.GGMLQuantizationType.Q4_0)])
def test_quantized_weight_from_gguf(tmp_path, fmt, qtype):
    rng = np.random.default_rng(3)
    blocks = gguf.quants.quantize(
        rng.standard_normal((24, 64)).astype(np.float32), qtype)
    writer = gguf.GGUFWriter(str(tmp_path / "w.gguf"), "none")
    writer.add_tensor("w", blocks, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    artifact = moec.compile(MLIR.replace("FMT", fmt), tmp_path / "p.so")
    with moec.load(artifact, weights=tmp_path / "w.gguf") as s:
        x = rng.standard_normal((5, 64)).astype(np.float32)
        y = s.project(x)
    w = gguf.quants.dequantize(blocks, qtype).astype(np.float64)
    assert rel_l2(y, x.astype(np.float64) @ w.T) < TOLERANCE
    with pytest.raises(moec.DTypeError, match=f"weight 'w' is {fmt}"):
        moec.load(artifact, weights={"w": np.zeros((24, 64), np.float32)})
