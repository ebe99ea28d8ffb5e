"""MP4 segments cut at shot boundaries: after an edit that moves a shot in time, its encoded
segments are reused; the file stays a valid, seekable MP4 with its sound in sync, and its frames
at the cuts are the rendered frames. Also the compositor's fast blend gives exactly the pixels of
the plain one, and layers draw only into frames made for them."""
from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
import soundfile as sf
from PIL import Image as PILImage

from nodegraph import Video
from nodegraph.cache import Cache
from nodegraph.commands import AddNode, Batch, Connect, SetParam
from nodegraph.evaluate import Evaluator
from nodegraph.graph import Document
from nodes import media
from nodes.compose import Prepared, paste, paste_prepared

W, H, FPS = 192, 108, 24
RATE = 48000
BEEP_AT = 0.5  # seconds into shot 3: its beep starts and a white square appears


def _picture(seed: int) -> np.ndarray:
    """A picture with gradients and coloured blocks, different for each seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H * 2, 0:W * 2]
    px = np.stack([x * 255 // (W * 2), y * 255 // (H * 2), np.full_like(x, 60 * seed)], axis=2).astype(np.uint8)
    for _ in range(8):
        x0, y0 = rng.integers(0, W * 2 - 40), rng.integers(0, H * 2 - 30)
        px[y0:y0 + 30, x0:x0 + 40] = rng.integers(0, 200, 3)
    return px


@pytest.fixture(scope="module")
def scene(tmp_path_factory, registry):
    """Three shots (pan and zoom over pictures) with a crossfade into shot 2 and a cut into shot 3,
    each with its own sound; shot 3 shows a white square from BEEP_AT on, when its beep starts."""
    tmp = tmp_path_factory.mktemp("segments")
    for k in (1, 2, 3):
        PILImage.fromarray(_picture(k)).save(tmp / f"pic{k}.png")
        t = np.arange(int(1.0 * RATE)) / RATE
        tone = 0.2 * np.sin(2 * np.pi * (300 + 100 * k) * t)
        if k == 3:  # silence, then a loud beep from BEEP_AT on
            tone = np.where(t >= BEEP_AT, 0.8 * np.sin(2 * np.pi * 1000 * t), 0.0)
        sf.write(tmp / f"sound{k}.wav", tone.astype(np.float32), RATE)
    PILImage.fromarray(np.full((20, 20, 3), 255, np.uint8)).save(tmp / "square.png")
    doc = Document()
    nodes, links = [], []
    for k, duration in ((1, 1.0), (2, 1.5), (3, 1.0)):
        nodes += [AddNode("image.load", f"pic{k}", {"path": f"pic{k}.png"}),
                  AddNode("audio.load", f"sound{k}", {"path": f"sound{k}.wav"}),
                  AddNode("compose.motion", f"move{k}", {"duration": duration, "fps": FPS, "zoom_from": 1.0,
                                                         "zoom_to": 1.2, "pan_x": 0.3, "width": W, "height": H}),
                  AddNode("timeline.shot", f"shot{k}", {"transition": 0.25 if k == 2 else 0.0})]
        links += [(f"pic{k}", "image", f"move{k}", "video"), (f"sound{k}", "audio", f"shot{k}", "audio"),
                  (f"shot{k}", "clip", "scene", "shots", True)]
    nodes += [AddNode("image.load", "square", {"path": "square.png"}),
              AddNode("compose.layer", "flash", {"x": 0.1, "y": 0.1, "start": BEEP_AT}),
              AddNode("timeline.timeline", "scene", {"width": W, "height": H, "fps": FPS}),
              AddNode("timeline.render", "render", {}),
              AddNode("video.save_mp4", "save", {"filename": "scene.mp4"})]
    links += [("move1", "video", "shot1", "video"), ("move2", "video", "shot2", "video"),
              ("move3", "video", "flash", "base"), ("square", "image", "flash", "layer"),
              ("flash", "video", "shot3", "video"), ("scene", "timeline", "render", "timeline"),
              ("render", "video", "save", "video")]
    Batch(nodes + [Connect(*link) for link in links])(doc)
    ev = Evaluator(registry, output_dir=tmp / "out", base_dir=tmp, cache=Cache(tmp / "cache"))
    return {"doc": doc, "ev": ev, "movie": tmp / "out" / "scene.mp4"}


@pytest.fixture
def encoded(monkeypatch):
    """The frame ranges the MP4 writer encodes (the others come from the cache)."""
    calls: list[tuple[int, int]] = []
    real = media._encode_segment

    def counting(video, start, stop, settings):
        calls.append((start, stop))
        return real(video, start, stop, settings)

    monkeypatch.setattr(media, "_encode_segment", counting)
    return calls


def _decode(path) -> dict:
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        frames, times, keys = [], [], []
        for packet in c.demux(vs):
            if packet.size:
                keys.append((round(packet.pts * packet.time_base * FPS), packet.is_keyframe))
            for f in packet.decode():
                frames.append(f.to_ndarray(format="rgb24"))
                times.append(f.time)
        info = {"duration": c.duration / 1e6, "video_duration": float(vs.duration * vs.time_base),
                "fps": vs.average_rate, "codec": vs.codec_context.name}
    with av.open(str(path)) as c:
        sound, start = [], None
        for f in c.decode(audio=0):
            start = f.time if start is None else start
            sound.append(f.to_ndarray())
        info["audio_start"] = start
        info["sound"] = np.concatenate(sound, axis=1).mean(axis=0)
        info["audio_rate"] = c.streams.audio[0].rate
    info.update(frames=frames, times=times, keyframes={pts for pts, key in keys if key})
    return info


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-9))


def _check_movie(movie, video: Video) -> dict:
    """What a viewer relies on: every frame there once at its time, the right length, a key frame
    at each cut, the frames around each cut as rendered, the sound as long as the pictures."""
    d = _decode(movie)
    n = video.n_frames
    assert d["codec"] == "h264" and d["fps"] == FPS
    assert len(d["frames"]) == n
    assert d["times"] == pytest.approx([i / FPS for i in range(n)], abs=1e-6)
    assert d["video_duration"] == pytest.approx(n / FPS, abs=1e-6)
    assert d["duration"] == pytest.approx(n / FPS, abs=0.03)
    assert len(d["sound"]) / d["audio_rate"] == pytest.approx(n / FPS, abs=0.03)
    assert set(video.cuts) <= d["keyframes"]
    for cut in video.cuts:
        for i in (cut - 1, cut, cut + 1):
            _same_frame(d["frames"], video, i)
    return d


def _same_frame(decoded: list[np.ndarray], video: Video, i: int) -> None:
    """Decoded frame ``i`` is rendered frame ``i`` within the codec's loss (4:2:0 colour on sharp
    edges), and nearer to it than to the frames next to it (the camera moves a little every frame)."""
    near = {j: _psnr(decoded[i], video.rgb_frame(j)) for j in (i - 1, i, i + 1) if 0 <= j < video.n_frames}
    assert near[i] > 28 and max(near, key=near.get) == i, (i, near)


def _flash_and_beep(d: dict) -> tuple[int, float]:
    """The first frame showing the white square, and when the beep starts (seconds)."""
    corner = [f[8:12, 16:20].mean() for f in d["frames"]]
    flash = next(i for i, v in enumerate(corner) if v > 235)
    loud = np.flatnonzero(np.abs(d["sound"]) > 0.3)
    return flash, d["audio_start"] + loud[0] / d["audio_rate"]


def test_moving_a_shot_reuses_its_segments_and_keeps_the_movie_right(scene, encoded):
    doc, ev = scene["doc"], scene["ev"]
    first = ev.run(doc)
    assert first.ok, {n: r.error for n, r in first.nodes.items() if r.error}
    video = first.value("render")
    # shot 1 0..24, crossfade 18..24, shot 2 to 54, shot 3 (a cut) 54..78
    assert video.n_frames == 78 and video.cuts == (18, 24, 54)
    before = list(encoded)
    settings, bounds = media.segment_plan(video)
    assert sorted(before) == bounds == [(0, 12), (12, 18), (18, 24), (24, 36), (36, 48), (48, 54), (54, 66), (66, 78)]
    d = _check_movie(scene["movie"], video)
    flash, beep = _flash_and_beep(d)
    assert flash == 54 + round(BEEP_AT * FPS)
    assert beep == pytest.approx(flash / FPS, abs=0.5 / FPS)

    # shot 2 a little longer (39 frames, not a whole number of segments): shot 3 moves 3 frames
    encoded.clear()
    SetParam("move2", "duration", 1.625)(doc)
    second = ev.run(doc)
    assert second.ok
    video = second.value("render")
    assert video.n_frames == 81 and video.cuts == (18, 24, 57)
    # shot 2's pictures changed (its move is spread over more frames): its segments and the
    # crossfade's are encoded again; shot 1's and shot 3's come from the cache
    assert sorted(encoded) == [(18, 24), (24, 36), (36, 48), (48, 57)]
    assert media.segment_plan(video)[1] == [(0, 12), (12, 18), (18, 24), (24, 36), (36, 48), (48, 57),
                                            (57, 69), (69, 81)]
    d = _check_movie(scene["movie"], video)
    flash, beep = _flash_and_beep(d)
    assert flash == 57 + round(BEEP_AT * FPS)  # moved with its shot
    assert beep == pytest.approx(flash / FPS, abs=0.5 / FPS)  # and its sound with it
    for i in range(57, 81):  # shot 3's frames, from reused segments, are the rendered ones
        _same_frame(d["frames"], video, i)

    # seeking to shot 3 lands on its first frame (a key frame), decoded as rendered
    with av.open(str(scene["movie"])) as c:
        vs = c.streams.video[0]
        c.seek(round(57 / FPS / vs.time_base), stream=vs)
        f = next(c.decode(vs))
        assert f.pts * vs.time_base == Fraction(57, FPS)
        _same_frame([None] * 57 + [f.to_ndarray(format="rgb24")], video, 57)


def test_segments_are_cut_at_the_cuts():
    frame = np.zeros((16, 16, 3), np.uint8)
    v = Video(lambda i: frame, 50, 16, 16, 24, cuts=(5, 30, 30, 0, 50, 77))
    assert v.cuts == (5, 30)  # sorted, inside the video, once each
    settings, bounds = media.segment_plan(v)
    assert settings["segment"] == 12
    assert bounds == [(0, 5), (5, 17), (17, 29), (29, 30), (30, 42), (42, 50)]
    plain = Video(lambda i: frame, 50, 16, 16, 24)
    assert media.segment_plan(plain)[1] == [(0, 12), (12, 24), (24, 36), (36, 48), (48, 50)]
    assert v.digest() == plain.digest()  # a hint for encoders, not a different video
    assert v.with_audio(None).cuts == (5, 30)


@pytest.mark.parametrize("x0, y0", [(5, 7), (-30, -20), (60, 50), (200, 10)])
@pytest.mark.parametrize("shape", ["speckled", "solid"])
def test_the_fast_blend_gives_the_plain_blends_pixels(x0, y0, shape):
    rng = np.random.default_rng(3)
    layer = rng.integers(0, 256, (60, 50, 4), dtype=np.uint8)
    if shape == "speckled":  # see-through everywhere: blended whole
        layer[:, :, 3] = rng.choice([0, 0, 255, 255, 1, 128, 254], (60, 50))
    else:  # a solid disc with a soft edge (a character, a logo): solid pixels copied, the edge blended
        y, x = np.mgrid[0:60, 0:50]
        layer[:, :, 3] = np.clip((22 - np.hypot(y - 30, x - 25)) * 90, 0, 255).astype(np.uint8)
    layer[:8], layer[:, :5], layer[-3:] = 0, 0, 0  # a transparent margin, cropped away
    base = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    prep = Prepared(layer)
    assert (prep.solid is not None) == (shape == "solid")
    seen = layer[:, :, 3] > 0
    assert (prep.y0, prep.x0) == (np.flatnonzero(seen.any(axis=1))[0], np.flatnonzero(seen.any(axis=0))[0])
    assert prep.shape == (60, 50)
    fast, plain = base.copy(), base.copy()
    paste_prepared(fast, prep, x0, y0)
    a = layer[:, :, 3:4].astype(np.uint16)  # what the blend computes, in plain integer arithmetic
    premult = (layer[:, :, :3] * a + 127) // 255
    ys, xs = slice(max(0, y0), min(90, y0 + 60)), slice(max(0, x0), min(120, x0 + 50))
    ly, lx = slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0)
    if ys.start < ys.stop and xs.start < xs.stop:
        d = plain[ys, xs].astype(np.uint16)
        plain[ys, xs] = ((d * (255 - a[ly, lx]) + 127) // 255 + premult[ly, lx]).astype(np.uint8)
    np.testing.assert_array_equal(fast, plain)
    # other blends go through the cropped layer at its place: same result as the whole layer
    whole, cropped = base.copy(), base.copy()
    paste(whole, _uncropped_rgba(prep), x0, y0, 0.5, "screen")
    paste(cropped, prep.rgba(), x0 + prep.x0, y0 + prep.y0, 0.5, "screen")
    np.testing.assert_array_equal(whole, cropped)


def _uncropped_rgba(prep: Prepared) -> np.ndarray:
    out = np.zeros((*prep.shape, 4), np.uint8)
    part = prep.rgba()
    out[prep.y0:prep.y0 + part.shape[0], prep.x0:prep.x0 + part.shape[1]] = part
    return out


def test_layers_draw_only_into_frames_made_for_them():
    from nodegraph import Image
    from nodes.compose import layer, motion, text_overlay

    shared = np.full((40, 60, 3), 50, np.uint8)  # handed out again on every call, like a decoder's last frame
    held = Video(lambda i: shared, 4, 60, 40, 24)
    dot = Video.from_image(Image(np.full((10, 10, 4), 255, np.uint8)))
    captioned = text_overlay(layer(held, dot, y=0.75), "Hi", size=12)  # the dot at rows 25..35, the text above
    frames = [captioned.rgb_frame(i) for i in range(4)]
    assert (shared == 50).all()  # drawn over a copy
    assert (frames[0][25:35, 25:35] == 255).all() and frames[0][:20].max() > 50  # the dot, the text
    # over a pan and zoom, the layers draw into the frame it makes for them: same pictures
    pan = motion(Video.from_image(Image(_picture(1))), duration=0.5, fps=24, width=60, height=40)
    over = text_overlay(layer(pan, dot, y=0.75), "Hi", size=12)
    for i in (0, 5, 11):
        expected = np.array(pan.rgb_frame(i))
        paste(expected, dot.frame(0), 25, 25)
        got = over.rgb_frame(i)
        np.testing.assert_array_equal(got[25:], expected[25:])  # the dot over the pan, below the text
        assert not np.array_equal(got[:25], expected[:25])  # the text
        np.testing.assert_array_equal(over.rgb_frame(i), got)
