"""The editor without a screen: files, edits, clipboard, palette, what nodes show, runs, recovery."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from nodegraph.cache import Cache
from nodegraph.editor.session import EditorSession
from nodegraph.errors import NodegraphError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def session(tmp_path, registry):
    shutil.copy(ROOT / "graphs" / "demo.json", tmp_path / "demo.json")
    s = EditorSession(registry, cache=Cache(tmp_path / "cache"), config_dir=tmp_path / "config",
                      output_dir=tmp_path / "out")
    s.open(tmp_path / "demo.json")
    yield s
    s.close()


def test_open_edit_save_and_the_unsaved_marker(session, tmp_path):
    assert session.title == "demo.json - nodegraph" and not session.dirty
    assert session.set_param("title", "value", "Hello") is None
    assert session.dirty and session.title == "demo.json* - nodegraph"
    session.save()
    assert not session.dirty
    assert json.loads((tmp_path / "demo.json").read_text())["nodes"]["title"]["params"]["value"] == "Hello"
    assert str((tmp_path / "demo.json").resolve()) == session.recent[0]
    session.save_as(tmp_path / "copy")
    assert session.path == tmp_path / "copy.json" and (tmp_path / "copy.json").exists()


def test_a_broken_file_keeps_the_open_document(session, tmp_path):
    before = session.doc
    (tmp_path / "broken.json").write_text("{ nope")
    with pytest.raises(NodegraphError, match="broken.json"):
        session.open(tmp_path / "broken.json")
    assert session.doc is before and session.path == tmp_path / "demo.json"


def test_edits_are_undoable(session):
    nid = session.add_node("core.text", (10, 20))
    assert nid in session.doc and session.node_view(nid).pos == (10.0, 20.0)
    assert session.connect(nid, "text", "credits", "parts") is None
    assert session.set_param(nid, "value", "x") is None
    session.move(nid, (300, 40))
    session.set_collapsed(nid, True)
    for _ in range(5):
        assert session.undo()
    assert nid not in session.doc and not session.dirty
    while session.redo():
        pass
    assert session.node_view(nid).collapsed and session.doc.params(nid)["value"] == "x"


def test_refusals_say_why(session):
    assert session.connect("title", "text", "save_card", "image") == "a text output cannot feed the image input 'image'"
    assert session.connect("save_card", "path", "background", "top") is not None  # would make a cycle
    assert session.set_param("background", "width", 0) == "width: 0 is below the minimum 1"
    assert session.set_param("background", "direction", "diagonal").startswith("direction: 'diagonal' is not one of")
    assert session.doc.params("background")["width"] == 1280


def test_seed_randomise(session):
    nid = session.add_node("image.noise", (0, 0))
    values = {session.randomize_seed(nid, "seed") for _ in range(5)}
    assert len(values) > 1 and session.doc.params(nid)["seed"] in values


def test_copy_paste_between_graphs_and_duplicate(session, tmp_path, registry):
    text = session.copy(["title", "subtitle", "credits"])
    other = EditorSession(registry, config_dir=tmp_path / "c2", output_dir=tmp_path / "o2")
    new = other.paste(text, (100, 100))
    assert sorted(new) == ["credits", "subtitle", "title"]
    assert [(l.src, l.dst) for l in other.doc.links()] == [("title", "credits"), ("subtitle", "credits")]
    assert other.node_view("title").pos == (100.0, 100.0)  # the top-left of the copied nodes goes to the paste point
    assert other.node_view("subtitle").pos == (100.0, 220.0)  # and the layout around it is kept
    again = session.duplicate(["title"])
    assert again == ["title_2"] and session.doc.params("title_2") == session.doc.params("title")
    with pytest.raises(NodegraphError, match="clipboard"):
        session.paste("hello")


def test_palette_search(session):
    ids = [s.id for s in session.search_nodes("save")]
    assert ids[:2] == sorted(ids[:2]) or "image.save_png" in ids[:4]
    assert [s.id for s in session.search_nodes("gradient")][0] == "image.gradient"
    assert session.search_nodes("lipsync mouth")[0].id == "lipsync.visemes"
    assert session.search_nodes("zzzz") == []


def test_what_nodes_pins_and_wires_show(session):
    v = session.node_view("draw_title")
    assert v.title == "Draw text" and v.state == "stale" and v.reason.startswith("not yet computed")
    assert [(p.name, p.type_id, p.linked) for p in v.inputs[:2]] == [("image", "image", True), ("text", "text", True)]
    assert v.outputs[0].color == (90, 200, 120)
    links = {(l.src, l.dst_port): l.color for l in session.links_view()}
    assert links[("title", "text")] == (230, 200, 90)
    insp = session.inspector("background")
    width = next(p for p in insp.params if p.name == "width")
    assert (width.kind, width.value, width.opts["min"]) == ("int", 1280, 1)
    assert next(p for p in insp.params if p.name == "direction").opts["choices"][0] == "vertical"


def test_runs_in_the_background_with_states_and_previews(session):
    assert session.run() is None
    t0 = time.perf_counter()
    while session.running and time.perf_counter() - t0 < 30:
        session.poll()  # what the UI does each frame: never blocks
        time.sleep(0.01)
    session.poll()
    assert session.node_view("save_card").state == "computed" and session.node_view("save_card").seconds > 0
    p = session.preview("draw_title")
    assert p.kind == "image" and p.image.shape[1] == 256
    computed_before = session._result.count("computed")
    session.preview("title")  # re-selecting reads results, never recomputes
    assert session._result.count("computed") == computed_before
    session.run()
    session.wait()
    assert session.node_view("save_card").state == "cached"
    session.set_param("subtitle", "value", "Changed")
    assert session.node_view("subtitle").state == "stale"
    assert session.node_view("draw_subtitle").reason.startswith("upstream 'subtitle' will re-run")


def test_run_to_here_and_cancel(session):
    session.run(["draw_title"])
    session.wait()
    assert session.state("draw_title") == "computed" and session.state("save_card") == "stale"
    nid = session.add_node("core.text", (0, 0))  # a run that can be cancelled: many slow nodes are not needed
    session.cancel()
    assert session.run(["title"]) is None and session.wait()
    assert session.run() is None
    session.cancel()
    session.wait()
    assert not session.running and nid in session.doc


def test_step_mode_walks_the_graph_in_order(session):
    seen = []
    while (nid := session.step()) is not None:
        assert session.step_node == nid
        session.wait()
        seen.append(nid)
        assert session.state(nid) in ("computed", "cached")
    assert len(seen) == 8 and seen.index("background") < seen.index("draw_title") < seen.index("save_card")


def test_autosave_and_recovery_after_a_crash(session, tmp_path, registry):
    session.set_param("title", "value", "Unsaved work")
    side = session.autosave()
    assert side == tmp_path / ".demo.json.autosave.json" and side.exists()
    assert session.autosave() is None  # nothing new
    # the process dies here; a new editor opens the same file
    fresh = EditorSession(registry, config_dir=tmp_path / "config", output_dir=tmp_path / "out")
    assert fresh.recovery_for(tmp_path / "demo.json") == side
    fresh.recover(tmp_path / "demo.json")
    assert fresh.doc.params("title")["value"] == "Unsaved work" and fresh.dirty
    fresh.save()
    assert not side.exists() and fresh.recovery_for(tmp_path / "demo.json") is None


def test_templates_and_opening_a_graph_from_a_picture(session, tmp_path):
    names = [t[0] for t in session.templates()]
    assert {"demo", "talking_character", "voices_fr_en_es", "music_only"} <= set(names)
    session.run()
    session.wait()
    other = EditorSession(session.registry, config_dir=tmp_path / "c3", output_dir=tmp_path / "o3")
    other.open(tmp_path / "out" / "title_card.png")
    assert sorted(other.node_ids()) == sorted(session.node_ids()) and other.path is None


def test_unknown_node_types_show_what_is_missing(tmp_path, registry):
    g = tmp_path / "g.json"
    g.write_text(json.dumps({"format": "nodegraph", "version": 1, "packs": {"ai": "nodegraph-ai"},
                             "nodes": {"gen": {"type": "ai.txt2img"}}}))
    s = EditorSession(registry, config_dir=tmp_path / "c", output_dir=tmp_path / "o")
    s.open(g)
    v = s.node_view("gen")
    assert not v.known and v.state == "failed" and "pip install nodegraph-ai" in v.message
    assert s.run() is not None  # the run is refused with the validation message


def test_auto_run_recomputes_the_previewed_node(session):
    session.run(["draw_title"])
    session.wait()
    session.preview("draw_title")
    session.auto_run = True
    session.set_param("title", "value", "Auto")
    assert session.running or session.state("draw_title") in ("queued", "running", "computed")
    session.wait()
    assert session.state("draw_title") == "computed" and session.state("title") == "computed"


def test_run_to_here_ignores_unrelated_unfinished_nodes(session):
    session.add_node("image.save_png", (0, 0))  # an unconnected output node: the whole graph is invalid
    assert session.run() is not None
    assert session.run(["draw_title"]) is None and session.wait()
    assert session.state("draw_title") == "computed"
    stepped = session.step()  # stepping skips the node that cannot run, saying why
    assert stepped is not None and session.wait()
    assert session.state("save_png") == "failed" and "required input 'image'" in session.node_view("save_png").message


def test_reasons_are_fresh_after_a_run(session):
    assert session.node_view("title").reason == "not yet computed"
    session.run()
    session.wait()
    assert session.node_view("title").reason == "cached"


def test_one_undo_step_per_selection_move_and_more_edits(session, tmp_path):
    session.move_many({"title": (1, 2), "subtitle": (3, 4)})
    session.set_label("title", "Big title")
    gid = session.group(["title", "subtitle"], "Words 2")
    session.rename_group(gid, "Renamed")
    assert dict((g, t) for g, t, _ in session.groups_view())[gid] == "Renamed"
    assert session.node_view("title").title == "Big title"
    session.undo()
    session.undo()
    session.undo()
    assert session.node_view("title").pos == (1.0, 2.0)
    session.undo()
    assert session.node_view("title").pos == (40.0, 300.0) and session.node_view("subtitle").pos == (40.0, 420.0)
    pins = {p.name: p.value for p in session.node_view("background").inputs}
    assert pins["width"] == 1280 and pins["direction"] == "vertical"


def test_templates_open_untitled_and_discarded_work_is_not_offered(session, tmp_path):
    recent = list(session.recent)
    session.open_template(ROOT / "graphs" / "talking_character.json")
    assert session.path is None and session.dirty and session.recent == recent
    assert session.run(["speak_1"]) is None and session.wait()  # its relative asset paths still resolve
    session.set_param("line_1", "value", "Changed")
    side = session.autosave()
    assert side is not None and session.recovery_for(None) == side
    session.discard_autosave()
    assert session.recovery_for(None) is None


def test_fractions_of_a_pixel_are_not_edits(session):
    before = session.doc.revision
    session.move_many({"title": (40.3, 299.8), "subtitle": (39.6, 420.4)})
    session.move("credits", (360.2, 359.9))
    assert session.doc.revision == before and not session.dirty
    session.move("credits", (400.6, 359.9))
    assert session.node_view("credits").pos == (401.0, 360.0)


def test_a_running_node_shows_its_in_progress_picture_then_its_result(session):
    """A diffusion node sends latent previews with its progress; the preview panel shows the latest
    while the node runs, and the real result once it has finished."""
    import numpy as np

    from nodegraph.results import Event
    from nodegraph.types import Image

    session.run()
    while session.running:
        session.poll()
        time.sleep(0.01)
    session.poll()
    done = session.preview("background")
    assert done is not None and done.kind == "image"
    live = Image(np.full((8, 8, 3), 200, np.uint8))
    serial = session.live_serial("background")
    session._on_event(Event("started", "background", {}))
    session._on_event(Event("progress", "background", {"fraction": 0.5, "message": "step 5/10", "preview": live}))
    assert session.live_serial("background") == serial + 1
    pv = session.preview("background")
    assert pv.text == "in progress, 50%" and pv.image.shape[:2] == (8, 8) and pv.image.mean() == 200
    session._on_event(Event("progress", "background", {"fraction": 0.6, "message": "step 6/10", "preview": None}))
    assert session.live_serial("background") == serial + 1      # no new picture: nothing to redraw
    session._on_event(Event("finished", "background", {"status": "computed", "seconds": 0.1}))
    assert session.preview("background").text == done.text
