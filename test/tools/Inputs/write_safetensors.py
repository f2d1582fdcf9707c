"""Writes a .safetensors file of zero tensors: write_safetensors.py OUT
NAME:DTYPE:D0,D1,... (dtype as in the format: F32, BF16, F16)."""
import json
import struct
import sys

SIZES = {"F32": 4, "BF16": 2, "F16": 2}
header, offset = {}, 0
for spec in sys.argv[2:]:
    name, dtype, dims = spec.split(":")
    shape = [int(d) for d in dims.split(",")]
    n = SIZES[dtype]
    for d in shape:
        n *= d
    header[name] = {"dtype": dtype, "shape": shape,
                    "data_offsets": [offset, offset + n]}
    offset += n
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + bytes(offset))
