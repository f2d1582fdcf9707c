"""The timing protocol bench/run.sh's ONNX Runtime peers share (ort_time.py,
ort_qmoe_time.py): a CPU session with THREADS intra-op threads, sequential;
16 random inputs rotated between calls, 3 warm-up calls, then at least 5
calls and MIN_TIME seconds; times in ms, sorted."""
import time

import numpy as np


def session(ort, path, threads):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def input_pool(rng, T, d, E):
    """16 (hidden, router logits) feeds of T tokens."""
    return [{"input": (rng.random((T, d), dtype=np.float32) * 3.4 - 1.7),
             "router_probs": (rng.random((T, E), dtype=np.float32) * 6 - 3)}
            for _ in range(16)]


def time_calls(sess, pool, min_time):
    """Sorted ms of the timed calls of `sess` rotating over `pool`."""
    times, elapsed = [], 0.0
    for it in range(3 + 16 * 64):
        t0 = time.perf_counter()
        sess.run(None, pool[it % 16])
        t = time.perf_counter() - t0
        if it >= 3:  # warm-up
            times.append(t * 1000)
            elapsed += t
        if len(times) >= 5 and elapsed >= float(min_time):
            break
    return sorted(times)
