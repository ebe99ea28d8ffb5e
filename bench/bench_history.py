"""History and diff benchmark: how long ``nodegraph.diff.diff`` takes on graphs of N nodes, and
what keeping a version adds to a save (``GraphHistory.record``: sha256, the summary's diff against
the previous version read back from disk and checked, the version file and the index written
atomically with fsync).

Graphs are chains of ``core.math`` nodes (each linked to the one before, two params each, laid out
in a row); between the two versions 1% of the nodes get a new param value, one node is removed and
one added, and every tenth node moves. Figures only (median and min of ``--reps`` runs; no
assertions). Target: recording a version of a 1000-node graph costs less than the save itself
(the graph file written atomically) on this machine.

    python bench/bench_history.py [--sizes 100,1000,5000] [--reps 7]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from nodegraph.commands import AddNode, Connect, History, Move, RemoveNode, SetParam
from nodegraph.diff import diff, format_text, summary
from nodegraph.fileformat import dumps, save
from nodegraph.graph import Document
from nodegraph.history import GraphHistory
from nodegraph.registry import default_registry


def chain(n: int) -> Document:
    doc = Document()
    h = History(doc)
    for i in range(n):
        h.do(AddNode("core.math", f"m{i}", {"a": float(i), "op": "add"}, pos=(i * 220.0, 0.0)))
        if i:
            h.do(Connect(f"m{i - 1}", "result", f"m{i}", "b"))
    return doc


def edited(doc: Document) -> Document:
    new = doc.copy()
    h = History(new)
    n = len(new.g)
    for i in range(0, n, 100):
        h.do(SetParam(f"m{i}", "a", -1.0))
    for i in range(0, n, 10):
        h.do(Move(f"m{i}", (i * 220.0, 80.0)))
    h.do(RemoveNode(f"m{n - 1}"))
    h.do(AddNode("core.math", "extra", {"a": 1.0}))
    return new


def timed(fn, reps: int) -> tuple[float, float]:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,5000")
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    reg = default_registry()
    print(f"{'nodes':>6} {'changes':>8} {'diff ms':>14} {'diff+text ms':>14} {'save ms':>14} {'record ms':>14}  summary")
    for n in (int(x) for x in args.sizes.split(",")):
        old, new = chain(n), edited(chain(n))
        changes = diff(old, new, reg, layout=True)
        d = timed(lambda: diff(old, new, reg), args.reps)
        dt = timed(lambda: format_text(diff(old, new, reg, layout=True)), args.reps)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "g.json"
            save(old, path)
            s = timed(lambda: save(new, path), args.reps)
            texts = [dumps(old), dumps(new)]
            hist = GraphHistory(path)
            hist.record(texts[0], reg)
            k = [0]

            docs = [old, new]

            def record() -> None:  # alternate the two texts: every call keeps a version and diffs
                k[0] += 1
                hist.record(texts[k[0] % 2], reg, doc=docs[k[0] % 2])  # as the editor calls it

            r = timed(record, args.reps)
        print(f"{n:>6} {len(changes):>8} {d[0] * 1e3:>7.1f} ({d[1] * 1e3:>4.1f}) {dt[0] * 1e3:>7.1f} ({dt[1] * 1e3:>4.1f})"
              f" {s[0] * 1e3:>7.1f} ({s[1] * 1e3:>4.1f}) {r[0] * 1e3:>7.1f} ({r[1] * 1e3:>4.1f})  {summary(changes)}")
    print("median (min) of", args.reps, "runs each")


if __name__ == "__main__":
    main()
