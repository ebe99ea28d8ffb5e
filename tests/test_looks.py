"""Looks: made from a selection, saved, found, used as one node, evaluated node by node through
the same cache, upgraded, unlocked, and read as untrusted files."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nodegraph import fileformat
from nodegraph.commands import Connect, SetParam
from nodegraph.errors import GraphFileError, GraphInvalid
from nodegraph.evaluate import Evaluator
from nodegraph.graph import Document
from nodegraph.looks import LookLibrary, load, loads, save, with_looks
from nodegraph.looks.make import Promote, make_look, replace_with_instance, unlock, upgrade
from nodegraph.registry import default_registry

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "graphs" / "demo.json"


@pytest.fixture
def looks_dir(tmp_path, monkeypatch):
    d = tmp_path / "userlooks"
    monkeypatch.setenv("NODEGRAPH_LOOKS_DIR", str(d))
    return d


def cli(*args, cwd, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    p = subprocess.run([sys.executable, "-m", "nodegraph", *args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=300)
    return p


def card_look(doc, version="1.0.0", **kw):
    return make_look(doc, ["draw_title", "draw_subtitle"], "studio/card", version, default_registry(),
                     promote=[Promote("draw_subtitle", "size", name="subtitle_size", label="Subtitle size", min=8, max=200),
                              Promote("draw_title", "color", name="title_color", label="Title colour")], **kw)


def computed(result):
    return {n for n, r in result.nodes.items() if r.status == "computed"}


def test_make_look_from_the_demo_in_a_new_process_and_use_it_in_two_graphs(tmp_path, looks_dir):
    a = tmp_path / "a"
    a.mkdir()
    shutil.copy(DEMO, a / "shot1.json")
    env = {"NODEGRAPH_LOOKS_DIR": str(looks_dir), "NODEGRAPH_CACHE_DIR": str(tmp_path / "cache")}
    p = cli("look", "make", "shot1.json", "--nodes", "draw_title,draw_subtitle", "--name", "studio/card",
            "--version", "1.0.0", "--promote", "draw_subtitle.size=Subtitle size", "--title", "Title card",
            "--replace", cwd=a, env_extra=env)
    assert p.returncode == 0, p.stderr
    assert "studio.card-1.0.0.look.json" in p.stdout and "replaced by the instance 'card'" in p.stdout
    saved = looks_dir / "studio.card-1.0.0.look.json"
    look = load(saved)  # the file as another process wrote it
    assert list(look.params) == ["subtitle_size"] and look.params["subtitle_size"].label == "Subtitle size"
    assert set(look.inputs) == {"image", "text", "text_2"} and list(look.outputs) == ["image"]
    shot1 = fileformat.load(a / "shot1.json")
    assert shot1.type_of("card") == "look:studio/card@1.0.0" and "draw_title" not in shot1
    assert "words" not in shot1.groups or shot1.groups["words"]["nodes"]  # no empty group left behind

    # a second graph uses the same Look (another title); both run in one cache
    shot2 = fileformat.load(a / "shot1.json")
    SetParam("title", "value", "Second shot")(shot2)
    fileformat.save(shot2, a / "shot2.json")
    for g in ("shot1.json", "shot2.json"):
        p = cli("run", g, "-q", "-o", f"out_{g[:5]}", "--report", f"{g[:5]}.report.json", cwd=a, env_extra=env)
        assert p.returncode == 0, p.stderr
    r2 = json.loads((a / "shot2.report.json").read_text())
    # work that is the same is shared: shot2's background and subtitle were computed by shot1
    assert r2["nodes"]["background"]["status"] == "cached"
    assert r2["nodes"]["card/draw_title"]["status"] == "computed"

    # one promoted param changes in shot1: exactly the inner nodes below it compute (by path)
    p = cli("run", "shot1.json", "-q", "-o", "out_shot1", "--set", "card.subtitle_size=60", "--report", "r.json",
            cwd=a, env_extra=env)
    assert p.returncode == 0, p.stderr
    nodes = json.loads((a / "r.json").read_text())["nodes"]
    inner = {n for n, v in nodes.items() if n.startswith("card/") and v["status"] == "computed"}
    assert inner == {"card/draw_subtitle"}
    assert nodes["card/draw_title"]["status"] == "cached"
    # the other graph's results are still there: it computes nothing
    p = cli("run", "shot2.json", "-q", "-o", "out_shot2", "--report", "r2.json", cwd=a, env_extra=env)
    assert p.returncode == 0, p.stderr
    assert json.loads((a / "r2.json").read_text())["counts"]["computed"] == 0
    # explain names inner nodes by path
    p = cli("explain", "shot1.json", "-o", "out_shot1", "--set", "card.subtitle_size=70", "--json", cwd=a, env_extra=env)
    plan = json.loads(p.stdout)
    assert plan["card/draw_subtitle"]["will_run"] == "yes" and plan["card/draw_title"]["will_run"] == "no"


def test_promoted_param_range_and_label_are_on_the_face(tmp_path):
    doc = fileformat.load(DEMO)
    look = card_look(doc)
    lib = LookLibrary([])
    lib.add(look)
    reg = with_looks(default_registry(), library=lib)
    spec = reg.specs[look.type_id]
    size = spec.input("subtitle_size")
    assert size.type.opts["min"] == 8 and size.type.opts["max"] == 200 and size.type.opts["label"] == "Subtitle size"
    assert size.default == 44
    replace_with_instance(doc, look, ["draw_title", "draw_subtitle"], "card")(doc)
    SetParam("card", "subtitle_size", 500)(doc)
    ev = Evaluator(reg, output_dir=tmp_path / "out", base_dir=ROOT / "graphs", workers=1)
    with pytest.raises(GraphInvalid) as e:
        ev.run(doc)
    assert "card" in str(e.value) and "subtitle_size" in str(e.value)


def test_same_look_in_three_shots_shares_work_and_nests(tmp_path):
    doc = fileformat.load(DEMO)
    inner = card_look(doc)
    lib = LookLibrary([])
    lib.add(inner)
    reg = with_looks(default_registry(), library=lib)
    # a Look holding the card Look: nesting
    replace_with_instance(doc, inner, ["draw_title", "draw_subtitle"], "card")(doc)
    outer = make_look(doc, ["card"], "studio/framed", "1.0.0", reg,
                      promote=[Promote("card", "subtitle_size", name="size")])
    lib.add(outer)
    reg = with_looks(default_registry(), library=lib)
    g = fileformat.load(DEMO)
    for n in ("draw_title", "draw_subtitle", "save_card"):
        from nodegraph.commands import RemoveNode
        RemoveNode(n)(g)
    from nodegraph.commands import AddNode
    for i in (1, 2, 3):
        AddNode(outer.type_id, id=f"shot{i}", version="1.0.0")(g)
        for port, src in (("image", "background"), ("text", "title"), ("text_2", "subtitle")):
            Connect(src, port if port == "image" else "text", f"shot{i}", port)(g)
    SetParam("shot3", "size", 50)(g)
    ev = Evaluator(reg, output_dir=tmp_path / "out", base_dir=ROOT / "graphs", workers=1)
    r = ev.run(g, ["shot1", "shot2", "shot3"])
    assert r.ok
    # shot1 and shot2 are the same work: one computes it, the other finds it in the cache
    names = computed(r)
    assert "shot1/card/draw_title" in names or "shot2/card/draw_title" in names
    assert len({n for n in names if n.endswith("/card/draw_title")}) == 1
    assert {n for n in names if n.endswith("/card/draw_subtitle")} <= {"shot1/card/draw_subtitle", "shot2/card/draw_subtitle",
                                                                      "shot3/card/draw_subtitle"}
    assert len({n for n in names if n.endswith("/card/draw_subtitle")}) == 2  # 44 once, 50 once
    assert r.value("shot3").width == 1280 and r.instance("shot3").status in ("computed", "cached")
    plan = ev.explain(g, ["shot3"])
    assert "shot3/card/draw_subtitle" in plan


def test_upgrade_keeps_values_through_a_rename_and_missing_version_is_named(tmp_path):
    doc = fileformat.load(DEMO)
    v1 = card_look(doc, source="https://example.org/studio-looks")
    v11 = card_look(doc, version="1.1.0", source="https://example.org/studio-looks")
    v11.params["heading_colour"] = v11.params.pop("title_color")
    v11.params["heading_colour"].name = "heading_colour"
    v11.migrations = {"1.1.0": {"rename": {"title_color": "heading_colour"}}}
    for lk in (v1, v11):
        save(lk, tmp_path / "looks" / lk.file_name())
    graph = tmp_path / "g.json"
    lib = LookLibrary.for_graph(graph, packages=False)
    assert lib.versions("studio/card") == ["1.0.0", "1.1.0"]
    reg = with_looks(default_registry(), library=lib)
    replace_with_instance(doc, lib.get("studio/card", "1.0.0"), ["draw_title", "draw_subtitle"], "card")(doc)
    SetParam("card", "title_color", "#ff0000")(doc)
    SetParam("card", "subtitle_size", 52)(doc)
    cmd, notes = upgrade(doc, "card", lib)
    cmd(doc)
    assert doc.type_of("card") == "look:studio/card@1.1.0" and doc.node("card")["version"] == "1.1.0"
    assert doc.params("card") == {"heading_colour": "#ff0000", "subtitle_size": 52}
    assert any("title_color" in n and "heading_colour" in n for n in notes)
    ev = Evaluator(reg, output_dir=tmp_path / "out", base_dir=tmp_path, workers=1)
    r = ev.run(doc, ["card"])
    assert r.ok and r.value("card").pixels[300, 640].tolist() != [0, 0, 0]
    cmd.inverse(doc)  # undo gives back the old version and names
    assert doc.params("card") == {"title_color": "#ff0000", "subtitle_size": 52}
    # a graph that needs a version that is not installed fails validation, saying where to get it
    (tmp_path / "looks" / v1.file_name()).unlink()
    fileformat.save(doc, graph)
    p = cli("validate", str(graph), cwd=tmp_path)
    assert p.returncode == 1
    assert "Look studio/card 1.0.0 is not installed (installed: 1.1.0" in p.stderr
    assert "https://example.org/studio-looks" in p.stderr and "nodegraph looks install" in p.stderr
    # with no version installed at all, the graph file itself says where the Look comes from
    (tmp_path / "looks" / v11.file_name()).unlink()
    p = cli("validate", str(graph), cwd=tmp_path)
    assert p.returncode == 1 and "Look studio/card 1.0.0 is not installed." in p.stderr
    assert "Get it from: https://example.org/studio-looks" in p.stderr


def test_unlock_copies_the_inside_with_its_values(tmp_path):
    doc = fileformat.load(DEMO)
    look = card_look(doc)
    lib = LookLibrary([])
    lib.add(look)
    reg = with_looks(default_registry(), library=lib)
    before = Evaluator(reg, output_dir=tmp_path / "o1", base_dir=ROOT / "graphs", workers=1).run(doc, ["draw_subtitle"])
    replace_with_instance(doc, look, ["draw_title", "draw_subtitle"], "card")(doc)
    SetParam("card", "subtitle_size", 44)(doc)
    batch = unlock(doc, "card", look)
    batch(doc)
    assert "card" not in doc and {"card_draw_title", "card_draw_subtitle"} <= set(doc.node_ids())
    assert any("unlocked from studio/card 1.0.0" in g["title"] for g in doc.groups.values())
    ev = Evaluator(reg, output_dir=tmp_path / "o2", base_dir=ROOT / "graphs", workers=1)
    r = ev.run(doc)
    assert r.ok
    assert r.value("card_draw_subtitle") == before.value("draw_subtitle")
    batch.inverse(doc)
    assert doc.type_of("card") == look.type_id


def test_look_files_are_untrusted(tmp_path):
    doc = fileformat.load(DEMO)
    good = json.loads(card_look(doc).dumps())
    cases = {
        "not json": ("{", "not valid JSON"),
        "format": ({**good, "format": "x"}, "not a Look file"),
        "id": ({**good, "look": "../etc"}, "Look id"),
        "version": ({**good, "look_version": "one"}, "semantic version"),
        "node missing": ({**good, "outputs": {"image": {"type": "image", "from": "ghost.image"}}}, "ghost"),
        "thumbnail": ({**good, "thumbnail": "not base64!"}, "base64"),
        "field": ({**good, "run": "rm -rf /"}, "unknown field 'run'"),
    }
    for name, (data, words) in cases.items():
        text = data if isinstance(data, str) else json.dumps(data)
        with pytest.raises(GraphFileError) as e:
            loads(text, source=f"{name}.look.json")
        assert words in str(e.value) and f"{name}.look.json" in str(e.value), name
    # a broken file in a library is reported by name; the others load
    d = tmp_path / "looks"
    d.mkdir()
    (d / "bad.look.json").write_text("{")
    save(card_look(doc), d / "ok.look.json")
    lib = LookLibrary([("graph", d)])
    assert [l.id for l in lib.all()] == ["studio/card"]
    assert any("bad.look.json" in p for p in lib.problems)


def test_a_look_cannot_read_outside_its_folder_or_contain_itself(tmp_path):
    doc = fileformat.load(DEMO)
    from nodegraph.commands import AddNode

    AddNode("image.load", id="img", params={"path": "../../../../etc/passwd"})(doc)
    Connect("img", "image", "draw_title", "image")(doc)
    look = make_look(doc, ["img", "draw_title"], "evil/reader", "1.0.0", default_registry())
    save(look, tmp_path / "proj" / "looks" / look.file_name())
    g = fileformat.load(DEMO)
    from nodegraph.commands import RemoveNode

    RemoveNode("draw_title")(g)
    AddNode(look.type_id, id="ev", version="1.0.0")(g)
    Connect("title", "text", "ev", "text")(g)
    Connect("ev", "image", "draw_subtitle", "image")(g)
    path = tmp_path / "proj" / "g.json"
    fileformat.save(g, path)
    reg = with_looks(default_registry(), path)
    ev = Evaluator(reg, output_dir=tmp_path / "proj" / "out", base_dir=path.parent, workers=1)
    with pytest.raises(GraphInvalid) as e:
        ev.run(g)
    assert "ev/img" in str(e.value) and "passwd" in str(e.value)
    # a Look that contains itself is refused with its name
    data = json.loads(look.dumps())
    data["graph"]["nodes"]["loop"] = {"type": look.type_id, "version": "1.0.0"}
    (tmp_path / "proj" / "looks" / look.file_name()).write_text(json.dumps(data))
    reg = with_looks(default_registry(), path)
    ev = Evaluator(reg, output_dir=tmp_path / "proj" / "out", base_dir=path.parent, workers=1)
    with pytest.raises(GraphInvalid) as e:
        ev.run(g)
    assert "contains itself" in str(e.value)


def test_cli_list_show_install_export(tmp_path, looks_dir):
    doc = fileformat.load(DEMO)
    look = card_look(doc, description="Title and subtitle on a picture")
    save(look, tmp_path / "card.look.json")
    p = cli("looks", "install", "card.look.json", cwd=tmp_path)
    assert p.returncode == 0 and "installed Look studio/card 1.0.0" in p.stdout
    p = cli("looks", "list", cwd=tmp_path)
    assert "studio/card" in p.stdout and "1.0.0" in p.stdout
    p = cli("looks", "show", "studio/card", cwd=tmp_path)
    assert "Title and subtitle" in p.stdout and "subtitle_size" in p.stdout and "Subtitle size" in p.stdout
    p = cli("looks", "export", "studio/card@1.0.0", "-o", "copy.look.json", cwd=tmp_path)
    assert p.returncode == 0 and load(tmp_path / "copy.look.json").dumps() == look.dumps()
    p = cli("looks", "show", "studio/crad", cwd=tmp_path)
    assert p.returncode == 1 and "studio/card" in p.stderr  # did you mean


def test_a_group_wholly_inside_the_selection_goes_into_the_look(tmp_path):
    doc = fileformat.load(DEMO)
    ids = ["title", "subtitle", "draw_title", "draw_subtitle"]
    look = make_look(doc, ids, "studio/words", "1.0.0", default_registry())
    assert look.graph.groups["words"]["nodes"] == ["title", "subtitle"]
    batch = replace_with_instance(doc, look, ids, "words_look")
    batch(doc)
    assert "words" not in doc.groups and doc.type_of("words_look") == look.type_id
    batch.inverse(doc)  # undo puts the group back with its nodes
    assert doc.groups["words"]["nodes"] == ["title", "subtitle"]


def test_a_bypassed_instance_hands_its_picture_on(tmp_path):
    reg = with_looks(default_registry())
    doc = fileformat.load(DEMO)
    from nodegraph.commands import AddNode, SetBypass

    AddNode("look:nodegraph/noir@1.0.0", id="noir", version="1.0.0")(doc)
    Connect("draw_subtitle", "image", "noir", "image")(doc)
    Connect("noir", "image", "save_card", "image")(doc)
    ev = Evaluator(reg, output_dir=tmp_path / "out", base_dir=ROOT / "graphs", workers=1)
    graded = ev.run(doc, ["noir"]).value("noir")
    SetBypass("noir", True)(doc)
    r = ev.run(doc, ["save_card"])
    assert r.ok and not any(n.startswith("noir/") for n in r.nodes)
    assert r.value("draw_subtitle") != graded
    assert r.nodes["save_card"].status == "computed"


def test_wires_into_a_variadic_input_keep_their_places(tmp_path):
    """A contact sheet fed by outside and inside pictures, one of them twice: as a Look, and
    unlocked again, it shows them in the same order."""
    from nodegraph.commands import AddNode

    doc = Document()
    for nid, rgb in (("zred", (255, 0, 0)), ("agreen", (0, 255, 0)), ("mblue", (0, 0, 255)), ("white", (255, 255, 255))):
        AddNode("image.solid", id=nid, params={"width": 16, "height": 16, "red": rgb[0], "green": rgb[1],
                                                "blue": rgb[2]})(doc)
    AddNode("preview.contact_sheet", id="sheet", params={"columns": 5, "cell_width": 16})(doc)
    for src in ("mblue", "white", "zred", "agreen", "zred"):
        Connect(src, "image", "sheet", "images", append=True)(doc)
    reg = with_looks(default_registry(), library=LookLibrary([]))
    before = Evaluator(reg, workers=1).run(doc, ["sheet"]).value("sheet")
    look = make_look(doc, ["sheet", "white"], "test/sheet", "1.0.0", default_registry())
    assert len(look.inputs) == 4  # blue, red, green, red again: each keeps its place
    again = loads(look.dumps())  # the places survive the file
    places = [{("sheet", "images"): k} for k in (0, 2, 3, 4)]
    assert [p.orders for p in again.inputs.values()] == [p.orders for p in look.inputs.values()] == places
    assert again.inner_places() == {("sheet", "images"): {0: 1}}  # white: its list place 0 -> place 1
    lib = LookLibrary([])
    lib.add(again)
    reg = with_looks(default_registry(), library=lib)
    replace_with_instance(doc, again, ["sheet", "white"], "sheet_look")(doc)
    assert Evaluator(reg, workers=1).run(doc, ["sheet_look"]).value("sheet_look") == before
    unlock(doc, "sheet_look", again)(doc)
    assert Evaluator(reg, workers=1).run(doc, ["sheet_look_sheet"]).value("sheet_look_sheet") == before


def test_a_graph_copied_as_a_template_takes_its_own_looks_along(tmp_path, looks_dir):
    project = tmp_path / "project"
    doc = fileformat.load(DEMO)
    look = card_look(doc)
    save(look, project / "looks" / look.file_name())
    lib = LookLibrary([])
    lib.add(look)
    replace_with_instance(doc, look, ["draw_title", "draw_subtitle"], "card")(doc)
    SetParam("background", "width", 640)(doc)
    fileformat.save(doc, project / "shot.json")
    p = cli("new", str(tmp_path / "copy" / "scene.json"), "--template", str(project / "shot.json"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "looks" in p.stdout
    assert (tmp_path / "copy" / "looks" / look.file_name()).is_file()
    p = cli("validate", str(tmp_path / "copy" / "scene.json"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr


def test_a_graph_with_looks_still_reports_its_dangling_links(tmp_path):
    from nodegraph.commands import AddNode
    from nodegraph.looks.expand import validate_all

    doc = fileformat.load(DEMO)
    AddNode("look:nodegraph/noir@1.0.0", id="noir", version="1.0.0")(doc)
    Connect("background", "image", "noir", "image")(doc)
    data = json.loads(fileformat.dumps(doc))
    data["nodes"]["save_card"]["inputs"]["image"] = "ghost.image"
    doc = fileformat.loads(json.dumps(data))
    issues = validate_all(doc, with_looks(default_registry()))
    dangling = [i for i in issues if i.code == "dangling_link"]
    assert len(dangling) == 1 and "ghost" in dangling[0].message
