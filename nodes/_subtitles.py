"""Timed text for the speech pack (``nodes/speech.py``): the ``Subtitles`` value, cues grouped from
word timings, and SubRip (SRT) / WebVTT writing and reading.

``Subtitles`` holds cues of (start, end, text) in time order and a language code; a Speech
linked to a Subtitles input becomes cues grouped from its words. Files are read as untrusted
input: every fault names the file and the cue.
"""
from __future__ import annotations

import html
import math
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any, ClassVar

from nodegraph import Record, RecordType, Speech, Timing, ValueError_, ValueType, register_record

NO_SPACE_LANGUAGES = {"zh", "ja", "th", "lo", "my", "yue", "bo"}
SENTENCE_END = (".", "!", "?", "…", "。", "！", "？")

# ISO 639-2/3 -> 639-1, to compare "en", "eng", "eng_Latn", ">>fra<<" and "fr-CA" alike
_ISO3 = {
    "eng": "en", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de", "spa": "es", "ita": "it", "por": "pt",
    "nld": "nl", "dut": "nl", "rus": "ru", "ukr": "uk", "pol": "pl", "ces": "cs", "cze": "cs", "slk": "sk",
    "slo": "sk", "swe": "sv", "dan": "da", "fin": "fi", "nob": "nb", "nno": "nn", "nor": "no", "ell": "el",
    "gre": "el", "tur": "tr", "ara": "ar", "arb": "ar", "heb": "he", "hin": "hi", "ben": "bn", "jpn": "ja",
    "kor": "ko", "zho": "zh", "chi": "zh", "cmn": "zh", "vie": "vi", "tha": "th", "ind": "id", "zsm": "ms",
    "msa": "ms", "may": "ms", "ron": "ro", "rum": "ro", "hun": "hu", "cat": "ca", "pes": "fa", "fas": "fa",
    "per": "fa", "swh": "sw", "swa": "sw", "bul": "bg", "hrv": "hr", "srp": "sr", "slv": "sl", "est": "et",
    "lvs": "lv", "lav": "lv", "lit": "lt", "isl": "is", "ice": "is", "gle": "ga", "cym": "cy", "wel": "cy",
    "eus": "eu", "baq": "eu", "glg": "gl", "afr": "af", "urd": "ur", "tam": "ta", "tel": "te", "mar": "mr",
    "guj": "gu", "kan": "kn", "mal": "ml", "pan": "pa", "tgl": "tl", "fil": "tl", "mkd": "mk", "bel": "be",
    "kat": "ka", "hye": "hy", "kaz": "kk", "uzn": "uz", "uzb": "uz", "azj": "az", "aze": "az", "sqi": "sq",
    "als": "sq", "bos": "bs", "epo": "eo", "lat": "la", "ltz": "lb", "mlt": "mt", "nep": "ne", "npi": "ne",
    "sin": "si", "khm": "km", "lao": "lo", "mya": "my", "amh": "am", "som": "so", "yor": "yo", "zul": "zu",
    "xho": "xh", "hau": "ha", "ibo": "ig",
}


def base_language(code: str) -> str:
    """A language code reduced to ISO 639-1 where known: fr, fra, fra_Latn, __fr__, >>fr<< and fr-CA
    all give "fr" (lower case; other codes come back as their first part)."""
    c = (code or "").strip().strip("<>_").replace("_", "-").lower()
    head = c.split("-", 1)[0]
    return _ISO3.get(head, head)


# -- the Subtitles value -----------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Subtitles(Record):
    """Timed text: ``cues`` are (start s, end s, text) ordered by start (text may hold line
    breaks), ``language`` a language code ("" when unknown)."""

    type_id: ClassVar[str] = "subtitles"
    cues: tuple[tuple[float, float, str], ...] = ()
    language: str = ""

    def __post_init__(self) -> None:
        cues, last = [], 0.0
        for i, cue in enumerate(self.cues, 1):
            try:
                a, b, text = cue
                a, b = float(a), float(b)
            except (TypeError, ValueError):
                raise ValueError_(f"subtitle cue {i} must be (start, end, text), got {cue!r}") from None
            if not (math.isfinite(a) and math.isfinite(b)) or a < 0 or b < a:
                raise ValueError_(f"subtitle cue {i} runs from {a} s to {b} s: a cue needs 0 <= start <= end")
            if a < last - 1e-9:
                raise ValueError_(f"subtitle cue {i} starts at {a:.3f} s, before cue {i - 1} ({last:.3f} s): "
                                  f"cues must be in time order")
            last = a
            cues.append((a, b, str(text)))
        object.__setattr__(self, "cues", tuple(cues))
        object.__setattr__(self, "language", str(self.language or ""))

    @property
    def text(self) -> str:
        """Every cue's text, one cue a line."""
        return "\n".join(" ".join(t.split("\n")) for _, _, t in self.cues)

    @property
    def duration(self) -> float:
        return max((b for _, b, _ in self.cues), default=0.0)

    def summary(self) -> str:
        lang = f"{self.language}, " if self.language else ""
        first = f": {self.cues[0][2][:40]!r}" if self.cues else ""
        return f"Subtitles({lang}{len(self.cues)} cues, {self.duration:.2f} s){first}"


class SubtitlesType(RecordType):
    """A Speech linked to a Subtitles input becomes cues grouped from its word timings."""

    def convert(self, value: Any, source: ValueType) -> Any:
        return from_speech(value) if source.id == "speech" else value


SubtitlesT = register_record(Subtitles, "Subtitles", (200, 170, 90), accepts=("speech",), type_class=SubtitlesType)


def wrap(text: str, width: int = 42) -> str:
    """Cue text in lines of at most ``width`` characters; two lines are balanced (split at the
    space nearest the middle) when that fits."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    if spaces:
        mid = min(spaces, key=lambda i: abs(i - len(text) / 2))
        a, b = text[:mid], text[mid + 1:]
        if len(a) <= width and len(b) <= width:
            return f"{a}\n{b}"
    return "\n".join(textwrap.wrap(text, width))


def group_words(words: list[Timing], max_chars: int = 42, max_lines: int = 2, max_duration: float = 7.0,
                max_gap: float = 1.0, joiner: str = " ") -> list[tuple[float, float, str]]:
    """Cues from timed words: a new cue when the text would pass ``max_lines`` lines of
    ``max_chars``, last longer than ``max_duration`` s, after a pause over ``max_gap`` s, or
    after the end of a sentence."""
    cues: list[tuple[float, float, str]] = []
    cur: list[Timing] = []

    def flush() -> None:
        if cur:
            cues.append((cur[0].start, cur[-1].end, wrap(joiner.join(w.label for w in cur), max_chars)))

    for w in words:
        if not w.label.strip():
            continue
        if cur:
            longer = wrap(joiner.join([*(x.label for x in cur), w.label]), max_chars)
            if (longer.count("\n") >= max_lines or w.end - cur[0].start > max_duration
                    or w.start - cur[-1].end > max_gap or cur[-1].label.endswith(SENTENCE_END)):
                flush()
                cur = []
        cur.append(w)
    flush()
    return cues


def _norm(word: str) -> str:
    return "".join(ch for ch in word.lower() if ch.isalnum())


def written_words(speech: Speech) -> list[Timing]:
    """The speech's words as written in its text (punctuation kept), timed by its word timings.

    A text word the timings skip (espeak times "on the" as one word "on") joins the timed word
    before it. When the text and the timings do not line up, the timings are returned as they are.
    """
    timed, tokens = list(speech.words), speech.text.split()
    out: list[list] = []        # [start, end, [text words]]
    pending: list[str] = []
    j = 0
    for tok in tokens:
        if j < len(timed) and _norm(tok) and _norm(tok) == _norm(timed[j].label):
            out.append([timed[j].start, timed[j].end, pending + [tok]])
            pending, j = [], j + 1
        elif out:
            out[-1][2].append(tok)
        else:
            pending.append(tok)
    if j < len(timed) or not out:
        return timed
    return [Timing(a, b, " ".join(words)) for a, b, words in out]


def from_speech(speech: Speech, max_chars: int = 42) -> Subtitles:
    """Subtitles from a Speech: its words (as written in its text) grouped into cues; no words:
    one cue over the audio."""
    lang = speech.language
    joiner = "" if base_language(lang) in NO_SPACE_LANGUAGES else " "
    if speech.words:
        cues = group_words(written_words(speech) if joiner else list(speech.words), max_chars, joiner=joiner)
    elif speech.text.strip():
        cues = [(0.0, speech.audio.duration, wrap(speech.text, max_chars))]
    else:
        cues = []
    return Subtitles(tuple(cues), lang)


# -- SRT and WebVTT ----------------------------------------------------------------------------------

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?"
_RANGE = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:[ \t].*)?$")
_TAG = re.compile(r"<[^>\n]*>")
_LANG_SUFFIX = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,4})?$")


def format_time(seconds: float, sep: str = ",") -> str:
    """``HH:MM:SS,mmm`` (SRT) or, with ``sep="."``, ``HH:MM:SS.mmm`` (WebVTT)."""
    ms = int(round(max(0.0, seconds) * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _clean_text(text: str) -> str:
    lines = [" ".join(line.replace("-->", "->").split()) for line in text.replace("\r", "\n").split("\n")]
    return "\n".join(line for line in lines if line)


def to_srt(subs: Subtitles, offset: float = 0.0) -> str:
    """SubRip text: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, then the cue's lines."""
    out = []
    for i, (a, b, text) in enumerate(subs.cues, 1):
        out.append(f"{i}\n{format_time(a + offset)} --> {format_time(b + offset)}\n{_clean_text(text)}\n")
    return "\n".join(out)


def to_vtt(subs: Subtitles, offset: float = 0.0) -> str:
    """WebVTT text (``&``, ``<`` and ``>`` escaped); the language goes in a ``Language:`` header line."""
    head = "WEBVTT\n" + (f"Language: {subs.language}\n" if subs.language else "")
    out = [head]
    for a, b, text in subs.cues:
        body = html.escape(_clean_text(text), quote=False)
        out.append(f"{format_time(a + offset, '.')} --> {format_time(b + offset, '.')}\n{body}\n")
    return "\n".join(out)


def _blocks(text: str) -> list[list[tuple[int, str]]]:
    """Blocks of (line number, line) separated by blank lines (only \\n, \\r\\n and \\r end lines)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[list[tuple[int, str]]] = []
    cur: list[tuple[int, str]] = []
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip():
            cur.append((n, line))
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return blocks


def _range(name: str, n: int, line: str, example: str) -> tuple[float, float] | None:
    m = _RANGE.match(line)
    if m is None:
        return None
    times = []
    for h, mi, s, frac in (m.groups()[:4], m.groups()[4:]):
        if int(mi) > 59 or int(s) > 59:
            raise ValueError_(f"{name} line {n}: {line.strip()!r} has minutes or seconds over 59 "
                              f"(expected times like {example})")
        times.append(int(h or 0) * 3600 + int(mi) * 60 + int(s) + (float("0." + frac) if frac else 0.0))
    a, b = times
    if b < a:
        raise ValueError_(f"{name} line {n}: the cue ends ({line.split('-->')[1].split()[0]}) before it starts "
                          f"({line.split('-->')[0].strip()})")
    return a, b


def _cue_text(lines: list[str], vtt: bool) -> str:
    text = "\n".join(_TAG.sub("", line).strip() for line in lines)
    if vtt:
        text = html.unescape(text)
    return _clean_text(text)


def parse_srt(text: str, name: str = "<srt>", language: str = "") -> Subtitles:
    """Read SubRip text (cue numbers optional, ``,`` or ``.`` before milliseconds, tags such as
    ``<i>`` dropped). Errors name ``name`` and the line. Cues are put in time order."""
    example = "00:00:01,000 --> 00:00:02,500"
    cues = []
    for block in _blocks(text.lstrip("\ufeff")):
        (n0, first), rest = block[0], block[1:]
        span = _range(name, n0, first, example)
        if span is None:
            if not rest:
                raise ValueError_(f"{name} line {n0}: expected a cue number and a time line like {example}, "
                                  f"got {first.strip()[:60]!r}")
            n1, second = rest[0]
            span = _range(name, n1, second, example)
            if span is None:
                if first.strip().isdigit():
                    raise ValueError_(f"{name} line {n1}: expected a time line like {example} after cue number "
                                      f"{first.strip()}, got {second.strip()[:60]!r}")
                raise ValueError_(f"{name} line {n0}: expected a cue number and a time line like {example}, "
                                  f"got {first.strip()[:60]!r}")
            rest = rest[1:]
        cues.append((span[0], span[1], _cue_text([line for _, line in rest], vtt=False)))
    cues.sort(key=lambda c: c[0])
    return Subtitles(tuple(cues), language)


def parse_vtt(text: str, name: str = "<vtt>", language: str = "") -> Subtitles:
    """Read WebVTT text: the ``WEBVTT`` header (a ``Language:`` line there sets the language),
    NOTE / STYLE / REGION blocks skipped, cue identifiers and settings ignored, tags dropped and
    entities decoded. Errors name ``name`` and the line. Cues are put in time order."""
    example = "00:01.000 --> 00:02.500"
    blocks = _blocks(text.lstrip("\ufeff"))
    if not blocks or not re.match(r"^WEBVTT(?:$|[ \t])", blocks[0][0][1]):
        n, line = blocks[0][0] if blocks else (1, "")
        raise ValueError_(f"{name} line {n}: a WebVTT file starts with 'WEBVTT', got {line.strip()[:60]!r}")
    header, body = blocks[0], blocks[1:]
    for _, line in header[1:]:
        key, colon, value = line.partition(":")
        if colon and key.strip().lower() == "language" and value.strip() and not language:
            language = value.strip()
    if any("-->" in line for _, line in header[1:]):
        n = next(n for n, line in header[1:] if "-->" in line)
        raise ValueError_(f"{name} line {n}: a blank line must separate the WEBVTT header from the first cue")
    cues = []
    for block in body:
        (n0, first), rest = block[0], block[1:]
        if first.startswith(("NOTE", "STYLE", "REGION")) and "-->" not in first:
            continue
        if "-->" not in first:  # a cue identifier
            if not rest or "-->" not in rest[0][1]:
                n, line = rest[0] if rest else (n0, first)
                raise ValueError_(f"{name} line {n}: expected a time line like {example}, got {line.strip()[:60]!r}")
            (n0, first), rest = rest[0], rest[1:]
        span = _range(name, n0, first, example)
        if span is None:
            raise ValueError_(f"{name} line {n0}: expected a time line like {example}, got {first.strip()[:60]!r}")
        cues.append((span[0], span[1], _cue_text([line for _, line in rest], vtt=True)))
    cues.sort(key=lambda c: c[0])
    return Subtitles(tuple(cues), language)


def read_subtitles(path: str | FsPath, language: str = "") -> Subtitles:
    """Read a .srt or .vtt file (UTF-8, with or without BOM, or UTF-16 with BOM). The language is
    ``language``, else the VTT ``Language:`` header, else a code before the extension
    (``film.fr.srt``)."""
    p = FsPath(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"subtitle file not found: {p}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{p} is a folder, not a subtitle file") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = raw[:e.start].count(b"\n") + 1
            raise ValueError_(f"{p} line {line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); save the file as "
                              f"UTF-8") from None
    ext = p.suffix.lower()
    vtt = ext == ".vtt" or (ext != ".srt" and text.lstrip("\ufeff").startswith("WEBVTT"))
    subs = parse_vtt(text, str(p), language) if vtt else parse_srt(text, str(p), language)
    if not subs.language:
        guess = FsPath(p.stem).suffix.lstrip(".")
        if guess and _LANG_SUFFIX.match(guess):
            subs = Subtitles(subs.cues, guess)
    return subs
