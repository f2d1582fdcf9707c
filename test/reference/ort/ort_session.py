"""ONNX Runtime (the `onnxruntime` Python wheel, CPU) as the outside reference
of the test harnesses: one intra-op thread, sequential execution, so that a
run is deterministic and does not compete with the other tests for cores.

QMoE's exact path. ONNX Runtime 1.31's CPU QMoE kernel runs block-wise 8-bit
experts (weights, scales and zero points as initializers, in_features a
multiple of block_size) on MLAS's QNBit GEMM with int8 activations: each
block_size run of an activation row is quantized to int8 with the scale
max|a|/127 (round to nearest). That is 3e-3 to 1.5e-2 relative L2 away from
the dequantized formula that moec computes (and that 1.30 computed). The
kernel reads two environment variables when a session is created, and
`session` pins both:
  ORT_QMOE_CPU_QNBIT_GEMM=fp32  fp32 activations only: 8-bit block-wise goes
                                back to dequantize + SGEMM, and 4-bit stays on
                                the fp32 QNBit kernels (its default, exact);
  ORT_USE_MLAS_Q4_GEMM_MOE=0    keeps the MLAS Q4 GEMM (which repacks 4-bit
                                weights without zero points) off, its default
                                in 1.31, whatever the caller's environment.
There is no such switch for 2-bit block-wise experts with a multiple of 128
output rows (the T-MAC LUT GEMM, also approximate); see docs/Importing.md.
"""
import os

import numpy as np

# Read by the QMoE kernel at session creation (see above).
QMOE_ENV = {"ORT_QMOE_CPU_QNBIT_GEMM": "fp32", "ORT_USE_MLAS_Q4_GEMM_MOE": "0"}


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
    os.environ.update(QMOE_ENV)
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
