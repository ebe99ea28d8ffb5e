"""Files that travel: paths saved relative to the graph, rewritten by Save As and template copies,
checked by validate, the file dialog's answer, provenance without the maker's paths, --no-embed,
and only semantic edits dirtying a document."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from gui_harness import run_gui, xvfb  # noqa: F401  (fixtures)

from nodegraph import paths
from nodegraph.cache import Cache
from nodegraph.cli import main
from nodegraph.evaluate import Evaluator
from nodegraph.fileformat import load
from nodegraph.templates import instantiate, list_templates, shipped_dir
from nodegraph.validate import validate

ROOT = Path(__file__).resolve().parent.parent
PARK = ROOT / "assets" / "backgrounds" / "park.png"
MOUTHS = ROOT / "assets" / "characters" / "mira" / "mouths.png"
#: cheap nodes of the talking-character template that read its four files
TC_TARGETS = ["mira", "bg_park", "bg_studio"]


def mini_graph(folder: Path, path_value: str = "assets/park.png", extra: dict | None = None) -> Path:
    """A graph in ``folder`` that loads a picture and saves it as PNG (with the park picture in
    ``folder/assets`` when the path is the default)."""
    folder.mkdir(parents=True, exist_ok=True)
    if path_value == "assets/park.png":
        (folder / "assets").mkdir(exist_ok=True)
        shutil.copy(PARK, folder / "assets" / "park.png")
    nodes = {"pic": {"type": "image.load", "params": {"path": path_value}},
             "save": {"type": "image.save_png", "params": {"filename": "park.png"}, "inputs": {"image": "pic.image"}}}
    nodes.update(extra or {})
    g = folder / "scene.json"
    g.write_text(json.dumps({"format": "nodegraph", "version": 1, "nodes": nodes}), encoding="utf-8")
    return g


def digests(registry, graph: Path, targets=TC_TARGETS) -> dict:
    doc = load(graph)
    ev = Evaluator(registry, output_dir=graph.parent / "out", base_dir=graph.parent, cache=Cache.memory_only())
    result = ev.run(doc, targets)
    assert result.ok, {n: r.error for n, r in result.nodes.items() if r.error}
    return {n: result.nodes[n].digests for n in targets}


def path_values(graph: Path) -> dict:
    data = json.loads(graph.read_text(encoding="utf-8"))
    return {n: e["params"]["path"] for n, e in data["nodes"].items() if "path" in e.get("params", {})}


# -- the rules -------------------------------------------------------------------------------------

def test_portable_and_rebase_rules(tmp_path):
    proj = tmp_path / "proj"
    (proj / "assets").mkdir(parents=True)
    inside = str(proj / "assets" / "a.png")
    outside = str(tmp_path / "elsewhere" / "b.png")
    assert paths.portable(inside, proj) == "assets/a.png"  # inside the graph's folder: relative
    assert paths.portable(outside, proj) == outside  # outside: kept absolute
    assert paths.portable("../shared/c.png", proj) == "../shared/c.png"  # chosen relative: kept
    # Save As into a subfolder: a relative path climbs one more folder
    assert paths.rebase("assets/a.png", proj, proj / "versions") == "../assets/a.png"
    # a sibling folder inside the folder a ../ path climbs to: still relative
    assert paths.rebase("../shared/c.png", proj, tmp_path / "other") == "../shared/c.png"
    # somewhere the relative path no longer relates to: absolute, naming the same file
    assert paths.rebase("assets/a.png", proj, tmp_path / "far" / "away") == str(proj / "assets" / "a.png")
    # an absolute path that the new folder holds becomes relative; others stay as typed
    assert paths.rebase(inside, tmp_path / "x", proj) == "assets/a.png"
    assert paths.rebase(outside, proj, tmp_path / "y") == outside


# -- templates -------------------------------------------------------------------------------------

def test_templates_are_found_and_listed(capsys):
    names = {t.name for t in list_templates()}
    assert {"talking_character", "demo", "music_only"} <= names
    assert (shipped_dir("assets") / "characters" / "mira" / "body.png").is_file()
    assert main(["templates"]) == 0
    out = capsys.readouterr().out
    assert "talking_character  (" in out and max(len(line) for line in out.splitlines()) <= 80


def test_new_from_a_template_copies_its_files_and_rewrites_paths(registry, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["new", "scene.json", "--template", "talking_character"]) == 0
    assert "created scene.json from the template talking_character and 5 files" in capsys.readouterr().out
    values = path_values(tmp_path / "scene.json")
    assert values == {"bg_park": "assets/backgrounds/park.png", "bg_studio": "assets/backgrounds/studio.png",
                      "mira_body": "assets/characters/mira/body.png", "mira_mouths": "assets/characters/mira/mouths.png"}
    assert all((tmp_path / v).is_file() for v in values.values())
    assert (tmp_path / "assets" / "characters" / "mira" / "character.json").is_file()  # read beside the art
    assert main(["validate", "scene.json"]) == 0
    # the copy computes what the template computes
    assert digests(registry, tmp_path / "scene.json") == digests(registry, ROOT / "graphs" / "talking_character.json")
    # a second copy into the same folder reuses the identical files; an unknown name gets a hint
    assert main(["new", "again.json", "--template", "talking_character"]) == 0
    assert main(["new", "x.json", "--template", "talking_charcter"]) == 1
    assert "did you mean 'talking_character'?" in capsys.readouterr().err


def test_new_refuses_to_overwrite_a_different_asset(registry, tmp_path):
    (tmp_path / "assets" / "backgrounds").mkdir(parents=True)
    (tmp_path / "assets" / "backgrounds" / "park.png").write_bytes(b"mine")
    with pytest.raises(Exception, match="park.png already exists with other content"):
        instantiate("talking_character", tmp_path / "scene.json", registry)
    assert (tmp_path / "assets" / "backgrounds" / "park.png").read_bytes() == b"mine"
    assert not (tmp_path / "scene.json").exists()


# -- validate --------------------------------------------------------------------------------------

def test_validate_names_the_node_param_and_path_of_a_missing_file(tmp_path, capsys):
    g = mini_graph(tmp_path / "proj")
    assert main(["validate", str(g)]) == 0
    (tmp_path / "proj" / "assets" / "park.png").unlink()
    assert main(["validate", str(g)]) == 1
    err = capsys.readouterr().err
    assert (f"node 'pic' (image.load) param 'path': the file 'assets/park.png' does not exist "
            f"(looked for {tmp_path / 'proj' / 'assets' / 'park.png'})") in err


def test_validate_checks_files_only_when_asked(registry, tmp_path):
    from nodegraph.policy import Policy

    g = mini_graph(tmp_path / "proj", "nowhere.png")
    policy = Policy(g.parent, defaults=False)
    assert validate(load(g), registry, policy=policy) == []  # a run lets the node say it
    issues = validate(load(g), registry, policy=policy, check_files=True)
    assert [(i.code, i.node, i.port) for i in issues] == [("missing_file", "pic", "path")]


# -- the editor's files ----------------------------------------------------------------------------

@pytest.fixture
def session(tmp_path, registry):
    from nodegraph.editor.session import EditorSession

    s = EditorSession(registry, cache=Cache.memory_only(), config_dir=tmp_path / "config")
    yield s
    s.close()


def run_session(s, out: Path) -> bytes:
    s.output_dir = out
    assert s.run() is None
    assert s.wait(60)
    s.poll()
    assert s._result.ok, {n: r.error for n, r in s._result.nodes.items() if r.error}
    return (out / "park.png").read_bytes()


def pixels(path: Path):
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


def test_save_saves_paths_inside_the_folder_relative(session, tmp_path):
    g = mini_graph(tmp_path / "proj", str(tmp_path / "proj" / "assets" / "park.png"))
    session.open(g)
    session.save()
    assert path_values(g) == {"pic": "assets/park.png"} and not session.dirty


def test_save_as_rewrites_relative_paths_and_runs_the_same(session, tmp_path):
    g = mini_graph(tmp_path / "proj")
    session.open(g)
    run_session(session, tmp_path / "out1")
    session.save_as(tmp_path / "proj" / "versions" / "v2.json")
    assert path_values(tmp_path / "proj" / "versions" / "v2.json") == {"pic": "../assets/park.png"}
    run_session(session, tmp_path / "out2")  # the same picture (the embedded graph names the new path)
    assert np.array_equal(pixels(tmp_path / "out1" / "park.png"), pixels(tmp_path / "out2" / "park.png"))
    session.save_as(tmp_path / "far" / "away.json")  # no longer related: absolute, same file
    assert path_values(tmp_path / "far" / "away.json") == {"pic": str(tmp_path / "proj" / "assets" / "park.png")}
    assert main(["validate", str(tmp_path / "far" / "away.json"), "--allow-read", str(tmp_path / "proj")]) == 0


def test_save_as_of_a_template_copies_its_files(session, tmp_path, registry):
    session.open_template(shipped_dir("graphs") / "talking_character.json")
    session.save_as(tmp_path / "mine" / "scene.json")
    values = path_values(tmp_path / "mine" / "scene.json")
    assert set(values.values()) == {"assets/backgrounds/park.png", "assets/backgrounds/studio.png",
                                    "assets/characters/mira/body.png", "assets/characters/mira/mouths.png"}
    assert all((tmp_path / "mine" / v).is_file() for v in values.values())
    assert not session.dirty
    assert digests(registry, tmp_path / "mine" / "scene.json") == digests(registry, ROOT / "graphs" / "talking_character.json")


def test_a_moved_graph_with_its_assets_runs_to_the_same_bytes(tmp_path):
    g = mini_graph(tmp_path / "a" / "proj")
    env_cache = ["--cache-dir", str(tmp_path / "cache")]
    assert main(["run", str(g), "-o", str(g.parent / "output"), "-q", *env_cache]) == 0
    before = (g.parent / "output" / "park.png").read_bytes()
    shutil.move(str(tmp_path / "a" / "proj"), str(tmp_path / "b" / "moved"))  # the folder, assets and all
    moved = tmp_path / "b" / "moved" / "scene.json"
    shutil.rmtree(moved.parent / "output")
    assert main(["validate", str(moved)]) == 0
    assert main(["run", str(moved), "-o", str(moved.parent / "output"), "-q", *env_cache]) == 0
    assert (moved.parent / "output" / "park.png").read_bytes() == before  # provenance included


# -- the file dialog ---------------------------------------------------------------------------------

def test_chosen_file_reads_selections_not_the_filter_suffix(tmp_path):
    from nodegraph.editor.dialogs import chosen_file

    body = tmp_path / "body.png"
    body.write_bytes(b"x")
    clicked = {"file_path_name": str(tmp_path / "body.*"), "file_name": "body.*", "current_path": str(tmp_path),
               "current_filter": ".*", "selections": {"body.png": str(body)}}
    assert chosen_file(clicked) == str(body)
    # typed after an earlier click: the stale selection is not taken
    typed = {**clicked, "file_path_name": str(tmp_path / "new.*"), "file_name": "new.*"}
    assert chosen_file(typed) == str(tmp_path / "new")
    typed_existing = {**typed, "selections": {}, "file_name": "body.*", "file_path_name": str(tmp_path / "body.*")}
    assert chosen_file(typed_existing) == str(body)
    # a save dialog with a real extension filter: the typed name is right as it is
    assert chosen_file({"file_path_name": str(tmp_path / "scene.json"), "file_name": "scene.json",
                        "current_path": str(tmp_path), "current_filter": ".json", "selections": {}}) == str(tmp_path / "scene.json")
    assert chosen_file({}) == "" and chosen_file(None) == ""


def test_browse_stores_the_chosen_file_relative_to_the_graph(session, tmp_path):
    """The path dialog's callback (``_dialog_done("path", app_data)``) with the app_data dearpygui
    hands it for a click on a file under the filter ``.*``."""
    from nodegraph.editor.dialogs import FilesMixin
    from nodegraph.editor.panels import InspectorMixin

    class View(InspectorMixin, FilesMixin):  # the GraphView parts this path goes through
        def __init__(self, s):
            self.s, self._path_target, self.messages = s, ("pic", "path"), []

        def _guard(self, fn, what):
            return fn()

        def message(self, text, color=None, log=True):
            self.messages.append(text)

    g = mini_graph(tmp_path / "proj", "nowhere.png")
    session.open(g)
    (tmp_path / "proj" / "art").mkdir()
    chosen = tmp_path / "proj" / "art" / "park.png"
    shutil.copy(PARK, chosen)
    view = View(session)
    view._dialog_done("path", {"file_path_name": str(chosen.parent / "park.*"), "file_name": "park.*",
                               "current_path": str(chosen.parent), "current_filter": ".*",
                               "selections": {"park.png": str(chosen)}})
    assert session.doc.params("pic")["path"] == "art/park.png" and not view.messages
    first = run_session(session, tmp_path / "out")
    assert first == run_session(session, tmp_path / "out2")  # it runs (twice: the same bytes)
    outside = tmp_path / "pictures" / "p.png"
    outside.parent.mkdir()
    shutil.copy(PARK, outside)
    view._dialog_done("path", {"file_path_name": str(outside.parent / "p.*"), "file_name": "p.*",
                               "current_path": str(outside.parent), "current_filter": ".*",
                               "selections": {"p.png": str(outside)}})
    assert session.doc.params("pic")["path"] == str(outside)  # outside the graph's folder: absolute
    run_session(session, tmp_path / "out3")  # the picked file's folder may be read


# -- provenance --------------------------------------------------------------------------------------

def png_chunks(path: Path) -> dict:
    from PIL import Image

    with Image.open(path) as im:
        return dict(im.text)


def test_provenance_holds_no_absolute_path_of_this_machine(tmp_path):
    from nodegraph import read_embedded_graph

    extra = {"mouths": {"type": "image.load", "params": {"path": str(MOUTHS)}},
             "save2": {"type": "image.save_png", "params": {"filename": "mouths.png"}, "inputs": {"image": "mouths.image"}}}
    g = mini_graph(tmp_path / "proj", str(tmp_path / "proj" / "assets" / "park.png"), extra)
    (tmp_path / "proj" / "assets").mkdir()
    shutil.copy(PARK, tmp_path / "proj" / "assets" / "park.png")
    assert main(["run", str(g), "-o", str(g.parent / "output"), "-q", "--no-cache", "--allow-read", str(MOUTHS.parent)]) == 0
    for name in ("park.png", "mouths.png"):
        chunks = png_chunks(g.parent / "output" / name)
        blob = json.dumps(chunks)
        assert str(tmp_path) not in blob and str(ROOT) not in blob and str(Path.home()) not in blob
        assert chunks["nodegraph:base"] == ".."
        embedded = json.loads(chunks["nodegraph:graph"])
        assert embedded["nodes"]["pic"]["params"]["path"] == "assets/park.png"
        assert embedded["nodes"]["mouths"]["params"]["path"] == "mouths.png"
        import blake3

        assert embedded["meta"]["file:mouths.path"] == f"mouths.png blake3:{blake3.blake3(MOUTHS.read_bytes()).hexdigest()}"
    text, base = read_embedded_graph(str(g.parent / "output" / "park.png"))
    assert Path(base) == g.parent.resolve()  # read back as the graph's folder
    # the graph re-opened from the picture runs (its folder is found from the picture's place)
    assert main(["run", str(g.parent / "output" / "park.png"), "-o", str(tmp_path / "again"), "-q", "--no-cache",
                 "--target", "pic"]) == 0


def test_no_embed_writes_no_provenance_and_is_part_of_the_key(tmp_path):
    g = mini_graph(tmp_path / "proj")
    out, cache = g.parent / "output", ["--cache-dir", str(tmp_path / "cache")]
    report = tmp_path / "r.json"
    assert main(["run", str(g), "-o", str(out), "-q", *cache]) == 0
    assert "nodegraph:graph" in png_chunks(out / "park.png")
    assert main(["run", str(g), "-o", str(out), "-q", "--no-embed", "--report", str(report), *cache]) == 0
    assert json.loads(report.read_text())["nodes"]["save"]["status"] == "computed"  # not the cached file
    assert not any(k.startswith("nodegraph") for k in png_chunks(out / "park.png"))
    assert main(["run", str(g), "-o", str(out), "-q", "--no-embed", "--report", str(report), *cache]) == 0
    assert json.loads(report.read_text())["nodes"]["save"]["status"] == "cached"


# -- only semantic edits dirty a document -------------------------------------------------------------

def test_layout_no_ops_selection_and_view_state_leave_the_document_clean(session, tmp_path):
    shutil.copy(ROOT / "graphs" / "demo.json", tmp_path / "demo.json")
    session.open(tmp_path / "demo.json")
    doc = session.doc
    rev = doc.revision
    ids = session.node_ids()
    pos = {n: tuple(doc.layout[n]["pos"]) for n in ids if "pos" in doc.layout.get(n, {})}
    for nid, (x, y) in pos.items():  # drops where the node already is, and view shifts under half a pixel
        session.move(nid, (x, y))
        session.move(nid, (x + 0.3, y - 0.4))
    session.move_many({n: (x + 0.49, y) for n, (x, y) in pos.items()})
    for nid in ids:  # what the view reads to draw, inspect and preview
        session.node_view(nid)
        session.inspector(nid)
        session.preview(nid)
        session.state(nid)
    session.links_view()
    session.groups_view()
    session.search_nodes("text")
    session.copy(ids)
    for nid in ids:  # a widget that writes back the value it shows
        for name, value in list(doc.params(nid).items()):
            assert session.set_param(nid, name, value) is None
    session.autosave()
    assert not session.dirty and doc.revision == rev and session.title == "demo.json - nodegraph"
    assert session.autosave() is None  # nothing new to keep
    # a real move is saved in the file: it dirties, and moving back makes the document clean again
    nid = next(iter(pos))
    x, y = pos[nid]
    session.move(nid, (x + 1, y))
    assert session.dirty and doc.revision == rev  # layout: not a semantic change (no run is stale)
    session.move(nid, (x, y))
    assert not session.dirty
    session.undo()
    session.undo()
    assert not session.dirty


def test_a_run_and_a_save_leave_the_document_clean(session, tmp_path):
    g = mini_graph(tmp_path / "proj")
    session.open(g)
    run_session(session, tmp_path / "out")
    assert not session.dirty
    session.save()
    assert not session.dirty and (g.read_text(encoding="utf-8") == session._saved)


def test_edits_that_change_nothing_are_no_undo_step_and_leave_the_file_as_it_was(session, tmp_path):
    shutil.copy(ROOT / "graphs" / "talking_character.json", tmp_path / "t.json")
    session.open(tmp_path / "t.json")
    nid, gid = "mira", "cast"
    rev = session.doc.revision
    session.set_collapsed(nid, False)  # already unfolded
    session.set_cache_policy(nid, "default")
    session.rename_group(gid, session.doc.groups[gid]["title"])
    session.set_label(nid, session.doc.node(nid).get("label", ""))
    assert not session.dirty and session.doc.revision == rev and not session.history.undo_stack
    session.set_collapsed(nid, True)
    assert session.dirty
    session.set_collapsed(nid, False)  # folded and unfolded again: the file reads as before
    assert not session.dirty and "collapsed" not in session.doc.layout[nid]
    session.save()
    assert (tmp_path / "t.json").read_text(encoding="utf-8") == (ROOT / "graphs" / "talking_character.json").read_text(encoding="utf-8")


def test_a_template_whose_files_already_lie_under_the_new_folder_is_not_copied_again(registry, tmp_path):
    proj = tmp_path / "proj"
    mini_graph(proj / "templates", "../assets/park.png")
    (proj / "assets").mkdir()
    shutil.copy(PARK, proj / "assets" / "park.png")
    _, written = instantiate(proj / "templates" / "scene.json", proj / "scene.json", registry)
    assert written == [proj / "scene.json"] and path_values(proj / "scene.json") == {"pic": "assets/park.png"}
    _, written = instantiate(proj / "templates" / "scene.json", tmp_path / "other" / "s.json", registry)
    assert written == [tmp_path / "other" / "assets" / "park.png", tmp_path / "other" / "s.json"]
    assert path_values(tmp_path / "other" / "s.json") == {"pic": "assets/park.png"}


# -- the real file dialog in the real window (Xvfb) -------------------------------------------------

def browse_in_the_window(tmp: str) -> dict:
    """Scenario (spawned process, see gui_harness): the inspector's Browse opens the editor's own
    path dialog; a click on the file and on OK, as a person does; then save."""
    import dearpygui.dearpygui as dpg
    import gui_harness as H
    from gui_scenarios import _app

    graph = Path(tmp) / "proj" / "scene.json"
    app = _app(str(graph), tmp)
    s, v = app.session, app.view
    try:
        dpg.configure_item("ng_path_dialog", default_path=str(graph.parent / "art"))
        v._browse(("pic", "path"))  # what the Browse button of the param calls
        H.frames(10)
        dpg.output_frame_buffer(file=str(Path(tmp) / "dialog.png"))
        H.frames(4)
        # the modal dialog (760x460) is centred in the window
        x = (dpg.get_viewport_client_width() - 760) / 2
        y = (dpg.get_viewport_client_height() - 460) / 2
        H.click(x + 80, y + 107)  # the first row: the only file in the folder
        H.click(x + 22, y + 443)  # OK
        H.frames(6)
        value = s.doc.params("pic")["path"]
        v.save()
        return {"value": value, "saved": json.loads(graph.read_text(encoding="utf-8"))["nodes"]["pic"]["params"]["path"],
                "shown": dpg.is_item_shown("ng_path_dialog")}
    finally:
        app.close()


def test_browse_in_the_real_dialog_stores_the_chosen_file(tmp_path, run_gui):
    g = mini_graph(tmp_path / "proj", "nowhere.png")
    (g.parent / "art").mkdir()
    shutil.copy(PARK, g.parent / "art" / "park.png")
    out = run_gui(browse_in_the_window, str(tmp_path), timeout=120)
    assert out == {"value": "art/park.png", "saved": "art/park.png", "shown": False}, tmp_path / "dialog.png"


def test_a_hostile_template_cannot_copy_a_private_file_beside_the_new_graph(registry, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("NODEGRAPH_ALLOW_READ", raising=False)  # the suite allows its temp folders (conftest)
    private = tmp_path / "home" / ".ssh"
    private.mkdir(parents=True)
    (private / "id_rsa").write_text("secret")
    mini_graph(tmp_path / "home" / "downloads", "../.ssh/id_rsa")
    shared = tmp_path / "home" / "downloads" / "scene.json"
    assert main(["new", str(tmp_path / "mine" / "s.json"), "--template", str(shared)]) == 1
    err = capsys.readouterr().err
    assert f"node 'pic' param 'path': '../.ssh/id_rsa' ({private / 'id_rsa'}) is outside the folders this graph may read" in err
    assert not (tmp_path / "mine").exists() or not any((tmp_path / "mine").rglob("*"))
    # allowed by hand, it is copied
    assert main(["new", str(tmp_path / "mine" / "s.json"), "--template", str(shared), "--allow-read", str(private)]) == 0
    assert path_values(tmp_path / "mine" / "s.json") == {"pic": ".ssh/id_rsa"}


def test_a_save_as_that_fails_leaves_the_paths_as_they_were(session, tmp_path):
    g = mini_graph(tmp_path / "proj")
    session.open(g)
    (g.parent / "blocked").write_text("a file where a folder should be")
    with pytest.raises(OSError):  # it would have been ../assets/park.png from there
        session.save_as(g.parent / "blocked" / "scene.json")
    assert session.doc.params("pic")["path"] == "assets/park.png" and session.path == g and not session.dirty
