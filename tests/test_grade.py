"""Grading nodes on real pixels: what a colourist relies on from each operation, video frames
graded lazily and once, errors that name the param, and the pointwise flag."""
from __future__ import annotations

import numpy as np
import pytest

from nodegraph import Image, Video
from nodegraph.node import DeclarationError, node
from nodes import _colour as col, grade


def img(px) -> Image:
    return Image(np.asarray(px, np.uint8))


def smooth_picture(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """Mid-range colours that vary smoothly and in detail, far from 0 and 255 (nothing clips)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([90 + 40 * np.sin(xx / 9), 120 + 30 * np.cos(yy / 7), 110 + 35 * np.sin((xx + yy) / 11)], -1)
    return np.clip(base + rng.normal(0, 12, (h, w, 3)), 40, 215).astype(np.uint8)


def linear_mean(px: np.ndarray) -> float:
    return float(col.LINEAR[px[:, :, :3]].mean())


# -- levels, curves, lift/gamma/gain ---------------------------------------------------------------
def test_levels_maps_in_black_to_black_and_in_white_to_white():
    ramp = np.arange(256, dtype=np.uint8)[None, :, None].repeat(3, axis=2)
    out = grade.levels(img(ramp), in_black=0.2, in_white=0.8).pixels[0, :, 0].astype(int)
    assert (out[:52] == 0).all() and (out[205:] == 255).all()  # 0.2 * 255 = 51, 0.8 * 255 = 204
    assert (np.diff(out) >= 0).all() and out[128] == pytest.approx(128, abs=2)  # straight line between
    brighter = grade.levels(img(ramp), gamma=2.0).pixels[0, :, 0].astype(int)
    assert brighter[0] == 0 and brighter[255] == 255 and brighter[64] > 110  # (64/255) ** 0.5 = 0.50
    squeezed = grade.levels(img(ramp), out_black=0.1, out_white=0.9).pixels[0, :, 0]
    assert squeezed[0] == round(0.1 * 255) and squeezed[255] == round(0.9 * 255)
    with pytest.raises(ValueError, match=r"in_white \(0.3\) must be above in_black \(0.5\)"):
        grade.levels(img(ramp), in_black=0.5, in_white=0.3)


def test_curves_s_curve_adds_contrast_without_overshoot_and_channels_are_separate():
    ramp = np.arange(256, dtype=np.uint8)[None, :, None].repeat(3, axis=2)
    same = grade.curves(img(ramp)).pixels
    assert (same == ramp).all()
    s = grade.curves(img(ramp), master="0,0 0.25,0.2 0.75,0.85 1,1").pixels[0, :, 0].astype(int)
    assert (np.diff(s) >= 0).all()  # monotone: no overshoot, no reversal
    assert s[64] < 64 - 5 and s[191] > 191 + 5 and s[0] == 0 and s[255] == 255
    assert s[round(0.25 * 255)] == pytest.approx(0.2 * 255, abs=1)  # passes through its points
    red = grade.curves(img(ramp), red="0,0 0.5,0.7 1,1").pixels[0]
    assert (red[:, 1] == ramp[0, :, 1]).all() and (red[:, 2] == ramp[0, :, 2]).all()
    assert red[128, 0] == pytest.approx(0.7 * 255, abs=2)


@pytest.mark.parametrize("param, text, message", [
    ("red", "0,0 0.5;0.6 1,1", "curve 'red': point 2 '0.5' is not 'x,y'"),
    ("master", "0,0 0.5,x 1,1", "curve 'master': point 2 '0.5,x' is not 'x,y'"),
    ("green", "0,0 1.5,1", "curve 'green': point 2 '1.5,1' is outside 0..1"),
    ("blue", "0,0 0.6,0.5 0.4,0.7 1,1", "curve 'blue': point 3 '0.4,0.7': x must increase"),
    ("master", "0.5,0.5", "curve 'master': needs at least two points"),
])
def test_a_bad_curve_is_refused_naming_the_param_and_the_point(param, text, message):
    with pytest.raises(ValueError) as e:
        grade.curves(img(np.zeros((2, 2, 3))), **{param: text})
    assert message in str(e.value)


def test_a_bad_curve_in_a_graph_fails_that_node_naming_the_param(tmp_path, registry):
    from nodegraph.commands import AddNode, Batch, Connect
    from nodegraph.evaluate import Evaluator
    from nodegraph.graph import Document

    doc = Document()
    Batch([AddNode("image.solid", "plate", {"width": 8, "height": 8}),
           AddNode("grade.curves", "tone", {"red": "0,0 half,1"}),
           Connect("plate", "image", "tone", "image")])(doc)
    ev = Evaluator(registry, output_dir=tmp_path / "out", base_dir=tmp_path)
    try:
        result = ev.run(doc, ["tone"])
        assert result.nodes["tone"].status == "failed"
        assert "curve 'red': point 2 'half,1' is not 'x,y'" in result.nodes["tone"].error
    finally:
        ev.close()


def test_lift_raises_blacks_gain_lowers_whites_and_a_channel_tints():
    ramp = np.arange(256, dtype=np.uint8)[None, :, None].repeat(3, axis=2)
    lifted = grade.lift_gamma_gain(img(ramp), lift=0.1).pixels[0, :, 0]
    assert lifted[0] == round(0.1 * 255) and lifted[255] == 255  # white stays
    gained = grade.lift_gamma_gain(img(ramp), gain=0.8).pixels[0, :, 0]
    assert gained[0] == 0 and gained[255] == round(0.8 * 255)  # black stays
    mids = grade.lift_gamma_gain(img(ramp), gamma=1.5).pixels[0, :, 0]
    assert mids[0] == 0 and mids[255] == 255 and mids[128] > 150
    blue_shadows = grade.lift_gamma_gain(img(ramp), lift_blue=0.08).pixels[0]
    assert blue_shadows[10, 2] > blue_shadows[10, 0] + 15 and (blue_shadows[:, 0] == ramp[0, :, 0]).all()


# -- hue / saturation / vibrance / white balance ---------------------------------------------------
def test_saturation_zero_gives_grey_of_the_same_luminance():
    px = smooth_picture()
    px[0, :4] = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 200, 0)]
    out = grade.hue_saturation(img(px), saturation=0.0).pixels.astype(int)
    assert (out[:, :, 0] == out[:, :, 1]).all() and (out[:, :, 1] == out[:, :, 2]).all()
    y = col.LINEAR[px] @ col.LUMA  # the input's luminance, in linear light
    expect = np.round(col.srgb_encode(y) * 255)
    assert np.abs(out[:, :, 0] - expect).max() <= 1
    assert out[0, 0, 0] == pytest.approx(127, abs=1)  # pure red: Y 0.2126 -> sRGB 0.498, not the 54 of encoded maths
    assert out[0, 1, 0] == pytest.approx(220, abs=1) and out[0, 2, 0] == pytest.approx(76, abs=1)


def test_hue_turns_keeping_luminance_and_vibrance_spares_vivid_colours():
    red = np.array([[[190, 110, 100]]], np.uint8)  # a muted red: turned, it stays within sRGB
    turned = grade.hue_saturation(img(red), hue=120.0).pixels[0, 0].astype(int)
    assert turned[1] > turned[0] + 20 and turned[1] > turned[2] + 20  # red turned to green
    lum = lambda p: float(col.LINEAR[p] @ col.LUMA)  # noqa: E731
    assert abs(lum(turned.astype(np.uint8)) - lum(red[0, 0])) < 0.01
    assert (grade.hue_saturation(img(red), hue=0.0).pixels == red).all()
    dull, vivid = np.array([[[140, 120, 110]]], np.uint8), np.array([[[230, 30, 20]]], np.uint8)

    def spread(p):
        return int(p.max()) - int(p.min())

    d2 = spread(grade.hue_saturation(img(dull), vibrance=0.8).pixels) - spread(dull)
    v2 = spread(grade.hue_saturation(img(vivid), vibrance=0.8).pixels) - spread(vivid)
    assert d2 > 5 and v2 < d2  # the dull colour gained more


def test_white_balance_warms_cools_and_tints():
    grey = np.full((4, 4, 3), 128, np.uint8)
    assert (grade.white_balance(img(grey)).pixels == grey).all()  # 6500 K, tint 0: unchanged
    warm = grade.white_balance(img(grey), temperature=9000.0).pixels[0, 0].astype(int)
    assert warm[0] > 128 + 5 and warm[2] < 128 - 5  # bluish light corrected: red up, blue down
    cool = grade.white_balance(img(grey), temperature=4000.0).pixels[0, 0].astype(int)
    assert cool[2] > 128 + 5 and cool[0] < 128 - 5
    magenta = grade.white_balance(img(grey), tint=50.0).pixels[0, 0].astype(int)
    assert magenta[1] < magenta[0] - 5 and magenta[1] < magenta[2] - 5


# -- grain, vignette, blur, sharpen, glow ---------------------------------------------------------------
def test_grain_is_seeded_repeatable_zero_mean_and_moves_in_video():
    px = np.full((120, 160, 3), 128, np.uint8)
    a = grade.grain(img(px), amount=0.5, seed=7).pixels
    assert (a == grade.grain(img(px), amount=0.5, seed=7).pixels).all()
    b = grade.grain(img(px), amount=0.5, seed=8).pixels
    assert (a != b).mean() > 0.5
    diff = a.astype(float) - 128
    assert abs(diff.mean()) < 0.3 and 3 < diff.std() < 20  # zero on average, clearly visible
    mono = grade.grain(img(px), amount=0.5, chroma=0.0, seed=1).pixels
    assert (mono[:, :, 0] == mono[:, :, 1]).all()
    coarse = grade.grain(img(px), amount=0.5, size=4.0, seed=1).pixels.astype(float)
    assert abs(coarse.std() - diff.std()) < 0.35 * diff.std()  # the same strength at another grain size
    assert np.corrcoef(coarse[:, :-1, 0].ravel(), coarse[:, 1:, 0].ravel())[0, 1] > 0.5  # bigger grains
    video = grade.grain_video(Video.from_frames([px, px], 24), amount=0.5, seed=7)
    assert (video.frame(0) == a).all() and (video.frame(1) != a).mean() > 0.5
    assert video.key(0) != video.key(1)


def test_vignette_darkens_the_corners_not_the_centre():
    px = np.full((90, 160, 3), 180, np.uint8)
    out = grade.vignette(img(px), amount=0.5).pixels.astype(int)
    assert (out[45, 80] == 180).all() and (out[40:50, 70:90] == 180).all()
    assert out[0, 0, 0] < 150 and out[-1, -1, 0] < 150 and out[0, -1, 0] == out[-1, 0, 0]
    assert out[45, 0, 0] > out[0, 0, 0]  # the edge's middle less than the corner


def test_blur_and_sharpen_keep_the_mean():
    px = smooth_picture(seed=3)
    blurred = grade.blur(img(px), radius=5.0).pixels
    assert blurred.astype(float).std() < px.astype(float).std() * 0.8
    assert abs(linear_mean(blurred) - linear_mean(px)) < 0.003 * linear_mean(px) + 1e-4  # light is conserved
    assert abs(blurred.astype(float).mean() - px.astype(float).mean()) < 2.0
    sharp = grade.sharpen(img(px), amount=1.0, radius=1.5).pixels
    assert sharp.astype(float).std() > px.astype(float).std() * 1.05
    assert abs(sharp.astype(float).mean() - px.astype(float).mean()) < 0.3


def test_blur_in_linear_light_keeps_a_highlight_bright():
    px = np.zeros((41, 41, 3), np.uint8)
    px[18:23, 18:23] = 255
    ours = grade.blur(img(px), radius=4.0).pixels.astype(float)
    import cv2

    naive = cv2.GaussianBlur(px.astype(np.float32), (0, 0), 4.0, borderType=cv2.BORDER_REFLECT_101)
    assert ours[20, 27, 0] > naive[20, 27, 0] + 20  # light spreads as light: the halo is brighter than in sRGB maths


def test_glow_blooms_around_highlights_only():
    px = np.full((60, 60, 3), 40, np.uint8)
    px[28:32, 28:32] = 255
    out = grade.glow(img(px), threshold=0.7, radius=6.0, intensity=1.0).pixels.astype(int)
    assert out[30, 38, 0] > 40 + 10  # near the highlight: brighter
    assert abs(out[2, 2, 0] - 40) <= 1  # far away: untouched
    dark = np.full((20, 20, 3), 120, np.uint8)
    assert (grade.glow(img(dark), threshold=0.7).pixels == dark).all()  # nothing above the threshold


# -- chroma key ---------------------------------------------------------------------------------------
SCREEN = "#1ec828"  # (30, 200, 40): the screen's colour, picked off the picture as a user does


def green_screen(x: int = 25) -> np.ndarray:
    """A green screen, a red-brown subject, and a ring of subject lit by green spill around it."""
    px = np.zeros((60, 80, 3), np.uint8)
    px[:] = (30, 200, 40)
    px[20:40, x:x + 30] = (150, 170, 110)  # edge: subject with green spill
    px[23:37, x + 3:x + 27] = (160, 90, 70)    # the subject
    return px


def test_chroma_key_makes_the_screen_transparent_and_suppresses_spill():
    px = green_screen()
    out = grade.chroma_key(img(px), key_color=SCREEN)
    rgba, matte = out["image"].pixels, out["matte"].pixels
    assert rgba.shape == (60, 80, 4) and matte.shape == (60, 80, 1)
    assert (rgba[:10, :10, 3] == 0).all()  # the screen: transparent
    assert (rgba[30, 40, 3] == 255) and (rgba[21, 26, 3] == 255)  # subject and edge: solid
    assert (matte[:, :, 0] == rgba[:, :, 3]).all()
    edge = rgba[21, 26, :3].astype(int)
    assert edge[1] <= max(edge[0], edge[2]) + 2 and px[21, 26, 1] > px[21, 26, 0] + 15  # the green cast is gone
    assert abs(float(edge @ [0.2126, 0.7152, 0.0722]) - float(px[21, 26] @ [0.2126, 0.7152, 0.0722])) < 3  # luma kept
    subject = rgba[30, 40, :3].astype(int)
    assert np.abs(subject - px[30, 40]).max() <= 2  # a colour with no green in it is left alone
    kept = grade.chroma_key(img(px), key_color=SCREEN, spill=0.0)["image"].pixels
    assert (kept[21, 26, :3] == px[21, 26]).all()


def test_chroma_key_refuses_a_grey_key_naming_the_param():
    with pytest.raises(ValueError, match=r"key_color '#808080' is almost grey"):
        grade.chroma_key(img(green_screen()), key_color="#808080")
    with pytest.raises(ValueError, match=r"key_color colour 'green' is not #rrggbb"):
        grade.chroma_key(img(green_screen()), key_color="green")


def test_chroma_key_video_gives_an_rgba_video_and_its_matte():
    frames = [green_screen(), green_screen(x=40)]
    out = grade.chroma_key_video(Video.from_frames(frames, 24), key_color=SCREEN)
    keyed, matte = out["video"], out["matte"]
    assert keyed.alpha and not matte.alpha and keyed.n_frames == matte.n_frames == 2
    for i, f in enumerate(frames):
        still = grade.chroma_key(img(f), key_color=SCREEN)["image"].pixels
        assert (keyed.frame(i) == still).all()
        assert (matte.frame(i) == np.repeat(still[:, :, 3:], 3, axis=2)).all()
    assert keyed.key(0) != keyed.key(1) and matte.key(0) != keyed.key(0)


# -- every node: alpha kept, identity at the defaults ------------------------------------------------
COLOUR_NODES = ["curves", "levels", "lift_gamma_gain", "hue_saturation", "white_balance"]


@pytest.mark.parametrize("name", COLOUR_NODES + ["grain", "vignette", "blur", "sharpen", "glow"])
def test_every_node_keeps_alpha_and_grey_becomes_rgb(name):
    rng = np.random.default_rng(5)
    rgba = rng.integers(0, 256, (24, 32, 4), dtype=np.uint8)
    out = getattr(grade, name)(img(rgba)).pixels
    assert out.shape == (24, 32, 4) and (out[:, :, 3] == rgba[:, :, 3]).all()
    grey = getattr(grade, name)(img(rgba[:, :, :1])).pixels
    assert grey.shape == (24, 32, 3)


@pytest.mark.parametrize("name", COLOUR_NODES)
def test_a_colour_node_at_its_defaults_changes_nothing(name):
    px = np.random.default_rng(2).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    assert (getattr(grade, name)(img(px)).pixels == px).all()


# -- video: lazy, per-frame keys, each frame graded once ---------------------------------------------------
class CountingSource:
    """A video source that counts how often each frame is decoded."""

    def __init__(self, frames: list[np.ndarray]):
        self.frames, self.reads = frames, [0] * len(frames)
        self.keys = [bytes([i]) * 32 for i in range(len(frames))]

    def video(self) -> Video:
        def frame(i: int) -> np.ndarray:
            self.reads[i] += 1
            return self.frames[i]
        return Video(frame, len(self.frames), self.frames[0].shape[1], self.frames[0].shape[0], 24,
                     frame_key=self.keys.__getitem__)


def test_a_graded_video_is_lazy_and_grades_each_frame_once():
    grade.FRAMES.clear()
    frames = [np.full((36, 64, 3), 20 * i + 30, np.uint8) for i in range(5)]
    src = CountingSource(frames)
    video = grade.levels_video(src.video(), in_black=0.1, gamma=1.3)
    keys = [video.key(i) for i in range(5)]
    assert src.reads == [0] * 5 and len(set(keys)) == 5  # keys known without grading anything
    f3 = video.frame(3)
    assert (f3 == grade.levels(img(frames[3]), in_black=0.1, gamma=1.3).pixels).all()
    assert (video.frame(3) == f3).all() and src.reads == [0, 0, 0, 1, 0]  # asked again: reused
    again = grade.levels_video(src.video(), in_black=0.1, gamma=1.3)  # a second run, same params
    assert [again.key(i) for i in range(5)] == keys
    assert (again.frame(3) == f3).all() and src.reads == [0, 0, 0, 1, 0]
    other = grade.levels_video(src.video(), in_black=0.2, gamma=1.3)  # another param: another grade
    assert other.key(3) != keys[3]
    other.frame(3)
    assert src.reads == [0, 0, 0, 2, 0]


def test_only_the_changed_frame_of_a_graded_video_is_graded_again():
    grade.FRAMES.clear()
    frames = [np.full((36, 64, 3), 40 + 10 * i, np.uint8) for i in range(4)]
    first = CountingSource(frames)
    a = grade.white_balance_video(first.video(), temperature=8000.0)
    for i in range(4):
        a.frame(i)
    edited = CountingSource([*frames[:2], np.full((36, 64, 3), 200, np.uint8), frames[3]])
    edited.keys[2] = b"edited".ljust(32, b"-")
    b = grade.white_balance_video(edited.video(), temperature=8000.0)
    for i in range(4):
        b.frame(i)
    assert edited.reads == [0, 0, 1, 0]  # the other frames' grades were reused by key
    assert [a.key(i) == b.key(i) for i in range(4)] == [True, True, False, True]


def test_graded_video_keeps_sound_size_rate_and_cuts():
    from nodegraph import Audio

    frames = [np.full((8, 12, 3), 100, np.uint8)] * 3
    src = Video.from_frames(frames, 25, audio=Audio(np.zeros(2000, np.float32), 16000))
    src = Video(src.frame, 3, 12, 8, 25, src.audio, frame_key=src.key, cuts=[1])
    out = grade.vignette_video(src)
    assert (out.width, out.height, out.n_frames, out.fps, out.cuts) == (12, 8, 3, 25, (1,))
    assert out.audio is src.audio


def test_video_nodes_in_a_graph_take_an_image_as_a_one_frame_video(tmp_path, registry):
    from nodegraph.commands import AddNode, Batch, Connect
    from nodegraph.evaluate import Evaluator
    from nodegraph.graph import Document

    doc = Document()
    Batch([AddNode("image.solid", "plate", {"width": 16, "height": 8, "red": 200, "green": 100, "blue": 50}),
           AddNode("grade.hue_saturation_video", "mono", {"saturation": 0.0}),
           Connect("plate", "image", "mono", "video")])(doc)
    ev = Evaluator(registry, output_dir=tmp_path / "out", base_dir=tmp_path)
    try:
        video = ev.run(doc, ["mono"]).value("mono")
        assert video.n_frames == 1
        f = video.frame(0)
        assert (f[:, :, 0] == f[:, :, 2]).all() and f[0, 0, 0] == grade.hue_saturation(
            img(np.full((8, 16, 3), (200, 100, 50))), saturation=0.0).pixels[0, 0, 0]
    finally:
        ev.close()


# -- the pointwise flag, baking, describe -------------------------------------------------------------------------
def test_exactly_the_per_pixel_colour_nodes_are_pointwise(registry):
    specs = {k: v for k, v in registry.specs.items() if k.startswith("grade.")}
    pointwise = sorted(k for k, s in specs.items() if s.pointwise)
    base = ["curves", "hue_saturation", "levels", "lift_gamma_gain", "lut", "white_balance"]
    assert pointwise == sorted([f"grade.{b}" for b in base] + [f"grade.{b}_video" for b in base])
    assert len(specs) == 24 and specs["grade.grain"].determinism == "seeded"
    assert specs["grade.lut"].describe()["pointwise"] is True and specs["grade.blur"].describe()["pointwise"] is False
    assert registry.specs["image.solid"].pointwise is False


def test_pointwise_must_be_a_bool():
    def f(x: int = 1) -> int:
        return x

    with pytest.raises(DeclarationError, match="pointwise must be True or False"):
        node("t.a", pointwise="yes")(f)


def test_pixel_op_is_what_the_node_does_for_baking():
    px = np.random.default_rng(9).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    cases = [("grade.levels", {"in_black": 0.1, "gamma": 1.4}), ("grade.curves_video", {"green": "0,0 0.5,0.6 1,1"}),
             ("grade.hue_saturation", {"saturation": 0.5, "hue": 20.0}),
             ("grade.hue_saturation_video", {"vibrance": 0.4}), ("grade.white_balance", {"temperature": 5000.0}),
             ("grade.lift_gamma_gain", {"lift": 0.05, "gain_red": 1.1})]
    for type_id, params in cases:
        op = grade.pixel_op(type_id, params)
        node_fn = getattr(grade, type_id.removeprefix("grade.").removesuffix("_video"))
        via_node = node_fn(img(px), **params).pixels.astype(float)
        via_op = op.display(px / 255.0) * 255
        assert np.abs(via_node - via_op).max() <= 1.0, type_id
    with pytest.raises(ValueError, match="grade.blur is not a per-pixel colour node"):
        grade.pixel_op("grade.blur", {})


def test_describe_reads_well_for_an_image_and_a_video_node():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "nodegraph", "describe", "grade.lut"], capture_output=True, text=True,
                         env={**__import__("os").environ, "COLUMNS": "100"})
    assert out.returncode == 0, out.stderr
    text = out.stdout
    flat = " ".join(text.split())
    assert "per-pixel colour (can be baked into a 3D LUT)" in flat and "re-runs when its files change" in flat
    assert "path      path, required; .cube" in text and "strength  number = 1.0; 0.0 to 1.0" in text
    video = subprocess.run([sys.executable, "-m", "nodegraph", "describe", "grade.grain_video"], capture_output=True,
                           text=True).stdout
    video = " ".join(video.split())
    assert "Every frame of the video is graded when" in video and "video video, required" in video
    assert "same seed, same result" in video and "per-pixel" not in video and "image:" not in video


def test_a_graded_video_in_a_graph_is_encoded_once_and_regraded_only_when_its_params_change(tmp_path, registry,
                                                                                              monkeypatch):
    from nodegraph.cache import Cache
    from nodegraph.commands import AddNode, Batch, Connect, SetParam
    from nodegraph.evaluate import Evaluator
    from nodegraph.graph import Document
    from nodes import media

    graded, encoded = [], []
    real_apply, real_encode = col.Op.apply_u8, media._encode_segment
    monkeypatch.setattr(col.Op, "apply_u8", lambda self, rgb: graded.append(1) or real_apply(self, rgb))
    monkeypatch.setattr(media, "_encode_segment", lambda v, a, b, s: encoded.append((a, b)) or real_encode(v, a, b, s))
    grade.FRAMES.clear()
    doc = Document()
    Batch([AddNode("image.gradient", "bg", {"width": 64, "height": 36}),
           AddNode("compose.motion", "move", {"duration": 1.0, "fps": 12}),
           AddNode("grade.levels_video", "levels", {"in_black": 0.1}),
           AddNode("video.save_mp4", "save", {"filename": "graded.mp4"}),
           Connect("bg", "image", "move", "video"), Connect("move", "video", "levels", "video"),
           Connect("levels", "video", "save", "video")])(doc)

    def run() -> None:
        ev = Evaluator(registry, output_dir=tmp_path / "out", base_dir=tmp_path, cache=Cache(tmp_path / "cache"))
        try:
            assert ev.run(doc).ok
        finally:
            ev.close()

    run()
    assert len(graded) == 12 and sorted(encoded) == [(0, 6), (6, 12)]  # each frame graded once
    graded.clear(), encoded.clear()
    run()  # a second run: nothing graded, nothing encoded
    assert graded == [] and encoded == []
    SetParam("levels", "in_black", 0.2)(doc)
    run()
    assert len(graded) == 12 and sorted(encoded) == [(0, 6), (6, 12)]
    assert (tmp_path / "out" / "graded.mp4").stat().st_size > 1000
