"""Edits through command objects: exact undo/redo, what each edit dirtied, refusals."""
from __future__ import annotations

import difflib

import pytest

from nodegraph.commands import (
    UNSET, AddNode, Batch, Collapse, Connect, Disconnect, History, Move, RemoveNode, SetCachePolicy,
    SetColor, SetGroup, SetLabel, SetNotes, SetParam,
)
from nodegraph.errors import CommandError
from nodegraph.fileformat import dumps, load


@pytest.fixture
def doc():
    return load("graphs/demo.json")


EDITS = [
    lambda: AddNode("core.text", "extra", {"value": "hi"}, pos=(1, 2), label="Extra"),
    lambda: AddNode("core.number"),
    lambda: RemoveNode("title"),  # has several links out, a group membership and layout
    lambda: RemoveNode("credits"),
    lambda: Connect("subtitle", "text", "draw_title", "text"),  # replaces an existing link
    lambda: Connect("title", "text", "credits", "parts", append=True, index=1),
    lambda: Disconnect("title", "text", "credits", "parts"),
    lambda: SetParam("background", "width", 640),
    lambda: SetParam("background", "width", UNSET),
    lambda: SetParam("title", "value", "new title"),
    lambda: Move("title", (500, 600)),
    lambda: Collapse("title", True),
    lambda: SetColor("title", [255, 0, 0]),
    lambda: SetLabel("title", "Main title"),
    lambda: SetNotes("title", "A note for students"),
    lambda: SetCachePolicy("title", "never"),
    lambda: SetGroup("words", None),
    lambda: SetGroup("drawing", {"title": "Drawing", "nodes": ["draw_title", "draw_subtitle"], "color": [1, 2, 3]}),
    lambda: Batch([AddNode("core.text", "a"), AddNode("core.text", "b"),
                   Connect("a", "text", "credits", "parts", append=True), RemoveNode("title")], "paste"),
]


@pytest.mark.parametrize("make", EDITS, ids=lambda f: type(f()).__name__)
def test_undo_and_redo_restore_the_exact_document(doc, make):
    history = History(doc)
    before = dumps(doc)
    history.do(make())
    after = dumps(doc)
    assert after != before
    history.undo()
    assert dumps(doc) == before
    history.redo()
    assert dumps(doc) == after
    history.undo()
    assert dumps(doc) == before


def test_long_edit_sequence_undoes_to_the_start(doc):
    history = History(doc)
    states = [dumps(doc)]
    for make in EDITS:
        try:
            history.do(make())
        except CommandError:
            continue  # some edits no longer apply after earlier ones
        states.append(dumps(doc))
    assert len(states) >= 8
    for expected in reversed(states[:-1]):
        history.undo()
        assert dumps(doc) == expected
    assert history.undo() is None
    while history.redo() is not None:
        pass
    assert dumps(doc) == states[-1]


def test_moving_a_node_changes_only_layout(doc):
    before = dumps(doc)
    change = Move("title", (123, 456))(doc)
    assert not change.semantic and change.layout == {"title"}
    diff = [l for l in difflib.unified_diff(before.splitlines(), dumps(doc).splitlines(), n=0)
            if l.startswith(("+", "-")) and not l.startswith(("+++", "---"))]
    assert diff == ['-      "pos": [40.0, 300.0]', '+      "pos": [123.0, 456.0]']
    assert SetLabel("title", "x")(doc).nodes == frozenset()


def test_changing_one_param_is_a_one_line_diff(doc):
    before = dumps(doc).splitlines()
    SetParam("draw_title", "size", 100)(doc)
    diff = [l for l in difflib.unified_diff(before, dumps(doc).splitlines(), n=0)
            if l.startswith(("+", "-")) and not l.startswith(("+++", "---"))]
    assert diff == ['-        "size": 120,', '+        "size": 100,']


def test_changes_record_what_was_dirtied(doc):
    assert SetParam("title", "value", "x")(doc).nodes == {"title"}
    assert Connect("subtitle", "text", "draw_title", "text")(doc).nodes == {"draw_title"}
    # deleting a node dirties the nodes that lost an input
    assert RemoveNode("subtitle")(doc).nodes == {"subtitle", "draw_title", "draw_subtitle", "credits"}
    assert SetCachePolicy("title", "always")(doc).nodes == {"title"}


def test_revision_counts_semantic_edits_only(doc):
    r = doc.revision
    Move("title", (1, 1))(doc)
    assert doc.revision == r
    SetParam("title", "value", "y")(doc)
    assert doc.revision == r + 1


@pytest.mark.parametrize("make, message", [
    (lambda: AddNode("core.text", "title"), "already exists"),
    (lambda: AddNode("core.text", "bad id!"), "must start with a letter"),
    (lambda: RemoveNode("nope"), "no node 'nope'"),
    (lambda: Connect("save_card", "path", "background", "width"), "cycle"),
    (lambda: Connect("title", "text", "title", "value"), "to itself"),
    (lambda: Connect("title", "text", "draw_title", "text"), "already linked"),
    (lambda: Disconnect("title", "text", "draw_subtitle", "text"), "no link"),
    (lambda: Move("title", "here"), "position"),
    (lambda: SetColor("title", [300, 0, 0]), "colour"),
    (lambda: SetCachePolicy("title", "sometimes"), "cache policy"),
    (lambda: SetGroup("g", {"title": "x", "nodes": ["ghost"]}), "no node 'ghost'"),
    (lambda: Batch([AddNode("core.text", "fresh"), RemoveNode("ghost")]), "no node 'ghost'"),
])
def test_refused_edits_leave_the_document_unchanged(doc, make, message):
    before = dumps(doc)
    with pytest.raises(CommandError, match=message):
        History(doc).do(make())
    assert dumps(doc) == before


def test_history_listeners_are_told(doc):
    history = History(doc)
    seen = []
    history.listeners.append(seen.append)
    history.do(SetParam("title", "value", "z"))
    history.undo()
    assert [c.nodes for c in seen] == [{"title"}, {"title"}]
