"""Demo art in assets/: the committed PNGs are what assets/make_assets.py draws, and they are usable
(sizes, modes, distinct mouth shapes, a mouth anchor on plain skin, varied backgrounds)."""
from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path

import numpy as np
import PIL
import pytest
from PIL import Image

ASSETS = Path(__file__).resolve().parent.parent / "assets"
MIRA = ASSETS / "characters" / "mira"


@pytest.fixture(scope="module")
def art():
    spec = importlib.util.spec_from_file_location("make_assets", ASSETS / "make_assets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def drawn(art):
    """Every picture drawn once by the script (about two seconds in all)."""
    return {rel: fn() for rel, fn in art.outputs().items()}


@pytest.fixture(scope="module")
def info():
    return json.loads((MIRA / "character.json").read_text(encoding="utf-8"))


def _cells(sheet: Image.Image, cell, order):
    w, h = cell
    return {name: np.asarray(sheet.crop((i * w, 0, (i + 1) * w, h)), dtype=np.float64)
            for i, name in enumerate(order)}


def _premultiplied(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[..., :3] * a[..., 3:] / 255.0, a[..., 3:]], axis=-1)


def _luma(a: np.ndarray) -> np.ndarray:
    return a[..., :3] @ np.array([0.299, 0.587, 0.114])


# --------------------------------------------------------------------------------------------------
def test_committed_pngs_are_what_the_script_draws(art, drawn):
    for rel, img in drawn.items():
        with Image.open(ASSETS / rel) as f:
            committed = f.copy()
            software = f.text.get("Software", "")
        assert committed.mode == img.mode and committed.size == img.size, rel
        a = np.asarray(committed, dtype=np.int16)
        b = np.asarray(img, dtype=np.int16)
        if software == art.SOFTWARE_TAG + PIL.__version__:
            # same rasteriser as the one that wrote the file: the very same pixels
            assert np.array_equal(a, b), f"{rel} is stale: run `python assets/make_assets.py`"
        else:
            # another Pillow version may antialias edges a little differently, nothing more
            d = np.abs(a - b)
            assert d.mean() < 0.5 and (d > 32).mean() < 0.002, (
                f"{rel} differs from what make_assets.py draws: run `python assets/make_assets.py`")


def test_character_json_matches_the_script(art, info):
    assert info == art.character_info()
    assert info["name"] == "Mira" and isinstance(info["description"], str) and info["description"]
    assert info["mouth_order"] == ["rest", "A", "E", "O", "U", "M", "F", "L"]
    assert info["voice"] == {"variant": "f3", "pitch": 60, "rate": 165}
    assert len(info["mouth_anchor"]) == 2 and all(isinstance(v, int) for v in info["mouth_anchor"])


def test_sizes_modes_and_file_sizes(drawn, info):
    body = drawn["characters/mira/body.png"]
    assert body.mode == "RGBA" and body.size == (520, 700)
    alpha = np.asarray(body)[..., 3]
    assert alpha[0, 0] == alpha[0, -1] == 0, "the background around the character is transparent"
    assert 0.3 < (alpha > 0).mean() < 0.9
    assert (alpha[-1] == 255).any(), "the body reaches the bottom edge (it stands at the frame bottom)"

    sheet = drawn["characters/mira/mouths.png"]
    w, h = info["mouth_cell"]
    assert sheet.mode == "RGBA" and sheet.size == (w * 8, h)

    for name in ("studio", "park"):
        bg = drawn[f"backgrounds/{name}.png"]
        assert bg.mode == "RGB" and bg.size == (1280, 720)

    sizes = {rel: (ASSETS / rel).stat().st_size for rel in drawn}
    assert all(s < 500_000 for s in sizes.values()), sizes
    assert sum(sizes.values()) < 1_500_000


def test_mouth_cells_are_distinct_and_centred(drawn, info):
    cells = _cells(drawn["characters/mira/mouths.png"], info["mouth_cell"], info["mouth_order"])
    for name, c in cells.items():
        a = c[..., 3]
        assert a[0].max() == a[-1].max() == a[:, 0].max() == a[:, -1].max() == 0, f"{name} touches the cell edge"
        ys, xs = np.nonzero(a > 32)
        assert abs(xs.mean() - a.shape[1] / 2) < 4 and abs(ys.mean() - a.shape[0] / 2) < 8, name
    for (n1, c1), (n2, c2) in itertools.combinations(cells.items(), 2):
        diff = np.abs(_premultiplied(c1) - _premultiplied(c2)).mean()
        assert diff > 4.0, f"mouths {n1} and {n2} look alike ({diff:.2f})"

    def dark(c):  # opaque dark pixels: the inside of an open mouth
        return int(((c[..., 3] > 128) & (_luma(c) < 70)).sum())

    open_ = min(dark(cells["A"]), dark(cells["O"]))
    assert open_ > 200
    assert dark(cells["M"]) < 0.1 * open_ and dark(cells["rest"]) < 0.1 * open_
    assert dark(cells["E"]) > dark(cells["U"]) and dark(cells["A"]) > dark(cells["L"])


def test_mouth_anchor_is_on_plain_face_skin(drawn, info):
    body = np.asarray(drawn["characters/mira/body.png"], dtype=np.float64)
    x, y = info["mouth_anchor"]
    w, h = info["mouth_cell"]
    # the whole sprite cell pasted at the anchor lies on the opaque body
    assert body[y - h // 2:y + h // 2, x - w // 2:x + w // 2, 3].min() == 255
    # horizontally centred on the face, and between the eyes and the chin
    row = body[y, :, 3]
    xs = np.nonzero(row == 255)[0]
    assert xs.min() < x - 60 and xs.max() > x + 60
    # where the mouth goes the skin is plain (no mouth is drawn on the body)
    patch = body[y - 16:y + 16, x - 36:x + 36, :3]
    assert patch.std(axis=(0, 1)).max() < 3.0
    r, g, b = patch.mean(axis=(0, 1))
    assert r > g > b and r > 200, "skin tone"


def test_backgrounds_have_real_variety(drawn):
    means = []
    for name in ("studio", "park"):
        a = np.asarray(drawn[f"backgrounds/{name}.png"], dtype=np.float64)
        assert a.std() > 35, name
        assert a.reshape(-1, 3).std(axis=0).min() > 20, name
        # many distinct colours (gradients, shading), not a few flat fills
        q = (a[::4, ::4] // 8).astype(np.int64)
        assert len(np.unique(q[..., 0] * 1024 + q[..., 1] * 32 + q[..., 2])) > 300, name
        # where the character stands (lower centre) is no busier than the picture as a whole
        g = _luma(a)
        edges = np.abs(np.diff(g, axis=0))[:, :-1] + np.abs(np.diff(g, axis=1))[:-1]
        assert edges[420:, 440:840].mean() < 1.5 * edges.mean(), name
        means.append(a.mean(axis=(0, 1)))
    assert np.abs(means[0] - means[1]).max() > 20, "two different scenes"


def test_readme_documents_the_assets():
    text = (ASSETS / "README.md").read_text(encoding="utf-8")
    for word in ("make_assets.py", "mouths.png", "mouth_anchor", "GPL-3.0-or-later", "studio.png", "park.png"):
        assert word in text
