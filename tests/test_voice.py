"""Speech synthesis with espeak-ng: real audio, word and phoneme timings, character voices,
determinism across calls and threads, and clear errors (also through the evaluator)."""
from __future__ import annotations

import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from nodegraph import Character, Speech, Voice
from nodegraph.commands import AddNode, Batch, Connect
from nodegraph.evaluate import Evaluator
from nodegraph.graph import Document
from nodes import _espeak
from nodes.voice import speak

SENTENCES = {
    "en": ("Hello world, this is a lip sync test.", ["Hello", "world", "this", "is", "a", "lip", "sync", "test"]),
    "fr": ("Bonjour, ça va très bien", ["Bonjour", "ça", "va", "très", "bien"]),
    "es": ("¿Cómo estás? Muy bien", ["Cómo", "estás", "Muy", "bien"]),
}
FRAME = 0.02  # seconds


def frames(x: np.ndarray, rate: int, size: float = FRAME) -> np.ndarray:
    n = int(rate * size)
    return x[: len(x) // n * n].reshape(-1, n)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def voiced(x: np.ndarray, rate: int) -> np.ndarray:
    """20 ms frames loud enough to be speech (silence from espeak is exact zeros)."""
    f = frames(x, rate)
    return f[np.sqrt(np.mean(f.astype(np.float64) ** 2, axis=1)) > 0.02]


def f0(speech: Speech) -> float:
    """Median fundamental frequency (Hz) over voiced 40 ms frames, by autocorrelation."""
    x, rate = speech.audio.samples[:, 0].astype(np.float64), speech.audio.rate
    lo, hi = int(rate / 400), int(rate / 50)  # 50..400 Hz
    estimates = []
    for f in frames(x, rate, 0.04):
        if rms(f) < 0.03:
            continue
        f = f - f.mean()
        spec = np.fft.rfft(f, 2 * len(f))
        ac = np.fft.irfft(spec * np.conj(spec))[: len(f)]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.3 * ac[0]:  # clearly periodic
            estimates.append(rate / lag)
    assert len(estimates) >= 5, "too few periodic frames to estimate a pitch"
    return float(np.median(estimates))


def assert_timings_sane(timings, duration: float) -> None:
    assert timings
    last = 0.0
    for t in timings:
        assert 0.0 <= t.start < t.end <= duration + 1e-9, t
        assert t.start >= last - 1e-9, f"{t} starts before the previous timing"
        last = t.start


# -- real speech in three languages ----------------------------------------------------------
@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_speech_is_real_audio_with_words_and_phonemes(language):
    text, expected = SENTENCES[language]
    s = speak(text, language=language)
    assert isinstance(s, Speech) and s.text == text and s.language == language
    a = s.audio
    assert a.rate == 22050 and a.channels == 1 and a.samples.dtype == np.float32
    assert 1.0 <= a.duration <= 5.0, a.duration
    x = a.samples[:, 0]
    assert rms(x) > 0.04 and np.abs(x).max() <= 1.0
    assert len(voiced(x, a.rate)) / len(frames(x, a.rate)) > 0.5  # mostly speech, not silence
    # words as written, accents and inverted punctuation handled, in order
    assert [w.label for w in s.words] == expected
    assert_timings_sane(s.words, a.duration)
    for w in s.words:  # each word's span is sound, not silence
        seg = x[int(w.start * a.rate): int(w.end * a.rate)]
        assert rms(seg) > 0.02, w
    # phonemes: IPA, stress marks removed, timed inside the audio
    assert len(s.phonemes) >= 2 * len(expected) - 2
    assert_timings_sane(s.phonemes, a.duration)
    assert not any(c in p.label for p in s.phonemes for c in "ˈˌ")
    assert s.words[0].start <= s.phonemes[0].start < s.words[0].end


def test_phonemes_are_ipa_and_sit_inside_their_words():
    s = speak("Bonjour, ça va très bien", language="fr")
    labels = [p.label for p in s.phonemes]
    assert labels[:5] == ["b", "ɔ̃", "ʒ", "u", "ʁ"]  # bonjour
    assert "ɛ̃" in labels  # bien
    for w in s.words:
        inside = [p for p in s.phonemes if w.start <= p.start < w.end]
        assert inside, f"no phoneme in {w}"
        assert all(p.end <= w.end + 1e-9 for p in inside)


def test_written_words_survive_numbers_apostrophes_and_hyphens():
    _, _, words, _ = _espeak.synthesize("I'd say 42 well-known words, aujourd'hui.", "en", 170, 50)
    assert [w for _, _, w in words] == ["I'd", "say", "42", "well-known", "words", "aujourd'hui"]
    text = "Grüße aus Köln! Straße 😀 déjà vu."
    _, _, words, _ = _espeak.synthesize(text, "de", 170, 50)
    assert [w for _, _, w in words] == ["Grüße", "aus", "Köln", "Straße", "😀", "déjà", "vu"]


def test_long_text_keeps_every_word_in_order():
    text = " ".join(["Voilà très bien, ça marche à l'école aujourd'hui."] * 40)
    s = speak(text, language="fr", rate=300)
    assert [w.label for w in s.words] == re.findall(r"\w+(?:'\w+)*", text)
    assert_timings_sane(s.words, s.audio.duration)
    assert_timings_sane(s.phonemes, s.audio.duration)


# -- pitch, rate, variants and characters ----------------------------------------------------
LINE = "Hello there, how are you doing today? I am very well."


def test_pitch_raises_the_fundamental_frequency():
    low, high = f0(speak(LINE, pitch=20)), f0(speak(LINE, pitch=80))
    assert 60 < low < 200 and high > 1.4 * low, (low, high)


def test_the_characters_voice_fills_what_the_node_leaves_unset_and_set_params_win():
    def char(pitch: int, name: str = "en", rate: int = 170) -> Character:
        return Character(name="Ada", voice=Voice(engine="espeak", name=name, pitch=pitch, rate=rate))

    # a pitch set on the node wins over the character's (the run log says so)
    high = speak(LINE, character=char(20), pitch=80)
    low = speak(LINE, character=char(80), pitch=20)
    assert f0(high) > 1.4 * f0(low)
    # left unset, variant, pitch and rate come from the character
    ada = char(70, name="f3", rate=200)
    a = speak(LINE, character=ada)
    assert a == speak(LINE, variant="f3", pitch=70, rate=200)
    assert speak(LINE, character=ada, pitch=10) == speak(LINE, variant="f3", pitch=10, rate=200)
    assert speak(LINE, character=ada, rate=90, variant="m3") == speak(LINE, variant="m3", pitch=70, rate=90)
    # ... in every language: the language comes from the node
    fr = speak("Bonjour, ça va très bien", character=ada, language="fr")
    assert fr == speak("Bonjour, ça va très bien", language="fr", variant="f3", pitch=70, rate=200)
    assert fr.language == "fr"
    # a voice written with its language ("en+f3") means the variant only
    assert speak(LINE, character=char(70, name="en+f3", rate=200)) == a
    # a voice for another engine leaves the node's settings alone
    other = Character(name="Bo", voice=Voice(engine="xtts", name="bo", pitch=99, rate=450))
    assert speak(LINE, character=other, pitch=30) == speak(LINE, pitch=30)


def test_rate_changes_the_duration():
    slow, fast = speak(LINE, rate=100), speak(LINE, rate=300)
    assert slow.audio.duration > 2.0 * fast.audio.duration
    assert slow.words[-1].start > 2.0 * fast.words[-1].start
    assert [w.label for w in slow.words] == [w.label for w in fast.words]


def test_variants_change_the_voice():
    base = speak(LINE)
    for v in ("f3", "m3", "klatt"):
        other = speak(LINE, variant=v)
        assert other.audio != base.audio and rms(other.audio.samples) > 0.02
    assert f0(speak(LINE, variant="f3")) > 1.3 * f0(base)  # a female voice is higher


# -- determinism and threads -----------------------------------------------------------------
MIX = [("en", "Hello there, how are you today?", "", 50), ("fr", "Bonjour, ça va très bien", "f3", 70),
       ("es", "¿Cómo estás? Muy bien", "m3", 30), ("de", "Grüße aus Köln!", "klatt", 50),
       ("en-us", "The quick brown fox.", "whisper", 60), ("en", "Hello there, how are you today?", "caleb", 40),
       ("pt-br", "Olá, tudo bem?", "", 20), ("it", "Ciao, come stai?", "f1", 90)]


def run(case):
    language, text, variant, pitch = case
    return speak(text, language=language, variant=variant, pitch=pitch)


def test_output_is_bit_identical_whatever_ran_before():
    first = [run(c) for c in MIX]
    again = [run(c) for c in reversed(MIX)][::-1]  # other order: other state left behind
    for a, b in zip(first, again):
        assert np.array_equal(a.audio.samples, b.audio.samples)
        assert a.words == b.words and a.phonemes == b.phonemes
        assert a.digest() == b.digest()


def test_concurrent_syntheses_equal_serial_ones():
    serial = [run(c) for c in MIX]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(run, MIX))
    assert [s.digest() for s in parallel] == [s.digest() for s in serial]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc rand() and /proc/self/maps")
def test_each_synthesis_runs_in_a_fresh_library_that_is_unloaded_after():
    speak(LINE)
    copy = _espeak._get()._copy
    assert copy and os.path.exists(copy) and not _espeak._is_mapped(copy)
    with open("/proc/self/maps") as f:
        assert not any(line.rstrip().endswith(copy) for line in f)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc rand()")
def test_the_processs_rand_state_is_left_alone():
    import ctypes

    libc = ctypes.CDLL(None)
    libc.srand(7)
    expected = [libc.rand() for _ in range(3)]
    libc.srand(7)
    libc.rand()
    speak(LINE, variant="caleb")  # a voice whose noise comes from rand()
    assert [libc.rand() for _ in range(2)] == expected[1:]


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_text_is_refused(text):
    with pytest.raises(ValueError, match="text is empty: nothing to say"):
        speak(text)


def test_unknown_language_and_variant_are_named():
    with pytest.raises(ValueError, match=r"no language 'xx-nope'.*\ben\b.*\bfr\b"):
        speak("Hello", language="xx-nope")
    with pytest.raises(ValueError, match=r"no voice variant 'zz9'.*\bf3\b"):
        speak("Hello", variant="zz9")
    bob = Character(name="Bob", voice=Voice(engine="espeak", name="robotron"))
    with pytest.raises(ValueError, match="character 'Bob' has the espeak voice 'robotron'"):
        speak("Hello", character=bob)
    loud = Character(name="Cy", voice=Voice(engine="espeak", name="m1", pitch=150))
    with pytest.raises(ValueError, match=r"character 'Cy' has voice pitch 150; espeak takes 0\.\.99"):
        speak("Hello", character=loud)
    with pytest.raises(ValueError, match=r"rate must be a whole number in 80\.\.450"):
        _espeak.synthesize("Hello", "en", rate=20, pitch=50)


def test_language_names_are_forgiving():
    assert _espeak.resolve_voice("fr-FR") == _espeak.resolve_voice("fr") == "roa/fr"
    assert _espeak.resolve_voice("en_US", "F3") == "gmw/en-US+f3"
    assert _espeak.resolve_voice("es+m3") == "roa/es+m3"
    codes = dict(_espeak.list_voices())
    assert {"en", "fr", "es", "de", "pt-br", "cmn"} <= set(codes) and len(codes) > 90
    assert {"f3", "m3", "klatt", "whisper"} <= set(_espeak.list_variants())


def test_errors_reach_the_evaluator(tmp_path, registry):
    doc = Document()
    Batch([AddNode("core.text", "line", {"value": "Bonjour, ça va très bien"}),
           AddNode("voice.speak", "good", {"language": "fr", "variant": "f2"}),
           Connect("line", "text", "good", "text"),
           AddNode("voice.speak", "bad_language", {"text": "Hello", "language": "xx-nope"}),
           AddNode("voice.speak", "empty", {"text": "   "})])(doc)
    result = Evaluator(registry, output_dir=tmp_path).run(doc)
    assert result.nodes["bad_language"].status == "failed"
    assert "xx-nope" in result.nodes["bad_language"].error
    assert result.nodes["empty"].status == "failed"
    assert result.nodes["empty"].error == "text is empty: nothing to say"
    assert result.nodes["good"].status == "computed"
    s = result.value("good")
    assert isinstance(s, Speech) and [w.label for w in s.words] == SENTENCES["fr"][1]
    assert s == speak("Bonjour, ça va très bien", language="fr", variant="f2")


def test_words_espeak_says_as_one_keep_their_own_timings():
    """espeak says "on the" as one word: both written words get a span, in order, inside the sound."""
    _, _, words, phonemes = _espeak.synthesize("The cat sat on the mat.", "en", 170, 50)
    assert [w for _, _, w in words] == ["The", "cat", "sat", "on", "the", "mat"]
    on, the = words[3], words[4]
    assert on[0] < on[1] <= the[0] < the[1] <= words[5][0]
    # each got phonemes of its own: "on" starts with the vowel, "the" with its consonant
    starts = {round(a, 6): p for a, _, p in phonemes}
    assert starts[round(on[0], 6)] == "ɒ" and starts[round(the[0], 6)] == "ð"
