"""GUI scenarios, each run in its own spawned process (``run_gui`` in gui_harness.py).

Each function opens one editor window on the private X display, drives it with xdotool,
rendering frames between steps, and returns plain data for the test to check. Everything the
window writes goes under the ``tmp`` folder it is given.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import gui_harness as H

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "graphs" / "demo.json"


def _session(tmp: str) -> Any:
    """A session whose settings, outputs and result cache all live under ``tmp``."""
    from nodegraph.cache import Cache
    from nodegraph.editor.session import EditorSession

    t = Path(tmp)
    return EditorSession(cache=Cache(t / "cache"), config_dir=t / "config", output_dir=t / "output")


def _app(path: str | None, tmp: str, session: Any = None, **kw: Any) -> Any:
    from nodegraph.editor.app import EditorApp

    app = EditorApp(path, session=session or _session(tmp), **kw)
    app.start()
    H.use(app)
    H.frames(6)
    return app


def _demo(tmp: str) -> str:
    dst = Path(tmp) / "demo.json"
    shutil.copy(DEMO, dst)
    return str(dst)


def _small_graph(tmp: str) -> str:
    """text, case (unlinked: room for a link), gradient -> save_png (a link to refuse onto)."""
    s = _session(tmp)
    s.add_node("core.text", (30, 40))
    s.add_node("core.case", (360, 40))
    s.add_node("image.gradient", (30, 260))
    s.add_node("image.save_png", (360, 260))
    s.set_param("text", "value", "hello")
    s.connect("gradient", "image", "save_png", "image")
    path = Path(tmp) / "small.json"
    s.save_as(path)
    s.close()
    return str(path)


def _gui_state(app: Any) -> dict:
    import dearpygui.dearpygui as dpg

    v = app.view
    drawn = dpg.get_item_children("ng_nodes_layer", 2)  # one draw node per node on the canvas
    return {"gui_nodes": len(drawn), "gui_links": len(v._wires),
            "labels": sorted(v.node_title(n) for n in v._nodes),
            "doc_nodes": len(app.session.node_ids()), "doc_links": len(app.session.doc.links())}


def _inside_canvas(v: Any) -> dict:
    """Which nodes lie wholly inside the canvas on screen."""
    cx, cy, cw, ch = v.canvas_rect()
    out = {}
    for nid in v._nodes:
        x0, y0, x1, y1 = v.node_screen_rect(nid)
        out[nid] = cx <= x0 and cy <= y0 and x1 <= cx + cw and y1 <= cy + ch
    return out


def _links(s: Any) -> list[tuple[str, str, str, str]]:
    return sorted((l.src, l.src_port, l.dst, l.dst_port) for l in s.doc.links())


# == (a) open the demo and take a screenshot ==========================================================
def screenshot_demo(tmp: str) -> dict:
    import dearpygui.dearpygui as dpg

    app = _app(_demo(tmp), tmp)
    try:
        app.frames(20)
        shot = Path(tmp) / "demo.png"
        ok = app.screenshot(shot)
        v = app.view
        on_screen = sum(_inside_canvas(v).values())
        return {"png": str(shot), "written": ok, "on_screen": on_screen, "title": app.session.title,
                "status": {nid: dpg.get_item_configuration(it.status)["text"] for nid, it in v._nodes.items()},
                **_gui_state(app)}
    finally:
        app.close()


# == (b) link by dragging pins; a wrong link is refused ==============================================
def drag_links(tmp: str) -> dict:
    import dearpygui.dearpygui as dpg

    app = _app(_small_graph(tmp), tmp)
    s, v = app.session, app.view
    try:
        before = _links(s)
        H.drag(H.pin_xy("text", "out", "text"), H.pin_xy("case", "in", "text"))
        after_good = _links(s)
        gui_after_good = len(v._wires)
        H.drag(H.pin_xy("text", "out", "text"), H.pin_xy("save_png", "in", "image"))
        app.frames(3)
        out = {"before": before, "after_good": after_good, "gui_after_good": gui_after_good,
               "after_bad": _links(s), "gui_after_bad": len(v._wires),
               "status": dpg.get_value("ng_status"), "log": list(s.log)}
        # drag a node by its title: the document gets the new position (one undo step)
        pos0 = tuple(s.doc.layout["gradient"]["pos"])
        undo0 = len(s.history.undo_stack)
        x, y = H.title_xy("gradient")
        H.drag((x, y), (x + 100, y + 60))
        H.wait_until(lambda: tuple(s.doc.layout["gradient"]["pos"]) != pos0, 5)
        out["moved"] = (pos0, tuple(s.doc.layout["gradient"]["pos"]))
        out["zoom"] = v.zoom
        out["undo_steps"] = len(s.history.undo_stack) - undo0
        # teaching mode: F10 computes the next node in order and highlights it and its wire
        H.xdo("mousemove", int(x + 400), int(y + 250))
        H.key("F10")
        H.wait_until(lambda: v._run_serial >= 1, 30)
        app.frames(3)
        out["step"] = (v._step_hl, {n: s.node_view(n).state for n in s.node_ids()})
        # drag the wire's input end off the pin onto empty canvas: the link goes
        ex, ey, ew, eh = v.canvas_rect()
        H.drag(H.pin_xy("case", "in", "text"), (ex + ew - 250, ey + eh - 200))
        out["detached"] = _links(s)
        return out
    finally:
        app.close()


# == (c) + (e) edit a param in the inspector; undo and redo ===========================================
def _select(v: Any, nid: str) -> None:
    H.click(*H.title_xy(nid))
    H.wait_until(lambda: v.inspected == nid and v.param_widget("value") is not None, 10)
    H.frames(3)


def _edit_value(v: Any, text: str) -> None:
    H.click(*H.item_center(v.param_widget("value")))
    H.key("ctrl+a")
    H.type_text(text)
    H.key("Return")


def inspector_edit(tmp: str) -> dict:
    import dearpygui.dearpygui as dpg

    app = _app(_small_graph(tmp), tmp)
    s, v = app.session, app.view
    try:
        _select(v, "text")
        before = s.doc.params("text")["value"]
        _edit_value(v, "world")
        H.wait_until(lambda: s.doc.params("text").get("value") == "world", 5)
        app.frames(4)
        return {"before": before, "after": s.doc.params("text").get("value"),
                "node_label": v.node_text("text", "value"),
                "widget": dpg.get_value(v.param_widget("value")), "dirty": s.dirty, "title": s.title}
    finally:
        app.close()


def undo_redo(tmp: str) -> dict:
    import dearpygui.dearpygui as dpg

    app = _app(_small_graph(tmp), tmp)
    s, v = app.session, app.view
    try:
        _select(v, "text")
        _edit_value(v, "changed")
        H.wait_until(lambda: s.doc.params("text").get("value") == "changed", 5)
        edited = s.doc.params("text").get("value")
        x0, y0, x1, y1 = H.node_box("case")
        H.xdo("mousemove", int(x1 + 120), int(y1 + 80))  # over the empty canvas
        app.frames(3)
        H.key("ctrl+z")
        H.wait_until(lambda: s.doc.params("text").get("value") == "hello", 5)
        app.frames(4)
        undone = {"doc": s.doc.params("text").get("value"), "widget": dpg.get_value(v.param_widget("value")),
                  "node_label": v.node_text("text", "value")}
        H.key("ctrl+y")
        app.frames(4)
        return {"edited": edited, "undone": undone, "redone": s.doc.params("text").get("value")}
    finally:
        app.close()


# == (d) run: states, cache, and frames keep coming ===================================================
def run_demo(tmp: str) -> dict:
    import dearpygui.dearpygui as dpg

    app = _app(_demo(tmp), tmp)
    s, v = app.session, app.view
    try:
        out: dict[str, Any] = {}
        for attempt in ("first", "second"):
            serial = v._run_serial
            start = len(app.frame_times)
            H.click(*H.item_center("ng_run"))
            H.wait_until(lambda: v._run_serial > serial, 60)
            app.frames(4)
            times = app.frame_times[start:]
            out[attempt] = {
                "states": {n: s.node_view(n).state for n in s.node_ids()},
                "gui_status": {nid: it.shown["status"] for nid, it in v._nodes.items()},
                "frames": len(times), "longest": max(times), "log": s.log[-1],
            }
        out["outputs"] = sorted(p.name for p in (Path(tmp) / "output").glob("*"))
        return out
    finally:
        app.close()


# == (f) a broken file shows the error and keeps the document =========================================
def open_broken(tmp: str) -> dict:
    import dearpygui.dearpygui as dpg
    from nodegraph.fileformat import dumps

    app = _app(_demo(tmp), tmp)
    s, v = app.session, app.view
    try:
        before, path_before = dumps(s.doc), s.path
        bad = Path(tmp) / "broken.json"
        bad.write_text('{"format": "nodegraph", "nodes": {"a": ', encoding="utf-8")
        ok = v.open_file(str(bad))
        app.frames(5)
        shown = dpg.is_item_shown("ng_error")
        text = dpg.get_value("ng_error_text")
        H.click(*H.item_center("ng_error_ok"))
        app.frames(3)
        out = {"ok": ok, "shown": shown, "text": text, "closed": not dpg.is_item_shown("ng_error"),
               "same_doc": dumps(s.doc) == before, "same_path": s.path == path_before,
               "status": dpg.get_value("ng_status"), "gui_nodes": _gui_state(app)["gui_nodes"]}
        # closing with unsaved work asks first: Cancel keeps the window, Discard closes it
        s.set_param("title", "value", "unsaved")
        app.frames(2)
        v.request_close()
        app.frames(3)
        out["asked"] = dpg.is_item_shown("ng_confirm")
        H.click(*H.item_center("ng_confirm_cancel"))
        out["still_open"] = dpg.is_dearpygui_running() and not dpg.is_item_shown("ng_confirm")
        v.request_close()
        app.frames(3)
        H.click(*H.item_center("ng_confirm_discard"))
        out["closed_window"] = not dpg.is_dearpygui_running()
        return out
    finally:
        app.close()


# == (g) kill and recover ============================================================================
def edit_and_wait_for_kill(path: str, tmp: str, queue: Any) -> None:
    """Edit, let the periodic autosave run, report, then keep rendering until killed."""
    app = _app(path, tmp, autosave_every=0.2)
    s = app.session
    s.set_param("text", "value", "unsaved work")
    H.wait_until(lambda: s.autosave_path().exists(), 20)
    queue.put({"autosave": str(s.autosave_path()), "dirty": s.dirty})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the test kills us long before this
        app.frame()


def recover_after_kill(path: str, tmp: str) -> dict:
    import dearpygui.dearpygui as dpg

    app = _app(path, tmp)
    s = app.session
    try:
        offered = dpg.is_item_shown("ng_recover")
        before = s.doc.params("text").get("value")
        H.click(*H.item_center("ng_recover_yes"))
        app.frames(4)
        return {"offered": offered, "before": before, "after": s.doc.params("text").get("value"),
                "dirty": s.dirty, "title": s.title, "label": app.view.node_text("text", "value")}
    finally:
        app.close()


def small_graph_file(tmp: str) -> str:
    return _small_graph(tmp)


# == (h) keyboard: palette, duplicate, copy/paste, delete a linked node ===============================
def keyboard_editing(tmp: str) -> dict:
    import dearpygui.dearpygui as dpg

    app = _app(_demo(tmp), tmp)
    s, v = app.session, app.view
    try:
        out: dict[str, Any] = {}
        ex, ey, _, _ = v.canvas_rect()
        H.xdo("mousemove", int(ex + 700), int(ey + 560))  # an empty spot of the canvas
        app.frames(3)
        H.key("ctrl+space")
        out["palette_open"] = dpg.is_item_shown("ng_palette")
        H.type_text("solid")
        H.key("Return")
        added = sorted(set(s.node_ids()) - {"background", "credits", "draw_subtitle", "draw_title", "save_card",
                                             "save_credits", "subtitle", "title"})
        out["added"] = [(n, s.doc.type_of(n), s.doc.layout.get(n, {}).get("pos")) for n in added]
        out["palette_closed"] = not dpg.is_item_shown("ng_palette")
        # select a linked node (draw_title: 2 links in, 1 out), duplicate it, delete it
        H.click(*H.title_xy("draw_title"))
        out["selected"] = v.selected_ids()
        n0 = len(s.node_ids())
        H.key("ctrl+d")
        out["after_duplicate"] = len(s.node_ids()) - n0
        H.click(*H.title_xy("draw_title"))
        H.key("ctrl+c")
        H.xdo("mousemove", int(ex + 300), int(ey + 600))  # paste lands under the mouse, away from draw_title
        app.frames(3)
        H.key("ctrl+v")
        out["after_paste"] = len(s.node_ids()) - n0
        H.click(*H.title_xy("draw_title"))
        H.key("Delete")
        app.frames(5)
        out["deleted"] = "draw_title" not in s.node_ids()
        out["links_left"] = [l for l in _links(s) if "draw_title" in (l[0], l[2])]
        out.update(_gui_state(app))
        H.key("ctrl+z")
        out["restored"] = "draw_title" in s.node_ids() and len(s.doc.links_into("draw_title")) == 2
        out["after_undo"] = _gui_state(app)
        return out
    finally:
        app.close()


# == headless: the view's bookkeeping without a display ==============================================
def headless_sync(tmp: str) -> dict:
    """Build the view with no viewport, drive it through its callbacks, compare with the session."""
    import os

    import dearpygui.dearpygui as dpg
    from nodegraph.editor.view import GraphView

    os.environ.pop("DISPLAY", None)
    s = _session(tmp)
    s.open(_small_graph(tmp))
    dpg.create_context()
    try:
        v = GraphView(s)
        v.build()
        v.sync()
        out: dict[str, Any] = {"start": (len(v._nodes), len(v._links))}
        v.link("text", "text", "case", "text")
        v.sync()
        out["linked"] = _links(s)
        out["gui_links"] = len(v._wires)
        v.link("text", "text", "save_png", "image")
        out["refused"] = dpg.get_value("ng_status")
        v.open_menu_for(("pin", "case", "in", "text"), (10.0, 10.0))  # right click on the input pin
        out["pin_menu"] = v.menu_labels()
        v.menu_choose("Disconnect")
        v.sync()
        out["unlinked"] = _links(s)
        s.set_param("gradient", "width", 640)
        s.set_collapsed("case", True)
        v.sync()
        out["label"] = v.node_text("gradient", "width")
        out["folded_pins"] = sorted(v._nodes["case"].pins)
        s.remove_nodes(["gradient"])
        v.sync()
        out["after_delete"] = (sorted(v._nodes), len(dpg.get_item_children("ng_nodes_layer", 2)), len(v._wires))
        s.undo()
        v.sync()
        out["after_undo"] = (sorted(v._nodes), len(v._wires))
        s.save_as(Path(tmp) / "saved.json")
        v.sync()
        v.fit_all()
        v.set_zoom(2.5, (100.0, 100.0))
        v.pan_by(40, -30)
        v.select(["text", "case"])
        v.fit_selection()
        v.minimap_jump((v.minimap_rect()[0] + 20, v.minimap_rect()[1] + 20))
        v.reset_view()
        v.sync()
        out["clean_after_view"] = (not s.dirty, s.title)
        return out
    finally:
        dpg.destroy_context()
        s.close()
