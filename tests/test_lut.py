""".cube LUTs: grade.lut matches colour-science's tetrahedral interpolation, write_cube round-trips
through colour.read_LUT, and a bad file is refused naming the file and the line."""
from __future__ import annotations

import numpy as np
import pytest

from nodegraph import Image, Video, write_cube
from nodegraph.commands import AddNode, Batch, Connect
from nodegraph.evaluate import Evaluator
from nodegraph.graph import Document
from nodes import _lut
from nodes.grade import lut, lut_video

colour = pytest.importorskip("colour")


def a_look(n: int) -> np.ndarray:
    """A (n, n, n, 3) table that bends every channel and mixes them (so the interpolation matters)."""
    t = _lut.identity_table(n).astype(np.float64)
    r, g, b = t[..., 0], t[..., 1], t[..., 2]
    out = np.stack([r ** 0.8 * 0.9 + 0.1 * b, 0.2 * r + 0.7 * g ** 1.3 + 0.05, b ** 1.1 * 0.8 + 0.15 * np.sin(3 * g)],
                   axis=-1)
    return np.clip(out, 0, 1).astype(np.float32)


def reference(path, pixels: np.ndarray) -> np.ndarray:
    """colour-science's own reading and tetrahedral interpolation, as 0..255 floats."""
    table = colour.read_LUT(str(path))
    return table.apply(pixels.astype(np.float64) / 255.0,
                       interpolator=colour.algebra.table_interpolation_tetrahedral) * 255.0


@pytest.mark.parametrize("n", [17, 33, 65])
def test_lut_matches_colour_science_tetrahedral_on_random_images(tmp_path, n):
    path = tmp_path / f"look{n}.cube"
    write_cube(str(path), a_look(n), f"look {n}")
    rng = np.random.default_rng(n)
    px = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    px[:8] = px[:8] // 32 * 32  # lattice points and ties between channels too
    px[8:12] = px[8:12, :, :1]  # greys
    out = lut(Image(px), str(path)).pixels.astype(np.float64)
    ref = reference(path, px)
    assert np.abs(out - ref).max() <= 1.0  # within 1/255
    assert np.abs(out - px).mean() > 10  # the look really changed the picture
    half = lut(Image(px), str(path), strength=0.5).pixels.astype(np.float64)
    assert np.abs(half - (px + (ref - px) * 0.5)).max() <= 1.0


def test_lut_keeps_alpha_and_grades_video_frames_the_same(tmp_path):
    path = tmp_path / "look.cube"
    write_cube(str(path), a_look(17))
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (20, 30, 4), dtype=np.uint8)
    out = lut(Image(rgba), str(path)).pixels
    assert out.shape == (20, 30, 4) and (out[:, :, 3] == rgba[:, :, 3]).all()
    assert np.abs(out[:, :, :3].astype(float) - reference(path, rgba[:, :, :3])).max() <= 1.0
    frames = [rng.integers(0, 256, (20, 30, 3), dtype=np.uint8) for _ in range(3)]
    video = lut_video(Video.from_frames(frames, 24), str(path))
    for i, f in enumerate(frames):
        assert (video.frame(i) == lut(Image(f), str(path)).pixels).all()


def test_a_long_video_uses_the_table_of_every_colour_with_the_same_result(tmp_path):
    path = tmp_path / "long.cube"
    write_cube(str(path), a_look(17))
    rng = np.random.default_rng(4)
    frames = [rng.integers(0, 256, (8, 12, 3), dtype=np.uint8) for _ in range(_lut.FULL_FRAMES)]
    key = (_lut.load_cube(str(path)).digest, 0.7)
    assert not _lut.has_full_table(key)
    expect = [lut(Image(f), str(path), strength=0.7).pixels for f in frames]  # interpolated, pixel by pixel
    assert not _lut.has_full_table(key)  # an image alone does not build the table
    video = lut_video(Video.from_frames(frames, 24), str(path), strength=0.7)
    for i in (0, len(frames) - 1):
        assert (video.frame(i) == expect[i]).all()
    assert _lut.has_full_table(key)


def test_write_cube_round_trips_through_colour_read_lut(tmp_path):
    table = a_look(33)
    path = tmp_path / "baked.cube"
    write_cube(str(path), table, 'studio "noir" 1.0')
    back = colour.read_LUT(str(path))
    assert isinstance(back, colour.LUT3D) and back.size == 33
    assert back.name == "studio 'noir' 1.0"
    assert np.abs(back.table - table).max() < 1e-6  # indexed [r, g, b] both ways: red changes fastest in the file
    lines = path.read_text().splitlines()
    assert lines[1] == "LUT_3D_SIZE 33"
    assert [float(v) for v in lines[5].split()] == pytest.approx(table[1, 0, 0], abs=1e-6)  # second row: red steps
    ours = _lut.read_cube(str(path))
    assert ours.size == 33 and np.abs(ours.stages[0].table - table).max() < 1e-6
    with pytest.raises(ValueError, match=r"shape \(n, n, n, 3\)"):
        write_cube(str(tmp_path / "bad.cube"), np.zeros((4, 4, 3)))


def test_a_resolve_cube_with_a_1d_shaper_applies_both(tmp_path):
    path = tmp_path / "shaper.cube"
    shaper = np.linspace(0, 1, 5) ** 2  # the 1D part squares the input
    ident = _lut.identity_table(2)
    rows = ident.transpose(2, 1, 0, 3).reshape(-1, 3)
    path.write_text("LUT_1D_SIZE 5\nLUT_3D_SIZE 2\n" + "".join(f"{v} {v} {v}\n" for v in shaper)
                    + "".join(f"{r} {g} {b}\n" for r, g, b in rows))
    px = np.array([[[0, 128, 255], [64, 64, 64]]], np.uint8)
    out = lut(Image(px), str(path)).pixels.astype(float)
    x = px / 255.0
    expect = np.interp(x, np.linspace(0, 1, 5), shaper) * 255  # piecewise-linear shaper, identity cube
    assert np.abs(out - expect).max() <= 1.0


@pytest.mark.parametrize("text, line, message", [
    ("LUT_3D_SIZE 2\n0 0 0\n1 0 0\n0 1 0\n1 1 0\n0 0 1\n1 0 1\n0 1 1\n", 8, "needs 8 table rows, found 7"),
    ("LUT_3D_SIZE 2\n0 0 0\n1 0 0\n0 1 0\n1 one 0\n0 0 1\n1 0 1\n0 1 1\n1 1 1\n", 5, "'one' is not a number"),
    ("LUT_3D_SIZE 2\n0 0 0\n1 0\n", 3, "needs 3 numbers"),
    ("# a comment\nLUT_3D_SIZE 2\nLUT_4D_SIZE 9\n", 3, "unknown keyword 'LUT_4D_SIZE'"),
    ("TITLE \"x\"\nLUT_3D_SIZE 900\n", 2, "LUT_3D_SIZE must be one whole number from 2 to 129"),
    ("LUT_3D_SIZE 2\n0 0 0\n1 0 0\n0 1 0\n1 nan 0\n0 0 1\n1 0 1\n0 1 1\n1 1 1\n", 5, "'nan' is not a number"),
])
def test_a_bad_cube_is_refused_naming_the_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "broken.cube"
    path.write_text(text)
    with pytest.raises(ValueError) as e:
        lut(Image(np.zeros((2, 2, 3), np.uint8)), str(path))
    assert f"LUT file broken.cube, line {line}: " in str(e.value) and message in str(e.value)


def test_a_file_that_is_no_cube_at_all_says_so(tmp_path):
    path = tmp_path / "notes.cube"
    path.write_text("# only a comment\n\n")
    with pytest.raises(ValueError, match=r"LUT file notes.cube: has no LUT_3D_SIZE"):
        lut(Image(np.zeros((2, 2, 3), np.uint8)), str(path))
    path.write_bytes(b"LUT_3D_SIZE 2\n\xff\xfe\x00")
    with pytest.raises(ValueError, match=r"notes.cube, line 2: is not text"):
        lut(Image(np.zeros((2, 2, 3), np.uint8)), str(path))


def test_in_a_graph_the_path_is_read_relative_to_the_graph_and_errors_name_the_node(tmp_path, registry):
    write_cube(str(tmp_path / "warm.cube"), a_look(17))
    (tmp_path / "bad.cube").write_text("LUT_3D_SIZE 2\n0 0 0\n")
    doc = Document()
    Batch([AddNode("image.solid", "plate", {"width": 16, "height": 8, "red": 90, "green": 120, "blue": 200}),
           AddNode("grade.lut", "look", {"path": "warm.cube"}),
           AddNode("grade.lut", "broken", {"path": "bad.cube"}),
           Connect("plate", "image", "look", "image"), Connect("plate", "image", "broken", "image")])(doc)
    ev = Evaluator(registry, output_dir=tmp_path / "out", base_dir=tmp_path)
    try:
        result = ev.run(doc, ["look", "broken"])
        px = result.value("look").pixels
        expect = reference(tmp_path / "warm.cube", np.array([[[90, 120, 200]]], np.uint8))[0, 0]
        assert np.abs(px[0, 0] - expect).max() <= 1.0
        err = result.nodes["broken"].error
        assert "bad.cube, line 2" in err and "needs 8 table rows, found 1" in err
        Batch([AddNode("grade.lut_video", "gone", {"path": "gone.cube"}), Connect("plate", "image", "gone", "video")])(doc)
        result = ev.run(doc, ["gone"])
        assert result.nodes["gone"].status == "failed"
        assert f"LUT file not found: {tmp_path / 'gone.cube'}" in result.nodes["gone"].error
    finally:
        ev.close()


def test_a_lut_outside_the_folders_the_graph_may_read_is_refused_naming_the_param(tmp_path, registry):
    import shutil
    import tempfile

    from nodegraph.errors import GraphInvalid

    elsewhere = tempfile.mkdtemp(prefix="not-allowed-")  # outside the graph's folder and the allowed ones
    try:
        write_cube(f"{elsewhere}/secret.cube", a_look(17))
        doc = Document()
        Batch([AddNode("image.solid", "plate", {"width": 4, "height": 4}),
               AddNode("grade.lut", "look", {"path": f"{elsewhere}/secret.cube"}),
               Connect("plate", "image", "look", "image")])(doc)
        ev = Evaluator(registry, output_dir=tmp_path / "out", base_dir=tmp_path)
        try:
            with pytest.raises(GraphInvalid) as e:
                ev.run(doc)
        finally:
            ev.close()
        assert "node 'look' (grade.lut) param 'path'" in str(e.value) and "outside the folders" in str(e.value)
    finally:
        shutil.rmtree(elsewhere)
