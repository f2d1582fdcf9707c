"""Checks that a shared library exports exactly the C API a header declares.

  check_exports.py NM LIBRARY HEADER [MACRO]

Runs `NM -D --defined-only LIBRARY` and compares its defined dynamic symbols
with the functions HEADER declares with MACRO (default MOERT_API;
MOERT_MPI_API for libmoert_mpi.so). Fails, naming them, if the
library exports anything else (besides the loader's _init and _fini) or
lacks a declared function.
"""
import re
import subprocess
import sys

nm, library, header = sys.argv[1:4]
macro = sys.argv[4] if len(sys.argv) > 4 else "MOERT_API"
text = open(header).read()
declared = set(re.findall(r"%s\b[^;{]*?\b(moert_\w+)\s*\(" % macro, text))
if not declared:
    sys.exit("check_exports: no %s declarations in %s" % (macro, header))
out = subprocess.run([nm, "-D", "--defined-only", library], check=True,
                     capture_output=True, text=True).stdout
exported = set()
for line in out.splitlines():
    fields = line.split()
    if len(fields) >= 2:
        exported.add(fields[-1].split("@")[0])
extra = sorted(exported - declared - {"_init", "_fini"})
missing = sorted(declared - exported)
if extra:
    print("%s exports %d symbol(s) that %s does not declare: %s" %
          (library, len(extra), header, ", ".join(extra[:20]) +
           (", ..." if len(extra) > 20 else "")))
if missing:
    print("%s lacks %d function(s) that %s declares: %s" %
          (library, len(missing), header, ", ".join(missing)))
if extra or missing:
    sys.exit(1)
print("exports: %d moert_* functions, nothing else" % len(declared))
