"""``nodegraph diff``: a semantic diff of real edits of the shipped demo graph (params, nodes added
and removed, links re-pointed, nodes moved), as text and JSON, its exit status, and bad files."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nodegraph.cli import main
from nodegraph.commands import (
    UNSET, AddNode, Connect, Disconnect, History, Move, RemoveNode, SetBypass, SetGroup, SetLabel, SetNotes, SetParam,
    SetPin,
)
from nodegraph.diff import diff, format_text, summary, to_json
from nodegraph.fileformat import dumps, load, save
from nodegraph.graph import Document
from nodegraph.registry import default_registry

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "graphs" / "demo.json"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def edited(*commands) -> tuple[Document, Document]:
    """The demo graph, and a copy with ``commands`` applied (as the editor applies them)."""
    old = load(DEMO)
    new = old.copy()
    h = History(new)
    for c in commands:
        h.do(c)
    return old, new


def files(tmp_path, old: Document, new: Document) -> tuple[Path, Path]:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    save(old, a)
    save(new, b)
    return a, b


def test_real_edits_as_text_one_line_each_in_a_stable_order(capsys, tmp_path):
    old, new = edited(SetParam("draw_title", "size", 64),
                      AddNode("image.blur", "blur", {"radius": 4}),
                      Connect("draw_subtitle", "image", "blur", "image"),
                      Connect("blur", "image", "save_card", "image"),  # re-points save_card's input
                      RemoveNode("save_credits"),
                      SetParam("title", "value", "Hello"))
    a, b = files(tmp_path, old, new)
    code, out, err = run(capsys, "diff", a, b)
    assert code == 1 and err == ""
    assert out.splitlines() == [
        "+ node blur (image.blur)",
        "+ link draw_subtitle.image -> blur.image",
        "~ draw_title.size: 120 -> 64",
        "~ link into save_card.image: draw_subtitle.image -> blur.image",
        "- node save_credits (core.save_text)",
        "- link credits.text -> save_credits.text",
        '~ title.value: "nodegraph" -> "Hello"',
    ]
    code2, out2, _ = run(capsys, "diff", a, b)
    assert (code2, out2) == (code, out)  # the same every time
    code, back, _ = run(capsys, "diff", b, a)  # the other way round: the opposite changes
    assert code == 1
    assert "- node blur (image.blur)" in back and "+ node save_credits (core.save_text)" in back
    assert "~ draw_title.size: 64 -> 120" in back


def test_json_lists_change_records(capsys, tmp_path):
    old, new = edited(SetParam("draw_title", "size", 64), Disconnect("credits", "text", "save_credits", "text"),
                      RemoveNode("subtitle"))
    a, b = files(tmp_path, old, new)
    code, out, _ = run(capsys, "diff", a, b, "--json")
    assert code == 1
    data = json.loads(out)
    assert data["equal"] is False and data["a"] == str(a)
    assert data["summary"] == "1 node removed, 1 param changed, 3 links removed, 1 group change"
    recs = data["changes"]
    assert {"kind": "param-changed", "node": "draw_title", "param": "size", "old": 120, "new": 64} in recs
    assert {"kind": "node-removed", "node": "subtitle", "param": None, "old": "core.text", "new": None} in recs
    assert {"kind": "link-removed", "node": "save_credits", "param": "text", "old": "credits.text", "new": None} in recs
    # the links the removed node fed are gone from the nodes that received them
    assert {(r["node"], r["param"], r["old"]) for r in recs if r["kind"] == "link-removed"} == {
        ("save_credits", "text", "credits.text"), ("credits", "parts", "subtitle.text"),
        ("draw_subtitle", "text", "subtitle.text")}
    assert {"kind": "group-changed", "node": None, "param": "nodes", "old": ["title", "subtitle"], "new": ["title"],
            "group": "words"} in recs  # the group it was in
    assert all(set(r) >= {"kind", "node", "param", "old", "new"} for r in recs)


def test_equal_graphs_exit_0_and_print_nothing(capsys, tmp_path):
    old, new = edited()
    a, b = files(tmp_path, old, new)
    assert run(capsys, "diff", a, b) == (0, "", "")
    code, out, _ = run(capsys, "diff", a, b, "--json")
    assert code == 0 and json.loads(out)["changes"] == [] and json.loads(out)["summary"] == "no changes"


def test_moves_are_layout_listed_only_with_layout(capsys, tmp_path):
    old, new = edited(Move("title", (500, 20)), Move("background", (0, 999)))
    a, b = files(tmp_path, old, new)
    code, out, err = run(capsys, "diff", a, b)
    assert (code, out) == (0, "")  # nothing but layout changed: equal as graphs
    assert "2 nodes moved or restyled: --layout lists it" in err
    code, out, err = run(capsys, "diff", a, b, "--layout")
    assert code == 1 and err == ""
    assert out.splitlines() == ["layout:", "  ~ background pos: (40, 40) -> (0, 999)", "  ~ title pos: (40, 300) -> (500, 20)"]
    data = json.loads(run(capsys, "diff", a, b, "--layout", "--json")[1])
    assert data["changes"][1] == {"kind": "layout-changed", "node": "title", "param": "pos", "old": [40.0, 300.0],
                                  "new": [500.0, 20.0]}
    assert data["summary"] == "2 nodes moved"
    # a layout change beside a real one: listed apart, after it
    old, new = edited(Move("title", (500, 20)), SetParam("title", "value", "Hi"))
    text = format_text(diff(old, new, layout=True))
    assert text.splitlines() == ['~ title.value: "nodegraph" -> "Hi"', "layout:", "  ~ title pos: (40, 300) -> (500, 20)"]
    assert summary(diff(old, new, layout=True)) == "1 param changed, 1 node moved"


def test_a_param_set_to_its_default_is_no_change(capsys, tmp_path):
    spec = default_registry().specs["image.draw_text"]
    default_align = spec.input("align").default_json
    old, new = edited(SetParam("draw_title", "align", default_align), SetParam("draw_subtitle", "color", UNSET))
    reg = default_registry()
    assert spec.input("color").default_json == "#ffffff" == old.params("draw_subtitle")["color"]
    assert diff(old, new, reg) == []  # explicit default == left at the default, both ways
    raw = diff(old, new)  # without a registry: only what the files hold
    assert [c.text() for c in raw] == [f'~ draw_subtitle.color: "#ffffff" -> (default)',
                                       f'~ draw_title.align: (default) -> "{default_align}"']
    a, b = files(tmp_path, old, new)
    assert run(capsys, "diff", a, b)[0] == 0
    code, out, _ = run(capsys, "diff", a, b, "--no-defaults")
    assert code == 1 and "draw_title.align" in out
    # a param left at its default that now differs shows the default it had
    old, new = edited(SetParam("draw_title", "shadow", False))
    assert [c.text() for c in diff(old, new, reg)] == ["~ draw_title.shadow: true (default) -> false"]
    assert diff(old, new, reg)[0].to_json() == {"kind": "param-changed", "node": "draw_title", "param": "shadow",
                                                "old": True, "new": False, "old_default": True}
    # 2 and 2.0 are one number; true is not 1
    old, new = edited(SetParam("draw_title", "size", 120.0))
    assert diff(old, new) == []
    _, one = edited(SetParam("draw_title", "size", 1))
    true = one.copy()
    History(true).do(SetParam("draw_title", "size", True))
    assert [c.text() for c in diff(one, true)] == ["~ draw_title.size: 1 -> true"]


def test_node_fields_groups_meta_and_variadic_links(tmp_path):
    digest = "ab" * 32
    old, new = edited(SetBypass("draw_title", True), SetLabel("title", "Big title"), SetNotes("title", "say hi\n" * 30),
                      SetPin("background", {"image": digest}),
                      SetGroup("pair", {"title": "Pair", "nodes": ["credits", "save_credits"]}),
                      Connect("title", "text", "credits", "parts", append=True))
    new.meta["title"] = "Another title"
    new.meta["author"] = "Ada"
    lines = format_text(diff(old, new)).splitlines()
    assert "~ node draw_title bypass: off -> on" in lines
    assert '~ node title label: "Title" -> "Big title"' in lines
    assert f"~ node background pinned: (none) -> image={digest[:12]}" in lines
    assert '+ meta.author: "Ada"' in lines and '~ meta.title: "Demo: title card" -> "Another title"' in lines
    assert any(l.startswith('~ node title notes: "" -> "say hi') and l.endswith("(210 characters)") for l in lines)
    assert "+ link title.text -> credits.parts" in lines  # one source twice into a variadic input
    assert lines[0].startswith("+ meta.author")  # graph info first, then nodes by id, then groups
    assert lines[-1] == '+ group pair "Pair" (credits, save_credits)'
    assert not any("\\..." in l for l in lines)  # a cut never leaves half an escape
    # reordering a variadic input is one change
    h = History(new)
    h.do(Disconnect("title", "text", "credits", "parts"))  # the first of the two title links
    ordered = diff(old, new)
    assert [c for c in ordered if c.node == "credits"][0].text() == \
        "~ link order into credits.parts: title.text, subtitle.text -> subtitle.text, title.text"
    assert summary(diff(old, new)) == ("1 link changed, 4 node settings changed, 1 group change, 2 graph info changes")


def test_text_from_a_hostile_file_cannot_drive_the_terminal(tmp_path):
    old, new = edited()
    new.meta["\x1b]0;owned\x07"] = "\x1b[2J red"
    new.node("title")["label"] = "\x1b[31mred"
    text = format_text(diff(old, new))
    assert "\x1b" not in text and "\\u001b" in text and "\x07" not in text


def test_a_look_instance_version_is_a_type_change_marked_upgrade():
    old = Document()
    History(old).do(AddNode("look:studio/noir@1.0.0", "noir", {"strength": 0.5}))
    new = old.copy()
    new.node("noir")["type"] = "look:studio/noir@1.2.0"
    changes = diff(old, new)
    assert [c.text() for c in changes] == ["~ node noir type: look:studio/noir@1.0.0 -> look:studio/noir@1.2.0 (upgrade)"]
    assert summary(changes) == "1 Look upgraded"
    assert diff(new, old)[0].note == "downgrade"
    other = old.copy()
    other.node("noir")["type"] = "look:studio/vhs@1.0.0"
    assert diff(old, other)[0].note == "" and summary(diff(old, other)) == "1 node changed type"


def test_every_kind_of_change_is_written_and_survives_json(tmp_path):
    old, new = edited(SetParam("draw_title", "size", 64), AddNode("image.blur", "blur"), RemoveNode("save_credits"),
                      SetBypass("title", True), SetGroup("g", {"title": "G", "nodes": ["title"], "color": [1, 2, 3]}),
                      Move("title", (1, 2)))
    new.packs["image"] = "another-dist"
    changes = diff(old, new, layout=True)
    assert not any(c.text().startswith("?") for c in changes)
    assert json.loads(json.dumps(to_json(changes))) == to_json(changes)


def test_a_version_a_picture_and_a_graph_file_can_be_compared(capsys, tmp_path):
    from PIL import Image, PngImagePlugin

    from nodegraph.embedded import GraphKeys
    from nodegraph.history import GraphHistory

    old, new = edited(SetParam("draw_title", "size", 64))
    png = tmp_path / "card.png"
    info = PngImagePlugin.PngInfo()
    info.add_text(GraphKeys.png_graph, dumps(old))
    Image.new("RGB", (8, 8)).save(png, pnginfo=info)
    g = tmp_path / "scene.json"
    save(new, g)
    code, out, _ = run(capsys, "diff", png, g)
    assert (code, out) == (1, "~ draw_title.size: 120 -> 64\n")
    h = GraphHistory(g)
    first = h.record(dumps(old))
    h.record(dumps(new))
    code, out, _ = run(capsys, "diff", f"{g}@{first.id[:8]}", g)
    assert (code, out) == (1, "~ draw_title.size: 120 -> 64\n")
    code, out, _ = run(capsys, "history", g)
    assert code == 0 and out.splitlines()[1].startswith(f"{first.id[:12]}  ") and "first version kept" in out
    assert run(capsys, "history", tmp_path / "nope.json")[:2] == (1, "")
    code, _, err = run(capsys, "diff", f"{g}@abcdef12", g)
    assert code == 2 and err == f"error: scene.json has no version abcdef12 (2 versions kept in {h.folder})\n"


@pytest.mark.parametrize("content, message", [
    (None, "No such file or directory"),
    ("{not json", "not valid JSON"),
    ('{"format": "other", "version": 1, "nodes": {}}', "not a nodegraph file"),
    ('{"format": "nodegraph", "version": 1, "nodes": {"../x": {"type": "core.text"}}}', "node id '../x' must start"),
    ('{"format": "nodegraph", "version": 1, "nodes": {"a": {"type": "core.text", "params": {"v": NaN}}}}', "NaN is not allowed"),
    ("[" * 200 + "]" * 200, "nested more than 48 levels deep"),
    (b"\xff\xfe\x00", "not UTF-8 text"),
])
def test_bad_files_exit_2_naming_the_file(capsys, tmp_path, content, message):
    good = tmp_path / "good.json"
    save(load(DEMO), good)
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    for args in ((good, bad), (bad, good)):
        code, out, err = run(capsys, "diff", *args)
        assert code == 2 and out == ""
        assert err.startswith(f"error: {bad}") and message in err and err.count("\n") == 1


def test_a_picture_without_a_graph_is_refused(capsys, tmp_path):
    from PIL import Image

    png = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(png)
    code, _, err = run(capsys, "diff", png, DEMO)
    assert code == 2 and err == f"error: {png}: this file carries no nodegraph graph (it was not made by nodegraph)\n"


def test_help_says_the_exit_status(capsys):
    with pytest.raises(SystemExit):
        main(["diff", "--help"])
    out = capsys.readouterr().out
    assert "0 when no change is listed, 1 when some are, 2 on an error" in out and "GRAPH@ID" in out


def _mutate(data: dict, rng) -> None:
    """One random edit of a graph file's data (what a person or a tool might change)."""
    nodes = data["nodes"]
    nid = rng.choice(sorted(nodes))
    rec = nodes[nid]
    what = rng.randrange(9)
    if what == 0 and rec.get("params"):
        k = rng.choice(sorted(rec["params"]))
        rec["params"][k] = rng.choice([0, 1.5, "x", True, None, [1, 2]])
    elif what == 1:
        del nodes[nid]
        data.get("layout", {}).pop(nid, None)
        for g in data.get("groups", {}).values():
            if nid in g["nodes"]:
                g["nodes"].remove(nid)
    elif what == 2:
        nodes[f"n{rng.randrange(10**6)}"] = {"type": "core.text", "params": {"value": "new"}}
    elif what == 3 and rec.get("inputs"):
        port = rng.choice(sorted(rec["inputs"]))
        rec["inputs"][port] = f"{rng.choice(sorted(nodes))}.{rng.choice(['text', 'image', 'out'])}"
    elif what == 4:
        data.setdefault("layout", {}).setdefault(nid, {})["pos"] = [rng.randrange(-500, 500), rng.randrange(500)]
    elif what == 5:
        rec[rng.choice(["label", "notes"])] = rng.choice(["", "a note", "Title"])
    elif what == 6:
        rec["bypass"] = not rec.get("bypass", False)
    elif what == 7:
        data.setdefault("meta", {})[rng.choice(["title", "author"])] = rng.choice(["A", "B"])
    else:
        rec["version"] = rng.choice(["1.0.0", "1.1.0", "2.0.0"])


def test_random_edits_of_every_template_diff_empty_exactly_when_equal():
    import random

    from nodegraph.fileformat import from_data
    from nodegraph.history import RestoreVersion

    rng = random.Random(20261208)
    reg = default_registry()
    templates = sorted((ROOT / "graphs").glob("*.json"))
    for i in range(150):
        base = json.loads(rng.choice(templates).read_text(encoding="utf-8"))
        other = json.loads(json.dumps(base))
        for _ in range(rng.randrange(0, 4)):
            _mutate(other, rng)
        a, b = from_data(base, "a"), from_data(other, "b")
        changes = diff(a, b, layout=True)
        assert (changes == []) == (a == b), (i, format_text(changes))
        assert not any(c.text().startswith("?") for c in changes)
        assert json.loads(json.dumps(to_json(changes), allow_nan=False)) == to_json(changes)
        assert len(diff(a, b, reg, layout=True)) <= len(changes)  # defaults only take changes away
        back = a.copy()
        History(back).do(RestoreVersion(b))
        assert back == b and diff(back, b, layout=True) == []
