"""Preview pictures: contact sheets, waveforms, video frame grids."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from nodegraph import Audio, Image, Video
from nodegraph.commands import AddNode, Batch, Connect
from nodegraph.evaluate import Evaluator
from nodegraph.graph import Document
from nodes.preview import contact_sheet, frame_indices, timecode, video_frames, waveform

BG = (30, 30, 30)


def _solid(w: int, h: int, rgb) -> Image:
    return Image(np.full((h, w, 3), rgb, np.uint8))


def _cells(px: np.ndarray, colour) -> int:
    return int(np.all(px == np.array(colour, np.uint8), axis=2).sum())


def test_contact_sheet_through_the_evaluator(tmp_path, registry):
    doc = Document()
    colours = [(200, 0, 0), (0, 200, 0), (0, 0, 200), (200, 200, 0), (0, 200, 200)]
    cmds = [AddNode("preview.contact_sheet", "sheet",
                    {"columns": 2, "cell_width": 100, "labels": "red\ngreen\nblue\nyellow\ncyan"})]
    for k, (r, g, b) in enumerate(colours):
        cmds += [AddNode("image.solid", f"c{k}", {"width": 160, "height": 90, "red": r, "green": g, "blue": b}),
                 Connect(f"c{k}", "image", "sheet", "images", append=True)]
    Batch(cmds)(doc)
    result = Evaluator(registry, output_dir=tmp_path).run(doc, ["sheet"])
    assert result.ok, result.report()
    sheet = result.value("sheet")
    px = sheet.pixels
    # 2 columns x 3 rows of 100 x 56 cells, each with a label band under it
    pad, cell_h = 2, round(100 * 90 / 160)
    assert sheet.width == 2 * 100 + 3 * pad
    rows_h = (sheet.height - 4 * pad) / 3
    assert rows_h == int(rows_h) and rows_h > cell_h
    # each colour fills one whole cell, in order, left to right then down
    for k, colour in enumerate(colours):
        assert _cells(px, colour) == 100 * cell_h
        r, c = divmod(k, 2)
        y, x = pad + r * (int(rows_h) + pad) + cell_h // 2, pad + c * (100 + pad) + 50
        assert tuple(px[y, x]) == colour
    # label text: light pixels on the dark band under each of the five cells, none under the empty sixth
    for k in range(6):
        r, c = divmod(k, 2)
        band = px[pad + r * (int(rows_h) + pad) + cell_h:pad + (r + 1) * (int(rows_h) + pad) - pad,
                  pad + c * (100 + pad):pad + c * (100 + pad) + 100]
        bright = int((band.max(axis=2) > 150).sum())
        assert (bright > 10) == (k < 5), k


def test_contact_sheet_fits_odd_shapes_and_transparency():
    wide, tall = _solid(200, 100, (250, 0, 0)), Image(np.full((100, 50, 4), (0, 0, 250, 0), np.uint8))
    sheet = contact_sheet((wide, wide, tall), (), columns=8, cell_width=64, background="#102030")
    assert sheet.width == 3 * 64 + 4 * 2 and sheet.height == 32 + 2 * 2  # 3 columns (only 3 images), no labels
    assert _cells(sheet.pixels, (250, 0, 0)) == 2 * 64 * 32
    assert _cells(sheet.pixels, (0, 0, 250)) == 0  # fully transparent: only the background shows
    assert _cells(sheet.pixels, (16, 32, 48)) > 0


def test_contact_sheet_errors():
    with pytest.raises(ValueError, match="no images"):
        contact_sheet((), ())
    with pytest.raises(ValueError, match="#rrggbb"):
        contact_sheet((_solid(8, 8, (0, 0, 0)),), (), background="dark")


def _tone(seconds: float, amplitude: float, rate: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _coloured_rows(px: np.ndarray, x0: int, x1: int, colour=(0x4F, 0x8C, 0xFF)) -> float:
    """How many rows per column (on average) the wave covers between x0 and x1."""
    wave = np.any(np.abs(px[:, x0:x1].astype(int) - colour) < 8, axis=2) | (px[:, x0:x1].min(axis=2) > 150)
    return wave.sum(axis=0).mean()


def test_waveform_loud_is_taller_than_quiet():
    mono = Audio(np.concatenate([_tone(1.0, 0.9), _tone(1.0, 0.1)]), 8000)
    img = waveform(mono, width=400, height=200)
    assert (img.width, img.height, img.channels) == (400, 200, 3)
    loud, quiet = _coloured_rows(img.pixels, 20, 180), _coloured_rows(img.pixels, 220, 380)
    assert loud > 120 and quiet < 30 and loud > 5 * quiet
    # a tick each second (the middle one at 1 s), the time ruler, and the centre line through silence
    silent = waveform(Audio(np.zeros(8000 * 3, np.float32), 8000), width=300, height=100)
    col = silent.pixels[:, 100].astype(int)
    assert col[:3].max() > 60 and col[-3:].max() > 60  # tick marks top and bottom at 1 s
    assert silent.pixels[2, 50].max() < 40 and silent.pixels[-2, 50].max() < 40  # none between seconds
    assert silent.pixels[35:50, 50].max() > 40  # the centre line
    ruler = silent.pixels[-16:, 100:140]
    assert int((ruler.max(axis=2) > 60).sum()) > 20  # the "1s" label


def test_waveform_stereo_lanes_are_stacked():
    stereo = Audio(np.stack([_tone(2.0, 0.9), _tone(2.0, 0.05)], axis=1), 8000)
    px = waveform(stereo, width=256, height=200).pixels
    top = np.any(px[:100, 10:240].max(axis=2) > 150, axis=1).sum()
    bottom = np.any(px[100:, 10:240].max(axis=2) > 150, axis=1).sum()
    assert top > 60 and bottom < 12
    with pytest.raises(ValueError, match="colour"):
        waveform(stereo, colour="blue")


def test_video_frames_picks_evenly_spaced_frames():
    colours = [(i * 20, 255 - i * 20, (i * 50) % 256) for i in range(12)]
    video = Video.from_frames([np.full((18, 32, 3), c, np.uint8) for c in colours], 4)
    assert frame_indices(12, 4) == [0, 4, 7, 11]
    assert frame_indices(3, 8) == [0, 1, 2] and frame_indices(12, 1) == [0]
    sheet = video_frames(video, count=4, columns=2, cell_width=64)
    px = sheet.pixels
    for k, i in enumerate([0, 4, 7, 11]):
        assert _cells(px, colours[i]) == 64 * 36, i
        r, c = divmod(k, 2)
        assert tuple(px[2 + r * (px.shape[0] - 2) // 2 + 18, 2 + c * 66 + 32]) == colours[i]
    for i in (1, 2, 3, 5, 6, 8, 9, 10):
        assert _cells(px, colours[i]) == 0
    assert timecode(11, Fraction(4)) == "00:00:02:03"
    assert timecode(30 * 61, Fraction(30000, 1001)) == "00:01:01:00"
    with pytest.raises(ValueError, match="no frames"):
        video_frames(Video(lambda i: None, 0, 8, 8, 25))
