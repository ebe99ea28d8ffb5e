"""The talking-character demo, end to end: decode what it writes and check what a viewer relies on.
Also the bad inputs of the media nodes, and re-opening a graph from a file nodegraph made."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from nodegraph.cache import Cache
from nodegraph.commands import AddNode, Batch, Connect, SetParam
from nodegraph.evaluate import Evaluator
from nodegraph.fileformat import load
from nodegraph.graph import Document

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "graphs" / "talking_character.json"


@pytest.fixture(scope="module")
def demo(tmp_path_factory, registry):
    tmp = tmp_path_factory.mktemp("demo")
    doc = load(DEMO)
    ev = Evaluator(registry, output_dir=tmp / "out", base_dir=DEMO.parent, cache=Cache(tmp / "cache"),
                   graph_id=str(DEMO))
    result = ev.run(doc)
    assert result.ok, {n: r.error for n, r in result.nodes.items() if r.error}
    return {"tmp": tmp, "doc": doc, "ev": ev, "result": result, "movie": tmp / "out" / "talking_character.mp4"}


@pytest.fixture(scope="module")
def decoded(demo):
    """Per-frame measurements of the movie (not the frames themselves: they would not fit in RAM
    comfortably, which is the point of streaming), a few whole frames, and the sound."""
    doc, result = demo["doc"], demo["result"]
    layer = doc.params("stage_1")
    char = result.value("mira")
    body = char.references[0]
    s = layer["scale"]
    w, h = round(body.width * s), round(body.height * s)
    x0, y0 = round(640 - w / 2), 720 - h
    mx, my = x0 + char.anchor[0] * body.width * s, y0 + char.anchor[1] * body.height * s
    mw, mh = 120 * s * 0.8, 80 * s * 0.8
    box = (int(mx - mw / 2), int(my - mh / 2), int(mx + mw / 2), int(my + mh / 2))
    dark, keep, stats = [], {}, {}
    with av.open(str(demo["movie"])) as c:
        vs = c.streams.video[0]
        stats.update(width=vs.codec_context.width, height=vs.codec_context.height, fps=vs.average_rate,
                     duration=float(c.duration / 1e6), streams=[s.type for s in c.streams],
                     audio_rate=c.streams.audio[0].rate, channels=c.streams.audio[0].channels)
        for i, f in enumerate(c.decode(video=0)):
            px = f.to_ndarray(format="rgb24")
            region = px[box[1]:box[3], box[0]:box[2]].astype(np.int32)
            dark.append(int((region.sum(axis=2) < 3 * 90).sum()))
            if i in (10, 40, 60, 300):
                keep[i] = px
        stats["frames"] = i + 1
    with av.open(str(demo["movie"])) as c:
        sound = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1).T
    return {"dark": np.array(dark), "frames": keep, "stats": stats, "sound": sound, "box": box}


def test_movie_format(decoded):
    st = decoded["stats"]
    assert (st["width"], st["height"], st["fps"]) == (1280, 720, 24)
    assert st["duration"] >= 10.0 and st["frames"] == 384  # 5.6 + 6.0 + 5.6 s minus two 0.6 s crossfades
    assert st["streams"] == ["video", "audio"] and st["audio_rate"] == 48000 and st["channels"] == 2


def _line_spans(demo):
    tl = demo["result"].value("scene")
    pad = demo["doc"].params("talk_1")["pad_before"]
    spans = []
    for k, start in enumerate(tl.starts(), 1):
        speech = demo["result"].value(f"speak_{k}")
        spans.append((start + pad, start + pad + speech.audio.duration))
    return spans


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def _band(x, rate, lo, hi):
    spec = np.abs(np.fft.rfft(x.mean(axis=1) * np.hanning(len(x))))
    f = np.fft.rfftfreq(len(x), 1 / rate)
    return float(spec[(f >= lo) & (f < hi)].sum() / len(x))


def test_speech_is_heard_where_the_lines_are_and_music_under_and_between(demo, decoded):
    snd, rate = decoded["sound"], 48000
    spans = _line_spans(demo)
    cut = lambda a, b: snd[int(a * rate):int(b * rate)]
    for k, (a, b) in enumerate(spans, 1):
        line, before = cut(a + 0.1, b - 0.1), cut(a - 0.8, a - 0.1)
        assert _rms(line) > 1.3 * _rms(before), f"line {k} is not louder than the music around it"
        assert _rms(before) > 0.01, f"no music before line {k}"  # music between the lines
        # the music is still there under the voice: its bass, where the voice has none, is ducked, not gone
        assert _band(line, rate, 30, 110) > 0.02 * _band(before, rate, 30, 110) > 0
        # and the voice is the Speak node's: the decoded sound correlates with it at its place
        voice = demo["result"].value(f"speak_{k}").audio
        from nodes.audiodsp import resample

        v = resample(voice.samples, voice.rate, rate)[:, 0][int(0.1 * rate): int((b - a - 0.1) * rate)]
        seg = line.mean(axis=1)[: len(v)]
        corr = float(np.dot(seg - seg.mean(), v - v.mean()) / (np.std(seg) * np.std(v) * len(v) + 1e-12))
        assert corr > 0.4, f"line {k}: the movie's sound does not carry the spoken line (r={corr:.2f})"


def test_the_mouth_follows_the_phonemes(demo, decoded):
    from nodes.lipsync import OPENNESS, viseme_track

    speech = demo["result"].value("speak_1")
    fps = 24
    n = 120  # shot 1 up to the first crossfade
    track = viseme_track(speech, n, fps, demo["doc"].params("talk_1")["pad_before"])
    expected = np.array([OPENNESS[v] for v in track])
    dark = decoded["dark"][:n].astype(float)
    assert dark[:20].max() < dark.max() * 0.2  # closed before the line starts
    r = np.corrcoef(dark, expected)[0, 1]
    assert r > 0.6, f"mouth darkness does not follow the phoneme timings (r={r:.2f})"
    changes = int((np.abs(np.diff(dark)) > 30).sum())
    assert changes >= 8  # it moves many times during the line, not once


def test_subtitles_show_while_the_line_is_spoken(demo, decoded):
    frames = decoded["frames"]
    spans = _line_spans(demo)
    region = lambda px: px[620:712, 280:1000].astype(int)
    bright = lambda px: int((region(px).min(axis=2) > 235).sum())
    during, before = frames[60], frames[10]
    assert spans[0][0] * 24 < 60 < spans[0][1] * 24 and 10 < spans[0][0] * 24
    assert bright(during) > 400 and bright(before) < 0.2 * bright(during)
    assert region(during).mean() < region(before).mean()  # the dark box behind the text
    ink = np.array([255, 243, 214])  # the title's colour, #fff3d6
    title = lambda px: int((np.abs(px[20:130, 380:900].astype(int) - ink).max(axis=2) < 14).sum())
    assert title(frames[10]) > 300 and title(frames[300]) < 0.1 * title(frames[10])


def test_the_render_is_streamed_not_held(demo):
    video = demo["result"].value("render")
    assert video.n_frames == 384 and video.has_frame_keys
    from nodegraph.types import VideoT

    assert VideoT.nbytes(video) == video.audio.samples.nbytes  # no frame is kept: they are made on demand


def test_the_timeline_export_names_each_shot(demo):
    import opentimelineio as otio

    tl = otio.adapters.read_from_file(str(demo["tmp"] / "out" / "talking_character.otio"))
    clips = [c for c in tl.tracks[0] if isinstance(c, otio.schema.Clip)]
    assert [c.metadata["nodegraph"]["node"] for c in clips] == ["shot_1", "shot_2", "shot_3"]
    assert abs(tl.duration().to_seconds() - 16.0) < 1e-6


def test_editing_one_line_recomputes_that_shot_and_the_assembly(demo):
    doc, ev = demo["doc"], demo["ev"]
    SetParam("line_2", "value", "Today we are making a tiny film with just a node graph.")(doc)
    result = ev.run(doc)
    assert result.ok
    ran = {n for n, r in result.nodes.items() if r.status == "computed"}
    assert ran == {"line_2", "speak_2", "talk_2", "stage_2", "subs_2", "shot_2",
                   "scene", "render", "save_movie", "save_timeline"}
    assert result.count("cached") == 22
    SetParam("line_2", "value", load(DEMO).params("line_2")["value"])(doc)
    back = ev.run(doc)  # every value is cached again; only the files, overwritten by the edit, are rewritten
    assert {n for n, r in back.nodes.items() if r.status == "computed"} == {"save_movie", "save_timeline"}


def test_a_graph_reopens_from_the_movie(demo, tmp_path):
    from nodegraph import read_embedded_graph

    text, base = read_embedded_graph(str(demo["movie"]))
    assert json.loads(text)["nodes"]["line_1"]["params"]["value"].startswith("Hi, I'm Mira")
    assert Path(base) == DEMO.parent
    env = {"NODEGRAPH_CACHE_DIR": str(demo["tmp"] / "cache"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "nodegraph", "run", str(demo["movie"]), "-o", str(demo["tmp"] / "out"),
                           "-q", "--report", str(tmp_path / "r.json")], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "r.json").read_text())["counts"]["computed"] == 0


def test_text_renders_accented_letters():
    from nodes import fonts

    from PIL import Image, ImageDraw

    def draw(ch):
        im = Image.new("L", (60, 60))
        ImageDraw.Draw(im).text((5, 5), ch, font=fonts.font(40), fill=255)
        return np.asarray(im)

    missing = draw("\u0378")  # an unassigned code point: the font's "missing" box
    for ch in "çñéüßЖ":
        assert draw(ch).any() and not np.array_equal(draw(ch), missing), ch


# -- bad input ------------------------------------------------------------------------------------
def _run_one(registry, tmp_path, nodes, links=(), target=None):
    doc = Document()
    Batch([AddNode(t, nid, p) for nid, (t, p) in nodes.items()] + [Connect(*l) for l in links])(doc)
    return Evaluator(registry, output_dir=tmp_path / "out", base_dir=tmp_path, cache=Cache.memory_only()).run(doc, target)


@pytest.mark.parametrize("make, node_type, message", [
    (lambda d: ("image.load", {"path": "missing.png"}), "image.load", "image file not found: {tmp}/missing.png"),
    (lambda d: ("audio.load", {"path": "missing.wav"}), "audio.load", "audio file not found: {tmp}/missing.wav"),
    (lambda d: ("video.load", {"path": "missing.mp4"}), "video.load", "video file not found: {tmp}/missing.mp4"),
    (lambda d: (d / "bad.png").write_bytes(b"not a png at all") and ("image.load", {"path": "bad.png"}),
     "image.load", "{tmp}/bad.png is not a readable image"),
    (lambda d: (d / "bad.wav").write_bytes(b"RIFF....WAVEnonsense" * 10) and ("audio.load", {"path": "bad.wav"}),
     "audio.load", "{tmp}/bad.wav"),
    (lambda d: (d / "bad.mp4").write_bytes(b"\0\0\0\x18ftypmp42" + b"garbage" * 100) and ("video.load", {"path": "bad.mp4"}),
     "video.load", "{tmp}/bad.mp4 is not a readable video"),
    (lambda d: ("voice.speak", {"text": "Hello", "language": "xx-nope"}), "voice.speak", "'xx-nope'"),
    (lambda d: ("voice.speak", {"text": "   ", "language": "en"}), "voice.speak", "text is empty"),
])
def test_bad_media_inputs_give_one_clear_error(registry, tmp_path, make, node_type, message):
    node_type_, params = make(tmp_path)
    result = _run_one(registry, tmp_path, {"n": (node_type_, params)}, target=["n"])
    r = result.nodes["n"]
    assert r.status == "failed"
    assert message.format(tmp=tmp_path) in r.error
    assert "\n" not in r.error and "Traceback" not in r.error


def test_cli_names_node_and_file(tmp_path, capsys):
    from nodegraph.cli import main

    g = tmp_path / "g.json"
    g.write_text(json.dumps({"format": "nodegraph", "version": 1, "nodes": {
        "pic": {"type": "image.load", "params": {"path": "nowhere.png"}},
        "save": {"type": "image.save_png", "inputs": {"image": "pic.image"}}}}))
    assert main(["run", str(g), "-o", str(tmp_path / "o"), "-q", "--no-cache"]) == 1
    err = capsys.readouterr().err
    assert f"error: node 'pic' (image.load) failed: image file not found: {tmp_path / 'nowhere.png'}" in err


def test_saved_flac_carries_its_graph(registry, tmp_path):
    from nodegraph import read_embedded_graph

    path = ROOT / "graphs" / "music_only.json"
    out = tmp_path / "out"
    doc = load(path)
    Evaluator(registry, output_dir=out, base_dir=path.parent, cache=Cache.memory_only()).run(doc, ["save_music"])
    text, base = read_embedded_graph(str(out / "music.flac"))
    assert json.loads(text)["nodes"]["music"]["type"] == "music.compose" and Path(base) == path.parent


def test_a_character_keeps_its_voice_recordings(registry):
    from nodes.character import character

    from nodegraph import Audio, Image

    rec = Audio(np.zeros(2205, np.float32), 22050)
    body = Image(np.zeros((40, 40, 4), np.uint8))
    c = character(body, (), (rec,), mode="sprites", mouths=Image(np.zeros((8, 64, 4), np.uint8)), mouth_x=20.0, mouth_y=30.0)
    assert c.voice.references == (rec,)


@pytest.mark.parametrize("template", ["voices_fr_en_es.json", "music_only.json"])
def test_other_templates_run(registry, tmp_path, template):
    path = ROOT / "graphs" / template
    result = Evaluator(registry, output_dir=tmp_path, base_dir=path.parent, cache=Cache.memory_only()).run(load(path))
    assert result.ok, {n: r.error for n, r in result.nodes.items() if r.error}
    if template == "voices_fr_en_es.json":
        import soundfile as sf

        langs = {}
        for lang in ("en", "fr", "es"):
            data, rate = sf.read(tmp_path / f"mira_{lang}.wav")
            assert rate == 22050 and 1.5 < len(data) / rate < 6 and np.sqrt(np.mean(data ** 2)) > 0.03
            langs[lang] = result.value(f"speak_{lang}").words
        assert langs["fr"][0].label == "Bonjour" and langs["es"][0].label == "Hola"
        assert (tmp_path / "voices.png").exists()
    else:
        import soundfile as sf

        data, rate = sf.read(tmp_path / "music.flac")
        assert rate == 48000 and data.shape[1] == 2 and abs(len(data) / rate - 30.0) < 0.01
