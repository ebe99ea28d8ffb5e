"""Bypass: a node hands each output the first input of that type, untouched, instead of running
(the "turn this grade off for a moment" switch of compositors); the file, undo, the cache key and
the editor's menu all know it."""
from __future__ import annotations

import pytest

from nodegraph.cache import Cache
from nodegraph.commands import AddNode, Connect, SetBypass
from nodegraph.evaluate import Evaluator
from nodegraph.fileformat import dumps, loads
from nodegraph.graph import Document
from nodegraph.errors import GraphFileError
from nodegraph.registry import default_registry


@pytest.fixture(scope="module")
def reg():
    return default_registry()


def chain() -> Document:
    doc = Document()
    AddNode("core.text", "words", {"value": "Hello there"})(doc)
    AddNode("core.case", "shout", {"case": "upper"})(doc)
    AddNode("core.join_text", "out", {"separator": "|"})(doc)
    Connect("words", "text", "shout", "text")(doc)
    Connect("shout", "text", "out", "parts", append=True)(doc)
    return doc


def test_a_bypassed_node_hands_its_input_on_and_only_what_is_below_reruns(reg, tmp_path):
    ev = Evaluator(reg, output_dir=tmp_path / "out", cache=Cache.memory_only())
    doc = chain()
    assert ev.run(doc, ["out"]).value("out") == "HELLO THERE"
    SetBypass("shout", True)(doc)
    assert ev.explain(doc, ["out"])["shout"].reason == "bypassed"
    r = ev.run(doc, ["out"])
    assert r.value("out") == "Hello there"
    assert {n for n, x in r.nodes.items() if x.status == "computed"} == {"shout", "out"}
    assert r.nodes["words"].status == "cached"
    SetBypass("shout", False)(doc)  # back on: the earlier results are found again
    r = ev.run(doc, ["out"])
    assert r.value("out") == "HELLO THERE" and r.count("computed") == 0


def test_bypass_is_saved_undone_and_checked_in_files(reg):
    doc = chain()
    cmd = SetBypass("shout", True)
    cmd(doc)
    text = dumps(doc)
    assert '"bypass": true' in text and loads(text).node("shout")["bypass"] is True
    cmd.inverse(doc)
    assert '"bypass"' not in dumps(doc)  # off is the default: not written
    bad = text.replace('"bypass": true', '"bypass": "yes"')
    with pytest.raises(GraphFileError, match=r"nodes\.shout\.bypass.*true or false"):
        loads(bad)


def test_a_bypassed_node_with_no_input_of_its_output_type_says_so(reg, tmp_path):
    doc = Document()
    AddNode("core.number", "n", {"value": 2.5})(doc)
    AddNode("core.format_number", "fmt", {})(doc)
    Connect("n", "number", "fmt", "value")(doc)
    SetBypass("fmt", True)(doc)
    r = Evaluator(reg, output_dir=tmp_path / "out", cache=Cache.memory_only()).run(doc, ["fmt"])
    assert r.nodes["fmt"].status == "failed"
    assert "bypassed, but no linked input holds a text to pass on to output 'text'" in r.nodes["fmt"].error


def test_the_editor_session_bypasses_as_one_undo_step(reg, tmp_path):
    from nodegraph.editor.session import EditorSession

    s = EditorSession(registry=reg, cache=Cache.memory_only(), config_dir=tmp_path / "cfg")
    try:
        s._set_document(chain(), None)
        s.set_bypass("shout", True)
        assert s.node_view("shout").bypass and s.dirty
        s.set_bypass("shout", True)  # no change: no second step
        assert s.undo() and not s.node_view("shout").bypass
    finally:
        s.close()
