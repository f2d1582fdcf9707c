"""A session on a GPU from Python, run through moert's stand-in CUDA driver
(test/runtime/Inputs/fake_cuda.c: the driver's entry points over host
memory; it checks and logs what a GPU would be asked to do and runs no
kernel). Each check runs in a fresh interpreter, since moert looks for the
driver (MOERT_CUDA_DRIVER) once per process. Needs the CUDA toolkit's
ptxas to compile the artifact; skipped without it."""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import moec
from conftest import ROOT

CUDA = os.environ.get("MOEC_CUDA_TOOLKIT", "/usr/local/cuda")
pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(CUDA, "bin", "ptxas")),
    reason=f"no CUDA toolkit at {CUDA} (ptxas) to compile a GPU artifact")


@pytest.fixture(scope="module")
def gpu_setup(tiny, tmp_path_factory):
    d = tmp_path_factory.mktemp("cuda")
    so = moec.compile(ROOT / "examples" / "tiny-mixtral.mlir", d / "tiny.so",
                      target="cuda", weights=tiny.weights_file)
    driver = d / "libfake_cuda.so"
    cc = shutil.which("cc") or shutil.which("clang-22")
    subprocess.run([cc, "-std=c11", "-shared", "-fPIC", "-o", str(driver),
                    str(ROOT / "test" / "runtime" / "Inputs" / "fake_cuda.c")],
                   check=True)
    return so, driver, d


def run_child(code, driver, log, **env):
    environment = dict(os.environ, MOERT_CUDA_DRIVER=str(driver),
                       FAKE_CUDA_LOG=str(log), **env)
    environment["PYTHONPATH"] = os.pathsep.join(sys.path)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          env=environment, capture_output=True, text=True)


def test_gpu_session_copies_in_and_out(gpu_setup, tiny):
    so, driver, d = gpu_setup
    log = d / "run.log"
    x = d / "x.npy"
    import numpy as np
    np.save(x, tiny.x[:5])
    r = run_child(f"""
        import numpy as np, torch, moec
        s = moec.load({str(so)!r}, device="cuda")
        print("device", s.device, s.artifact.device_kind)
        x = np.load({str(x)!r})
        y = s.tiny_mixtral(x)
        print("numpy", type(y).__name__, y.shape, y.dtype)
        y = s.tiny_mixtral(torch.from_numpy(x))
        print("torch", type(y).__name__, tuple(y.shape))
        try:
            s.tiny_mixtral(x.astype(np.float64))
        except moec.DTypeError as e:
            print("dtype error:", e)
    """, driver, log)
    assert r.returncode == 0, r.stderr
    assert "device cuda:0 cuda" in r.stdout
    assert "numpy ndarray (5, 64) float32" in r.stdout
    assert "torch Tensor (5, 64)" in r.stdout
    assert ("dtype error: input 'hidden_states' of 'tiny_mixtral' has dtype "
            "float64, expected f32") in r.stdout
    lines = log.read_text().splitlines()
    # Each call: the input to the device (5 x 64 f32), the kernels, the
    # stream waited on, the result back.
    assert lines.count("copy to device 1280 bytes") == 2
    assert lines.count("copy to host 1280 bytes") == 2
    assert any(line.startswith("launch tiny_mixtral_") for line in lines)


def test_gpu_session_failure_is_an_exception(gpu_setup, tiny):
    so, driver, d = gpu_setup
    r = run_child(f"""
        import numpy as np, moec
        s = moec.load({str(so)!r}, device="cuda")
        try:
            s.tiny_mixtral(np.zeros((5, 64), np.float32))
        except moec.Error as e:
            print(type(e).__name__, e)
    """, driver, d / "fail.log", FAKE_CUDA_LAUNCH_ERROR="700")
    assert r.returncode == 0, r.stderr
    assert "Error" in r.stdout and "700" in r.stdout, r.stdout


def test_cpu_artifact_on_a_gpu_is_refused(gpu_setup, tiny):
    so, driver, d = gpu_setup
    r = run_child(f"""
        import moec
        try:
            moec.load({str(tiny.artifact)!r}, device="cuda")
        except moec.Error as e:
            print(type(e).__name__, e)
    """, driver, d / "refused.log")
    assert r.returncode == 0, r.stderr
    assert "cuda" in r.stdout and "cpu" in r.stdout, r.stdout
