"""Shots and timelines: shots in order with cuts and crossfades, dialogue and music, rendered to
one video with its sound (music ducked under the dialogue)."""
from __future__ import annotations

import math
import struct
from fractions import Fraction

import blake3
import numpy as np

from nodegraph import Audio, AudioClip, Choice, Clip, Context, Int, Number, Text, Timeline, Variadic, Video, node
from nodes._fit import FITS, fit_frame
from nodes.compose import ByteLRU

RATE = 48000


def frame_of(t: float, fps: Fraction) -> int:
    """Seconds -> frame index, rounding half up (the same rule the timeline export uses)."""
    return int(math.floor(t * float(fps) + 0.5 + 1e-9))


@node("timeline.shot", title="Shot", category="Timeline")
def shot(video: Video, audio: Audio | None = None, duration: Number(min=0.0) = 0.0, label: Text = "",
         transition: Number(min=0.0, max=10.0) = 0.0, ctx: Context = None) -> Clip:
    """One shot: pictures and sound for a while, entered by a cut or a crossfade.

    Args:
        video: the shot's pictures (its own sound is the shot's dialogue unless audio is given).
        audio: the shot's dialogue or sound, instead of the video's.
        duration: length in seconds (0: the video's length).
        label: the shot's name in exported timelines.
        transition: crossfade with the previous shot, in seconds (0: a cut).
    """
    length = duration if duration > 0 else video.duration
    return Clip(duration=float(length), video=video, audio=audio if audio is not None else video.audio,
                label=label or ctx.node_id, transition=float(transition), node=ctx.node_id)


@node("timeline.timeline", title="Timeline", category="Timeline")
def timeline(shots: Variadic[Clip], music: Audio | None = None, music_gain_db: Number(min=-60.0, max=12.0) = -6.0,
             music_start: Number(min=0.0) = 0.0, width: Int(min=16, max=8192) = 1280, height: Int(min=16, max=8192) = 720,
             fps: Int(min=1, max=120) = 24, ctx: Context = None) -> Timeline:
    """Shots in order, with music under them.

    Args:
        shots: the shots, in link order.
        music: a music track (or any sound) under the whole scene.
        music_gain_db: the music's level.
        music_start: when the music starts, in seconds.
        width: picture width of the finished scene.
        height: picture height.
        fps: frames per second.
    """
    if not shots:
        raise ValueError("the timeline has no shots: link Shot nodes to 'shots'")
    if width % 2 or height % 2:
        raise ValueError(f"width and height must be even for video, got {width}x{height}")
    audio = (AudioClip(music, music_start, music_gain_db, "music", ctx.node_id),) if music is not None else ()
    return Timeline(width, height, fps, clips=tuple(shots), audio=audio)


def _samples(audio: Audio) -> np.ndarray:
    from nodes.audiodsp import resample, to_stereo

    s = audio.samples if audio.rate == RATE else resample(audio.samples, audio.rate, RATE)
    return to_stereo(s)


def _track(audio: Audio, length: int | None, fade_in: float, fade_out: float, *, half: bool = False) -> np.ndarray:
    """The sound at RATE in stereo, cut to ``length`` frames and faded in and out (seconds; with
    ``half``, the fade out is at most half what is left). Remembered by content, so a render after
    an edit redoes only the shots whose sound changed."""
    from nodes.audiodsp import fade

    def make() -> np.ndarray:
        x = _samples(audio)[:length]
        fo = min(fade_out, len(x) / RATE / 2) if half else fade_out
        x = fade(x, RATE, fade_in, fo) if fade_in or fo else x.copy()  # not a view holding all the sound
        x.flags.writeable = False
        return x

    return TRACKS.get((audio.digest(), length, fade_in, fade_out, half), make)


TRACKS = ByteLRU(256 * 1024**2)  # the shots' and the music's sound at RATE, faded


def render_audio(tl: Timeline, length_s: float, duck_db: float, fade_out: float) -> Audio:
    """Dialogue of every shot at its place (crossfaded with the shots), music ducked under it."""
    from nodes.audiodsp import db_to_gain, duck, mix

    n = int(round(length_s * RATE))
    starts = tl.starts()
    tracks = []
    for i, (c, s) in enumerate(zip(tl.clips, starts)):
        if c.audio is None:
            continue
        fin = c.transition if i else 0.0
        fout = tl.clips[i + 1].transition if i + 1 < len(tl.clips) else 0.0
        x = _track(c.audio, int(round(c.duration * RATE)), min(fin, c.duration / 2), min(fout, c.duration / 2))
        tracks.append((x, int(round(s * RATE)), 1.0))
    dialogue = mix(tracks, n, channels=2) if tracks else np.zeros((n, 2), np.float32)
    music_tracks = []
    for a in tl.audio:
        start = int(round(a.start * RATE))
        x = _track(a.audio, max(0, n - start), 0.0, fade_out, half=True)
        if len(x):
            music_tracks.append((x, start, db_to_gain(a.gain_db)))
    if not music_tracks:
        return Audio(dialogue, RATE)
    music = mix(music_tracks, n, channels=2)
    if tracks and duck_db > 0:  # keyed on the louder channel, found here: a per-row max is ~50x slower
        key = np.maximum(np.abs(dialogue[:, 0]), np.abs(dialogue[:, 1]))[:, None]
        music = duck(music, key, RATE, amount_db=duck_db)
    return Audio(mix([(dialogue, 0, 1.0), (music, 0, 1.0)], n, channels=2), RATE)


@node("timeline.render", title="Render timeline", category="Timeline")
def render(timeline: Timeline, duck_db: Number(min=0.0, max=40.0) = 10.0,
           music_fade_out: Number(min=0.0, max=30.0) = 2.0, fit: Choice(*FITS) = "fit") -> Video:
    """The finished scene: shots in order with their crossfades, dialogue, music ducked under the
    dialogue. Frames are made when an encoder asks for them.

    Args:
        timeline: the shots and music.
        duck_db: how much the music is lowered while someone speaks.
        music_fade_out: the music fades out over this many seconds at the end.
        fit: a shot of another shape than the timeline: fit (whole, with black bars), fill (covers
            the frame, the overflow cropped) or stretch (distorted to the frame's shape).
    """
    if fit not in FITS:
        raise ValueError(f"fit {fit!r} is not one of {list(FITS)}")
    tl = timeline
    fps = tl.fps
    starts = tl.starts()
    spans = [(frame_of(s, fps), frame_of(s + c.duration, fps)) for s, c in zip(starts, tl.clips)]
    n = max((b for _, b in spans), default=0)
    if n == 0:
        raise ValueError("the timeline has no frames")
    W, H = tl.width, tl.height

    def active(i: int) -> list[tuple[int, int]]:
        return [(k, i - a) for k, (a, b) in enumerate(spans) if a <= i < b]

    def clip_frame(k: int, j: int) -> np.ndarray:
        v = tl.clips[k].video
        if v is None:
            return np.zeros((H, W, 3), np.uint8)
        return fit_frame(v.rgb_frame(min(j, v.n_frames - 1)), W, H, fit)

    def clip_key(k: int, j: int) -> bytes:
        v = tl.clips[k].video
        return b"black" if v is None else v.key(min(j, v.n_frames - 1))

    def weights(i: int, act: list[tuple[int, int]]) -> list[float]:
        if len(act) == 1:
            return [1.0]
        (k0, _), (k1, _) = act[0], act[-1]
        a, b = spans[k1][0], spans[k0][1]  # the overlap: the later clip's start to the earlier's end
        t = (i - a + 0.5) / max(1, b - a)
        return [1.0 - t, t]

    def frame(i: int) -> np.ndarray:
        act = active(i)
        if not act:
            return np.zeros((H, W, 3), np.uint8)
        w = weights(i, act)
        if len(act) == 1:
            return clip_frame(*act[0])
        import cv2

        return cv2.addWeighted(clip_frame(*act[0]), w[0], clip_frame(*act[-1]), w[-1], 0.0)

    head = blake3.blake3(repr((W, H) if fit == "stretch" else (W, H, fit)).encode()).digest()

    def key(i: int) -> bytes:
        act = active(i)
        h = blake3.blake3(head)
        for (k, j), w in zip(act, weights(i, act) if act else []):
            h.update(clip_key(k, j) + struct.pack("<f", w))
        return h.digest()

    def audio() -> Audio:  # mixed when first asked for: an encoder does it beside the pictures
        return render_audio(tl, n / float(fps), duck_db, music_fade_out)

    cuts = {a for a, _ in spans} | {b for _, b in spans}  # shots and crossfades start and end there
    return Video(frame, n, W, H, fps, audio, keep=tl, frame_key=key, cuts=cuts)
