"""Core micro-benchmarks for nodegraph: fingerprint throughput, graph load/validate/save, evaluator
overhead, saving a hostile file of dangling links, and the built-in music composer. Prints figures
only (no assertions on speed).

    python bench/bench_core.py [--quick] [--nodes N] [--no-eval]
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import blake3
import numpy as np

try:  # a non-cryptographic hash for comparison, when installed (not a dependency)
    import xxhash
except ImportError:
    xxhash = None

from nodegraph import fileformat
from nodegraph.commands import AddNode, Batch, Connect
from nodegraph.evaluate import Evaluator
from nodegraph.graph import Document
from nodegraph.registry import default_registry
from nodegraph.types import Audio, Image
from nodegraph.validate import validate


def median_time(fn, reps: int, setup=None) -> float:
    """Median wall time of ``fn(setup())`` in seconds; ``setup`` runs outside the timed part."""
    times = []
    for _ in range(reps):
        arg = setup() if setup else None
        t = time.perf_counter()
        fn(arg) if setup else fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


# -- 1. fingerprints -------------------------------------------------------------------------
def bench_hashes(reps: int) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(1080, 1920, 3), dtype=np.uint8)
    samples = rng.standard_normal((48_000 * 10, 2), dtype=np.float32) * 0.1
    cases = [("image 1920x1080 RGB u8", pixels, lambda: Image(pixels)),
             ("audio 10 s stereo 48k f32", samples, lambda: Audio(samples, 48_000))]
    auto = blake3.blake3.AUTO
    raw = [("blake3 (1 thread)", lambda b: blake3.blake3(b).digest()),
           ("blake3 (max_threads=AUTO)", lambda b: blake3.blake3(b, max_threads=auto).digest()),
           ("sha256 (hashlib)", lambda b: hashlib.sha256(b).digest()),
           ("blake2b (hashlib)", lambda b: hashlib.blake2b(b).digest())]
    if xxhash is not None:
        raw.append(("xxh3_128 (not crypto)", lambda b: xxhash.xxh3_128(b).digest()))
    rows: list[tuple[str, list[str]]] = []
    construct = []
    ng = []
    for _, arr, make in cases:
        make()  # first construction freezes the caller's array in place; later ones reuse it
        construct.append(median_time(make, reps))
        ng.append(median_time(lambda v: v.digest(), reps, setup=make))
    mb = [arr.nbytes / 1e6 for _, arr, _ in cases]
    rows.append(("nodegraph .digest() (fresh object)", [f"{m / t:9.0f}" for m, t in zip(mb, ng)]))
    for name, fn in raw:
        ts = [median_time(lambda: fn(memoryview(arr).cast("B")), reps) for _, arr, _ in cases]
        rows.append((name, [f"{m / t:9.0f}" for m, t in zip(mb, ts)]))
    print(f"\n1. Fingerprint throughput, MB/s (1 MB = 1e6 bytes), median of {reps}")
    head = [f"{c[0].split()[0]} {m:.1f} MB" for c, m in zip(cases, mb)]
    print(f"  {'':36s}" + "".join(f"{h:>18s}" for h in head))
    for name, vals in rows:
        print(f"  {name:36s}" + "".join(f"{v:>18s}" for v in vals))
    print("  construction (median, already-frozen array): "
          + ", ".join(f"{c[0].split()[0]} {t * 1e6:.1f} us" for c, t in zip(cases, construct)))
    print("  digest latency: " + ", ".join(f"{c[0].split()[0]} {t * 1e3:.2f} ms" for c, t in zip(cases, ng)))


# -- 2. a synthetic 1,000-node graph ------------------------------------------------------------
def build_graph(n_nodes: int) -> tuple[Document, list[str]]:
    """20% core.number constants, 60% core.math (half chain, half binary tree), 10% core.text,
    10% core.join_text (3 text parts + the previous join, so a variadic port with 4 links)."""
    n_num, n_text = n_nodes // 5, n_nodes // 10
    n_join = n_text
    n_math = n_nodes - n_num - n_text - n_join
    ops = ["add", "subtract", "min", "max"]
    cmds: list = []
    for i in range(n_num):
        cmds.append(AddNode("core.number", f"num{i}", {"value": round(0.5 + i * 0.01, 3)}, pos=(0, i * 80)))
    for i in range(n_math):
        cmds.append(AddNode("core.math", f"math{i}", {"op": ops[i % 4]}, pos=(300 + 40 * (i % 20), i * 40)))
        cmds.append(Connect(f"num{i % n_num}", "number", f"math{i}", "b"))
        if i:
            a = f"math{i - 1}" if i % 2 else f"math{(i - 1) // 2}"
            cmds.append(Connect(a, "number", f"math{i}", "a"))
        else:
            cmds.append(Connect("num1", "number", "math0", "a"))
    for i in range(n_text):
        cmds.append(AddNode("core.text", f"text{i}", {"value": f"line {i}: the quick brown fox"}, pos=(0, -80 * i - 80)))
    for j in range(n_join):
        cmds.append(AddNode("core.join_text", f"join{j}", {"separator": "\\n"} if j % 2 else {},
                            pos=(300, -80 * j - 80), label=f"join {j}"))
        for k in range(3):
            cmds.append(Connect(f"text{(j + k) % n_text}", "text", f"join{j}", "parts", append=True))
        if j:
            cmds.append(Connect(f"join{j - 1}", "text", f"join{j}", "parts", append=True))
    doc = Document()
    Batch(cmds, "build")(doc)
    doc.packs = default_registry().pack_of_namespace()
    sinks = [n for n in doc.node_ids() if doc.g.out_degree(n) == 0]
    return doc, sinks


def bench_graph(reps: int, n_nodes: int, run_eval: bool) -> None:
    reg = default_registry()
    t = time.perf_counter()
    doc, sinks = build_graph(n_nodes)
    t_build = time.perf_counter() - t
    n, n_links = len(doc.g), doc.g.number_of_edges()
    with tempfile.TemporaryDirectory(prefix="nodegraph-bench-") as tmp:
        path = Path(tmp) / "big.json"
        fileformat.save(doc, path)
        issues = validate(fileformat.load(path), reg)
        if issues:
            sys.exit(f"benchmark graph is invalid: {issues[:3]}")
        t_dumps = median_time(lambda: fileformat.dumps(doc), reps)
        t_save = median_time(lambda: fileformat.save(doc, path), reps)
        t_load = median_time(lambda: fileformat.load(path), reps)
        loaded = fileformat.load(path)
        t_val = median_time(lambda: validate(loaded, reg), reps)
        t_cyc = median_time(loaded.find_cycle, reps)
        t_both = median_time(lambda: validate(fileformat.load(path), reg), reps)
        size = path.stat().st_size
        print(f"\n2. Graph file: {n} nodes, {n_links} links, {size / 1024:.1f} KiB on disk, median of {reps}")
        print(f"  {'step':52s}{'total ms':>10s}{'us/node':>10s}")
        rows = [("build via commands (AddNode/Connect Batch, once)", t_build),
                ("fileformat.dumps (canonical JSON)", t_dumps),
                ("fileformat.save (dumps + atomic write, fsync)", t_save),
                ("fileformat.load", t_load),
                ("validate.validate", t_val),
                ("  of which Document.find_cycle", t_cyc),
                ("load + validate", t_both)]
        if run_eval:
            rows += bench_eval(reg, loaded, sinks, Path(tmp) / "out", reps)
        for name, secs in rows:
            print(f"  {name:52s}{secs * 1e3:10.2f}{secs * 1e6 / n:10.1f}")


# -- 3. evaluator overhead (nodes do trivial work) ---------------------------------------------
def bench_eval(reg, doc: Document, sinks: list[str], out: Path, reps: int) -> list[tuple[str, float]]:
    """Works with the plain evaluator and with the cached one (use_cache/workers keywords)."""
    accepts = inspect.signature(Evaluator).parameters
    plain = {k: v for k, v in {"use_cache": False, "workers": 1}.items() if k in accepts}
    n = len(doc.g)

    def run(ev: Evaluator):
        res = ev.run(doc, targets=sinks)
        good = sum(1 for r in res.nodes.values() if r.status in ("computed", "cached", "pinned"))
        if not res.ok or good != n:
            sys.exit(f"evaluator run failed: {good} of {n} nodes produced a value")
        return res

    label = "no cache, 1 worker" if plain else "plain evaluator"
    ev = Evaluator(reg, output_dir=out, **plain)
    run(ev)
    rows = [(f"Evaluator.run, {label}, fresh Evaluator", median_time(
                lambda: run(Evaluator(reg, output_dir=out, **plain)), reps)),
            ("  same evaluator again", median_time(lambda: run(ev), reps)),
            ("  of which scheduling + nodes (RunResult.seconds)",
             statistics.median(run(ev).seconds for _ in range(reps)))]
    if "use_cache" in accepts:  # the cached evaluator: cold RAM cache, then everything cached
        rows.append(("Evaluator.run, RAM cache, default workers, cold", median_time(
            lambda: run(Evaluator(reg, output_dir=out)), reps)))
        warm = Evaluator(reg, output_dir=out)
        run(warm)
        rows.append(("  warm re-run (nothing to compute)", median_time(lambda: run(warm), reps)))
    return rows


# -- 4. hostile saves and built-in nodes -------------------------------------------------------
def bench_misc(reps: int) -> None:
    """Saving 8,000 nodes linked to missing nodes (was quadratic); 20 s of music.compose."""
    from nodes.music import compose

    nodes = {f"n{i}": {"type": "core.case", "inputs": {"text": f"ghost{i}.text"}} for i in range(8000)}
    import json

    doc = fileformat.loads(json.dumps({"format": "nodegraph", "version": 1, "nodes": nodes}), source="hostile.json")
    print(f"save 8,000 nodes with dangling links: {median_time(lambda: fileformat.dumps(doc), reps) * 1e3:8.1f} ms")
    compose(duration=2.0)  # imports and tables
    t = median_time(lambda: compose(mood="epic", duration=20.0, seed=11), max(3, reps // 3))
    print(f"music.compose, 20 s epic:             {t * 1e3:8.1f} ms")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--nodes", type=int, default=1000, help="graph size (default 1000)")
    ap.add_argument("--no-eval", action="store_true", help="skip the evaluator run")
    args = ap.parse_args(argv)
    reps = 3 if args.quick else 15
    print(f"nodegraph bench_core: Python {platform.python_version()}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPU(s), {platform.machine()} {platform.system()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    bench_hashes(reps)
    bench_graph(reps if args.quick else 7, args.nodes, not args.no_eval)
    bench_misc(3 if args.quick else 7)


if __name__ == "__main__":
    main()
