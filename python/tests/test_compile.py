"""moec.compile: the compile driver in-process, its diagnostics as
exceptions, and no partial output."""

import re

import numpy as np
import pytest

import moec
from conftest import ROOT, TOLERANCE, rel_l2

MLIR = """
func.func @scale(%x: tensor<?x4xf32> {moe.name = "x"}) -> tensor<?x4xf32> {
  %y = moe.layer %x router_weight(%r : tensor<2x4xf32>)
  return %y : tensor<?x4xf32>
}
"""


def test_compile_reports_located_errors(tmp_path):
    out = tmp_path / "bad.so"
    with pytest.raises(moec.CompileError, match=r"model.mlir:\d+:\d+: "
                       r"error: "):
        moec.compile(MLIR, out)
    assert not out.exists()


def test_compile_missing_model(tmp_path):
    with pytest.raises(moec.CompileError, match="no-such-model.onnx"):
        moec.compile(tmp_path / "no-such-model.onnx", tmp_path / "x.so")
    assert not (tmp_path / "x.so").exists()


def test_compile_options_are_checked(tmp_path):
    with pytest.raises(moec.InvalidArgumentError, match="unknown fusion "
                       "'gate'"):
        moec.compile(MLIR, tmp_path / "x.so", fuse="gate")
    with pytest.raises(moec.CompileError, match="target"):
        moec.compile(MLIR, tmp_path / "x.so", target="tpu")


def test_compile_text_and_fusions(tiny, tmp_path):
    source = (ROOT / "examples" / "tiny-mixtral.mlir").read_text()
    so = moec.compile(source, tmp_path / "fused.so", fuse="all",
                      weights=tiny.weights_file)
    with moec.load(so) as s:
        y = s.tiny_mixtral(tiny.x)
    assert rel_l2(y, tiny.reference(tiny.x)) <= TOLERANCE
    assert isinstance(y, np.ndarray)


def test_compile_progress(tiny, tmp_path, capfd):
    moec.compile(ROOT / "examples" / "tiny-mixtral.mlir", tmp_path / "v.so",
                 weights=tiny.weights_file, verbose=True)
    err = capfd.readouterr().err
    for phase in ("read ", "lowered to llvm", "emitted object code",
                  "linked "):
        assert re.search(r"moec\.compile: " + phase + r".*\(\d+\.\d ms\)",
                         err), (phase, err)
