"""Looks in the editor: the session (making a Look of a selection, inserting one into a wire,
instance states from their inner nodes, upgrade, unlock, the inside listing) without a display,
then the real window under Xvfb: select nodes, Make Look, promote a param, drag the Look from
the gallery onto a wire, change the param in the inspector, run.

``NODEGRAPH_LOOKS_SHOTS=assets/screenshots pytest tests/test_looks_gui.py`` also copies the
window's screenshot (the gallery and two instances) to ``assets/screenshots/looks.png``.
"""
from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import looks_scenarios as L
from gui_harness import run_gui, xvfb  # noqa: F401  (fixtures)
from nodegraph.cache import Cache
from nodegraph.errors import NodegraphError
from nodegraph.looks import model
from nodegraph.looks.make import Promote

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "graphs" / "demo.json"
WORDS = ["title", "subtitle", "draw_title", "draw_subtitle"]
SIZE = [Promote("draw_subtitle", "size", name="subtitle_size", label="Subtitle size", group="Text", min=8, max=200)]


@pytest.fixture
def looks_dir(tmp_path, monkeypatch):
    d = tmp_path / "user-looks"
    monkeypatch.setenv("NODEGRAPH_LOOKS_DIR", str(d))
    return d


@pytest.fixture
def session(tmp_path, looks_dir):
    from nodegraph.editor.session import EditorSession

    shutil.copy(DEMO, tmp_path / "demo.json")
    s = EditorSession(cache=Cache(tmp_path / "cache"), config_dir=tmp_path / "config", output_dir=tmp_path / "out")
    s.open(tmp_path / "demo.json")
    yield s
    s.close()


def _links(s) -> set:
    return {(l.src, l.src_port, l.dst, l.dst_port) for l in s.doc.links()}


def _run(s) -> dict:
    assert s.run() is None
    assert s.wait(120)
    return {k: r.status for k, r in s._result.nodes.items()}


def test_make_look_saves_it_and_puts_an_instance_in_place(session, looks_dir):
    s = session
    before = _links(s)
    undo0 = len(s.history.undo_stack)
    look, dest = s.make_look(WORDS, "studio/title-card", "1.0.0", SIZE, title="Title card", description="words")
    assert dest == looks_dir / "studio.title-card-1.0.0.look.json" and dest.is_file()
    assert model.load(dest).params["subtitle_size"].label == "Subtitle size"
    assert look.thumbnail.startswith(b"\x89PNG")  # the sample picture with the words on it
    assert sorted(s.node_ids()) == ["background", "credits", "save_card", "save_credits", "title_card"]
    assert _links(s) == {("background", "image", "title_card", "image"), ("title_card", "image", "save_card", "image"),
                         ("title_card", "text", "credits", "parts"), ("title_card", "text_2", "credits", "parts"),
                         ("credits", "text", "save_credits", "text")}
    assert len(s.history.undo_stack) - undo0 == 1
    assert any(str(dest) in line for line in s.log)
    assert look.type_id in s.registry.specs  # the registry was rebuilt with it
    s.undo()
    assert _links(s) == before and "title_card" not in s.doc


def test_make_look_refuses_with_a_reason_and_changes_nothing(session):
    s = session
    nodes = sorted(s.node_ids())
    for ids, name, version, words in (([], "studio/x", "1.0.0", "select the nodes"),
                                      (["draw_title"], "Title Card", "1.0.0", "namespace/name"),
                                      (["draw_title"], "studio/x", "one", "semantic")):
        with pytest.raises(NodegraphError, match=words):
            s.make_look(ids, name, version)
    with pytest.raises(NodegraphError, match="not in the selection"):
        s.make_look(["draw_title"], "studio/x", "1.0.0", [Promote("draw_subtitle", "size")])
    s.make_look(["draw_title"], "studio/x", "1.0.0")
    s.undo()
    with pytest.raises(NodegraphError, match="already holds Look studio/x 1.0.0"):
        s.make_look(["draw_title"], "studio/x", "1.0.0")
    assert sorted(s.node_ids()) == nodes


def test_registry_follows_the_open_graph(session, tmp_path, looks_dir):
    s = session
    look, _ = s.make_look(["draw_title"], "studio/one", "1.0.0")
    other = tmp_path / "project"
    (other / "looks").mkdir(parents=True)
    beside = model.load(look.path)
    beside.id, beside.title = "studio/beside", "Beside the graph"
    model.save(beside, other / "looks" / beside.file_name())
    shutil.copy(DEMO, other / "g.json")
    reg0 = s.registry
    assert "look:studio/beside@1.0.0" not in reg0.specs
    s.open(other / "g.json")
    assert s.registry is not reg0
    assert {"look:studio/one@1.0.0", "look:studio/beside@1.0.0"} <= set(s.registry.specs)
    s.new()
    assert "look:studio/beside@1.0.0" not in s.registry.specs and "look:studio/one@1.0.0" in s.registry.specs
    s.add_node("core.text")
    s.save_as(other / "saved.json")  # saved beside a looks/ folder: its Looks count now
    assert "look:studio/beside@1.0.0" in s.registry.specs


def test_insert_into_a_wire_or_refuse_a_wire_of_another_type(session):
    s = session
    look, _ = s.make_look(WORDS, "studio/title-card", "1.0.0", SIZE)
    before, undo0 = _links(s), len(s.history.undo_stack)
    nid = s.add_look(look.type_id, (900, 300), wire=("title_card", "image", "save_card", "image"))
    assert nid == "title_card_2"
    assert _links(s) - before == {("title_card", "image", "title_card_2", "image"),
                                  ("title_card_2", "image", "save_card", "image")}
    assert before - _links(s) == {("title_card", "image", "save_card", "image")}
    assert len(s.history.undo_stack) - undo0 == 1
    with pytest.raises(NodegraphError, match=r"cannot go into the text wire title_card\.text -> credits\.parts.*"
                                             r"inputs: image \(image\)"):
        s.add_look(look.type_id, (0, 0), wire=("title_card", "text", "credits", "parts"))
    assert "title_card_3" not in s.doc
    s.undo()
    assert _links(s) == before
    assert s.add_look(look.type_id, (10, 10)) == "title_card_2"  # on the canvas, unwired


def test_an_instance_shows_the_state_of_its_inner_nodes(session, tmp_path):
    s = session
    look, _ = s.make_look(WORDS, "studio/title-card", "1.0.0", SIZE)
    second = s.add_look(look.type_id, (900, 300), wire=("title_card", "image", "save_card", "image"))
    first = _run(s)
    assert set(first.values()) == {"computed"} or set(first.values()) == {"computed", "cached"}
    assert {s.state(n) for n in ("title_card", second)} == {"computed"}
    png = (tmp_path / "out" / "title_card.png").read_bytes()
    assert s.set_param(second, "subtitle_size", 72) is None
    assert s.state(second) == "stale" and s.state("save_card") == "stale"
    assert s.state("title_card") == "computed"  # above the edit: untouched
    second_run = _run(s)
    assert sorted(k for k, v in second_run.items() if v == "computed") == ["save_card", "title_card_2/draw_subtitle"]
    assert s.state(second) == "computed" and s.state("title_card") == "cached"
    assert s.node_view(second).seconds > 0 and s.inspector(second).seconds > 0
    assert (tmp_path / "out" / "title_card.png").read_bytes() != png
    assert s.preview(second).image.shape[:2] == (144, 256)  # the instance's image output
    inner = {n.path: n for n in s.inside(second)}
    assert inner["title_card_2/draw_subtitle"].state == "computed" and inner["title_card_2/title"].state == "cached"
    assert ("size", 72, "promoted as subtitle_size") in inner["title_card_2/draw_subtitle"].params
    assert ("image", "the Look's input image") in inner["title_card_2/draw_title"].inputs
    assert s.pin(second) and "Look instance" in s.pin(second)


def test_upgrade_keeps_values_and_unlock_copies_the_inside(session, looks_dir):
    s = session
    look, _ = s.make_look(WORDS, "studio/title-card", "1.0.0", SIZE)
    s.set_param("title_card", "subtitle_size", 60)
    assert s.newer_version("title_card") is None
    newer = model.load(look.path)
    newer.version = "1.1.0"
    newer.params["sub_size"] = newer.params.pop("subtitle_size")
    newer.migrations = {"1.1.0": {"rename": {"subtitle_size": "sub_size"}}}
    model.save(newer, looks_dir / newer.file_name())
    s.refresh_looks()
    assert s.newer_version("title_card") == "1.1.0"
    notes = s.upgrade_instance("title_card")
    assert s.doc.type_of("title_card") == "look:studio/title-card@1.1.0"
    assert s.doc.params("title_card") == {"sub_size": 60}
    assert notes == ["param 'subtitle_size' is now 'sub_size' (value kept)"] and any("sub_size" in l for l in s.log)
    new = s.unlock_instance("title_card")
    assert new == ["title_card_draw_subtitle", "title_card_draw_title", "title_card_subtitle", "title_card_title"]
    assert s.doc.params("title_card_draw_subtitle")["size"] == 60
    assert ("title_card_draw_subtitle", "image", "save_card", "image") in _links(s)
    s.undo()
    assert s.doc.type_of("title_card") == "look:studio/title-card@1.1.0"


def test_thumbnails_from_look_files_are_checked_before_use():
    from PIL import Image

    from nodegraph.editor.gallery import TILE_H, TILE_W, thumbnail_pixels

    buf = io.BytesIO()
    Image.fromarray(np.full((108, 192, 3), 200, np.uint8)).save(buf, format="PNG")
    assert thumbnail_pixels(buf.getvalue()).shape == (TILE_H, TILE_W, 3)
    big = io.BytesIO()
    Image.new("L", (5000, 10)).save(big, format="PNG")
    assert thumbnail_pixels(big.getvalue()) is None  # larger than a thumbnail: refused, not decoded
    assert thumbnail_pixels(b"\x89PNG\r\n\x1a\nnot really") is None
    assert thumbnail_pixels(b"") is None


# == the window =================================================================================================
def test_make_a_look_drag_it_from_the_gallery_edit_and_run(run_gui, tmp_path):
    shot = tmp_path / "looks.png"
    r = run_gui(L.make_and_use_look, str(tmp_path), str(shot), timeout=300)
    assert r["nothing"].startswith("select the nodes to make a Look of first")
    assert r["selected"] == sorted(WORDS)
    assert "draw_subtitle.size" in r["rows"] and "title.value" in r["rows"]
    err, still_open, nodes = r["bad_name"]
    assert "'Title Card' must be 'namespace/name'" in err and still_open and len(nodes) == 8
    assert r["ticked"]
    made = r["made"]
    assert made["instance"] == "title_card" and made["type"] == "look:studio/title-card@1.0.0"
    assert made["nodes"] == ["background", "credits", "save_card", "save_credits", "title_card"]
    assert made["undo_steps"] == 1 and made["files"] == ["studio.title-card-1.0.0.look.json"]
    assert made["params"] == {"subtitle_size": ("Subtitle size", "Text", 8, 200, 44)}
    assert made["thumbnail"] > 1000
    assert made["title"].startswith("[Look] Title card") and made["title"].endswith("v1.0.0")
    assert made["log"] and made["file"] in made["log"][0]
    shipped = {f"look:nodegraph/{n}@1.0.0" for n in ("noir", "vhs", "noir-video")}
    assert "look:studio/title-card@1.0.0" in r["gallery"] and shipped <= set(r["gallery"])  # yours and the shipped
    added, status = r["wrong_wire"]
    assert added == 0 and "cannot go into the text wire" in status
    second, links = r["inserted"]
    assert second == "title_card_2"
    assert ("title_card", "image", "title_card_2", "image") in links and ("title_card_2", "image", "save_card", "image") in links
    assert set(r["first_run"].values()) == {"computed"}
    assert "Look studio/title-card 1.0.0, locked" in r["inspector"]
    assert r["widget_range"] == (8, 200)
    assert r["after_edit"]["title_card_2"] == "stale" and r["after_edit"]["title_card"] == "computed"
    run2 = r["second_run"]
    assert run2["computed"] == ["save_card", "title_card_2/draw_subtitle"]  # only what is below the param
    assert "title_card_2/draw_title" in run2["cached"] and "title_card/draw_subtitle" in run2["cached"]
    assert run2["states"] == {"background": "cached", "credits": "cached", "save_card": "computed",
                              "save_credits": "cached", "title_card": "cached", "title_card_2": "computed"}
    assert run2["gui_status"]["title_card_2"].startswith("computed") and run2["gui_status"]["title_card"] == "cached"
    assert run2["changed_png"]
    inside = r["inside"]
    assert "title_card_2/draw_subtitle   Draw text (image.draw_text)   [computed]" in inside
    assert "title_card_2/draw_title   Draw text (image.draw_text)   [cached]" in inside
    assert "    size = 72   (promoted as subtitle_size)" in inside
    assert {"View inside (read-only)", "Unlock (copy inside into the graph)"} <= set(r["menu"])
    assert not any(m.startswith("Upgrade") for m in r["menu"])
    assert [t for t in r["gallery_after"] if t.startswith("look:studio/")] == [
        "look:studio/lower-third@1.0.0", "look:studio/poster@1.0.0", "look:studio/title-card@1.1.0"]
    assert "Upgrade to 1.1.0" in r["menu_after"]
    typ, params, notes = r["upgraded"]
    assert typ == "look:studio/title-card@1.1.0" and params == {"sub_size": 72} and notes
    assert r["on_canvas"] == ("poster", [], ["poster"])
    nodes, groups = r["unlocked"]
    assert "title_card" not in nodes and "title_card_draw_subtitle" in nodes
    assert "Title card (unlocked from studio/title-card 1.0.0)" in groups
    assert r["shot"]
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape == (900, 1400, 3) and img.std() > 20
    keep = os.environ.get("NODEGRAPH_LOOKS_SHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "looks.png")
