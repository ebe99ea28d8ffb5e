"""Word and phoneme timings from libespeak-ng's events (used by ``nodes._espeak``).

Events become timings in seconds, from the sample counter of each event:

* words come from WORD events; ``text_position`` counts code points from 1 in the text (not
  UTF-8 bytes: "très" after "ça" is found where Python's ``str`` indexing says it is). The label
  is the written word at that position without surrounding punctuation ("¿Cómo" -> "Cómo",
  "aujourd'hui", "well-known", "42"; espeak's own length stops at apostrophes and hyphens, and it
  sends several WORD events for one number). A word spans its phonemes, from the start of the
  first to the end of the last; a word with no phoneme ends at the next word, pause or clause.
* phonemes come from PHONEME events with ``espeakINITIALIZE_PHONEME_IPA``, so labels are IPA
  ("ɔ̃", "ʁ", "ɜː"). Stress marks (ˈ ˌ) are removed; length marks (ː) are kept, strip them too
  where only the mouth shape matters. Pauses (PHONEME events with no name) are not listed: they
  end the phoneme before them, so silences are gaps between timings. A phoneme ends where the
  next phoneme or pause begins, or at the end of the audio.
"""
from __future__ import annotations

import bisect
import unicodedata

# espeak_EVENT_TYPE (speak_lib.h)
_EV_LIST_TERMINATED, _EV_WORD, _EV_SENTENCE, _EV_END, _EV_PHONEME = 0, 1, 2, 5, 7
_STRESS = str.maketrans("", "", "ˈˌ")


def _timings(text: str, events: list, n_samples: int, rate: int
             ) -> tuple[list[tuple[float, float, str]], list[tuple[float, float, str]]]:
    """Words and phonemes (start s, end s, label) from the event stream (see the module doc)."""
    # samples are monotonic in a synchronous synthesis; clamp anyway so timings stay in the audio
    evs, last = [], 0
    for kind, sample, pos, length, name in events:
        last = min(max(sample, last), n_samples)
        evs.append((kind, last, pos, length, _label(name) if kind == _EV_PHONEME else ""))
    # where things start, for "ends where the next ... begins" (bisect: samples never decrease)
    phoneme_starts = [e[1] for e in evs if e[0] == _EV_PHONEME]
    word_bounds = [e[1] for e in evs if e[0] in (_EV_WORD, _EV_SENTENCE, _EV_END)
                   or (e[0] == _EV_PHONEME and not e[4])]

    def next_after(starts: list[int], sample: int) -> int:
        i = bisect.bisect_right(starts, sample)
        return starts[i] if i < len(starts) else n_samples

    # espeak can give one written word several WORD events ("42" -> "forty", "two"): an event
    # that starts inside the previous word's span joins that word
    groups: list[list[int]] = []   # [first event index, last event index, pos, span end]
    for i, (kind, _, pos, length, _) in enumerate(evs):
        if kind != _EV_WORD:
            continue
        if groups and groups[-1][2] <= pos < groups[-1][3]:
            groups[-1][1] = i
            groups[-1][3] = max(groups[-1][3], pos + length)
        else:
            groups.append([i, i, pos, pos + max(length, 1)])

    # a phoneme ends where the next phoneme or pause begins
    timed = [(i, sample, end, label) for i, (kind, sample, _, _, label) in enumerate(evs)
             if kind == _EV_PHONEME and label and (end := next_after(phoneme_starts, sample)) > sample]
    phonemes = [(a / rate, b / rate, label) for _, a, b, label in timed]

    # a word spans its phonemes (those between its WORD event and the next word's); espeak sends
    # WORD a little before the first phoneme, so this keeps words apart and phonemes inside them
    words: list[tuple[float, float, str]] = []
    j = 0
    for k, (first, lastev, pos, _) in enumerate(groups):
        stop = groups[k + 1][0] if k + 1 < len(groups) else len(evs)
        while j < len(timed) and timed[j][0] < first:
            j += 1
        own = []
        while j < len(timed) and timed[j][0] < stop:
            own.append(timed[j])
            j += 1
        limit = groups[k + 1][2] if k + 1 < len(groups) else len(text) + 1
        labels = _word_labels(text, pos - 1, limit - 1)
        if not labels:
            continue
        if own:
            start, end = own[0][1], own[-1][2]
        else:  # nothing spoken for it: from its event to the next word, pause or clause end
            start, end = evs[first][1], next_after(word_bounds, evs[lastev][1])
        if end > start:
            words.extend((a / rate, b / rate, lab) for a, b, lab in _share(labels, own, start, end))
    return words, phonemes


def _share(labels: list[str], own: list, start: int, end: int) -> list[tuple[int, int, str]]:
    """Spans of the written words espeak said as one ("on the" -> [on, the]): its phonemes shared
    out in proportion to the words' lengths (at least one each), else its time."""
    if len(labels) == 1:
        return [(start, end, labels[0])]
    weights = [max(1, len(w)) for w in labels]
    total = sum(weights)
    out, used, acc = [], 0, 0
    if len(own) >= len(labels):
        for i, (w, lab) in enumerate(zip(weights, labels)):
            acc += w
            upto = len(own) if i == len(labels) - 1 else max(used + 1, min(len(own) - (len(labels) - 1 - i),
                                                                           round(len(own) * acc / total)))
            out.append((own[used][1], own[upto - 1][2], lab))
            used = upto
        return out
    t = start
    for w, lab in zip(weights, labels):
        acc += w
        nxt = start + (end - start) * acc // total
        out.append((t, nxt, lab))
        t = nxt
    return out


def _word_labels(text: str, start: int, limit: int) -> list[str]:
    """The written words from code point ``start`` up to the next word's position (espeak says
    some pairs as one word: "on the"), each without the punctuation around it ("¿Cómo" -> "Cómo",
    "l'homme." -> "l'homme"). espeak's own length stops at apostrophes and hyphens, so it is not used."""
    if not 0 <= start < len(text):
        return []
    out = []
    for run in text[start:max(limit, start + 1)].split():
        word = strip_marks(run)
        if word:
            out.append(word)
        elif not out and run:
            out.append(run)
    return out


def strip_marks(word: str) -> str:
    """``word`` without the punctuation around it ("¿Cómo" -> "Cómo", "l'homme." -> "l'homme")."""
    i, j = 0, len(word)
    while i < j and is_mark(word[i]):
        i += 1
    while j > i and is_mark(word[j - 1]):
        j -= 1
    return word[i:j]


def is_mark(ch: str) -> bool:
    """Punctuation and maths / modifier symbols (not currency signs, not emoji)."""
    cat = unicodedata.category(ch)
    return cat[0] == "P" or cat in ("Sm", "Sk")


def _label(raw: bytes) -> str:
    # espeak writes at most 8 bytes, which can cut a UTF-8 sequence: drop a broken tail
    return raw.split(b"\0", 1)[0].decode("utf-8", "ignore").translate(_STRESS).strip()
