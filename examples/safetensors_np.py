"""Minimal .safetensors reading and writing with NumPy (no other packages).

save(path, {name: (array, dtype)}) with dtype "F32", "BF16" or "F16";
bf16 is rounded to nearest even from float32. load(path) returns
{name: float64 array}. Used by the examples and the test suite.
"""
import json
import struct

import numpy as np


def to_bf16_bits(a):
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + np.uint32(0x7FFF)
    return ((bits + rounding) >> 16).astype(np.uint16)


def from_bf16_bits(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def encode(array, dtype):
    """The little-endian bytes of `array` stored as `dtype`."""
    if dtype == "F32":
        return np.ascontiguousarray(array, dtype="<f4").tobytes()
    if dtype == "F16":
        return np.ascontiguousarray(array, dtype="<f2").tobytes()
    if dtype == "BF16":
        return to_bf16_bits(array).astype("<u2").tobytes()
    raise ValueError("unsupported dtype " + dtype)


def rounded(array, dtype):
    """`array` as float64 after rounding to `dtype` (what the file holds)."""
    if dtype == "F32":
        return np.asarray(array, np.float32).astype(np.float64)
    if dtype == "F16":
        return np.asarray(array, np.float16).astype(np.float64)
    return from_bf16_bits(to_bf16_bits(array)).astype(np.float64)


def save(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, (array, dtype) in tensors.items():
        data = encode(array, dtype)
        header[name] = {"dtype": dtype, "shape": list(np.shape(array)),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # keep the data section 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        chunk = data[begin:end]
        if info["dtype"] == "F32":
            a = np.frombuffer(chunk, "<f4").astype(np.float64)
        elif info["dtype"] == "F16":
            a = np.frombuffer(chunk, "<f2").astype(np.float64)
        elif info["dtype"] == "BF16":
            a = from_bf16_bits(np.frombuffer(chunk, "<u2")).astype(np.float64)
        else:
            raise ValueError("unsupported dtype " + info["dtype"])
        out[name] = a.reshape(info["shape"])
    return out
