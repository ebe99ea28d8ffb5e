"""The editor window, end to end: dearpygui under a private Xvfb, driven by xdotool.

Every scenario runs in its own spawned process (one viewport per process; see gui_harness.py).
The tests skip, saying why, when Xvfb, xdotool or dearpygui is missing (the first test needs no
display at all).
"""
from __future__ import annotations

import os
import signal

import numpy as np

import gui_scenarios as S
from gui_harness import run_gui, run_headless, spawn_gui, xvfb  # noqa: F401  (fixtures)


def test_view_mirrors_the_session_without_a_display(run_headless, tmp_path):
    r = run_headless(S.headless_sync, str(tmp_path))
    assert r["start"] == (4, 1)
    assert ("text", "text", "case", "text") in r["linked"] and r["gui_links"] == 2
    assert "cannot feed" in r["refused"]
    assert r["pin_menu"][0] == "Disconnect"  # right click on a linked input
    assert ("text", "text", "case", "text") not in r["unlinked"]
    assert r["label"] == "width  640"
    assert r["folded_pins"] == [("out", "text")]  # a folded node keeps only linked inputs
    assert r["after_delete"] == (["case", "save_png", "text"], 3, 0)
    assert r["after_undo"] == (["case", "gradient", "save_png", "text"], 1)
    assert r["clean_after_view"] == (True, "saved.json - nodegraph")  # zoom, pan, fit, select: still clean


def test_open_demo_and_screenshot(run_gui, tmp_path):
    r = run_gui(S.screenshot_demo, str(tmp_path))
    from PIL import Image

    assert r["written"]
    img = np.asarray(Image.open(r["png"]).convert("RGB"))
    assert img.shape == (900, 1400, 3)
    assert img.std() > 20  # not blank
    assert r["gui_nodes"] == r["doc_nodes"] == 8
    assert r["gui_links"] == r["doc_links"] == 8
    assert "Background" in r["labels"] and "Draw text  (draw_title)" in r["labels"]
    assert r["on_screen"] == 8  # a graph that fits is shown whole when it opens
    assert set(r["status"].values()) <= {"stale", "stale   [Words]", "cached", "cached   [Words]"}


def test_drag_pin_to_pin_links_and_wrong_types_are_refused(run_gui, tmp_path):
    r = run_gui(S.drag_links, str(tmp_path))
    gained = set(r["after_good"]) - set(r["before"])
    assert gained == {("text", "text", "case", "text")}
    assert len(r["after_good"]) == len(r["before"]) + 1
    assert r["gui_after_good"] == len(r["after_good"])
    # text output onto an image input: refused, nothing drawn, the reason in the status bar
    assert r["after_bad"] == r["after_good"]
    assert r["gui_after_bad"] == r["gui_after_good"]
    assert "cannot feed" in r["status"] and "image" in r["status"]
    (x0, y0), (x1, y1) = r["moved"]
    assert r["zoom"] == 1.0 and (x1 - x0, y1 - y0) == (100, 60)
    assert r["undo_steps"] == 1  # one drag, one undo step
    assert ("text", "text", "case", "text") not in r["detached"]  # the input end dragged off the pin
    assert len(r["detached"]) == len(r["after_good"]) - 1
    (node, link), states = r["step"]
    assert node == "gradient" and link == ("gradient", "image", "save_png", "image")  # first in order
    assert states["gradient"] == "computed"
    assert {states[n] for n in ("text", "case", "save_png")} == {"stale"}


def test_inspector_edit_changes_the_document(run_gui, tmp_path):
    r = run_gui(S.inspector_edit, str(tmp_path))
    assert r["before"] == "hello"
    assert r["after"] == "world"
    assert r["widget"] == "world"
    assert r["node_label"] == "value  world"
    assert r["dirty"] and "*" in r["title"]


def test_undo_restores_the_previous_value(run_gui, tmp_path):
    r = run_gui(S.undo_redo, str(tmp_path))
    assert r["edited"] == "changed"
    assert r["undone"] == {"doc": "hello", "widget": "hello", "node_label": "value  hello"}
    assert r["redone"] == "changed"


def test_run_shows_states_cache_and_never_blocks(run_gui, tmp_path):
    r = run_gui(S.run_demo, str(tmp_path), timeout=120)
    first, second = r["first"], r["second"]
    assert set(first["states"].values()) == {"computed"}, first
    assert all(t.startswith("computed") for t in first["gui_status"].values()), first["gui_status"]
    assert set(second["states"].values()) == {"cached"}, second
    assert all(t.startswith("cached") for t in second["gui_status"].values())
    assert "credits.txt" in r["outputs"] and "title_card.png" in r["outputs"]
    assert first["frames"] >= 5  # frames kept coming while it ran
    assert first["longest"] < 1.0 and second["longest"] < 1.0


def test_broken_file_shows_the_error_and_keeps_the_document(run_gui, tmp_path):
    r = run_gui(S.open_broken, str(tmp_path))
    assert r["ok"] is False
    assert r["shown"] and "broken.json" in r["text"]
    assert r["closed"]
    assert r["same_doc"] and r["same_path"]
    assert r["gui_nodes"] == 8
    assert "broken.json" in r["status"]
    assert r["asked"] and r["still_open"] and r["closed_window"]


def test_kill_and_recover(run_gui, spawn_gui, tmp_path):
    path = S.small_graph_file(str(tmp_path))
    proc, q = spawn_gui(S.edit_and_wait_for_kill, path, str(tmp_path))
    msg = q.get(timeout=60)
    assert msg["dirty"] and os.path.exists(msg["autosave"])
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    assert proc.exitcode == -signal.SIGKILL
    r = run_gui(S.recover_after_kill, path, str(tmp_path))
    assert r["offered"]
    assert r["before"] == "hello"  # the saved file, until the user says recover
    assert r["after"] == "unsaved work" and r["label"] == "value  unsaved work"
    assert r["dirty"] and "*" in r["title"]


def test_keyboard_palette_duplicate_paste_and_delete_linked_node(run_gui, tmp_path):
    r = run_gui(S.keyboard_editing, str(tmp_path))
    assert r["palette_open"] and r["palette_closed"]
    assert len(r["added"]) == 1 and r["added"][0][1] == "image.solid"
    assert r["selected"] == ["draw_title"]
    assert r["after_duplicate"] == 1 and r["after_paste"] == 2
    assert r["deleted"] and r["links_left"] == []
    assert r["gui_nodes"] == r["doc_nodes"] and r["gui_links"] == r["doc_links"]
    assert r["restored"]
    assert r["after_undo"]["gui_links"] == r["after_undo"]["doc_links"]


# == the canvas =======================================================================================
def test_fit_all_zoom_pan_and_selection_leave_the_document_clean(run_gui, tmp_path):
    r = run_gui(S.navigate, str(tmp_path), timeout=180)
    assert r["opened_dirty"] is False
    assert r["inside_at_100"] < 32  # at 100% the template does not fit ...
    assert all(r["inside_after_fit"].values()) and len(r["inside_after_fit"]) == 32  # ... after F every node does
    cx, cy, cw, ch = r["canvas"]
    for nid, (x0, y0, x1, y1) in r["boxes"].items():
        assert cx <= x0 < x1 <= cx + cw and cy <= y0 < y1 <= cy + ch, nid
    from PIL import Image

    img = np.asarray(Image.open(r["png"]).convert("RGB")).astype(int)
    # every node's title bar is drawn where the geometry says (state colour "stale": grey)
    for nid, (x0, y0, x1, y1) in r["boxes"].items():
        bar = img[int(y0) + 1:int(y0) + 3, int(x0) + 2:int(x1) - 2]
        assert bar.size and abs(bar.mean() - 90) < 25, nid
    z0, z1, g0, g1 = r["wheel_in"]
    assert z1 > z0 * 1.4
    assert abs(g0[0] - g1[0]) < 0.5 and abs(g0[1] - g1[1]) < 0.5  # the point under the cursor stays put
    assert abs(r["wheel_out"][1][0] - g0[0]) < 0.5 and abs(r["wheel_out"][1][1] - g0[1]) < 0.5
    assert r["max_zoom"] == 4.0 and r["min_zoom"] == 0.1
    assert r["middle_pan"] == (120, -70)
    assert r["space_pan"] == (-90, 40)
    assert r["click_select"] == ["speak_1"] and r["shift_select"] == ["speak_1", "speak_2"]
    assert r["fit_selection"][:2] == (True, True) and r["fit_selection"][2] > r["fit_zoom"]
    assert "mira_body" in r["box_select"]
    assert r["minimap_moved"] and r["cleared"] == []
    assert r["went_to"] == (True, ["render"])
    (w0, h0), (w1, h1), inside = r["resized"]
    assert (round(w0 - w1), round(h0 - h1)) == (200, 140) and inside
    assert r["dirty"] is False and r["undo1"] == r["undo0"] and "*" not in r["title"]


def test_wire_dropped_on_empty_canvas_offers_compatible_nodes_and_links_the_choice(run_gui, tmp_path):
    r = run_gui(S.wire_drop_search, str(tmp_path))
    assert r["open"] and r["listed"] and r["all_compatible"]
    assert len(r["listed"]) < r["all_types"]  # filtered
    assert sorted(r["listed"]) == r["expected"] and "core.case" in r["listed"]
    assert r["after_query"][0] == "core.case"
    assert r["new"] == [("case_2", "core.case")]
    assert r["links_in"] == [("text", "text", "text")]
    (gx, gy), pos = r["at"]
    assert abs(pos[0] - gx) <= 1 and abs(pos[1] - gy) <= 1  # where the wire was dropped
    assert r["palette_closed"]
    n, all_feed, gradient = r["feeders"]
    assert n > 0 and all_feed and not gradient  # a gradient has no text output
    assert r["fed"] == [("text_2", "core.text"), ("text_2", "text")]


def test_right_click_menus(run_gui, tmp_path):
    r = run_gui(S.context_menus, str(tmp_path))
    assert r["node_menu"][:2] == ["Rename", "Duplicate"]
    assert {"Pin result", "Help", "Delete", "Run to here"} <= set(r["node_menu"])
    assert r["duplicated"] == 1
    assert r["help"][0] and "Gradient" in r["help"][1] and "out image" in r["help"][1]
    assert r["pin_menu"][0] == "Disconnect"
    assert ("gradient", "image", "save_png", "image") not in r["links_after_disconnect"]
    assert r["canvas_menu"][:3] == ["Add node...", "Paste", "Fit all"]
    assert r["palette"]
    (gx, gy), pos = r["added_at"]
    assert pos is not None and abs(pos[0] - gx) <= 1 and abs(pos[1] - gy) <= 1
    assert r["folded"] is True
    assert r["wire_selected"] == [("text", "text", "case", "text")] and r["wire_deleted"]
    assert r["deleted"] and r["inside_after_fit"]


def test_rename_group_and_node_in_place(run_gui, tmp_path):
    r = run_gui(S.rename_in_place, str(tmp_path))
    assert r["before"] == "Words" and r["entry"]
    assert r["group_title"] == "Titles" and r["frame_title"] == "Titles"
    moved, steps, zoom = r["group_moved"]
    assert steps == 1 and set(moved) == {"title", "subtitle"}
    for dx, dy in moved.values():  # the mouse moved (50, 30) screen pixels at this zoom
        assert abs(dx - 50 / zoom) <= 1 and abs(dy - 30 / zoom) <= 1
    assert r["label"] == "Roll" and r["title"].startswith("Roll")
    assert r["undone"] in ("", None)


def test_pin_tooltips_and_reroute_points(run_gui, tmp_path):
    r = run_gui(S.tooltips_and_reroute, str(tmp_path))
    assert "value: text" in r["tip_param"] and "hello" in r["tip_param"]
    assert "image: image (output)" in r["tip_output"] and "run the graph" in r["tip_output"]
    text, images = r["tip_after_run"]
    assert "Image(1280x720" in text and images == 1
    assert r["title_card_images"] == 1
    h0, h1, tex = r["preview_in_node"]
    assert h1 > h0 + 40 and tex and r["preview_off"] == h0
    assert list(r["reroute"]) == ["image"] and len(r["reroute"]["image"]) == 1
    assert r["moved"] != r["reroute"]["image"][0]
    assert r["reloaded"] == {"image": [r["moved"]]}
    assert r["wire_still"]


def test_teaching_canvas_presenter_scale_notes_and_wire_values(run_gui, tmp_path):
    r = run_gui(S.teaching_canvas, str(tmp_path), timeout=120)
    assert r["notes_drawn"] >= 3  # box, pointer, text
    assert r["badges"] >= 3 and ("gradient", "image") in r["calls"]
    node, _link = r["step"]
    assert node in ("gradient", "text") and r["glow"]  # the first step, highlighted
    assert r["presenter"][0] == 2.5 and r["presenter"][1] == r["presenter"][2]  # same zoom, drawn larger
    assert r["wire_px"][1] > r["wire_px"][0]
    assert r["fitted"]
    assert r["png"]


def test_ten_node_pipeline_from_scratch_with_palette_and_wire_drops(run_gui, tmp_path):
    r = run_gui(S.build_pipeline, str(tmp_path), timeout=300)
    assert r["types"] == sorted(["core.text", "character.character", "voice.speak", "lipsync.visemes", "compose.layer",
                                 "music.compose", "audio.mix", "timeline.shot", "timeline.timeline", "timeline.render"])
    prompt, character, speak, visemes, compose, music, mix, shot, timeline, render = r["ids"]
    assert set(r["links"]) == {
        (prompt, "text", speak, "text"), (character, "character", speak, "character"),
        (speak, "speech", visemes, "speech"), (character, "character", visemes, "character"),
        (visemes, "video", compose, "base"), (music, "audio", mix, "tracks"), (speak, "speech", mix, "tracks"),
        (compose, "video", shot, "video"), (mix, "audio", shot, "audio"), (shot, "clip", timeline, "shots"),
        (timeline, "timeline", render, "timeline")}
    assert len(r["actions"]) == 35  # 93 with dearpygui's node editor (issue 14)
