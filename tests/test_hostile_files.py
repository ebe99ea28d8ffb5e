"""Graph files are untrusted input: studios pass them around. Whatever the bytes, reading one must
either give a ``Document`` or raise ``GraphFileError`` naming the file (and, where it can, the place
in it); a Document that was read must validate without raising and save back byte for byte.

Hand-written hostile cases first, then property-based fuzzing (arbitrary JSON, graph-shaped JSON,
mutations of the demo graph, random bytes), then side-effect freedom of loading.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodegraph.errors import GraphFileError
from nodegraph.fileformat import MAX_BYTES, MAX_DEPTH, dumps, from_data, load, loads, save
from nodegraph.graph import Document
from nodegraph.registry import default_registry
from nodegraph.validate import Issue, validate

ROOT = Path(__file__).resolve().parents[1]
DEMO_PATH = ROOT / "graphs" / "demo.json"
DEMO_TEXT = DEMO_PATH.read_text(encoding="utf-8")
DEMO = json.loads(DEMO_TEXT)
SRC = "shared/from-studio-b.json"
REG = default_registry()


# -- helpers --------------------------------------------------------------------------------------
_EMPTY: Any = object()


def graph(nodes: Any = _EMPTY, **top: Any) -> dict:
    data = {"format": "nodegraph", "version": 1, "nodes": {} if nodes is _EMPTY else nodes}
    data.update(top)
    return data


def text_of(data: Any) -> str:
    return json.dumps(data)


def refused(text: str | bytes, *phrases: str, where: str | None = None) -> GraphFileError:
    """Reading ``text`` raises GraphFileError naming SRC, holding every phrase (case-insensitive)."""
    with pytest.raises(GraphFileError) as info:
        loads(text, source=SRC)
    err = info.value
    msg = str(err)
    assert SRC in msg and err.path == SRC, msg
    for phrase in phrases:
        assert phrase.lower() in msg.lower(), f"{phrase!r} not in {msg!r}"
    if where is not None:
        for part in where.split("."):
            assert part in err.where, f"{part!r} not in place {err.where!r} ({msg!r})"
    assert len(msg) < 2000, f"error message of {len(msg)} characters"
    return err


def check_roundtrip(inp: str | bytes) -> Document | None:
    """The properties every input must have: only GraphFileError (naming the file) escapes
    ``loads``; a Document validates without raising, dumps, and re-reads to the same bytes."""
    try:
        doc = loads(inp, source=SRC)
    except GraphFileError as e:
        assert e.path == SRC and SRC in str(e)
        return None
    assert isinstance(doc, Document)
    issues = validate(doc, REG)
    assert isinstance(issues, list) and all(isinstance(i, Issue) for i in issues)
    out = dumps(doc)
    assert isinstance(out, str)
    raw = out.encode("utf-8")  # what save() writes
    again = loads(raw, source="roundtrip.json")
    assert dumps(again) == out
    # saving and re-reading does not change what validate finds (order may follow key order)
    # (messages may quote values whose key order changed, so compare what and where only)
    def where(found: list[Issue]) -> list[tuple]:
        return sorted((i.code, i.node or "", i.port or "") for i in found)

    assert where(validate(again, REG)) == where(issues)
    return doc


# -- sanity: the demo itself ----------------------------------------------------------------------
def test_demo_reads_validates_and_saves_back_identically():
    doc = loads(DEMO_TEXT, source=str(DEMO_PATH))
    assert validate(doc, REG) == []
    assert dumps(doc) == DEMO_TEXT
    assert check_roundtrip(DEMO_TEXT.encode("utf-8")) is not None


# -- 1. hand-written hostile files ------------------------------------------------------------------
@pytest.mark.parametrize("text, phrase", [
    (DEMO_TEXT[: len(DEMO_TEXT) // 2], "not valid JSON"),             # truncated
    (DEMO_TEXT[:-3], "not valid JSON"),                                 # truncated near the end
    ("", "not valid JSON"),                                             # empty file
    (DEMO_TEXT + "garbage", "not valid JSON"),                          # trailing garbage
    (DEMO_TEXT + "{}", "not valid JSON"),                               # two documents
    ("{'format': 'nodegraph'}", "not valid JSON"),                      # Python, not JSON
    ('{"format": "nodegraph", "version": 1, "nodes": {},}', "not valid JSON"),  # trailing comma
])
def test_bad_json_is_refused_with_line_and_column(text, phrase):
    err = refused(text, phrase)
    assert "line" in err.where and "column" in err.where


@pytest.mark.parametrize("value, kind", [
    ([], "a list"), ("nodegraph", "text"), (1, "a number"), (None, "null"), (True, "true/false"),
    ([graph()], "a list"),
])
def test_top_level_must_be_an_object(value, kind):
    refused(text_of(value), "JSON object", kind)


@pytest.mark.parametrize("fmt", ["nodegraph2", "NodeGraph", None, 1, ["nodegraph"], {"x": 1}])
def test_wrong_format_is_refused(fmt):
    refused(text_of(graph(format=fmt)), "not a nodegraph file", where="format")


def test_missing_format_is_refused():
    data = graph()
    del data["format"]
    refused(text_of(data), "not a nodegraph file", where="format")


def test_version_from_the_future_asks_for_an_upgrade():
    refused(text_of(graph(version=2)), "newer nodegraph", "upgrade", where="version")
    refused(text_of(graph(version=10**18)), "newer nodegraph", where="version")


@pytest.mark.parametrize("version", ["1", 1.0, 1.5, True, None, [1], -1])
def test_bad_version_values_are_refused(version):
    refused(text_of(graph(version=version)), "version", where="version")


@pytest.mark.parametrize("data, where, phrase", [
    (graph(nodes=[]), "nodes", "expected an object, got a list"),
    (graph(nodes=[{"type": "core.text"}]), "nodes", "expected an object"),
    (graph(nodes="title"), "nodes", "expected an object, got text"),
    (graph(nodes=None), "nodes", "expected an object, got null"),
    (graph({"a": "core.text"}), "nodes.a", "expected an object"),
    (graph({"a": {"type": "core.text", "params": "value=1"}}), "nodes.a.params", "expected an object, got text"),
    (graph({"a": {"type": "core.text", "params": ["value"]}}), "nodes.a.params", "expected an object, got a list"),
    (graph({"a": {"type": "core.case", "inputs": "nonsense"}}), "nodes.a.inputs", "expected an object, got text"),
    (graph({"a": {"type": "core.case", "inputs": {"text": "nonsense"}}}), "nodes.a.inputs.text", "must be 'node.port'"),
    (graph({"a": {"type": "core.case", "inputs": {"text": 5}}}), "nodes.a.inputs.text", "expected"),
    (graph({"a": {"type": "core.case", "inputs": {"text": []}}}), "nodes.a.inputs.text", "non-empty list"),
    (graph({"a": {"type": "core.case", "inputs": {"text": ["b.text", "nonsense"]}}}), "nodes.a.inputs.text", "must be 'node.port'"),
    (graph({"a": {"type": "core.case", "inputs": {"text": ".text"}}}), "nodes.a.inputs.text", "must be 'node.port'"),
    (graph({"a": {"type": "core.case", "inputs": {"text": "../b.text"}}}), "nodes.a.inputs.text", "must be 'node.port'"),
    (graph({"a": {"type": 5}}), "nodes.a.type", "node type id"),
    (graph({"a": {"type": "Core Text"}}), "nodes.a.type", "not a valid node type id"),
    (graph({"a": {}}), "nodes.a", "missing field 'type'"),
    (graph({"a": {"type": "core.text", "version": 1}}), "nodes.a.version", "semantic version"),
    (graph({"a": {"type": "core.text", "version": "one"}}), "nodes.a.version", "semantic version"),
    (graph({"a": {"type": "core.text", "label": ["x"]}}), "nodes.a.label", "expected text"),
    (graph({"a": {"type": "core.text", "cache": "sometimes"}}), "nodes.a.cache", "cache policy"),
    (graph({"a": {"type": "core.text", "cache": []}}), "nodes.a.cache", "cache policy"),
    (graph({"a": {"type": "core.text", "params": {"Bad Name": 1}}}), "nodes.a.params", "param name"),
    (graph(meta={"title": 5}), "meta.title", "expected text"),
    (graph(meta=[]), "meta", "expected an object"),
    (graph(packs={"core": ["nodegraph"]}), "packs.core", "package name"),
    (graph(groups={"g": {"nodes": ["ghost"]}}), "groups.g.nodes", "nodes in this graph"),
    (graph(groups={"g": {"nodes": "a"}}), "groups.g.nodes", "list"),
    (graph({"a": {"type": "core.text"}}, groups={"g": {"nodes": ["a"], "color": [256, 0, 0]}}), "groups.g.color", "colour"),
    (graph({"a": {"type": "core.text"}}, layout={"a": {"pos": "10,20"}}), "layout.a.pos", "[x, y]"),
    (graph({"a": {"type": "core.text"}}, layout={"a": {"pos": [1, 2, 3]}}), "layout.a.pos", "[x, y]"),
    (graph({"a": {"type": "core.text"}}, layout={"a": {"pos": [True, 2]}}), "layout.a.pos", "[x, y]"),
    (graph({"a": {"type": "core.text"}}, layout={"a": {"pos": [1e300, 2]}}), "layout.a.pos", "[x, y]"),
    (graph({"a": {"type": "core.text"}}, layout={"a": {"collapsed": "yes"}}), "layout.a.collapsed", "true or false"),
])
def test_wrong_field_types_name_the_place(data, where, phrase):
    refused(text_of(data), phrase, where=where)


def test_huge_integer_is_refused_not_crashing():
    digits = "9" * 5000
    base = '{"format": "nodegraph", "version": 1, "nodes": {"n": {"type": "core.int", "params": {"value": %s}}}}'
    refused(base % digits, "digits")
    refused(base % ("-" + digits), "digits")
    refused('{"format": "nodegraph", "version": %s, "nodes": {}}' % digits, "digits")
    # up to 400 digits the number is read, and validate reports it (no crash)
    doc = check_roundtrip(base % ("9" * 300))
    assert doc is not None
    assert [i.code for i in validate(doc, REG)] == ["bad_value"]


@pytest.mark.parametrize("literal", ["1e999", "-1e999", "1" + "0" * 400 + ".0", "NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("place", ["param", "layout", "version"])
def test_non_finite_numbers_are_refused(literal, place):
    if place == "param":
        text = '{"format": "nodegraph", "version": 1, "nodes": {"n": {"type": "core.number", "params": {"value": %s}}}}'
    elif place == "layout":
        text = ('{"format": "nodegraph", "version": 1, "nodes": {"n": {"type": "core.number"}}, '
                '"layout": {"n": {"pos": [%s, 0]}}}')
    else:
        text = '{"format": "nodegraph", "version": %s, "nodes": {}}'
    err = refused(text % literal)
    low = str(err).lower()
    assert "too large" in low or "not allowed" in low, str(err)


def test_unknown_top_level_field_is_refused():
    refused(text_of(graph(links=[])), "unknown field 'links'")
    refused(text_of(graph(scripts={"on_load": "import os"})), "unknown field 'scripts'")


def test_unknown_node_field_is_refused():
    data = graph({"a": {"type": "core.text", "exec": "rm -rf /"}})
    refused(text_of(data), "unknown field 'exec'", where="nodes.a")


def test_unknown_layout_and_group_fields_are_refused():
    refused(text_of(graph({"a": {"type": "core.text"}}, layout={"a": {"z": 1}})), "unknown field 'z'", where="layout.a")
    refused(text_of(graph({"a": {"type": "core.text"}}, groups={"g": {"nodes": ["a"], "z": 1}})),
            "unknown field 'z'", where="groups.g")


def test_huge_unknown_field_name_gives_a_short_message():
    """A hostile key of 100k characters must not become a 100k-character error message."""
    refused(text_of(graph(**{"x" * 100_000: 1})), "unknown field")


def test_huge_node_id_gives_a_short_message():
    refused(text_of(graph({"x" * 100_000: {"type": "core.text"}})), "node id")


def _nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 10_000, 200_000])
def test_deeply_nested_param_is_refused_without_recursion_error(depth):
    text = '{"format": "nodegraph", "version": 1, "nodes": {"n": {"type": "core.text", "params": {"value": %s}}}}'
    refused(text % _nested(depth), "nested")
    refused((text % _nested(depth)).encode("utf-8"), "nested")
    only_openers = refused(text % ("[" * depth))  # unbalanced: too deep, or (if shallow enough to parse) bad JSON
    assert "nested" in str(only_openers) or "not valid JSON" in str(only_openers)
    refused(text % ('{"a":' * depth + "1" + "}" * depth), "nested")


def test_brackets_inside_strings_do_not_count_as_nesting():
    deep = "[" * 10_000 + "{" * 10_000
    doc = check_roundtrip(text_of(graph({"n": {"type": "core.text", "params": {"value": deep}}})))
    assert doc is not None and doc.params("n")["value"] == deep
    # escaped quotes must not confuse the depth counter either
    tricky = '\\"' + "[" * 100
    doc = check_roundtrip(text_of(graph({"n": {"type": "core.text", "params": {"value": tricky}}})))
    assert doc is not None


def test_nesting_just_under_the_limit_is_read_and_saved():
    value: Any = 1
    for _ in range(MAX_DEPTH - 4):  # top level + nodes + node + params take 4 levels
        value = [value]
    doc = check_roundtrip(text_of(graph({"n": {"type": "core.text", "params": {"value": value}}})))
    assert doc is not None
    assert any(i.code == "bad_value" for i in validate(doc, REG))


@pytest.mark.parametrize("blob", [
    b"\xff\xfe{}",
    b'{"format": "nodegraph", "version": 1, "nodes": {"\xc3\x28": {"type": "core.text"}}}',
    b'{"format": "nodegraph", "version": 1, "meta": {"t": "\xed\xa0\x80"}, "nodes": {}}',  # encoded surrogate
    b'{"format": "nodegraph", "version": 1, "nodes": {}}\x80',
    "{\"format\": \"nodegraph\"}".encode("utf-16"),
])
def test_invalid_utf8_is_refused(blob):
    refused(blob, "UTF-8")


def test_utf8_bom_is_accepted():
    assert check_roundtrip(b"\xef\xbb\xbf" + DEMO_TEXT.encode("utf-8")) is not None


@pytest.mark.parametrize("nid", [
    "../x", "..", "a/b", "a\\b", "/etc/passwd", "C:x", "a.b", "x y", "", "-x", "1x", "é", "a\x00b", "x" * 129,
])
def test_node_ids_with_path_or_odd_characters_are_refused(nid):
    refused(text_of(graph({nid: {"type": "core.text"}})), "node id")


@pytest.mark.parametrize("nid", ["a\n", "title\n"])
def test_node_id_with_trailing_newline_is_refused(nid):
    """``re.match('^...$')`` lets a trailing newline through; ids end up in file names."""
    refused(text_of(graph({nid: {"type": "core.text"}})), "node id")


@pytest.mark.parametrize("field, value, where", [
    ("type", "core.text\n", "nodes.a.type"),
    ("version", "1.0.0\n", "nodes.a.version"),
    ("params", {"value\n": "x"}, "nodes.a.params"),
    ("inputs", {"text\n": "b.text"}, "nodes.a.inputs"),
])
def test_trailing_newline_in_names_is_refused(field, value, where):
    entry: dict[str, Any] = {"type": "core.case"}
    entry[field] = value
    refused(text_of(graph({"a": entry, "b": {"type": "core.text"}})), where=where)


def test_layout_for_a_missing_node_is_refused():
    data = graph({"a": {"type": "core.text"}}, layout={"a": {"pos": [0, 0]}, "ghost": {"pos": [1, 2]}})
    refused(text_of(data), "not in the graph", "ghost", where="layout.ghost")


def test_file_over_the_size_limit_is_refused_as_bytes():
    blob = b'{"format": "nodegraph", "version": 1, "nodes": {}}' + b" " * (70 * 1024 * 1024)
    refused(blob, "bytes", str(MAX_BYTES))
    del blob


def test_file_over_the_size_limit_is_refused_by_load_without_reading(tmp_path):
    p = tmp_path / "huge.json"
    with open(p, "wb") as f:
        f.write(b'{"format": "nodegraph", "version": 1, "nodes": {}}')
        f.truncate(70 * 1024 * 1024)  # sparse: no 70 MB written, none read
    with pytest.raises(GraphFileError) as info:
        load(p)
    assert str(p) in str(info.value) and "bytes" in str(info.value)


def test_text_over_the_size_limit_is_refused_too():
    """``loads(str)`` must not bypass the size limit that ``loads(bytes)`` applies."""
    text = '{"format": "nodegraph", "version": 1, "nodes": {}}' + " " * (70 * 1024 * 1024)
    refused(text, str(MAX_BYTES))


def test_too_many_nodes_is_refused():
    refused(text_of(graph({f"n{i}": {"type": "core.text"} for i in range(100_001)})), "nodes", where="nodes")


def test_missing_file_and_directory_are_graph_file_errors(tmp_path):
    for p in (tmp_path / "nope.json", tmp_path):
        with pytest.raises(GraphFileError) as info:
            load(p)
        assert str(p) in str(info.value)


def test_lone_surrogate_escapes_cannot_make_an_unsaveable_document(tmp_path):
    """JSON allows the escape ``\\ud800``; a Document holding a lone surrogate cannot be written as
    UTF-8, so ``save`` would fail (with UnicodeEncodeError). The reader must refuse it instead."""
    for text in (
        '{"format": "nodegraph", "version": 1, "nodes": {"a": {"type": "core.text", "params": {"value": "\\ud800"}}}}',
        '{"format": "nodegraph", "version": 1, "nodes": {}, "meta": {"\\udc80": "x"}}',
        '{"format": "nodegraph", "version": 1, "nodes": {"a": {"type": "core.text", "notes": "a\\udfffb"}}}',
    ):
        try:
            doc = loads(text, source=SRC)
        except GraphFileError as e:
            assert SRC in str(e)
            continue
        dumps(doc).encode("utf-8")  # what save() does
        save(doc, tmp_path / "out.json")


def test_escaped_surrogate_pair_is_fine():
    text = '{"format": "nodegraph", "version": 1, "nodes": {"a": {"type": "core.text", "params": {"value": "\\ud83d\\ude00"}}}}'
    doc = check_roundtrip(text)
    assert doc is not None and doc.params("a")["value"] == "\U0001F600"


def test_duplicate_keys_do_not_crash():
    text = '{"format": "nodegraph", "version": 1, "nodes": {"a": {"type": "core.text"}, "a": {"type": "core.int"}}}'
    check_roundtrip(text)


# -- format 0 (migrated on read) -----------------------------------------------------------------
@pytest.mark.parametrize("data", [
    {"format": "nodegraph", "version": 0, "nodes": {"a": {"type": "core.case"}}, "links": "a.text"},
    {"format": "nodegraph", "version": 0, "nodes": {"a": {"type": "core.case"}}, "links": [{"to": "a.text"}]},
    {"format": "nodegraph", "version": 0, "nodes": {"a": {"type": "core.case"}}, "links": [{"from": "b.x", "to": 5}]},
    {"format": "nodegraph", "version": 0, "nodes": {"a": {"type": "core.case", "inputs": []}},
     "links": [{"from": "b.x", "to": "a.text"}]},
    {"format": "nodegraph", "version": 0, "nodes": {"a": {"type": "core.case", "inputs": {"text": 5}}},
     "links": [{"from": "b.x", "to": "a.text"}]},
    {"format": "nodegraph", "version": 0, "nodes": {"a": 5}},
    {"format": "nodegraph", "version": 0, "nodes": {"a": "xy"}},
    {"format": "nodegraph", "version": 0, "nodes": {"a": [["type"]]}},
])
def test_broken_format_0_files_are_refused(data):
    refused(text_of(data))


@pytest.mark.parametrize("entry", [
    [[1, 2], ["x", 3]],      # a node written as a list of pairs whose keys are not all text
    [[None, 1], [2, 3]],
])
def test_format_0_node_as_list_of_pairs_with_odd_keys(entry):
    """Migration turns each node with ``dict(v)``, which accepts a list of pairs and makes non-text
    keys; the unknown-field check then sorts mixed keys and raises TypeError."""
    check_roundtrip(text_of({"format": "nodegraph", "version": 0, "nodes": {"a": entry}}))


def test_format_0_links_are_migrated():
    data = {"format": "nodegraph", "version": 0,
            "nodes": {"a": {"type": "core.text"}, "b": {"type": "core.case"}},
            "links": [{"from": "a.text", "to": "b.text"}]}
    doc = check_roundtrip(text_of(data))
    assert doc is not None and [str(l) for l in doc.links()] == ["a.text -> b.text"]


# -- validate never raises on what loads accepts ---------------------------------------------------
@pytest.mark.parametrize("nodes", [
    {"a": {"type": "core.int", "params": {"value": 10**300}}},
    {"a": {"type": "core.int", "params": {"value": 1e300}}},
    {"a": {"type": "core.number", "params": {"value": 10**399}}},
    {"a": {"type": "core.case", "params": {"case": {"x": [1, None]}, "text": ["a"]}}},
    {"a": {"type": "core.join_text", "params": {"parts": "x"}, "inputs": {"parts": "a.text"}}},
    {"a": {"type": "core.text", "version": "999999999.0.0"}},
    {"a": {"type": "core.text", "version": "0.0.0-rc.1"}},
    {"a": {"type": "nope.thing", "inputs": {"x": "a.y"}}},
    {"a": {"type": "core.text"}, "b": {"type": "core.case", "inputs": {"text": ["a.text", "a.text", "a.nope", "c.x"]}}},
    {"a": {"type": "image.draw_text", "params": {"image": 1, "size": -1, "align": "middle"}}},
    {"a": {"type": "core.seed", "params": {"seed": -1}}},
    {"a": {"type": "image.load", "params": {"path": "a\x00b"}}},
])
def test_validate_reports_rather_than_raises(nodes):
    doc = check_roundtrip(text_of(graph(nodes)))
    assert doc is not None and validate(doc, REG)


def test_many_dangling_links_save_without_a_scan_per_node():
    """A few-MB hostile file of nodes linked to missing nodes must not make saving hang: ``to_data``
    once scanned every dangling link for every node (quadratic). Counted, not timed: the list of
    dangling links is read a bounded number of times however many nodes there are, and every
    dangling link is saved back."""
    n = 8_000
    nodes = {f"n{i}": {"type": "core.case", "inputs": {"text": f"ghost{i}.text"}} for i in range(n)}
    doc = loads(text_of(graph(nodes)), source=SRC)

    class Counted(list):
        reads = 0

        def __iter__(self):
            Counted.reads += 1
            return super().__iter__()

    doc.dangling = Counted(doc.dangling)
    saved = json.loads(dumps(doc))
    assert Counted.reads <= 2, f"the dangling links were scanned {Counted.reads} times for {n} nodes"
    assert sum(1 for e in saved["nodes"].values() if e.get("inputs", {}).get("text", "").startswith("ghost")) == n


# -- 2. property-based fuzzing ----------------------------------------------------------------------
FUZZ = settings(max_examples=250, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)

# Known bug classes are pinned by the hand-written tests above rather than here, so that these
# properties keep catching new ones: text never holds lone surrogates (hypothesis' default), and
# format-0 nodes are never lists of pairs. Widen both once the engine refuses them.

# vocabulary a graph file uses, so that fuzzing gets past the first checks
TYPE_IDS = sorted(REG.specs) + ["nope.thing", "core.nope", "Core.Text", "core"]
NODE_IDS = ["a", "b", "c", "title", "_x", "n-1", "../x", "", "a b", "a\n", "x" * 128, "x" * 129]
PORTS = sorted({p.name for s in REG for p in s.inputs} | {o.name for s in REG for o in s.outputs}) + ["nope", "Bad"]
node_ids = st.sampled_from(NODE_IDS) | st.text(max_size=6)
ports = st.sampled_from(PORTS) | st.text(max_size=6)
refs = st.builds(lambda n, p: f"{n}.{p}", node_ids, ports) | json_values
versions = st.sampled_from(["1.0.0", "0.1.0", "2.0.0", "1.0", "1.0.0-beta", "999999999.0.0"]) | json_values
names = st.text(max_size=12)
nums = st.integers(-10**13, 10**13) | st.floats(allow_nan=False, allow_infinity=False) | st.booleans()
colors = st.lists(st.integers(-1, 256), min_size=2, max_size=5) | json_values

node_entries = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPE_IDS) | json_values},
    optional={
        "version": versions,
        "params": st.dictionaries(ports, json_values, max_size=4) | json_values,
        "inputs": st.dictionaries(ports, refs | st.lists(refs, max_size=3), max_size=3) | json_values,
        "label": names | json_values,
        "notes": names,
        "cache": st.sampled_from(["default", "always", "never"]) | json_values,
        "pinned": st.dictionaries(ports, st.sampled_from(["0" * 64, "f" * 64, "F" * 64, "xyz"]) | json_values,
                                  max_size=2) | json_values,
        "extra": json_values,
    },
)
layout_entries = st.fixed_dictionaries({}, optional={
    "pos": st.lists(nums, min_size=1, max_size=3) | json_values,
    "size": st.lists(nums, min_size=2, max_size=2),
    "collapsed": st.booleans() | json_values,
    "color": colors,
})
group_entries = st.fixed_dictionaries({"nodes": st.lists(node_ids, max_size=4) | json_values},
                                      optional={"title": names | json_values, "color": colors})
link_entries = st.fixed_dictionaries({"from": refs, "to": refs}) | json_values
graph_shaped = st.fixed_dictionaries(
    {
        "format": st.just("nodegraph") | json_values,
        "version": st.sampled_from([0, 1, 1, 1]) | json_values,
        "nodes": st.dictionaries(node_ids, node_entries, max_size=5) | json_values,
    },
    optional={
        "meta": st.dictionaries(names, names, max_size=3) | json_values,
        "packs": st.dictionaries(st.sampled_from(["core", "image", "nope"]) | names, names, max_size=3),
        "groups": st.dictionaries(node_ids, group_entries, max_size=2) | json_values,
        "layout": st.dictionaries(node_ids, layout_entries, max_size=4) | json_values,
        "links": st.lists(link_entries, max_size=4),
        "extra": json_values,
    },
)


@FUZZ
@given(json_values)
def test_fuzz_arbitrary_json(value):
    check_roundtrip(json.dumps(value))


@FUZZ
@given(graph_shaped, st.booleans())
def test_fuzz_graph_shaped_json(value, as_bytes):
    text = json.dumps(value, ensure_ascii=as_bytes)
    check_roundtrip(text.encode("utf-8") if as_bytes else text)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


def _demo_words() -> list:
    """Every key and scalar in the demo: swapping these around makes near-valid graphs."""
    words: set = set()
    for path in _paths(DEMO):
        words.update(k for k in path if isinstance(k, str))
        v = DEMO
        for k in path:
            v = v[k]
        if isinstance(v, str):
            words.add(v)
    words.update(f"{n}.{p}" for n in DEMO["nodes"] for p in ("text", "image", "nope"))
    return sorted(words)


DEMO_WORDS = _demo_words()
mutation_values = st.sampled_from(DEMO_WORDS) | json_values | node_entries | layout_entries
mutation_keys = st.sampled_from(DEMO_WORDS) | st.text(max_size=8)


@FUZZ
@given(st.data())
def test_fuzz_mutated_demo(data):
    doc = copy.deepcopy(DEMO)
    for _ in range(data.draw(st.integers(1, 5), label="mutations")):
        path = data.draw(st.sampled_from(_paths(doc)), label="path")
        target = doc
        for k in path:
            target = target[k]
        op = data.draw(st.sampled_from(["replace", "delete", "add"]), label="op")
        if op == "replace" or (op == "delete" and not path):
            value = data.draw(mutation_values, label="value")
            if not path:
                doc = value
                continue
            parent = doc
            for k in path[:-1]:
                parent = parent[k]
            parent[path[-1]] = value
        elif op == "delete":
            parent = doc
            for k in path[:-1]:
                parent = parent[k]
            del parent[path[-1]]
        elif isinstance(target, dict):
            target[data.draw(mutation_keys, label="key")] = data.draw(mutation_values, label="value")
        elif isinstance(target, list):
            target.insert(data.draw(st.integers(0, len(target)), label="at"), data.draw(mutation_values, label="value"))
    check_roundtrip(json.dumps(doc, indent=data.draw(st.sampled_from([None, 2]), label="indent")))


@FUZZ
@given(st.binary(max_size=512))
def test_fuzz_random_bytes(blob):
    check_roundtrip(blob)


DEMO_BYTES = DEMO_TEXT.encode("utf-8")


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(DEMO_BYTES) - 1), st.binary(min_size=0, max_size=3)),
                min_size=1, max_size=6),
       st.integers(0, len(DEMO_BYTES)))
def test_fuzz_corrupted_demo_bytes(edits, cut):
    blob = bytearray(DEMO_BYTES)
    for pos, repl in edits:
        pos = min(pos, len(blob))
        blob[pos:pos + 1] = repl
    check_roundtrip(bytes(blob[: max(cut, len(blob) // 2)]))


# -- 3. loading is side-effect free -----------------------------------------------------------------
BROKEN_FILES = {
    "bad_json.json": DEMO_TEXT[:500].encode("utf-8"),
    "late_fault.json": text_of({**DEMO, "layout": {**DEMO["layout"], "ghost": {"pos": [0, 0]}}}).encode("utf-8"),
    "same_ids_bad_params.json": text_of({**DEMO, "nodes": {**DEMO["nodes"], "title": {"type": "core.text", "params": "x"}}}).encode("utf-8"),
    "deep.json": ("[" * 100_000).encode("utf-8"),
    "not_utf8.json": b"\xff" + DEMO_BYTES,
    "v0_broken.json": text_of({"format": "nodegraph", "version": 0, "nodes": DEMO["nodes"],
                               "links": [{"from": "title.text"}]}).encode("utf-8"),
    "future.json": text_of({**DEMO, "version": 99}).encode("utf-8"),
}


def test_failed_load_leaves_a_loaded_document_unchanged(tmp_path):
    demo_copy = tmp_path / "demo.json"
    demo_copy.write_bytes(DEMO_BYTES)
    doc = load(demo_copy)
    before, revision = dumps(doc), doc.revision
    before_issues = validate(doc, REG)
    for name, blob in BROKEN_FILES.items():
        p = tmp_path / name
        p.write_bytes(blob)
        with pytest.raises(GraphFileError) as info:
            load(p)
        assert str(p) in str(info.value), (name, str(info.value))
        assert p.read_bytes() == blob, f"load changed {name}"
        assert dumps(doc) == before, f"loading {name} changed an already loaded document"
        assert doc.revision == revision
    assert validate(doc, REG) == before_issues
    assert demo_copy.read_bytes() == DEMO_BYTES
    assert load(demo_copy) == doc
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*BROKEN_FILES, "demo.json"])  # no temp files left


def test_successful_load_of_another_file_leaves_a_loaded_document_unchanged(tmp_path):
    doc = loads(DEMO_TEXT, source="demo.json")
    before = dumps(doc)
    other = copy.deepcopy(DEMO)
    other["nodes"]["title"]["params"]["value"] = "changed"
    other["layout"]["title"]["pos"] = [1.0, 2.0]
    p = tmp_path / "other.json"
    p.write_text(json.dumps(other), encoding="utf-8")
    doc2 = load(p)
    doc2.params("title")["value"] = "mutated after load"
    doc2.layout["title"]["pos"][0] = 99.0
    assert dumps(doc) == before


@pytest.mark.parametrize("data", [
    copy.deepcopy(DEMO),
    {"format": "nodegraph", "version": 0,
     "nodes": {"a": {"type": "core.text"}, "b": {"type": "core.join_text", "inputs": {"parts": "a.text"}}},
     "links": [{"from": "a.text", "to": "b.parts"}]},
])
def test_from_data_does_not_change_its_argument(data):
    """Reading must not write into the parsed data it was given (format 0 migration adds links
    into the caller's ``inputs`` dicts)."""
    snapshot = copy.deepcopy(data)
    from_data(data, source=SRC)
    assert data == snapshot
