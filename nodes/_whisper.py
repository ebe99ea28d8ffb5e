"""Whisper for the speech pack's Transcribe node (``nodes/speech.py``): the audio as Whisper hears
it, windows of at most 30 s cut at quiet moments, the model's language codes, decoding a
window's tokens into timed words, and espeak-ng phonemes inside each word.

torch and transformers are imported inside the functions: the pack registers without them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nodegraph import Audio, Timing, ValueError_

from . import audiodsp
from ._hf import printable
from ._subtitles import base_language

WHISPER_RATE = 16000
WINDOW_S = 30.0          # Whisper's receptive field
SEARCH_S = 8.0           # a long window is cut at the quietest 0.1 s of its last 8 s
TIME_PRECISION = 0.02    # seconds per Whisper timestamp token


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

def load_whisper(path: str, device: str, dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForSpeechSeq2Seq, AutoProcessor

    processor = AutoProcessor.from_pretrained(path, local_files_only=True)
    model = AutoModelForSpeechSeq2Seq.from_pretrained(path, dtype=dtype, local_files_only=True)
    return processor, model.to(device).eval()


def whisper_languages(model: Any) -> dict[str, int]:
    """Language code -> token id of the languages a Whisper model knows ({} for English-only)."""
    table = getattr(model.generation_config, "lang_to_id", None) or {}
    return {tok.strip("<|>"): int(i) for tok, i in table.items()}


def whisper_language(language: str, known: dict[str, int], name: str) -> str | None:
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
            text = printable(text)
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
