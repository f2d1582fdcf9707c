#!/usr/bin/python3
"""Writes the PTX of each gpu.binary of a moe-cuda-pipeline output to
OUT/NAME.ptx, assembles it with ptxas for the given architecture, and prints
one line per kernel (entry function) with ptxas's register and spill
counts.

Exits 1 when ptxas rejects a kernel, when a kernel spills, when the PTX
targets another architecture, or when it still calls libdevice externally
(the toolkit's libdevice was not linked).
"""
import argparse
import os
import re
import subprocess
import sys

BINARY = re.compile(
    r'gpu\.binary @(\w+)\s*\[#gpu\.object<.*?assembly = "((?:[^"\\]|\\.)*)"')


def unescape(body):
    """MLIR's string escapes: \\XX hex bytes, \\\\ and \\"."""
    out = bytearray()
    i = 0
    while i < len(body):
        if body[i] == "\\":
            if body[i + 1] in '\\"':
                out += body[i + 1].encode()
                i += 2
            else:
                out.append(int(body[i + 1:i + 3], 16))
                i += 3
        else:
            out += body[i].encode()
            i += 1
    return out.decode()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("input")
    p.add_argument("out")
    p.add_argument("--ptxas", required=True)
    p.add_argument("--arch", required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(args.input) as fh:
        text = fh.read()
    kernels = BINARY.findall(text)
    if not kernels:
        sys.exit("no gpu.binary with PTX in " + args.input)
    failed = False
    for name, body in kernels:
        ptx = unescape(body)
        path = os.path.join(args.out, name + ".ptx")
        with open(path, "w") as fh:
            fh.write(ptx)
        problems = []
        if ".target " + args.arch not in ptx:
            problems.append("PTX not for " + args.arch)
        if re.search(r"\.extern \.func .*__nv_", ptx):
            problems.append("libdevice not linked")
        r = subprocess.run([args.ptxas, "-arch=" + args.arch, "-v", path,
                            "-o", os.path.join(args.out, name + ".cubin")],
                           capture_output=True, text=True)
        info = r.stdout + r.stderr
        if r.returncode != 0:
            problems.append("ptxas failed: " + info.strip()[-2000:])
        entries = re.split(r"Compiling entry function '", info)[1:]
        if not entries and not problems:
            problems.append("no entry function in ptxas's report")
        for entry in entries:
            kernel = entry.split("'", 1)[0]
            regs = re.search(r"Used (\d+) registers", entry)
            spills = re.search(
                r"(\d+) bytes spill stores, (\d+) bytes spill loads", entry)
            if not regs or not spills:
                problems.append(kernel + ": no register or spill report")
            elif int(spills.group(1)) or int(spills.group(2)):
                problems.append(kernel + ": spills")
            else:
                print("kernel %s: %s registers, %s bytes spill stores, %s "
                      "bytes spill loads" % (kernel, regs.group(1),
                                             spills.group(1), spills.group(2)))
        if problems:
            failed = True
            print("FAIL %s: %s" % (name, "; ".join(problems)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
