"""GUI scenario for the History panel, run in its own spawned process (``run_gui`` in
gui_harness.py): save, edit in the window (delete a node, move one), save again, open the panel
with Ctrl+H, pick the older version, read the diff, restore it, undo with Ctrl+Z, redo and save
once more. Everything is written under ``tmp``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gui_harness as H
import gui_scenarios as S


def _shot(app: Any, path: Path) -> bool:
    return bool(app.screenshot(path))


def save_diff_restore(tmp: str, shots: str) -> dict:
    import dearpygui.dearpygui as dpg

    from nodegraph.fileformat import dumps

    import os

    S._demo(tmp)
    os.chdir(tmp)  # opened as `nodegraph edit demo.json` opens it: the log and status name no folder
    app = S._app("demo.json", tmp)
    s, v = app.session, app.view
    shots_dir = Path(shots)
    out: dict[str, Any] = {}
    try:
        H.wait_until(lambda: len(v._nodes) == 8, 10)
        # 1. first save (Ctrl+S): the first version
        H.xdo("mousemove", *map(int, S._empty_point(v)))
        H.key("ctrl+s")
        H.wait_until(lambda: s.versions_kept == 1, 10)
        first_text = dumps(s.doc)
        # 2. edit in the window: delete save_credits (click its title, Delete), move the title node,
        #    and set draw_title's size through the session as the inspector would
        H.click(*H.title_xy("save_credits"))
        H.key("Delete")
        H.wait_until(lambda: "save_credits" not in s.doc, 5)
        x, y = H.title_xy("title")
        H.drag((x, y), (x + 60, y + 40))
        assert s.set_param("draw_title", "size", 64) is None
        H.frames(4)
        H.key("ctrl+s")
        H.wait_until(lambda: s.versions_kept == 2, 10)
        second_text = dumps(s.doc)
        out["status_after_save"] = dpg.get_value("ng_status")
        # 3. Ctrl+H opens the panel: two versions, newest first; the older one is picked by default
        H.xdo("mousemove", *map(int, S._empty_point(v)))
        H.key("ctrl+h")
        H.wait_until(lambda: dpg.is_item_shown("ng_history"), 5)
        H.frames(4)
        versions = s.graph_versions()
        out["versions"] = [(x.summary, x.id) for x in versions]
        older = versions[1].id
        out["selected_default"] = v._hist_selected == older
        # click the newest row, then the older one (the rows are what a person clicks)
        H.click(*H.item_center(v.history_row(0)))
        out["diff_newest"] = v.history_lines()
        H.click(*H.item_center(v.history_row(1)))
        out["selected"] = v._hist_selected == older
        out["diff_title"] = dpg.get_value("ng_history_diff_title")
        out["diff"] = v.history_lines()
        H.click(*H.item_center("ng_history_layout"))
        H.frames(3)
        out["diff_layout"] = v.history_lines()
        out["shot_diff"] = _shot(app, shots_dir / "history-diff.png")
        # 4. Restore: the document is the older version, in one undo step, unsaved
        undo0 = len(s.history.undo_stack)
        H.click(*H.item_center("ng_history_restore"))
        H.wait_until(lambda: "save_credits" in s.doc, 5)
        H.frames(4)
        out["restored_equal"] = dumps(s.doc) == first_text
        out["undo_steps"] = len(s.history.undo_stack) - undo0
        out["dirty_after_restore"] = s.dirty
        out["status_after_restore"] = dpg.get_value("ng_status")
        out["diff_after_restore"] = v.history_lines()
        out["canvas_nodes"] = sorted(v._nodes)
        out["shot_restored"] = _shot(app, shots_dir / "history-restored.png")
        # 5. Ctrl+Z (mouse over the canvas): back to the second save, not dirty
        H.xdo("mousemove", *map(int, S._empty_point(v)))
        H.key("ctrl+z")
        H.wait_until(lambda: "save_credits" not in s.doc, 5)
        out["undone_equal"] = dumps(s.doc) == second_text
        out["dirty_after_undo"] = s.dirty
        # 6. redo and save: a third version, the first one's text again
        H.key("ctrl+y")
        H.wait_until(lambda: "save_credits" in s.doc, 5)
        H.key("ctrl+s")
        H.wait_until(lambda: s.versions_kept == 3, 10)
        H.frames(6)
        third = s.graph_versions()
        out["third"] = (len(third), third[0].id == versions[1].id, third[0].summary)
        out["rows"] = len(v._hist_rows)
        out["picked_rows"] = [i for i, row in enumerate(v._hist_rows) if dpg.get_value(row)]
        out["files"] = sorted(p.name for p in (Path(tmp) / ".demo.json.history" / "versions").iterdir())
        out["log"] = list(s.log)
        out["shot_third"] = _shot(app, shots_dir / "history-third.png")
        return out
    finally:
        app.close()


def panel_states(tmp: str) -> dict:
    """The panel with no display (items without a viewport): an untitled graph, a graph with no
    versions yet, a damaged index, and a save whose version cannot be kept."""
    import os
    import shutil

    import dearpygui.dearpygui as dpg

    from nodegraph.editor.view import GraphView
    from nodegraph.history import history_dir

    def texts(parent: str) -> list[str]:
        return [dpg.get_value(t) for t in dpg.get_item_children(parent, 1) or [] if dpg.get_item_type(t).endswith("mvText")]

    os.environ.pop("DISPLAY", None)
    s = S._session(tmp)
    dpg.create_context()
    out: dict[str, Any] = {}
    try:
        v = GraphView(s)
        v.build()
        v.sync()
        v.show_history(True)
        out["untitled"] = (dpg.get_value("ng_history_what"), texts("ng_history_list"),
                           dpg.get_item_configuration("ng_history_restore")["enabled"])
        graph = Path(tmp) / "demo.json"
        shutil.copy(S.DEMO, graph)
        s.open(graph)
        v._history_tick()
        out["none_yet"] = (dpg.get_value("ng_history_what"), texts("ng_history_list"))
        s.save()
        v._history_tick()
        out["one"] = (len(v._hist_rows), v._hist_selected == s.graph_versions()[0].id, v.history_lines())
        (history_dir(graph) / "index.json").write_text("{broken")
        v.refresh_history()
        out["damaged"] = texts("ng_history_list")
        s.set_param("draw_title", "size", 64)
        s.save()  # starts a new index from the intact versions
        v._history_tick()
        out["after_damage"] = [x.summary for x in s.graph_versions()]
        out["rows_after_damage"] = len(v._hist_rows)
        shutil.rmtree(history_dir(graph))
        history_dir(graph).write_text("in the way")
        s.set_param("draw_title", "size", 70)
        s.save()
        v._history_tick()
        out["blocked_status"] = dpg.get_value("ng_status")
        out["blocked_list"] = texts("ng_history_list")
        out["saved_anyway"] = '"size": 70' in graph.read_text()
        return out
    finally:
        s.close()
        dpg.destroy_context()
