#!/usr/bin/env python3
"""Bundles: what packing and unpacking cost.

Prints:
- ``pack`` of the talking-character template (5 assets, a drawn thumbnail), ``unpack --list``
  (every member read and hashed, nothing written) and ``unpack`` into a fresh folder (checked,
  hashed, written, reported), median of N;
- hashing a model of SIZE MiB of random bytes the first time and the second (the memo), which is
  what packing a graph that uses a model costs.

    python bench/bench_bundle.py [--repeat 5] [--model-mib 1024]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--model-mib", type=int, default=1024)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-bundle-"))
    os.environ["NODEGRAPH_CONFIG_DIR"] = str(tmp / "config")
    os.environ.setdefault("NODEGRAPH_LOOKS_DIR", str(tmp / "looks"))
    from nodegraph.bundle import check, inspect, pack, unpack
    from nodegraph.looks import with_looks
    from nodegraph.models.digests import path_digest
    from nodegraph.registry import default_registry

    graph = ROOT / "graphs" / "talking_character.json"
    registry = with_looks(default_registry(), graph)
    times: dict[str, list[float]] = {"pack": [], "unpack --list": [], "unpack": []}
    for i in range(args.repeat):
        out = tmp / f"b{i}.ngpack"
        t = time.perf_counter()
        pack(graph, out, registry=registry)
        times["pack"].append(time.perf_counter() - t)
        t = time.perf_counter()
        check(inspect(out), None, registry)
        times["unpack --list"].append(time.perf_counter() - t)
        t = time.perf_counter()
        done = unpack(out, tmp / f"u{i}", registry=registry)
        check(done.manifest, done.dest, registry)
        times["unpack"].append(time.perf_counter() - t)
    size = (tmp / "b0.ngpack").stat().st_size
    print(f"talking_character.ngpack: {size / 1024:.0f} KiB, median of {args.repeat}")
    for k, v in times.items():
        print(f"  {k:<14} {statistics.median(v) * 1000:7.0f} ms")

    model = tmp / "model.safetensors"
    with open(model, "wb") as f:
        for _ in range(args.model_mib):
            f.write(os.urandom(1 << 20))
    t = time.perf_counter()
    path_digest(model)
    first = time.perf_counter() - t
    t = time.perf_counter()
    path_digest(model)
    again = time.perf_counter() - t
    print(f"model of {args.model_mib} MiB: sha256 {first:.2f} s ({args.model_mib / first:.0f} MiB/s) the first time, "
          f"{again * 1000:.2f} ms remembered")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
