"""The History panel in the real window under Xvfb (scenario in history_scenarios.py): save,
edit, save again, Ctrl+H, pick the older version, read the diff, Restore, Ctrl+Z, redo, save.

``NODEGRAPH_HISTORY_SHOTS=assets/screenshots pytest tests/test_history_gui.py`` also copies the
window's screenshot (the panel showing a diff) to ``assets/screenshots/history.png``.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

import history_scenarios as HS
from gui_harness import run_gui, run_headless, xvfb  # noqa: F401  (fixtures)


def test_save_twice_diff_restore_and_undo_in_the_history_panel(run_gui, tmp_path):
    shots = tmp_path / "shots"
    r = run_gui(HS.save_diff_restore, str(tmp_path), str(shots), timeout=300)
    assert r["status_after_save"] == "saved demo.json"
    (newest, newest_id), (first, first_id) = r["versions"]
    assert first == "first version kept (8 nodes, 8 links)"
    assert newest == "1 node removed, 1 param changed, 1 link removed, 1 node moved"
    assert r["selected_default"] and r["selected"]  # the older version is picked first, and by a click
    assert r["diff_newest"] == ["No changes: the graph is the same as this version (layout aside: tick 'Show layout changes')"]
    assert r["diff_title"] == (f"From version {first_id[:8]} to the graph as it is now: "
                               "1 node removed, 1 param changed, 1 link removed")
    assert r["diff"] == ["~ draw_title.size: 120 -> 64", "- node save_credits (core.save_text)",
                         "- link credits.text -> save_credits.text"]
    assert r["diff_layout"][:4] == r["diff"] + ["layout:"]
    assert len(r["diff_layout"]) == 5 and r["diff_layout"][4].startswith("  ~ title pos: (40, 300) -> (")
    # Restore: the document is the first version again, in one undo step, not saved yet
    assert r["restored_equal"] and r["undo_steps"] == 1 and r["dirty_after_restore"]
    assert r["status_after_restore"] == (f"restored version {first_id[:8]}: 1 node added, 1 param changed, "
                                         "1 link added, 1 node moved (Ctrl+Z undoes it; save to keep it)")
    assert "save_credits" in r["canvas_nodes"]  # the canvas shows the restored graph
    assert r["diff_after_restore"] == ["No changes: the graph is the same as this version"]
    # Ctrl+Z: back to what was saved second
    assert r["undone_equal"] and not r["dirty_after_undo"]
    # redo + save: a third version, the first text again, said so
    count, same_as_first, summary = r["third"]
    assert count == 3 and same_as_first
    assert summary == f"same as {first_id[:8]} again: 1 node added, 1 param changed, 1 link added, 1 node moved"
    assert r["rows"] == 3 and r["picked_rows"] == [2]  # one row picked, though two rows are that version
    assert r["files"] == sorted([f"{first_id}.json", f"{newest_id}.json"])
    assert f"kept version {newest_id[:12]} of demo.json: {newest}" in r["log"]
    assert any(l.startswith(f"restored version {first_id[:12]} of demo.json (") for l in r["log"])
    from PIL import Image

    for name in ("history-diff.png", "history-restored.png", "history-third.png"):
        img = np.asarray(Image.open(shots / name).convert("RGB"))
        assert img.shape == (900, 1400, 3) and img.std() > 20
    keep = os.environ.get("NODEGRAPH_HISTORY_SHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shots / "history-diff.png", Path(keep) / "history.png")


def test_the_panel_says_what_is_wrong_without_a_display(run_headless, tmp_path):
    r = run_headless(HS.panel_states, str(tmp_path))
    what, lines, restore = r["untitled"]
    assert what == "History of this graph" and not restore
    assert lines == ["This graph has no file yet. Save it (Ctrl+S): every save keeps a version here."]
    assert r["none_yet"] == ("History of demo.json", ["No versions kept yet: the next save keeps the first one."])
    assert r["one"] == (1, True, ["No changes: the graph is the same as this version (layout aside: tick 'Show layout changes')"])
    index = tmp_path / ".demo.json.history" / "index.json"
    assert r["damaged"] == [f"the history index {index} is damaged (not valid JSON: Expecting property name "
                            "enclosed in double quotes at line 1 column 2); the next save of "
                            "demo.json keeps it as index.json.bad and starts a new index"]
    assert r["after_damage"] == ["1 param changed", "recovered after the history index was damaged"]
    assert r["rows_after_damage"] == 2
    assert r["blocked_status"] == (f"saved, but no version was kept: {tmp_path / '.demo.json.history'} is not a folder: "
                                   "refused")
    assert r["blocked_list"] == [f"{tmp_path / '.demo.json.history'} is not a folder: refused"]
    assert r["saved_anyway"]
