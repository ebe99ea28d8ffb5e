"""What the editor shows is what the cache says: stale marks reach every node below an edit, a
graph opened over a warm cache shows its cached nodes as cached, and every run ends with the list
of files it wrote (the editor's log with an "Open folder" action, and the CLI's summary)."""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from nodegraph.cache import Cache
from nodegraph.cli import main
from nodegraph.editor.session import EditorSession

from gui_harness import run_gui, xvfb  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
ALL = ["background", "credits", "draw_subtitle", "draw_title", "save_card", "save_credits", "subtitle", "title"]


def _session(registry, tmp_path: Path, name: str = "config") -> EditorSession:
    s = EditorSession(registry, cache=Cache(tmp_path / "cache"), config_dir=tmp_path / name, output_dir=tmp_path / "out")
    s.open(tmp_path / "demo.json")
    return s


@pytest.fixture
def graph(tmp_path):
    shutil.copy(ROOT / "graphs" / "demo.json", tmp_path / "demo.json")
    return tmp_path / "demo.json"


def states(s: EditorSession) -> dict[str, str]:
    return {n: s.node_view(n).state for n in sorted(s.node_ids())}


def test_stale_marks_reach_every_node_below_an_edit(graph, tmp_path, registry):
    s = _session(registry, tmp_path)
    try:
        assert set(states(s).values()) == {"stale"}  # a cold cache: nothing computed yet
        assert s.run() is None and s.wait()
        assert set(states(s).values()) == {"computed"}
        s.set_param("subtitle", "value", "Changed")
        below = {"subtitle", "draw_subtitle", "save_card", "credits", "save_credits"}
        assert states(s) == {n: "stale" if n in below else "computed" for n in ALL}
        assert s.inspector("save_card").status == "stale"
        assert s.node_view("draw_subtitle").reason.startswith("upstream 'subtitle' will re-run")
        s.undo()  # the same content key again: the cache says every result is still good
        assert set(states(s).values()) == {"computed"}
        s.set_param("title", "value", "Other title")  # another branch: the subtitle side keeps its state
        assert {n for n, st in states(s).items() if st == "stale"} == {
            "title", "draw_title", "draw_subtitle", "save_card", "credits", "save_credits"}
        assert states(s)["subtitle"] == "computed" and states(s)["background"] == "computed"
        assert s.run() is None and s.wait()
        after = states(s)
        assert after["title"] == "computed" and after["subtitle"] == "cached" and after["background"] == "cached"
        assert "stale" not in after.values()
        moved = s.doc.revision
        s.move("title", (500, 500))  # layout is not content: nothing turns stale
        assert s.doc.revision == moved or "stale" not in states(s).values()
    finally:
        s.close()


def test_a_graph_opened_over_a_warm_cache_shows_cached_nodes_without_running(graph, tmp_path, registry, monkeypatch):
    first = _session(registry, tmp_path, "c1")
    assert first.run() is None and first.wait()
    first.close()
    loads = []
    real = Cache.get_value
    monkeypatch.setattr(Cache, "get_value", lambda self, d, *a, **k: loads.append(d) or real(self, d, *a, **k))
    second = _session(registry, tmp_path, "c2")
    try:
        assert states(second) == {n: "cached" for n in ALL}
        assert second.runs == 0 and second._result is None and loads == []  # decided from keys: nothing loaded
        assert second.node_view("title").reason == "cached"
        second.set_param("title", "value", "New")
        st = states(second)
        assert st["title"] == st["draw_title"] == st["save_card"] == st["credits"] == "stale"
        assert st["subtitle"] == st["background"] == "cached"
        (tmp_path / "out" / "title_card.png").unlink()  # an output file deleted: its node runs again
        second.undo()
        assert states(second)["save_card"] == "stale" and states(second)["title"] == "cached"
    finally:
        second.close()


def test_a_failed_node_stays_failed_until_an_edit_reaches_it(graph, tmp_path, registry):
    s = _session(registry, tmp_path)
    try:
        (tmp_path / "out" / "title_card.png").mkdir(parents=True)  # a folder in the way: the write fails
        s.run()
        s.wait()
        assert s.node_view("save_card").state == "failed" and "title_card.png" in s.node_view("save_card").message
        s.move("title", (300, 300))  # not an edit of content
        assert s.node_view("save_card").state == "failed"
        s.set_param("subtitle", "value", "x")  # above it: decided again
        assert s.node_view("save_card").state == "stale" and s.node_view("save_card").message == ""
    finally:
        s.close()


def test_every_run_ends_with_its_files_and_an_open_folder_action(graph, tmp_path, registry, monkeypatch):
    s = _session(registry, tmp_path)
    out = (tmp_path / "out").resolve()
    try:
        s.run()
        s.wait()
        i = s.log.index(f"output folder: {out}")
        assert s.log[i + 1:i + 3] == ["  wrote title_card.png", "  wrote credits.txt"]
        assert sorted(s.last_files) == sorted(str(p) for p in out.iterdir()) and s.last_output_dir == out
        s.run()
        s.wait()
        assert s.log[-2:] == ["  cached title_card.png", "  cached credits.txt"]
        monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # no xdg-open: the path is said, nothing fails
        assert s.open_folder() == f"output folder: {out} (no xdg-open here to open it)"
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        opener = bin_dir / "xdg-open"
        opener.write_text(f"#!/bin/sh\necho \"$1\" > {tmp_path / 'opened.txt'}\n")
        opener.chmod(opener.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
        assert s.open_folder() == f"opened {out}"
        for _ in range(200):
            if (tmp_path / "opened.txt").exists() and (tmp_path / "opened.txt").read_text().strip():
                break
            import time

            time.sleep(0.02)
        assert (tmp_path / "opened.txt").read_text().strip() == str(out)
    finally:
        s.close()


def test_open_folder_before_any_run_says_so(graph, tmp_path, registry):
    s = _session(registry, tmp_path)
    try:
        assert "does not exist yet" in s.open_folder()
    finally:
        s.close()


def test_cli_run_summary_lists_the_output_folder_and_every_file(graph, tmp_path, capsys):
    out = tmp_path / "o"
    args = ["run", str(graph), "--output", str(out), "--cache-dir", str(tmp_path / "cc")]
    assert main(args) == 0
    text = capsys.readouterr().out.splitlines()
    i = text.index(f"output folder: {out.resolve()}")
    assert text[i + 1:i + 3] == ["  wrote title_card.png", "  wrote credits.txt"]
    assert main(args) == 0
    text = capsys.readouterr().out.splitlines()
    assert "  cached title_card.png" in text and "0 computed" in text[-1]


# == the real window (Xvfb): the run's files in the log, its Open folder button, the inspector ========
def gui_open_folder_and_overrides(tmp: str) -> dict:
    """Run the demo from the window, click the log's Open folder button (a stand-in xdg-open records
    what it was asked to open), then inspect a Speak node of the talking-character template."""
    import dearpygui.dearpygui as dpg

    import gui_harness as H
    from nodegraph.editor.app import EditorApp

    t = Path(tmp)
    shutil.copy(ROOT / "graphs" / "demo.json", t / "demo.json")
    bin_dir = t / "bin"
    bin_dir.mkdir()
    opener = bin_dir / "xdg-open"
    opener.write_text(f"#!/bin/sh\necho \"$1\" > {t / 'opened.txt'}\n")
    opener.chmod(0o755)
    os.environ["PATH"] = str(bin_dir) + os.pathsep + os.environ.get("PATH", "")
    s = EditorSession(cache=Cache(t / "cache"), config_dir=t / "config", output_dir=t / "out")
    app = EditorApp(str(t / "demo.json"), session=s)
    app.start()
    H.use(app)
    H.frames(6)
    out: dict = {}
    try:
        serial = app.view._run_serial
        H.click(*H.item_center("ng_run"))
        H.wait_until(lambda: app.view._run_serial > serial, 60)
        buttons = H.wait_until(lambda: [i for i in dpg.get_all_items()
                                        if str(dpg.get_item_alias(i)).startswith("ng_open_folder_")], 10)
        H.frames(6)
        H.click(*H.item_center(buttons[-1]))
        H.wait_until(lambda: (t / "opened.txt").exists() and (t / "opened.txt").read_text().strip(), 10)
        out["opened"] = (t / "opened.txt").read_text().strip()
        out["log"] = list(s.log)
        s.open(ROOT / "graphs" / "talking_character.json")  # read only: nothing is saved
        H.frames(6)
        app.view.inspect("speak_1")
        H.wait_until(lambda: dpg.does_item_exist("ng_overridden_pitch"), 10)
        out["pitch"] = dpg.get_value("ng_overridden_pitch")
        out["pitch_hint"] = dpg.get_item_configuration(app.view.param_widget("pitch"))["hint"]
        shot = t / "inspector.png"
        out["shot"] = str(shot) if app.screenshot(shot) else ""
        return out
    finally:
        app.close()


def test_the_window_lists_files_opens_the_folder_and_shows_overrides(run_gui, tmp_path):
    r = run_gui(gui_open_folder_and_overrides, str(tmp_path), timeout=120)
    out = str((tmp_path / "out").resolve())
    assert r["opened"] == out
    assert f"output folder: {out}" in r["log"] and "  wrote title_card.png" in r["log"]
    assert r["pitch"] == "from the linked character ('mira')" and r["pitch_hint"] == "from the linked character ('mira')"


def test_a_value_kept_in_memory_only_does_not_make_a_sibling_branch_stale(tmp_path, registry):
    """Lazy videos are recipes, kept in memory only: over a warm cache in a new process their keys
    are cached but their values are not. An edit in one branch leaves the other branch, and the
    shared recipe above both, shown cached (their results are known and unchanged)."""
    s = EditorSession(registry, cache=Cache(tmp_path / "cache"), config_dir=tmp_path / "c1", output_dir=tmp_path / "out")
    s.add_node("image.gradient", (0, 0))
    s.set_param("gradient", "width", 64)
    s.set_param("gradient", "height", 36)
    s.add_node("compose.motion", (200, 0))
    s.connect("gradient", "image", "motion", "video")
    s.set_param("motion", "duration", 0.5)
    s.set_param("motion", "fps", 4)
    for k in ("a", "b"):
        t = s.add_node("compose.text", (400, 0))
        s.connect("motion", "video", t, "base")
        s.set_param(t, "text", k.upper())
        save = s.add_node("video.save_mp4", (600, 0))
        s.connect(t, "video", save, "video")
        s.set_param(save, "filename", f"{k}.mp4")
    s.save_as(tmp_path / "two.json")
    assert s.run() is None and s.wait() and s._result.ok
    s.close()
    other = EditorSession(registry, cache=Cache(tmp_path / "cache"), config_dir=tmp_path / "c2", output_dir=tmp_path / "out")
    try:
        other.open(tmp_path / "two.json")
        assert set(states(other).values()) == {"cached"}
        other.set_param("text_2", "text", "Changed")
        st = states(other)
        assert st["text_2"] == st["save_mp4_2"] == "stale"
        assert st["gradient"] == st["motion"] == st["text"] == st["save_mp4"] == "cached"
        assert "kept in memory only" in other.node_view("motion").reason  # the hover says it is made again
    finally:
        other.close()
