#!/usr/bin/python3
"""Writes broken variants of a weights file for the moe-run error tests.

  bad_safetensors.py GOOD.safetensors OUT_DIR

Each variant breaks one thing: a missing tensor, a wrong dtype, a wrong
shape, a truncated data section, a header length beyond the file, a header
that is not JSON, overlapping tensors, a file shorter than the length field,
an unknown dtype.
"""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "examples"))
import safetensors_np  # noqa: E402


def raw_header(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_raw(path, header, payload, length=None):
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text) if length is None else length))
        f.write(text)
        f.write(payload)


def main(good, out):
    os.makedirs(out, exist_ok=True)
    tensors = safetensors_np.load(good)
    names = list(tensors)
    as_f32 = {n: (v, "F32") for n, v in tensors.items()}

    missing = dict(as_f32)
    del missing[names[-1]]
    safetensors_np.save(os.path.join(out, "missing.safetensors"), missing)

    wrong_dtype = dict(as_f32)
    wrong_dtype[names[1]] = (tensors[names[1]], "BF16")
    safetensors_np.save(os.path.join(out, "dtype.safetensors"), wrong_dtype)

    wrong_shape = dict(as_f32)
    t = tensors[names[0]]
    wrong_shape[names[0]] = (t.reshape(t.shape[::-1]), "F32")
    safetensors_np.save(os.path.join(out, "shape.safetensors"), wrong_shape)

    with open(good, "rb") as f:
        data = f.read()
    with open(os.path.join(out, "truncated.safetensors"), "wb") as f:
        f.write(data[:len(data) - 1000])
    with open(os.path.join(out, "short.safetensors"), "wb") as f:
        f.write(data[:5])

    header, payload = raw_header(good)
    write_raw(os.path.join(out, "header-length.safetensors"), header, payload,
              length=1 << 40)
    with open(os.path.join(out, "corrupt-header.safetensors"), "wb") as f:
        junk = b'{"a": [1, 2'
        f.write(struct.pack("<Q", len(junk)) + junk + payload)

    overlap = json.loads(json.dumps(header))
    a, b = names[0], names[1]
    size_b = overlap[b]["data_offsets"][1] - overlap[b]["data_offsets"][0]
    start = overlap[a]["data_offsets"][0] + 4
    # b keeps its size but starts inside a.
    overlap[b]["data_offsets"] = [start, start + size_b]
    write_raw(os.path.join(out, "overlap.safetensors"), overlap, payload)

    unknown = json.loads(json.dumps(header))
    unknown[names[2]]["dtype"] = "Q4_K"
    write_raw(os.path.join(out, "unknown-dtype.safetensors"), unknown, payload)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
