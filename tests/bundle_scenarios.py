"""The editor's File > Open bundle... in the real window (run in a spawned process by
test_bundle_gui.py): the menu item, the file dialog's and folder dialog's choices, the report
dialog, its Open graph button clicked with the mouse; a bundle that needs a missing node pack;
a hostile bundle refused in the error box."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gui_harness as H
import gui_scenarios as S


def open_bundles(tmp: str, ok: str, missing: str, bad: str, where: str) -> dict:
    import dearpygui.dearpygui as dpg

    from nodegraph.editor.bundle_ui import DIR_DIALOG, FILE_DIALOG, REPORT

    t = Path(tmp)
    app = S._app(None, tmp)
    s, v = app.session, app.view
    out: dict[str, Any] = {}
    try:
        # File > Open bundle...: the file dialog, then the folder dialog (what they hand the callbacks)
        dpg.get_item_callback("ng_open_bundle_item")()
        H.wait_until(lambda: dpg.is_item_shown(FILE_DIALOG), 5)
        out["file_dialog"] = True
        dpg.configure_item(FILE_DIALOG, show=False)
        name = Path(ok).name
        v._bundle_chosen({"file_path_name": ok, "file_name": name, "current_path": str(Path(ok).parent),
                          "selections": {name: ok}})
        H.wait_until(lambda: dpg.is_item_shown(DIR_DIALOG), 5)
        out["dir_dialog"] = True
        dpg.configure_item(DIR_DIALOG, show=False)
        v._bundle_folder_chosen({"file_path_name": where, "current_path": where})
        H.wait_until(lambda: dpg.is_item_shown(REPORT), 10)
        H.frames(8)
        out["title"] = dpg.get_value("ng_bundle_title")
        out["where"] = dpg.get_value("ng_bundle_where")
        out["lines"] = v.bundle_lines()
        out["thumb"] = [dpg.get_item_type(i) for i in dpg.get_item_children("ng_bundle_thumb", 1)]
        out["doc_before"] = (str(s.path), len(s.node_ids()))  # nothing opened before the button
        app.screenshot(t / "report.png")
        H.click(*H.item_center("ng_bundle_open"))
        H.wait_until(lambda: not dpg.is_item_shown(REPORT), 5)
        H.frames(10)
        out["opened"] = (str(s.path), len(s.node_ids()), s.dirty)
        app.screenshot(t / "opened.png")

        # a bundle needing a node pack this machine lacks: the report says what to pip install
        out["missing_ok"] = v.open_bundle(missing, Path(where) / "needs-pack")
        H.frames(8)
        out["missing_lines"] = v.bundle_lines()
        out["missing_note"] = dpg.get_value("ng_bundle_note")
        app.screenshot(t / "missing.png")
        H.click(*H.item_center("ng_bundle_close"))
        H.wait_until(lambda: not dpg.is_item_shown(REPORT), 5)
        out["still_open"] = str(s.path)

        # a hostile bundle: the error box, nothing written
        out["bad_ok"] = v.open_bundle(bad, Path(where) / "bad")
        H.frames(8)
        out["error_shown"] = dpg.is_item_shown("ng_error")
        out["error_text"] = dpg.get_value("ng_error_text")
        app.screenshot(t / "refused.png")
        return out
    finally:
        app.close()
