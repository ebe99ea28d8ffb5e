"""Evaluator benchmark: cache overhead on 1,000 trivial nodes in three shapes (chain, random DAG,
fan-out/fan-in). Prints figures only (targets shown beside them; no assertions on speed).

    python bench/bench_evaluator.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nodegraph import fileformat
from nodegraph.cache import Cache
from nodegraph.commands import AddNode, Batch, Connect, SetParam
from nodegraph.evaluate import Evaluator
from nodegraph.graph import Document
from nodegraph.node import Variadic, node
from nodegraph.registry import Registry
from nodegraph.types import Number

N = 1000


# -- trivial nodes (real, tiny work: adding numbers) --------------------------------------------
@node("bench.src", title="Source")
def src(value: float = 0.0) -> float:
    return value + 1.0


@node("bench.add3", title="Add up to three")
def add3(a: float | None = None, b: float | None = None, c: float | None = None) -> float:
    return sum(x for x in (a, b, c) if x is not None)


@node("bench.gather", title="Gather")
def gather(values: Variadic[Number]) -> float:
    return float(sum(values))


def registry() -> Registry:
    reg = Registry()
    for fn in (src, add3, gather):
        reg.add(fn.__nodegraph__)
    return reg


# -- graph shapes: each returns (doc, sinks, edits); an edit is (label, node, param) ------------
def chain() -> tuple[Document, list[str], list]:
    cmds: list = [AddNode("bench.src", "n0", {"value": 1.0})]
    for i in range(1, N):
        cmds += [AddNode("bench.add3", f"n{i}", {"b": float(i)}), Connect(f"n{i - 1}", "number", f"n{i}", "a")]
    return _doc(cmds), [f"n{N - 1}"], [("first node n0 (all downstream)", "n0", "value"),
                                         (f"last node n{N - 1}, own param", f"n{N - 1}", "b")]


def random_dag(seed: int = 1) -> tuple[Document, list[str], list]:
    """~10% sources scattered through the order; other nodes take 1-3 inputs from the previous 50."""
    rng = random.Random(seed)
    cmds: list = []
    for i in range(N):
        if i < 3 or rng.random() < 0.1:
            cmds.append(AddNode("bench.src", f"n{i}", {"value": float(i)}))
            continue
        cmds.append(AddNode("bench.add3", f"n{i}"))
        for port, p in zip("abc", rng.sample(range(max(0, i - 50), i), rng.randint(1, min(3, i)))):
            cmds.append(Connect(f"n{p}", "number", f"n{i}", port))
    doc = _doc(cmds)
    sinks = [n for n in doc.node_ids() if doc.g.out_degree(n) == 0]
    srcs = [n for n in doc.node_ids() if doc.type_of(n) == "bench.src" and doc.g.out_degree(n)]
    leaf = min(srcs, key=lambda n: (len(doc.downstream(n)), n))
    return doc, sinks, [(f"source {leaf} (fewest dependents)", leaf, "value")]


def fan() -> tuple[Document, list[str], list]:
    cmds: list = [AddNode("bench.src", "src", {"value": 1.0}), AddNode("bench.gather", "sink")]
    for i in range(N - 2):
        cmds += [AddNode("bench.add3", f"m{i}", {"b": float(i)}), Connect("src", "number", f"m{i}", "a"),
                 Connect(f"m{i}", "number", "sink", "values", append=True)]
    return _doc(cmds), ["sink"], [("middle node m500 (+ sink)", "m500", "b")]


def _doc(cmds: list) -> Document:
    doc = Document()
    Batch(cmds, "build")(doc)
    return doc


SHAPES = {"chain": chain, "random DAG (fan-in <= 3)": random_dag, "fan-out/fan-in (998 wide)": fan}


# -- measuring -----------------------------------------------------------------------------------
def timed_run(ev: Evaluator, doc: Document, sinks: list[str]) -> tuple[float, float, dict]:
    """(wall seconds around Evaluator.run, sum of the nodes' own seconds, status counts)."""
    t = time.perf_counter()
    res = ev.run(doc, sinks)
    wall = time.perf_counter() - t
    if not res.ok:
        bad = next(r for r in res.nodes.values() if not r.ok)
        sys.exit(f"run failed: {bad.node} {bad.status}: {bad.error}")
    own = sum(r.seconds for r in res.nodes.values() if r.status == "computed")
    return wall, own, {s: res.count(s) for s in ("computed", "cached")}


def child(graph: str, cache_dir: str, base: str) -> None:
    """--child: a fresh process over a warm disk cache; times load + cache open + run only."""
    reg = registry()
    t = time.perf_counter()
    doc = fileformat.load(graph)
    ev = Evaluator(reg, output_dir=Path(base) / "out", base_dir=base, cache=Cache(cache_dir), graph_id=graph)
    sinks = [n for n in doc.node_ids() if doc.g.out_degree(n) == 0]
    wall, own, counts = timed_run(ev, doc, sinks)
    total = time.perf_counter() - t
    print(json.dumps({"computed": counts["computed"], "total": total, "run": wall, "own": own}))


def one_rep(text: str, sinks: list[str], edits: list, reps_warm: int, rep: int) -> dict[str, list]:
    out: dict[str, list] = {}
    add = lambda k, v: out.setdefault(k, []).append(v)  # noqa: E731
    reg = registry()
    with tempfile.TemporaryDirectory(prefix="nodegraph-bench-ev-") as tmp:
        doc = fileformat.loads(text)
        graph = str(Path(tmp) / "graph.json")
        fileformat.save(doc, graph)
        ev = Evaluator(reg, output_dir=Path(tmp) / "out", base_dir=tmp, cache=Cache(Path(tmp) / "cache"), graph_id=graph)
        out["workers"] = [ev.workers]
        wall, own, counts = timed_run(ev, doc, sinks)
        add("cold", wall), add("cold_over", wall - own), add("cold_computed", counts["computed"])
        add("warm_first", timed_run(ev, doc, sinks)[0])
        warm = [timed_run(ev, doc, sinks) for _ in range(reps_warm)]
        add("warm", statistics.median(w for w, _, _ in warm))
        add("warm_computed", max(c["computed"] for _, _, c in warm))
        # a fresh process over the warm disk cache
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", graph, str(Path(tmp) / "cache"), tmp],
                           capture_output=True, text=True, check=True)
        got = json.loads(p.stdout.strip().splitlines()[-1])
        add("proc_computed", got["computed"]), add("proc_over", got["total"] - got["own"])
        add("proc_run_over", got["run"] - got["own"])
        # one edit at a time (a value never used before, so it is a real change)
        for j, (label, nid, param) in enumerate(edits):
            for k in range(3):
                SetParam(nid, param, 1000.0 + rep * 10 + k + j * 0.5)(doc)
                wall, own, counts = timed_run(ev, doc, sinks)
                add(f"edit{j}_over", wall - own), add(f"edit{j}_own", own)
                add(f"edit{j}_total", wall), add(f"edit{j}_computed", counts["computed"])
        # no cache: what a tool without one does on every run (validation stays remembered)
        plain = Evaluator(reg, output_dir=Path(tmp) / "out", base_dir=tmp, cache=Cache.memory_only(), use_cache=False)
        runs = [timed_run(plain, doc, sinks) for _ in range(max(3, reps_warm // 2))]
        add("nocache", statistics.median(w for w, _, _ in runs))
        add("nocache_computed", runs[-1][2]["computed"])
    return out


def report(name: str, make, reps: int, reps_warm: int) -> None:
    rows: dict[str, list] = {}
    t = time.perf_counter()
    doc, sinks, edits = make()
    t_build = time.perf_counter() - t
    text = fileformat.dumps(doc)
    for rep in range(reps):
        got = one_rep(text, sinks, edits, reps_warm, rep)
        for k, v in got.items():
            rows.setdefault(k, []).extend(v)
    m = {k: statistics.median(v) for k, v in rows.items()}
    us = lambda s: s * 1e6 / N  # noqa: E731  seconds -> microseconds per node
    print(f"\n{name}: {N} nodes, workers={int(m['workers'])}, median of {reps} reps "
          f"(warm: median of {reps_warm} runs each), {time.perf_counter() - t:.1f} s")
    print(f"  {'measure (per node = / 1000)':46s}{'value':>14s}{'re-ran':>8s}   target")
    line = lambda label, val, ran="", target="": print(f"  {label:46s}{val:>14s}{ran!s:>8s}   {target}")  # noqa: E731
    line("build via AddNode/Connect Batch (once)", f"{t_build * 1e3:.1f} ms")
    line("cold run, disk cache: total", f"{m['cold'] * 1e3:.1f} ms", int(m["cold_computed"]))
    line("  engine overhead per node", f"{us(m['cold_over']):.1f} us")
    line("warm no-op re-run, same process (1st)", f"{us(m['warm_first']):.2f} us/node")
    line("warm no-op re-run, same process (med.)", f"{us(m['warm']):.2f} us/node", int(m["warm_computed"]),
         "<= 10 us/node")
    for j, (label, _, _) in enumerate(edits):
        line(f"edit {label}: overhead", f"{m[f'edit{j}_over'] * 1e3:.2f} ms", int(m[f"edit{j}_computed"]),
             f"<= 2 ms (total {m[f'edit{j}_total'] * 1e3:.2f} ms, nodes' own {m[f'edit{j}_own'] * 1e3:.2f} ms)")
    line("new process, warm disk cache: load+open+run", f"{us(m['proc_over']):.1f} us/node",
         int(m["proc_computed"]), "must re-run 0")
    line("  of which Evaluator.run", f"{us(m['proc_run_over']):.1f} us/node")
    line("no cache: full re-run", f"{m['nocache'] * 1e3:.1f} ms", int(m["nocache_computed"]))
    line("  no-cache / warm no-op", f"{m['nocache'] / m['warm']:.3g}x")
    for j, (_, nid, _) in enumerate(edits):
        line(f"  no-cache / one edit ({nid})", f"{m['nocache'] / m[f'edit{j}_total']:.2g}x")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(*argv[1:4])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--shape", choices=["chain", "dag", "fan"], help="only this shape")
    args = ap.parse_args(argv)
    reps, reps_warm = (2, 5) if args.quick else (5, 15)
    print(f"nodegraph bench_evaluator: Python {platform.python_version()}, {os.cpu_count()} CPU(s), "
          f"{platform.machine()} {platform.system()}, load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print("overhead = wall time around Evaluator.run minus the nodes' own compute seconds")
    for (name, make), key in zip(SHAPES.items(), ("chain", "dag", "fan")):
        if args.shape in (None, key):
            report(name, make, reps, reps_warm)
    print("\nload average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
