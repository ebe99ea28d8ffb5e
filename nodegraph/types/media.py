"""Media values: Image, Audio, Video (streamed), Speech (audio + timings).

All are immutable: pixel and sample arrays are read-only, and each value computes its content
digest once, on first use, and remembers it.
"""
from __future__ import annotations

from dataclasses import dataclass
import threading
from fractions import Fraction
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .. import hashing
from .base import (
    Encoded, Preview, ValueError_, ValueType, array_from, array_meta, frozen_array, register_type,
)

THUMB = 256


# -- Image -----------------------------------------------------------------------------------
class Image:
    """An image: ``pixels`` is a read-only uint8 array of shape (height, width, channels) with
    channels 1 (grey), 3 (RGB) or 4 (RGBA)."""

    __slots__ = ("pixels", "_digest")

    def __init__(self, pixels: np.ndarray):
        arr = np.asarray(pixels)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
            raise ValueError_(f"an image needs shape (height, width, 1|3|4), got {arr.shape}")
        if arr.shape[0] < 1 or arr.shape[1] < 1:
            raise ValueError_(f"an image cannot be empty, got {arr.shape}")
        if arr.dtype != np.uint8:
            if np.issubdtype(arr.dtype, np.floating):
                arr = np.clip(np.nan_to_num(arr) * 255.0 + 0.5, 0, 255).astype(np.uint8)
            else:
                raise ValueError_(f"image pixels must be uint8 or float in [0, 1], got {arr.dtype}")
        self.pixels = frozen_array(arr)
        self._digest: bytes | None = None

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def channels(self) -> int:
        return self.pixels.shape[2]

    def rgb(self) -> np.ndarray:
        """Pixels as (h, w, 3) uint8 (grey is repeated, alpha is dropped)."""
        p = self.pixels
        if p.shape[2] == 1:
            return np.repeat(p, 3, axis=2)
        return p[:, :, :3]

    def digest(self) -> bytes:
        if self._digest is None:
            self._digest = hashing.digest_array("image", self.pixels)
        return self._digest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Image) and self.digest() == other.digest()

    def __hash__(self) -> int:
        return hash(self.digest())

    def __repr__(self) -> str:
        return f"Image({self.width}x{self.height}x{self.channels})"


def thumbnail(pixels: np.ndarray, size: int = THUMB) -> np.ndarray:
    """A read-only thumbnail no larger than ``size`` on its long side (Pillow, box filter)."""
    from PIL import Image as PILImage

    h, w = pixels.shape[:2]
    scale = min(1.0, size / max(h, w))
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    if scale >= 1.0:
        return frozen_array(np.array(pixels))
    im = PILImage.fromarray(np.ascontiguousarray(pixels))
    im = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), PILImage.Resampling.BOX)
    return frozen_array(np.asarray(im))


class ImageType(ValueType):
    id, title, color = "image", "Image", (90, 200, 120)
    python, find_rank = (Image,), 20

    def fingerprint(self, value: Image) -> bytes:
        return value.digest()

    def encode(self, value: Image) -> Encoded:
        return Encoded(array_meta(value.pixels), [memoryview(value.pixels).cast("B")], value.pixels.nbytes)

    def decode(self, meta: dict, payload: memoryview) -> Image:
        return Image(array_from(meta, payload))

    def nbytes(self, value: Image) -> int:
        return value.pixels.nbytes

    def preview(self, value: Image) -> Preview:
        return Preview("image", repr(value), image=thumbnail(value.pixels))


# -- Audio -----------------------------------------------------------------------------------
class Audio:
    """Audio: ``samples`` is a read-only float32 array of shape (frames, channels), channels 1 or
    2, values nominally in [-1, 1]; ``rate`` is the sample rate in Hz."""

    __slots__ = ("samples", "rate", "_digest")

    def __init__(self, samples: np.ndarray, rate: int):
        arr = np.asarray(samples)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] not in (1, 2):
            raise ValueError_(f"audio needs shape (frames, 1|2), got {arr.shape}")
        if not isinstance(rate, (int, np.integer)) or isinstance(rate, bool) or not 1 <= rate <= 768_000:
            raise ValueError_(f"audio sample rate must be a whole number of Hz in 1..768000, got {rate!r}")
        if np.issubdtype(arr.dtype, np.integer):
            info = np.iinfo(arr.dtype)
            arr = arr.astype(np.float32) / float(max(abs(info.min), info.max))
        self.samples = frozen_array(arr, np.float32)
        self.rate = int(rate)
        self._digest: bytes | None = None

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    @property
    def frames(self) -> int:
        return self.samples.shape[0]

    @property
    def duration(self) -> float:
        return self.frames / self.rate

    def digest(self) -> bytes:
        if self._digest is None:
            h = hashing.hasher("audio")
            h.update(hashing.canonical_bytes([self.rate]))
            hashing.update_array(h, self.samples)
            self._digest = h.digest()
        return self._digest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Audio) and self.digest() == other.digest()

    def __hash__(self) -> int:
        return hash(self.digest())

    def __repr__(self) -> str:
        ch = "mono" if self.channels == 1 else "stereo"
        return f"Audio({self.duration:.2f} s, {self.rate} Hz, {ch})"


def waveform(samples: np.ndarray, buckets: int = 512) -> np.ndarray:
    """(buckets, 2) min/max of the channel mix, for drawing."""
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    n = len(mono)
    if n == 0:
        return frozen_array(np.zeros((buckets, 2), np.float32))
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    edges[1:] = np.maximum(edges[1:], edges[:-1] + 1)
    edges = np.minimum(edges, n)
    starts = np.minimum(edges[:-1], n - 1)
    mins = np.minimum.reduceat(mono, starts)
    maxs = np.maximum.reduceat(mono, starts)
    return frozen_array(np.stack([mins, maxs], axis=1).astype(np.float32))


class AudioType(ValueType):
    id, title, color = "audio", "Audio", (90, 140, 230)
    python, find_rank = (Audio,), 21
    accepts = ("speech",)

    def convert(self, value: Any, source: ValueType) -> Any:
        return value.audio if source.id == "speech" else value

    def fingerprint(self, value: Audio) -> bytes:
        return value.digest()

    def encode(self, value: Audio) -> Encoded:
        return Encoded({"rate": value.rate, **array_meta(value.samples)},
                       [memoryview(value.samples).cast("B")], value.samples.nbytes)

    def decode(self, meta: dict, payload: memoryview) -> Audio:
        return Audio(array_from(meta, payload), int(meta["rate"]))

    def nbytes(self, value: Audio) -> int:
        return value.samples.nbytes

    def preview(self, value: Audio) -> Preview:
        return Preview("audio", repr(value), waveform=waveform(value.samples))


# -- Video -----------------------------------------------------------------------------------
FrameSource = Callable[[int], np.ndarray]
_audio_lock = threading.RLock()  # a lazy sound track is made once, whichever thread asks first


class Video:
    """A video that is never required to sit in RAM whole.

    Frames come from a source function ``frame(i) -> (h, w, 3) uint8`` that must be deterministic
    (a decoder seeking in a file, a renderer, a memory map of the disk cache). ``fps`` is a
    Fraction; ``audio`` an optional Audio track, or a function that makes it (called once, the
    first time ``audio`` is read: a renderer's mix is then made while an encoder already works on
    the pictures). Iterating ``frames()`` streams them one by one.

    ``cuts`` are the frame indices where the pictures change abruptly (a shot starts or ends, a
    crossfade begins or ends): a hint for encoders, which start a new segment there, so a shot
    that only moved in time keeps its encoded segments. They do not change the frames and are
    not part of the digest.
    """

    __slots__ = ("width", "height", "fps", "n_frames", "_audio", "_audio_fn", "alpha", "cuts", "_source", "_digest",
                 "_keep", "_frame_key")

    def __init__(self, source: FrameSource, n_frames: int, width: int, height: int,
                 fps: float | Fraction, audio: "Audio | Callable[[], Audio | None] | None" = None, keep: Any = None,
                 frame_key: Callable[[int], bytes] | None = None, digest: bytes | None = None,
                 alpha: bool = False, cuts: Sequence[int] = ()):
        if n_frames < 0 or width < 1 or height < 1:
            raise ValueError_(f"a video needs width, height >= 1 and frames >= 0, got {width}x{height}, {n_frames}")
        fps = Fraction(fps).limit_denominator(1001) if not isinstance(fps, Fraction) else fps
        if fps <= 0:
            raise ValueError_(f"frames per second must be positive, got {fps}")
        self._audio_fn: Callable[[], Audio | None] | None = None
        if callable(audio) and not isinstance(audio, Audio):
            self._audio_fn, audio = audio, None
        elif audio is not None and not isinstance(audio, Audio):
            raise ValueError_(f"a video's audio must be Audio, got {type(audio).__name__}")
        self._audio: Audio | None = audio
        self._source, self.n_frames = source, int(n_frames)
        self.width, self.height, self.fps = int(width), int(height), fps
        self._digest: bytes | None = digest
        self._keep = keep  # keeps a backing object (an mmap, a file) alive with the value
        self._frame_key = frame_key
        self.alpha = bool(alpha)  # frames are (h, w, 4) RGBA: a layer to put over something
        self.cuts: tuple[int, ...] = tuple(sorted({int(c) for c in cuts if 0 < int(c) < self.n_frames}))

    @property
    def audio(self) -> Audio | None:
        """The sound track (made on first use when the producer gave a function for it)."""
        if self._audio_fn is not None:
            with _audio_lock:
                fn = self._audio_fn
                if fn is not None:
                    got = fn()
                    if got is not None and not isinstance(got, Audio):
                        raise ValueError_(f"a video's audio must be Audio, got {type(got).__name__}")
                    self._audio, self._audio_fn = got, None
        return self._audio

    @classmethod
    def from_frames(cls, frames: Sequence[np.ndarray], fps: float | Fraction, audio: Audio | None = None) -> "Video":
        """A (short) video from frames already in memory."""
        images = [Image(f) for f in frames]
        frozen = [np.ascontiguousarray(im.rgb()) for im in images]
        if not frozen:
            raise ValueError_("from_frames needs at least one frame")
        h, w = frozen[0].shape[:2]
        for i, f in enumerate(frozen):
            if f.shape[:2] != (h, w):
                raise ValueError_(f"frame {i} is {f.shape[1]}x{f.shape[0]}, frame 0 is {w}x{h}")
        keys = [hashing.digest_array("frame", f) for f in frozen]
        return cls(frozen.__getitem__, len(frozen), w, h, fps, audio, keep=frozen, frame_key=keys.__getitem__)

    def with_audio(self, audio: "Audio | Callable[[], Audio | None] | None") -> "Video":
        """The same pictures with another sound track."""
        return Video(self._source, self.n_frames, self.width, self.height, self.fps, audio, keep=self._keep,
                     frame_key=self._frame_key, alpha=self.alpha, cuts=self.cuts)

    @classmethod
    def from_image(cls, image: "Image", fps: float | Fraction = 24) -> "Video":
        """A one-frame video of an image (compositors hold a one-frame layer for the whole shot)."""
        px = np.ascontiguousarray(image.pixels if image.channels == 4 else image.rgb())
        px.flags.writeable = False
        key = image.digest()
        return cls(lambda i: px, 1, image.width, image.height, fps, keep=px, frame_key=lambda i: key,
                   alpha=image.channels == 4)

    def key(self, i: int) -> bytes:
        """A digest identifying frame ``i``'s pixels, cheap when the producer knows its recipe
        (a still, a composite of keyed layers): encoders use it to reuse unchanged segments."""
        if self._frame_key is not None:
            return self._frame_key(i)
        return hashing.digest_array("frame", np.ascontiguousarray(self.frame(i)))

    @property
    def has_frame_keys(self) -> bool:
        return self._frame_key is not None

    @property
    def duration(self) -> float:
        return float(self.n_frames / self.fps)

    def frame(self, i: int) -> np.ndarray:
        if not 0 <= i < self.n_frames:
            raise IndexError(f"frame {i} is outside 0..{self.n_frames - 1}")
        f = np.asarray(self._source(i))
        ch = 4 if self.alpha else 3
        if f.shape != (self.height, self.width, ch) or f.dtype != np.uint8:
            raise ValueError_(f"frame {i} has shape {f.shape} {f.dtype}, expected ({self.height}, {self.width}, {ch}) uint8")
        return f

    def rgb_frame(self, i: int) -> np.ndarray:
        """Frame ``i`` as RGB (an RGBA frame is put over black)."""
        f = self.frame(i)
        if not self.alpha:
            return f
        a = f[:, :, 3:4].astype(np.uint16)
        return ((f[:, :, :3].astype(np.uint16) * a + 127) // 255).astype(np.uint8)

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        stop = self.n_frames if stop is None else min(stop, self.n_frames)
        for i in range(start, stop):
            yield self.frame(i)

    def digest(self) -> bytes:
        """Content digest: from the frames' keys (cheap for recipe-keyed videos) or pixels, and
        the sound. A producer that knows the video's recipe may set it directly (``digest=``);
        the evaluator does so for videos made by a node (keyed by the node's cache key)."""
        if self._digest is None:
            h = hashing.hasher("video")
            h.update(hashing.canonical_bytes([self.width, self.height, self.fps.numerator,
                                              self.fps.denominator, self.n_frames, self.alpha]))
            for i in range(self.n_frames):
                h.update(self.key(i))
            h.update(self.audio.digest() if self.audio is not None else b"-")
            self._digest = h.digest()
        return self._digest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Video) and self.digest() == other.digest()

    def __hash__(self) -> int:
        return hash(self.digest())

    def __repr__(self) -> str:
        a = ", with audio" if self.audio is not None else ""
        return f"Video({self.width}x{self.height}, {self.n_frames} frames @ {float(self.fps):g} fps{a})"


class VideoType(ValueType):
    """Videos stay lazy (frames are produced when pulled) and are never written to the disk
    cache whole: their recipe is cheap to redo; encoders cache encoded segments instead."""

    id, title, color = "video", "Video", (230, 110, 160)
    python, find_rank = (Video,), 22
    persistent = False
    accepts = ("image",)

    def convert(self, value: Any, source: ValueType) -> Any:
        return Video.from_image(value) if source.id == "image" else value

    def fingerprint(self, value: Video) -> bytes:
        return value.digest()

    def encode(self, value: Video) -> Encoded:
        frame_bytes = value.width * value.height * 3
        audio_size = value.audio.samples.nbytes if value.audio is not None else 0
        meta = {"w": value.width, "h": value.height, "fps": [value.fps.numerator, value.fps.denominator],
                "n": value.n_frames, "audio": None, "digest": value._digest,  # only if already known
                "cuts": list(value.cuts)}
        chunks: list[Any] = []
        if value.audio is not None:
            meta["audio"] = {"rate": value.audio.rate, **array_meta(value.audio.samples)}
            chunks.append(memoryview(value.audio.samples).cast("B"))

        def stream() -> Iterator[Any]:
            yield from chunks
            for f in value.frames():
                yield memoryview(np.ascontiguousarray(f)).cast("B")

        return Encoded(meta, stream(), audio_size + frame_bytes * value.n_frames)

    def decode(self, meta: dict, payload: memoryview) -> Video:
        w, h, n = int(meta["w"]), int(meta["h"]), int(meta["n"])
        audio, offset = None, 0
        if meta.get("audio"):
            am = meta["audio"]
            audio = Audio(array_from(am, payload), int(am["rate"]))
            offset = audio.samples.nbytes
        frame_bytes = w * h * 3
        if offset + frame_bytes * n > len(payload):
            raise ValueError_(f"truncated video payload: need {offset + frame_bytes * n} bytes, have {len(payload)}")

        def source(i: int, _p: memoryview = payload, _o: int = offset) -> np.ndarray:
            a = np.frombuffer(_p, np.uint8, frame_bytes, _o + i * frame_bytes).reshape(h, w, 3)
            return a

        return Video(source, n, w, h, Fraction(*meta["fps"]), audio, keep=payload,
                     digest=bytes(meta["digest"]) if meta.get("digest") else None, cuts=meta.get("cuts") or ())

    def nbytes(self, value: Video) -> int:
        keep = value._keep
        frames = sum(f.nbytes for f in keep) if isinstance(keep, list) else 0  # streamed: not held
        sound = value._audio  # a sound not made yet is not held either (and is not made to count it)
        return frames + (sound.samples.nbytes if sound is not None else 0)

    def preview(self, value: Video) -> Preview:
        img = thumbnail(value.frame(0)) if value.n_frames else None
        return Preview("video", repr(value), image=img,
                       waveform=waveform(value.audio.samples) if value.audio is not None else None)


# -- Speech ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timing:
    """One timed unit of speech: a word or a phoneme, ``start``/``end`` in seconds."""

    start: float
    end: float
    label: str


class Speech:
    """Spoken audio with its text, language and word / phoneme timings (for lipsync, subtitles)."""

    __slots__ = ("audio", "text", "language", "words", "phonemes", "_digest")

    def __init__(self, audio: Audio, text: str, language: str,
                 words: Sequence[Timing] = (), phonemes: Sequence[Timing] = ()):
        if not isinstance(audio, Audio):
            raise ValueError_(f"speech needs Audio, got {type(audio).__name__}")
        for kind, seq in (("word", words), ("phoneme", phonemes)):
            last = 0.0
            for t in seq:
                if not (0.0 <= t.start <= t.end) or t.start < last - 1e-9:
                    raise ValueError_(f"{kind} timings must be ordered and non-negative, got {t}")
                last = t.start
        self.audio, self.text, self.language = audio, str(text), str(language)
        self.words, self.phonemes = tuple(words), tuple(phonemes)
        self._digest: bytes | None = None

    def _tree(self) -> list:
        return [self.text, self.language, [[t.start, t.end, t.label] for t in self.words],
                [[t.start, t.end, t.label] for t in self.phonemes]]

    def digest(self) -> bytes:
        if self._digest is None:
            h = hashing.hasher("speech")
            h.update(self.audio.digest())
            h.update(hashing.canonical_bytes(self._tree()))
            self._digest = h.digest()
        return self._digest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Speech) and self.digest() == other.digest()

    def __hash__(self) -> int:
        return hash(self.digest())

    def __repr__(self) -> str:
        return f"Speech({self.language}, {self.audio.duration:.2f} s, {len(self.words)} words: {self.text[:30]!r})"


class SpeechType(ValueType):
    id, title, color = "speech", "Speech", (120, 110, 230)
    python, find_rank = (Speech,), 23

    def fingerprint(self, value: Speech) -> bytes:
        return value.digest()

    def encode(self, value: Speech) -> Encoded:
        s = value.audio.samples
        return Encoded({"rate": value.audio.rate, **array_meta(s), "tree": value._tree()},
                       [memoryview(s).cast("B")], s.nbytes)

    def decode(self, meta: dict, payload: memoryview) -> Speech:
        text, lang, words, phonemes = meta["tree"]
        return Speech(Audio(array_from(meta, payload), int(meta["rate"])), text, lang,
                      [Timing(float(a), float(b), str(c)) for a, b, c in words],
                      [Timing(float(a), float(b), str(c)) for a, b, c in phonemes])

    def nbytes(self, value: Speech) -> int:
        return value.audio.samples.nbytes + 64 * (len(value.words) + len(value.phonemes))

    def preview(self, value: Speech) -> Preview:
        return Preview("audio", repr(value), waveform=waveform(value.audio.samples))


ImageT = register_type(ImageType())
AudioT = register_type(AudioType())
VideoT = register_type(VideoType())
SpeechT = register_type(SpeechType())
