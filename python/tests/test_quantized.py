"""Block-quantized weights (q8_0, q4_0, mxfp4) from Python: bound from the
GGUF file that holds them (written here with the gguf package, ggml's own
quantizers), checked
against NumPy float64 on the weights the gguf package dequantizes; binding
one from an array is refused naming it. compile(int8_dot=True) multiplies
them with the rows rounded to int8 per block of 32."""

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


def write_gguf(path, blocks, qtype):
    writer = gguf.GGUFWriter(str(path), "none")
    writer.add_tensor("w", blocks, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def has_vnni():
    try:
        with open("/proc/cpuinfo") as f:
            return "avx512_vnni" in f.read().split()
    except OSError:
        return False


@pytest.mark.parametrize("fmt,qtype", [
    ("q8_0", gguf.GGMLQuantizationType.Q8_0),
    ("q4_0", gguf.GGMLQuantizationType.Q4_0),
    ("mxfp4", gguf.GGMLQuantizationType.MXFP4)])
def test_quantized_weight_from_gguf(tmp_path, fmt, qtype):
    rng = np.random.default_rng(3)
    blocks = gguf.quants.quantize(
        rng.standard_normal((24, 64)).astype(np.float32), qtype)
    write_gguf(tmp_path / "w.gguf", blocks, qtype)
    artifact = moec.compile(MLIR.replace("FMT", fmt), tmp_path / "p.so")
    with moec.load(artifact, weights=tmp_path / "w.gguf") as s:
        x = rng.standard_normal((5, 64)).astype(np.float32)
        y = s.project(x)
    w = gguf.quants.dequantize(blocks, qtype).astype(np.float64)
    assert rel_l2(y, x.astype(np.float64) @ w.T) < TOLERANCE
    with pytest.raises(moec.DTypeError, match=f"weight 'w' is {fmt}"):
        moec.load(artifact, weights={"w": np.zeros((24, 64), np.float32)})


def fake_int8(x):
    """x [T, K] rounded as int8 dot products round a GEMM's rows: per block
    of 32, the largest magnitude to 127, to nearest even, in float32."""
    b = x.astype(np.float32).reshape(-1, 32)
    amax = np.abs(b).max(axis=1, keepdims=True)
    q = np.rint(b * (np.float32(127) / amax))
    return (q * (amax / np.float32(127))).astype(np.float64).reshape(x.shape)


@pytest.mark.skipif(not has_vnni(), reason="int8 dot products need AVX512_VNNI")
@pytest.mark.parametrize("fmt,qtype", [
    ("q8_0", gguf.GGMLQuantizationType.Q8_0),
    ("q4_0", gguf.GGMLQuantizationType.Q4_0),
    ("mxfp4", gguf.GGMLQuantizationType.MXFP4)])
def test_int8_dot(tmp_path, fmt, qtype):
    # k 128: whole steps of the int8 kernel for q8_0, q4_0 and mxfp4.
    rng = np.random.default_rng(4)
    blocks = gguf.quants.quantize(
        rng.standard_normal((24, 128)).astype(np.float32), qtype)
    write_gguf(tmp_path / "w.gguf", blocks, qtype)
    mlir = MLIR.replace("x64x", "x128x")
    artifact = moec.compile(mlir.replace("FMT", fmt), tmp_path / "p.so",
                            int8_dot=True)
    with moec.load(artifact, weights=tmp_path / "w.gguf") as s:
        x = rng.standard_normal((5, 128)).astype(np.float32)
        y = s.project(x)
    w = gguf.quants.dequantize(blocks, qtype).astype(np.float64)
    # The products of the rounded rows, to f32 sums; about 1e-2 from the
    # unrounded ones.
    assert rel_l2(y, fake_int8(x) @ w.T) < TOLERANCE
    assert rel_l2(y, x.astype(np.float64) @ w.T) > 100 * TOLERANCE
