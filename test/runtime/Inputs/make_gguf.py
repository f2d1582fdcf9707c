"""GGUF files for the tests, written with ggml's own `gguf` package.

  make_gguf.py weights IN.safetensors OUT_DIR
      From the F32 tensors of IN (examples/tiny_mixtral.py's weights):
      OUT_DIR/mixed.safetensors and OUT_DIR/mixed.gguf with the same tensors,
      the router in F32 and every other tensor in F16, and OUT_DIR/q8.gguf,
      the same with block_sparse_moe.experts.w1 in Q8_0. Each GGUF file is
      read back with gguf.GGUFReader and checked against what was written.
  make_gguf.py seeds OUT_DIR
      The fuzz target's seeds (fuzz/corpus/gguf): small files of several
      tensor types, metadata of every value type, version 2 and 3.
"""
import os
import sys

import numpy as np
import gguf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "examples"))
import safetensors_np  # noqa: E402

ROUTER = "block_sparse_moe.gate.weight"
QUANTIZED = "block_sparse_moe.experts.w1"
Q = gguf.GGMLQuantizationType


def write(path, tensors, metadata=(), version=None):
    """tensors: [(name, array, raw_dtype or None)]; metadata: [(add_*, key,
    value)] (key None for a method that takes the value alone). `version` 2
    writes a version-2 header (the same layout for a little-endian file)."""
    saved = gguf.gguf_writer.GGUF_VERSION
    if version is not None:
        gguf.gguf_writer.GGUF_VERSION = version
    try:
        w = gguf.GGUFWriter(path, "moec-test")
        for add, key, value in metadata:
            if key is None:
                getattr(w, add)(value)
            else:
                getattr(w, add)(key, value)
        for name, array, raw in tensors:
            w.add_tensor(name, array, raw_dtype=raw)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    finally:
        gguf.gguf_writer.GGUF_VERSION = saved


def check_read_back(path, expected):
    """expected: {name: (row-major shape, type, bytes)}."""
    r = gguf.GGUFReader(path)
    assert len(r.tensors) == len(expected), path
    for t in r.tensors:
        shape, qtype, data = expected[t.name]
        # The file stores ne innermost first; the reader gives them back as
        # stored.
        assert [int(d) for d in reversed(t.shape)] == list(shape), \
            (t.name, list(t.shape), shape)
        assert t.tensor_type == qtype, (t.name, t.tensor_type, qtype)
        assert bytes(np.asarray(t.data).tobytes()) == data, t.name


def weights(src, out_dir):
    w = safetensors_np.load(src)
    mixed = {n: (a, "F32" if n == ROUTER else "F16") for n, a in w.items()}
    safetensors_np.save(os.path.join(out_dir, "mixed.safetensors"), mixed)

    def typed(name, a, dtype):
        return a.astype(np.float32 if dtype == "F32" else np.float16)

    tensors = [(n, typed(n, a, d), None) for n, (a, d) in mixed.items()]
    path = os.path.join(out_dir, "mixed.gguf")
    write(path, tensors)
    check_read_back(path, {n: (a.shape, Q.F32 if a.dtype == np.float32
                               else Q.F16, a.tobytes())
                           for n, a, _ in tensors})

    q8 = []
    for n, a, raw in tensors:
        if n == QUANTIZED:
            a = gguf.quants.quantize(a.astype(np.float32), Q.Q8_0)
            raw = Q.Q8_0
        q8.append((n, a, raw))
    path = os.path.join(out_dir, "q8.gguf")
    write(path, q8)
    shapes = {n: a.shape for n, a, _ in tensors}
    check_read_back(path, {n: (shapes[n], raw or (Q.F32 if a.dtype ==
                                                  np.float32 else Q.F16),
                               a.tobytes()) for n, a, raw in q8})


def seeds(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(7)
    # One F32 tensor, the least metadata.
    write(os.path.join(out_dir, "f32.gguf"),
          [("w", rng.standard_normal((2, 3)).astype(np.float32), None)])
    # Several types, metadata of every value type, arrays and strings.
    metadata = [
        ("add_uint8", "t.u8", 200), ("add_int8", "t.i8", -3),
        ("add_uint16", "t.u16", 60000), ("add_int16", "t.i16", -300),
        ("add_uint32", "t.u32", 7), ("add_int32", "t.i32", -70000),
        ("add_float32", "t.f32", 0.5), ("add_bool", "t.bool", True),
        ("add_string", "general.name", "seed"),
        ("add_uint64", "t.u64", 2**40), ("add_int64", "t.i64", -2**40),
        ("add_float64", "t.f64", 1.25),
        ("add_array", "t.ints", [1, 2, 3]),
        ("add_array", "t.strings", ["a", "bc", ""]),
        ("add_array", "t.nested", [[1, 2], [3]]),
    ]
    write(os.path.join(out_dir, "types.gguf"), [
        ("a.f16", rng.standard_normal((2, 4)).astype(np.float16), None),
        ("b.q8_0", gguf.quants.quantize(
            rng.standard_normal((2, 32)).astype(np.float32), Q.Q8_0),
         Q.Q8_0),
        ("c.q4_k", rng.integers(0, 256, (1, 144), dtype=np.uint8), Q.Q4_K),
    ], metadata)
    # Version 2, a larger alignment, a 3-d and a 4-d tensor.
    write(os.path.join(out_dir, "v2.gguf"), [
        ("x", np.arange(24, dtype=np.float32).reshape(2, 3, 4), None),
        ("y", np.arange(16, dtype=np.int32).reshape(2, 2, 2, 2), None),
    ], [("add_custom_alignment", None, 64)], version=2)
    # No tensors, metadata only.
    write(os.path.join(out_dir, "empty.gguf"), [],
          [("add_string", "t.note", "no tensors")])


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "weights":
        weights(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "seeds":
        seeds(sys.argv[2])
    else:
        sys.exit(__doc__)
