"""Speech AI: transcribe with Whisper (text, word and segment timings, subtitles), translate text
and timed subtitles with Marian or NLLB-style models, and write and read SRT / WebVTT files.

Timed text flows as a ``Subtitles`` value (cues of start, end and text, plus a language code),
registered here. Transcribe also gives a ``Speech`` (the input audio with Whisper's word
timings, and phonemes spelled by espeak-ng inside each word) so Lipsync and the Subtitles
compositor use a recording the way they use the Speak node's output. A Speech linked to a
Subtitles input becomes cues grouped from its words.

Models come from the model manager (a folder, a name under the model folders' ``audio`` kind, or
a Hugging Face repo id from the local cache) and load once per process (``nodes._hf.load``).
Whisper runs on windows of at most 30 s cut at the quietest moment near each window's end, one
generate call per window: progress per window (and per token inside it), cancellation between
tokens, and timings clamped inside the audio and kept in order whatever the model predicts.
torch and transformers are imported inside the functions: the pack registers without them.
"""
from __future__ import annotations

import html
import json
import math
import re
import textwrap
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any, ClassVar

import numpy as np

from nodegraph import Audio, Bool, Choice, Context, Int, Number, Outputs, Path, Speech, Text, Timing, node
from nodegraph.models import ResolvedModel, UnsupportedModel, shared_cache
from nodegraph.types import Record, ValueError_, ValueType, register_type
from nodegraph.types.records import RECORD_CLASSES, RecordType

from . import _hf, audiodsp

WHISPER_RATE = 16000
WINDOW_S = 30.0          # Whisper's receptive field
SEARCH_S = 8.0           # a long window is cut at the quietest 0.1 s of its last 8 s
TIME_PRECISION = 0.02    # seconds per Whisper timestamp token
NO_SPACE_LANGUAGES = {"zh", "ja", "th", "lo", "my", "yue", "bo"}
SENTENCE_END = (".", "!", "?", "…", "。", "！", "？")

WhisperRef = Path(kind="model:audio")
TranslatorRef = Path(kind="model:audio")
Device = Choice("auto", "cpu", "cuda", "mps")
Dtype = Choice("auto", "float32", "float16", "bfloat16")
LineWidth = Int(min=10, max=200)
SubtitleFile = Path(kind="subtitles", extensions=(".srt", ".vtt"), must_exist=True)
Task = Choice("transcribe", "translate")

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
_LANG_TOKEN = re.compile(r"^(?:[a-z]{2,3}_[A-Z][a-z]{3}|__[a-z]{2,3}__|[a-z]{2}_[A-Z]{2})$")
_OPUS_NAME = re.compile(r"opus-mt-(?:tc-(?:big|base)-)?([A-Za-z]+(?:_[A-Za-z]+)?)-([A-Za-z]+(?:_[A-Za-z]+)?)$")


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


RECORD_CLASSES[Subtitles.type_id] = Subtitles
SubtitlesT = register_type(SubtitlesType(Subtitles, "Subtitles", (200, 170, 90), accepts=("speech",)))


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


@node("speech.subtitles_file", title="Save subtitles", category="Output", output=True, cost="io")
def subtitles_file(subtitles: Subtitles, filename: Text(output_file=(".srt", ".vtt")) = "subtitles.srt",
                   offset: Number(min=0.0, max=36000.0) = 0.0, ctx: Context = None) -> Path:
    """Write subtitles as an SRT or WebVTT file in the output folder (the extension picks the format).

    A Speech (from Speak or Transcribe) can be linked straight in: its words are grouped into
    cues of at most two lines of 42 characters.

    Args:
        subtitles: the timed text (Subtitles, or a Speech).
        filename: file name inside the output folder, ending in .srt or .vtt.
        offset: seconds added to every cue (where the speech starts in the final video).
    """
    ext = FsPath(filename).suffix.lower()
    if ext not in (".srt", ".vtt"):
        raise ValueError_(f"param 'filename': subtitle file name {filename!r} must end in .srt (SubRip) or .vtt (WebVTT)")
    body = to_srt(subtitles, offset) if ext == ".srt" else to_vtt(subtitles, offset)
    from nodegraph import write_bytes

    target = ctx.output_path(filename, "filename")
    write_bytes(target, body.encode("utf-8"))
    return str(target)


@node("speech.load_subtitles", title="Load subtitles", category="Speech", determinism="reads-files", cost="io")
def load_subtitles(path: SubtitleFile, language: Text = "") -> Subtitles:
    """Read an SRT or WebVTT subtitle file into timed text (cues in time order, tags dropped).

    Args:
        path: the .srt or .vtt file; relative paths are relative to the graph file.
        language: the cues' language code; empty: the VTT Language header, else a code before
            the extension (film.fr.srt), else unknown.
    """
    return read_subtitles(path, language.strip())


# -- audio for Whisper ---------------------------------------------------------------------------------

def mono_16k(audio: Audio) -> np.ndarray:
    """The audio as float32 mono at 16 kHz (channels averaged, band-limited resampling)."""
    if audio.frames == 0:
        raise ValueError_("the audio is empty (0 frames): nothing to transcribe")
    x = audio.samples
    if not np.isfinite(x).all():
        raise ValueError_("the audio holds samples that are not finite numbers (NaN or infinity)")
    mono = x.mean(axis=1, keepdims=True) if x.shape[1] > 1 else x
    return audiodsp.resample(mono, audio.rate, WHISPER_RATE)[:, 0].astype(np.float32)


def windows(x: np.ndarray, rate: int = WHISPER_RATE, size_s: float = WINDOW_S,
            search_s: float = SEARCH_S) -> list[tuple[int, int]]:
    """(start, stop) sample ranges of at most ``size_s`` seconds covering ``x``; each long window
    ends at the quietest 0.1 s of its last ``search_s`` seconds, so words are rarely cut."""
    n, size, hop = len(x), int(size_s * rate), max(1, int(0.1 * rate))
    out, start = [], 0
    while start < n:
        if n - start <= size:
            out.append((start, n))
            break
        lo = start + size - int(search_s * rate)
        frames = (x[lo:start + size][:((start + size - lo) // hop) * hop]).reshape(-1, hop)
        energy = (frames.astype(np.float64) ** 2).mean(axis=1)
        quiet = len(energy) - 1 - int(np.argmin(energy[::-1]))   # the latest of the quietest: long windows
        stop = lo + quiet * hop + hop // 2
        out.append((start, stop))
        start = stop
    return out


# -- Whisper ---------------------------------------------------------------------------------------------

def _config_of(m: ResolvedModel) -> dict:
    try:
        return json.loads((FsPath(m.path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return {}


def _resolve(ref: str, ctx: Context, what: str) -> ResolvedModel:
    m = _hf.resolve_local(ref, "audio", ctx.base_dir)
    if m.format != "transformers":
        raise UnsupportedModel(f"{m.path}: not a transformers model folder (config.json + weights), which the "
                               f"{what} needs")
    return m


def _load_whisper(path: str, device: str, dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForSpeechSeq2Seq, AutoProcessor

    processor = AutoProcessor.from_pretrained(path, local_files_only=True)
    model = AutoModelForSpeechSeq2Seq.from_pretrained(path, dtype=dtype, local_files_only=True)
    return processor, model.to(device).eval()


def whisper_languages(model: Any) -> dict[str, int]:
    """Language code -> token id of the languages a Whisper model knows ({} for English-only)."""
    table = getattr(model.generation_config, "lang_to_id", None) or {}
    return {tok.strip("<|>"): int(i) for tok, i in table.items()}


def _whisper_language(language: str, known: dict[str, int], name: str) -> str | None:
    """The language code to force, None for auto-detection; a clear error for one the model lacks."""
    lang = (language or "").strip().lower()
    if lang in ("", "auto"):
        return None
    from transformers.models.whisper.tokenization_whisper import TO_LANGUAGE_CODE

    code = TO_LANGUAGE_CODE.get(lang, lang)
    if code not in known:
        code = base_language(code)
    if code in known:
        return code
    if not known:  # an English-only model takes no language token
        if code == "en":
            return None
        raise ValueError_(f"language {language!r}: the Whisper model {name} is English-only; use auto or en")
    some = ", ".join(c for c in ("en", "fr", "de", "es", "it", "pt", "ja", "zh", "ru") if c in known)
    raise ValueError_(f"language {language!r} is not one the Whisper model {name} knows; use auto or a code "
                      f"such as {some} ({len(known)} languages)")


def _cancel_criteria(ctx: Context) -> Any:
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Cancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch

            return torch.full((input_ids.shape[0],), ctx.cancelled, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_Cancelled()])


def _printable(s: str) -> str:
    """Text without control characters and broken ones (U+FFFD); tabs become spaces."""
    return "".join(" " if ch == "\t" else ch for ch in s
                   if ch == "\t" or (unicodedata.category(ch) != "Cc" and ch != "\ufffd"))


def _units(tokenizer: Any, ids: list[int]) -> list[tuple[str, list[int]]]:
    """Token runs that decode to whole characters (a character can span several byte tokens)."""
    units, run = [], []
    for k in range(len(ids)):
        run.append(k)
        text = tokenizer.decode([ids[j] for j in run])
        if "\ufffd" not in text or len(run) >= 8:
            units.append((text, run))
            run = []
    if run:
        units.append((tokenizer.decode([ids[j] for j in run]), run))
    return units


def decode_window(tokenizer: Any, seq: list[int], times: list[float] | None, eot: int, first_timestamp: int,
                  duration: float, spaced: bool = True) -> list[tuple[float, float, list[tuple[float, float, str]]]]:
    """Segments ``(start, end, [(word start, word end, word)])`` of one decoded window, in seconds
    from the window's start, clamped to ``[0, duration]``.

    ``seq`` is the whole generated sequence (start-of-transcript and prompt tokens first).
    Timestamp tokens delimit segments; ``times`` (token timestamps from the cross-attention
    alignment, one per position of ``seq``) time the words, token k spanning times[k-1]..times[k].
    Without them a segment's words share its span in proportion to their length. Special tokens
    (language, task ...) in the text are skipped.
    """
    def clamp(t: float) -> float:
        return min(max(0.0, float(t)), duration)

    raw: list[list] = []   # [start, end or None, [positions of text tokens]]
    start: float | None = None
    prev_end, body = 0.0, []
    for k in range(1, len(seq)):
        t = seq[k]
        if t == eot:
            break
        if t >= first_timestamp:
            stamp = clamp((t - first_timestamp) * TIME_PRECISION)
            if body:
                raw.append([start if start is not None else prev_end, stamp, body])
                body, prev_end = [], stamp
            start = stamp
        elif t < eot:
            body.append(k)
    if body:
        raw.append([start if start is not None else prev_end, None, body])

    segments = []
    for seg_start, seg_end, positions in raw:
        seg_end = duration if seg_end is None else seg_end
        seg_end = max(seg_end, seg_start)
        ids = [seq[k] for k in positions]
        words: list[list] = []  # [text, first position, last position]
        for text, run in _units(tokenizer, ids):
            text = _printable(text)
            if not words or not spaced or text.startswith(" "):
                words.append([text, positions[run[0]], positions[run[-1]]])
            else:
                words[-1][0] += text
                words[-1][2] = positions[run[-1]]
        words = [w for w in words if w[0].strip()]
        if not words:
            continue
        timed = []
        if times is not None:
            for text, first, last in words:
                timed.append((clamp(times[first - 1]), clamp(times[last]), text.strip()))
        else:
            total = sum(len(w[0].strip()) for w in words)
            t = seg_start
            for text, _, _ in words:
                d = (seg_end - seg_start) * len(text.strip()) / total
                timed.append((t, t + d, text.strip()))
                t += d
        segments.append((seg_start, seg_end, timed))
    return segments


def word_phonemes(words: list[Timing], language: str) -> list[Timing] | None:
    """IPA phonemes inside each word's span, spelled by espeak-ng in ``language`` (each word's
    phonemes keep espeak's relative durations); None when espeak does not know the language."""
    from . import _espeak

    try:
        voice = _espeak.resolve_voice(language)
    except (ValueError, OSError):
        return None
    spelled: dict[str, list] = {}
    out: list[Timing] = []
    for w in words:
        key = w.label.strip().lower()
        if not key or w.end <= w.start:
            continue
        if key not in spelled:
            try:
                spelled[key] = _espeak.synthesize(w.label, voice).phonemes
            except ValueError:
                spelled[key] = []
        ph = spelled[key]
        if not ph or ph[-1][1] <= ph[0][0]:
            continue
        a, span, d = ph[0][0], ph[-1][1] - ph[0][0], w.end - w.start
        for s, e, label in ph:
            out.append(Timing(min(w.end, w.start + (s - a) / span * d), min(w.end, w.start + (e - a) / span * d),
                              label))
    return out


@node("speech.transcribe", title="Transcribe", category="Speech AI", determinism="reads-files", cost="gpu")
def transcribe(audio: Audio, model: WhisperRef = "openai/whisper-small", language: Text = "auto",
               task: Task = "transcribe", word_timestamps: Bool = True,
               phonemes: Bool = True, max_chars: LineWidth = 42, device: Device = "auto", dtype: Dtype = "auto",
               ctx: Context = None) -> Outputs(text=Text, speech=Speech, subtitles=Subtitles):
    """Speech to text with Whisper: the transcript, the audio with word timings, and subtitles.

    Any sample rate and channel count is taken (mixed to mono and resampled to 16 kHz for the
    model); the Speech output keeps the original audio. Long recordings are read in windows of
    at most 30 s, cut in quiet moments. Timings are in seconds, in order, inside the audio.

    Args:
        audio: the recording (or a Speech).
        model: a Whisper model: a folder, a name under the model folders (audio kind), or a
            Hugging Face repo id such as openai/whisper-small (from the local cache when offline).
        language: the spoken language as a code (en, fr, de ...) or a name, or auto to detect it
            from the first 30 s.
        task: transcribe (text in the spoken language) or translate (English text).
        word_timestamps: time each word from the model's attention (needs alignment heads in the
            model's generation config); off: words share their segment's time.
        phonemes: also give the Speech IPA phonemes inside each word (espeak-ng), so Lipsync
            shapes the mouth from them; off or for a language espeak lacks: words only.
        max_chars: characters per subtitle line (a cue has at most two lines).
        device: auto picks cuda, then mps, then cpu.
        dtype: auto is float16 on a GPU and float32 on the cpu.
    """
    x = mono_16k(audio)
    m = _resolve(model, ctx, "Transcribe node")
    kind = _config_of(m).get("model_type")
    if kind and kind != "whisper":
        raise UnsupportedModel(f"{m.path}: a {kind} model, not Whisper; Transcribe needs a Whisper model "
                               f"(such as openai/whisper-small)")
    loads = shared_cache().loads
    (processor, asr), dev, _ = _hf.load(m, "whisper", _load_whisper, device, dtype)
    if shared_cache().loads > loads:
        ctx.log(f"loaded {m.name} on {dev}")
    gen = asr.generation_config
    known = whisper_languages(asr)
    lang = _whisper_language(language, known, m.name)
    if task == "translate" and not known:
        raise ValueError_(f"the Whisper model {m.name} is English-only: it cannot translate; use task transcribe")
    tokenizer, features = processor.tokenizer, processor.feature_extractor
    eot = int(gen.eos_token_id if not isinstance(gen.eos_token_id, list) else gen.eos_token_id[0])
    first_ts = int(gen.no_timestamps_token_id) + 1
    aligned = bool(word_timestamps and getattr(gen, "alignment_heads", None))
    if word_timestamps and not aligned:
        ctx.log(f"{m.name} has no alignment heads in its generation config: words share their segment's time")
    greedy = (getattr(gen, "num_beams", 1) or 1) == 1
    span = windows(x)
    stop = _cancel_criteria(ctx)
    segments: list[tuple[float, float, list]] = []
    for k, (a, b) in enumerate(span):
        ctx.check_cancelled()
        offset, duration = a / WHISPER_RATE, (b - a) / WHISPER_RATE
        inputs = features(x[a:b], sampling_rate=WHISPER_RATE, return_tensors="pt", return_attention_mask=True)
        kw: dict[str, Any] = {"return_timestamps": True, "force_unique_generate_call": True,
                              "stopping_criteria": stop}
        if known:
            kw["task"] = task
            if lang is not None:
                kw["language"] = lang
        if aligned:
            kw["return_token_timestamps"] = True
        if greedy:
            kw["streamer"] = _hf.Progress(ctx, asr.config.max_target_positions, f"chunk {k + 1}/{len(span)}: token",
                                          start=k / len(span), span=1 / len(span))
        out = asr.generate(inputs.input_features.to(dev, asr.dtype), attention_mask=inputs.attention_mask.to(dev),
                           **kw)
        ctx.check_cancelled()
        seq = (out["sequences"] if isinstance(out, dict) else out)[0].tolist()
        times = out["token_timestamps"][0].tolist() if aligned and isinstance(out, dict) else None
        if known and lang is None:  # detected on the first window; the rest follow it
            code = tokenizer.convert_ids_to_tokens(seq[1]) if len(seq) > 1 else ""
            lang = code.strip("<|>") if code.strip("<|>") in known else None
            if lang:
                ctx.log(f"detected language: {lang}")
        spaced = (lang or "en") not in NO_SPACE_LANGUAGES or task == "translate"
        for s0, s1, words in decode_window(tokenizer, seq, times, eot, first_ts, duration, spaced):
            segments.append((offset + s0, offset + s1, [(offset + w0, offset + w1, w) for w0, w1, w in words]))
        ctx.progress((k + 1) / len(span), f"chunk {k + 1}/{len(span)}")

    out_lang = "en" if task == "translate" or not known else (lang or "")
    joiner = "" if out_lang in NO_SPACE_LANGUAGES else " "
    total, last = audio.duration, 0.0
    words: list[Timing] = []
    cues: list[tuple[float, float, str]] = []
    texts: list[str] = []
    for _, _, seg_words in segments:   # in order, inside the audio, whatever the model predicted
        own = []
        for w0, w1, w in seg_words:
            s = min(max(w0, last), total)
            e = min(max(w1, s), total)
            own.append(Timing(s, e, w))
            last = e
        words.extend(own)
        texts.append(joiner.join(t.label for t in own))
        cues.extend(group_words(own, max_chars, joiner=joiner))   # a long segment becomes several cues
    transcript = joiner.join(texts)
    ph = word_phonemes(words, out_lang) if phonemes and words else []
    if ph is None:
        ctx.log(f"espeak-ng has no language {out_lang!r}: the speech carries word timings only")
    return {"text": transcript, "speech": Speech(audio, transcript, out_lang, words, ph or ()),
            "subtitles": Subtitles(tuple(cues), out_lang)}


# -- translation -------------------------------------------------------------------------------------------

_TOKENIZER_LOCK = threading.Lock()   # a multilingual tokenizer's source language is state


def _load_seq2seq(path: str, device: str, dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForSeq2SeqLM.from_pretrained(path, dtype=dtype, local_files_only=True)
    return tokenizer, model.to(device).eval()


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and base_language(a) == base_language(b)


def _plain(code: str | None) -> bool:
    """A language we can name ("en", "deu", "pt_BR"), not a group (ROMANCE, mul, gem, zle ...)."""
    return bool(code) and bool(re.match(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z]{2,4})?$", code or "")) \
        and len(base_language(code or "")) == 2


@dataclass
class _Plan:
    """How to ask a model for one language pair."""

    prefix: str = ""                  # Marian multi-target: ">>fr<< "
    src_lang: str | None = None       # multilingual tokenizers: the source language as they spell it
    forced_bos: int | None = None     # multilingual models: the target language's token
    target: str = ""                  # the output's language code


def _marian_plan(tok: Any, m: ResolvedModel, source: str, target: str) -> _Plan:
    src, tgt = getattr(tok, "source_lang", None), getattr(tok, "target_lang", None)
    named = _OPUS_NAME.search(m.repo_id or m.name or "") or _OPUS_NAME.search(FsPath(str(m.path)).name)
    if named:
        src = src or named.group(1)
        tgt = tgt or named.group(2)
    choices = [c[2:-2] for c in getattr(tok, "supported_language_codes", []) or []]
    pair = f"{src or '?'} -> {'/'.join(choices) if choices else (tgt or '?')}"
    if source and _plain(src) and not _same(source, src):
        raise ValueError_(f"the model {m.name} translates {pair}, not from {source!r}: use a model for that "
                          f"pair (e.g. Helsinki-NLP/opus-mt-{base_language(source)}-{base_language(target or tgt or 'en')})"
                          f" or an NLLB-style model")
    if choices:
        if not target:
            raise ValueError_(f"the model {m.name} translates into several languages ({', '.join(choices)}): "
                              f"set target")
        hit = next((c for c in choices if c == target), None) or next((c for c in choices if _same(c, target)), None)
        if hit is None:
            raise ValueError_(f"the model {m.name} translates {pair}; it has no target language {target!r}")
        return _Plan(prefix=f">>{hit}<< ", target=target)
    if target and _plain(tgt) and not _same(target, tgt):
        raise ValueError_(f"the model {m.name} translates {pair}, not into {target!r}: use a model for that pair "
                          f"(e.g. Helsinki-NLP/opus-mt-{base_language(source or src or 'en')}-{base_language(target)})"
                          f" or an NLLB-style model")
    return _Plan(target=target or (tgt if _plain(tgt) else "") or "")


def _language_tokens(tok: Any) -> list[str]:
    found: set[str] = set()
    for attr in ("additional_special_tokens", "extra_special_tokens", "all_special_tokens"):
        val = getattr(tok, attr, None)
        if isinstance(val, dict):
            val = list(val.values())
        if isinstance(val, (list, tuple)):
            found.update(v for v in val if isinstance(v, str))
    for attr in ("lang_code_to_token",):
        val = getattr(tok, attr, None)
        if isinstance(val, dict):
            found.update(val.values())
    return sorted(t for t in found if _LANG_TOKEN.match(t))


def _multilingual_plan(tok: Any, m: ResolvedModel, source: str, target: str) -> _Plan:
    codes = _language_tokens(tok)
    if not codes:
        raise UnsupportedModel(f"{m.path}: the tokenizer lists no language codes, so the target language cannot "
                               f"be chosen")

    def pick(code: str, what: str) -> str:
        hit = next((c for c in codes if c == code or c == f"__{code}__"), None) or \
            next((c for c in codes if _same(c, code)), None)
        if hit is None:
            some = ", ".join(codes[:12]) + (", ..." if len(codes) > 12 else "")
            raise ValueError_(f"the model {m.name} has no {what} language {code!r}; it knows {len(codes)} "
                              f"languages: {some}")
        return hit

    if not target:
        raise ValueError_(f"the model {m.name} translates between {len(codes)} languages: set target "
                          f"(e.g. {', '.join(codes[:3])})")
    if not source:
        raise ValueError_(f"the model {m.name} needs the source language: set source (e.g. en or {codes[0]}), "
                          f"or link subtitles whose language is known")
    src_tok, tgt_tok = pick(source, "source"), pick(target, "target")
    m2m = src_tok.startswith("__")
    return _Plan(src_lang=src_tok.strip("_") if m2m else src_tok, target=target,
                 forced_bos=int(tok.convert_tokens_to_ids(tgt_tok)))


def _units_of_text(text: str) -> list[list[str]]:
    """Each line of a text as its sentences (long lines translate better a sentence at a time)."""
    return [[s for s in re.split(r"(?<=[.!?。！？])\s+", line.strip()) if s] for line in text.split("\n")]


@node("speech.translate", title="Translate", category="Speech AI", determinism="reads-files", cost="gpu")
def translate(subtitles: Subtitles | None = None, text: Text(multiline=True) = "",
              model: TranslatorRef = "Helsinki-NLP/opus-mt-en-de", source: Text = "auto", target: Text = "",
              batch: Int(min=1, max=256) = 8, device: Device = "auto", dtype: Dtype = "auto",
              ctx: Context = None) -> Outputs(text=Text, subtitles=Subtitles):
    """Translate subtitles cue by cue (each keeps its timing) or a text line by line, with a
    Marian (opus-mt) or NLLB-style (NLLB, M2M100, mBART-50) model.

    Args:
        subtitles: timed text to translate (Subtitles, or a Speech: its words grouped into cues).
        text: or a plain text (when no subtitles are linked); line breaks are kept.
        model: a translation model: a folder, a name under the model folders (audio kind), or a
            Hugging Face repo id such as Helsinki-NLP/opus-mt-en-de or facebook/nllb-200-distilled-600M.
        source: the language translated from; auto: the subtitles' language, else the model's.
            A Marian model fixes the pair; NLLB-style models need it (e.g. en or eng_Latn).
        target: the language to translate into; empty: a single-pair Marian model's own.
            Multi-target Marian and NLLB-style models need it (e.g. fr, fra_Latn).
        batch: cues or sentences per generate call.
        device: auto picks cuda, then mps, then cpu.
        dtype: auto is float16 on a GPU and float32 on the cpu.
    """
    if subtitles is not None and text.strip():
        raise ValueError_("link subtitles or type a text, not both")
    if subtitles is None and not text.strip():
        raise ValueError_("nothing to translate: link subtitles (or a Speech) or type a text")
    src = "" if source.strip().lower() in ("", "auto") else source.strip()
    if not src and subtitles is not None:
        src = subtitles.language
    tgt = target.strip()
    m = _resolve(model, ctx, "Translate node")
    kind = _config_of(m).get("model_type")
    if kind == "whisper":
        raise UnsupportedModel(f"{m.path}: a Whisper model; to translate speech into English use Transcribe with "
                               f"task translate, to translate text use a Marian or NLLB-style model")
    loads = shared_cache().loads
    (tok, mt), dev, _ = _hf.load(m, "seq2seq", _load_seq2seq, device, dtype)
    if shared_cache().loads > loads:
        ctx.log(f"loaded {m.name} on {dev}")
    if kind == "marian" or type(tok).__name__.startswith("Marian"):
        plan = _marian_plan(tok, m, src, tgt)
    elif hasattr(tok, "src_lang"):
        plan = _multilingual_plan(tok, m, src, tgt)
    else:
        plan = _Plan(target=tgt)
        ctx.log(f"{m.name} names no languages: its own pair is used (source and target are not checked)")

    if subtitles is not None:
        units = [" ".join(t.split()) for _, _, t in subtitles.cues]
    else:
        lines = _units_of_text(text)
        units = [s for line in lines for s in line]
    todo = sorted({u for u in units if u.strip()}, key=lambda u: (len(u), u))  # similar lengths pad less
    batches = [todo[i:i + batch] for i in range(0, len(todo), batch)]
    done: dict[str, str] = {}
    stop = _cancel_criteria(ctx)
    limit = int(getattr(mt.config, "max_position_embeddings", 0) or 512)
    for k, group in enumerate(batches):
        ctx.check_cancelled()
        with _TOKENIZER_LOCK:
            if plan.src_lang is not None:
                tok.src_lang = plan.src_lang
            enc = tok([plan.prefix + u for u in group], return_tensors="pt", padding=True, truncation=True,
                      max_length=limit)
        kw: dict[str, Any] = {"stopping_criteria": stop,
                              "max_new_tokens": max(8, min(limit, 2 * enc["input_ids"].shape[1] + 16))}
        if plan.forced_bos is not None:
            kw["forced_bos_token_id"] = plan.forced_bos
        out = mt.generate(**{key: v.to(dev) for key, v in enc.items()}, **kw)
        ctx.check_cancelled()
        for u, t in zip(group, tok.batch_decode(out, skip_special_tokens=True)):
            done[u] = _printable(t).strip()
        ctx.progress((k + 1) / len(batches), f"batch {k + 1}/{len(batches)}")

    lang = plan.target or ""
    if subtitles is not None:
        cues = []
        for (a, b, original), unit in zip(subtitles.cues, units):
            width = max((len(line) for line in original.split("\n")), default=42)
            moved = done.get(unit, "")
            cues.append((a, b, wrap(moved, max(width, 20)) if "\n" in original else moved))
        out_subs = Subtitles(tuple(cues), lang)
        return {"text": out_subs.text, "subtitles": out_subs}
    out_lines = [" ".join(done.get(s, "") for s in line) for line in _units_of_text(text)]
    return {"text": "\n".join(out_lines), "subtitles": Subtitles((), lang)}


__all__ = ["Subtitles", "SubtitlesT", "from_speech", "group_words", "wrap", "to_srt", "to_vtt", "parse_srt",
           "parse_vtt", "read_subtitles", "written_words", "format_time", "mono_16k", "windows", "decode_window", "word_phonemes",
           "base_language", "transcribe", "translate", "subtitles_file", "load_subtitles"]
