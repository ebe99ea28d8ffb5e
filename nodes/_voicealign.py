"""Voice activity, sentences and word timings by alignment, for the voice-cloning nodes
(``nodes.voiceclone``).

XTTS gives no word timings, so they are found by alignment: espeak-ng says each sentence too (in a
thousandth of the time), which gives words and phonemes with times, and its loudness contour is
aligned to the XTTS sentence's by dynamic time warping; the espeak timings are carried over along
that warp. Where espeak-ng does not know the language, words share the sentence's voiced span in
proportion to their length (in characters).
"""
from __future__ import annotations

import re
import textwrap

import numpy as np

from nodegraph import Timing

from ._espeaktimes import strip_marks

FRAME_S = 0.02            # voice activity frames
SILENCE_DB = -60.0        # a recording whose loudest frame is below this (dBFS) is silent
VOICED_RANGE_DB = 40.0    # voiced: within this of the recording's loudest frame
HOP_S = 0.01              # alignment frames
SENTENCE_END = re.compile(r"(?<=[.!?…;])\s+|(?<=[。！？；])")
ESPEAK_LANGUAGE = {"zh-cn": "cmn", "zh": "cmn"}


# -- voice activity ---------------------------------------------------------------------------------------

def _frame_db(x: np.ndarray, rate: int, frame_s: float = FRAME_S) -> np.ndarray:
    """RMS level in dBFS of consecutive frames of mono ``x`` (at least one frame)."""
    n = max(1, int(round(rate * frame_s)))
    k = max(1, len(x) // n)
    x = x[: k * n] if len(x) >= n else np.pad(x, (0, n - len(x)))
    rms = np.sqrt(np.mean(np.square(x.reshape(k, n), dtype=np.float64), axis=1))
    return 20.0 * np.log10(rms + 1e-10)


def voice_activity(x: np.ndarray, rate: int) -> tuple[float, int, int]:
    """(seconds of voiced sound, first voiced sample, end of the last voiced frame) of mono ``x``;
    (0, 0, 0) when it is silent."""
    db = _frame_db(x, rate)
    if len(x) == 0 or db.max() < SILENCE_DB:
        return 0.0, 0, 0
    voiced = np.flatnonzero(db > max(SILENCE_DB, db.max() - VOICED_RANGE_DB))
    n = max(1, int(round(rate * FRAME_S)))
    return len(voiced) * FRAME_S, int(voiced[0]) * n, min(len(x), (int(voiced[-1]) + 1) * n)


# -- text: sentences and words ----------------------------------------------------------------------------

def sentences(text: str, limit: int) -> list[str]:
    """The text as sentences of at most ``limit`` characters (longer ones cut between words)."""
    out = []
    for s in SENTENCE_END.split(" ".join(text.split())):
        s = s.strip()
        if not s or not any(ch.isalnum() for ch in s):
            continue
        out += textwrap.wrap(s, width=max(20, limit), break_long_words=True, break_on_hyphens=False) \
            if len(s) > limit else [s]
    return out


def words_of(sentence: str) -> list[str]:
    """The written words of a sentence without the punctuation around them."""
    return [word for word in map(strip_marks, sentence.split()) if word]


# -- timings: alignment -----------------------------------------------------------------------------------

def _contour(x: np.ndarray, rate: int, hop_s: float) -> np.ndarray:
    """Loudness per frame, 0 (50 dB below the loudest frame, or quieter) to 1 (the loudest)."""
    db = _frame_db(x, rate, hop_s)
    return np.clip((db - (db.max() - 50.0)) / 50.0, 0.0, 1.0).astype(np.float32)


def dtw(a: np.ndarray, b: np.ndarray, penalty: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """The cheapest monotonic path ``(i, j)`` from (0, 0) to the ends through the |a_i - b_j|
    costs (steps: both, a only or b only; the single steps cost ``penalty`` more). Rows are
    vectorised: D[i, j] = C[j] + j p + min over k <= j of (A[k] - C[k-1] - k p), C the row's
    running cost and A the best way into the row at k."""
    n, m = len(a), len(b)
    cost = np.abs(a[:, None] - b[None, :]).astype(np.float64)
    jp = np.arange(m) * penalty
    d = np.empty((n, m))
    d[0] = np.cumsum(cost[0]) + jp
    for i in range(1, n):
        prev = d[i - 1]
        enter = np.empty(m)
        enter[0] = prev[0] + penalty
        enter[1:] = np.minimum(prev[:-1], prev[1:] + penalty)
        run = np.cumsum(cost[i])
        before = np.concatenate(([0.0], run[:-1]))
        d[i] = run + jp + np.minimum.accumulate(enter - before - jp)
    i, j = n - 1, m - 1
    path = [(i, j)]
    while i > 0 or j > 0:
        options = []
        if i > 0 and j > 0:
            options.append((d[i - 1, j - 1], i - 1, j - 1))
        if i > 0:
            options.append((d[i - 1, j] + penalty, i - 1, j))
        if j > 0:
            options.append((d[i, j - 1] + penalty, i, j - 1))
        _, i, j = min(options)
        path.append((i, j))
    p = np.array(path[::-1])
    return p[:, 0], p[:, 1]


def warp(guide: np.ndarray, guide_rate: int, target: np.ndarray, target_rate: int):
    """A monotonic map from times in ``guide`` to times in ``target`` (seconds), along the DTW
    path of their loudness contours."""
    length = max(len(guide) / guide_rate, len(target) / target_rate)
    hop_s = HOP_S if length <= 20.0 else HOP_S * length / 20.0       # at most about 2000 x 2000 frames
    a, b = _contour(guide, guide_rate, hop_s), _contour(target, target_rate, hop_s)
    ia, ib = dtw(a, b)
    frames = np.arange(len(a))
    mean_b = np.bincount(ia, weights=ib, minlength=len(a)) / np.maximum(np.bincount(ia, minlength=len(a)), 1)
    g_end, t_end = len(guide) / guide_rate, len(target) / target_rate
    xs = np.concatenate(([0.0], (frames + 0.5) * hop_s, [max(g_end, len(a) * hop_s)]))
    ys = np.concatenate(([0.0], (mean_b + 0.5) * hop_s, [t_end]))
    ys = np.clip(np.maximum.accumulate(ys), 0.0, t_end)

    def to_target(t: float) -> float:
        return float(np.interp(t, xs, ys))

    return to_target


def espeak_guide(sentence: str, language: str) -> tuple[np.ndarray, int, list, list] | None:
    """espeak-ng saying the sentence: (samples, rate, words, phonemes), or None where espeak-ng
    does not know the language."""
    from . import _espeak

    code = ESPEAK_LANGUAGE.get(language.lower(), language)
    try:
        voice = _espeak.resolve_voice(code)
        pcm, rate, words, phonemes = _espeak.synthesize(sentence, voice)
    except (ValueError, OSError, RuntimeError):
        return None
    if not words or len(pcm) == 0:
        return None
    return pcm.astype(np.float32) / 32768.0, int(rate), words, phonemes


def align(sentence: str, wave: np.ndarray, rate: int, guide: tuple | None) -> tuple[list[Timing], list[Timing]]:
    """Word and phoneme timings (seconds from the sentence's start) for XTTS's ``wave``."""
    duration = len(wave) / rate
    if duration < 2 * HOP_S:       # (the model stopped at once) nothing to align: the words take no time
        labels = [w for _, _, w in guide[2]] if guide is not None else words_of(sentence)
        return [Timing(0.0, duration, w) for w in labels], []
    if guide is not None:
        g_wave, g_rate, g_words, g_phonemes = guide
        f = warp(g_wave, g_rate, wave, rate)
        words = [Timing(f(a), f(b), w) for a, b, w in g_words]
        phonemes = [Timing(f(a), f(b), p) for a, b, p in g_phonemes]
        return words, phonemes
    labels = words_of(sentence)
    _, start, end = voice_activity(wave, rate)
    t0, t1 = (start / rate, end / rate) if end > start else (0.0, duration)
    # each character one unit of time, and one unit between words
    unit = (t1 - t0) / max(1, sum(len(w) for w in labels) + len(labels) - 1)
    out, at = [], t0
    for w in labels:
        out.append(Timing(float(at), float(min(t1, at + unit * len(w))), w))
        at += unit * (len(w) + 1)
    return out, []


def _shifted(timings: list[Timing], offset: float, limit: float, last: float) -> tuple[list[Timing], float]:
    """Timings moved by ``offset`` seconds, kept inside [last start, limit] and in order."""
    out = []
    for t in timings:
        start = min(max(offset + t.start, last), limit)
        end = min(max(offset + t.end, start), limit)
        out.append(Timing(start, end, t.label))
        last = start
    return out, last
