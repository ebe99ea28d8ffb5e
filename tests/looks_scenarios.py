"""GUI scenarios for Looks in the editor, each run in its own spawned process (``run_gui`` in
gui_harness.py): select nodes, Make Look, promote a param, drag the Look from the gallery onto a
wire, change the promoted param in the inspector, run. Everything is written under ``tmp``
(the user's looks folder too: ``NODEGRAPH_LOOKS_DIR``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import gui_harness as H
import gui_scenarios as S


def _shift_click(x: float, y: float) -> None:
    H.xdo("keydown", "shift")
    H.frames(2)
    H.click(x, y)
    H.xdo("keyup", "shift")
    H.frames(2)


def _type_into(item: Any, text: str) -> None:
    H.click(*H.item_center(item))
    H.key("ctrl+a")
    H.type_text(text)


def _visible(item: Any) -> bool:
    import dearpygui.dearpygui as dpg

    return bool(dpg.is_item_visible(item))


def _empty_beside_gallery(v: Any) -> tuple[float, float]:
    """A point over empty canvas that the gallery window does not cover."""
    import dearpygui.dearpygui as dpg

    (gx, gy), (gw, gh) = dpg.get_item_pos("ng_gallery"), dpg.get_item_rect_size("ng_gallery")
    ex, ey, ew, eh = v.canvas_rect()
    for fy in (0.2, 0.4, 0.6, 0.8, 0.1):
        for fx in (0.9, 0.7, 0.5, 0.3):
            p = (ex + ew * fx, ey + eh * fy)
            if v.hit(p) == ("empty",) and not (gx <= p[0] <= gx + gw and gy <= p[1] <= gy + gh) \
                    and not (ex + ew - 200 <= p[0] and ey + eh - 140 <= p[1]):
                return p
    raise AssertionError("no empty spot on the canvas beside the gallery")


def _wire_mid(v: Any, key: tuple) -> tuple[float, float]:
    pts = v.wire_points(key)
    return v.to_screen(pts[len(pts) // 2])


def make_and_use_look(tmp: str, shot: str) -> dict:
    import dearpygui.dearpygui as dpg

    os.environ["NODEGRAPH_LOOKS_DIR"] = str(Path(tmp) / "looks")
    app = S._app(S._demo(tmp), tmp)
    s, v = app.session, app.view
    out: dict[str, Any] = {}
    try:
        H.wait_until(lambda: len(v._nodes) == 8, 10)
        # 0. Make Look with nothing selected: the dialog says to select nodes first
        H.xdo("mousemove", *map(int, S._empty_point(v)))
        H.key("ctrl+l")
        H.wait_until(lambda: dpg.is_item_shown("ng_make_look"), 5)
        out["nothing"] = dpg.get_value("ng_look_error")
        H.click(*H.item_center("ng_look_cancel"))
        H.wait_until(lambda: not dpg.is_item_shown("ng_make_look"), 5)
        # 1. select the two text nodes and the two nodes that draw them (click, then Shift+click)
        sel = ["title", "subtitle", "draw_title", "draw_subtitle"]
        H.click(*H.title_xy(sel[0]))
        for nid in sel[1:]:
            _shift_click(*H.title_xy(nid))
        out["selected"] = sorted(v.selected_ids())
        # 2. Ctrl+L opens the Make Look dialog; a bad name is refused inside it
        ex, ey, ew, eh = v.canvas_rect()
        H.xdo("mousemove", int(ex + ew * 0.5), int(ey + eh * 0.9))
        H.key("ctrl+l")
        H.wait_until(lambda: dpg.is_item_shown("ng_make_look"), 5)
        out["rows"] = [f"{r[0].node}.{r[0].param}" for r in v._look_rows]
        _type_into("ng_look_name", "Title Card")
        H.click(*H.item_center("ng_look_ok"))
        out["bad_name"] = (dpg.get_value("ng_look_error"), bool(dpg.is_item_shown("ng_make_look")),
                           sorted(s.node_ids()))
        _type_into("ng_look_name", "studio/title-card")
        _type_into("ng_look_title", "Title card")
        _type_into("ng_look_desc", "A title and a subtitle over a picture")
        box = v.promote_row("draw_subtitle", "size")
        row = next(r for r in v._look_rows if r[1] == box)
        for _ in range(8):  # scroll the list of params down to the row
            if _visible(box) and _visible(row[2]):
                break
            ex_, ey_ = H.item_center("ng_look_error")
            H.wheel(ex_, ey_ - 80, -2)  # over the list of params
        H.click(*H.item_center(box))
        _type_into(row[2], "Subtitle size")
        _type_into(row[3], "Text")
        _type_into(row[4], "8")
        _type_into(row[5], "200")
        out["ticked"] = bool(dpg.get_value(box))
        app.screenshot(Path(tmp) / "dialog.png")
        undo0 = len(s.history.undo_stack)
        H.click(*H.item_center("ng_look_ok"))
        H.wait_until(lambda: not dpg.is_item_shown("ng_make_look"), 5)
        H.frames(6)
        inst = next(n for n in s.node_ids() if s.is_instance(n))
        look = s.look_of(inst)
        out["made"] = {"instance": inst, "type": s.doc.type_of(inst), "nodes": sorted(s.node_ids()),
                       "undo_steps": len(s.history.undo_stack) - undo0, "file": look.path,
                       "files": sorted(p.name for p in (Path(tmp) / "looks").glob("*")),
                       "params": {k: (p.label, p.group, p.min, p.max, p.default) for k, p in look.params.items()},
                       "thumbnail": len(look.thumbnail), "title": v.node_title(inst),
                       "log": [l for l in s.log if "saved to" in l]}
        # 3. the gallery (View menu): drag the Look onto the wire from the instance into save_card
        mx, my = dpg.get_item_state(dpg.get_item_parent("ng_gallery_item"))["pos"]  # the View menu
        H.click(mx + 20, my + 10)
        H.frames(4)
        ix, iy = dpg.get_item_state("ng_gallery_item")["pos"]  # menu items report where they are in the menu
        H.click(mx + ix + 60, my + 20 + iy + 9)
        H.wait_until(lambda: dpg.is_item_shown("ng_gallery") and v.gallery_tile(look.type_id), 5)
        H.frames(6)
        tile = v.gallery_tile(look.type_id)
        out["gallery"] = sorted(v._gallery_tiles.values())
        # a text wire cannot take it: refused, nothing added
        n0 = len(s.node_ids())
        H.drag(H.item_center(tile), _wire_mid(v, (inst, "text", "credits", "parts")), steps=14)
        out["wrong_wire"] = (len(s.node_ids()) - n0, dpg.get_value("ng_status"))
        H.drag(H.item_center(tile), _wire_mid(v, (inst, "image", "save_card", "image")), steps=14)
        H.wait_until(lambda: len(s.node_ids()) == n0 + 1, 5)
        second = next(n for n in s.node_ids() if s.is_instance(n) and n != inst)
        out["inserted"] = (second, S._links(s))
        # 4. run everything once
        serial = v._run_serial
        H.click(*H.item_center("ng_run"))
        H.wait_until(lambda: v._run_serial > serial, 60)
        app.frames(4)
        out["first_run"] = {n: s.node_view(n).state for n in s.node_ids()}
        png = Path(tmp) / "output" / "title_card.png"
        before = png.read_bytes()
        # 5. the promoted param in the inspector of the second instance
        H.click(*H.title_xy(second))
        H.wait_until(lambda: v.inspected == second and v.param_widget("subtitle_size") is not None, 10)
        H.frames(3)
        out["inspector"] = [str(dpg.get_value(i)) for i in dpg.get_item_children(dpg.get_item_children(
            "ng_inspector", 1)[0], 1) if dpg.get_item_type(i).endswith("mvText")]
        w = v.param_widget("subtitle_size")
        out["widget_range"] = (dpg.get_item_configuration(w).get("min_value"), dpg.get_item_configuration(w).get("max_value"))
        _type_into(w, "72")
        H.key("Return")
        H.wait_until(lambda: s.doc.params(second).get("subtitle_size") == 72, 5)
        app.frames(4)
        out["after_edit"] = {n: s.node_view(n).state for n in s.node_ids()}
        serial = v._run_serial
        H.click(*H.item_center("ng_run"))
        H.wait_until(lambda: v._run_serial > serial, 60)
        app.frames(4)
        r = s._result
        out["second_run"] = {"computed": sorted(k for k, x in r.nodes.items() if x.status == "computed"),
                             "cached": sorted(k for k, x in r.nodes.items() if x.status == "cached"),
                             "states": {n: s.node_view(n).state for n in s.node_ids()},
                             "gui_status": {n: it.shown["status"] for n, it in v._nodes.items()},
                             "changed_png": png.read_bytes() != before}
        # 6. double-click the instance's title: its inside, read-only
        x, y = H.title_xy(second)
        H.click(x, y)
        H.frames(2)
        H.xdo("click", "--repeat", "2", "--delay", "60", 1)
        H.wait_until(lambda: dpg.is_item_shown("ng_look_inside"), 5)
        H.frames(3)
        out["inside"] = v.inside_lines()
        app.screenshot(Path(tmp) / "inside.png")
        dpg.configure_item("ng_look_inside", show=False)
        # 7. its right-click menu
        H.click(x, y, button=3)
        H.frames(3)
        out["menu"] = v.menu_labels()
        v.close_menu()
        H.frames(3)
        # 8. a newer version and two more Looks are installed (as from the command line): Refresh
        _install_more_looks(tmp, look)
        H.click(*H.item_center("ng_gallery_refresh"))
        H.frames(6)
        out["gallery_after"] = sorted(v._gallery_tiles.values())
        H.xdo("mousemove", *map(int, H.item_center(v.gallery_tile("look:studio/poster@1.0.0"))))
        app.frames(40)  # the tile's tooltip: description, version, ports
        app.screenshot(Path(tmp) / "tooltip.png")
        H.click(x, y, button=3)
        H.frames(3)
        out["menu_after"] = v.menu_labels()
        S._menu_click("Upgrade to 1.1.0")
        H.frames(4)
        out["upgraded"] = (s.doc.type_of(second), dict(s.doc.params(second)), [l for l in s.log if "sub_size" in l])
        # 8. a screenshot of the gallery and the instances
        v.select([second])
        v.fit_all()
        H.xdo("mousemove", 5, 5)
        app.frames(20)
        out["shot"] = app.screenshot(shot)
        # 9. a Look dropped on empty canvas is added there, unwired
        n0 = len(s.node_ids())
        H.drag(H.item_center(v.gallery_tile("look:studio/poster@1.0.0")), _empty_beside_gallery(v), steps=14)
        H.wait_until(lambda: len(s.node_ids()) == n0 + 1, 5)
        poster = next(n for n in s.node_ids() if s.doc.type_of(n) == "look:studio/poster@1.0.0")
        out["on_canvas"] = (poster, [l for l in S._links(s) if poster in (l[0], l[2])], v.selected_ids())
        # 10. unlock the first instance: its inside becomes ordinary nodes in a group (one undo step)
        H.click(*H.title_xy(inst), button=3)
        H.frames(3)
        S._menu_click("Unlock (copy inside into the graph)")
        H.frames(4)
        out["unlocked"] = (sorted(s.node_ids()), [g[1] for g in s.groups_view()])
        return out
    finally:
        app.close()


def _install_more_looks(tmp: str, look: Any) -> None:
    """Version 1.1.0 of ``look`` (its param renamed, with the migration saying so) and two other
    Looks made from the demo's title, saved with thumbnails in the user's looks folder."""
    from nodegraph.fileformat import load
    from nodegraph.looks import model
    from nodegraph.looks.make import Promote, make_look
    from nodegraph.looks.render import default_sample, load_sample, thumbnail_png
    from nodegraph.looks.library import with_looks
    from nodegraph.registry import default_registry

    folder = Path(tmp) / "looks"
    newer = model.load(look.path)
    newer.version = "1.1.0"
    p = newer.params.pop("subtitle_size")
    p.name = "sub_size"
    newer.params["sub_size"] = p
    newer.migrations = {"1.1.0": {"rename": {"subtitle_size": "sub_size"}}}
    model.save(newer, folder / newer.file_name())
    reg = with_looks(default_registry())
    sample = load_sample(default_sample())
    for ident, title, text, params in (
            ("studio/lower-third", "Lower third", "Scene 12", {"y": 0.86, "size": 90, "color": "#ffd166"}),
            ("studio/poster", "Poster title", "NOIR", {"y": 0.3, "size": 260, "color": "#ff6b6b"})):
        doc = load(S.DEMO)
        doc.params("title")["value"] = text
        doc.params("draw_title").update(params)
        made = make_look(doc, ["title", "draw_title"], ident, "1.0.0", reg, title=title,
                         promote=[Promote("draw_title", "size", label="Size", min=8, max=400)],
                         description=f"{title}: '{text}' drawn over the picture")
        reg.library.add(made)
        reg._spec(made.type_id)
        made.thumbnail = thumbnail_png(made, reg, sample)
        model.save(made, folder / made.file_name())
