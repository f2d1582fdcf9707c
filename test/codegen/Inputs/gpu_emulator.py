"""Runs GPU kernels of convert-moe-to-gpu on the CPU, warp by warp.

The functions are read at moe-cuda-pipeline's loops phase, printed in MLIR's
generic form: each kernel an scf.parallel over programs around one over
threads. The threads of a program run in lockstep, one NumPy lane each, so
what a thread-by-thread CPU run cannot do works here: barriers, warp
shuffles and the warp-wide tensor-core instructions. Divergent control flow
runs under a lane mask.

The instruction-level steps follow the PTX ISA:
  - nvvm.mma.sync m16n8k16, row-major A and column-major B, bf16 or f16
    operands in 32-bit pairs (lower index in the low half), f32
    accumulators: the fragment layouts of the ISA's "Matrix Fragments for
    mma.m16n8k16";
  - nvvm.ldmatrix m8n8 .b16, 1, 2 or 4 matrices: lanes 8j..8j+7 give the
    row addresses of matrix j, and lane l receives row l / 4, elements
    2 (l % 4) and 2 (l % 4) + 1 of each;
  - nvvm.cp.async.shared.global: 16 bytes a thread, landing in shared
    memory only when a cp.async.wait.group that covers its commit group
    runs on that thread (until then the destination keeps what it held);
  - gpu.shuffle up, down, xor and idx over a warp of 32;
  - nvvm.wgmma.mma_async m64nNk16, f32 += bf16 or f16, both operands
    K-major in shared memory through matrix descriptors (start address,
    stride byte offset between groups of 8 rows, swizzle mode in bits
    62-63; the swizzled canonical layouts only): the ISA's "Shared Memory
    Matrix Layout", the 16-byte chunk bits of each address XORed with the
    bits above the 128-byte line; the sums are row 16 w + gid +
    8 ((i % 4) / 2), column 8 (i / 4) + 2 tig + i % 2 of register i of
    warp w's lane 4 gid + tig (the ISA's "Register Fragments" for wgmma's
    D). It runs, reading shared memory, when a wgmma.wait.group covers
    its commit group; until then its results are NaNs. wgmma.fence and
    fence.proxy.async.shared order nothing here (every access is in
    program order); wgmma.fence must be reached by whole warpgroups.
A barrier or a warp-wide op reached by part of a block (a warp, a
warpgroup for wgmma) is an error, and so is a load or store outside a buffer. Fresh buffers and shared
memory are filled with NaNs (0xFF bytes), so a kernel that reads what no
one wrote shows it in its results.

Only the ops these kernels use are known; any other is an error naming it.
"""
import math
import re

import numpy as np


class EmulationError(Exception):
    pass


# --------------------------------------------------------------------------
# The generic form


class Op:
    __slots__ = ("name", "results", "operands", "props", "attrs", "regions",
                 "in_types", "out_types")


class Block:
    __slots__ = ("args", "ops")

    def __init__(self):
        self.args = []
        self.ops = []


def split_top(s):
    """Splits at the commas outside brackets."""
    parts, depth, cur = [], 0, []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "-" and i + 1 < len(s) and s[i + 1] == ">":
            cur.append("->")
            i += 2
            continue
        if ch in "(<[{":
            depth += 1
        elif ch in ")>]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def find_top(s, needle, start=0):
    """The first index of `needle` outside brackets, or -1."""
    depth = 0
    i = start
    while i < len(s):
        if depth == 0 and s.startswith(needle, i):
            return i
        if s.startswith("->", i):
            i += 2
            continue
        ch = s[i]
        if ch in "(<[{":
            depth += 1
        elif ch in ")>]}":
            depth -= 1
        i += 1
    return -1


def parse_signature(sig):
    sig = sig.strip()
    arrow = find_top(sig, "->")
    if arrow < 0:
        raise EmulationError("no function type in '%s'" % sig)
    ins = sig[:arrow].strip()
    outs = sig[arrow + 2:].strip()
    assert ins.startswith("(") and ins.endswith(")"), sig
    in_types = split_top(ins[1:-1])
    if outs.startswith("(") and outs.endswith(")") and find_top(
            outs[1:-1], ")") < 0:
        out_types = split_top(outs[1:-1])
    else:
        out_types = [outs]
    return in_types, out_types


OP_RE = re.compile(r'^(?:(?P<res>%[^=]+?) = )?"(?P<name>[\w.]+)"\((?P<ops>[^)]*)\)(?P<rest>.*)$')


def result_names(text):
    names = []
    if not text:
        return names
    for r in split_top(text):
        if ":" in r:
            base, n = r.split(":")
            names += ["%s#%d" % (base, i) for i in range(int(n))]
        else:
            names.append(r)
    return names


def parse_tail(op, tail):
    """`<{props}>`, `{attrs}` and ` : signature` after the operands (or
    after the regions)."""
    tail = tail.strip()
    op.props = ""
    op.attrs = ""
    if tail.startswith("<{"):
        end = find_top(tail, " : ", 0)
        close = tail.rfind("}>", 0, end if end >= 0 else len(tail))
        op.props = tail[2:close]
        tail = tail[close + 2:].strip()
    if tail.startswith("{"):
        depth = 0
        for i, ch in enumerate(tail):
            depth += ch == "{"
            depth -= ch == "}"
            if depth == 0:
                op.attrs = tail[1:i]
                tail = tail[i + 1:].strip()
                break
    return tail


def parse_ops(lines, i, block):
    """Parses ops into `block` until a line closing a region; returns the
    index of that line."""
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        if line.startswith("}"):
            return i
        if line.startswith("^"):
            m = re.match(r"\^\w+\((.*)\):$", line)
            block.args = [a.split(":")[0].strip() for a in split_top(m.group(1))]
            i += 1
            continue
        m = OP_RE.match(line)
        if not m:
            raise EmulationError("cannot read line %d: %s" % (i + 1, line[:200]))
        op = Op()
        op.name = m.group("name")
        op.results = result_names(m.group("res"))
        op.operands = [o.strip() for o in m.group("ops").split(",") if o.strip()]
        op.regions = []
        rest = m.group("rest").strip()
        if rest.endswith("({"):
            head = parse_tail(op, rest[:-2])
            assert head == "", (line, head)
            props, attrs = op.props, op.attrs
            i += 1
            while True:
                blk = Block()
                i = parse_ops(lines, i, blk)
                op.regions.append(blk)
                close = lines[i].strip()
                if close == "}, {":
                    i += 1
                    continue
                assert close.startswith("})"), close
                tail = parse_tail(op, close[2:])
                op.props = props or op.props
                op.attrs = attrs or op.attrs
                break
        else:
            tail = parse_tail(op, rest)
        assert tail.startswith(":"), (line, tail)
        op.in_types, op.out_types = parse_signature(tail[1:])
        block.ops.append(op)
        i += 1
    return i


def parse_module(text):
    lines = text.splitlines()
    top = Block()
    parse_ops(lines, 0, top)
    module = top.ops[0]
    funcs = {}
    for op in module.regions[0].ops:
        if op.name == "func.func":
            name = re.search(r'sym_name = "([^"]+)"', op.props).group(1)
            funcs[name] = op
    return funcs


# --------------------------------------------------------------------------
# Values

INT_BITS = {"i1": 1, "i8": 8, "i16": 16, "i32": 32, "i64": 64, "index": 64}
FLOATS = ("f32", "bf16", "f16", "f64")
STORAGE = {"bf16": np.uint16, "f16": np.float16, "f32": np.float32,
           "f64": np.float64, "i32": np.int32, "i64": np.int64,
           "index": np.int64, "i8": np.int8, "i16": np.int16}


def to_bf16(x):
    """Rounds f32 values to bf16 (to nearest, ties to even), as f32."""
    b = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    rounded = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    nan = np.isnan(np.asarray(x, np.float32))
    bits = np.where(nan, 0x7FC0, rounded).astype(np.uint32) << 16
    return bits.view(np.float32)


def bf16_bits(x):
    return (to_bf16(x).view(np.uint32) >> 16).astype(np.uint16)


def from_bf16_bits(bits):
    return (np.asarray(bits).astype(np.uint32) << 16).view(np.float32)


def wrap(v, bits):
    if bits == 1:
        return np.asarray(v, bool)
    v = np.asarray(v).astype(np.int64)
    if bits == 64:
        return v
    mask = (1 << bits) - 1
    v = v & mask
    sign = 1 << (bits - 1)
    return (v ^ sign) - sign


def unsigned(v, bits):
    v = np.asarray(v)
    if bits == 1:
        return v.astype(np.uint64)
    if bits == 64:
        return v.astype(np.int64).astype(np.uint64)
    return (v.astype(np.int64) & ((1 << bits) - 1)).astype(np.uint64)


def mlir_type_bits(t):
    if t in INT_BITS:
        return INT_BITS[t]
    raise EmulationError("not an integer type: " + t)


def round_to(t, v):
    v = np.asarray(v, np.float32)
    if t == "bf16":
        return to_bf16(v)
    if t == "f16":
        return v.astype(np.float16).astype(np.float32)
    return v


class Buffer:
    def __init__(self, array, elem, base):
        self.array = array
        self.elem = elem
        self.base = base

    def bytes(self):
        return self.array.reshape(-1).view(np.uint8)


def memref_elem(t):
    m = re.match(r"memref<(.*)>$", t)
    dims = m.group(1).split("x")
    return dims[-1].split(",")[0].strip()


# --------------------------------------------------------------------------
# The interpreter

PRED = {0: "eq", 1: "ne", 2: "slt", 3: "sle", 4: "sgt", 5: "sge", 6: "ult",
        7: "ule", 8: "ugt", 9: "uge"}
SHARED_BYTES = 1 << 20


def udiv(a, b):
    return np.where(b == 0, 0, a // np.maximum(b, 1))


def urem(a, b):
    return np.where(b == 0, 0, a % np.maximum(b, 1))


def uceildiv(a, b):
    bb = np.maximum(b, 1)
    return np.where(b == 0, 0, (a + bb - 1) // bb)


def binary_int(fn, is_unsigned=False):
    """An arith integer op's handler: `fn` on the operands wrapped to the
    result's width (unsigned with `is_unsigned`)."""
    def handler(self, op, vals, env, mask):
        bits = mlir_type_bits(op.out_types[0])
        if is_unsigned:
            a, b = (unsigned(v, bits) for v in vals)
            with np.errstate(divide="ignore", invalid="ignore"):
                r = fn(a, b)
            return wrap(r.astype(np.uint64).astype(np.int64), bits)
        a, b = (wrap(v, bits) for v in vals)
        if bits == 1:
            return fn(a, b)
        return wrap(fn(a, b), bits)
    return handler


class Emulator:
    def __init__(self, funcs):
        self.funcs = funcs
        self.buffers = []
        self.programs = 0
        self.lanes = 1
        self.in_program = False
        # The kernels that ran (a program entered their guard), in order.
        self.ran = []

    # memory -------------------------------------------------------------
    def new_buffer(self, array, elem):
        base = (len(self.buffers) + 1) << 36
        buf = Buffer(array, elem, base)
        self.buffers.append(buf)
        return buf

    def global_bytes(self, addr, n):
        index = (addr >> 36) - 1
        if index < 0 or index >= len(self.buffers):
            raise EmulationError("global address %#x is in no buffer" % addr)
        buf = self.buffers[index]
        off = addr - buf.base
        data = buf.bytes()
        if off < 0 or off + n > data.size:
            raise EmulationError(
                "%d bytes at offset %d of a buffer of %d bytes" %
                (n, off, data.size))
        return data, off

    def shared_bytes(self, addr, n):
        if addr < 0 or addr + n > self.shared_size:
            raise EmulationError(
                "%d bytes at shared offset %d of %d" %
                (n, addr, self.shared_size))
        return self.shared, addr

    def bytes_at(self, ptr_type, addr, n):
        if ptr_type.endswith("<3>"):
            return self.shared_bytes(int(addr), n)
        return self.global_bytes(int(addr), n)

    # running --------------------------------------------------------------
    def call(self, name, args):
        fn = self.funcs[name]
        block = fn.regions[0]
        env = dict(zip(block.args, args))
        self.lanes = 1
        return self.run_block(block, env, np.ones(1, bool))

    def run_block(self, block, env, mask):
        for op in block.ops:
            if op.name in ("scf.yield", "scf.reduce", "func.return"):
                return [env[o] for o in op.operands]
            handler = getattr(self, "op_" + op.name.replace(".", "_"), None)
            if handler is None:
                raise EmulationError("no emulation of %s" % op.name)
            try:
                values = handler(op, [env[o] for o in op.operands], env, mask)
            except (ValueError, IndexError, TypeError) as e:
                raise EmulationError("%s (%s = %s(%s)): %s" % (
                    op.name, ", ".join(op.results), op.name,
                    ", ".join(op.operands), e)) from e
            # Handlers return a list for their results; anything else is
            # the one result (a tuple is an LLVM struct).
            if op.results:
                if not isinstance(values, list):
                    values = [values]
                for r, v in zip(op.results, values):
                    env[r] = v
        return []

    def run_region(self, block, env, mask, args):
        inner = dict(env)
        inner.update(zip(block.args, args))
        return self.run_block(block, inner, mask)

    # structure ------------------------------------------------------------
    def op_scf_parallel(self, op, vals, env, mask):
        lb, ub, step = (int(np.asarray(v).reshape(-1)[0]) for v in vals[:3])
        block = op.regions[0]
        if self.lanes == 1 and not self.in_program:
            # Programs, one after the other.
            for p in range(lb, ub, step):
                self.in_program = True
                self.shared_size = SHARED_BYTES
                self.shared = np.full(SHARED_BYTES, 0xFF, np.uint8)
                self.pending = []
                self.programs += 1
                self.run_region(block, env, mask, [np.array([p])])
                self.in_program = False
            return []
        # Threads, in lockstep.
        lanes = len(range(lb, ub, step))
        self.lanes = lanes
        self.committed = np.zeros(lanes, np.int64)
        self.pending = []
        self.wgmma_pending, self.wgmma_groups = [], {}
        tid = np.arange(lb, ub, step)
        self.run_region(block, env, np.ones(lanes, bool), [tid])
        self.lanes = 1
        return []

    def op_scf_if(self, op, vals, env, mask):
        cond = np.broadcast_to(np.asarray(vals[0], bool), mask.shape)
        kernel = re.search(r'moe\.kernel_name = "(\w+)"', op.attrs)
        if kernel and (mask & cond).any() and kernel.group(1) not in self.ran:
            self.ran.append(kernel.group(1))
        has_results = bool(op.results)
        outs = []
        for region, sub in ((op.regions[0], mask & cond),
                            (op.regions[1], mask & ~cond)):
            if region.ops and (sub.any() or has_results):
                outs.append(self.run_region(region, env, sub, []))
            else:
                outs.append(None)
        if not has_results:
            return []
        return [np.where(cond, a, b) for a, b in zip(*outs)]

    def op_scf_for(self, op, vals, env, mask):
        lb, ub, step = vals[:3]

        def lanes(v):
            if isinstance(v, tuple):  # an LLVM struct: one array a member
                return tuple(lanes(m) for m in v)
            return np.broadcast_to(v, mask.shape).copy()

        def merge(active, new, old):
            if isinstance(new, tuple):
                return tuple(merge(active, n, o) for n, o in zip(new, old))
            return np.where(active, new, old)

        iters = [lanes(v) for v in vals[3:]]
        iv = np.broadcast_to(np.asarray(lb, np.int64), mask.shape).copy()
        ub = np.broadcast_to(np.asarray(ub, np.int64), mask.shape)
        while True:
            active = mask & (unsigned(iv, 64) < unsigned(ub, 64))
            if not active.any():
                break
            outs = self.run_region(op.regions[0], env, active, [iv] + iters)
            iters = [merge(active, n, o) for n, o in zip(outs, iters)]
            iv = iv + np.asarray(step, np.int64)
        return iters

    # arith ------------------------------------------------------------------
    def op_arith_constant(self, op, vals, env, mask):
        m = re.match(r"value = (\S+)(?: : (\S+))?", op.props)
        text, t = m.group(1), op.out_types[0]
        if text in ("true", "false"):
            return np.array([text == "true"])
        if t in FLOATS and text.startswith("0x"):
            bits = int(text, 16)
            if t == "f32":
                return np.array([bits], np.uint32).view(np.float32)
            if t == "bf16":
                return from_bf16_bits(np.array([bits], np.uint16))
            if t == "f16":
                return np.array([bits], np.uint16).view(np.float16).astype(np.float32)
            raise EmulationError("a %s constant in hex" % t)
        if t in FLOATS:
            return round_to(t, np.array([float(text)], np.float32))
        return wrap(np.array([int(text)]), mlir_type_bits(t))

    op_arith_addi = binary_int(lambda a, b: a + b)
    op_arith_subi = binary_int(lambda a, b: a - b)
    op_arith_muli = binary_int(lambda a, b: a * b)
    op_arith_andi = binary_int(lambda a, b: a & b)
    op_arith_ori = binary_int(lambda a, b: a | b)
    op_arith_xori = binary_int(lambda a, b: a ^ b)
    op_arith_divui = binary_int(udiv, True)
    op_arith_remui = binary_int(urem, True)
    op_arith_ceildivui = binary_int(uceildiv, True)
    op_arith_minui = binary_int(np.minimum, True)
    op_arith_maxui = binary_int(np.maximum, True)
    op_arith_shli = binary_int(lambda a, b: a << b)
    op_arith_shrui = binary_int(lambda a, b: a >> b, True)

    def op_arith_cmpi(self, op, vals, env, mask):
        pred = PRED[int(re.search(r"predicate = (\d+)", op.props).group(1))]
        bits = mlir_type_bits(op.in_types[0])
        if pred[0] == "u":
            a, b = (unsigned(v, bits) for v in vals)
            pred = pred[1:]
        else:
            a, b = (wrap(v, bits) for v in vals)
            pred = pred[1:] if pred[0] == "s" else pred
        return {"eq": a == b, "ne": a != b, "lt": a < b, "le": a <= b,
                "gt": a > b, "ge": a >= b}[pred]

    def op_arith_select(self, op, vals, env, mask):
        return np.where(np.asarray(vals[0], bool), vals[1], vals[2])

    def op_arith_index_cast(self, op, vals, env, mask):
        src, dst = op.in_types[0], op.out_types[0]
        return wrap(wrap(vals[0], mlir_type_bits(src)), mlir_type_bits(dst))

    def op_arith_index_castui(self, op, vals, env, mask):
        src, dst = op.in_types[0], op.out_types[0]
        v = unsigned(vals[0], mlir_type_bits(src)).astype(np.int64)
        return wrap(v, mlir_type_bits(dst))

    def op_arith_extui(self, op, vals, env, mask):
        return self.op_arith_index_castui(op, vals, env, mask)

    def op_arith_trunci(self, op, vals, env, mask):
        return wrap(vals[0], mlir_type_bits(op.out_types[0]))

    def float_binary(fn):
        def handler(self, op, vals, env, mask):
            a, b = (np.asarray(v, np.float32) for v in vals)
            with np.errstate(all="ignore"):
                r = fn(a, b)
            return round_to(op.out_types[0], r)
        return handler

    op_arith_addf = float_binary(lambda a, b: a + b)
    op_arith_subf = float_binary(lambda a, b: a - b)
    op_arith_mulf = float_binary(lambda a, b: a * b)
    op_arith_divf = float_binary(lambda a, b: a / b)
    op_arith_minimumf = float_binary(np.minimum)
    op_arith_maximumf = float_binary(np.maximum)

    def float_unary(fn):
        def handler(self, op, vals, env, mask):
            with np.errstate(over="ignore", invalid="ignore"):
                r = fn(np.asarray(vals[0], np.float64))
            return round_to(op.out_types[0], r.astype(np.float32))
        return handler

    op_arith_negf = float_unary(lambda a: -a)
    op_math_exp = float_unary(np.exp)
    op_math_tanh = float_unary(np.tanh)
    op_math_erf = float_unary(np.vectorize(math.erf, otypes=[np.float64]))
    op_math_sqrt = float_unary(np.sqrt)

    def op_arith_cmpf(self, op, vals, env, mask):
        pred = int(re.search(r"predicate = (\d+)", op.props).group(1))
        a, b = (np.asarray(v, np.float32) for v in vals)
        unordered = np.isnan(a) | np.isnan(b)
        ordered = {1: a == b, 2: a > b, 3: a >= b, 4: a < b, 5: a <= b,
                   6: a != b}
        if pred == 0:
            return np.zeros(np.broadcast(a, b).shape, bool)
        if pred == 15:
            return np.ones(np.broadcast(a, b).shape, bool)
        if pred == 7:
            return ~unordered
        if pred == 14:
            return unordered
        if 1 <= pred <= 6:
            return ordered[pred] & ~unordered
        return ordered[pred - 7] | unordered

    def op_arith_truncf(self, op, vals, env, mask):
        return round_to(op.out_types[0], vals[0])

    def op_arith_extf(self, op, vals, env, mask):
        return np.asarray(vals[0], np.float32)

    # memref -------------------------------------------------------------------
    def op_memref_dim(self, op, vals, env, mask):
        return np.array([vals[0].array.shape[int(np.asarray(vals[1]).reshape(-1)[0])]])

    def op_memref_alloc(self, op, vals, env, mask):
        t = op.out_types[0]
        dims = re.match(r"memref<(.*)>$", t).group(1).split("x")[:-1]
        sizes = iter(int(np.asarray(v).reshape(-1)[0]) for v in vals)
        shape = [next(sizes) if d == "?" else int(d) for d in dims]
        elem = memref_elem(t)
        arr = np.empty(shape, STORAGE[elem])
        arr.reshape(-1).view(np.uint8)[:] = 0xFF
        return self.new_buffer(arr, elem)

    def op_memref_collapse_shape(self, op, vals, env, mask):
        src = vals[0]
        groups = re.search(r"reassociation = \[(.*)\]\}?>?$", op.props).group(1)
        shape = []
        for group in re.findall(r"\[([^\]]*)\]", groups):
            dims = [int(d) for d in group.split(",")]
            shape.append(int(np.prod([src.array.shape[d] for d in dims])))
        return Buffer(src.array.reshape(shape), src.elem, src.base)

    def op_memref_extract_aligned_pointer_as_index(self, op, vals, env, mask):
        return np.array([vals[0].base])

    def indices(self, buf, idx, mask):
        idx = [np.broadcast_to(np.asarray(i, np.int64), mask.shape)[mask]
               for i in idx]
        for d, i in enumerate(idx):
            if i.size and (i.min() < 0 or i.max() >= buf.array.shape[d]):
                raise EmulationError(
                    "index %d outside dimension %d of a buffer of shape [%s]" %
                    (int(i.max() if i.max() >= buf.array.shape[d] else i.min()),
                     d, ", ".join(map(str, buf.array.shape))))
        return tuple(idx)

    def op_memref_load(self, op, vals, env, mask):
        buf = vals[0]
        out = np.zeros(mask.shape, np.float32 if buf.elem in FLOATS else np.int64)
        raw = buf.array[self.indices(buf, vals[1:], mask)]
        if buf.elem == "bf16":
            raw = from_bf16_bits(raw)
        out[mask] = raw
        return out

    def op_memref_store(self, op, vals, env, mask):
        value, buf = vals[0], vals[1]
        at = self.indices(buf, vals[2:], mask)
        v = np.broadcast_to(value, mask.shape)[mask]
        if buf.elem == "bf16":
            v = bf16_bits(v)
        buf.array[at] = v
        return []

    def op_memref_atomic_rmw(self, op, vals, env, mask):
        # arith::AtomicRMWKind 0 is addf: the lanes' adds to one address all
        # land (in lane order; the GPU's order is unspecified).
        if not re.search(r"kind = 0 : i64", op.props):
            raise EmulationError("atomic_rmw other than addf: " + op.props)
        value, buf = vals[0], vals[1]
        if buf.elem != "f32":
            raise EmulationError("atomic addf on a %s buffer" % buf.elem)
        at = self.indices(buf, vals[2:], mask)
        out = np.zeros(mask.shape, np.float32)
        out[mask] = buf.array[at]
        np.add.at(buf.array, at,
                  np.broadcast_to(np.asarray(value, np.float32), mask.shape)[mask])
        return out

    # llvm -----------------------------------------------------------------------
    def op_llvm_mlir_addressof(self, op, vals, env, mask):
        return np.array([0])

    def op_llvm_getelementptr(self, op, vals, env, mask):
        if "elem_type = i8" not in op.props or len(vals) != 2:
            raise EmulationError("only byte offsets: " + op.props)
        return np.asarray(vals[0], np.int64) + wrap(vals[1], mlir_type_bits(op.in_types[1]))

    def op_llvm_inttoptr(self, op, vals, env, mask):
        return np.asarray(vals[0], np.int64)

    def op_llvm_ptrtoint(self, op, vals, env, mask):
        # Shared memory's addresses are offsets from the staging buffer at
        # 0, which is aligned to any swizzle's period.
        if not op.in_types[0].endswith("<3>"):
            raise EmulationError("llvm.ptrtoint of " + op.in_types[0])
        return np.asarray(vals[0], np.int64)

    def op_llvm_mlir_zero(self, op, vals, env, mask):
        members = struct_members(op.out_types[0])
        if any(m != "f32" for m in members):
            raise EmulationError("llvm.mlir.zero of " + op.out_types[0])
        return tuple(np.zeros(1, np.float32) for _ in members)

    def op_llvm_bitcast(self, op, vals, env, mask):
        return vals[0]

    def op_llvm_extractvalue(self, op, vals, env, mask):
        pos = int(re.search(r"position = array<i64: (\d+)>", op.props).group(1))
        return vals[0][pos]

    def op_llvm_load(self, op, vals, env, mask):
        t = op.out_types[0]
        if t != "i32":
            raise EmulationError("llvm.load of " + t)
        out = np.zeros(mask.shape, np.int64)
        addrs = np.broadcast_to(vals[0], mask.shape)
        for lane in np.flatnonzero(mask):
            data, off = self.bytes_at(op.in_types[0], addrs[lane], 4)
            out[lane] = int(data[off:off + 4].view(np.int32)[0])
        return out

    def op_llvm_store(self, op, vals, env, mask):
        if op.in_types[0] != "i32":
            raise EmulationError("llvm.store of " + op.in_types[0])
        values = np.broadcast_to(vals[0], mask.shape)
        addrs = np.broadcast_to(vals[1], mask.shape)
        for lane in np.flatnonzero(mask):
            data, off = self.bytes_at(op.in_types[1], addrs[lane], 4)
            data[off:off + 4] = np.array([values[lane]], np.int64).astype(np.int32).view(np.uint8)
        return []

    # gpu and nvvm -------------------------------------------------------------
    def whole(self, mask, width, what):
        """Lanes in groups of `width` that are all active or all not."""
        groups = mask.reshape(-1, width)
        if not (groups.all(axis=1) | ~groups.any(axis=1)).all():
            raise EmulationError("%s reached by part of a %s" % (
                what, {32: "warp", 128: "warpgroup"}.get(width, "block")))
        return groups.all(axis=1)

    def op_gpu_barrier(self, op, vals, env, mask):
        self.whole(mask, mask.size, "gpu.barrier")
        return []

    def op_gpu_shuffle(self, op, vals, env, mask):
        mode = re.search(r"shuffle_mode (\w+)", op.props).group(1)
        value = np.broadcast_to(vals[0], mask.shape)
        offset = int(np.asarray(vals[1]).reshape(-1)[0])
        width = int(np.asarray(vals[2]).reshape(-1)[0])
        if width != 32:
            raise EmulationError("gpu.shuffle of width %d" % width)
        self.whole(mask, 32, "gpu.shuffle")
        lane = np.arange(mask.size) % 32
        base = np.arange(mask.size) - lane
        src = {"up": lane - offset, "down": lane + offset,
               "xor": lane ^ offset, "idx": np.full_like(lane, offset)}[mode]
        valid = (src >= 0) & (src < 32)
        src = np.where(valid, src, lane)
        return [value[base + src], valid]

    def op_nvvm_cp_async_shared_global(self, op, vals, env, mask):
        if len(vals) != 2 or "size = 16" not in op.props:
            raise EmulationError("cp.async other than 16 bytes: " + op.props)
        dst = np.broadcast_to(vals[0], mask.shape)
        src = np.broadcast_to(vals[1], mask.shape)
        for lane in np.flatnonzero(mask):
            data, off = self.global_bytes(int(src[lane]), 16)
            if int(src[lane]) % 16 or int(dst[lane]) % 16:
                raise EmulationError("cp.async of 16 bytes not 16-byte aligned")
            self.shared_bytes(int(dst[lane]), 16)
            self.pending.append((lane, int(self.committed[lane]), int(dst[lane]),
                                 data[off:off + 16].copy()))
        return []

    def op_nvvm_cp_async_commit_group(self, op, vals, env, mask):
        self.committed[mask] += 1
        return []

    def op_nvvm_cp_async_wait_group(self, op, vals, env, mask):
        n = int(re.search(r"n = (\d+)", op.props).group(1))
        keep = []
        for lane, group, dst, data in self.pending:
            if mask[lane] and group < self.committed[lane] - n:
                self.shared[dst:dst + 16] = data
            else:
                keep.append((lane, group, dst, data))
        self.pending = keep
        return []

    def op_nvvm_ldmatrix(self, op, vals, env, mask):
        num = int(re.search(r"num = (\d+)", op.props).group(1))
        if "layout = #nvvm.mma_layout<row>" not in op.props or "b16" not in op.props:
            raise EmulationError("ldmatrix other than .b16 row: " + op.props)
        warps = self.whole(mask, 32, "nvvm.ldmatrix")
        addrs = np.broadcast_to(vals[0], mask.shape)
        regs = [np.zeros(mask.size, np.int64) for _ in range(num)]
        for w in np.flatnonzero(warps):
            for j in range(num):
                for l in range(32):
                    row = int(addrs[32 * w + 8 * j + l // 4])
                    if row % 16:
                        raise EmulationError("ldmatrix row address %d not 16-byte aligned" % row)
                    data, off = self.shared_bytes(row + 4 * (l % 4), 4)
                    regs[j][32 * w + l] = int(data[off:off + 4].view(np.int32)[0])
        return tuple(regs) if num > 1 else regs[0]

    def op_nvvm_mma_sync(self, op, vals, env, mask):
        if "shape = #nvvm.shape<m = 16, n = 8, k = 16>" not in op.props or \
                "layoutA = #nvvm.mma_layout<row>" not in op.props or \
                "layoutB = #nvvm.mma_layout<col>" not in op.props:
            raise EmulationError("mma.sync other than m16n8k16 row.col: " + op.props)
        kind = re.search(r"multiplicandAPtxType = #nvvm.mma_type<(\w+)>", op.props).group(1)
        warps = self.whole(mask, 32, "nvvm.mma.sync")
        full = [np.broadcast_to(v, mask.shape) for v in vals]
        a, b, c = full[0:4], full[4:6], full[6:10]

        def halves(reg):
            bits = np.asarray(reg, np.int64) & 0xFFFFFFFF
            lo, hi = bits & 0xFFFF, bits >> 16
            if kind == "bf16":
                return from_bf16_bits(lo), from_bf16_bits(hi)
            if kind == "f16":
                return (lo.astype(np.uint16).view(np.float16).astype(np.float32),
                        hi.astype(np.uint16).view(np.float16).astype(np.float32))
            raise EmulationError("mma.sync of " + kind)

        out = [np.zeros(mask.size, np.float32) for _ in range(4)]
        for w in np.flatnonzero(warps):
            lanes = slice(32 * w, 32 * w + 32)
            A = np.zeros((16, 16), np.float32)
            B = np.zeros((16, 8), np.float32)
            C = np.zeros((16, 8), np.float32)
            g = np.arange(32) // 4
            t = np.arange(32) % 4
            for i, (r0, k0) in enumerate([(0, 0), (8, 0), (0, 8), (8, 8)]):
                lo, hi = halves(a[i][lanes])
                A[g + r0, k0 + 2 * t] = lo
                A[g + r0, k0 + 2 * t + 1] = hi
            for i, k0 in enumerate([0, 8]):
                lo, hi = halves(b[i][lanes])
                B[k0 + 2 * t, g] = lo
                B[k0 + 2 * t + 1, g] = hi
            for i, (r0, c0) in enumerate([(0, 0), (0, 1), (8, 0), (8, 1)]):
                C[g + r0, 2 * t + c0] = c[i][lanes]
            D = (A.astype(np.float64) @ B.astype(np.float64) + C).astype(np.float32)
            for i, (r0, c0) in enumerate([(0, 0), (0, 1), (8, 0), (8, 1)]):
                out[i][lanes] = D[g + r0, 2 * t + c0]
        return tuple(out)

    # wgmma: a warpgroup's multiply runs when a wait.group covers its
    # commit group, reading shared memory then; until then its results are
    # NaNs, filled in place when it runs.
    def op_nvvm_wgmma_fence_aligned(self, op, vals, env, mask):
        self.whole(mask, 128, "nvvm.wgmma.fence.aligned")
        return []

    def op_nvvm_fence_proxy(self, op, vals, env, mask):
        if "proxy_kind<async.shared>" not in op.props:
            raise EmulationError("fence.proxy other than async.shared: " + op.props)
        return []

    def op_nvvm_wgmma_mma_async(self, op, vals, env, mask):
        m = re.search(r"shape = #nvvm.shape<m = 64, n = (\d+), k = 16>", op.props)
        if not m or "layoutA = #nvvm.mma_layout<row>" not in op.props or \
                "layoutB = #nvvm.mma_layout<col>" not in op.props or \
                "typeD = #nvvm.wgmma_type<f32>" not in op.props or \
                "scaleD = #nvvm.wgmma_scale_out<one>" not in op.props or \
                "wgmma_scale_in<neg>" in op.props:
            raise EmulationError("wgmma other than m64nNk16 f32 += A * B, "
                                 "K-major: " + op.props)
        n = int(m.group(1))
        kind = re.search(r"typeA = #nvvm.wgmma_type<(\w+)>", op.props).group(1)
        groups = self.whole(mask, 128, "nvvm.wgmma.mma_async")
        acc = vals[0]
        if len(acc) != n // 2:
            raise EmulationError("wgmma m64n%d with %d accumulators" % (n, len(acc)))
        desc_a = np.broadcast_to(vals[1], mask.shape)
        desc_b = np.broadcast_to(vals[2], mask.shape)
        out = tuple(np.full(mask.size, np.nan, np.float32) for _ in acc)
        for g in np.flatnonzero(groups):
            lanes = slice(128 * g, 128 * g + 128)
            for d in (desc_a, desc_b):
                if len(set(int(x) for x in d[lanes])) != 1:
                    raise EmulationError("wgmma descriptors differ in a warpgroup")
            self.wgmma_pending.append(
                (g, int(desc_a[128 * g]), int(desc_b[128 * g]), n, kind,
                 [np.broadcast_to(a, mask.shape) for a in acc], out))
        return out

    def run_wgmma(self, g, desc_a, desc_b, n, kind, acc, out):
        A = wgmma_operand(self.shared, desc_a, 64, kind)
        B = wgmma_operand(self.shared, desc_b, n, kind)
        lanes = np.arange(128)
        warp, gid, tig = lanes // 32, (lanes % 32) // 4, lanes % 4
        C = np.zeros((64, n), np.float32)
        for i in range(n // 2):
            row = 16 * warp + gid + 8 * ((i % 4) // 2)
            col = 8 * (i // 4) + 2 * tig + i % 2
            C[row, col] = acc[i][128 * g + lanes]
        D = (A.astype(np.float64) @ B.astype(np.float64).T + C).astype(np.float32)
        for i in range(n // 2):
            row = 16 * warp + gid + 8 * ((i % 4) // 2)
            col = 8 * (i // 4) + 2 * tig + i % 2
            out[i][128 * g + lanes] = D[row, col]

    def op_nvvm_wgmma_commit_group_sync_aligned(self, op, vals, env, mask):
        for g in np.flatnonzero(self.whole(mask, 128, "nvvm.wgmma.commit.group")):
            mine = [p for p in self.wgmma_pending if p[0] == g]
            self.wgmma_pending = [p for p in self.wgmma_pending if p[0] != g]
            self.wgmma_groups.setdefault(g, []).append(mine)
        return []

    def op_nvvm_wgmma_wait_group_sync_aligned(self, op, vals, env, mask):
        n = int(re.search(r"group = (\d+)", op.props).group(1))
        for g in np.flatnonzero(self.whole(mask, 128, "nvvm.wgmma.wait.group")):
            committed = self.wgmma_groups.get(g, [])
            while len(committed) > n:
                for pending in committed.pop(0):
                    self.run_wgmma(*pending)
        return []


def struct_members(t):
    m = re.match(r"!llvm\.struct<\((.*)\)>$", t)
    if not m:
        raise EmulationError("not an LLVM struct: " + t)
    return [x.strip() for x in m.group(1).split(",")]


SWIZZLE_BYTES = {1: 128, 2: 64, 3: 32}


def wgmma_operand(shared, desc, rows, kind):
    """The rows x 16 operand the shared-memory descriptor `desc` points
    at, K-major, 16-bit elements: the canonical layout of a swizzle mode
    (the ISA's "Shared Memory Matrix Layout"): rows in groups of 8, a group
    `SBO` bytes after the one before it, each row the swizzle's width in
    bytes, the 16 elements at the start address's offset into the row;
    then the swizzle: the 16-byte chunk bits of the address XORed with the
    bits above the 128-byte line (64-byte swizzle: bits 4-5 with 7-8).
    Only swizzled layouts with a base offset of 0 are known."""
    desc = int(desc) & ((1 << 64) - 1)
    start = (desc & 0x3FFF) << 4
    sbo = ((desc >> 32) & 0x3FFF) << 4
    base_offset = (desc >> 49) & 7
    mode = desc >> 62
    if mode not in SWIZZLE_BYTES or base_offset:
        raise EmulationError(
            "wgmma descriptor %#x: swizzle mode %d, base offset %d (only "
            "swizzled layouts at base offset 0)" % (desc, mode, base_offset))
    width = SWIZZLE_BYTES[mode]
    bits = {128: 3, 64: 2, 32: 1}[width]
    m = np.arange(rows)[:, None]
    k = np.arange(16)[None, :]
    addr = start + (m // 8) * sbo + (m % 8) * width + 2 * k
    addr = addr ^ (((addr >> 7) & ((1 << bits) - 1)) << 4)
    if addr.min() < 0 or addr.max() + 2 > shared.size:
        raise EmulationError("wgmma operand outside shared memory: %#x" % desc)
    raw = shared[addr].astype(np.uint16) | (shared[addr + 1].astype(np.uint16) << 8)
    if kind == "bf16":
        return from_bf16_bits(raw)
    if kind == "f16":
        return raw.view(np.float16).astype(np.float32)
    raise EmulationError("wgmma of " + kind)


def load(path):
    with open(path) as fh:
        return Emulator(parse_module(fh.read()))


def buffer_of(emulator, array, elem):
    """An input buffer holding `array` (bf16 given as f32 values)."""
    if elem == "bf16":
        storage = bf16_bits(np.asarray(array, np.float32))
    else:
        storage = np.ascontiguousarray(array, STORAGE[elem])
    return emulator.new_buffer(storage, elem)


def values_of(buf):
    if buf.elem == "bf16":
        return from_bf16_bits(buf.array)
    return buf.array.astype(np.float64)
