"""Benchmark of the talking-character demo (graphs/talking_character.json).

Prints, each as a ratio to the clip's duration: the cold run (empty cache), the warm no-op re-run,
and a one-line edit (one line of dialogue changed: that shot's nodes and the assembly re-run,
only the video segments whose frames changed are re-encoded). Targets: cold <= 1x real time,
edit <= 25% of cold. Also the peak memory (RSS) of a cold run in a fresh process, against what
holding every frame uncompressed would take.

    python bench/bench_demo.py [--reps N]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "graphs" / "talking_character.json"
EDITS = {  # line -> a new line of about the same length
    "line_1": "Hello, I'm Mira! Welcome to my tiny studio.",
    "line_2": "Today we are making a short movie with nothing but a node graph.",
    "line_3": "Every voice, note and picture was made on this computer.",
}


def child(cache: str, out: str) -> None:
    """Run the demo cold in this (fresh) process and print its peak RSS."""
    from nodegraph.cache import Cache
    from nodegraph.evaluate import Evaluator
    from nodegraph.fileformat import load
    from nodegraph.registry import default_registry

    t = time.perf_counter()
    r = Evaluator(default_registry(), output_dir=out, base_dir=DEMO.parent, cache=Cache(cache)).run(load(DEMO))
    assert r.ok
    print(json.dumps({"seconds": time.perf_counter() - t,
                      "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--child", nargs=2, metavar=("CACHE", "OUT"))
    args = ap.parse_args()
    if args.child:
        return child(*args.child)

    from nodegraph.cache import Cache
    from nodegraph.commands import SetParam
    from nodegraph.evaluate import Evaluator
    from nodegraph.fileformat import load
    from nodegraph.registry import default_registry

    registry = default_registry()
    print(f"bench_demo: {DEMO.name}, {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}")
    rows: dict[str, list[float]] = {"cold": [], "warm": [], "edit": []}
    edited: list[int] = []
    duration = frames = None
    for rep in range(args.reps):
        with tempfile.TemporaryDirectory() as tmp:
            doc = load(DEMO)
            ev = Evaluator(registry, output_dir=Path(tmp) / "out", base_dir=DEMO.parent, cache=Cache(Path(tmp) / "cache"))
            t = time.perf_counter()
            r = ev.run(doc)
            rows["cold"].append(time.perf_counter() - t)
            assert r.ok, {n: x.error for n, x in r.nodes.items() if x.error}
            video = r.value("render")
            duration, frames = video.duration, video.n_frames
            t = time.perf_counter()
            r = ev.run(doc)
            rows["warm"].append(time.perf_counter() - t)
            assert r.count("computed") == 0
            line = f"line_{rep % 3 + 1}"
            SetParam(line, "value", EDITS[line])(doc)
            t = time.perf_counter()
            r = ev.run(doc)
            rows["edit"].append(time.perf_counter() - t)
            edited.append(r.count("computed"))
    cold, warm, edit = (statistics.median(rows[k]) for k in ("cold", "warm", "edit"))
    print(f"clip: {duration:.2f} s, {frames} frames at 1280x720; median of {args.reps} (edits cycle over the 3 lines)")
    print(f"  {'run':<34}{'seconds':>9}{'x clip':>9}   target")
    print(f"  {'cold (empty cache)':<34}{cold:>9.2f}{cold / duration:>9.2f}   <= 1.00x clip")
    print(f"  {'warm no-op (all cached)':<34}{warm:>9.3f}{warm / duration:>9.3f}")
    print(f"  {'one-line edit':<34}{edit:>9.2f}{edit / duration:>9.2f}   <= 25% of cold: {edit / cold:.0%}"
          f"  ({statistics.median(edited):.0f} nodes re-ran)")
    print("  per rep: " + ", ".join(f"{k} " + "/".join(f"{v:.2f}" for v in rows[k]) for k in rows))

    # command line, fresh processes (imports included)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NODEGRAPH_CACHE_DIR=str(Path(tmp) / "cache"))
        cmd = [sys.executable, "-m", "nodegraph", "run", str(DEMO), "-o", str(Path(tmp) / "out"), "-q"]
        walls = []
        for extra in ([], [], ["--set", f"line_2.value={EDITS['line_2']}"]):
            t = time.perf_counter()
            subprocess.run(cmd + extra, check=True, env=env)
            walls.append(time.perf_counter() - t)
        print(f"  nodegraph run (fresh process each): cold {walls[0]:.2f} s, warm {walls[1]:.2f} s, edit {walls[2]:.2f} s")

        proc = subprocess.run([sys.executable, __file__, "--child", str(Path(tmp) / "c2"), str(Path(tmp) / "o2")],
                              check=True, capture_output=True, text=True)
        peak = json.loads(proc.stdout.strip().splitlines()[-1])["peak_rss"]
    all_frames = frames * 1280 * 720 * 3
    print(f"  peak RSS of a cold run: {peak / 2**20:.0f} MiB; all {frames} frames uncompressed would be "
          f"{all_frames / 2**20:.0f} MiB ({peak / all_frames:.0%}); frames are made on demand, so the peak "
          "does not grow with the clip's length")


if __name__ == "__main__":
    main()
