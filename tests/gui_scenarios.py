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


# == the canvas: navigation, wire-drop search, menus, renaming, tooltips, teaching ====================
TALKING = ROOT / "graphs" / "talking_character.json"


def _empty_point(v: Any, avoid_minimap: bool = True) -> tuple[float, float]:
    """A screen point over empty canvas (nothing under it), away from the edges."""
    ex, ey, ew, eh = v.canvas_rect()
    for fy in (0.85, 0.7, 0.55, 0.4, 0.25, 0.1):
        for fx in (0.1, 0.3, 0.5, 0.7, 0.9):
            p = (ex + ew * fx, ey + eh * fy)
            if v.hit(p) == ("empty",):
                return p
    raise AssertionError("no empty spot on the canvas")


def _menu_click(label: str) -> None:
    import dearpygui.dearpygui as dpg

    for item in dpg.get_item_children("ng_ctx", 1):
        if dpg.get_item_label(item) == label:
            H.click(*H.item_center(item))
            return
    raise AssertionError(f"no menu item {label!r}")


def _saved_template(tmp: str) -> str:
    """talking_character.json saved beside copies of its assets (so the saved copy is clean)."""
    t = Path(tmp)
    shutil.copytree(ROOT / "assets", t / "assets")
    (t / "graphs").mkdir()
    dst = t / "graphs" / "talking_character.json"
    shutil.copy(TALKING, dst)
    return str(dst)


def navigate(tmp: str) -> dict:
    """Fit all (F), wheel zoom around the cursor, zoom limits, middle-drag and space+drag pans,
    selection, box select, fit selection and overview clicks: none of it dirties the document."""
    import dearpygui.dearpygui as dpg

    app = _app(_saved_template(tmp), tmp)
    s, v = app.session, app.view
    try:
        out: dict[str, Any] = {"opened_dirty": s.dirty, "undo0": len(s.history.undo_stack)}
        ex, ey, ew, eh = v.canvas_rect()
        v.set_zoom(1.0)
        app.frames(3)
        out["inside_at_100"] = sum(_inside_canvas(v).values())
        H.xdo("mousemove", int(ex + ew / 2), int(ey + eh / 2))
        app.frames(2)
        H.key("f")
        app.frames(4)
        out["fit_zoom"] = v.zoom
        out["inside_after_fit"] = _inside_canvas(v)
        out["canvas"] = v.canvas_rect()
        out["boxes"] = {n: v.node_screen_rect(n) for n in v._nodes}
        shot = Path(tmp) / "fit_all.png"
        out["png"] = str(shot) if app.screenshot(shot) else None
        # the wheel zooms around the cursor: the graph point under it stays put
        p = (int(ex + ew * 0.37), int(ey + eh * 0.41))
        g0 = v.to_graph(p)
        z0 = v.zoom
        H.wheel(*p, 3)
        out["wheel_in"] = (z0, v.zoom, g0, v.to_graph(p))
        H.wheel(*p, -2)
        out["wheel_out"] = (v.zoom, v.to_graph(p))
        H.wheel(*p, 40)
        out["max_zoom"] = v.zoom
        H.wheel(*p, -60)
        out["min_zoom"] = v.zoom
        v.set_zoom(1.0)
        app.frames(3)
        # middle drag and space + left drag pan by what the mouse moved
        e = _empty_point(v)
        pan0 = v.xf.pan
        H.drag(e, (e[0] + 120, e[1] - 70), button=2)
        out["middle_pan"] = (v.xf.pan[0] - pan0[0], v.xf.pan[1] - pan0[1])
        e = _empty_point(v)
        pan0 = v.xf.pan
        H.xdo("keydown", "space")
        app.frames(3)
        H.drag(e, (e[0] - 90, e[1] + 40))
        H.xdo("keyup", "space")
        app.frames(3)
        out["space_pan"] = (v.xf.pan[0] - pan0[0], v.xf.pan[1] - pan0[1])
        # click, shift-click and box selection; fit selection
        H.key("f")
        H.click(*H.title_xy("speak_1"))
        out["click_select"] = v.selected_ids()
        H.xdo("keydown", "shift")
        H.click(*H.title_xy("speak_2"))
        H.xdo("keyup", "shift")
        out["shift_select"] = v.selected_ids()
        H.key("shift+f")
        app.frames(3)
        inside = _inside_canvas(v)
        out["fit_selection"] = (inside["speak_1"], inside["speak_2"], v.zoom)
        H.key("f")
        x0, y0, x1, y1 = v.node_screen_rect("mira_body")
        a = (x0 - 12, y0 - 8)
        b = (x1 + 4, y1 + 4)
        if v.hit(a) != ("empty",):
            a = _empty_point(v)
        H.drag(a, b)
        out["box_select"] = v.selected_ids()
        # a click on the overview moves the view only
        mx0, my0, mx1, my1 = v.minimap_rect()
        pan0 = v.xf.pan
        H.click(ex + mx0 + 30, ey + my0 + 30)
        out["minimap_moved"] = v.xf.pan != pan0
        H.click(*_empty_point(v))
        out["cleared"] = v.selected_ids()
        v.go_to("render")
        app.frames(3)
        out["went_to"] = (_inside_canvas(v)["render"], v.selected_ids())
        # the canvas follows the window's size
        w0 = v.canvas_rect()[2:]
        dpg.set_viewport_width(1200)
        dpg.set_viewport_height(760)
        app.frames(8)
        w1 = v.canvas_rect()[2:]
        H.xdo("mousemove", int(ex + 300), int(ey + 300))
        H.key("f")
        out["resized"] = (w0, w1, all(_inside_canvas(v).values()))
        app.frames(3)
        out["dirty"] = s.dirty
        out["undo1"] = len(s.history.undo_stack)
        out["title"] = dpg.get_viewport_title()
        return out
    finally:
        app.close()


def wire_drop_search(tmp: str) -> dict:
    """Drop a wire from an output on empty canvas: the search lists only node types with an input
    that takes it; choosing one adds it there and links it."""
    import dearpygui.dearpygui as dpg
    from nodegraph.types import can_connect

    app = _app(_small_graph(tmp), tmp)
    s, v = app.session, app.view
    try:
        before = set(s.node_ids())
        drop = _empty_point(v)
        H.drag(H.pin_xy("text", "out", "text"), drop)
        out: dict[str, Any] = {"open": dpg.is_item_shown("ng_palette"), "listed": v.palette_types()}
        text_t = s.registry.get("core.text").output_port("text").type.vtype
        out["all_compatible"] = all(any(can_connect(text_t, p.type.vtype) for p in s.registry.get(t).inputs)
                                    for t in out["listed"])
        out["all_types"] = len(list(s.registry))
        out["expected"] = sorted(sp.id for sp in s.registry if any(can_connect(text_t, p.type.vtype) for p in sp.inputs))
        H.type_text("case")
        out["after_query"] = v.palette_types()
        H.key("Return")
        app.frames(4)
        new = sorted(set(s.node_ids()) - before)
        out["new"] = [(n, s.doc.type_of(n)) for n in new]
        out["links_in"] = [(l.src, l.src_port, l.dst_port) for n in new for l in s.doc.links_into(n)]
        out["at"] = (v.to_graph(drop), s.doc.layout.get(new[0], {}).get("pos") if new else None)
        out["palette_closed"] = not dpg.is_item_shown("ng_palette")
        # the other way: from an unlinked input to empty canvas lists the types that can feed it
        before = set(s.node_ids())
        H.drag(H.pin_xy("case", "in", "text"), _empty_point(v))
        listed = v.palette_types()
        text_in = s.registry.get("core.case").input("text").type.vtype
        out["feeders"] = (len(listed), all(any(can_connect(o.type.vtype, text_in) for o in s.registry.get(t).outputs)
                                           for t in listed), "image.gradient" in listed)
        H.type_text("core text")
        H.key("Return")
        app.frames(4)
        new = sorted(set(s.node_ids()) - before)
        out["fed"] = [(n, s.doc.type_of(n)) for n in new] + [(l.src, l.src_port) for l in s.doc.links_into("case")]
        return out
    finally:
        app.close()


def context_menus(tmp: str) -> dict:
    """Right-click menus on a node, a pin and the canvas, chosen with real clicks."""
    import dearpygui.dearpygui as dpg

    app = _app(_small_graph(tmp), tmp)
    s, v = app.session, app.view
    try:
        out: dict[str, Any] = {}
        H.click(*H.title_xy("gradient"), button=3)
        out["node_menu"] = v.menu_labels()
        n0 = len(s.node_ids())
        _menu_click("Duplicate")
        out["duplicated"] = len(s.node_ids()) - n0
        H.click(*H.title_xy("gradient"), button=3)
        _menu_click("Help")
        app.frames(3)
        out["help"] = (dpg.is_item_shown("ng_node_help"),
                       " ".join(str(dpg.get_value(c)) for c in dpg.get_item_children("ng_node_help", 1)))
        dpg.configure_item("ng_node_help", show=False)
        app.frames(2)
        H.click(*H.pin_xy("save_png", "in", "image"), button=3)
        out["pin_menu"] = v.menu_labels()
        _menu_click("Disconnect")
        out["links_after_disconnect"] = _links(s)
        e = _empty_point(v)
        H.click(*e, button=3)
        out["canvas_menu"] = v.menu_labels()
        _menu_click("Add node...")
        out["palette"] = dpg.is_item_shown("ng_palette")
        H.type_text("solid")
        H.key("Return")
        app.frames(3)
        added = [n for n in s.node_ids() if s.doc.type_of(n) == "image.solid"]
        out["added_at"] = (v.to_graph(e), s.doc.layout[added[0]]["pos"] if added else None)
        # the fold triangle folds a node; a clicked wire is selected and Delete removes it
        x0, y0, _x1, _y1 = v.node_screen_rect("case")
        sc = v.xf.scale
        H.click(x0 + 10 * sc, y0 + 12 * sc)
        out["folded"] = s.node_view("case").collapsed
        s.connect("text", "text", "case", "text")
        app.frames(3)
        pts = v.wire_points(("text", "text", "case", "text"))
        H.click(*v.to_screen(pts[len(pts) // 3]))
        out["wire_selected"] = list(v._sel_links)
        H.key("Delete")
        out["wire_deleted"] = ("text", "text", "case", "text") not in _links(s)
        H.click(*H.title_xy("text"), button=3)
        _menu_click("Delete")
        out["deleted"] = "text" not in s.node_ids()
        H.click(*_empty_point(v), button=3)
        _menu_click("Fit all")
        out["inside_after_fit"] = all(_inside_canvas(v).values())
        return out
    finally:
        app.close()


def rename_in_place(tmp: str) -> dict:
    """Double-click a group's title bar and a node's title: type the new name, Enter."""
    import dearpygui.dearpygui as dpg

    app = _app(_demo(tmp), tmp)
    s, v = app.session, app.view
    try:
        out: dict[str, Any] = {"before": s.doc.groups["words"]["title"]}
        _t, (x0, y0, x1, _y1) = v._group_boxes["words"]
        p = v.to_screen((x0 + 60, y0 + 10))
        H.xdo("mousemove", int(p[0]), int(p[1]))
        app.frames(3)
        H.xdo("click", "--repeat", "2", "--delay", "40", "1")
        app.frames(6)
        out["entry"] = dpg.is_item_shown("ng_rename")
        H.key("ctrl+a")
        H.type_text("Titles")
        H.key("Return")
        app.frames(4)
        out["group_title"] = s.doc.groups["words"]["title"]
        out["frame_title"] = v._group_boxes["words"][0]
        # dragging a group's title bar moves its nodes (one undo step)
        before = {n: tuple(s.doc.layout[n]["pos"]) for n in ("title", "subtitle")}
        steps = len(s.history.undo_stack)
        _t, (x0, y0, x1, _y1) = v._group_boxes["words"]
        p = v.to_screen((x0 + 120, y0 + 10))
        H.drag(p, (p[0] + 50, p[1] + 30))
        out["group_moved"] = ({n: (s.doc.layout[n]["pos"][0] - b[0], s.doc.layout[n]["pos"][1] - b[1])
                               for n, b in before.items()}, len(s.history.undo_stack) - steps, v.zoom)
        p = H.title_xy("credits")
        H.xdo("mousemove", int(p[0]), int(p[1]))
        app.frames(3)
        H.xdo("click", "--repeat", "2", "--delay", "40", "1")
        app.frames(6)
        H.key("ctrl+a")
        H.type_text("Roll")
        H.key("Return")
        app.frames(4)
        out["label"] = s.doc.node("credits").get("label")
        out["title"] = v.node_title("credits")
        s.undo()
        app.frames(3)
        out["undone"] = s.doc.node("credits").get("label")
        return out
    finally:
        app.close()


def tooltips_and_reroute(tmp: str) -> dict:
    """Hover a pin: its tooltip; double-click a wire: a reroute point, saved and read back."""
    import dearpygui.dearpygui as dpg
    from nodegraph.fileformat import load

    app = _app(_small_graph(tmp), tmp)
    s, v = app.session, app.view
    try:
        out: dict[str, Any] = {}
        p = H.pin_xy("text", "in", "value")
        H.xdo("mousemove", int(p[0]), int(p[1]))
        H.wait_until(lambda: dpg.is_item_shown("ng_pin_tip"), 5)
        out["tip_param"] = " ".join(str(dpg.get_value(c)) for c in dpg.get_item_children("ng_pin_tip", 1))
        p = H.pin_xy("gradient", "out", "image")
        H.xdo("mousemove", int(p[0]), int(p[1]) + 1)
        app.frames(2)
        H.xdo("mousemove", int(p[0]), int(p[1]))
        H.wait_until(lambda: dpg.is_item_shown("ng_pin_tip"), 5)
        out["tip_output"] = " ".join(str(dpg.get_value(c)) for c in dpg.get_item_children("ng_pin_tip", 1))
        # after a run the output's tooltip shows its value and a small picture
        H.xdo("mousemove", int(p[0]) + 60, int(p[1]) + 60)
        assert s.run(["gradient"]) is None
        H.wait_until(lambda: v._run_serial >= 1, 30)
        app.frames(3)
        H.xdo("mousemove", int(p[0]), int(p[1]))
        H.wait_until(lambda: dpg.is_item_shown("ng_pin_tip"), 5)
        kids = dpg.get_item_children("ng_pin_tip", 1)
        out["tip_after_run"] = (" ".join(str(dpg.get_value(c)) for c in kids if dpg.get_item_type(c).endswith("Text")),
                                sum(dpg.get_item_type(c).endswith("Image") for c in kids))
        # the title's card shows the result's picture; View > Result pictures on nodes draws it inside
        t = H.title_xy("gradient")
        H.xdo("mousemove", int(t[0]), int(t[1]))
        H.wait_until(lambda: dpg.is_item_shown("ng_pin_tip"), 5)
        out["title_card_images"] = sum(dpg.get_item_type(c).endswith("Image") for c in dpg.get_item_children("ng_pin_tip", 1))
        h0 = v._nodes["gradient"].geom.h
        v.set_previews(True)
        app.frames(3)
        out["preview_in_node"] = (h0, v._nodes["gradient"].geom.h, bool(v._nodes["gradient"].shown.get("tex")))
        v.set_previews(False)
        app.frames(3)
        out["preview_off"] = v._nodes["gradient"].geom.h
        H.xdo("mousemove", int(t[0]) + 300, int(t[1]) + 200)
        app.frames(3)
        # a reroute point: double-click on the wire's middle
        key = ("gradient", "image", "save_png", "image")
        pts = v.wire_points(key)
        mid = v.to_screen(pts[len(pts) // 2])
        H.xdo("mousemove", int(mid[0]), int(mid[1]))
        app.frames(3)
        H.xdo("click", "--repeat", "2", "--delay", "40", "1")
        app.frames(6)
        out["reroute"] = s.doc.layout.get("save_png", {}).get("reroute")
        # drag it somewhere else
        r = s.doc.layout["save_png"]["reroute"]["image"][0]
        rp = v.to_screen(tuple(r))
        H.drag(rp, (rp[0] + 40, rp[1] + 90))
        out["moved"] = s.doc.layout["save_png"]["reroute"]["image"][0]
        s.save()
        out["reloaded"] = load(s.path).layout["save_png"].get("reroute")
        out["wire_still"] = key in v._wires
        return out
    finally:
        app.close()


def teaching_canvas(tmp: str) -> dict:
    """Presenter scale, a note drawn as a callout, the step highlight and value badges on wires
    from ``teaching.wire_value`` (here a stand-in returning known values)."""
    import sys
    import types as pytypes
    from dataclasses import dataclass

    import dearpygui.dearpygui as dpg
    import numpy as np
    from nodegraph.commands import SetNotes

    calls: list = []

    @dataclass
    class WireValue:
        kind: str
        text: str
        rgba: Any = None

    def wire_value(session: Any, node_id: str, port: str) -> Any:
        calls.append((node_id, port))
        if node_id == "gradient":
            return WireValue("image", "64x48 image", np.ones((48, 64, 4), np.float32) * 0.5)
        return WireValue("text", "hello")

    try:  # the real module when it is there (its wire_value replaced: known values), else a stand-in
        import nodegraph.editor.teaching as mod
    except ImportError:
        mod = pytypes.ModuleType("nodegraph.editor.teaching")
        sys.modules["nodegraph.editor.teaching"] = mod
    mod.wire_value = wire_value  # type: ignore[attr-defined]
    app = _app(_small_graph(tmp), tmp)
    s, v = app.session, app.view
    try:
        out: dict[str, Any] = {}
        s._do(SetNotes("gradient", "A gradient makes the background: try other colours."))
        app.frames(3)
        out["notes_drawn"] = len(dpg.get_item_children("ng_notes_layer", 2))
        w0 = v._wires[("gradient", "image", "save_png", "image")]["drawn"][3]
        v.set_teaching(True)
        app.frames(3)
        out["badges"] = len(dpg.get_item_children("ng_badges_layer", 2))
        out["calls"] = sorted(set(calls))
        if hasattr(v, "teach_forward"):  # the Teaching menu's step (Right / PageDown)
            v.teach_forward()
            H.wait_until(lambda: not s.running, 30)
        else:  # F10: the session's step
            H.key("F10")
            H.wait_until(lambda: v._run_serial >= 1, 30)
        app.frames(4)
        out["step"] = v._step_hl
        out["glow"] = v._nodes[v._step_hl[0]].shown.get("hl") if v._step_hl else None
        z0 = v.zoom
        v.set_presenter_scale(2.5)
        app.frames(6)
        out["presenter"] = (v.xf.presenter, v.zoom, z0)
        out["wire_px"] = (w0, v._wires[("gradient", "image", "save_png", "image")]["drawn"][3])
        H.xdo("mousemove", 300, 300)
        H.key("f")  # the whole graph again, as large as fits
        out["fitted"] = all(_inside_canvas(v).values())
        shot = Path(tmp) / "teaching.png"
        out["png"] = str(shot) if app.screenshot(shot) else None
        out["dirty_from_view"] = s.dirty
        return out
    finally:
        app.close()


# == the 10-node pipeline, built from scratch on the real window, counting actions ====================
def _free_spot(v: Any, near: tuple[float, float], w: float = 200, h: float = 170) -> tuple[float, float]:
    """An empty screen point near ``near`` with room for a new node (w x h graph units) below-right."""
    ex, ey, ew, eh = v.canvas_rect()
    s = v.xf.scale
    cands = [(ex + 20 + i * 25, ey + 20 + j * 25) for i in range(int((ew - 240) / 25)) for j in range(int((eh - 160) / 25))]
    cands.sort(key=lambda p: (p[0] - near[0] - 90) ** 2 + 0.5 * (p[1] - near[1]) ** 2)
    for p in cands:
        box = [(p[0] + dx * w * s, p[1] + dy * h * s) for dx in (0, 0.5, 1) for dy in (0, 0.5, 1)]
        if all(v.hit(q) == ("empty",) for q in box):
            return p
    raise AssertionError("no room left on the canvas")


def build_pipeline(tmp: str) -> dict:
    """prompt, character, speak, visemes, compose, music, mix, shot, timeline, render: built with
    the palette and wire drops. Counted: a click, a drag, a key (or chord), a typed word, a wheel
    gesture each count as one action."""
    app = _app(None, tmp)
    s, v = app.session, app.view
    actions: list[str] = []

    def act(what: str) -> None:
        actions.append(what)

    def palette_add(query: str, at: tuple[float, float]) -> str:
        before = set(s.node_ids())
        H.xdo("mousemove", int(at[0]), int(at[1]))
        app.frames(2)
        H.key("ctrl+space"); act("key ctrl+space")
        H.type_text(query); act(f"type {query}")
        H.key("Return"); act("key Return")
        (new,) = set(s.node_ids()) - before
        return new

    def drop_add(src: str, port: str, query: str) -> str:
        before = set(s.node_ids())
        p = H.pin_xy(src, "out", port)
        H.drag(p, _free_spot(v, p)); act(f"drag {src}.{port} to empty canvas")
        H.type_text(query); act(f"type {query}")
        H.key("Return"); act("key Return")
        (new,) = set(s.node_ids()) - before
        return new

    def link(src: str, port: str, dst: str, dport: str) -> None:
        H.drag(H.pin_xy(src, "out", port), H.pin_xy(dst, "in", dport)); act(f"drag {src}.{port} -> {dst}.{dport}")

    try:
        ex, ey, ew, eh = v.canvas_rect()
        H.wheel(ex + 200, ey + 200, -4); act("wheel out")
        prompt = palette_add("core text", (ex + 40, ey + 60))
        character = palette_add("character", (ex + 40, ey + 300))
        speak = drop_add(prompt, "text", "speak")
        link(character, "character", speak, "character")
        visemes = drop_add(speak, "speech", "visemes")
        link(character, "character", visemes, "character")
        compose = drop_add(visemes, "video", "layer")
        music = palette_add("music.compose", (ex + 40, ey + eh - 170))
        mix = drop_add(music, "audio", "mix")
        link(speak, "speech", mix, "tracks")
        shot = drop_add(compose, "video", "shot")
        link(mix, "audio", shot, "audio")
        timeline = drop_add(shot, "clip", "timeline")
        render = drop_add(timeline, "timeline", "render")
        types = sorted(s.doc.type_of(n) for n in s.node_ids())
        shot_png = Path(tmp) / "pipeline.png"
        app.screenshot(shot_png)
        return {"actions": actions, "png": str(shot_png), "types": types, "links": _links(s),
                "ids": [prompt, character, speak, visemes, compose, music, mix, shot, timeline, render]}
    finally:
        app.close()
