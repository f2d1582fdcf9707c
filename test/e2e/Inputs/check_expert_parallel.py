#!/usr/bin/python3
"""Checks expert-parallel layers against the single-process layer.

For every case of make_cases.py written into --dir (cases.json and
cases.mlir), compiles the cases as they are (one process), records each
layer's routing on its largest input (moe-run --record-routing), plans
expert parallelism twice and compiles both plans:

  R=2  the uniform plan (moe-plan-expert-parallelism ranks=2, no
       statistics: ceil(E / 2) slots per rank, no replicas);
  R=4  2 nodes of 2 ranks with E/4 + 1 or + 2 slots per rank (alternating
       over the cases), planned from the recorded statistics, so that the
       redundant slots hold replicas of the hot experts. Each layer is
       planned on its own (the slot count is the module's) and the plans
       are put back into one module.

Then runs each plan under mpirun with R ranks (every rank reads the same
input, rank 0 writes the output) and compares the output with the
single-process one: relative L2 ||y_R - y_1|| / ||y_1|| must be at most
--tolerance. Runs at the largest T also record their routing under mpirun
(--record-routing --record-coselection: every rank counts its tokens, and
rank 0 writes the group's sums), which must equal the single-process
record: calls, tokens, counts and co-selection per layer. The token counts are chosen per R to keep the launches few:
by default R=2 runs T = 0 (an empty batch) and 7 (ranks of 3 and 4
tokens); R=4 runs T = 1 (three ranks without a token, most experts without
one) and the case's largest T (300 where the case has it: the skewed batch
the statistics come from). A case with a static token count runs only
that, and one without an input of some T runs its largest instead.

Prints one line per plan of R=4 (slots, replicated experts, the hottest
expert's share and replicas), one line per run
("mixtral R=4 T=300: relative L2 0.000e+00"), the number of replicated
experts over all layers, the largest relative L2, and
"N runs agree, M failed"; exits 1 on any failure (a case that cannot be
planned or compiled counts as failed for each of its runs).

The cases are compiled in chunks (--chunks artifacts per plan), --jobs
chunks at a time, each compiling, planning and running its cases in turn;
what each step took goes to stderr. --perturb checks the check: it scales
the expert-parallel outputs before they are compared.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_cases  # noqa: E402

CASE_BY_NAME = {c["name"]: c for c in make_cases.CASES}


def parse_runs(spec):
    """'2:0,7;4:1,max' -> [(2, ['0', '7']), (4, ['1', 'max'])]."""
    out = []
    for part in filter(None, spec.split(";")):
        r, ts = part.split(":")
        out.append((int(r), [t.strip() for t in ts.split(",") if t.strip()]))
    return out


def split_functions(text):
    """The func.func of each case in make_cases.py's cases.mlir, by name."""
    funcs = {}
    for m in re.finditer(r"^func\.func @(\w+)\(.*?^}\n", text, re.S | re.M):
        funcs[m.group(1)] = m.group(0)
    return funcs


def module_body(text):
    """The operations of a printed module, without the module and grids."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("module"))
    end = max(i for i, l in enumerate(lines) if l == "}")
    prefix = lines[:start]
    body = [l for l in lines[start + 1:end]
            if not l.lstrip().startswith("shard.grid ")]
    grids = [l.strip() for l in lines[start + 1:end]
             if l.lstrip().startswith("shard.grid ")]
    return prefix, body, grids


class Runner:
    def __init__(self, a):
        self.a = a
        bindir = os.path.dirname(os.path.abspath(a.moe_run))
        self.moe_run = a.moe_run
        self.moe_opt = os.path.join(bindir, "moe-opt")
        self.moe_compile = os.path.join(bindir, "moe-compile")
        self.mpirun = shlex.split(a.mpirun)
        self.weights = os.path.join(a.dir, "cases.safetensors")
        self.work = os.path.join(a.dir, "ep")
        self.started = time.time()
        os.makedirs(self.work, exist_ok=True)

    def sh(self, cmd, timeout=None):
        """Runs cmd in a process group of its own; past the timeout the
        group gets SIGTERM (mpirun passes it on to the ranks), then
        SIGKILL."""
        timeout = timeout or self.a.timeout
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
            return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
        except subprocess.TimeoutExpired:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.communicate(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            proc.wait()
            return subprocess.CompletedProcess(
                cmd, 124, "", "timed out after %s s: %s"
                % (timeout, " ".join(cmd)))

    def compile(self, mlir, so):
        t = time.time()
        p = self.sh([self.moe_compile, mlir, "-o", so, "--weights",
                     self.weights], timeout=1800)
        self.log("compiled %s in %.1f s" % (os.path.basename(so),
                                            time.time() - t))
        return p

    def log(self, text):
        print("[%6.1f s] %s" % (time.time() - self.started, text),
              file=sys.stderr, flush=True)


def short(text, lines=6):
    text = (text or "").strip().splitlines()
    keep = [l for l in text if "error" in l.lower() or "disagree" in l] or text
    return " | ".join(keep[:lines])


def input_files(run_files, T, case, work):
    """The run's --input arguments; T=0 inputs are written here."""
    if T != 0:
        return run_files
    files = {}
    for name, path in run_files.items():
        x = np.load(path)
        empty = os.path.join(work, "%s.T0.%s.npy" % (case, name))
        np.save(empty, np.zeros((0,) + x.shape[1:], dtype=x.dtype))
        files[name] = empty
    return files


def relative_l2(y, ref):
    if y.shape != ref.shape:
        return None, "shape %s, expected %s" % (list(y.shape), list(ref.shape))
    if not np.all(np.isfinite(y)):
        return None, "non-finite values"
    diff = np.linalg.norm((y.astype(np.float64) - ref).ravel())
    norm = np.linalg.norm(ref.ravel())
    return (diff / norm if norm > 0 else diff), None


def routing_differs(path, reference):
    """None when the statistics file `path` (written under mpirun) counts
    what the single-process one does, else what differs."""
    if not os.path.exists(path):
        return "no routing statistics written to %s" % path
    with open(path) as fh:
        got = json.load(fh)["layers"]
    with open(reference) as fh:
        want = json.load(fh)["layers"]
    if len(got) != len(want):
        return "routing statistics of %d layers, expected %d" % (
            len(got), len(want))
    keys = ("function", "site", "experts", "k", "calls", "tokens", "counts",
            "coselection")
    for g, w in zip(got, want):
        for key in keys:
            if g.get(key) != w.get(key):
                return "routing statistics: %s is %s, expected %s" % (
                    key, g.get(key), w.get(key))
    return None


def chunk_pipeline(r, chunk_id, names, index, funcs, plans):
    """Compiles, plans, runs and compares the cases of one chunk.

    Returns {case: [lines]}, [(case, R, T, err or None, message)],
    replicated-expert count, runs whose routing statistics were compared."""
    a, work = r.a, r.work
    lines = {n: [] for n in names}
    results = []
    replicated = 0
    routed = 0
    tag = "c%d" % chunk_id

    def fail_all(case, why, rs=None):
        for R, Ts in plans[case]:
            if rs is not None and R not in rs:
                continue
            for T in Ts:
                results.append((case, R, T, None, why))

    header = "// chunk %d of check_expert_parallel.py\n" % chunk_id
    one_mlir = os.path.join(work, tag + ".one.mlir")
    with open(one_mlir, "w") as fh:
        fh.write(header + "\n".join(funcs[n] for n in names))
    one_so = os.path.join(work, tag + ".one.so")
    p = r.compile(one_mlir, one_so)
    if p.returncode != 0:
        for n in names:
            fail_all(n, "single-process compile failed: " + short(p.stderr))
        return lines, results, replicated, routed

    # Single-process outputs; the largest T also records the routing.
    refs, stats = {}, {}
    for n in names:
        case = index[n]
        biggest = max(run["tokens"] for run in case["inputs"])
        need = sorted({T for _, Ts in plans[n] for T in Ts} | {biggest})
        for T in need:
            run_files = next((run["files"] for run in case["inputs"]
                              if run["tokens"] == (T or biggest)), None)
            files = input_files(run_files, T, n, work)
            out = os.path.join(work, "%s.T%d.one.npy" % (n, T))
            cmd = [r.moe_run, one_so, "--function", n, "--output", out,
                   "--threads", "1"]
            for k, v in files.items():
                cmd += ["--input", "%s=%s" % (k, v)]
            if T == biggest:
                stats[n] = os.path.join(work, "%s.routing.json" % n)
                cmd += ["--record-routing", stats[n], "--record-coselection"]
            p = r.sh(cmd)
            if p.returncode != 0:
                why = "single-process T=%d failed: %s" % (T, short(p.stderr))
                for R, Ts in plans[n]:
                    if T in Ts:
                        results.append((n, R, T, None, why))
                continue
            refs[(n, T)] = (np.load(out).astype(np.float64), files)

    # The plans: the uniform one of the whole chunk, or one per layer.
    artifacts = {}
    ranks = sorted({R for n in names for R, _ in plans[n]})
    for R in ranks:
        members = [n for n in names if any(R == x for x, _ in plans[n])]
        planned = os.path.join(work, "%s.ep%d.mlir" % (tag, R))
        if R == a.uniform_ranks:
            p = r.sh([r.moe_opt, one_mlir, "--moe-plan-expert-parallelism="
                      "ranks=%d" % R, "-o", planned])
            if p.returncode != 0:
                for n in members:
                    fail_all(n, "cannot plan R=%d: %s" % (R, short(p.stderr)),
                             {R})
                continue
            ok = members
        else:
            # Each layer on its own: E/R + 1 or + 2 slots per rank, from the
            # layer's statistics, on nodes of --ranks-per-node ranks.
            bodies, grids, ok = [], set(), []
            for n in members:
                case = CASE_BY_NAME[n]
                extra = 1 + make_cases.CASES.index(case) % 2
                slots = -(-case["E"] // R) + extra
                src = os.path.join(work, "%s.mlir" % n)
                with open(src, "w") as fh:
                    fh.write(funcs[n])
                out = os.path.join(work, "%s.ep%d.mlir" % (n, R))
                opts = "ranks=%d ranks-per-node=%d slots-per-rank=%d" % (
                    R, a.ranks_per_node, slots)
                if n in stats:
                    opts += " statistics=" + stats[n]
                p = r.sh([r.moe_opt, src, "--moe-plan-expert-parallelism="
                          + opts, "-o", out])
                if p.returncode != 0:
                    fail_all(n, "cannot plan R=%d (%s): %s"
                             % (R, opts, short(p.stderr)), {R})
                    continue
                with open(out) as fh:
                    text = fh.read()
                m = re.search(r"remark: expert placement \(([^)]*)\): .*?"
                              r"(predicted balance [0-9.]+)", p.stderr)
                how = "(%s, %s)" % m.groups() if m else "(no remark)"
                prefix, body, g = module_body(text)
                if prefix:
                    fail_all(n, "planned module has text before it: %r"
                             % prefix[:2], {R})
                    continue
                grids.update(g)
                bodies.append("\n".join(body))
                ok.append(n)
                # What the plan did with the statistics.
                m = re.search(r"replicas = \[([0-9, ]*)\]", text)
                reps = [int(x) for x in m.group(1).split(",")] if m else []
                counts = None
                if n in stats and os.path.exists(stats[n]):
                    with open(stats[n]) as fh:
                        counts = json.load(fh)["layers"][0]["counts"]
                hot = int(np.argmax(counts)) if counts else -1
                multi = sum(1 for x in reps if x > 1)
                replicated += multi
                note = ""
                if counts and len(set(counts)) > 1 and reps and \
                        reps[hot] < 2:
                    note = " (the hottest expert has no replica)"
                    fail_all(n, "plan: the hottest expert %d has 1 replica "
                             "with %d redundant slots" % (hot, R * slots -
                                                          case["E"]), {R})
                    ok.pop()
                    bodies.pop()
                if not counts:
                    load = "no statistics"
                elif len(set(counts)) == 1:
                    load = "uniform load, %d of %d selections each" % (
                        counts[0], sum(counts))
                else:
                    load = "hottest expert %d: %d of %d selections, %d " \
                        "copies" % (hot, counts[hot], sum(counts), reps[hot])
                lines[n].append(
                    "%s R=%d plan %s: %d slots per rank, %d experts "
                    "replicated (most %d copies); %s%s"
                    % (n, R, how, slots, multi, max(reps) if reps else 0,
                       load, note))
            if len(grids) > 1:
                for n in ok:
                    fail_all(n, "the layers' plans use different grids: %s"
                             % sorted(grids), {R})
                continue
            if not ok:
                continue
            with open(planned, "w") as fh:
                fh.write("module {\n  %s\n%s\n}\n"
                         % (grids.pop(), "\n".join(bodies)))
        so = os.path.join(work, "%s.ep%d.so" % (tag, R))
        p = r.compile(planned, so)
        if p.returncode != 0:
            for n in ok:
                fail_all(n, "R=%d compile failed: %s" % (R, short(p.stderr)),
                         {R})
            continue
        artifacts[R] = (so, ok)

    # The runs.
    t0, launches = time.time(), 0
    for n in names:
        for R, Ts in plans[n]:
            if R not in artifacts or n not in artifacts[R][1]:
                continue
            for T in Ts:
                if (n, T) not in refs:
                    continue
                ref, files = refs[(n, T)]
                out = os.path.join(work, "%s.R%d.T%d.npy" % (n, R, T))
                if os.path.exists(out):
                    os.remove(out)
                cmd = r.mpirun + ["-np", str(R), r.moe_run, artifacts[R][0],
                                  "--function", n, "--output", out,
                                  "--threads", "1", "--ep-timeout",
                                  str(a.ep_timeout)]
                for k, v in files.items():
                    cmd += ["--input", "%s=%s" % (k, v)]
                # Where the single-process run recorded its routing, the
                # ranks record theirs, and rank 0 writes the group's.
                routing = None
                if n in stats and os.path.exists(stats[n]) and \
                        T == max(run["tokens"] for run in index[n]["inputs"]):
                    routing = os.path.join(work, "%s.R%d.T%d.routing.json"
                                           % (n, R, T))
                    if os.path.exists(routing):
                        os.remove(routing)
                    cmd += ["--record-routing", routing,
                            "--record-coselection"]
                p = r.sh(cmd)
                launches += 1
                if p.returncode != 0 or not os.path.exists(out):
                    results.append((n, R, T, None, "mpirun -np %d exit %d: %s"
                                    % (R, p.returncode,
                                       short(p.stderr + p.stdout))))
                    continue
                y = np.load(out).astype(np.float64)
                if a.perturb:
                    y = y * (1 + a.perturb)
                err, why = relative_l2(y, ref)
                if why is None and routing:
                    why = routing_differs(routing, stats[n])
                    err = None if why else err
                    routed += 0 if why else 1
                results.append((n, R, T, err, why))
    r.log("chunk %d: %d launches in %.1f s" % (chunk_id, launches,
                                                time.time() - t0))
    return lines, results, replicated, routed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--moe-run", required=True,
                   help="moe-run; moe-opt and moe-compile are beside it")
    p.add_argument("--mpirun", required=True,
                   help="the launcher command line, without -np")
    p.add_argument("--dir", required=True)
    p.add_argument("--runs", default="2:0,7;4:1,max",
                   help="R:T,... per rank count, ';'-separated; max is the "
                        "case's largest token count")
    p.add_argument("--uniform-ranks", type=int, default=2,
                   help="the rank count planned uniformly; the others get "
                        "redundant slots and statistics")
    p.add_argument("--ranks-per-node", type=int, default=2)
    p.add_argument("--tolerance", type=float, default=1e-6)
    p.add_argument("--only", default="", help="comma-separated cases")
    p.add_argument("--jobs", type=int,
                   default=len(os.sched_getaffinity(0)) + 1,
                   help="chunks in flight (default: one more than the "
                        "cores, since mpirun's start is mostly waiting)")
    p.add_argument("--chunks", type=int, default=0,
                   help="compile the cases in this many artifacts per plan "
                        "(default: 2 per job)")
    p.add_argument("--ep-timeout", type=float, default=60)
    p.add_argument("--timeout", type=float, default=300,
                   help="seconds for any one command but moe-compile")
    p.add_argument("--perturb", type=float, default=0.0,
                   help="scale the expert-parallel outputs by 1 + this "
                        "before comparing (a check of the check)")
    a = p.parse_args()
    runs = parse_runs(a.runs)
    with open(os.path.join(a.dir, "cases.json")) as fh:
        index = {c["name"]: c for c in json.load(fh)}
    with open(os.path.join(a.dir, "cases.mlir")) as fh:
        funcs = split_functions(fh.read())
    only = [n for n in a.only.split(",") if n]
    names = [c["name"] for c in make_cases.CASES
             if c["name"] in index and (not only or c["name"] in only)]
    missing = [n for n in names if n not in funcs]
    if missing:
        print("no function in cases.mlir for %s" % ", ".join(missing))
        return 1

    # The token counts of each case for each R, and the ones it cannot run.
    plans, skips = {}, {}
    for n in names:
        case = CASE_BY_NAME[n]
        have = [run["tokens"] for run in index[n]["inputs"]]
        plans[n], skips[n] = [], []
        for R, Ts in runs:
            chosen = []
            for t in Ts:
                T = max(have) if t == "max" else int(t)
                if case.get("static") and T != case["static"]:
                    skips[n].append("%s R=%d T=%d: skipped: the case has a "
                                    "static token count of %d"
                                    % (n, R, T, case["static"]))
                    T = case["static"]
                elif T != 0 and T not in have:
                    skips[n].append("%s R=%d T=%d: skipped: no such input, "
                                    "the largest is T=%d"
                                    % (n, R, T, max(have)))
                    T = max(have)
                if T not in chosen:
                    chosen.append(T)
            plans[n].append((R, chosen))

    r = Runner(a)
    # Chunks balanced by a rough compile cost: operands, and the deep or
    # wide GEMMs.
    def cost(n):
        c = CASE_BY_NAME[n]
        return (3 + len(funcs[n].split("moe.name")) +
                (4 if max(c["d"], c["f"]) >= 512 else 0))
    nchunks = max(1, min(len(names), a.chunks or 2 * max(1, a.jobs)))
    chunks = [[] for _ in range(nchunks)]
    load = [0] * nchunks
    for n in sorted(names, key=cost, reverse=True):
        i = load.index(min(load))
        chunks[i].append(n)
        load[i] += cost(n)
    chunks = [sorted(c, key=names.index) for c in chunks if c]
    lines, results, replicated, routed = {}, [], 0, 0
    with concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as pool:
        futures = [pool.submit(chunk_pipeline, r, i, c, index, funcs, plans)
                   for i, c in enumerate(chunks)]
        for f in futures:
            l, res, rep, rt = f.result()
            lines.update(l)
            results += res
            replicated += rep
            routed += rt

    order = {n: i for i, n in enumerate(names)}
    results.sort(key=lambda x: (order[x[0]], x[1], x[2]))
    for n in names:
        for l in lines.get(n, []) + skips[n]:
            print(l)
    agree = failed = 0
    worst = 0.0
    for n, R, T, err, why in results:
        label = "%s R=%d T=%d" % (n, R, T)
        if err is None:
            failed += 1
            print("%s: FAILED: %s" % (label, why))
        elif not err <= a.tolerance:
            failed += 1
            worst = max(worst, err)
            print("%s: relative L2 %.3e FAILED (tolerance %.0e)"
                  % (label, err, a.tolerance))
        else:
            agree += 1
            worst = max(worst, err)
            print("%s: relative L2 %.3e" % (label, err))
    if any(R != a.uniform_ranks for R, _ in runs):
        print("replicated experts over all layers: %d" % replicated)
        if replicated == 0:
            failed += 1
            print("FAILED: no layer has an expert with more than one replica")
    print("routing recorded under mpirun equals the single-process "
          "record in %d runs" % routed)
    print("max relative L2 %.3e over %d runs (tolerance %.0e)"
          % (worst, agree + failed, a.tolerance))
    r.log("done: %d chunks of cases, %d artifacts"
          % (len(chunks), len(chunks) * (1 + len(runs))))
    print("%d runs agree, %d failed" % (agree, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
