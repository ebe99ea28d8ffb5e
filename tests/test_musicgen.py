"""MusicGen node on tiny random-weight models built at test time (tests/tinymusicgen.py), through
the real loading code: sample rate and exact duration, seeds, continuation past the model's window
(a tiny window, so two seconds take three windows) with clean joins, stereo, melody conditioning
(resampled, chroma as the melody feature extractor computes it), progress, cancellation, no reload
on a second run, and clear errors for bad input."""
from __future__ import annotations

import json
import os
import wave
from pathlib import Path

import numpy as np
import pytest

from nodegraph.cache import Cache
from nodegraph.context import CancelToken
from nodegraph.errors import GraphInvalid
from nodegraph.evaluate import Evaluator
from nodegraph.fileformat import from_data
from nodegraph.models import Models, resolve, shared_cache
from nodegraph.types import Audio

RATE = 32000


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    from tinymusicgen import build_all

    return build_all(tmp_path_factory.mktemp("tiny-musicgen"))


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.delenv("NODEGRAPH_MODELS", raising=False)


_REG = []


def _registry():
    if not _REG:
        from nodegraph.registry import default_registry

        _REG.append(default_registry())
    return _REG[0]


def graph(nodes: dict) -> object:
    """``{id: (type, params, inputs)}`` -> Document."""
    data = {"format": "nodegraph", "version": 1, "nodes": {}}
    for nid, spec in nodes.items():
        data["nodes"][nid] = {"type": spec[0], "params": spec[1], **({"inputs": spec[2]} if len(spec) > 2 else {})}
    return from_data(data)


def mg_graph(model, extra: dict | None = None, inputs: dict | None = None, nodes: dict | None = None) -> object:
    params = {"model": str(model), "prompt": "calm piano", "duration": 0.5, "seed": 1, "device": "cpu",
              **(extra or {})}
    return graph({**(nodes or {}), "gen": ("musicgen.generate", params, inputs or {})})


def run(doc, tmp_path, *, cache=None, **kw):
    ev = Evaluator(_registry(), output_dir=tmp_path / "out", base_dir=tmp_path,
                   cache=cache if cache is not None else Cache(tmp_path / "cache"))
    return ev, ev.run(doc, **kw)


def ok(result, node: str = "gen", port: str = "audio") -> Audio:
    r = result.nodes[node]
    assert r.ok, f"{node}: {r.status}: {r.error} ({[(n, x.error) for n, x in result.nodes.items() if x.error]})"
    return result.value(node, port)


def error_of(result, node: str = "gen") -> str:
    r = result.nodes[node]
    assert r.status == "failed", f"{node} did not fail: {r.status}"
    return r.error


def sine_wav(path: Path, rate: int, freq: float, seconds: float = 1.5, channels: int = 1) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    x = (0.5 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(x[:, None], channels, axis=1).tobytes())
    return path


def melody_nodes(path: Path) -> dict:
    return {"tune": ("audio.load", {"path": str(path)})}


# -- output: rate, duration, seeds ------------------------------------------------------------------

def test_mono_audio_at_the_model_rate_with_the_exact_duration(m, tmp_path):
    _, r = run(mg_graph(m.musicgen, {"duration": 0.4567}), tmp_path)
    a = ok(r)
    assert a.rate == RATE and a.channels == 1
    assert a.frames == round(0.4567 * RATE)               # not a whole number of codec frames: trimmed
    assert a.samples.dtype == np.float32 and 0.02 < float(a.samples.std()) < 1.0


def test_same_seed_same_music_other_seed_other_music(m, tmp_path):
    a = ok(run(mg_graph(m.musicgen, {"seed": 3}), tmp_path / "a")[1])
    b = ok(run(mg_graph(m.musicgen, {"seed": 3}), tmp_path / "b")[1])
    c = ok(run(mg_graph(m.musicgen, {"seed": 4}), tmp_path / "c")[1])
    assert np.array_equal(a.samples, b.samples)
    assert float(np.abs(a.samples - c.samples).mean()) > 0.01
    d = ok(run(mg_graph(m.musicgen, {"seed": 3, "prompt": "sad jazz guitar"}), tmp_path / "d")[1])
    assert float(np.abs(a.samples - d.samples).mean()) > 0.01      # the text conditions the music


def test_a_prompt_node_gives_its_text_and_style_tags(m, tmp_path):
    nodes = {"p": ("prompt.prompt", {"template": "calm piano", "variables": "", "style": "jazz, drums"})}
    wired = ok(run(mg_graph(m.musicgen, {"prompt": "ignored"}, {"from_prompt": "p.prompt"}, nodes), tmp_path / "a")[1])
    typed = ok(run(mg_graph(m.musicgen, {"prompt": "calm piano, jazz, drums"}), tmp_path / "b")[1])
    assert np.array_equal(wired.samples, typed.samples)


def test_stereo_models_give_two_channels(m, tmp_path):
    a = ok(run(mg_graph(m.stereo, {"duration": 1.3}), tmp_path)[1])
    assert a.channels == 2 and a.rate == RATE and a.frames == round(1.3 * RATE)
    assert float(np.abs(a.samples[:, 0] - a.samples[:, 1]).mean()) > 0.01


# -- continuation past the window ---------------------------------------------------------------------

def test_longer_than_the_window_continues_in_windows_with_clean_joins(m, tmp_path):
    from nodes import musicgen as mg

    events = []
    _, r = run(mg_graph(m.musicgen, {"duration": 2.0}), tmp_path, on_event=events.append)
    a = ok(r)
    assert a.frames == 2 * RATE
    logs = [e.data["message"] for e in events if e.kind == "log" and e.node == "gen"]
    assert any("3 windows" in s for s in logs), logs
    # the plan: 46 new frames, then 31 and 23 more, each window starting from the last 15 frames
    assert mg.plan_windows(100, 50, 3, 500) == [(0, 46), (15, 31), (15, 23)]
    x = a.samples[:, 0]
    step = np.abs(np.diff(x))
    joins = [46 * 640, 77 * 640]                     # where a window's audio ended and the next took over
    near = np.zeros(len(step), bool)
    for j in joins:
        near[j - 9600:j + 1] = True                  # the whole overlap, crossfade included
    typical = np.percentile(step[~near], 99.9)
    assert step[near].max() <= 1.5 * typical         # no click at the joins
    rms = np.sqrt(np.mean(x[: len(x) // 640 * 640].reshape(-1, 640) ** 2, axis=1))
    for j in joins:                                  # no dropout or doubling either
        around = rms[j // 640 - 15:j // 640 + 2]
        assert around.min() > 0.25 * np.median(rms) and around.max() < 3 * np.median(rms)


def test_the_crossfade_joins_two_renderings_of_the_same_music_without_a_step():
    from nodes import musicgen as mg

    rate, f = 32000, 220.0
    t = np.arange(rate) / rate
    acc = np.sin(2 * np.pi * f * t)[:, None].astype(np.float32)
    overlap = 6400                                   # the new window renders acc's last 0.2 s again...
    t2 = (np.arange(rate) + rate - overlap) / rate
    out = (0.9 * np.sin(2 * np.pi * f * t2 + 0.3))[:, None].astype(np.float32)   # ...not quite the same
    joined = mg._crossfade(acc, out, overlap, 3200)
    assert len(joined) == len(acc) + len(out) - overlap
    smooth = np.abs(np.diff(joined[:, 0])).max()
    assert smooth <= 1.05 * np.abs(np.diff(acc[:, 0])).max()
    hard = np.concatenate([acc, out[overlap:]])
    assert np.abs(np.diff(hard[:, 0])).max() > 2 * smooth        # a plain cut would click
    assert np.array_equal(joined[:rate - overlap], acc[:rate - overlap])
    assert np.array_equal(joined[-(rate - overlap):], out[overlap:])


def test_windows_of_a_real_model_are_30_seconds_continuing_from_the_last_10():
    from nodes import musicgen as mg

    plan = mg.plan_windows(3000, 1500, 3, 500)       # 60 s at 50 frames/s, musicgen-small's 1500 tokens
    assert plan == [(0, 1496), (498, 998), (498, 506)]
    assert sum(new for _, new in plan) == 3000
    assert all(1 + p + new + 3 <= 1500 for p, new in plan)


def test_the_audio_prompt_is_what_generate_makes_of_input_values(m):
    """The continuation prompt (EnCodec codes as decoder_input_ids) is exactly what
    generate(input_values=...) builds through the processor, as in transformers' docs."""
    import torch
    from nodes import musicgen as mg

    engine, _ = mg.load_engine(Models(), resolve(str(m.musicgen), "audio"), "cpu")
    rng = np.random.default_rng(0)
    tail = (0.1 * rng.standard_normal((15 * 640, 1))).astype(np.float32)
    proc = engine.text
    by_docs = proc(audio=[tail[:, 0]], sampling_rate=RATE, text=["calm piano"], padding=True, return_tensors="pt")
    torch.manual_seed(5)
    a = engine.model.generate(**by_docs, do_sample=True, guidance_scale=3.0, max_new_tokens=10)
    torch.manual_seed(5)
    ours = proc(text=["calm piano"], padding=True, return_tensors="pt")
    b = engine.model.generate(**ours, decoder_input_ids=mg.prompt_codes(engine, tail), do_sample=True,
                              guidance_scale=3.0, max_new_tokens=10)
    assert a.shape == b.shape == (1, 1, (15 + 7) * 640) and torch.equal(a, b)


# -- melody ------------------------------------------------------------------------------------------

def test_melody_models_follow_the_melody_at_any_sample_rate(m, tmp_path):
    a4_22k = sine_wav(tmp_path / "a4-22k.wav", 22050, 440.0)
    a4_32k_stereo = sine_wav(tmp_path / "a4-32k.wav", 32000, 440.0, channels=2)
    e4_22k = sine_wav(tmp_path / "e4-22k.wav", 22050, 329.63)
    runs = {}
    for name, wav in (("a22", a4_22k), ("a32", a4_32k_stereo), ("e22", e4_22k)):
        doc = mg_graph(m.melody, {"duration": 1.5}, {"melody": "tune.audio"}, melody_nodes(wav))
        runs[name] = ok(run(doc, tmp_path / name)[1])
    assert runs["a22"].rate == RATE and runs["a22"].frames == round(1.5 * RATE)
    # the same note at another rate (resampled) or in stereo (mixed down): the same chroma, the same music
    assert np.array_equal(runs["a22"].samples, runs["a32"].samples)
    assert float(np.abs(runs["a22"].samples - runs["e22"].samples).mean()) > 1e-3   # another note: other music
    plain = ok(run(mg_graph(m.melody, {"duration": 1.5}), tmp_path / "none")[1])      # melody is optional
    assert float(np.abs(plain.samples - runs["a22"].samples).mean()) > 1e-3


def test_chroma_is_the_note_that_sounds():
    from nodes import musicgen as mg

    settings = {"sampling_rate": 32000, "n_fft": 16384, "hop_length": 4096, "num_chroma": 12}
    t = np.arange(32000 * 2) / 32000
    for freq, bin_ in ((440.0, 9), (261.63, 0), (329.63, 4)):            # A, C, E (C first, as librosa)
        chroma = mg.melody_chroma(np.sin(2 * np.pi * freq * t).astype(np.float32), settings)
        assert chroma.shape == (1, 16, 12)
        assert (chroma[0].argmax(-1) == bin_).all() and (chroma.sum(-1) == 1).all()


def test_a_melody_for_a_model_without_melody_support_is_refused_by_name(m, tmp_path):
    wav = sine_wav(tmp_path / "a.wav", 22050, 440.0)
    _, r = run(mg_graph(m.musicgen, {}, {"melody": "tune.audio"}, melody_nodes(wav)), tmp_path)
    err = error_of(r)
    assert "tiny-musicgen" in err and "cannot follow a melody" in err and "musicgen-melody" in err


# -- progress, cancellation, caching ----------------------------------------------------------------------

def test_progress_counts_the_steps_of_all_windows(m, tmp_path):
    events = []
    ok(run(mg_graph(m.musicgen, {"duration": 2.0}), tmp_path, on_event=events.append)[1])
    steps = [e.data for e in events if e.kind == "progress" and e.node == "gen"]
    fractions = [s["fraction"] for s in steps]
    assert len(steps) == (46 + 3) + (31 + 3) + (23 + 3)          # one per decoder step
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert steps[0]["message"] == "window 1/3: step 1/109" and steps[-1]["message"] == "window 3/3: step 109/109"


def test_cancel_mid_generation_stops_between_steps_and_caches_nothing(m, tmp_path):
    cancel = CancelToken()
    events = []

    def on_event(e):
        events.append(e)
        if e.kind == "progress" and e.node == "gen" and e.data["fraction"] >= 0.5:
            cancel.cancel()

    doc = mg_graph(m.musicgen, {"duration": 2.0, "seed": 11})
    ev, r = run(doc, tmp_path, on_event=on_event, cancel=cancel)
    assert r.cancelled and r.nodes["gen"].status == "skipped"
    steps = [e for e in events if e.kind == "progress" and e.node == "gen"]
    assert len(steps) == 55                                       # stopped at the step after, in window 2
    again = ev.run(doc)
    assert again.nodes["gen"].status == "computed" and ok(again).frames == 2 * RATE


def test_second_run_loads_nothing_and_a_new_graph_reuses_the_loaded_model(m, tmp_path):
    shared_cache().clear()
    loads = shared_cache().loads
    doc = mg_graph(m.musicgen)
    events = []
    ev, first = run(doc, tmp_path, on_event=events.append)
    ok(first)
    assert shared_cache().loads == loads + 1
    assert any("loaded tiny-musicgen (musicgen, 32000 Hz, mono)" in e.data["message"]
               for e in events if e.kind == "log")
    second = ev.run(doc)
    assert second.count("computed") == 0 and shared_cache().loads == loads + 1
    _, other = run(mg_graph(m.musicgen, {"seed": 99}), tmp_path / "other")
    assert other.nodes["gen"].status == "computed" and shared_cache().loads == loads + 1


# -- bad input --------------------------------------------------------------------------------------------

def test_a_missing_model_is_named_with_where_it_was_looked_for(tmp_path):
    _, r = run(mg_graph(tmp_path / "nowhere" / "musicgen"), tmp_path)
    err = error_of(r)
    assert "nowhere/musicgen" in err and "does not exist" in err
    assert (r.nodes["gen"].node, r.nodes["gen"].type) == ("gen", "musicgen.generate")   # the CLI prints these
    _, r = run(graph({"gen": ("musicgen.generate", {"duration": 0.5})}), tmp_path / "hub")   # the default repo
    err = error_of(r)
    assert "facebook/musicgen-small" in err


def test_a_folder_that_is_not_musicgen_is_refused(m, tmp_path):
    other = tmp_path / "bert"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    err = error_of(run(mg_graph(other), tmp_path)[1])
    assert "bert" in err and "not MusicGen" in err
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in m.musicgen.iterdir():
        (broken / f.name).write_bytes(f.read_bytes()[:200] if f.name == "model.safetensors" else f.read_bytes())
    before = set(shared_cache().keys())
    err = error_of(run(mg_graph(broken), tmp_path / "b")[1])
    assert "broken" in err and "could not load" in err
    assert set(shared_cache().keys()) == before


@pytest.mark.parametrize("duration,words", [(0.0, "below the minimum"), (-1.0, "below the minimum"),
                                            (601.0, "above the maximum")])
def test_durations_out_of_range_are_refused_before_running(m, tmp_path, duration, words):
    with pytest.raises(GraphInvalid, match=f"node 'gen'.*param 'duration'.*{words}"):
        run(mg_graph(m.musicgen, {"duration": duration}), tmp_path)


def test_the_scored_scene_template_runs_on_a_tiny_model(m, tmp_path):
    """graphs/score_scene.json: the talking-character scene with a MusicGen score ducked under the lines."""
    import subprocess
    import sys

    import av

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "out"
    env = dict(os.environ, NODEGRAPH_CACHE_DIR=str(tmp_path / "cache"))
    p = subprocess.run([sys.executable, "-m", "nodegraph", "run", "graphs/score_scene.json", "-o", str(out), "-q",
                        "--set", f"music.model={m.musicgen}"], capture_output=True, text=True, env=env, cwd=root)
    assert p.returncode == 0, p.stderr
    with av.open(str(out / "score_scene.mp4")) as f:
        assert abs(float(f.duration / 1_000_000) - 16.0) < 0.1
        assert [s.type for s in f.streams] == ["video", "audio"]
    assert (out / "score_scene.otio").exists()
