"""Value types: fingerprints, immutability, cache encoding, previews, literal checks."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from nodegraph import types as T
from nodegraph.types import ValueError_


def _roundtrip(value):
    t = T.find_type(value)
    enc = t.encode(value)
    payload = b"".join(bytes(c) for c in enc.chunks)
    assert len(payload) == enc.size
    return t, t.decode(enc.meta, memoryview(payload)), payload


def _gradient(h=64, w=96):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 2 % 256, y * 3 % 256, (x + y) % 256], axis=2).astype(np.uint8)


def sample_values():
    img = T.Image(_gradient())
    t = np.linspace(0, 1, 4800, dtype=np.float32)
    audio = T.Audio(np.stack([np.sin(2 * np.pi * 440 * t), np.cos(2 * np.pi * 220 * t)], 1), 48000)
    speech = T.Speech(T.Audio(np.sin(np.arange(2400, dtype=np.float32) / 10), 24000), "hi there", "en",
                      [T.Timing(0.0, 0.04, "hi"), T.Timing(0.05, 0.1, "there")],
                      [T.Timing(0.0, 0.02, "h"), T.Timing(0.02, 0.04, "aI")])
    video = T.Video.from_frames([_gradient(16, 24) + i for i in range(5)], 24, audio)
    char = T.Character("Ada", "a robot", references=(img,), voice=T.Voice(pitch=60, references=(audio,)),
                       sprites=(("A", img), ("O", T.Image(_gradient(8, 8)))))
    timeline = T.Timeline(1280, 720, 24, clips=(T.Clip(2.0, video=video, label="s1", node="shot_1"),
                                                T.Clip(1.5, audio=audio, transition=0.5)),
                          audio=(T.AudioClip(audio, 0.25, -6.0, "music"),))
    return [img, audio, speech, video, char, T.Prompt("a cat", "blurry", ("ink",)), timeline,
            "text", 42, 2.5, True]


@pytest.mark.parametrize("value", sample_values(), ids=lambda v: type(v).__name__)
def test_encode_decode_roundtrip_keeps_fingerprint(value):
    t, back, _ = _roundtrip(value)
    assert t.fingerprint(back) == t.fingerprint(value)
    assert back == value
    assert t.preview(value).text


def test_fingerprint_depends_on_content_only():
    a, b = _gradient(), _gradient()
    assert T.Image(a).digest() == T.Image(b).digest()
    b = b.copy()  # the array handed to Image was frozen in place (see test_values_are_immutable)
    b[0, 0, 0] ^= 1
    assert T.Image(a).digest() != T.Image(b).digest()
    # same bytes, other shape or type -> other digest
    assert T.Image(a.reshape(96, 64, 3)).digest() != T.Image(a).digest()
    assert T.Text.fingerprint("5") != T.Int.fingerprint(5)
    # records: a field change changes the digest
    assert T.Prompt("a").digest() != T.Prompt("a", style=("b",)).digest()


def test_fingerprints_are_stable_across_processes():
    code = ("import numpy as np; from nodegraph import types as T;"
            "y,x=np.mgrid[0:64,0:96];"
            "a=np.stack([x*2%256,y*3%256,(x+y)%256],2).astype(np.uint8);"
            "print(T.Image(a).digest().hex(), T.Prompt('a cat', style=('ink',)).digest().hex(), T.Text.fingerprint('hé'))")
    out1 = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    out2 = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout
    assert out1 == out2
    img_hex, prompt_hex, _ = out1.split(" ", 2)
    assert img_hex == T.Image(_gradient()).digest().hex()
    assert prompt_hex == T.Prompt("a cat", style=("ink",)).digest().hex()


def test_values_are_immutable():
    img = T.Image(_gradient())
    with pytest.raises(ValueError):
        img.pixels[0, 0, 0] = 1
    audio = T.Audio(np.zeros((10, 2), np.float32), 8000)
    with pytest.raises(ValueError):
        audio.samples[0, 0] = 1.0
    owned = _gradient()
    T.Image(owned)
    with pytest.raises(ValueError):  # an owned array is frozen in place rather than copied
        owned[0, 0, 0] = 1
    src = _gradient()
    view = src[::2]  # not owned: copied, so later writes to src cannot change the value
    img2 = T.Image(view)
    before = img2.digest()
    src[:] = 0
    assert T.Image(np.array(img2.pixels)).digest() == before
    with pytest.raises(Exception):
        T.Prompt("x").positive = "y"


def test_video_streams_frames_and_never_needs_them_all():
    calls = []

    def frame(i):
        calls.append(i)
        return np.full((72, 128, 3), i % 256, np.uint8)

    video = T.Video(frame, 500, 128, 72, 24)
    assert calls == []  # nothing rendered on construction
    enc = T.VideoT.encode(video)
    assert calls == [] and enc.size == 500 * 72 * 128 * 3  # encoding is lazy too
    it = iter(enc.chunks)
    next(it)
    assert calls == [0]
    digest = video.digest()
    assert len(calls) == 501 and video.digest() == digest  # computed once, remembered
    assert video.duration == pytest.approx(500 / 24)


def test_truncated_payload_is_detected():
    img = T.Image(_gradient())
    enc = T.ImageT.encode(img)
    payload = b"".join(bytes(c) for c in enc.chunks)
    with pytest.raises(ValueError_, match="truncated"):
        T.ImageT.decode(enc.meta, memoryview(payload[:-10]))
    video = sample_values()[3]
    t, _, payload = _roundtrip(video)
    with pytest.raises(ValueError_, match="truncated"):
        t.decode(t.encode(video).meta, memoryview(payload[:-1]))


def test_previews_are_small():
    big = T.Image(np.zeros((1080, 1920, 3), np.uint8))
    p = T.ImageT.preview(big)
    assert p.kind == "image" and max(p.image.shape[:2]) == 256 and p.image.shape[2] == 3
    a = T.Audio(np.random.default_rng(0).standard_normal((48000, 2)).astype(np.float32) * 0.1, 48000)
    w = T.AudioT.preview(a).waveform
    assert w.shape == (512, 2) and (w[:, 0] <= w[:, 1]).all()
    assert T.Text.preview("first line\nsecond").text == "first line"


@pytest.mark.parametrize("ptype, value, message", [
    (T.Int(), True, "whole number"),
    (T.Int(), 1.5, "whole number"),
    (T.Int(), 10**30, "64 bits"),
    (T.Int(min=0, max=10), 11, "above the maximum 10"),
    (T.Number(), float("nan"), "not a finite"),
    (T.Number(), "3", "expected a number"),
    (T.Number(min=0.0), -0.1, "below the minimum"),
    (T.Choice("a", "b"), "c", "not one of"),
    (T.Seed(), -1, "0 or more"),
    (T.Text(max_length=3), "abcd", "longer than the maximum"),
    (T.Bool(), 1, "expected bool"),
])
def test_literal_checks(ptype, value, message):
    with pytest.raises(ValueError_, match=message):
        ptype.from_json(value)


def test_connections_and_conversions():
    assert T.can_connect(T.Int, T.Number) and not T.can_connect(T.Number, T.Int)
    assert not T.can_connect(T.ImageT, T.Text)
    assert T.can_connect(T.ImageT, T.AnyValue)
    assert T.convert(T.Prompt("a cat", style=("ink",)), T.PromptT, T.Text) == "a cat"
    assert T.convert("a dog", T.Text, T.PromptT) == T.Prompt("a dog")
    sp = sample_values()[2]
    assert T.convert(sp, T.SpeechT, T.AudioT) is sp.audio


def test_bad_media_construction_is_explained():
    with pytest.raises(ValueError_, match=r"shape \(height, width, 1\|3\|4\)"):
        T.Image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError_, match="sample rate"):
        T.Audio(np.zeros(10, np.float32), 0)
    with pytest.raises(ValueError_, match="ordered"):
        T.Speech(T.Audio(np.zeros(10, np.float32), 10), "x", "en", [T.Timing(0.5, 0.2, "x")])
    with pytest.raises(ValueError_, match="frame 1"):
        T.Video.from_frames([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)], 24)


def test_a_video_sound_given_as_a_function_is_made_once_when_first_read():
    """A renderer hands its mix over as a function: nothing is mixed until an encoder reads the
    sound, and it is mixed once however many threads read it."""
    import threading

    calls = []

    def mix():
        calls.append(threading.current_thread().name)
        return T.Audio(np.zeros((480, 2), np.float32), 48000)

    v = T.Video(lambda i: np.zeros((4, 4, 3), np.uint8), 2, 4, 4, 24, mix)
    assert calls == []
    threads = [threading.Thread(target=lambda: v.audio) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and v.audio.rate == 48000 and v.with_audio(None).audio is None
    bad = T.Video(lambda i: np.zeros((4, 4, 3), np.uint8), 2, 4, 4, 24, lambda: "not sound")
    with pytest.raises(ValueError_, match="must be Audio, got str"):
        bad.audio
