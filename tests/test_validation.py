"""Validation: every kind of problem is found and named by node and port."""
from __future__ import annotations

import json

import pytest

from nodegraph.fileformat import loads
from nodegraph.validate import check_link, validate


def graph(nodes, **extra):
    return loads(json.dumps({"format": "nodegraph", "version": 1, "nodes": nodes, **extra}), "t.json")


def issues_of(doc, registry):
    return [(i.code, i.node, i.port, i.message) for i in validate(doc, registry)]


def test_demo_graphs_validate(registry):
    from nodegraph.fileformat import load

    assert validate(load("graphs/demo.json"), registry) == []


@pytest.mark.parametrize("nodes, extra, code, node, port, message", [
    ({"a": {"type": "ai.txt2img"}}, {"packs": {"ai": "nodegraph-ai"}}, "unknown_type", "a", None,
     "unknown node type 'ai.txt2img': it comes from the pack 'nodegraph-ai', which is not installed (pip install nodegraph-ai)"),
    ({"a": {"type": "zz.thing"}}, {}, "unknown_type", "a", None,
     "no installed pack provides the 'zz' namespace"),
    ({"a": {"type": "core.nothing"}}, {}, "unknown_type", "a", None,
     "pack 'nodegraph' is installed but has no such node"),
    ({"a": {"type": "core.text", "params": {"valeu": "x"}}}, {}, "unknown_param", "a", "valeu",
     "node 'a' (core.text): unknown param 'valeu'; did you mean 'value'?"),
    ({"a": {"type": "core.load_text"}}, {}, "missing_input", "a", "path",
     "node 'a' (core.load_text): required param 'path' has no value"),
    ({"a": {"type": "image.save_png"}}, {}, "missing_input", "a", "image",
     "node 'a' (image.save_png): required input 'image' is not connected"),
    ({"a": {"type": "image.gradient", "params": {"width": 0}}}, {}, "bad_value", "a", "width",
     "node 'a' (image.gradient) param 'width': 0 is below the minimum 1"),
    ({"a": {"type": "image.gradient", "params": {"width": "wide"}}}, {}, "bad_value", "a", "width",
     "param 'width': expected a whole number, got 'wide'"),
    ({"a": {"type": "image.gradient", "params": {"direction": "diagonal"}}}, {}, "bad_value", "a", "direction",
     "'diagonal' is not one of ['vertical', 'horizontal', 'radial']"),
    ({"a": {"type": "core.math", "params": {"a": 1e308, "b": -1}}}, {}, None, None, None, None),
    ({"t": {"type": "core.text"}, "s": {"type": "image.save_png", "inputs": {"image": "t.text"}}}, {},
     "type_mismatch", "s", "image",
     "link t.text -> s.image: a text output cannot feed the image input 'image' of node 's'"),
    ({"s": {"type": "image.save_png", "inputs": {"image": "ghost.image"}}}, {}, "dangling_link", "s", "image",
     "node 's' input 'image' is linked to ghost.image, but there is no node 'ghost'"),
    ({"g": {"type": "image.solid"}, "s": {"type": "image.save_png", "inputs": {"image": "g.picture"}}}, {},
     "dangling_link", "s", "image", "node 'g' (image.solid) has no output 'picture'"),
    ({"t": {"type": "core.text"}, "c": {"type": "core.case", "inputs": {"txt": "t.text", "text": "t.text"}}}, {},
     "unknown_port", "c", "txt", "node 'c' (core.case) has no input 'txt'; did you mean 'text'?"),
    ({"t": {"type": "core.text"}, "u": {"type": "core.text"},
      "c": {"type": "core.case", "inputs": {"text": ["t.text", "u.text"]}}}, {},
     "too_many_links", "c", "text", "node 'c' input 'text' takes one link, has 2"),
    ({"a": {"type": "core.case", "inputs": {"text": "b.text"}}, "b": {"type": "core.case", "inputs": {"text": "a.text"}}}, {},
     "cycle", "a", None, "the graph has a cycle: a -> b -> a"),
    ({"a": {"type": "core.text", "version": "2.0.0"}}, {}, "node_version", "a", None,
     "saved with version 2.0.0, newer than the installed 1.0.0"),
])
def test_each_problem_is_reported_with_node_and_port(registry, nodes, extra, code, node, port, message):
    found = issues_of(graph(nodes, **extra), registry)
    if code is None:
        assert found == []
        return
    matching = [f for f in found if f[0] == code]
    assert matching, found
    c, n, p, m = matching[0]
    assert (n, p) == (node, port)
    assert message in m


def test_all_problems_are_collected_not_just_the_first(registry):
    doc = graph({"a": {"type": "zz.x"}, "b": {"type": "image.gradient", "params": {"width": -1, "height": 0}}})
    codes = sorted(i[0] for i in issues_of(doc, registry))
    assert codes == ["bad_value", "bad_value", "unknown_type"]


def test_a_link_overrides_a_stored_param(registry):
    doc = graph({"n": {"type": "core.int", "params": {"value": 5}},
                 "g": {"type": "image.gradient", "params": {"width": "stale"}, "inputs": {"width": "n.int"}}})
    assert issues_of(doc, registry) == []


def test_check_link_for_the_editor(registry):
    from nodegraph.fileformat import load

    doc = load("graphs/demo.json")
    assert check_link(registry, doc, "title", "text", "credits", "parts") is None
    assert check_link(registry, doc, "title", "text", "save_card", "image") == \
        "a text output cannot feed the image input 'image'"
    assert check_link(registry, doc, "title", "nope", "save_card", "image") == "node 'title' has no output 'nope'"
