"""Lipsync with no model: phoneme timings (or the sound itself) drive the mouth.

Speech from the Speak node carries IPA phonemes with times; each maps to a mouth shape (viseme),
held at least two frames (closures of m/b/p always show) and blended over one frame at changes.
For sound without timings (a recording), loudness and brightness per frame pick the shape. A
drawn character gets its mouth sprite at the mouth anchor; a photo gets its mouth region opened.
"""
from __future__ import annotations

import bisect
import struct

import blake3
import numpy as np

from nodegraph import Audio, Character, Image, Int, Number, Speech, Video, node

# IPA (first symbols of a phoneme label) -> viseme; longest prefix wins
VISEMES: dict[str, str] = {}
for _v, _syms in {
    "A": "a ɑ æ ʌ ɐ aɪ aʊ ã ɑ̃",
    "E": "e ɛ i ɪ eɪ ə ɜ ɚ ɝ j ɨ ɘ ẽ ɛ̃ s z ʃ ʒ tʃ dʒ ts dz ç ʝ",
    "O": "o ɔ oʊ əʊ ɒ ɔɪ ɔ̃ õ",
    "U": "u ʊ w ɥ y ʏ ø œ œ̃ ɹ r ʁ ɾ ʀ",
    "M": "m b p ɱ",
    "F": "f v",
    "L": "l t d n θ ð ɫ ʎ ɲ ŋ k g ɡ x ɣ h ʔ c ɟ ɬ",
}.items():
    for _s in _syms.split():
        VISEMES[_s] = _v
_PREFIXES = sorted(VISEMES, key=len, reverse=True)
OPENNESS = {"rest": 0.0, "M": 0.0, "F": 0.15, "L": 0.35, "U": 0.4, "E": 0.5, "O": 0.8, "A": 1.0}


def viseme_of(label: str) -> str:
    """The mouth shape for one IPA phoneme label ('' and pauses: rest)."""
    label = label.strip().lstrip("ˈˌ'").replace("ː", "")
    for p in _PREFIXES:
        if label.startswith(p):
            return VISEMES[p]
    return "rest"


def viseme_track(speech: Speech, n: int, fps: float, offset: float) -> list[str]:
    """One viseme per frame (frame centres), from phoneme timings."""
    ph = [p for p in speech.phonemes if p.end > p.start]
    starts = [p.start for p in ph]
    track = []
    for i in range(n):
        t = (i + 0.5) / fps - offset
        k = bisect.bisect_right(starts, t) - 1
        track.append(viseme_of(ph[k].label) if k >= 0 and t < ph[k].end else "rest")
    # make sure short closures (m/b/p) are seen: a phoneme shorter than a frame can fall between centres
    for p in ph:
        if viseme_of(p.label) == "M":
            i = int((p.start + offset) * fps + 0.5)
            if 0 <= i < n and track[i] != "M":
                track[i] = "M"
    # hold: a shape lasting one frame between two equal neighbours is a flicker
    for i in range(1, n - 1):
        if track[i - 1] == track[i + 1] != track[i] and track[i] not in ("M",):
            track[i] = track[i - 1]
    return track


def audio_track(audio: Audio, n: int, fps: float, offset: float) -> list[str]:
    """Visemes from sound alone: loudness opens the mouth, brightness spreads it (E) or rounds it (O)."""
    x = audio.samples.mean(axis=1)
    rate = audio.rate
    win = max(1, int(rate / fps))
    rms, bright = np.zeros(n, np.float32), np.zeros(n, np.float32)
    for i in range(n):
        a = int(((i + 0.5) / fps - offset) * rate - win / 2)
        seg = x[max(0, a):max(0, a + win)]
        if len(seg) < 16:
            continue
        rms[i] = float(np.sqrt(np.mean(seg * seg)))
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        freqs = np.fft.rfftfreq(len(seg), 1.0 / rate)
        bright[i] = float((spec * freqs).sum() / (spec.sum() + 1e-9))
    ref = float(np.percentile(rms[rms > 0], 95)) if (rms > 0).any() else 1.0
    level = np.clip(rms / (ref + 1e-9), 0, 1)
    mid = float(np.median(bright[level > 0.2])) if (level > 0.2).any() else 1500.0
    track = []
    for lv, br in zip(level, bright):
        if lv < 0.12:
            track.append("rest")
        elif lv < 0.35:
            track.append("L")
        elif lv < 0.65:
            track.append("E" if br >= mid else "U")
        else:
            track.append("A" if br >= mid else "O")
    return track


def _sprite_frames(character: Character) -> dict[str, np.ndarray]:
    """The character with each mouth sprite pasted at its anchor (RGBA), one per shape."""
    from nodes.compose import paste

    body = character.references[0]
    base = body.pixels if body.channels == 4 else np.concatenate(
        [body.rgb(), np.full(body.pixels.shape[:2] + (1,), 255, np.uint8)], axis=2)
    ax, ay = character.anchor[0] * body.width, character.anchor[1] * body.height
    out = {}
    H, W = base.shape[:2]
    for name, sprite in character.sprites:
        frame = np.array(base)
        x0, y0 = int(round(ax - sprite.width / 2)), int(round(ay - sprite.height / 2))
        # only the sprite's rectangle (clipped to the picture) changes: blend there alone
        bx0, by0 = min(max(x0, 0), W), min(max(y0, 0), H)
        bx1, by1 = max(bx0, min(x0 + sprite.width, W)), max(by0, min(y0 + sprite.height, H))
        rgb = np.ascontiguousarray(frame[by0:by1, bx0:bx1, :3])
        paste(rgb, sprite.pixels, x0 - bx0, y0 - by0)
        frame[by0:by1, bx0:bx1, :3] = rgb
        frame.flags.writeable = False
        out[name] = frame
    return out


def _photo_frame(photo: np.ndarray, box: tuple[int, int, int, int], openness: float) -> np.ndarray:
    """The photo with its mouth opened by ``openness`` (0..1): the lower lip drops and a dark
    mouth interior appears, feathered into the face."""
    import cv2

    out = np.array(photo)
    if openness <= 0.02:
        return out
    x, y, w, h = box
    H, W = out.shape[:2]
    drop = int(round(openness * h * 0.55))
    cx, cy = x + w // 2, y + h // 2
    # move the lower half of the mouth box down by `drop`
    y_mid = cy
    lower = photo[y_mid:min(H, y + h + drop), x:x + w]
    dst_y0 = y_mid + drop
    dst = out[dst_y0:min(H, dst_y0 + lower.shape[0]), x:x + w]
    dst[:] = lower[:dst.shape[0]]
    mask = np.zeros((H, W), np.float32)
    cv2.ellipse(mask, (cx, y_mid + drop // 2), (int(w * 0.36), max(1, drop // 2 + 1)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, w / 30))[:, :, None]
    interior = np.array([60, 18, 24], np.float32)
    out[:] = (out.astype(np.float32) * (1 - mask) + interior * mask).astype(np.uint8)
    return out


@node("lipsync.visemes", title="Lipsync", category="Character")
def lipsync(character: Character, speech: Speech | None = None, audio: Audio | None = None,
            fps: Int(min=1, max=120) = 24, pad_before: Number(min=0.0, max=60.0) = 0.25,
            pad_after: Number(min=0.0, max=60.0) = 0.5, duration: Number(min=0.0) = 0.0) -> Video:
    """The character speaking: its mouth follows the speech. The video carries the sound.

    Args:
        character: who speaks (drawn with mouth sprites, or a photo).
        speech: a spoken line with phoneme timings (from Speak): the most accurate.
        audio: or any sound (a recording): the mouth follows its loudness and brightness.
        fps: frames per second.
        pad_before: seconds of closed mouth before the line starts.
        pad_after: seconds after it ends.
        duration: total length in seconds (0: the line plus the pads).
    """
    if speech is None and audio is None:
        raise ValueError("connect a speech (with timings) or an audio input")
    sound = speech.audio if speech is not None else audio
    length = duration if duration > 0 else pad_before + sound.duration + pad_after
    n = max(1, int(round(length * fps)))
    track = viseme_track(speech, n, fps, pad_before) if speech is not None and speech.phonemes \
        else audio_track(sound, n, fps, pad_before)
    from nodes.compose import _mix_audio

    voice = _mix_audio(None, sound, pad_before)
    tag = character.digest()
    body = character.references[0]
    if character.mouth == "sprites":
        names = {name for name, _ in character.sprites}
        fallback = {v: v if v in names else "rest" for v in OPENNESS}
        frames = _sprite_frames(character)

        def shape(i: int) -> tuple[str, str]:
            cur = fallback[track[i]]
            prev = fallback[track[i - 1]] if i else cur
            return prev, cur

        def frame(i: int) -> np.ndarray:
            prev, cur = shape(i)
            if prev == cur or cur == "M" or prev == "M":
                return frames[cur]
            blend = (frames[prev].astype(np.uint16) + frames[cur].astype(np.uint16)) // 2  # one-frame blend
            return blend.astype(np.uint8)

        def key(i: int) -> bytes:
            prev, cur = shape(i)
            return blake3.blake3(tag + prev.encode() + b"/" + cur.encode()).digest()

        return Video(frame, n, body.width, body.height, fps, voice, keep=frames, frame_key=key, alpha=True)

    from nodes.character import find_mouth

    mx, my, mw, mh = find_mouth(body)
    box = (int(mx), int(my), int(mw), int(mh))
    photo = np.ascontiguousarray(body.rgb())
    levels = [round(OPENNESS[v] * 8) / 8 for v in track]
    smooth = [levels[0]] + [(levels[i - 1] + levels[i]) / 2 for i in range(1, n)]

    def pframe(i: int) -> np.ndarray:
        return _photo_frame(photo, box, smooth[i])

    def pkey(i: int) -> bytes:
        return blake3.blake3(tag + struct.pack("<d", smooth[i])).digest()

    return Video(pframe, n, body.width, body.height, fps, voice, keep=photo, frame_key=pkey)


def mouth_box(character: Character) -> tuple[int, int, int, int]:
    """Where the mouth is on the character's image, in pixels (x, y, w, h): for tests and previews."""
    body: Image = character.references[0]
    if character.mouth == "sprites":
        sw, sh = max((s.width, s.height) for _, s in character.sprites)
        ax, ay = character.anchor[0] * body.width, character.anchor[1] * body.height
        return int(ax - sw / 2), int(ay - sh / 2), sw, sh
    from nodes.character import find_mouth

    x, y, w, h = (int(v) for v in find_mouth(body))
    return x, y, w, h
