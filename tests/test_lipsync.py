"""Lipsync without a model: the viseme table, sound-only mode, and a photo's mouth."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from nodegraph.types import Audio, Image
from nodes.character import character, find_mouth
from nodes.lipsync import OPENNESS, lipsync, viseme_of
from nodes.voice import speak

ROOT_ASSETS = Path(__file__).resolve().parent.parent / "assets" / "characters" / "mira"


def synthetic_face(w: int = 300, h: int = 360) -> np.ndarray:
    """A drawn face OpenCV's bundled face detector finds: dark eyes and brows on a light oval."""
    g = np.full((h, w), 120, np.uint8)
    cx, cy = w // 2, h // 2
    cv2.ellipse(g, (cx, cy), (int(w * 0.36), int(h * 0.42)), 0, 0, 360, 200, -1)
    for dx in (-1, 1):
        cv2.ellipse(g, (cx + dx * int(w * 0.14), cy - int(h * 0.08)), (int(w * 0.07), int(h * 0.035)), 0, 0, 360, 30, -1)
        cv2.line(g, (cx + dx * int(w * 0.06), cy - int(h * 0.16)), (cx + dx * int(w * 0.22), cy - int(h * 0.17)), 30, 8)
    cv2.line(g, (cx, cy - int(h * 0.02)), (cx, cy + int(h * 0.08)), 160, 5)
    cv2.ellipse(g, (cx, cy + int(h * 0.18)), (int(w * 0.12), int(h * 0.03)), 0, 0, 360, 50, -1)
    g = cv2.GaussianBlur(g, (0, 0), 3)
    return np.stack([g, (g * 0.85).astype(np.uint8), (g * 0.75).astype(np.uint8)], axis=2)


@pytest.mark.parametrize("label, shape", [("a", "A"), ("ɑː", "A"), ("m", "M"), ("b", "M"), ("f", "F"), ("v", "F"),
                                          ("oʊ", "O"), ("ɪ", "E"), ("s", "E"), ("u", "U"), ("w", "U"), ("l", "L"),
                                          ("t", "L"), ("", "rest"), ("_", "rest")])
def test_phonemes_map_to_mouth_shapes(label, shape):
    assert viseme_of(label) == shape


def _mira():
    from PIL import Image as PILImage

    body = Image(np.asarray(PILImage.open(ROOT_ASSETS / "body.png").convert("RGBA")))
    mouths = Image(np.asarray(PILImage.open(ROOT_ASSETS / "mouths.png").convert("RGBA")))
    return character(body, (), (), mouths=mouths, mouth_x=260.0, mouth_y=343.0)


def _mouth_darkness(video, box):
    x, y, w, h = box
    out = []
    for i in range(video.n_frames):
        f = video.frame(i)
        region = f[y:y + h, x:x + w, :3].astype(int)
        alpha = f[y:y + h, x:x + w, 3] if f.shape[2] == 4 else 255
        out.append(int(((region.sum(axis=2) < 270) & (np.asarray(alpha) > 0)).sum()))
    return np.array(out, float)


def test_sound_alone_drives_the_mouth():
    mira = _mira()
    spoken = speak("Hello there, how are you doing today?", mira, "en")
    audio = spoken.audio  # the sound only: no timings used
    video = lipsync(mira, None, audio, 24, 0.5, 0.5, 0.0)
    from nodes.lipsync import mouth_box

    dark = _mouth_darkness(video, mouth_box(mira))
    assert dark[:10].max() == dark[:10].min() and dark.max() > 5 * dark[:10].max()  # closed before the sound, open during
    # loudness per frame of the same sound (shifted by the pad) follows the mouth
    x = audio.samples[:, 0]
    rate = audio.rate

    def level(i: int) -> float:
        c = int(((i + 0.5) / 24 - 0.5) * rate)
        seg = x[max(0, c - rate // 48):max(0, c + rate // 48)]
        return float(np.sqrt(np.mean(np.square(seg)))) if len(seg) else 0.0

    level = np.array([level(i) for i in range(video.n_frames)])
    assert np.corrcoef(dark, level)[0, 1] > 0.5
    assert video.audio is not None and abs(video.audio.duration - (0.5 + audio.duration)) < 0.01


def test_a_photo_mouth_opens_with_the_speech():
    face = Image(synthetic_face())
    mx, my, mw, mh = find_mouth(face)
    assert abs((my + mh / 2) - (180 + 0.18 * 360)) < 30  # the box is on the drawn mouth
    person = character(face, (), (), mode="photo")
    spoken = speak("Open wide, say aah.", person, "en")
    video = lipsync(person, spoken, None, 24, 0.3, 0.3, 0.0)
    box = (int(mx), int(my), int(mw), int(mh) + 20)
    dark = _mouth_darkness(video, box)
    from nodes.lipsync import viseme_track

    expected = np.array([OPENNESS[v] for v in viseme_track(spoken, video.n_frames, 24, 0.3)])
    assert dark[:5].max() < dark.max() and np.corrcoef(dark, expected)[0, 1] > 0.6


def test_a_photo_without_a_face_is_a_clear_error():
    blank = Image(np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(ValueError, match="no face found in the character's photo"):
        character(blank, (), (), mode="photo")
    with pytest.raises(ValueError, match="connect a speech"):
        lipsync(_mira(), None, None, 24, 0.2, 0.2, 0.0)


def test_odd_sample_rates_are_resampled_not_rejected():
    mira = _mira()
    tone = np.sin(np.arange(11025) / 11025 * 2 * np.pi * 220).astype(np.float32) * 0.5
    video = lipsync(mira, None, Audio(tone, 11025), 24, 0.0, 0.0, 0.0)
    assert video.n_frames == 24 and video.audio.rate == 11025
