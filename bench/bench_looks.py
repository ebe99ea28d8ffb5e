#!/usr/bin/env python3
"""Looks: what they cost on top of their inner nodes.

Prints, on the shipped Looks:
- the gallery graph (one 640x360 frame through eight Looks, a contact sheet): cold run, warm
  no-op run, and a run after one promoted param of one instance changed (with what computed);
- the expansion of instances into inner nodes: a graph of N instances of a 4-node Look, its
  first check+expansion per instance, and the warm no-op run per flat node (against the same
  graph built of plain nodes);
- baking a Look to a 33- and a 65-point .cube.

    python bench/bench_looks.py [--instances 200]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=200)
    args = ap.parse_args()
    os.environ.setdefault("NODEGRAPH_LOOKS_DIR", tempfile.mkdtemp(prefix="bench-looks-"))
    from nodegraph import fileformat
    from nodegraph.cache import Cache
    from nodegraph.commands import AddNode, Connect, SetParam
    from nodegraph.evaluate import Evaluator
    from nodegraph.graph import Document
    from nodegraph.looks import with_looks
    from nodegraph.looks.render import bake
    from nodegraph.registry import default_registry

    base = default_registry()
    gallery = ROOT / "graphs" / "looks_gallery.json"
    reg = with_looks(base, gallery)
    print(f"load {os.getloadavg()[0]:.2f}; {len(reg.library.all())} Looks installed")
    with tempfile.TemporaryDirectory() as tmp:
        doc = fileformat.load(gallery)
        ev = Evaluator(reg, output_dir=Path(tmp) / "out", base_dir=gallery.parent, cache=Cache(Path(tmp) / "cache"))
        t = time.perf_counter()
        r = ev.run(doc)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        r2 = ev.run(doc)
        warm = time.perf_counter() - t
        SetParam("noir", "grain_amount", 0.5)(doc)
        t = time.perf_counter()
        r3 = ev.run(doc)
        edit = time.perf_counter() - t
        done = sorted(n for n, x in r3.nodes.items() if x.status == "computed")
        print(f"gallery: {len(r.nodes)} flat nodes; cold {cold:.2f} s, warm no-op {warm * 1000:.1f} ms "
              f"({r2.count('computed')} computed), noir.grain_amount edited {edit:.2f} s: {', '.join(done)}")
        ev.close()

    n = args.instances
    look = reg.library.latest("nodegraph/noir")

    def graph(plain: bool) -> Document:
        d = Document()
        AddNode("image.solid", id="src", params={"width": 8, "height": 8})(d)
        for i in range(n):
            if plain:
                prev = "src"
                for inner in look.graph.node_ids():
                    nid = f"i{i}_{inner}"
                    AddNode(look.graph.type_of(inner), id=nid, params=dict(look.graph.params(inner)))(d)
                    Connect(prev, "image", nid, "image")(d)
                    prev = nid
            else:
                AddNode(look.type_id, id=f"i{i}", version=look.version, params={"grain_amount": 0.01 * (i % 50)})(d)
                Connect("src", "image", f"i{i}", "image")(d)
        return d

    for plain in (True, False):
        d = graph(plain)
        ev = Evaluator(reg, workers=1)
        t = time.perf_counter()
        ev.check(d)
        first = time.perf_counter() - t
        ev.run(d)
        t = time.perf_counter()
        reps = 20
        for _ in range(reps):
            ev.run(d)
        warm = (time.perf_counter() - t) / reps
        flat = ev.flatten(d, None)[0]
        what = "plain nodes" if plain else "instances"
        print(f"{n} {what}: {len(flat.node_ids())} flat nodes; check{' + expand' if not plain else ''} "
              f"{first * 1000:.1f} ms ({first / n * 1e6:.0f} us per {'chain' if plain else 'instance'}), "
              f"warm no-op {warm * 1e6 / len(flat.node_ids()):.2f} us per flat node")
        ev.close()

    for size in (33, 65):
        t = time.perf_counter()
        _, skipped = bake(look, reg, size)
        print(f"bake {look.label} to {size}^3: {time.perf_counter() - t:.2f} s (left out: {', '.join(skipped)})")


if __name__ == "__main__":
    main()
