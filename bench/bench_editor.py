"""Benchmark of the editor window (dearpygui) on graphs of 32 and 200 nodes, and while a graph runs.

1. Frame time (vsync off) with graphs/talking_character.json (32 nodes) and a synthetic graph of
   200 nodes and 250 links (core text and image nodes on a grid), each zoomed in (100%, most
   nodes off screen) and zoomed out (fit all: every node on screen, far level of detail):
   median and p90 of ~N frames, and the editor's own CPU time per frame (Python work on the UI
   thread, rendering excluded). Target: <= 33 ms a frame with 200 nodes zoomed out at 1400x900
   under Xvfb's software renderer.
2. Time to open the 200-node graph (first sync) and one re-sync of all its nodes.
3. graphs/demo.json run in the background (empty cache) while frames keep coming: the longest
   frame during the run (the UI must never block).

Runs under a private Xvfb when $DISPLAY is unset (Xvfb renders with Mesa llvmpipe on the CPU, so
frame times are those of software rendering; the CPU figure is what a GPU does not change).

    python bench/bench_editor.py [--frames N] [--heavy] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "graphs" / "demo.json"


def start_xvfb() -> subprocess.Popen | None:
    if os.environ.get("DISPLAY"):
        return None
    if shutil.which("Xvfb") is None:
        sys.exit("bench_editor: no $DISPLAY and no Xvfb (apt-get install xvfb)")
    r, w = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(r, 16)
        if not chunk:
            break
        data += chunk
    os.close(r)
    number = data.decode().strip()
    sock = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 10
    while number and not sock.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not number or proc.poll() is not None:
        sys.exit("bench_editor: Xvfb did not start")
    os.environ["DISPLAY"] = f":{number}"
    return proc


def synthetic_graph(session, n_nodes: int = 200, n_links: int = 250) -> None:
    """30 text + 30 gradient sources, 70 draw-text (image + text in), 50 change-case, 20 joins of
    3 texts: 200 nodes, 140 + 50 + 60 = 250 links, on a 10-column grid."""
    plan = [("core.text", 30), ("image.gradient", 30), ("image.draw_text", 70), ("core.case", 50), ("core.join_text", 20)]
    ids: dict[str, list[str]] = {}
    k = 0
    for type_id, count in plan:
        for _ in range(count):
            col, row = k % 10, k // 10
            ids.setdefault(type_id, []).append(session.add_node(type_id, (40 + 300 * col, 40 + 280 * row)))
            k += 1
    texts, grads = ids["core.text"], ids["image.gradient"]
    for i, d in enumerate(ids["image.draw_text"]):
        src = grads[i % len(grads)] if i < 30 else ids["image.draw_text"][i - 30]
        assert session.connect(src, "image", d, "image") is None
        assert session.connect(texts[i % len(texts)], "text", d, "text") is None
    for i, c in enumerate(ids["core.case"]):
        assert session.connect(texts[(i * 7) % len(texts)], "text", c, "text") is None
    for i, j in enumerate(ids["core.join_text"]):
        for m in range(3):
            assert session.connect(ids["core.case"][(i * 3 + m) % 50], "text", j, "parts") is None
    assert len(session.node_ids()) == n_nodes and len(session.doc.links()) == n_links, (
        len(session.node_ids()), len(session.doc.links()))


def on_screen(view) -> int:
    """Nodes wholly inside the canvas."""
    w, h = view._canvas_size
    n = 0
    for it in view._nodes.values():
        x0, y0, x1, y1 = it.rect()
        a, b = view.xf.to_local((x0, y0)), view.xf.to_local((x1, y1))
        n += a[0] >= 0 and a[1] >= 0 and b[0] <= w and b[1] <= h
    return n


def ms(x: float) -> float:
    return round(x * 1000, 2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--heavy", action="store_true",
                    help="also run graphs/talking_character.json in the background (about 15 s more)")
    args = ap.parse_args()
    xvfb = start_xvfb()
    tmp = Path(tempfile.mkdtemp(prefix="nodegraph-bench-editor-"))
    os.environ["NODEGRAPH_CACHE_DIR"] = str(tmp / "cache")
    try:
        from nodegraph.editor.app import EditorApp
        from nodegraph.editor.session import EditorSession

        s = EditorSession(config_dir=tmp / "config", output_dir=tmp / "output")
        synthetic_graph(s)
        big = tmp / "big.json"
        s.save_as(big)
        small = tmp / "talking_character.json"
        shutil.copy(ROOT / "graphs" / "talking_character.json", small)
        app = EditorApp(None, session=s, vsync=False)
        app.start()
        out: dict = {"frames": {}, "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}

        def measure(label: str) -> None:
            app.frames(10)  # settle (llvmpipe compiles its shaders on the first frames)
            start = len(app.frame_times)
            app.frames(args.frames)
            ft, cpu, rcpu = app.frame_times[start:], app.cpu_times[start:], app.render_cpu_times[start:]
            q = sorted(ft)
            out["frames"][label] = {"median_ms": ms(statistics.median(ft)), "p90_ms": ms(q[int(len(q) * 0.9)]),
                                    "cpu_median_ms": ms(statistics.median(cpu)), "zoom": round(app.view.zoom, 3),
                                    "render_cpu_median_ms": ms(statistics.median(rcpu)),
                                    "on_screen": on_screen(app.view)}

        app.view.new_file()
        measure("empty graph")  # the window alone: what every other figure includes
        for name, path in (("32 nodes", small), ("200 nodes", big)):
            t = time.perf_counter()
            app.view.open_file(str(path))
            app.frame()  # the first sync draws every node and wire
            if name == "200 nodes":
                out["open_ms"] = ms(time.perf_counter() - t)
                out["graph"] = {"nodes": len(s.node_ids()), "links": len(s.doc.links()),
                                "drawn_nodes": len(app.view._nodes), "drawn_links": len(app.view._wires)}
            app.view.reset_view()  # 100%
            measure(f"{name}, 100%")
            app.view.set_zoom(0.5)
            measure(f"{name}, 50%")
            app.view.fit_all()
            measure(f"{name}, fit all")
        # what one re-sync costs (a run's progress events cause one per frame at most)
        resync = []
        for _ in range(20):
            t = time.perf_counter()
            app.view.sync(states_only=True)
            resync.append(time.perf_counter() - t)
        out["resync_median_ms"] = ms(statistics.median(resync))
        # graphs running in the background while frames keep coming (empty cache)
        runs = [("demo_run", DEMO)] + ([("talking_character_run", ROOT / "graphs" / "talking_character.json")]
                                       if args.heavy else [])
        for name, graph in runs:
            path = graph if name != "demo_run" else tmp / "demo.json"
            if name == "demo_run":
                shutil.copy(DEMO, path)
            app.view.open_file(str(path))
            app.view.reset_view()
            app.frames(10)
            serial = app.view._run_serial
            start = len(app.frame_times)
            t = time.perf_counter()
            app.view.run()
            while app.view._run_serial == serial and time.perf_counter() - t < 300:
                app.frame()
            run_s = time.perf_counter() - t
            ft, cpu = app.frame_times[start:], app.cpu_times[start:]
            out[name] = {"graph": graph.name, "seconds": round(run_s, 3), "frames": len(ft),
                         "longest_frame_ms": ms(max(ft)), "median_frame_ms": ms(statistics.median(ft)),
                         "cpu_worst_ms": ms(max(cpu)), "log": s.log[-1]}
        app.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(10)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    g = out["graph"]
    print(f"load average before: {out['load']}")
    print(f"editor benchmark (vsync off, {args.frames} frames each, canvas {app.view._canvas_size[0]:.0f}x"
          f"{app.view._canvas_size[1]:.0f} in a 1400x900 window)")
    for label, d in out["frames"].items():
        print(f"  {label:<20} zoom {d['zoom']:>5.0%}, {d['on_screen']:>3} nodes on screen: frame median "
              f"{d['median_ms']:5.1f} ms, p90 {d['p90_ms']:5.1f} ms; CPU median: editor {d['cpu_median_ms']:.2f} ms, "
              f"dearpygui render call {d['render_cpu_median_ms']:.1f} ms")
    print(f"  open {g['nodes']} nodes / {g['links']} links (first sync)  {out['open_ms']:8.1f} ms")
    print(f"  re-sync of all 200 nodes {out['resync_median_ms']:8.1f} ms  (once per frame while a run reports progress)")
    for name in ("demo_run", "talking_character_run"):
        d = out.get(name)
        if d:
            print(f"  {d['graph']} running: {d['seconds']:.2f} s, {d['frames']} frames, longest {d['longest_frame_ms']:.1f} ms, "
                  f"median {d['median_frame_ms']:.1f} ms, editor CPU worst {d['cpu_worst_ms']:.1f} ms\n      ({d['log']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
