"""Voice cloning nodes (XTTS-v2 Speak (cloned voice), OpenVoice Convert voice) on tiny random-weight
models built at test time in the release layouts (tests/tinycoqui.py), through the real loading
code: sample rates, durations and timings, seeds, the voice recordings conditioning the result,
recordings at any sample rate, progress, cancellation, no reload on a second run, weights-only
reading of the release files, and clear errors for bad input (language, silent or short voice,
wrong or missing model, the extra not installed). The torchaudio guard is tested on a stand-in
package that fails to load its library the way PyPI's CUDA build does with the CPU torch."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec("TTS") is None:
    pytest.skip("the voiceclone extra is not installed: pip install -c requirements.lock -e '.[voiceclone]'",
                allow_module_level=True)

from nodegraph.cache import Cache  # noqa: E402
from nodegraph.context import CancelToken  # noqa: E402
from nodegraph.evaluate import Evaluator  # noqa: E402
from nodegraph.fileformat import from_data  # noqa: E402
from nodegraph.models import shared_cache  # noqa: E402
from nodegraph.types import Speech  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MIRA = ROOT / "assets" / "characters" / "mira"
XTTS_RATE, OV_RATE = 24000, 22050
TOKEN_S = 1024 / 22050                    # XTTS: one GPT audio token is this much audio
TWO = {"text": "Hello there. How are you today?"}   # two sentences


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    from tinycoqui import build_all

    return build_all(tmp_path_factory.mktemp("tiny-coqui"))


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    """Recordings to clone from: two espeak voices (real speech), at odd rates and in stereo."""
    from nodes import _espeak

    d = tmp_path_factory.mktemp("voices")

    def say(name, text, voice, rate, channels=1, seconds=None):
        pcm, r, _, _ = _espeak.synthesize(text, voice)
        x = pcm.astype(np.float32) / 32768.0
        if seconds is not None:
            x = x[: int(seconds * r)]
        if rate != r:
            from nodes import audiodsp

            x = audiodsp.resample(x[:, None], r, rate)[:, 0]
        return write_wav(d / name, x, rate, channels)

    return {
        "ana": say("ana.wav", "I am Ana, and this is how my voice sounds on a good day.", "en+f3", 22050),
        "ana44": say("ana44.wav", "I am Ana, and this is how my voice sounds on a good day.", "en+f3", 44100, 2),
        "ana11": say("ana11.wav", "I am Ana, and this is how my voice sounds on a good day.", "en+f3", 11025),
        "bob": say("bob.wav", "Bob here. My voice is low and slow, and I like it that way.", "en+m3", 16000),
        "short": say("short.wav", "Hi there, friends.", "en+f3", 22050, seconds=0.5),
        "silent": write_wav(d / "silent.wav", np.zeros(22050 * 2, np.float32), 22050),
    }


def write_wav(path: Path, x: np.ndarray, rate: int, channels: int = 1) -> Path:
    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(pcm[:, None], channels, axis=1).tobytes())
    return path


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.delenv("NODEGRAPH_MODELS", raising=False)


_REG = []


def _registry():
    """The installed packs, and this one if its entry point is not registered yet."""
    if not _REG:
        from nodegraph.registry import Registry
        import nodes.voiceclone

        reg = Registry().load_entry_points()
        if "voice.clone_speak" not in reg:
            reg.add_module(nodes.voiceclone)
        _REG.append(reg)
    return _REG[0]


def graph(nodes: dict) -> object:
    """``{id: (type, params, inputs)}`` -> Document."""
    data = {"format": "nodegraph", "version": 1, "nodes": {}}
    for nid, spec in nodes.items():
        data["nodes"][nid] = {"type": spec[0], "params": spec[1], **({"inputs": spec[2]} if len(spec) > 2 else {})}
    return from_data(data)


def character(*recordings: Path, name: str = "Ana") -> dict:
    """Nodes of a Character ``hero`` with Mira's art and these voice recordings."""
    nodes = {"body": ("image.load", {"path": str(MIRA / "body.png")}),
             "mouths": ("image.load", {"path": str(MIRA / "mouths.png")})}
    for k, path in enumerate(recordings):
        nodes[f"rec{k}"] = ("audio.load", {"path": str(path)})
    inputs = {"image": "body.image", "mouths": "mouths.image"}
    if recordings:
        inputs["voice_samples"] = [f"rec{k}.audio" for k in range(len(recordings))]
    nodes["hero"] = ("character.character", {"name": name, "mouth_x": 260.0, "mouth_y": 343.0}, inputs)
    return nodes


def speak_graph(model, *recordings: Path, extra: dict | None = None, reference: Path | None = None) -> object:
    params = {"model": str(model), "text": "Hello there.", "language": "en", "seed": 1,
              "device": "cpu", **(extra or {})}
    nodes = character(*recordings)
    inputs = {"character": "hero.character"}
    if reference is not None:
        nodes["refrec"] = ("audio.load", {"path": str(reference)})
        inputs["reference"] = "refrec.audio"
    return graph({**nodes, "gen": ("voice.clone_speak", params, inputs)})


def convert_graph(model, *recordings: Path, extra: dict | None = None, source: dict | None = None) -> object:
    """A Character ``hero`` and ``conv`` converting ``source`` (one node: a Speak node's speech, or
    an audio node's audio) into its voice."""
    nodes = character(*recordings)
    src = source or {"say": ("voice.speak", {"text": "Good morning, little robot.", "language": "en"})}
    (name, spec), = src.items()
    port = "speech" if spec[0] == "voice.speak" else "audio"
    params = {"model": str(model), "device": "cpu", **(extra or {})}
    return graph({**nodes, **src, "conv": ("voice.convert", params,
                                           {"character": "hero.character", port: f"{name}.{port}"})})


def run(doc, tmp_path, **kw):
    ev = Evaluator(_registry(), output_dir=tmp_path / "out", base_dir=tmp_path, cache=Cache(tmp_path / "cache"))
    return ev, ev.run(doc, **kw)


def ok(result, node: str = "gen", port: str = "speech") -> Speech:
    r = result.nodes[node]
    assert r.ok, f"{node}: {r.status}: {r.error} ({[(n, x.error) for n, x in result.nodes.items() if x.error]})"
    return result.value(node, port)


def error_of(result, node: str = "gen") -> str:
    r = result.nodes[node]
    assert r.status == "failed", f"{node} did not fail: {r.status}"
    return r.error


def check_timings(s: Speech) -> None:
    for seq in (s.words, s.phonemes):
        starts = [t.start for t in seq]
        assert starts == sorted(starts)
        assert all(0.0 <= t.start <= t.end <= s.audio.duration + 1e-6 for t in seq)


# -- Speak (cloned voice) ------------------------------------------------------------------------------

def test_cloned_speech_is_24khz_mono_with_word_and_phoneme_timings(m, voices, tmp_path):
    events = []
    _, r = run(speak_graph(m.xtts, voices["ana"], extra=TWO), tmp_path, on_event=events.append)
    s = ok(r)
    assert s.audio.rate == XTTS_RATE and s.audio.channels == 1 and s.audio.samples.dtype == np.float32
    # two sentences, each at most the tiny model's 17 audio tokens (1024 samples at 22050 Hz each)
    assert 0.1 < s.audio.duration <= 2 * 17 * TOKEN_S + 0.01
    assert 1e-4 < float(s.audio.samples.std()) and np.isfinite(s.audio.samples).all()
    assert [w.label for w in s.words] == ["Hello", "there", "How", "are", "you", "today"]
    assert len(s.phonemes) > 10 and s.language == "en" and s.text == "Hello there. How are you today?"
    check_timings(s)
    assert s.words[2].start >= s.words[1].end                      # "How" (sentence 2) after "there" (sentence 1)
    logs = [e.data["message"] for e in events if e.kind == "log" and e.node == "gen"]
    assert any("voice of character 'Ana': 1 recording(s)" in x for x in logs), logs


def test_same_seed_same_speech_other_seed_or_voice_other_speech(m, voices, tmp_path):
    a = ok(run(speak_graph(m.xtts, voices["ana"]), tmp_path / "a")[1])
    b = ok(run(speak_graph(m.xtts, voices["ana"]), tmp_path / "b")[1])
    assert np.array_equal(a.audio.samples, b.audio.samples) and a.words == b.words
    c = ok(run(speak_graph(m.xtts, voices["ana"], extra={"seed": 2}), tmp_path / "c")[1])
    assert not np.array_equal(a.audio.samples, c.audio.samples)
    bob = ok(run(speak_graph(m.xtts, voices["bob"]), tmp_path / "d")[1])        # another voice, same seed
    n = min(a.audio.frames, bob.audio.frames)
    assert n == 0 or not np.allclose(a.audio.samples[:n], bob.audio.samples[:n], atol=1e-3)
    both = ok(run(speak_graph(m.xtts, voices["ana"], voices["bob"]), tmp_path / "e")[1])   # two recordings
    assert not np.array_equal(both.audio.samples, a.audio.samples)


def test_speed_changes_the_pace_not_the_reading(m, voices, tmp_path):
    one = ok(run(speak_graph(m.xtts, voices["ana"]), tmp_path / "a")[1])
    two = ok(run(speak_graph(m.xtts, voices["ana"], extra={"speed": 2.0}), tmp_path / "b")[1])
    assert abs(two.audio.duration / one.audio.duration - 0.5) < 0.05
    assert two.words[-1].end < one.words[-1].end


def test_cloned_speech_converted_keeps_its_words(m, voices, tmp_path):
    nodes = character(voices["ana"])
    nodes["gen"] = ("voice.clone_speak", {"model": str(m.xtts), "text": "Hello there.", "device": "cpu"},
                    {"character": "hero.character"})
    nodes["conv"] = ("voice.convert", {"model": str(m.openvoice), "device": "cpu"},
                     {"character": "hero.character", "speech": "gen.speech"})
    r = run(graph(nodes), tmp_path)[1]
    said, out = ok(r), ok(r, "conv")
    assert said.audio.rate == XTTS_RATE and out.audio.rate == OV_RATE
    assert abs(out.audio.duration - said.audio.duration) < 1.0 / OV_RATE
    assert out.words == said.words and out.phonemes == said.phonemes and out.language == "en"


def test_a_reference_recording_replaces_the_characters(m, voices, tmp_path):
    bob = ok(run(speak_graph(m.xtts, voices["bob"]), tmp_path / "a")[1])
    ref = ok(run(speak_graph(m.xtts, voices["ana"], reference=voices["bob"]), tmp_path / "b")[1])
    assert np.array_equal(bob.audio.samples, ref.audio.samples)


def test_recordings_at_any_rate_or_in_stereo_are_resampled_not_refused(m, voices, tmp_path):
    from nodes import voiceclone as vc
    from nodegraph.types import Audio

    for name in ("ana44", "ana11"):
        s = ok(run(speak_graph(m.xtts, voices[name]), tmp_path / name)[1])
        assert s.audio.rate == XTTS_RATE and s.audio.duration > 0.1
    # what the model sees from a 44.1 kHz stereo file is the 22.05 kHz mono recording, resampled
    import soundfile as sf

    x22, _ = sf.read(voices["ana"], dtype="float32")
    x44, _ = sf.read(voices["ana44"], dtype="float32")
    (a,), sa = vc.prepare_voice([Audio(x22, 22050)], 22050, "t")
    (b,), sb = vc.prepare_voice([Audio(x44, 44100)], 22050, "t")
    assert abs(sa - sb) < 0.1 and abs(len(a) - len(b)) < 0.05 * 22050
    n = min(len(a), len(b))
    assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.9


def test_progress_per_token_and_sentence_and_cancellation(m, voices, tmp_path):
    events = []
    ok(run(speak_graph(m.xtts, voices["ana"], extra=TWO), tmp_path / "a", on_event=events.append)[1])
    steps = [e.data for e in events if e.kind == "progress" and e.node == "gen"]
    fractions = [s["fraction"] for s in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    messages = [s["message"] for s in steps]
    assert messages[0] == "sentence 1/2: token 1" and "sentence 1/2" in messages and messages[-1] == "sentence 2/2"
    assert any(x.startswith("sentence 2/2: token") for x in messages)

    cancel = CancelToken()
    seen = []

    def on_event(e):
        if e.kind == "progress" and e.node == "gen":
            seen.append(e.data["message"])
            if e.data["message"] == "sentence 1/2: token 3":
                cancel.cancel()

    doc = speak_graph(m.xtts, voices["ana"], extra={**TWO, "seed": 9})
    ev, r = run(doc, tmp_path / "b", on_event=on_event, cancel=cancel)
    assert r.cancelled and r.nodes["gen"].status == "skipped"
    assert seen[-1] == "sentence 1/2: token 3"                         # stopped at that token
    again = ev.run(doc)
    assert again.nodes["gen"].status == "computed" and ok(again).audio.duration > 0


def test_second_run_loads_nothing_and_a_new_graph_reuses_the_model(m, voices, tmp_path):
    shared_cache().clear()
    loads = shared_cache().loads
    events = []
    doc = speak_graph(m.xtts, voices["ana"])
    ev, first = run(doc, tmp_path / "a", on_event=events.append)
    ok(first)
    assert shared_cache().loads == loads + 1
    assert any("loaded xtts_v2 (XTTS-v2, 3 languages) on cpu" in e.data["message"] for e in events if e.kind == "log")
    second = ev.run(doc)
    assert second.count("computed") == 0 and shared_cache().loads == loads + 1
    other = run(speak_graph(m.xtts, voices["bob"], extra={"seed": 5}), tmp_path / "b")[1]
    assert other.nodes["gen"].status == "computed" and shared_cache().loads == loads + 1


def test_release_model_files_are_read_weights_only_and_never_rewritten(m, voices, tmp_path):
    before = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in m.xtts.iterdir()}
    legacy = ok(run(speak_graph(m.xtts, voices["ana"]), tmp_path / "a")[1])
    plain = ok(run(speak_graph(m.xtts_plain, voices["ana"]), tmp_path / "b")[1])
    assert np.array_equal(legacy.audio.samples, plain.audio.samples)     # the same weights in both layouts
    assert {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in m.xtts.iterdir()} == before
    # a model.pth that would run code when unpickled is refused, and the code does not run
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    for f in m.xtts_plain.iterdir():
        (hostile / f.name).write_bytes(f.read_bytes())
    marker = tmp_path / "pwned"
    (hostile / "model.pth").write_bytes(_pickle_running(f"open({str(marker)!r}, 'w').write('x')"))
    err = error_of(run(speak_graph(hostile, voices["ana"]), tmp_path / "c")[1])
    assert "hostile/model.pth" in err and "weights-only" in err and not marker.exists()


class _Runs:
    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def _pickle_running(code: str) -> bytes:
    import io

    import torch

    buf = io.BytesIO()
    torch.save({"model": _Runs(code)}, buf)
    return buf.getvalue()


# -- Convert voice (OpenVoice) ----------------------------------------------------------------------------

def test_conversion_keeps_the_speech_timing_in_the_characters_voice(m, voices, tmp_path):
    events = []
    _, r = run(convert_graph(m.openvoice, voices["ana"]), tmp_path, on_event=events.append)
    src, out = ok(r, "say"), ok(r, "conv")
    assert out.audio.rate == OV_RATE and out.audio.channels == 1
    assert abs(out.audio.duration - src.audio.duration) < 1.0 / OV_RATE + 1e-9
    assert out.words == src.words and out.phonemes == src.phonemes and out.text == src.text
    assert 0.001 < float(out.audio.samples.std()) and np.isfinite(out.audio.samples).all()
    assert not np.allclose(out.audio.samples[: src.audio.frames, 0], src.audio.samples[: out.audio.frames, 0])
    steps = [e.data for e in events if e.kind == "progress" and e.node == "conv"]
    assert [s["message"] for s in steps] == ["part 1/1"] and steps[-1]["fraction"] == 1.0
    again = ok(run(convert_graph(m.openvoice, voices["ana"]), tmp_path / "again")[1], "conv")
    assert np.array_equal(again.audio.samples, out.audio.samples)                   # deterministic
    bob = ok(run(convert_graph(m.openvoice, voices["bob"]), tmp_path / "bob")[1], "conv")
    assert not np.array_equal(bob.audio.samples, out.audio.samples)                  # the voice matters
    other = ok(run(convert_graph(m.openvoice_other, voices["ana"]), tmp_path / "w")[1], "conv")
    assert not np.allclose(other.audio.samples, out.audio.samples, atol=1e-4)        # and the model


def test_the_target_voice_is_the_mean_of_the_recordings_embeddings(m, voices, tmp_path, monkeypatch):
    """(A random reference encoder barely tells voices apart, so the effect on the audio is small:
    here the voice the converter is given is checked.)"""
    import torch
    from nodegraph.models import Models, resolve
    from nodes import _coqui

    engine, _ = _coqui.load_openvoice(Models(), resolve(str(m.openvoice), "audio"), "cpu")
    seen = []
    real = engine.model.inference

    def inference(x, aux):
        seen.append(aux["g_tgt"].clone())
        return real(x, aux)

    monkeypatch.setattr(engine.model, "inference", inference)
    for k, recs in enumerate(([voices["ana"]], [voices["bob"]], [voices["ana"], voices["bob"]])):
        ok(run(convert_graph(m.openvoice, *recs), tmp_path / str(k))[1], "conv")
    ana, bob, both = seen
    assert ana.shape == (1, 64, 1) and float((ana - bob).abs().max()) > 1e-3 * float(ana.abs().max())
    assert torch.allclose(both, (ana + bob) / 2, atol=1e-6)


def test_plain_recordings_at_other_rates_convert_to_the_same_length(m, voices, tmp_path):
    src = {"clip": ("audio.load", {"path": str(voices["ana44"])})}                  # 44.1 kHz stereo
    _, r = run(convert_graph(m.openvoice, voices["bob"], source=src), tmp_path)
    out, clip = ok(r, "conv"), ok(r, "clip", "audio")
    assert out.audio.rate == OV_RATE and abs(out.audio.duration - clip.duration) < 2.0 / OV_RATE
    assert out.words == () and out.text == ""


def test_long_speech_converts_in_parts_cut_at_quiet_moments(m, voices, tmp_path, monkeypatch):
    from nodes import voiceclone as vc

    monkeypatch.setattr(vc, "PART_S", 1.0)
    monkeypatch.setattr(vc, "CUT_SEARCH_S", 0.5)
    text = "One, two, three. Four, five, six. Seven, eight, nine. And ten."
    src = {"say": ("voice.speak", {"text": text, "language": "en"})}
    cancel = CancelToken()
    events = []

    def on_event(e):
        events.append(e)
        if e.kind == "progress" and e.node == "conv" and e.data["message"].startswith("part 2/"):
            cancel.cancel()

    doc = convert_graph(m.openvoice, voices["ana"], source=src)
    ev, r = run(doc, tmp_path, on_event=on_event, cancel=cancel)
    assert r.cancelled and r.nodes["conv"].status == "skipped"
    assert [e.data["message"] for e in events if e.kind == "progress" and e.node == "conv"][-1].startswith("part 2/")
    events.clear()
    r = ev.run(doc, on_event=events.append)
    s, out = ok(r, "say"), ok(r, "conv")
    parts = [e.data["message"] for e in events if e.kind == "progress" and e.node == "conv"]
    n = len(parts)
    assert n >= 3 and parts == [f"part {k + 1}/{n}" for k in range(n)]
    assert abs(out.audio.duration - s.audio.duration) < 1.0 / OV_RATE + 1e-9
    x = vc.audiodsp.resample(s.audio.samples, s.audio.rate, OV_RATE)[:, 0]
    cuts = vc.split_parts(x, OV_RATE, 256)
    assert cuts[0][0] == 0 and cuts[-1][1] == len(x) and all(a[1] == b[0] for a, b in zip(cuts, cuts[1:]))
    loud = np.sqrt(np.mean(x ** 2))
    for _, end in cuts[:-1]:                                                        # cut where it is quiet
        assert np.sqrt(np.mean(x[end - 550:end + 550] ** 2)) < 0.5 * loud


# -- bad input ------------------------------------------------------------------------------------------

def test_an_unsupported_language_is_refused_with_the_models_languages(m, voices, tmp_path):
    err = error_of(run(speak_graph(m.xtts, voices["ana"], extra={"language": "de"}), tmp_path)[1])
    assert "does not speak 'de'" in err and "en, fr, es" in err
    s = ok(run(speak_graph(m.xtts, voices["ana"], extra={"language": "FR-ca", "text": "Bonjour le monde."}),
               tmp_path / "fr")[1])
    assert s.language == "fr" and [w.label for w in s.words] == ["Bonjour", "le", "monde"]


@pytest.mark.parametrize("node", ["gen", "conv"])
def test_a_silent_or_too_short_voice_is_refused_naming_the_character(m, voices, tmp_path, node):
    make = (lambda *r: speak_graph(m.xtts, *r)) if node == "gen" else (lambda *r: convert_graph(m.openvoice, *r))
    shared_cache().clear()
    loads = shared_cache().loads
    err = error_of(run(make(voices["silent"]), tmp_path / "silent")[1], node)
    assert "character 'Ana'" in err and "is silent" in err
    assert shared_cache().loads == loads                      # refused before the model is loaded
    err = error_of(run(make(voices["ana"], voices["silent"]), tmp_path / "one")[1], node)
    assert "recording 2 of 2" in err and "is silent" in err
    err = error_of(run(make(voices["short"]), tmp_path / "short")[1], node)
    assert "character 'Ana'" in err and "at least 1 s" in err
    err = error_of(run(make(), tmp_path / "none")[1], node)
    assert "character 'Ana' has no voice recordings" in err and "voice_samples" in err


def test_missing_or_wrong_models_are_named(m, voices, tmp_path):
    r = run(speak_graph(tmp_path / "nowhere" / "xtts", voices["ana"]), tmp_path)[1]
    err = error_of(r)
    assert "nowhere/xtts" in err and "does not exist" in err
    assert (r.nodes["gen"].node, r.nodes["gen"].type) == ("gen", "voice.clone_speak")
    doc = graph({**character(voices["ana"]), "gen": ("voice.clone_speak", {"text": "Hi."}, {"character": "hero.character"})})
    assert "'xtts_v2'" in error_of(run(doc, tmp_path / "default")[1])          # the default name, looked for
    err = error_of(run(speak_graph(m.openvoice, voices["ana"]), tmp_path / "ov")[1])
    assert "an OpenVoice converter, not XTTS-v2" in err
    err = error_of(run(convert_graph(m.xtts, voices["ana"]), tmp_path / "x")[1], "conv")
    assert "not an OpenVoice converter folder (an XTTS-v2 folder" in err
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in m.xtts_plain.iterdir():
        if f.name != "vocab.json":
            (broken / f.name).write_bytes(f.read_bytes())
    assert "vocab.json missing" in error_of(run(speak_graph(broken, voices["ana"]), tmp_path / "b")[1])


def test_without_the_extra_the_nodes_say_what_to_install(m, voices, tmp_path, monkeypatch):
    import importlib.metadata as md

    real = md.distribution

    def distribution(name):
        if name in ("coqui-tts", "torchcodec"):
            raise md.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(md, "distribution", distribution)
    for doc, node in ((speak_graph(m.xtts, voices["ana"]), "gen"), (convert_graph(m.openvoice, voices["ana"]), "conv")):
        err = error_of(run(doc, tmp_path / node)[1], node)
        assert "needs coqui-tts, torchcodec, which are not installed" in err
        assert "pip install -c requirements.lock -e '.[voiceclone]'" in err


def test_speech_or_audio_must_be_connected_not_both(m, voices, tmp_path):
    doc = graph({**character(voices["ana"]),
                 "conv": ("voice.convert", {"model": str(m.openvoice)}, {"character": "hero.character"})})
    assert "connect either speech or audio" in error_of(run(doc, tmp_path)[1], "conv")


# -- the parts ---------------------------------------------------------------------------------------------

def test_dtw_recovers_a_stretch_and_the_warp_is_monotonic():
    from nodes import _voicealign as vc

    rate = 1000
    t = np.arange(2 * rate) / rate
    bursts = lambda x, starts: sum(np.where((x >= s) & (x < s + 0.2), 1.0, 0.0) for s in starts)  # noqa: E731
    guide = (bursts(t, [0.2, 0.8, 1.4]) * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    t2 = np.arange(3 * rate) / rate                                          # the same bursts, later and apart
    target = (bursts(t2, [0.5, 1.4, 2.3]) * np.sin(2 * np.pi * 100 * t2)).astype(np.float32)
    f = vc.warp(guide, rate, target, rate)
    for a, b in ((0.2, 0.5), (0.8, 1.4), (1.4, 2.3)):
        assert abs(f(a + 0.1) - (b + 0.1)) < 0.03
    ys = [f(x) for x in np.linspace(0, 2, 200)]
    assert ys == sorted(ys) and ys[0] >= 0 and ys[-1] <= 3.0


def test_alignment_finds_the_words_in_another_voice_at_another_pace():
    """espeak's timings carried over to other speech of the same text (here espeak again, in
    other voices, slower or faster, after a pause, where the true times are known)."""
    from nodes import _espeak
    from nodes import _voicealign as vc

    text = "The quick brown fox jumps over the lazy dog, and then it runs away."
    guide = vc.espeak_guide(text, "en")
    for voice, rate in (("en+m3", 130), ("en+f2", 220)):
        pcm, r, words, phonemes = _espeak.synthesize(text, voice, rate=rate)
        x = np.concatenate([np.zeros(int(0.3 * r), np.float32), pcm.astype(np.float32) / 32768.0])
        w, p = vc.align(text, x, r, guide)
        assert [t.label for t in w] == [t[2] for t in words]
        errors = [abs(a.start - (b[0] + 0.3)) for a, b in zip(w, words)]
        assert np.mean(errors) < 0.04 and max(errors) < 0.15, errors
        assert len(p) == len(guide[3])
    # without espeak's help (a language it lacks): words share the voiced span by length
    w, p = vc.align("aaaa bb", np.concatenate([np.zeros(1000), np.ones(6000), np.zeros(1000)]).astype(np.float32),
                    1000, None)
    assert p == [] and [t.label for t in w] == ["aaaa", "bb"]
    assert abs(w[0].start - 1.0) < 0.03 and abs(w[0].end - (1 + 4 * 6 / 7)) < 0.03       # 4 + 1 + 2 units in 6 s
    assert abs(w[1].start - (1 + 5 * 6 / 7)) < 0.03 and abs(w[1].end - 7.0) < 0.03


def test_sentences_and_words():
    from nodes import _voicealign as vc

    assert vc.sentences("Hello there!  How are you?No space. ...", 250) == ["Hello there!", "How are you?No space."]
    long = " ".join(["word"] * 80)
    parts = vc.sentences(long + ".", 100)
    assert all(len(p) <= 100 for p in parts) and " ".join(parts) == long + "."
    assert vc.sentences("你好。再见！", 82) == ["你好。", "再见！"]
    assert vc.words_of("«Bonjour», l'homme! -- ok?") == ["Bonjour", "l'homme", "ok"]


def test_the_torchaudio_guard_imports_a_torchaudio_whose_library_fails_to_load(tmp_path):
    """A stand-in torchaudio whose library load raises OSError, as PyPI's CUDA build does with
    the CPU torch: after nodes._coqui is imported it imports (without the library); before,
    and with the guard out of the way, it raises as the real one does."""
    pkg = tmp_path / "torchaudio"
    (pkg / "_extension").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import _extension\n")
    (pkg / "_extension" / "utils.py").write_text(textwrap.dedent("""
        def _load_lib(lib):
            raise OSError("libc10_cuda.so: cannot open shared object file")
    """))
    (pkg / "_extension" / "__init__.py").write_text(textwrap.dedent("""
        from .utils import _load_lib
        AVAILABLE = _load_lib("_torchaudio")
    """))
    code = textwrap.dedent("""
        import sys
        try:
            import torchaudio
        except OSError as e:
            print("plain:", e)
        import nodes._coqui
        import torchaudio
        print("guarded:", torchaudio._extension.AVAILABLE, nodes._coqui._FAILED)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "plain: libc10_cuda.so" in out.stdout
    assert "guarded: False ['_torchaudio: libc10_cuda.so: cannot open shared object file']" in out.stdout


# -- Dub subtitles (cloned voice) -------------------------------------------------------------------------

def test_dubbing_speaks_each_cue_at_its_time_in_the_original_speakers_voice(m, voices, tmp_path):
    srt = tmp_path / "film.fr.srt"
    srt.write_text("1\n00:00:00,200 --> 00:00:01,500\nBonjour.\n\n2\n00:00:02,400 --> 00:00:03,000\nMerci bien.\n",
                   encoding="utf-8")
    doc = graph({
        "subs": ("speech.load_subtitles", {"path": str(srt)}),
        "orig": ("audio.load", {"path": str(voices["ana"])}),
        "gen": ("voice.clone_dub", {"model": str(m.xtts), "seed": 1, "device": "cpu"},
                {"subtitles": "subs.subtitles", "original": "orig.audio"}),
    })
    _, r = run(doc, tmp_path)
    s = ok(r)
    original = r.value("orig", "audio")
    assert s.language == "fr" and s.audio.rate == 24000 and s.audio.channels == 1
    assert s.audio.duration >= original.duration - 1e-3         # as long as the film's sound (or longer)
    check_timings(s)
    firsts = [w.start for w in s.words if w.label.lower().strip(".,") in ("bonjour", "merci")]
    assert len(firsts) == 2 and firsts[0] >= 0.2 - 1e-6 and firsts[1] >= 2.4 - 1e-6
    x = s.audio.samples[:, 0]
    assert np.abs(x[: int(0.2 * 24000)]).max() == 0.0           # nothing before the first cue


def test_a_line_that_runs_long_pushes_the_next_one_instead_of_overlapping():
    from nodegraph.types import Timing
    from nodes.voiceclone import place_cues

    rate = 100
    one = np.ones(150, np.float32)            # 1.5 s of "speech" for a cue at 0 s
    two = np.full(50, 0.5, np.float32)        # the next cue starts at 1.0 s
    track, words, _ = place_cues([(0.0, 1.0, one, [Timing(0.0, 1.5, "a")], []),
                                  (1.0, 2.0, two, [Timing(0.0, 0.5, "b")], [])], rate, 3.0)
    assert len(track) == 300 and track[:150].min() == 1.0 and track[150:200].max() == 0.5
    assert [(w.start, w.label) for w in words] == [(0.0, "a"), (1.5, "b")]
