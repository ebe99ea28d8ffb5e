"""Baking a Look's colour part to a .cube LUT, and the Looks that ship with nodegraph."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from nodegraph import fileformat
from nodegraph.commands import AddNode, Connect
from nodegraph.evaluate import Evaluator
from nodegraph.graph import Document
from nodegraph.looks import LookLibrary, save, with_looks
from nodegraph.looks.make import Promote, make_look
from nodegraph.looks.render import apply_to_image
from nodegraph.registry import default_registry
from nodegraph.types.media import Image

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ["bleach-bypass", "comic-ink", "cyberpunk-night", "noir", "pastel-storybook", "teal-orange", "vhs",
           "vintage-film"]


def chain_look(ident="test/warm-fade"):
    """A Look of colour nodes with grain and a vignette in the middle (which a LUT cannot hold)."""
    doc = Document()
    AddNode("image.solid", id="src")(doc)
    steps = [("fade", "grade.levels", {"out_black": 0.05, "gamma": 1.15}),
             ("grain", "grade.grain", {"amount": 0.3, "seed": 5}),
             ("wheels", "grade.lift_gamma_gain", {"lift": 0.02, "gain_red": 1.05, "gamma_blue": 0.95}),
             ("vignette", "grade.vignette", {"amount": 0.4}),
             ("warm", "grade.white_balance", {"temperature": 7200.0, "tint": 3.0})]
    prev = "src"
    for nid, t, params in steps:
        AddNode(t, id=nid, params=params)(doc)
        Connect(prev, "image", nid, "image")(doc)
        prev = nid
    AddNode("image.save_png", id="out", params={"filename": "x.png"})(doc)
    Connect(prev, "image", "out", "image")(doc)
    return make_look(doc, [n for n, _, _ in steps], ident, "1.0.0", default_registry(),
                     promote=[Promote("fade", "out_black", name="fade", label="Fade")])


def test_bake_writes_a_cube_that_reproduces_the_looks_colour(tmp_path, monkeypatch):
    colour = pytest.importorskip("colour")
    looks = tmp_path / "looks"
    monkeypatch.setenv("NODEGRAPH_LOOKS_DIR", str(looks))
    look = chain_look()
    save(look, looks / look.file_name())
    p = subprocess.run([sys.executable, "-m", "nodegraph", "look", "bake", "test/warm-fade", "-o", "warm.cube"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert p.returncode == 0, p.stderr
    assert "left out (not per-pixel colour): grain (Film grain), vignette (Vignette)" in p.stdout
    lut = colour.read_LUT(str(tmp_path / "warm.cube"))  # an independent reader: Resolve's format
    assert lut.size == 33 and np.allclose(lut.domain, [[0, 0, 0], [1, 1, 1]])

    # random pictures through the LUT node, against the Look itself without grain and vignette
    rng = np.random.default_rng(1)
    pixels = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    PILImage.fromarray(pixels).save(tmp_path / "random.png")
    doc = Document()
    AddNode("image.load", id="img", params={"path": "random.png"})(doc)
    AddNode("grade.lut", id="lut", params={"path": "warm.cube"})(doc)
    Connect("img", "image", "lut", "image")(doc)
    reg = with_looks(default_registry(), library=LookLibrary([("user", looks)]))
    r = Evaluator(reg, output_dir=tmp_path / "out", base_dir=tmp_path, workers=1).run(doc, ["lut"])
    assert r.ok, {n: x.error for n, x in r.nodes.items()}
    baked = r.value("lut").pixels.astype(int)
    reference, skipped = apply_to_image(look, reg, Image(pixels), colour_only=True)
    assert skipped == ["grain (Film grain)", "vignette (Vignette)"]
    err = np.abs(baked - reference.pixels.astype(int)).max(axis=2)
    # 33 points per axis: within 2/255 but where a channel is near black, on the steep toe of the
    # sRGB curve (a few pixels of random colours, up to 4/255); 65 points: within 2/255 everywhere
    assert (err <= 2).mean() >= 0.995 and err.max() <= 4
    p = subprocess.run([sys.executable, "-m", "nodegraph", "look", "bake", "test/warm-fade", "-o", "warm.cube",
                        "--size", "65"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    r = Evaluator(reg, output_dir=tmp_path / "out", base_dir=tmp_path, workers=1).run(doc, ["lut"])
    assert np.abs(r.value("lut").pixels.astype(int) - reference.pixels.astype(int)).max() <= 2
    # a promoted param's value is baked in
    p = subprocess.run([sys.executable, "-m", "nodegraph", "look", "bake", "test/warm-fade", "-o", "faded.cube",
                        "--set", "fade=0.2", "--size", "17"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    faded = colour.read_LUT(str(tmp_path / "faded.cube"))
    assert faded.size == 17 and faded.table[0, 0, 0].min() > lut.table[0, 0, 0].max() + 0.1


def test_the_shipped_looks_and_the_gallery_template(tmp_path, monkeypatch):
    monkeypatch.setenv("NODEGRAPH_LOOKS_DIR", str(tmp_path / "none"))
    lib = LookLibrary.for_graph(ROOT / "graphs" / "looks_gallery.json")
    shipped = [l for l in lib.all() if l.origin.startswith("package")]
    assert sorted(l.name for l in shipped) == sorted(SHIPPED + [f"{n}-video" for n in SHIPPED])
    for look in shipped:
        assert look.thumbnail.startswith(b"\x89PNG") and look.description and look.params, look.id
    p = subprocess.run([sys.executable, "-m", "nodegraph", "run", str(ROOT / "graphs" / "looks_gallery.json"), "-q",
                        "-o", "out"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    sheet = np.asarray(PILImage.open(tmp_path / "out" / "looks_gallery.png").convert("RGB")).astype(int)
    assert sheet.shape[0] > 600 and sheet.shape[1] > 900  # 9 cells in 3 columns, labelled
    cells = [sheet[8 + 226 * (i // 3): 180 + 226 * (i // 3), 8 + 328 * (i % 3): 320 + 328 * (i % 3)] for i in range(9)]
    grey = cells[1]  # noir: no colour left
    assert np.abs(grey - grey.mean(axis=2, keepdims=True)).max() < 12
    for i, c in enumerate(cells[1:], 1):  # every Look changes the picture
        assert np.abs(c - cells[0]).mean() > 4, i


def test_bake_names_a_look_that_cannot_be_baked(tmp_path, monkeypatch):
    monkeypatch.setenv("NODEGRAPH_LOOKS_DIR", str(tmp_path))
    doc = fileformat.load(ROOT / "graphs" / "demo.json")
    look = make_look(doc, ["draw_title"], "test/title", "1.0.0", default_registry())
    save(look, tmp_path / look.file_name())
    p = subprocess.run([sys.executable, "-m", "nodegraph", "look", "bake", "test/title", "-o", "t.cube"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert p.returncode == 1 and "test/title 1.0.0 needs text besides the picture" in p.stderr
    assert not (tmp_path / "t.cube").exists()


def test_a_video_look_grades_every_frame_like_its_picture_twin(tmp_path, monkeypatch):
    monkeypatch.setenv("NODEGRAPH_LOOKS_DIR", str(tmp_path / "none"))
    reg = with_looks(default_registry())
    doc = Document()
    AddNode("image.load", id="img", params={"path": str(ROOT / "assets" / "looks" / "sample.png")})(doc)
    AddNode("video.still", id="clip", params={"duration": 0.5, "fps": 8})(doc)
    Connect("img", "image", "clip", "image")(doc)
    AddNode("look:nodegraph/vintage-film-video@1.0.0", id="graded", version="1.0.0")(doc)
    Connect("clip", "video", "graded", "video")(doc)
    AddNode("look:nodegraph/vintage-film@1.0.0", id="still", version="1.0.0")(doc)
    Connect("img", "image", "still", "image")(doc)
    ev = Evaluator(reg, output_dir=tmp_path / "out", base_dir=tmp_path, workers=1)
    r = ev.run(doc, ["graded", "still"])
    assert r.ok, {n: x.error for n, x in r.nodes.items() if x.error}
    video, picture = r.value("graded"), r.value("still")
    assert video.n_frames == 4
    pic = picture.pixels[:, :, :3].astype(int)
    f0, f3 = (video.frame(i)[:, :, :3].astype(int) for i in (0, 3))
    for f in (f0, f3):  # the same grade as the picture; only the film grain differs (zero-mean noise)
        assert abs(f.mean() - pic.mean()) < 1.0 and np.abs(f - pic).mean() < 6
    assert np.abs(f0 - f3).mean() > 1  # the grain moves from frame to frame, as on film
    assert {n.split("/", 1)[1] for n in r.looks.members["graded"]} == {"fade", "warm", "sat", "vignette", "grain"}


@pytest.mark.parametrize("name", ["vintage-film", "pastel-storybook"])
def test_a_shipped_looks_33_point_lut_is_within_2_of_the_look(name, tmp_path, monkeypatch):
    colour = pytest.importorskip("colour")
    from nodegraph import write_cube
    from nodegraph.looks.render import bake

    monkeypatch.setenv("NODEGRAPH_LOOKS_DIR", str(tmp_path / "none"))
    reg = with_looks(default_registry())
    look = reg.library.latest(f"nodegraph/{name}")
    table, skipped = bake(look, reg)
    assert skipped  # grain, vignette or glow: named, left out
    write_cube(tmp_path / "x.cube", table, look.title)
    lut = colour.read_LUT(str(tmp_path / "x.cube"))
    rng = np.random.default_rng(7)
    img = Image((rng.random((64, 64, 3)) * 255).astype(np.uint8))
    ref, _ = apply_to_image(look, reg, img, colour_only=True)
    got = lut.apply(img.pixels / 255.0, interpolator=colour.algebra.table_interpolation_tetrahedral)
    assert np.abs(np.clip(np.round(got * 255), 0, 255) - ref.pixels).max() <= 2
