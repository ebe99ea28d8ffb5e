"""The newcomer's path through the editor, for real, in one window (issue 14's must-show test).

The README tells a newcomer ``nodegraph new scene.json --template talking_character`` in an
empty folder, then ``nodegraph edit scene.json``. From there, in ONE window driven with xdotool
(see gui_harness.py): fit all (F), zoom with the wheel and back, drop a wire from an output on
empty canvas and pick a compatible node in the search, set a background picture through the
inspector's Browse button and the real file dialog, run (F5), save (Ctrl+S); then the graph's
folder (graph, assets, all) is moved elsewhere, the moved graph opened in the same window and run
again: the same decoded video frames, and ``nodegraph validate`` passes on the moved graph.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from gui_harness import run_gui, xvfb  # noqa: F401  (fixtures)

from nodegraph.cli import main

MOVIE = "talking_character.mp4"


def video_digest(path: Path) -> tuple[int, str]:
    """(frames, BLAKE2 of the decoded RGB frames): the pictures, whatever the container holds."""
    import av

    h, n = hashlib.blake2b(), 0
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            h.update(f.to_ndarray(format="rgb24").tobytes())
            n += 1
    return n, h.hexdigest()


def newcomer_window(graph: str, moved: str, tmp: str) -> dict:
    """Scenario (spawned process): ``nodegraph edit scene.json`` and a newcomer's first steps."""
    import time

    import dearpygui.dearpygui as dpg

    import gui_harness as H
    from gui_scenarios import _empty_point, _inside_canvas
    from nodegraph.cache import Cache
    from nodegraph.editor.app import EditorApp
    from nodegraph.editor.session import EditorSession
    from nodegraph.types import can_connect

    t = Path(tmp)
    # as ``nodegraph edit scene.json`` opens it, except that settings and cache live under tmp;
    # outputs go where the editor puts them by default: ``output/`` beside the graph
    session = EditorSession(cache=Cache(t / "cache"), config_dir=t / "config")
    app = EditorApp(graph, session=session)
    app.start()
    H.use(app)
    H.frames(10)
    s, v = app.session, app.view
    out: dict[str, Any] = {"opened": (str(s.path), s.dirty), "t": {}}
    t0 = time.monotonic()

    def lap(name: str) -> None:
        out["t"][name] = round(time.monotonic() - t0, 1)

    def run_and_wait() -> dict:
        serial = v._run_serial
        H.click(*H.item_center("ng_run"))  # the toolbar's Run (F5)
        try:
            H.wait_until(lambda: v._run_serial > serial and not s.running, 60)
        except TimeoutError:
            dpg.output_frame_buffer(file=str(t / "run_timeout.png"))
            H.frames(10)
            raise AssertionError(f"the run did not end: {dpg.get_value('ng_status')!r} {s.log[-3:]}")
        H.frames(4)
        return {n: s.node_view(n).state for n in s.node_ids()}

    try:
        ex, ey, ew, eh = v.canvas_rect()
        # -- fit all (F): every node inside the canvas, drawn; a screenshot ----------------------
        H.xdo("mousemove", int(ex + ew / 2), int(ey + eh / 2))
        H.frames(2)
        H.key("f")
        H.frames(4)
        out["canvas"] = v.canvas_rect()
        out["boxes"] = {n: v.node_screen_rect(n) for n in v._nodes}
        out["inside"] = _inside_canvas(v)
        shot = t / "fitted.png"
        out["png"] = str(shot) if app.screenshot(shot) else None
        out["fit_zoom"] = v.zoom
        lap("fit")
        # -- the wheel: in and out again, around the same point; the file stays clean -----------
        p = _empty_point(v)
        z0 = v.zoom
        H.wheel(*p, 3)
        z_in = v.zoom
        H.wheel(*p, -3)
        out["wheel"] = (z0, z_in, v.zoom)
        out["dirty_after_view"] = (s.dirty, dpg.get_viewport_title())
        lap("wheel")
        # -- a wire from line_1's text dropped on empty canvas: the search, then "case" ---------
        H.wheel(*H.title_xy("line_1"), 4)  # near enough to show pins
        before = set(s.node_ids())
        drop = _empty_point(v)
        H.drag(H.pin_xy("line_1", "out", "text"), drop)
        text_t = s.registry.get("core.text").output_port("text").type.vtype
        listed = v.palette_types()
        out["search"] = {
            "open": dpg.is_item_shown("ng_palette"), "listed": listed,
            "all_compatible": all(any(can_connect(text_t, p.type.vtype) for p in s.registry.get(t).inputs)
                                  for t in listed),
            "expected": sorted(sp.id for sp in s.registry if any(can_connect(text_t, p.type.vtype) for p in sp.inputs)),
            "all_types": len(list(s.registry))}
        H.type_text("case")
        H.key("Return")
        H.frames(4)
        new = sorted(set(s.node_ids()) - before)
        out["added"] = [(n, s.doc.type_of(n)) for n in new]
        out["linked"] = [(l.src, l.src_port, l.dst, l.dst_port) for n in new for l in s.doc.links_into(n)]
        lap("wire_drop")
        # -- the park background of shot 2 becomes the studio: Browse, click the file, OK --------
        H.xdo("mousemove", *map(int, _empty_point(v)))
        H.key("f")
        H.click(*H.title_xy("bg_park"))
        H.wait_until(lambda: v.inspected == "bg_park" and v.param_widget("path") is not None, 10)
        H.frames(3)
        field = v.param_widget("path")
        browse = [b for b in dpg.get_item_children(dpg.get_item_parent(field), 1)
                  if dpg.get_item_label(b) == "Browse"][0]
        H.click(*H.item_center(browse))
        H.frames(10)
        out["dialog_shown"] = dpg.is_item_shown("ng_path_dialog")
        dpg.output_frame_buffer(file=str(t / "dialog.png"))
        H.frames(4)
        # the modal dialog (760x460) is centred; it opened in the current file's folder
        # (assets/backgrounds: the dialog lists studio.png, then park.png)
        x = (dpg.get_viewport_client_width() - 760) / 2
        y = (dpg.get_viewport_client_height() - 460) / 2
        H.click(x + 80, y + 107)  # the first row: studio.png
        H.click(x + 22, y + 443)  # OK
        H.frames(6)
        out["path_value"] = s.doc.params("bg_park")["path"]
        out["dialog_closed"] = not dpg.is_item_shown("ng_path_dialog")
        lap("browse")
        # -- run (F5), then save (Ctrl+S) ---------------------------------------------------------
        out["first_states"] = run_and_wait()
        out["first_outputs"] = sorted(p.name for p in (Path(graph).parent / "output").glob("*"))
        out["first_digest"] = video_digest(Path(graph).parent / "output" / MOVIE)
        lap("run")
        H.xdo("mousemove", *map(int, _empty_point(v)))
        H.key("ctrl+s")
        H.frames(4)
        out["saved"] = (s.dirty, dpg.get_viewport_title())
        lap("save")
        # -- the folder moves (graph, assets, output); the moved graph opens in the same window ---
        shutil.move(str(Path(graph).parent), moved)
        shutil.rmtree(Path(moved) / "output")  # the second run must write its own
        mg = Path(moved) / Path(graph).name
        out["reopened"] = v.open_file(str(mg))  # what File > Open does with the chosen file
        H.frames(6)
        out["reopened_doc"] = (str(s.path), s.dirty, s.doc.params("bg_park")["path"], len(s.node_ids()))
        out["second_states"] = run_and_wait()
        out["second_outputs"] = sorted(p.name for p in (Path(moved) / "output").glob("*"))
        out["second_digest"] = video_digest(Path(moved) / "output" / MOVIE)
        out["status"] = dpg.get_value("ng_status")
        lap("moved_run")
        return out
    finally:
        app.close()


def test_newcomer_path_template_edit_run_save_move_run(run_gui, tmp_path):
    proj = tmp_path / "my_first_film"
    proj.mkdir()
    # what the README tells a newcomer, in an empty folder
    made = subprocess.run([sys.executable, "-m", "nodegraph", "new", "scene.json", "--template", "talking_character"],
                          cwd=proj, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    graph = proj / "scene.json"
    moved = tmp_path / "elsewhere" / "film_moved"
    moved.parent.mkdir()

    r = run_gui(newcomer_window, str(graph), str(moved), str(tmp_path), timeout=300)
    print("seconds since the window opened:", r["t"])
    assert r["opened"] == (str(graph), False)

    # fit all: every one of the 32 nodes inside the canvas, where the screenshot shows a title bar
    cx, cy, cw, ch = r["canvas"]
    assert len(r["boxes"]) == 32 and all(r["inside"].values())
    for nid, (x0, y0, x1, y1) in r["boxes"].items():
        assert cx <= x0 < x1 <= cx + cw and cy <= y0 < y1 <= cy + ch, nid
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(r["png"]).convert("RGB")).astype(int)
    assert img.std() > 10  # not blank
    for nid, (x0, y0, x1, y1) in r["boxes"].items():  # a stale node's grey title bar
        bar = img[int(y0) + 1:int(y0) + 3, int(x0) + 2:int(x1) - 2]
        assert bar.size and abs(bar.mean() - 90) < 25, nid

    # the wheel zoomed in, then back to where it was; nothing of the file changed
    z0, z_in, z1 = r["wheel"]
    assert z_in > z0 * 1.4 and abs(z1 - z0) < 1e-6 * z0
    assert r["dirty_after_view"] == (False, "scene.json - nodegraph")

    # the wire dropped on empty canvas: only node types that take text, then the chosen one, linked
    search = r["search"]
    assert search["open"] and search["all_compatible"]
    assert sorted(search["listed"]) == search["expected"] and len(search["listed"]) < search["all_types"]
    assert "core.case" in search["listed"] and "timeline.timeline" not in search["listed"]
    assert r["added"] == [("case", "core.case")]
    assert r["linked"] == [("line_1", "text", "case", "text")]

    # the real file dialog: the picked file, stored relative to the graph
    assert r["dialog_shown"] and r["dialog_closed"], tmp_path / "dialog.png"
    assert r["path_value"] == "assets/backgrounds/studio.png", tmp_path / "dialog.png"

    # the run wrote the movie and the timeline beside the graph; every node the outputs need computed (bg_studio: the same file as bg_park now, cached);
    # the new case node, which no output needs, is stale (not left "queued" after the run ended)
    assert r["first_states"].pop("case") == "stale" and set(r["first_states"].values()) <= {"computed", "cached"}
    assert r["first_states"]["bg_park"] == r["first_states"]["save_movie"] == "computed"
    assert r["first_outputs"] == ["talking_character.mp4", "talking_character.otio"]
    assert r["saved"] == (False, "scene.json - nodegraph")

    # the moved folder: opened, the same graph (the picked file still found), the same pictures
    mg = moved / "scene.json"
    assert not proj.exists() and (moved / "assets" / "backgrounds" / "studio.png").is_file()
    assert r["reopened"] is True
    assert r["reopened_doc"] == (str(mg), False, "assets/backgrounds/studio.png", 33)
    assert r["second_states"].pop("case") == "stale"
    assert set(r["second_states"].values()) <= {"computed", "cached"}  # the moved files have the same content
    assert r["second_outputs"] == ["talking_character.mp4", "talking_character.otio"]
    assert main(["validate", str(mg)]) == 0
    # the same decoded frames as before the move (16 s at 24 fps)
    assert r["first_digest"][0] == 384 and r["second_digest"] == r["first_digest"]
    # and computed from scratch from the moved folder alone (no cache): the same frames again
    assert main(["run", str(mg), "-o", str(tmp_path / "fresh"), "-q", "--no-cache"]) == 0
    assert video_digest(tmp_path / "fresh" / MOVIE) == r["first_digest"]
