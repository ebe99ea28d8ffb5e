"""Structured values (records): Prompt, Character, Timeline, and the machinery to add more.

A record is a frozen dataclass whose fields hold primitives, tuples and other values (images,
audio, other records). Fingerprinting, disk-cache encoding and previews are derived from the
fields, so a new record type is a dataclass plus one ``register_record`` call.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar, Iterator

from .. import hashing
from .base import TYPES, Encoded, Preview, ValueError_, ValueType, find_type, register_type
from .media import Audio, Image, Video


class Record:
    """Base of record values (frozen dataclasses). ``type_id`` names the value type."""

    type_id: ClassVar[str] = ""

    def digest(self) -> bytes:
        d = self.__dict__.get("_digest")
        if d is None:
            tree, parts = to_tree(self)
            d = hashing.hasher(self.type_id)
            d.update(hashing.canonical_bytes(tree))
            for p in parts:
                d.update(find_type(p).fingerprint(p))
            d = d.digest()
            object.__setattr__(self, "_digest", d)
        return d

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.digest() == other.digest()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self.digest())


def _fields(rec: Record) -> dict:
    return {f.name: getattr(rec, f.name) for f in dataclasses.fields(rec)}


def to_tree(value: Any, parts: list | None = None, top: bool = True) -> tuple[Any, list]:
    """Split a record into a msgpack-able tree and the media values it references (``parts``)."""
    parts = [] if parts is None else parts

    def walk(x: Any, top: bool = False) -> Any:
        if isinstance(x, Record) and top:
            return {"@r": x.type_id, "f": {k: walk(v) for k, v in _fields(x).items()}}
        if isinstance(x, (Image, Audio, Video, Record)) or (find_type(x) is not None and not find_type(x).literal):
            parts.append(x)
            return {"@p": len(parts) - 1}
        if isinstance(x, Fraction):
            return {"@q": [x.numerator, x.denominator]}
        if isinstance(x, (list, tuple)):
            return [walk(v) for v in x]
        if isinstance(x, dict):
            return {str(k): walk(v) for k, v in x.items()}
        if x is None or isinstance(x, (str, int, float, bool, bytes)):
            return x
        raise ValueError_(f"a record field cannot hold {type(x).__name__}")

    return walk(value, top), parts


def from_tree(tree: Any, parts: list) -> Any:
    if isinstance(tree, dict):
        if "@r" in tree:
            cls = RECORD_CLASSES[tree["@r"]]
            return cls(**{k: from_tree(v, parts) for k, v in tree["f"].items()})
        if "@p" in tree:
            return parts[tree["@p"]]
        if "@q" in tree:
            return Fraction(*tree["@q"])
        return {k: from_tree(v, parts) for k, v in tree.items()}
    if isinstance(tree, list):
        return tuple(from_tree(v, parts) for v in tree)
    return tree


RECORD_CLASSES: dict[str, type] = {}


class RecordType(ValueType):
    """Value type of a record class; everything is derived from the dataclass fields."""

    find_rank = 30

    def __init__(self, cls: type, title: str, color: tuple[int, int, int], accepts: tuple[str, ...] = ()):
        self.id, self.title, self.color, self.python, self.accepts = cls.type_id, title, color, (cls,), accepts
        self.cls = cls

    def fingerprint(self, value: Record) -> bytes:
        return value.digest()

    def encode(self, value: Record) -> Encoded:
        tree, parts = to_tree(value)
        metas, streams, size = [], [], 0
        for p in parts:
            enc = find_type(p).encode(p)
            metas.append({"t": find_type(p).id, "m": enc.meta, "off": size, "n": enc.size})
            streams.append(enc.chunks)
            size += enc.size

        def chunks() -> Iterator[Any]:
            for s in streams:
                yield from s

        return Encoded({"tree": tree, "parts": metas}, chunks(), size)

    def decode(self, meta: dict, payload: memoryview) -> Record:
        parts = []
        for pm in meta["parts"]:
            off, n = int(pm["off"]), int(pm["n"])
            if off + n > len(payload):
                raise ValueError_(f"truncated record payload: need {off + n} bytes, have {len(payload)}")
            parts.append(TYPES[pm["t"]].decode(pm["m"], payload[off:off + n]))
        return from_tree(meta["tree"], parts)

    def can_persist(self, value: Record) -> bool:
        _, parts = to_tree(value)
        return all(find_type(p).can_persist(p) for p in parts)

    def nbytes(self, value: Record) -> int:
        _, parts = to_tree(value)
        return 256 + sum(find_type(p).nbytes(p) for p in parts)

    def preview(self, value: Record) -> Preview:
        return Preview("record", value.summary() if hasattr(value, "summary") else repr(value))


def register_record(cls: type, title: str, color: tuple[int, int, int], accepts: tuple[str, ...] = (),
                    type_class: type[RecordType] = RecordType) -> RecordType:
    """Register a record class as a value type (``type_class``: a ``RecordType`` subclass, for a
    type that converts what it ``accepts`` in its own way)."""
    if not cls.type_id:
        raise ValueError(f"{cls.__name__} needs a type_id")
    RECORD_CLASSES[cls.type_id] = cls
    return register_type(type_class(cls, title, color, accepts))  # type: ignore[return-value]


def _tuple(v: Any) -> tuple:
    return tuple(v) if not isinstance(v, tuple) else v


# -- Prompt ----------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Prompt(Record):
    """What to generate: positive text, negative text and style tags."""

    type_id: ClassVar[str] = "prompt"
    positive: str
    negative: str = ""
    style: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "style", _tuple(self.style))

    @property
    def text(self) -> str:
        """Positive text with the style tags appended, as most text-to-image models expect."""
        return ", ".join([self.positive, *self.style]) if self.style else self.positive

    def summary(self) -> str:
        return self.text if len(self.text) <= 80 else self.text[:77] + "..."


class PromptType(RecordType):
    def convert(self, value: Any, source: ValueType) -> Any:
        return Prompt(positive=value) if source.id == "text" else value


# -- Character -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Voice(Record):
    """How a character sounds: an engine's voice name, pitch/rate, and reference recordings."""

    type_id: ClassVar[str] = "voice"
    engine: str = "espeak"
    name: str = "en"
    pitch: int = 50
    rate: int = 170
    references: tuple[Audio, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "references", _tuple(self.references))


@dataclass(frozen=True, eq=False)
class Character(Record):
    """One character, fed to every shot so it looks and sounds the same everywhere.

    ``mouth`` is "sprites" (drawn character: ``sprites`` maps mouth-shape names to images placed at
    ``anchor``) or "photo" (the mouth region of a reference photo is found and animated).
    """

    type_id: ClassVar[str] = "character"
    name: str
    description: str = ""
    references: tuple[Image, ...] = ()
    voice: Voice = field(default_factory=Voice)
    seed: int = 0
    mouth: str = "sprites"
    sprites: tuple[tuple[str, Image], ...] = ()
    anchor: tuple[float, float] = (0.5, 0.7)

    def __post_init__(self) -> None:
        object.__setattr__(self, "references", _tuple(self.references))
        object.__setattr__(self, "sprites", tuple(tuple(p) for p in self.sprites))
        object.__setattr__(self, "anchor", _tuple(self.anchor))
        if self.mouth not in ("sprites", "photo"):
            raise ValueError_(f"character mouth must be 'sprites' or 'photo', got {self.mouth!r}")

    def summary(self) -> str:
        return f"{self.name} ({len(self.references)} reference image(s), voice {self.voice.engine}:{self.voice.name})"


# -- Timeline --------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Clip(Record):
    """A shot on the timeline: picture and/or sound for ``duration`` seconds, entered by a cut or
    a crossfade of ``transition`` seconds. ``node`` is the id of the node that made it."""

    type_id: ClassVar[str] = "clip"
    duration: float
    video: Video | None = None
    audio: Audio | None = None
    label: str = ""
    transition: float = 0.0
    node: str = ""


@dataclass(frozen=True, eq=False)
class AudioClip(Record):
    """A sound placed on an audio track at ``start`` seconds with a gain in dB."""

    type_id: ClassVar[str] = "audio_clip"
    audio: Audio
    start: float = 0.0
    gain_db: float = 0.0
    label: str = ""
    node: str = ""


@dataclass(frozen=True, eq=False)
class Timeline(Record):
    """Shots in order (with cuts and crossfades) plus extra audio tracks (music, effects)."""

    type_id: ClassVar[str] = "timeline"
    width: int
    height: int
    fps: Fraction
    clips: tuple[Clip, ...] = ()
    audio: tuple[AudioClip, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "fps", Fraction(self.fps).limit_denominator(1001))
        object.__setattr__(self, "clips", _tuple(self.clips))
        object.__setattr__(self, "audio", _tuple(self.audio))

    def starts(self) -> list[float]:
        """Start time (seconds) of each clip: a clip's ``transition`` overlaps it with the previous
        clip by that many seconds (a crossfade); 0 is a cut."""
        out, t = [], 0.0
        for i, c in enumerate(self.clips):
            if i:
                t -= min(c.transition, self.clips[i - 1].duration, c.duration)
            out.append(t)
            t += c.duration
        return out

    @property
    def duration(self) -> float:
        """The pictures' length; a timeline of sound only lasts as long as its sounds (sound
        that runs past the last picture is cut when rendered)."""
        if self.clips:
            return self.starts()[-1] + self.clips[-1].duration
        return max((a.start + a.audio.duration for a in self.audio), default=0.0)

    def summary(self) -> str:
        return f"Timeline({len(self.clips)} shots, {self.duration:.2f} s, {self.width}x{self.height})"


RECORD_CLASSES["prompt"] = Prompt
PromptT = register_type(PromptType(Prompt, "Prompt", (240, 170, 60), accepts=("text",)))
VoiceT = register_record(Voice, "Voice", (170, 130, 200))
CharacterT = register_record(Character, "Character", (240, 120, 80))
ClipT = register_record(Clip, "Clip", (200, 200, 120))
AudioClipT = register_record(AudioClip, "Audio clip", (120, 160, 200))
TimelineT = register_record(Timeline, "Timeline", (220, 90, 90))
