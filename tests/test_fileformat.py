"""Graph files: canonical and byte-identical round trips, atomic saves, migrations."""
from __future__ import annotations

import json
import os

import pytest

from nodegraph import fileformat
from nodegraph.commands import AddNode, Batch, Connect, Move, SetCachePolicy, SetGroup, SetNotes
from nodegraph.errors import GraphFileError
from nodegraph.fileformat import dumps, load, loads, save


def rich_document():
    doc = load("graphs/demo.json")
    Batch([
        AddNode("core.text", "uni", {"value": "héllo\nwörld \"quoted\" \u2603"}, pos=(-1.5, 2e6), label="Ünïcode"),
        Connect("uni", "text", "credits", "parts", append=True, index=0),
        SetNotes("uni", "multi\nline notes"),
        SetCachePolicy("uni", "never"),
        SetGroup("all", {"title": "Everything", "nodes": ["uni", "title"], "color": [10, 20, 30, 40]}),
        AddNode("core.number", "n", {"value": 0.1 + 0.2}),
    ])(doc)
    return doc


@pytest.mark.parametrize("make", [lambda: load("graphs/demo.json"), rich_document], ids=["demo", "rich"])
def test_save_load_round_trip_is_byte_identical(tmp_path, make):
    doc = make()
    first = tmp_path / "a.json"
    save(doc, first)
    again = load(first)
    second = tmp_path / "b.json"
    save(again, second)
    assert first.read_bytes() == second.read_bytes()
    assert dumps(again) == dumps(doc)
    assert again.node("n" if "n" in again else "title")["params"]


def test_shipped_templates_are_canonical():
    import glob

    for path in glob.glob("graphs/*.json"):
        with open(path, encoding="utf-8") as f:
            assert f.read() == dumps(load(path)), f"{path} is not in canonical form (re-save it)"


def test_canonical_form_is_readable_json(tmp_path):
    text = dumps(rich_document())
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["nodes"]["credits"]["inputs"]["parts"] == ["uni.text", "title.text", "subtitle.text"]
    assert '"pos": [-1.5, 2000000.0]' in text  # short scalar lists stay on one line
    assert text.endswith("}\n")


def test_save_is_atomic_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "g.json"
    doc = load("graphs/demo.json")
    save(doc, path)
    original = path.read_bytes()
    Move("title", (9, 9))(doc)

    def broken_replace(src, dst, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match=f"cannot write {path}: the disk is full"):
        save(doc, path)
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json"]  # no temp file left behind


def test_save_keeps_file_permissions(tmp_path):
    path = tmp_path / "g.json"
    save(load("graphs/demo.json"), path)
    os.chmod(path, 0o640)
    save(load("graphs/demo.json"), path)
    assert (path.stat().st_mode & 0o777) == 0o640


def test_failed_load_changes_nothing(tmp_path):
    doc = load("graphs/demo.json")
    before = dumps(doc)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "nodegraph", "version": 1, "nodes": {"x": {"type": 5}}}')
    with pytest.raises(GraphFileError) as e:
        load(bad)
    assert str(bad) in str(e.value) and "nodes.x.type" in str(e.value)
    assert dumps(doc) == before


def test_migration_from_version_0():
    old = {"format": "nodegraph", "version": 0,
           "nodes": {"t": {"type": "core.text", "params": {"value": "a"}}, "u": {"type": "core.text"},
                     "j": {"type": "core.join_text"}},
           "links": [{"from": "t.text", "to": "j.parts"}, {"from": "u.text", "to": "j.parts"}]}
    doc = loads(json.dumps(old), "old.json")
    assert [(l.src, l.order) for l in doc.links_into("j", "parts")] == [("t", 0), ("u", 1)]
    assert json.loads(dumps(doc))["version"] == fileformat.VERSION


def test_file_from_a_newer_nodegraph_is_refused_clearly():
    with pytest.raises(GraphFileError, match="written by a newer nodegraph"):
        loads('{"format": "nodegraph", "version": 99, "nodes": {}}', "future.json")


def test_unknown_fields_are_refused_with_their_place():
    with pytest.raises(GraphFileError, match=r"f.json at nodes.t: unknown field 'colour'"):
        loads('{"format": "nodegraph", "version": 1, "nodes": {"t": {"type": "core.text", "colour": 1}}}', "f.json")


def test_dangling_links_survive_a_round_trip(registry):
    text = '{"format": "nodegraph", "version": 1, "nodes": {"s": {"type": "core.save_text", "inputs": {"text": "ghost.text"}}}}'
    doc = loads(text)
    assert [str(l) for l in doc.dangling] == ["ghost.text -> s.text"]
    assert "ghost.text" in dumps(doc)
