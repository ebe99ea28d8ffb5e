"""The first evaluator: demand-driven order, failures isolated, cancellation, safe output paths."""
from __future__ import annotations

import os

import numpy as np
import pytest

from nodegraph.commands import AddNode, Batch, Connect, SetParam
from nodegraph.context import CancelToken, safe_join
from nodegraph.errors import GraphInvalid, UnsafePath
from nodegraph.evaluate import Evaluator
from nodegraph.fileformat import load
from nodegraph.graph import Document


@pytest.fixture
def demo():
    return load("graphs/demo.json")


def test_demo_runs_and_writes_real_files(tmp_path, registry, demo):
    events = []
    result = Evaluator(registry, output_dir=tmp_path).run(demo, on_event=events.append)
    assert result.ok and result.count("computed") == 8
    from PIL import Image

    with Image.open(tmp_path / "title_card.png") as im:
        assert im.size == (1280, 720)
        assert "nodegraph:graph" in im.text and '"save_card"' in im.text["nodegraph:graph"]
        px = np.asarray(im.convert("RGB")).astype(int)
    assert px[:, :, 0].std() > 10  # a real gradient with text, not a flat image
    assert (tmp_path / "credits.txt").read_text() == "nodegraph\nYour data, your models, your machine"
    kinds = [e.kind for e in events]
    assert kinds.count("planned") == 8 and kinds.count("started") == 8 and kinds.count("finished") == 8
    card = result.value("draw_subtitle")
    assert (card.width, card.height) == (1280, 720)


def test_only_the_ancestors_of_the_target_run(tmp_path, registry, demo):
    result = Evaluator(registry, output_dir=tmp_path).run(demo, ["draw_title"])
    assert sorted(result.nodes) == ["background", "draw_title", "title"]
    assert result.count("computed") == 3
    assert not any(tmp_path.iterdir())  # no output node ran
    port_target = Evaluator(registry, output_dir=tmp_path).run(demo, ["credits.text"])
    assert sorted(port_target.nodes) == ["credits", "subtitle", "title"]


def test_a_failing_node_does_not_stop_independent_branches(tmp_path, registry, demo):
    Batch([AddNode("core.load_text", "missing", {"path": "no/such/file.txt"}),
           AddNode("core.save_text", "save_missing", {"filename": "m.txt"}),
           Connect("missing", "text", "save_missing", "text")])(demo)
    result = Evaluator(registry, output_dir=tmp_path, base_dir=tmp_path).run(demo)
    assert not result.ok
    assert result.nodes["missing"].status == "failed"
    assert "text file not found" in result.nodes["missing"].error
    assert str(tmp_path / "no/such/file.txt") in result.nodes["missing"].error
    assert result.nodes["save_missing"].status == "skipped"
    assert result.nodes["save_card"].status == "computed"
    assert (tmp_path / "title_card.png").exists() and (tmp_path / "credits.txt").exists()
    report = result.report()
    assert report["nodes"]["missing"]["status"] == "failed" and report["ok"] is False


def test_cancellation_between_nodes(tmp_path, registry, demo):
    token = CancelToken()
    done = []

    def on_event(e):
        if e.kind == "finished":
            done.append(e.node)
            if len(done) == 2:
                token.cancel()

    result = Evaluator(registry, output_dir=tmp_path, workers=1).run(demo, on_event=on_event, cancel=token)
    assert result.cancelled and not result.ok
    assert result.count("computed") == 2
    assert not (tmp_path / "title_card.png").exists()


def test_invalid_graph_is_refused_before_anything_runs(tmp_path, registry, demo):
    SetParam("background", "width", -5)(demo)
    with pytest.raises(GraphInvalid, match="param 'width': -5 is below the minimum 1"):
        Evaluator(registry, output_dir=tmp_path).run(demo)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/passwd", "a/../../b.txt", "", "C:/x.txt", "x\0y"])
def test_output_paths_cannot_escape_the_output_folder(tmp_path, registry, name):
    doc = Document()
    Batch([AddNode("core.text", "t", {"value": "x"}),
           AddNode("core.save_text", "s", {"filename": name}), Connect("t", "text", "s", "text")])(doc)
    out = tmp_path / "out"
    with pytest.raises(GraphInvalid, match="node 's' .*param 'filename': output file name"):
        Evaluator(registry, output_dir=out).run(doc)
    # the same name arriving over a link is refused when the node runs
    Batch([AddNode("core.text", "n", {"value": name}), Connect("n", "text", "s", "filename")])(doc)
    result = Evaluator(registry, output_dir=out).run(doc)
    assert result.nodes["s"].status == "failed"
    assert "'filename'" in result.nodes["s"].error and "output file" in result.nodes["s"].error
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "b.txt").exists()


def test_symlinks_out_of_the_output_folder_are_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, out / "link")
    with pytest.raises(UnsafePath, match="outside the output folder"):
        safe_join(out, "link/file.txt")
    assert safe_join(out, "sub/dir/file.txt") == (out / "sub/dir/file.txt").resolve()


def test_seeded_nodes_are_reproducible(tmp_path, registry):
    doc = Document()
    AddNode("image.noise", "n", {"seed": 7, "width": 32, "height": 16})(doc)
    ev = Evaluator(registry, output_dir=tmp_path)
    a, b = ev.run(doc, ["n"]).value("n"), ev.run(doc, ["n"]).value("n")
    assert a == b and a.pixels.shape == (16, 32, 3)
    SetParam("n", "seed", 8)(doc)
    assert ev.run(doc, ["n"]).value("n") != a


def test_paths_are_relative_to_the_graph_folder(tmp_path, registry):
    (tmp_path / "words.txt").write_text("from a file", encoding="utf-8")
    doc = Document()
    AddNode("core.load_text", "l", {"path": "words.txt"})(doc)
    result = Evaluator(registry, output_dir=tmp_path / "out", base_dir=tmp_path).run(doc, ["l"])
    assert result.value("l") == "from a file"


def test_values_convert_along_compatible_links(tmp_path, registry):
    doc = Document()
    Batch([AddNode("core.int", "i", {"value": 3}), AddNode("core.math", "m", {"b": 0.5, "op": "multiply"}),
           Connect("i", "int", "m", "a")])(doc)
    assert Evaluator(registry, output_dir=tmp_path).run(doc, ["m"]).value("m") == 1.5
