"""Speech AI nodes on tiny random-weight Whisper, Marian and NLLB models built at test time
(tests/tinyspeech.py), through the real loading code: transcription with word and segment
timings (in order, inside the audio, at any sample rate), 30 s windows with progress and
cancellation, SRT / WebVTT written and read back, translation that keeps cue timings, language
checks, no reload on a second run, and clear errors for missing models and bad files.

Random weights give garbage text: the tests check structure, never words."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from nodegraph import Audio, CancelToken, Context, Speech
from nodegraph.cache import Cache
from nodegraph.evaluate import Evaluator
from nodegraph.fileformat import from_data
from nodegraph.models import shared_cache
from nodegraph.types import ValueError_
from nodes import speech as sp

LINE = "Hello world. The cat sits on the mat, and the dog runs in the park."


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """Tiny Whisper, Marian (en-de and en-fr/es) and NLLB folders, built once per session."""
    from tinyspeech import build_all

    return build_all(tmp_path_factory.mktemp("tiny-speech"))


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.delenv("NODEGRAPH_MODELS", raising=False)


_REG: list = []


def registry():
    if not _REG:
        from nodegraph.registry import default_registry

        _REG.append(default_registry())
    return _REG[0]


def graph(nodes: dict):
    """``{id: (type, params[, inputs])}`` -> Document."""
    data = {"format": "nodegraph", "version": 1, "nodes": {}}
    for nid, spec in nodes.items():
        data["nodes"][nid] = {"type": spec[0], "params": spec[1], **({"inputs": spec[2]} if len(spec) > 2 else {})}
    return from_data(data)


def run(doc, tmp_path, targets, **kw):
    ev = Evaluator(registry(), output_dir=tmp_path / "out", base_dir=tmp_path, cache=Cache(tmp_path / "cache"))
    return ev, ev.run(doc, targets, **kw)


def ok(result, node, port):
    r = result.nodes[node]
    assert r.ok, f"{node}: {r.status}: {r.error} ({[(n, x.error) for n, x in result.nodes.items() if x.error]})"
    return result.value(node, port)


def error_of(result, node):
    r = result.nodes[node]
    assert r.status == "failed", f"{node} did not fail: {r.status}"
    return r.error


def asr_graph(whisper, source=None, **params):
    """espeak speech (or ``source``: a node spec giving ``.audio``) -> Transcribe."""
    nodes = {"say": ("voice.speak", {"text": LINE})} if source is None else {"src": source}
    port = "say.speech" if source is None else "src.audio"
    nodes["asr"] = ("speech.transcribe", {"model": str(whisper), "language": "en", **params}, {"audio": port})
    return nodes


def check_timed(speech: Speech, subs: sp.Subtitles, duration: float) -> None:
    """Words, phonemes and cues in order and inside the audio; words make up the text."""
    assert speech.words, "the tiny model always says something"
    last = 0.0
    for w in speech.words:
        assert last - 1e-9 <= w.start <= w.end <= duration + 1e-9 and w.label.strip()
        last = w.end
    assert speech.text.split() == [w.label for w in speech.words]
    starts = [p.start for p in speech.phonemes]
    assert starts == sorted(starts) and all(0 <= p.start <= p.end <= duration + 1e-9 for p in speech.phonemes)
    assert subs.cues and [c[0] for c in subs.cues] == sorted(c[0] for c in subs.cues)
    assert all(0 <= a <= b <= duration + 1e-9 for a, b, _ in subs.cues)
    assert "".join("".join(t.split()) for _, _, t in subs.cues) == "".join(speech.text.split())  # long words may wrap


def tone_speech(seconds: float, rate: int, gaps_every: float = 5.0) -> np.ndarray:
    """Bursts of a voiced-like buzz with 1 s silences every ``gaps_every`` s (mono float32)."""
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sign(np.sin(2 * np.pi * 140 * t)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    x[(t % gaps_every) > gaps_every - 1.0] = 0.0
    return x.astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    import soundfile as sf

    sf.write(str(path), samples, rate, subtype="PCM_16")
    return path


# -- transcription -----------------------------------------------------------------------------------------

def test_transcribe_gives_text_speech_and_subtitles_timed_inside_the_audio(tiny, tmp_path):
    nodes = asr_graph(tiny.whisper)
    _, r = run(graph(nodes), tmp_path, ["asr"])
    said, speech, subs = ok(r, "say", "speech"), ok(r, "asr", "speech"), ok(r, "asr", "subtitles")
    assert speech.audio == said.audio and speech.audio.rate == 22050     # the original audio, not the 16 kHz copy
    assert speech.language == "en" and subs.language == "en" and ok(r, "asr", "text") == speech.text
    check_timed(speech, subs, said.audio.duration)
    assert speech.phonemes                                               # espeak spelled the words
    for p in speech.phonemes:                                            # each phoneme inside a word
        assert any(w.start - 1e-9 <= p.start <= p.end <= w.end + 1e-9 for w in speech.words)
    assert all(len(line) <= 42 for _, _, t in subs.cues for line in t.split("\n"))


def test_word_timestamps_off_share_segment_time_and_phonemes_can_be_left_out(tiny, tmp_path):
    _, r = run(graph(asr_graph(tiny.whisper, word_timestamps=False, phonemes=False)), tmp_path, ["asr"])
    speech, subs = ok(r, "asr", "speech"), ok(r, "asr", "subtitles")
    check_timed(speech, subs, speech.audio.duration)
    assert speech.phonemes == ()


def test_lipsync_shapes_the_mouth_from_a_transcript(tiny, tmp_path):
    from nodes.lipsync import viseme_track

    _, r = run(graph(asr_graph(tiny.whisper)), tmp_path, ["asr"])
    speech = ok(r, "asr", "speech")
    track = viseme_track(speech, n=int(speech.audio.duration * 25), fps=25.0, offset=0.0)
    assert set(track) - {"rest"}


@pytest.mark.parametrize("rate,channels", [(11025, 1), (22050, 2), (44100, 2)])
def test_odd_sample_rates_and_stereo_are_resampled_not_rejected(tiny, tmp_path, rate, channels):
    x = tone_speech(3.0, rate)
    samples = np.stack([x, 0.5 * x], axis=1) if channels == 2 else x
    wav = write_wav(tmp_path / f"clip-{rate}.wav", samples, rate)
    _, r = run(graph(asr_graph(tiny.whisper, source=("audio.load", {"path": str(wav)}))), tmp_path, ["asr"])
    speech = ok(r, "asr", "speech")
    assert (speech.audio.rate, speech.audio.channels) == (rate, channels)
    check_timed(speech, ok(r, "asr", "subtitles"), 3.0)
    assert len(sp.mono_16k(speech.audio)) == 48000


def test_windows_cover_the_audio_and_cut_in_the_quiet():
    x = tone_speech(75.0, 16000)
    spans = sp.windows(x)
    assert spans[0][0] == 0 and spans[-1][1] == len(x)
    assert all(a < b and b - a <= 30 * 16000 for a, b in spans)
    assert all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1))
    for _, b in spans[:-1]:                                    # each cut falls in a silence
        assert np.abs(x[b - 800:b + 800]).max() == 0.0
    assert sp.windows(x[:16000 * 30]) == [(0, 16000 * 30)]


def test_long_audio_is_read_in_30_s_windows_with_progress_per_window(tiny, tmp_path):
    wav = write_wav(tmp_path / "long.wav", tone_speech(70.0, 22050), 22050)
    events = []
    _, r = run(graph(asr_graph(tiny.whisper, source=("audio.load", {"path": str(wav)}))), tmp_path, ["asr"],
               on_event=events.append)
    speech = ok(r, "asr", "speech")
    check_timed(speech, ok(r, "asr", "subtitles"), 70.0)
    chunks = [e for e in events if e.kind == "progress" and e.node == "asr" and ":" not in e.data["message"]]
    assert [(e.data["message"], round(e.data["fraction"], 3)) for e in chunks] == \
        [("chunk 1/3", 0.333), ("chunk 2/3", 0.667), ("chunk 3/3", 1.0)]
    tokens = [e for e in events if e.kind == "progress" and e.node == "asr" and "token" in e.data["message"]]
    assert tokens and all(0 < e.data["fraction"] <= 1 for e in tokens)
    fractions = [e.data["fraction"] for e in events if e.kind == "progress" and e.node == "asr"]
    assert fractions == sorted(fractions)
    assert max(w.start for w in speech.words) > 40.0           # the last window's words are placed after it starts


def test_cancel_stops_between_tokens_and_caches_nothing(tiny, tmp_path):
    wav = write_wav(tmp_path / "long.wav", tone_speech(70.0, 22050), 22050)
    cancel, events = CancelToken(), []

    def on_event(e):
        events.append(e)
        if e.kind == "progress" and e.node == "asr" and e.data["message"].startswith("chunk 1/3: token 5/"):
            cancel.cancel()

    doc = graph(asr_graph(tiny.whisper, source=("audio.load", {"path": str(wav)})))
    ev, r = run(doc, tmp_path, ["asr"], on_event=on_event, cancel=cancel)
    assert r.cancelled and r.nodes["asr"].status == "skipped"
    messages = [e.data["message"] for e in events if e.kind == "progress" and e.node == "asr"]
    assert messages[-1] == "chunk 1/3: token 5/64"             # stopped at the next token
    assert not any(m.startswith("chunk 2/3") for m in messages)
    again = ev.run(doc, ["asr"])
    assert again.nodes["asr"].status == "computed" and again.nodes["src"].status == "cached"


def test_language_auto_is_detected_and_translate_task_gives_english(tiny, tmp_path):
    events = []
    _, r = run(graph(asr_graph(tiny.whisper, language="auto")), tmp_path / "a", ["asr"], on_event=events.append)
    detected = ok(r, "asr", "speech").language
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    assert detected in LANGUAGES and ok(r, "asr", "subtitles").language == detected
    assert any(e.kind == "log" and e.data["message"] == f"detected language: {detected}" for e in events)
    _, r = run(graph(asr_graph(tiny.whisper, language="French", task="translate")), tmp_path / "b", ["asr"])
    assert ok(r, "asr", "speech").language == "en"


def test_an_english_only_model_takes_en_or_auto_and_refuses_the_rest(tiny, tmp_path):
    import json
    import shutil

    english = tmp_path / "tiny-whisper.en"
    shutil.copytree(tiny.whisper, english)
    gen = json.loads((english / "generation_config.json").read_text())
    gen["is_multilingual"] = False
    del gen["lang_to_id"], gen["task_to_id"]             # as in openai/whisper-tiny.en
    (english / "generation_config.json").write_text(json.dumps(gen))
    for lang in ("en", "auto"):
        _, r = run(graph(asr_graph(english, language=lang)), tmp_path / lang, ["asr"])
        assert ok(r, "asr", "speech").language == "en"
    _, r = run(graph(asr_graph(english, language="fr")), tmp_path / "fr", ["asr"])
    assert "tiny-whisper.en is English-only; use auto or en" in error_of(r, "asr")
    _, r = run(graph(asr_graph(english, task="translate")), tmp_path / "tr", ["asr"])
    assert "English-only: it cannot translate" in error_of(r, "asr")


def test_second_run_loads_no_weights(tiny, tmp_path):
    shared_cache().clear()
    loads = shared_cache().loads
    nodes = asr_graph(tiny.whisper)
    nodes["tr"] = ("speech.translate", {"model": str(tiny.marian)}, {"subtitles": "asr.subtitles"})
    ev, first = run(graph(nodes), tmp_path / "a", ["tr"])
    ok(first, "tr", "subtitles")
    assert shared_cache().loads == loads + 2
    assert ev.run(graph(nodes), ["tr"]).count("computed") == 0
    nodes["asr"][1]["max_chars"] = 30
    nodes["tr"][1]["batch"] = 3
    _, other = run(graph(nodes), tmp_path / "b", ["tr"])       # other params, other evaluator: computes, loads nothing
    assert other.nodes["asr"].status == "computed" and other.nodes["tr"].status == "computed"
    assert shared_cache().loads == loads + 2
    # a new evaluator over the first one's disk cache computes nothing: the values come back from disk
    nodes["asr"][1]["max_chars"] = 42
    nodes["tr"][1]["batch"] = 8
    _, third = run(graph(nodes), tmp_path / "a", ["tr"])
    assert third.count("computed") == 0 and ok(third, "tr", "subtitles") == ok(first, "tr", "subtitles")


# -- bad input -------------------------------------------------------------------------------------------------

def test_missing_models_are_named_with_the_node_and_the_path(tiny, tmp_path):
    nowhere = tmp_path / "nowhere" / "whisper-small"
    nodes = asr_graph(nowhere)
    nodes["tr"] = ("speech.translate", {"model": str(tmp_path / "nowhere" / "opus-mt-en-de")}, {"text": "asr.text"})
    _, r = run(graph(nodes), tmp_path, ["tr"])
    err = error_of(r, "asr")
    assert str(nowhere) in err and "does not exist" in err
    assert r.nodes["tr"].status == "skipped"
    _, r = run(graph({"tr": ("speech.translate", {"model": str(tmp_path / "nowhere" / "opus-mt-en-de"),
                                                  "text": "hello"})}), tmp_path, ["tr"])
    assert "nowhere/opus-mt-en-de" in error_of(r, "tr")
    # the default is a hub id: offline and not in the cache, the error says how to get it
    _, r = run(graph({"say": ("voice.speak", {"text": "hi"}),
                      "asr": ("speech.transcribe", {}, {"audio": "say.speech"})}), tmp_path, ["asr"])
    err = error_of(r, "asr")
    assert "'openai/whisper-small'" in err and "not available offline" in err and "hf download" in err


def test_models_of_the_wrong_kind_are_refused_by_name(tiny, tmp_path):
    _, r = run(graph(asr_graph(tiny.marian)), tmp_path / "a", ["asr"])
    err = error_of(r, "asr")
    assert tiny.marian.name in err and "marian model, not Whisper" in err
    _, r = run(graph({"tr": ("speech.translate", {"model": str(tiny.whisper), "text": "hi"})}), tmp_path / "b",
               ["tr"])
    assert "a Whisper model" in error_of(r, "tr") and "task translate" in error_of(r, "tr")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "readme.txt").write_text("hello")
    _, r = run(graph(asr_graph(notes)), tmp_path / "c", ["asr"])
    assert "notes" in error_of(r, "asr") and "config.json" in error_of(r, "asr")


def test_unsupported_languages_are_refused_with_what_the_model_knows(tiny, tmp_path):
    _, r = run(graph(asr_graph(tiny.whisper, language="xx")), tmp_path / "a", ["asr"])
    err = error_of(r, "asr")
    assert "'xx'" in err and "tiny-whisper" in err and "auto" in err and "100 languages" in err

    def tr(model, text="hello world", **params):
        _, res = run(graph({"tr": ("speech.translate", {"model": str(model), "text": text, **params})}),
                     tmp_path / "t", ["tr"])
        return res

    err = error_of(tr(tiny.marian, target="fr"), "tr")
    assert "opus-mt-tiny-en-de" in err and "en -> de" in err and "'fr'" in err
    err = error_of(tr(tiny.marian, source="ja"), "tr")
    assert "opus-mt-tiny-en-de" in err and "en -> de" in err and "'ja'" in err
    assert ok(tr(tiny.marian, source="eng", target="deu"), "tr", "subtitles").language == "deu"   # 3-letter codes match
    err = error_of(tr(tiny.marian_multi), "tr")
    assert "several languages (fr, es)" in err and "set target" in err
    assert "no target language 'de'" in error_of(tr(tiny.marian_multi, target="de"), "tr")
    err = error_of(tr(tiny.nllb, source="en", target="xx"), "tr")
    assert "tiny-nllb" in err and "'xx'" in err and "fra_Latn" in err
    assert "needs the source language" in error_of(tr(tiny.nllb, target="fr"), "tr")
    assert "link subtitles or type a text, not both" in error_of(
        run(graph({"say": ("voice.speak", {"text": "hi"}),
                   "tr": ("speech.translate", {"model": str(tiny.marian), "text": "x"}, {"subtitles": "say.speech"})}),
            tmp_path / "u", ["tr"])[1], "tr")
    assert "nothing to translate" in error_of(tr(tiny.marian, text="  "), "tr")


def test_empty_and_broken_audio_are_refused(tiny, tmp_path):
    ctx = Context("asr", "speech.transcribe", output_dir=tmp_path / "out", base_dir=tmp_path)
    with pytest.raises(ValueError_, match=r"the audio is empty \(0 frames\)"):
        sp.transcribe(Audio(np.zeros((0, 1), np.float32), 16000), model=str(tiny.whisper), ctx=ctx)
    with pytest.raises(ValueError_, match="not finite"):
        sp.transcribe(Audio(np.full((800, 1), np.nan, np.float32), 16000), model=str(tiny.whisper), ctx=ctx)
    short = sp.transcribe(Audio(np.zeros((400, 1), np.float32), 8000), model=str(tiny.whisper), ctx=ctx)
    assert all(w.end <= 0.05 + 1e-9 for w in short["speech"].words)    # 50 ms of silence: still timed inside


# -- translation ------------------------------------------------------------------------------------------------

def test_translation_keeps_each_cue_timing_and_the_cue_count(tiny, tmp_path):
    nodes = asr_graph(tiny.whisper)
    nodes["tr"] = ("speech.translate", {"model": str(tiny.marian), "batch": 2}, {"subtitles": "asr.subtitles"})
    events = []
    _, r = run(graph(nodes), tmp_path, ["tr"], on_event=events.append)
    before, after = ok(r, "asr", "subtitles"), ok(r, "tr", "subtitles")
    assert len(after.cues) == len(before.cues) >= 2
    assert [(a, b) for a, b, _ in after.cues] == [(a, b) for a, b, _ in before.cues]
    assert after.language == "de" and all(t.strip() for _, _, t in after.cues)
    assert ok(r, "tr", "text") == after.text and after.text.count("\n") == len(after.cues) - 1
    n = math.ceil(len({" ".join(t.split()) for _, _, t in before.cues}) / 2)
    batches = [e.data["message"] for e in events if e.kind == "progress" and e.node == "tr"]
    assert batches == [f"batch {k}/{n}" for k in range(1, n + 1)]


def test_a_speech_links_into_translate_and_text_translates_line_by_line(tiny, tmp_path):
    nodes = {"say": ("voice.speak", {"text": LINE}),
             "tr": ("speech.translate", {"model": str(tiny.marian)}, {"subtitles": "say.speech"}),
             "txt": ("speech.translate", {"model": str(tiny.marian), "text": "hello world\n\nthe cat. a dog runs"})}
    _, r = run(graph(nodes), tmp_path, ["tr", "txt"])
    said, subs = ok(r, "say", "speech"), ok(r, "tr", "subtitles")
    assert [a for a, _, _ in subs.cues] == [a for a, _, _ in sp.from_speech(said).cues]
    lines = ok(r, "txt", "text").split("\n")
    assert len(lines) == 3 and lines[0] and lines[1] == "" and lines[2]
    assert ok(r, "txt", "subtitles").cues == ()


@pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")
def test_multi_target_and_nllb_models_are_told_the_target_language(tiny, tmp_path, monkeypatch):
    from transformers import AutoTokenizer, M2M100ForConditionalGeneration, MarianMTModel

    seen = []

    def spy(original):
        def generate(self, *args, **kw):
            seen.append((kw["input_ids"][:, 0].tolist(), kw.get("forced_bos_token_id")))
            return original(self, *args, **kw)
        return generate

    monkeypatch.setattr(MarianMTModel, "generate", spy(MarianMTModel.generate))
    monkeypatch.setattr(M2M100ForConditionalGeneration, "generate", spy(M2M100ForConditionalGeneration.generate))

    def tr(model, **params):
        seen.clear()
        _, res = run(graph({"tr": ("speech.translate", {"model": str(model), "text": "hello world\nthe cat",
                                                        **params})}), tmp_path / "t", ["tr"])
        text = ok(res, "tr", "text")
        assert len(text.split("\n")) == 2
        return seen[0], ok(res, "tr", "subtitles").language

    multi = AutoTokenizer.from_pretrained(tiny.marian_multi)
    for code in ("fr", "es"):      # a multi-target Marian model: every input starts with >>fr<< / >>es<<
        assert tr(tiny.marian_multi, target=code) == (([multi.convert_tokens_to_ids(f">>{code}<<")] * 2, None), code)
    nllb = AutoTokenizer.from_pretrained(tiny.nllb)
    fra, deu, eng = nllb.convert_tokens_to_ids(["fra_Latn", "deu_Latn", "eng_Latn"])
    # NLLB: the source language token leads the input, the target one is forced as the first output token
    assert tr(tiny.nllb, source="en", target="fr") == (([eng] * 2, fra), "fr")
    assert tr(tiny.nllb, source="eng_Latn", target="deu_Latn") == (([eng] * 2, deu), "deu_Latn")
    spa = nllb.convert_tokens_to_ids("spa_Latn")
    assert tr(tiny.nllb, source="es", target="fra_Latn") == (([spa] * 2, fra), "fra_Latn")


def test_cancel_during_translation_stops_between_batches(tiny, tmp_path):
    text = "\n".join(f"{w} the cat sits" for w in ("a", "b", "c", "d", "e", "f"))
    cancel, events = CancelToken(), []

    def on_event(e):
        events.append(e)
        if e.kind == "progress" and e.node == "tr":
            cancel.cancel()

    doc = graph({"tr": ("speech.translate", {"model": str(tiny.marian), "text": text, "batch": 2})})
    ev, r = run(doc, tmp_path, ["tr"], on_event=on_event, cancel=cancel)
    assert r.cancelled and r.nodes["tr"].status == "skipped"
    assert [e.data["message"] for e in events if e.kind == "progress" and e.node == "tr"] == ["batch 1/3"]
    assert ev.run(doc, ["tr"]).nodes["tr"].status == "computed"


# -- subtitle files ----------------------------------------------------------------------------------------------

def same_cues(a: sp.Subtitles, b: sp.Subtitles, offset: float = 0.0) -> bool:
    return len(a.cues) == len(b.cues) and all(
        abs(x[0] + offset - y[0]) <= 5e-4 and abs(x[1] + offset - y[1]) <= 5e-4 and x[2] == y[2]
        for x, y in zip(a.cues, b.cues))


def test_srt_and_vtt_files_parse_back_to_the_same_cues(tiny, tmp_path):
    nodes = asr_graph(tiny.whisper)
    nodes.update({
        "srt": ("speech.subtitles_file", {"filename": "subs/film.srt"}, {"subtitles": "asr.subtitles"}),
        "vtt": ("speech.subtitles_file", {"filename": "film.vtt", "offset": 2.5}, {"subtitles": "asr.subtitles"}),
    })
    _, r = run(graph(nodes), tmp_path, None)
    subs = ok(r, "asr", "subtitles")
    srt, vtt = Path(ok(r, "srt", "path")), Path(ok(r, "vtt", "path"))
    assert srt == tmp_path / "out" / "subs" / "film.srt" and vtt.read_text().startswith("WEBVTT\nLanguage: en\n")
    assert same_cues(subs, sp.parse_srt(srt.read_text(encoding="utf-8")))
    back = sp.read_subtitles(vtt)
    assert same_cues(subs, back, offset=2.5) and back.language == "en"
    # and through the reader node
    _, r2 = run(graph({"load": ("speech.load_subtitles", {"path": str(srt), "language": "en"})}), tmp_path / "b",
                ["load"])
    assert same_cues(subs, ok(r2, "load", "subtitles")) and ok(r2, "load", "subtitles").language == "en"


def test_a_speech_links_straight_into_a_subtitle_file(tmp_path):
    _, r = run(graph({"say": ("voice.speak", {"text": LINE + " " + LINE}),
                      "srt": ("speech.subtitles_file", {"filename": "line.srt"}, {"subtitles": "say.speech"})}),
               tmp_path, None)
    said = ok(r, "say", "speech")
    subs = sp.read_subtitles(ok(r, "srt", "path"))
    # the text as written (punctuation, and the words espeak times together: "on the" is one timed word)
    assert [t.replace("\n", " ") for _, _, t in subs.cues] == ["Hello world.", LINE[13:], "Hello world.", LINE[13:]]
    assert subs.cues[0][0] == pytest.approx(said.words[0].start, abs=5e-4)
    assert all(0 <= a <= b <= said.audio.duration + 1e-3 for a, b, _ in subs.cues)
    assert all(len(t.split("\n")) <= 2 and all(len(x) <= 42 for x in t.split("\n")) for _, _, t in subs.cues)


def test_real_world_srt_and_vtt_quirks_are_read(tmp_path):
    srt = tmp_path / "film.fr.srt"
    srt.write_bytes(("\ufeff1\r\n00:00:05,500 --> 00:00:07,000\r\n<i>Deuxième</i> ligne\r\n\r\n"
                     "00:00:01,5 --> 00:00:02.250\r\nPremière\r\n  ligne  \r\n\r\n\r\n"
                     "3\r\n01:00:00,000 --> 01:00:01,000 X1:10 X2:20\r\n\r\n").encode("utf-8"))
    subs = sp.read_subtitles(srt)
    assert subs.language == "fr"
    assert subs.cues == ((1.5, 2.25, "Première\nligne"), (5.5, 7.0, "Deuxième ligne"), (3600.0, 3601.0, ""))
    vtt = tmp_path / "talk.vtt"
    vtt.write_text("WEBVTT - a talk\nKind: captions\nLanguage: es\n\nNOTE written by hand\nover two lines\n\n"
                   "STYLE\n::cue { color: yellow }\n\nintro\n00:01.000 --> 00:02.000 align:start line:0\n"
                   "<v Ana>Hola &amp; <b>adiós</b></v> &lt;3\n\n"
                   "1:02:03.004 --> 1:02:04.000\n<00:01.500>dos\n", encoding="utf-8")
    subs = sp.read_subtitles(vtt)
    assert subs.language == "es"
    assert subs.cues == ((1.0, 2.0, "Hola & adiós <3"), (3723.004, 3724.0, "dos"))
    assert sp.read_subtitles(vtt, language="ca").language == "ca"
    # what the writers do with awkward text: VTT escapes, blank lines and arrows never break a cue
    odd = sp.Subtitles(((0.0, 1.0, "a < b & c\n\n--> d"), (1.0, 1.0, "")), "en")
    assert sp.parse_vtt(sp.to_vtt(odd)).cues == ((0.0, 1.0, "a < b & c\n-> d"), (1.0, 1.0, ""))
    assert sp.parse_srt(sp.to_srt(odd)).cues == ((0.0, 1.0, "a < b & c\n-> d"), (1.0, 1.0, ""))
    assert (sp.format_time(3723.004), sp.format_time(59.9996, ".")) == ("01:02:03,004", "00:01:00.000")


@pytest.mark.parametrize("name,body,where,what", [
    ("a.srt", "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 -> 00:00:04,000\nbad\n", "line 6",
     "expected a time line"),
    ("b.srt", "1\n00:00:01,000 --> 00:00:02,000\nok\n\n\nstray text\n", "line 6", "expected a cue number"),
    ("c.srt", "1\n00:00:05,000 --> 00:00:02,000\nbackwards\n", "line 2", "ends (00:00:02,000) before it starts"),
    ("d.srt", "1\n00:00:75,000 --> 00:01:02,000\nx\n", "line 2", "over 59"),
    ("e.vtt", "1\n00:00:01.000 --> 00:00:02.000\nno header\n", "line 1", "starts with 'WEBVTT'"),
    ("f.vtt", "WEBVTT\n\nid\nnot a time\n", "line 4", "expected a time line"),
    ("g.vtt", "WEBVTT\n00:01.000 --> 00:02.000\nx\n", "line 2", "blank line must separate"),
])
def test_bad_subtitle_files_name_the_file_and_the_line(tmp_path, name, body, where, what):
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    _, r = run(graph({"load": ("speech.load_subtitles", {"path": name})}), tmp_path, ["load"])
    err = error_of(r, "load")
    assert f"{path} {where}:" in err and what in err


def test_unreadable_subtitle_files_are_named(tmp_path):
    latin = tmp_path / "latin1.srt"
    latin.write_bytes("1\n00:00:01,000 --> 00:00:02,000\nd\xe9j\xe0\n".encode("latin-1"))
    with pytest.raises(ValueError_, match=r"latin1.srt line 3: not UTF-8 text \(byte 0xe9\)"):
        sp.read_subtitles(latin)
    utf16 = tmp_path / "wide.srt"
    utf16.write_bytes("1\n00:00:01,000 --> 00:00:02,000\nwide\n".encode("utf-16"))
    assert sp.read_subtitles(utf16).cues == ((1.0, 2.0, "wide"),)
    with pytest.raises(FileNotFoundError, match="gone.srt"):
        sp.read_subtitles(tmp_path / "gone.srt")
    _, r = run(graph({"save": ("speech.subtitles_file", {"filename": "x.txt"}, {"subtitles": "say.speech"}),
                      "say": ("voice.speak", {"text": "hi"})}), tmp_path, None)
    assert "'x.txt' must end in .srt (SubRip) or .vtt (WebVTT)" in error_of(r, "save")


# -- the Subtitles value -----------------------------------------------------------------------------------------

def test_subtitles_values_check_their_cues_and_survive_the_disk_cache():
    with pytest.raises(ValueError_, match="cue 2 starts at 1.000 s, before cue 1"):
        sp.Subtitles(((2.0, 3.0, "b"), (1.0, 2.0, "a")))
    with pytest.raises(ValueError_, match="cue 1 runs from 2.0 s to 1.0 s"):
        sp.Subtitles(((2.0, 1.0, "x"),))
    with pytest.raises(ValueError_, match=r"must be \(start, end, text\)"):
        sp.Subtitles(((1.0, "x"),))
    subs = sp.Subtitles(((0.0, 1.5, "un\ndeux"), (1.5, 3, "trois")), "fr")
    enc = sp.SubtitlesT.encode(subs)
    back = sp.SubtitlesT.decode(enc.meta, memoryview(b"".join(bytes(c) for c in enc.chunks)))
    assert back == subs and back.cues == subs.cues and back.language == "fr"
    assert subs != sp.Subtitles(subs.cues, "en") and "2 cues" in subs.summary()
    from nodegraph.types import find_type

    assert find_type(subs) is sp.SubtitlesT


def test_words_group_into_cues_of_two_lines_at_most():
    from nodegraph import Timing

    words = [Timing(i * 0.4, i * 0.4 + 0.3, w) for i, w in enumerate(("lorem ipsum dolor sit amet consectetur "
                                                                      "adipiscing elit sed do eiusmod tempor "
                                                                      "incididunt ut labore et dolore magna").split())]
    cues = sp.group_words(words, max_chars=20)
    assert all(len(t.split("\n")) <= 2 and all(len(x) <= 20 for x in t.split("\n")) for _, _, t in cues)
    assert " ".join(t.replace("\n", " ") for _, _, t in cues).split() == [w.label for w in words]
    assert sp.wrap("one two three four five six", 15) == "one two three\nfour five six"
    gap = words[:2] + [Timing(5.0, 5.5, "later")]
    assert len(sp.group_words(gap)) == 2                    # a long pause starts a new cue


def test_timed_subtitles_are_burnt_in_from_start_to_end():
    """compose.subtitles with cues: each cue is drawn exactly while it lasts (a translation's cues too)."""
    from nodegraph import Video
    from nodes.compose import subtitles

    base = Video.from_frames([np.zeros((120, 200, 3), np.uint8)] * 30, 10)
    cues = sp.Subtitles(((0.5, 1.2, "Bonjour"), (2.0, 2.5, "Merci bien")), "fr")
    out = subtitles(base, None, "", cues)
    lit = [int(out.rgb_frame(i).max() > 0) for i in range(out.n_frames)]
    assert lit == [0] * 5 + [1] * 7 + [0] * 8 + [1] * 5 + [0] * 5
    assert out.rgb_frame(6).max() > 200
