"""ONNX Runtime (the `onnxruntime` Python wheel, CPU) as the outside reference
of the test harnesses: one intra-op thread, sequential execution, so that a
run is deterministic and does not compete with the other tests for cores.
"""
import numpy as np


def load_onnxruntime():
    """Imports onnxruntime, or exits with a message naming what is missing."""
    try:
        import onnxruntime
    except ImportError as e:
        raise SystemExit("error: cannot import onnxruntime (%s); run "
                         "scripts/setup.sh, which installs it into "
                         "build/venv" % e)
    return onnxruntime


def session(model_path, threads=1):
    ort = load_onnxruntime()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model_path, sess_options=opts,
                                providers=["CPUExecutionProvider"])


def run_first_output(model_path, feeds):
    """Runs the model on `feeds` (name -> array) and returns its first
    output as float32 (float16 outputs are widened exactly)."""
    sess = session(model_path)
    out = sess.run([sess.get_outputs()[0].name], feeds)[0]
    if out.dtype == np.float16:
        out = out.astype(np.float32)
    if out.dtype != np.float32:
        raise ValueError("output type %s, expected float32 or float16"
                         % out.dtype)
    return out


def version():
    return load_onnxruntime().__version__
