"""Re-seals artifacts a test has edited on purpose (to reach the checks
behind the seal, such as the metadata's): drops the old seal and appends
the one moe-compile would write for the edited bytes
(runtime/abi/ArtifactAbi.h: magic, length, 64-bit FNV-1a, little-endian).
Usage: seal_artifact.py FILE..."""
import struct
import sys

MAGIC = b"MOECSEAL"


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


for path in sys.argv[1:]:
    with open(path, "rb") as f:
        data = f.read()
    if len(data) >= 24 and data[-24:-16] == MAGIC:
        data = data[:-24]
    with open(path, "wb") as f:
        f.write(data + MAGIC + struct.pack("<QQ", len(data), fnv1a64(data)))
