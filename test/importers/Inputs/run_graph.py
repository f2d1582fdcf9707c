#!/usr/bin/env python3
"""Runs CASEDIR/model.onnx through ONNX Runtime (the Python wheel, CPU, one
intra-op thread) on the feeds of CASEDIR/feeds.json
  [{"name": "...", "file": "x.npy", "type": "float32" | "float16"}]
and writes the first output as CASEDIR/ort_out.npy (float32; float16
outputs are widened exactly).

  run_graph.py CASEDIR...
"""
import json
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "reference", "ort"))
import ort_session  # noqa: E402

DTYPES = {"float32": np.float32, "float16": np.float16}


def run_case(d):
    with open(os.path.join(d, "feeds.json")) as fh:
        spec = json.load(fh)
    feeds = {}
    for f in spec:
        a = np.load(os.path.join(d, f["file"]))
        if a.dtype != DTYPES[f["type"]]:
            raise ValueError("%s: dtype %s, expected %s"
                             % (f["file"], a.dtype, f["type"]))
        feeds[f["name"]] = a
    out = ort_session.run_first_output(os.path.join(d, "model.onnx"), feeds)
    np.save(os.path.join(d, "ort_out.npy"), out)


def main():
    dirs = sys.argv[1:]
    if not dirs:
        sys.exit("usage: run_graph.py CASEDIR...")
    for d in dirs:
        try:
            run_case(d)
        except Exception as e:  # any failure names the case
            sys.exit("run_graph.py: error: ONNX Runtime failed on %s: %s"
                     % (d, e))
    print("onnxruntime %s: ran %d models" % (ort_session.version(), len(dirs)))


if __name__ == "__main__":
    main()
