"""Versions of a graph file (``nodegraph.history``): saves kept by content, identical saves not
kept twice, restore as one undo step, the bound, and a history folder that is damaged or hostile
(a clear message; saving goes on). The editor's session keeps a version at every save."""
from __future__ import annotations

import json
import os
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from nodegraph.commands import AddNode, History, Move, RemoveNode, SetParam
from nodegraph.errors import NodegraphError
from nodegraph.fileformat import dumps, load, save
from nodegraph import history
from nodegraph.history import GraphHistory, HistoryError, RestoreVersion, digest, history_dir
from nodegraph.registry import default_registry

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "graphs" / "demo.json"
T0 = datetime(2026, 12, 8, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def graph(tmp_path):
    p = tmp_path / "scene.json"
    save(load(DEMO), p)
    return p


def edit_and_save(p: Path, *commands) -> str:
    doc = load(p)
    h = History(doc)
    for c in commands:
        h.do(c)
    save(doc, p)
    return p.read_text(encoding="utf-8")


def test_saves_are_kept_by_content_and_identical_saves_once(graph):
    h = GraphHistory(graph)
    assert h.folder == graph.parent / ".scene.json.history" == history_dir(graph)
    assert h.versions() == []
    text1 = graph.read_text(encoding="utf-8")
    v1 = h.record(text1, default_registry(), when=T0)
    assert v1.id == digest(text1) and v1.summary == "first version kept (8 nodes, 8 links)"
    assert v1.time == "2026-12-08T09:00:00Z" and v1.bytes == len(text1.encode())
    assert h.record(text1) is None  # the same text again: no new version
    text2 = edit_and_save(graph, SetParam("draw_title", "size", 64), Move("title", (1, 2)))
    v2 = h.record(text2, default_registry(), when=T0 + timedelta(minutes=1))
    assert v2.summary == "1 param changed, 1 node moved"
    text3 = edit_and_save(graph, RemoveNode("save_credits"))
    v3 = h.record(text3, default_registry(), when=T0 + timedelta(minutes=2))
    assert v3.summary == "1 node removed, 1 link removed"
    back = h.record(text1, default_registry(), when=T0 + timedelta(minutes=3))  # the first text saved again
    assert back.id == v1.id and back.summary.startswith(f"same as {v1.id[:8]} again: ")
    assert [v.id for v in h.versions()] == [v1.id, v2.id, v3.id, v1.id]
    blobs = sorted(p.name for p in h.blobs.iterdir())
    assert blobs == sorted({f"{v.id}.json" for v in (v1, v2, v3)})  # one file per distinct text
    assert (h.blobs / f"{v2.id}.json").read_text(encoding="utf-8") == text2
    index = json.loads(h.index_path.read_text())
    assert index["format"] == "nodegraph-history" and index["graph"] == "scene.json" and len(index["versions"]) == 4
    assert not [p for p in h.folder.rglob("*.tmp")]  # atomic writes leave no temp files


def test_read_a_version_by_id_or_prefix_and_restore_it_as_one_undo_step(graph):
    h = GraphHistory(graph)
    first = h.record(graph.read_text(encoding="utf-8"))
    h.record(edit_and_save(graph, SetParam("draw_title", "size", 64), AddNode("image.blur", "blur")))
    assert h.text(first.id) == dumps(load(DEMO))
    old = h.read(first.id[:6])
    assert old == load(DEMO)
    doc = load(graph)
    undo = History(doc)
    uid = doc.uid
    undo.do(RestoreVersion(old))
    assert doc == old and doc.uid == uid and "blur" not in doc
    assert doc.params("draw_title")["size"] == 120 and len(undo.undo_stack) == 1
    assert {str(l) for l in doc.links()} == {str(l) for l in old.links()}
    undo.undo()
    assert doc == load(graph) and "blur" in doc
    undo.redo()
    assert doc == old
    old.params("draw_title")["size"] = 1  # the restored document holds copies, not the version's objects
    assert doc.params("draw_title")["size"] == 120
    with pytest.raises(HistoryError, match="is not a version id"):
        h.read("../../etc")
    with pytest.raises(HistoryError, match="scene.json has no version 0000"):
        h.read("0000")


def test_ambiguous_prefix_is_refused(graph):
    h = GraphHistory(graph)
    h.record(graph.read_text(encoding="utf-8"))
    index = json.loads(h.index_path.read_text())
    for tail in "01":
        index["versions"].append({"id": "abcd" + tail * 60, "time": "2026-12-08T09:00:00Z", "summary": "", "bytes": 1})
    h.index_path.write_text(json.dumps(index))
    with pytest.raises(HistoryError, match="version id abcd of scene.json is ambiguous: give more digits"):
        h.find("abcd")
    assert h.find("abcd1").id == "abcd" + "1" * 60
    with pytest.raises(HistoryError, match="is missing"):  # listed, but its file is not there
        h.read("abcd1")
    index["versions"][-1]["summary"] = "\x1b[2Jgone"  # a summary cannot drive the terminal
    h.index_path.write_text(json.dumps(index))
    assert h.versions()[-1].summary == "?[2Jgone"


def test_bounded_to_the_newest_versions_and_their_files(graph):
    h = GraphHistory(graph, max_versions=5)
    kept = []
    for i in range(12):
        kept.append(h.record(edit_and_save(graph, SetParam("title", "value", f"take {i}"))))
    versions = h.versions()
    assert [v.id for v in versions] == [v.id for v in kept[-5:]]
    assert sorted(p.name for p in h.blobs.iterdir()) == sorted(f"{v.id}.json" for v in kept[-5:])
    # by size: files of about 2.7 KB each, 6 KB allowed: the newest two
    small = GraphHistory(graph, max_bytes=6000)
    small.record(edit_and_save(graph, SetParam("title", "value", "one more")))
    assert len(small.versions()) == 2 and len(list(small.blobs.iterdir())) == 2
    # the newest is kept even when it alone is over the size
    tiny = GraphHistory(graph, max_bytes=10)
    last = tiny.record(edit_and_save(graph, SetParam("title", "value", "last")))
    assert [v.id for v in tiny.versions()] == [last.id]


def test_a_damaged_index_is_reported_and_saving_starts_a_new_one(graph):
    h = GraphHistory(graph)
    v1 = h.record(graph.read_text(encoding="utf-8"))
    v2 = h.record(edit_and_save(graph, SetParam("title", "value", "two")))
    for bad in (b"{not json", b'{"format": "nodegraph-history", "version": 1, "versions": [{"id": "../../x"}]}',
                b'{"format": "something else"}', b"[" * 100, b"\xff\xfe"):
        h.index_path.write_bytes(bad)
        with pytest.raises(HistoryError) as e:
            h.versions()
        assert str(h.index_path) in str(e.value) and "damaged" in str(e.value)
        assert "next save of scene.json keeps it as index.json.bad" in str(e.value)
    v3 = h.record(edit_and_save(graph, SetParam("title", "value", "three")))  # saving goes on
    assert (h.folder / "index.json.bad").read_bytes() == b"\xff\xfe"
    got = h.versions()
    assert [v.id for v in got][-1] == v3.id and {v1.id, v2.id} <= {v.id for v in got}
    assert got[0].summary == "recovered after the history index was damaged"
    assert h.read(v1.id) == load(DEMO)


def test_a_damaged_or_planted_version_file_is_refused(graph, tmp_path):
    h = GraphHistory(graph)
    text1 = graph.read_text(encoding="utf-8")
    v1 = h.record(text1)
    v2 = h.record(edit_and_save(graph, SetParam("title", "value", "two")))
    blob = h.blobs / f"{v1.id}.json"
    blob.write_text(text1.replace("nodegraph", "evilgraph"), encoding="utf-8")  # still a valid graph
    with pytest.raises(HistoryError, match=f"{blob} does not match its sha256 .*: refused"):
        h.read(v1.id)
    # a planted file named by its own sha256 holds what it likes: it still goes through the loader
    planted = b"\xff\xfe not text"
    pid = digest(planted)
    (h.blobs / f"{pid}.json").write_bytes(planted)
    index = json.loads(h.index_path.read_text())
    index["versions"].append({"id": pid, "time": "2026-12-08T09:00:00Z", "summary": "", "bytes": len(planted)})
    h.index_path.write_text(json.dumps(index))
    with pytest.raises(HistoryError, match="is not UTF-8 text: refused"):
        h.read(pid)
    for text, message in (("[]", "a graph file is a JSON object"), ('{"format": "nodegraph", "version": 1, '
                          '"nodes": {"a": {"type": "core.text", "inputs": {"x": "../../etc.passwd"}}}}', "must be 'node.port'")):
        pid = digest(text)
        (h.blobs / f"{pid}.json").write_text(text)
        index["versions"].append({"id": pid, "time": "2026-12-08T09:00:00Z", "summary": "", "bytes": len(text)})
        h.index_path.write_text(json.dumps(index))
        with pytest.raises(NodegraphError, match=re.escape(f"scene.json version {pid[:12]} (")) as e:
            h.read(pid)
        assert message in str(e.value)
    # a link to a file elsewhere (with the right content even) is not followed
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(text1, encoding="utf-8")
    blob.unlink()
    blob.symlink_to(elsewhere)
    with pytest.raises(HistoryError, match="symbolic link"):
        h.read(v1.id)
    # a FIFO is refused at once (reading it would wait for ever)
    blob.unlink()
    os.mkfifo(blob)
    with pytest.raises(HistoryError, match="not a regular file"):
        h.read(v1.id)
    blob.unlink()
    with pytest.raises(HistoryError, match="is missing"):
        h.read(v1.id)
    # saving the same text again writes the version file again, intact
    h.record(text1)
    assert h.read(v1.id) == load(DEMO) and h.read(v2.id).params("title")["value"] == "two"
    # the summary of a save after a damaged version: this process remembers what it recorded last;
    # another process finds the file damaged and says so instead of failing
    (h.blobs / f"{v1.id}.json").write_text("{}", encoding="utf-8")
    v3 = h.record(edit_and_save(graph, SetParam("title", "value", "three")))
    assert v3.summary == "1 param changed"
    (h.blobs / f"{v3.id}.json").write_text("{}", encoding="utf-8")
    history._RECENT.clear()
    v4 = h.record(edit_and_save(graph, SetParam("title", "value", "four")))
    assert v4.summary == "saved (the previous version cannot be read)"


def test_a_history_folder_that_is_a_link_or_a_file_is_refused(graph, tmp_path):
    target = tmp_path / "outside"
    target.mkdir()
    history_dir(graph).symlink_to(target)
    with pytest.raises(HistoryError, match="is a symbolic link: refused"):
        GraphHistory(graph).record(graph.read_text(encoding="utf-8"))
    assert list(target.iterdir()) == []  # nothing written through the link
    history_dir(graph).unlink()
    history_dir(graph).write_text("not a folder")
    with pytest.raises(HistoryError, match="is not a folder: refused"):
        GraphHistory(graph).versions()


# == the editor's session ===========================================================================
@pytest.fixture
def session(tmp_path):
    from nodegraph.cache import Cache
    from nodegraph.editor.session import EditorSession

    shutil.copy(DEMO, tmp_path / "demo.json")
    s = EditorSession(cache=Cache(tmp_path / "cache"), config_dir=tmp_path / "config", output_dir=tmp_path / "out")
    s.open(tmp_path / "demo.json")
    yield s
    s.close()


def test_every_save_of_the_editor_keeps_a_version(session, tmp_path):
    s = session
    assert s.graph_versions() == []
    s.save()
    s.save()  # nothing changed: no second version
    assert len(s.graph_versions()) == 1 and s.versions_kept == 1
    assert s.set_param("draw_title", "size", 64) is None
    s.remove_nodes(["save_credits"])
    s.save()
    newest, first = s.graph_versions()
    assert newest.summary == "1 node removed, 1 param changed, 1 link removed"
    assert any(l.startswith(f"kept version {newest.short} of demo.json") for l in s.log)
    changes = [c.text() for c in s.version_changes(first.id)]
    assert changes == ["~ draw_title.size: 120 -> 64", "- node save_credits (core.save_text)",
                       "- link credits.text -> save_credits.text"]
    # restore: one undo step, unsaved until saved, then a new version
    undo0 = len(s.history.undo_stack)
    what = s.restore_version(first.id[:8])
    assert what == "1 node added, 1 param changed, 1 link added"
    assert dumps(s.doc) == s.graph_history().text(first.id) and s.dirty
    assert len(s.history.undo_stack) == undo0 + 1 and s.state("save_credits") == "stale"
    assert s.restore_version(first.id) == "the document already holds this version"
    assert s.undo() and "save_credits" not in s.doc and not s.dirty
    assert s.redo()
    s.save()
    assert len(s.graph_versions()) == 3 and s.graph_versions()[0].id == first.id
    # save as elsewhere: that file's own history
    other = s.save_as(tmp_path / "sub" / "copy.json")
    assert [v.summary for v in s.graph_versions()] == ["first version kept (8 nodes, 8 links)"]
    assert (other.parent / ".copy.json.history" / "index.json").is_file()


def test_a_history_that_cannot_be_kept_never_stops_a_save(session, tmp_path):
    s = session
    history_dir(tmp_path / "demo.json").write_text("in the way")
    assert s.set_param("draw_title", "size", 64) is None
    p = s.save()
    assert load(p).params("draw_title")["size"] == 64 and not s.dirty
    assert s.history_problem.startswith("saved, but no version was kept: ") and "is not a folder" in s.history_problem
    assert any(l.startswith("warning: saved, but no version was kept") for l in s.log)
    with pytest.raises(NodegraphError, match="is not a folder"):
        s.graph_versions()


def test_an_untitled_graph_has_no_versions_yet(tmp_path):
    from nodegraph.editor.session import EditorSession

    s = EditorSession(config_dir=tmp_path / "config")
    try:
        assert s.graph_versions() == []
        with pytest.raises(NodegraphError, match="no file yet"):
            s.restore_version("abcd")
    finally:
        s.close()


def test_cli_rewrites_of_a_graph_keep_versions(tmp_path):
    """`look make --replace`, `look upgrade` and `look unlock` rewrite the graph file: the file
    before and after are kept, so the change can be compared and taken back."""
    import os
    import shutil
    import subprocess
    import sys

    from nodegraph.history import GraphHistory

    root = Path(__file__).resolve().parent.parent
    g = tmp_path / "demo.json"
    shutil.copy(root / "graphs" / "demo.json", g)
    env = {**os.environ, "NODEGRAPH_LOOKS_DIR": str(tmp_path / "looks")}
    p = subprocess.run([sys.executable, "-m", "nodegraph", "look", "make", str(g), "--nodes", "draw_title,draw_subtitle",
                        "--name", "studio/card", "--replace"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    versions = GraphHistory(g).versions()
    assert len(versions) == 2 and versions[0].summary.startswith("first version kept")
    assert "2 nodes removed" in versions[1].summary and "1 node added" in versions[1].summary
    d = subprocess.run([sys.executable, "-m", "nodegraph", "diff", f"{g}@{versions[0].id[:8]}", str(g)], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=300)
    assert d.returncode == 1 and "- node draw_title (image.draw_text)" in d.stdout
    # a picture carrying a graph is not rewritten as JSON
    png = tmp_path / "card.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    p = subprocess.run([sys.executable, "-m", "nodegraph", "look", "unlock", str(png), "card"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1 and "media file carrying a graph" in p.stderr and png.read_bytes() == b"\x89PNG\r\n\x1a\n"
