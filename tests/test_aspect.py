"""timeline.render keeps a picture's shape: fit (letterbox, the default), fill (crop) or stretch."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from nodegraph.cache import Cache
from nodegraph.commands import AddNode, Batch, Connect
from nodegraph.evaluate import Evaluator
from nodegraph.graph import Document

W, H = 320, 180  # a 16:9 timeline


def picture(w: int, h: int) -> np.ndarray:
    """Grey, a red band over the top tenth, and a blue square (a fifth of the width) in the middle."""
    img = np.full((h, w, 3), 128, np.uint8)
    img[: h // 10] = (255, 0, 0)
    s = w // 5
    img[(h - s) // 2:(h + s) // 2, (w - s) // 2:(w + s) // 2] = (0, 0, 255)
    return img


def blue_box(frame: np.ndarray) -> tuple[int, int]:
    """(width, height) of the blue square in a frame."""
    blue = (frame[:, :, 2] > 200) & (frame[:, :, 0] < 60) & (frame[:, :, 1] < 60)
    ys, xs = np.nonzero(blue)
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def black_columns(frame: np.ndarray) -> int:
    """How many columns at the left edge are black (the pillarbox)."""
    dark = (frame.max(axis=(0, 2)) < 8)
    return int(np.argmin(dark)) if not dark.all() else frame.shape[1]


def render(tmp_path, registry, w: int, h: int, fit: str | None) -> np.ndarray:
    PILImage.fromarray(picture(w, h)).save(tmp_path / "pic.png")
    doc = Document()
    params = {} if fit is None else {"fit": fit}
    Batch([AddNode("image.load", "pic", {"path": "pic.png"}),
           AddNode("timeline.shot", "shot", {"duration": 0.5}),
           AddNode("timeline.timeline", "scene", {"width": W, "height": H, "fps": 8}),
           AddNode("timeline.render", "render", params),
           Connect("pic", "image", "shot", "video"), Connect("shot", "clip", "scene", "shots", True),
           Connect("scene", "timeline", "render", "timeline")])(doc)
    ev = Evaluator(registry, output_dir=tmp_path / "out", base_dir=tmp_path, cache=Cache(tmp_path / "cache"))
    try:
        video = ev.run(doc, ["render"]).value("render")
        assert (video.width, video.height, video.n_frames) == (W, H, 4)  # the frame size never changes
        frame = video.rgb_frame(0)
        assert frame.shape == (H, W, 3)
        return frame
    finally:
        ev.close()


@pytest.mark.parametrize("w,h", [(400, 300), (180, 320)])  # 4:3 and 9:16
def test_fit_is_the_default_and_letterboxes(tmp_path, registry, w, h):
    frame = render(tmp_path, registry, w, h, None)
    inner = round(w * H / h)  # the picture's width once its height fills the frame
    bars = (W - inner) // 2
    assert abs(black_columns(frame) - bars) <= 1 and bars > 20
    assert frame[:, -max(1, bars - 2):].max() < 8  # both sides
    bw, bh = blue_box(frame)
    assert abs(bw - bh) <= 1  # a square stays square: no stretch
    assert abs(bh - round((w // 5) * H / h)) <= 1
    assert (frame[2, W // 2] == (255, 0, 0)).all() or frame[2, W // 2, 0] > 240  # the whole picture: its top band shows


@pytest.mark.parametrize("w,h", [(400, 300), (180, 320)])
def test_fill_crops_and_stretch_distorts(tmp_path, registry, w, h):
    filled = render(tmp_path, registry, w, h, "fill")
    assert black_columns(filled) == 0 and filled.min(axis=(0, 1)).max() > 0
    bw, bh = blue_box(filled)
    assert abs(bw - bh) <= 1 and abs(bw - round((w // 5) * W / w)) <= 1  # scaled to cover the width
    assert filled[2, W // 2, 0] < 200  # the top band was cropped away (it is within the overflow)
    stretched = render(tmp_path, registry, w, h, "stretch")
    assert black_columns(stretched) == 0
    bw, bh = blue_box(stretched)
    assert abs(bw - round((w // 5) * W / w)) <= 1 and abs(bh - round((w // 5) * H / h)) <= 1 and bw > bh + 10


def test_same_shape_pictures_are_only_resized(tmp_path, registry):
    frame = render(tmp_path, registry, 640, 360, "fit")
    assert black_columns(frame) == 0 and frame[:, 0].max(axis=1).min() > 100  # no bar on any row


def test_an_unknown_fit_is_refused_by_name(tmp_path, registry):
    from nodes._fit import fit_frame

    with pytest.raises(ValueError, match="fit 'zoom' is not one of"):
        fit_frame(np.zeros((10, 20, 3), np.uint8), 16, 16, "zoom")
