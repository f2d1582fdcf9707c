"""Fixtures of the moec package's tests: a tiny Mixtral block compiled once
per run, its weights and inputs (fixed seed), and an independent float64
NumPy reference of the block (examples/tiny_mixtral.py)."""

import os
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))

import safetensors_np  # noqa: E402
import tiny_mixtral  # noqa: E402

import moec  # noqa: E402

# f32 computation against a float64 reference: moec's stated f32 tolerance.
TOLERANCE = 1e-5


def rel_l2(got, expected):
    got = np.asarray(got, dtype=np.float64)
    return np.linalg.norm(got - expected) / np.linalg.norm(expected)


class TinyMixtral:
    """examples/tiny-mixtral.mlir compiled with its weights."""

    def __init__(self, workdir):
        tiny_mixtral.make(str(workdir))
        self.weights_file = workdir / "weights.safetensors"
        self.weights = safetensors_np.load(str(self.weights_file))
        self.x = np.load(workdir / "hidden_states.npy")
        self.artifact = moec.compile(ROOT / "examples" / "tiny-mixtral.mlir",
                                     workdir / "tiny-mixtral.so",
                                     weights=[self.weights_file])

    def reference(self, x):
        return tiny_mixtral.mixtral_block(
            np.asarray(x, dtype=np.float64),
            *(self.weights[tiny_mixtral.NAMES[k]]
              for k in ("router_weight", "gate", "up", "down")))


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    return TinyMixtral(tmp_path_factory.mktemp("tiny-mixtral"))


@pytest.fixture
def session(tiny):
    with moec.load(tiny.artifact, threads=2) as s:
        yield s
