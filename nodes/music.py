"""Music: a procedural composer ("Harmonie") that writes and plays real, seeded music in numpy.

A piece is written first and played second. Writing: a chord progression is drawn from the ones
that suit the mood (two of them: verse A and B), sections of 8 bars follow a seeded form (AABA,
ABAB ...), the bass follows the chord roots in a mood's rhythm, the melody is built from a
one-bar rhythmic motif, answered and sequenced over the chords (chord tones on strong beats,
steps between them, an arch over each 4-bar phrase, a cadence at its end), an arpeggio breaks
the chords up, and drums play a mood's pattern on a 16-step grid with fills before new
sections. Playing: every note comes from a small synthesiser (band-limited wavetables with an
envelope, vibrato and detuned voices; simple FM; plucked tones whose bright part dies first;
kick = a pitched-down sine, snare and hats = filtered noise), panned into stereo, with a
feedback-delay-network reverb and a ping-pong echo on the lead, faded out at the end and brought
to a steady loudness. The same seed and params give the same samples, bit for bit.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from nodegraph import Audio, Choice, Context, Int, Number, Seed, node

from . import audiodsp

KEYS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MOODS = ("calm", "happy", "tense", "sad", "epic")
INSTRUMENTATIONS = ("full", "piano", "strings", "synth", "drums_only", "no_drums")
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
AUTO_MODE = {"calm": "major", "happy": "major", "tense": "minor", "sad": "minor", "epic": "minor"}

# Roman numerals relative to the tonic's major scale: upper case major, lower case minor,
# "o" diminished, a "b" before lowers the root a semitone; suffixes maj7, 7, sus2, sus4.
PROGRESSIONS = {
    "calm": {"major": ["Imaj7 vi7 IVmaj7 V", "I IV vi V", "IVmaj7 Imaj7 ii7 V", "I iii IV IV",
                       "Imaj7 IVmaj7 Imaj7 IVmaj7"],
             "minor": ["i7 iv7 bVImaj7 bVII", "i bVI bIII bVII", "i7 bVIImaj7 bVImaj7 iv7"]},
    "happy": {"major": ["I V vi IV", "I vi IV V", "IV I V vi", "I IV I V", "I IV vi V"],
              "minor": ["i bVII bVI bVII", "bVI bVII i i", "i iv bVII bIII"]},
    "tense": {"major": ["I bIII IV bVI", "vi bVI V V", "I bII I bVII"],
              "minor": ["i bVI iv V", "i i bVI V", "i bII i V", "i iv bVI V", "i v bVI bII"]},
    "sad": {"major": ["vi IV I V", "I vi iii IV", "IV V iii vi", "vi iii IV I"],
            "minor": ["i bVI bIII bVII", "i iv bVII bIII", "i bVII bVI V", "i iv i V"]},
    "epic": {"major": ["I V vi IV", "I bVII IV I", "vi IV I V", "IV V vi I"],
             "minor": ["i bVI bIII bVII", "i bVII bVI bVII", "bVI bVII i i", "i bIII bVII bVI"]},
}
FORMS = ("AABA", "ABAB", "AABB", "ABAA")

# one-bar melody rhythms: (onset, length) in 16th notes
RHYTHMS = {
    "calm": [[(0, 8), (8, 8)], [(0, 6), (6, 2), (8, 8)], [(0, 12), (12, 4)], [(0, 4), (4, 4), (8, 8)]],
    "happy": [[(0, 2), (2, 2), (4, 4), (8, 2), (10, 2), (12, 4)], [(0, 3), (3, 3), (6, 2), (8, 4), (12, 4)],
              [(0, 4), (4, 2), (6, 2), (8, 6), (14, 2)], [(2, 2), (4, 2), (6, 4), (10, 2), (12, 4)]],
    "tense": [[(0, 2), (2, 2), (4, 2), (6, 2), (8, 4), (12, 4)], [(0, 3), (3, 3), (6, 2), (8, 3), (11, 3), (14, 2)],
              [(0, 1), (1, 1), (2, 2), (4, 4), (8, 8)]],
    "sad": [[(0, 6), (6, 2), (8, 8)], [(0, 4), (4, 4), (8, 4), (12, 4)], [(0, 8), (8, 4), (12, 4)],
            [(0, 12), (12, 2), (14, 2)]],
    "epic": [[(0, 6), (6, 2), (8, 6), (14, 2)], [(0, 4), (4, 4), (8, 8)], [(0, 3), (3, 3), (6, 2), (8, 8)],
             [(0, 2), (2, 2), (4, 4), (8, 4), (12, 4)]],
}
CADENCES = [[(0, 16)], [(0, 8), (8, 8)], [(0, 4), (4, 12)], [(0, 6), (6, 2), (8, 8)]]

# bass: (onset, length, semitones above the root) in 16ths
BASS = {
    "calm": [[(0, 16, 0)], [(0, 8, 0), (8, 8, 7)]],
    "happy": [[(0, 4, 0), (4, 2, 0), (6, 2, 12), (8, 4, 0), (12, 4, 7)],
              [(0, 3, 0), (3, 3, 0), (6, 2, 7), (8, 3, 0), (11, 3, 0), (14, 2, 7)]],
    "tense": [[(i * 2, 2, 0) for i in range(8)],
              [(0, 2, 0), (2, 2, 0), (4, 2, 12), (6, 2, 0), (8, 2, 0), (10, 2, 0), (12, 2, 12), (14, 2, 7)]],
    "sad": [[(0, 12, 0), (12, 4, 7)], [(0, 8, 0), (8, 8, 0)]],
    "epic": [[(0, 6, 0), (6, 6, 0), (12, 4, 0)], [(0, 3, 0), (3, 3, 0), (6, 2, 0), (8, 3, 0), (11, 3, 0), (14, 2, 0)]],
}

# arpeggios: (16ths per note, chord-tone indices; 3 = the root an octave up)
ARPS = {
    "calm": [(4, [0, 2, 1, 2]), (2, [0, 1, 2, 3, 2, 1, 2, 1])],
    "happy": [(2, [0, 1, 2, 3, 2, 1, 2, 3]), (2, [0, 2, 3, 2, 1, 2, 3, 2])],
    "tense": [(1, [0, 0, 2, 0, 1, 0, 2, 0, 0, 0, 2, 0, 1, 0, 3, 0])],
    "sad": [(2, [0, 2, 3, 2, 1, 2, 3, 2]), (4, [0, 1, 2, 3])],
    "epic": [(1, [0, 2, 3, 2] * 4), (1, [0, 1, 2, 3] * 4)],
}

# drums on 16 steps: {voice: {step: velocity}}
DRUMS = {
    "calm": [{"kick": {0: .7, 10: .4}, "rim": {8: .5}, "shaker": {s: (.35 if s % 4 else .5) for s in range(0, 16, 2)}}],
    "happy": [{"kick": {0: 1, 8: .9, 10: .6}, "snare": {4: .9, 12: 1}, "hat": {s: (.55 if s % 4 else .8) for s in range(0, 16, 2)},
               "ohat": {14: .5}},
              {"kick": {0: 1, 6: .6, 8: .9}, "snare": {4: .9, 12: 1}, "hat": {s: (.45 if s % 4 else .75) for s in range(16)}}],
    "tense": [{"kick": {0: 1, 6: .8, 10: .7}, "snare": {8: 1}, "hat": {s: (.3 if s % 2 else .6) for s in range(16)},
               "tom": {14: .6}},
              {"kick": {0: 1, 3: .6, 6: .8, 11: .7}, "snare": {8: 1}, "hat": {s: (.3 if s % 2 else .6) for s in range(16)}}],
    "sad": [{"kick": {0: .8, 10: .5}, "snare": {8: .7}, "hat": {s: .35 for s in range(0, 16, 2)}}],
    "epic": [{"kick": {0: 1, 7: .7, 8: .9}, "snare": {4: .9, 12: 1}, "tom": {0: .9, 3: .6, 6: .7, 10: .8, 12: .6, 14: .7},
              "hat": {s: .4 for s in range(0, 16, 4)}},
             {"kick": {0: 1, 8: 1}, "snare": {4: .8, 12: 1}, "tom": {0: 1, 2: .5, 4: .7, 8: 1, 10: .5, 11: .6, 14: .8}}],
}

# what plays each part, per instrumentation (None: the part is silent; "auto": by mood)
ENSEMBLES = {
    "full": {"pad": "pad", "bass": "bass", "lead": "auto", "arp": "pluck", "drums": True},
    "no_drums": {"pad": "pad", "bass": "bass", "lead": "auto", "arp": "pluck", "drums": False},
    "piano": {"pad": "piano_chord", "bass": "piano", "lead": "piano", "arp": "piano", "drums": False},
    "strings": {"pad": "string_pad", "bass": "cello", "lead": "violin", "arp": "pizz", "drums": False},
    "synth": {"pad": "synth_pad", "bass": "synth_bass", "lead": "fm", "arp": "synth_pluck", "drums": True},
    "drums_only": {"pad": None, "bass": None, "lead": None, "arp": None, "drums": True},
}
LEAD_BY_MOOD = {"calm": "flute", "happy": "fm", "tense": "fm", "sad": "flute", "epic": "brass"}
REVERB_BY_MOOD = {"calm": 2.2, "happy": 1.3, "tense": 1.5, "sad": 2.4, "epic": 2.6}

# mix: part -> (gain, pan -1..1, reverb send)
MIX = {
    "pad": (0.09, 0.0, 0.45), "bass": (0.42, 0.0, 0.0), "lead": (0.45, -0.15, 0.30),
    "arp": (0.22, 0.35, 0.35), "kick": (0.70, 0.0, 0.02), "snare": (0.90, -0.05, 0.20),
    "rim": (0.50, -0.10, 0.20), "hat": (0.30, 0.30, 0.04), "ohat": (0.22, 0.30, 0.08),
    "shaker": (0.22, 0.35, 0.10), "tom": (0.35, 0.15, 0.25), "crash": (0.18, -0.25, 0.20),
}

# level trims for instruments whose energy differs much from the part's usual sound
TRIM = {"piano_chord": 2.5}
TARGET_RMS = 0.14  # about -17 dBFS
CEILING = 0.9
TABLE_BITS = 13
TABLE = 1 << TABLE_BITS


def _harmonics(name: str) -> np.ndarray:
    n = np.arange(1, 49, dtype=np.float64)
    spectra = {
        "sine": np.array([1.0]),
        "warm": 1.0 / n[:12] ** 1.8,
        "flute": np.array([1.0, 0.4, 0.15, 0.08, 0.04, 0.02]),
        # bowed: a saw's series, rolled off, with a body resonance around the 4th harmonic
        "string": (1.0 / n[:20] ** 1.4) * (1.0 + 0.6 * np.exp(-(((n[:20] - 4.0) / 2.0) ** 2))),
        "saw": (1.0 / n[:32]) / (1.0 + (n[:32] / 8.0) ** 2),  # a saw through a soft low-pass
        "square": np.where(n[:31] % 2 == 1, 1.0 / n[:31], 0.0) / (1.0 + (n[:31] / 10.0) ** 2),
        "bass": np.array([1.0, 0.45, 0.2, 0.1, 0.05]),
        "brass": (1.0 / n[:16] ** 1.2) * np.where(n[:16] <= 6, 1.0, 0.6),
        "bright": 1.0 / n[:24] ** 1.2,
    }
    return spectra[name]


# instrument definitions: sustained (ADSR, optional detuned stereo voices and vibrato),
# plucked (bright partials die faster than the body), fm
INSTRUMENTS = {
    "pad": dict(kind="sustain", timbre="warm", attack=0.35, decay=0.5, sustain=0.8, release=0.9, detune=0.005),
    "string_pad": dict(kind="sustain", timbre="string", attack=0.45, decay=0.3, sustain=0.9, release=0.7,
                       detune=0.004, vib=(5.2, 0.002, 0.2)),
    "synth_pad": dict(kind="sustain", timbre="saw", attack=0.15, decay=0.6, sustain=0.7, release=0.5, detune=0.007),
    "bass": dict(kind="sustain", timbre="bass", attack=0.006, decay=0.25, sustain=0.65, release=0.07),
    "synth_bass": dict(kind="sustain", timbre="square", attack=0.004, decay=0.15, sustain=0.5, release=0.05),
    "cello": dict(kind="sustain", timbre="string", attack=0.1, decay=0.2, sustain=0.85, release=0.2,
                  vib=(5.0, 0.003, 0.25)),
    "flute": dict(kind="sustain", timbre="flute", attack=0.05, decay=0.15, sustain=0.8, release=0.12,
                  vib=(5.0, 0.004, 0.18)),
    "violin": dict(kind="sustain", timbre="string", attack=0.08, decay=0.2, sustain=0.85, release=0.18,
                   vib=(5.6, 0.005, 0.15)),
    "brass": dict(kind="sustain", timbre="brass", attack=0.06, decay=0.2, sustain=0.8, release=0.12,
                  vib=(5.0, 0.003, 0.3)),
    "fm": dict(kind="fm", attack=0.008, decay=0.3, sustain=0.6, release=0.1, ratio=1.0, index=(2.5, 0.6, 0.25)),
    "piano": dict(kind="pluck", bright="bright", body="warm", tau_bright=0.18, tau=1.4, release=0.12),
    "piano_chord": dict(kind="pluck", bright="bright", body="warm", tau_bright=0.2, tau=1.8, release=0.2),
    "pluck": dict(kind="pluck", bright="bright", body="flute", tau_bright=0.08, tau=0.45, release=0.08),
    "pizz": dict(kind="pluck", bright="string", body="flute", tau_bright=0.05, tau=0.22, release=0.05),
    "synth_pluck": dict(kind="pluck", bright="saw", body="square", tau_bright=0.06, tau=0.3, release=0.05),
}


@dataclass(frozen=True)
class Chord:
    root: int  # pitch class relative to the tonic, 0..11
    tones: tuple[int, ...]  # semitones above the root

    def pcs(self) -> list[int]:
        return [(self.root + t) % 12 for t in self.tones]


_NUMERAL = re.compile(r"^(b?)(VII|VI|V|IV|III|II|I|vii|vi|v|iv|iii|ii|i)(o?)(maj7|7|sus2|sus4)?$")
_DEGREE = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}


def parse_chord(symbol: str) -> Chord:
    """A roman-numeral chord ("bVImaj7", "ii7", "V") relative to the tonic."""
    m = _NUMERAL.match(symbol)
    if not m:
        raise ValueError(f"chord symbol {symbol!r} is not a roman numeral")
    flat, numeral, dim, ext = m.groups()
    root = (_DEGREE[numeral.upper()] - (1 if flat else 0)) % 12
    minor = numeral.islower()
    tones = [0, 3, 6] if dim else ([0, 3, 7] if minor else [0, 4, 7])
    if ext == "maj7":
        tones.append(11)
    elif ext == "7":
        tones.append(9 if dim else 10)
    elif ext == "sus2":
        tones[1] = 2
    elif ext == "sus4":
        tones[1] = 5
    return Chord(root, tuple(tones))


def _chord_scale(scale: tuple[int, ...], chord: Chord) -> list[int]:
    """The key's scale with the notes the chord alters (the raised 7th over V in minor, the
    lowered 2nd over bII ...) changed to the chord's."""
    out = list(scale)
    for pc in chord.pcs():
        if pc in out:
            continue
        above, below = (pc + 1) % 12, (pc - 1) % 12
        if above in out and above != 0:
            out[out.index(above)] = pc
        elif below in out and below != 0:
            out[out.index(below)] = pc
    return out


def _midi_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


# -- the score -------------------------------------------------------------------------------
@dataclass
class Event:
    start: float  # seconds
    dur: float  # seconds the note is held
    midi: int
    vel: float
    part: str  # pad, bass, lead, arp, or a drum voice


def write_score(mood: str, key: str, mode: str, tempo: int, duration: float, seed: int,
                ensemble: dict) -> tuple[list[Event], int, float]:
    """Compose: the events of the piece, its number of bars and the bar length in seconds."""
    rng = np.random.Generator(np.random.PCG64([seed, MOODS.index(mood), 7]))
    key_pc = KEYS.index(key)
    scale = SCALES[mode]
    step = 60.0 / tempo / 4.0  # a 16th note
    bar_s = 16 * step
    n_bars = max(1, math.ceil(duration / bar_s - 1e-9))
    progs = PROGRESSIONS[mood][mode]
    order = rng.permutation(len(progs))
    prog = {"A": [parse_chord(c) for c in progs[order[0]].split()],
            "B": [parse_chord(c) for c in progs[order[min(1, len(order) - 1)]].split()]}
    form = FORMS[int(rng.integers(len(FORMS)))]
    intro = 2 if n_bars >= 10 else (1 if n_bars >= 5 else 0)
    tonic = parse_chord("i" if mode == "minor" else "I")

    # bar plan: section letter, chord, position in the 8-bar section
    plan = []
    for b in range(n_bars):
        if b < intro:
            letter, pos = "I", b
            chord = prog["A"][b % 4]
        else:
            k = b - intro
            letter, pos = form[(k // 8) % len(form)], k % 8
            chord = prog[letter][pos % 4]
        if b == n_bars - 1 and n_bars >= 3:
            chord = tonic
        plan.append((letter, pos, chord))

    events: list[Event] = []
    tonic_mel = 72 + key_pc if key_pc <= 4 else 60 + key_pc  # melody tonic F4..E5

    def at(bar: int, s16: float) -> float:
        return bar * bar_s + s16 * step

    # pads: voice-led chords
    prev: list[int] | None = None
    for b, (_, _, chord) in enumerate(plan):
        voicing = _voice(chord, key_pc, prev)
        prev = voicing
        if ensemble["pad"]:
            for v in voicing:
                events.append(Event(at(b, 0), bar_s, v, 0.8 + 0.1 * rng.random(), "pad"))

    # bass
    bass_pats = BASS[mood]
    bass_choice = {"A": bass_pats[int(rng.integers(len(bass_pats)))], "B": bass_pats[int(rng.integers(len(bass_pats)))]}
    if ensemble["bass"]:
        for b, (letter, pos, chord) in enumerate(plan):
            if letter == "I" and b == 0 and intro > 1:
                continue  # the bass comes in on the second intro bar
            pat = [(0, 16, 0)] if b == n_bars - 1 else bass_choice.get(letter, bass_choice["A"])
            root = 33 + (key_pc + chord.root - 33) % 12  # A1 (55 Hz) .. G#2
            for on, ln, iv in pat:
                events.append(Event(at(b, on), ln * step * 0.92, root + iv, 0.75 + 0.2 * rng.random() * (on % 4 == 0), "bass"))

    # arpeggio
    arp_rate, arp_idx = ARPS[mood][int(rng.integers(len(ARPS[mood])))]
    if ensemble["arp"]:
        for b, (letter, pos, chord) in enumerate(plan):
            if b == n_bars - 1:
                break
            tones = sorted(((key_pc + chord.root + t) % 12) + 60 for t in chord.tones[:3])
            tones.append(tones[0] + 12)
            for i, s16 in enumerate(range(0, 16, arp_rate)):
                idx = arp_idx[i % len(arp_idx)]
                accent = 1.0 if s16 % 4 == 0 else 0.75
                events.append(Event(at(b, s16), arp_rate * step * 0.9, tones[idx], accent * (0.8 + 0.2 * rng.random()), "arp"))

    # melody
    if ensemble["lead"]:
        events += _melody(rng, plan, intro, mood, scale, key_pc, tonic_mel, at, step, n_bars)

    # drums
    if ensemble["drums"]:
        pats = DRUMS[mood]
        drum_choice = {"A": pats[int(rng.integers(len(pats)))], "B": pats[int(rng.integers(len(pats)))]}
        for b, (letter, pos, chord) in enumerate(plan):
            if b == n_bars - 1 and n_bars >= 3:
                events.append(Event(at(b, 0), 0.5, 0, 1.0, "kick"))
                events.append(Event(at(b, 0), 2.5, 0, 1.0, "crash"))
                continue
            if letter == "I":
                if b == intro - 1:  # hats (or shaker) lead into the first section
                    pat = drum_choice["A"]
                    for voice in ("hat", "shaker"):
                        for s16, v in pat.get(voice, {}).items():
                            events.append(Event(at(b, s16), 0.1, 0, v * 0.8, voice))
                continue
            pat = drum_choice.get(letter, drum_choice["A"])
            if pos == 0 and mood != "calm":
                events.append(Event(at(b, 0), 2.0, 0, 0.8, "crash"))
            fill = pos == 7 and b + 1 < n_bars - 1 and mood != "calm"
            for voice, hits in pat.items():
                for s16, v in hits.items():
                    if fill and s16 >= 12 and voice in ("snare", "tom", "hat"):
                        continue
                    jitter = rng.normal(0.0, 0.002) if voice in ("hat", "shaker") else 0.0
                    events.append(Event(at(b, s16) + jitter, 0.1, 0, v * (0.9 + 0.1 * rng.random()), voice))
            if fill:
                voice = "tom" if mood in ("epic", "tense") else "snare"
                for i, s16 in enumerate((12, 13, 14, 15)):
                    events.append(Event(at(b, s16), 0.1, 0, 0.55 + 0.12 * i, voice))
    for e in events:
        e.start = max(0.0, e.start)  # a humanised note cannot start before the piece
    events = [e for e in events if e.start < duration]
    events.sort(key=lambda e: (e.start, e.part, e.midi))
    return events, n_bars, bar_s


def _voice(chord: Chord, key_pc: int, prev: list[int] | None) -> list[int]:
    """Chord tones placed between E3 and C5, as close as possible to the previous voicing."""
    pcs = [(key_pc + p) % 12 for p in chord.pcs()]
    best, best_score = None, math.inf
    for inv in range(len(pcs)):
        order = pcs[inv:] + pcs[:inv]
        for base in range(52, 65):
            if base % 12 != order[0]:
                continue
            notes = [base]
            for pc in order[1:]:
                n = notes[-1] + 1
                while n % 12 != pc:
                    n += 1
                notes.append(n)
            score = abs(sum(notes) / len(notes) - 60) * 0.5
            if prev is not None:
                a, b = sorted(notes), sorted(prev)
                k = min(len(a), len(b))
                score += sum(abs(x - y) for x, y in zip(a[:k], b[:k]))
            if score < best_score:
                best, best_score = notes, score
    return sorted(best)


def _melody(rng: np.random.Generator, plan: list, intro: int, mood: str, scale: tuple[int, ...],
            key_pc: int, tonic_mel: int, at, step: float, n_bars: int) -> list[Event]:
    """A melody in 4-bar phrases: motif, its continuation, the motif sequenced, a cadence."""
    rhythms = RHYTHMS[mood]
    motifs = {}
    for letter in "AB":
        r1 = rhythms[int(rng.integers(len(rhythms)))]
        r2 = rhythms[int(rng.integers(len(rhythms)))]
        cad = CADENCES[int(rng.integers(len(CADENCES)))]
        motifs[letter] = (r1, r2, cad)
    legato = 0.6 if mood == "tense" else 0.92
    events: list[Event] = []
    lo, hi = -3, 8  # scale degrees around the tonic
    memory: dict[tuple[str, int], list[int]] = {}  # (section letter, bar in section) -> degrees
    prev = 2
    for b in range(intro, n_bars):
        letter, pos, chord = plan[b]
        r1, r2, cad = motifs.get(letter, motifs["A"])
        phrase_bar = pos % 4
        last_bar = b == n_bars - 1
        rhythm = cad if (phrase_bar == 3 or last_bar) else (r1, r2, r1)[phrase_bar]
        cscale = _chord_scale(scale, chord)
        chord_pcs = set(chord.pcs())
        chord_degs = [d for d in range(lo, hi + 1) if cscale[d % 7] in chord_pcs]
        if not last_bar and (letter, pos) in memory:
            degs = memory[(letter, pos)]  # a section that comes back brings its tune back
        elif not last_bar and pos in (4, 5) and (letter, pos - 4) in memory:
            degs = memory[(letter, pos - 4)]  # the second phrase opens like the first
        elif not last_bar and phrase_bar == 2 and (letter, pos - 2) in memory:
            degs = _sequence(memory[(letter, pos - 2)], chord_degs, lo, hi)  # the motif, moved
            if pos < 4:
                memory[(letter, pos)] = degs
        else:
            degs = []
            for i, (on, ln) in enumerate(rhythm):
                strong = on in (0, 8) or ln >= 4
                final = i == len(rhythm) - 1 and (phrase_bar == 3 or last_bar)
                arch = 1.0 + 3.0 * math.sin(math.pi * (phrase_bar * 16 + on) / 64.0)
                if final:
                    pool = [d for d in chord_degs if d % 7 in ((0,) if (last_bar or pos == 7) else (0, 2, 4))] or chord_degs
                    weights = [math.exp(-abs(d - prev) / 2.0) for d in pool]
                else:
                    pool = list(range(lo, hi + 1))
                    weights = []
                    for d in pool:
                        iv = abs(d - prev)
                        w = math.exp(-iv / 1.4) * (0.35 if iv == 0 else 1.0)
                        w *= math.exp(-abs(d - arch) / 3.0)
                        is_chord = d in chord_degs
                        w *= (4.0 if is_chord else 0.25) if strong else (1.5 if is_chord else 1.0)
                        weights.append(w)
                p = np.asarray(weights) / sum(weights)
                d = int(pool[int(rng.choice(len(pool), p=p))])
                degs.append(d)
                prev = d
            if not last_bar:
                memory[(letter, pos)] = degs
        for (on, ln), d in zip(rhythm, degs):
            midi = tonic_mel + 12 * (d // 7) + cscale[d % 7]
            vel = (0.9 if on in (0, 8) else 0.75) * (0.9 + 0.1 * rng.random())
            start = at(b, on) + float(rng.normal(0.0, 0.004))
            events.append(Event(max(0.0, start), ln * step * legato, int(midi), vel, "lead"))
        if degs:
            prev = degs[-1]
    return events


def _sequence(motif: list[int], chord_degs: list[int], lo: int, hi: int) -> list[int]:
    """The motif moved (diatonically) so that its first note lands on the nearest chord tone,
    preferring a real move to a plain repeat; kept inside the melody's range."""
    if not motif:
        return motif
    shifts = sorted(range(-4, 5), key=lambda s: (s == 0, abs(s), s))
    for shift in shifts:
        if motif[0] + shift in chord_degs:
            break
    else:
        shift = 0
    moved = [d + shift for d in motif]
    if max(moved) > hi:
        moved = [d - 7 for d in moved] if min(moved) - 7 >= lo else list(motif)
    elif min(moved) < lo:
        moved = [d + 7 for d in moved] if max(moved) + 7 <= hi else list(motif)
    return moved


# -- the synthesiser -------------------------------------------------------------------------
class Synth:
    """Renders notes (cached: the same note of the same length is synthesised once)."""

    def __init__(self, rate: int, rng: np.random.Generator):
        self.rate = rate
        self.rng = rng
        self._tables: dict[tuple[str, int], np.ndarray] = {}
        self._notes: dict[tuple, np.ndarray] = {}
        self._drums: dict[str, np.ndarray] = {}

    # wavetables ------------------------------------------------------------------------------
    def table(self, timbre: str, freq: float) -> np.ndarray:
        amps = _harmonics(timbre)
        nh = int(max(1, min(len(amps), math.floor(0.45 * self.rate / max(freq, 1.0)))))
        key = (timbre, nh)
        t = self._tables.get(key)
        if t is None:
            ph = np.arange(TABLE) * (2.0 * np.pi / TABLE)
            t = np.zeros(TABLE)
            for h in range(nh):
                if amps[h]:
                    t += amps[h] * np.sin((h + 1) * ph)
            t = (t / np.abs(t).max()).astype(np.float32)
            self._tables[key] = t
        return t

    def osc(self, timbre: str, freq: float, n: int, vib: tuple | None = None) -> np.ndarray:
        table = self.table(timbre, freq * (1.0 + (vib[1] if vib else 0.0)))
        if vib is None:
            inc = int(round(freq / self.rate * 2.0 ** 32))
            idx = ((np.arange(n, dtype=np.int64) * inc) >> (32 - TABLE_BITS)) & (TABLE - 1)
        else:
            v_rate, depth, delay = vib
            t = np.arange(n) / self.rate
            ramp = np.clip((t - delay) / 0.3, 0.0, 1.0)
            inst = freq * (1.0 + depth * ramp * np.sin(2.0 * np.pi * v_rate * t))
            phase = np.cumsum(inst) / self.rate
            idx = (np.mod(phase, 1.0) * TABLE).astype(np.int64) & (TABLE - 1)
        return table[idx]

    def _adsr(self, n: int, held: int, spec: dict) -> np.ndarray:
        r = self.rate
        a = max(1, int(spec["attack"] * r))
        d = max(1, int(spec["decay"] * r))
        s = spec["sustain"]
        if held <= a:
            pts_t, pts_v = [0, held], [0.0, held / a]
        elif held <= a + d:
            pts_t, pts_v = [0, a, held], [0.0, 1.0, 1.0 - (1.0 - s) * (held - a) / d]
        else:
            pts_t, pts_v = [0, a, a + d, held], [0.0, 1.0, s, s]
        pts_t.append(n - 1)
        pts_v.append(0.0)
        return np.interp(np.arange(n), pts_t, pts_v).astype(np.float32)

    # notes -----------------------------------------------------------------------------------
    def note(self, inst: str, midi: int, dur: float) -> np.ndarray:
        """One note, mono (n,) or stereo (n, 2), peak about 1."""
        held = max(1, int(round(dur * self.rate)))
        key = (inst, midi, held)
        out = self._notes.get(key)
        if out is None:
            out = self._render(INSTRUMENTS[inst], midi, held)
            self._notes[key] = out
        return out

    def _render(self, spec: dict, midi: int, held: int) -> np.ndarray:
        f = _midi_hz(midi)
        r = self.rate
        kind = spec["kind"]
        if kind == "sustain":
            n = held + max(1, int(spec["release"] * r))
            env = self._adsr(n, held, spec)
            vib = spec.get("vib")
            if "detune" in spec:
                dt = spec["detune"]
                left = self.osc(spec["timbre"], f * (1.0 - dt), n, vib) * env
                right = self.osc(spec["timbre"], f * (1.0 + dt), n, vib) * env
                return np.stack([left, right], axis=1)
            return self.osc(spec["timbre"], f, n, vib) * env
        if kind == "pluck":
            n = held + max(1, int(spec["release"] * r))
            t = np.arange(n, dtype=np.float32) / r
            tau = spec["tau"] * min(2.0, math.sqrt(261.6 / f))  # low notes ring longer
            tail = np.ones(n, np.float32)
            rel = n - held
            tail[held:] = np.linspace(1.0, 0.0, rel, dtype=np.float32)
            attack = np.minimum(1.0, t / 0.003)
            bright = self.osc(spec["bright"], f, n) * np.exp(-t / spec["tau_bright"])
            body = self.osc(spec["body"], f, n) * np.exp(-t / tau)
            return ((0.55 * bright + 0.6 * body) * attack * tail).astype(np.float32)
        if kind == "fm":
            n = held + max(1, int(spec["release"] * r))
            env = self._adsr(n, held, spec)
            t = np.arange(n) / r
            i0, i1, tau = spec["index"]
            nyq_room = max(0.0, min(1.0, (0.45 * r / f - 2.0) / 4.0))  # less brightness up high
            index = (i0 * np.exp(-t / tau) + i1) * nyq_room
            w = 2.0 * np.pi * f * t
            y = np.sin(w + index * np.sin(spec["ratio"] * w))
            return (y * env).astype(np.float32)
        raise ValueError(f"unknown instrument kind {kind!r}")

    # drums -----------------------------------------------------------------------------------
    def drum(self, voice: str) -> np.ndarray:
        d = self._drums.get(voice)
        if d is None:
            d = self._render_drum(voice).astype(np.float32)
            k = max(1, len(d) // 4)  # a half-cosine taper over the last quarter: no click at the cut
            d[-k:] *= (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, k))).astype(np.float32)
            d /= max(1e-9, float(np.abs(d).max()))
            self._drums[voice] = d
        return d

    def _noise(self, seconds: float) -> np.ndarray:
        return self.rng.standard_normal(max(1, int(seconds * self.rate)))

    def _highpass(self, x: np.ndarray, cutoff: float) -> np.ndarray:
        k = max(1, int(round(self.rate / (2.0 * cutoff))))
        smooth = np.convolve(x, np.ones(k) / k, mode="same")
        return x - smooth

    def _lowpass(self, x: np.ndarray, cutoff: float) -> np.ndarray:
        k = max(1, int(round(self.rate / (2.0 * cutoff))))
        return np.convolve(x, np.ones(k) / k, mode="same")

    def _render_drum(self, voice: str) -> np.ndarray:
        r = self.rate
        if voice == "kick":
            n = int(0.45 * r)
            t = np.arange(n) / r
            freq = 46.0 + 120.0 * np.exp(-t / 0.035)
            body = np.sin(2.0 * np.pi * np.cumsum(freq) / r) * np.exp(-t / 0.16) * np.minimum(1.0, t / 0.001)
            click = np.zeros(n)
            c = self._lowpass(self._noise(0.004), 3000.0)
            click[:len(c)] = c * 0.3
            return np.tanh(1.4 * (body + click))
        if voice in ("snare", "rim"):
            n = int((0.35 if voice == "snare" else 0.12) * r)
            t = np.arange(n) / r
            tone = (np.sin(2 * np.pi * 190 * t) * 0.6 + np.sin(2 * np.pi * 330 * t) * 0.3) * np.exp(-t / 0.05)
            noise = self._highpass(self._noise(n / r), 1500.0) * np.exp(-t / (0.1 if voice == "snare" else 0.02))
            if voice == "rim":
                tone = np.sin(2 * np.pi * 820 * t) * np.exp(-t / 0.015)
            return tone + 0.9 * noise
        if voice in ("hat", "ohat", "shaker"):
            length, tau, cut = {"hat": (0.09, 0.018, 7000.0), "ohat": (0.4, 0.12, 6500.0),
                                "shaker": (0.1, 0.03, 4500.0)}[voice]
            n = int(length * r)
            t = np.arange(n) / r
            x = self._highpass(self._highpass(self._noise(length), min(cut, 0.3 * r)), min(cut, 0.3 * r))
            env = np.exp(-t / tau) * (np.minimum(1.0, t / 0.012) if voice == "shaker" else 1.0)
            return x * env
        if voice == "tom":
            n = int(0.7 * r)
            t = np.arange(n) / r
            freq = 70.0 + 30.0 * np.exp(-t / 0.08)
            body = np.sin(2.0 * np.pi * np.cumsum(freq) / r) * np.exp(-t / 0.3)
            thump = self._lowpass(self._noise(n / r), 400.0) * np.exp(-t / 0.05) * 3.0
            return np.tanh(1.5 * (body + thump))
        if voice == "crash":
            n = int(2.5 * r)
            t = np.arange(n) / r
            x = self._highpass(self._noise(2.5), min(5000.0, 0.3 * r))
            return x * np.exp(-t / 0.9) * np.minimum(1.0, t / 0.002)
        raise ValueError(f"unknown drum voice {voice!r}")


def _pan(p: float) -> tuple[float, float]:
    a = (p + 1.0) * math.pi / 4.0
    return math.cos(a), math.sin(a)


def _echo(x: np.ndarray, delay: int, feedback: float, taps: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Ping-pong echo of a mono signal: odd repeats to the left, even ones to the right."""
    n = len(x)
    left, right = np.zeros(n, np.float32), np.zeros(n, np.float32)
    g = 1.0
    for k in range(1, taps + 1):
        g *= feedback
        d = k * delay
        if d >= n:
            break
        (left if k % 2 else right)[d:] += np.float32(g) * x[:n - d]
    return left, right


def render(events: list[Event], n_bars: int, bar_s: float, duration: float, rate: int, seed: int,
           mood: str, ensemble: dict, tempo: int, ctx: Context | None = None, *,
           master: bool = True) -> np.ndarray:
    """Play a score: (frames, 2) float32, peak 0.9 at most (``master=False``: the raw mix,
    for inspecting the balance of the parts)."""
    n = max(1, int(round(duration * rate)))
    rng = np.random.Generator(np.random.PCG64([seed, 99]))
    synth = Synth(rate, rng)
    lead_inst = LEAD_BY_MOOD[mood] if ensemble["lead"] == "auto" else ensemble["lead"]
    inst_of = {"pad": ensemble["pad"], "bass": ensemble["bass"], "lead": lead_inst, "arp": ensemble["arp"]}
    left, right = np.zeros(n, np.float32), np.zeros(n, np.float32)
    send = np.zeros(n, np.float32)
    lead_bus = np.zeros(n, np.float32)
    by_bar: list[list[Event]] = [[] for _ in range(n_bars)]
    for e in events:
        by_bar[min(n_bars - 1, int(e.start / bar_s))].append(e)
    for b, bar_events in enumerate(by_bar):
        for e in bar_events:
            a = int(round(e.start * rate))
            if a >= n:
                continue
            gain, pan, rev = MIX[e.part]
            if e.part in inst_of:
                tpl = synth.note(inst_of[e.part], e.midi, e.dur)
                gain *= TRIM.get(inst_of[e.part], 1.0)
            else:
                tpl = synth.drum(e.part)
            m = min(len(tpl), n - a)
            g = gain * e.vel
            if tpl.ndim == 2:  # stereo voices (pads)
                part = tpl[:m]
                left[a:a + m] += np.float32(g) * part[:, 0]
                right[a:a + m] += np.float32(g) * part[:, 1]
                if rev:
                    send[a:a + m] += np.float32(g * rev * 0.5) * (part[:, 0] + part[:, 1])
                continue
            part = tpl[:m]
            if e.part == "arp":  # spread the arpeggio across the stereo field by pitch
                pan = max(-0.6, min(0.6, pan + (e.midi - 66) / 20.0))
            gl, gr = _pan(pan)
            left[a:a + m] += np.float32(g * gl) * part
            right[a:a + m] += np.float32(g * gr) * part
            if rev:
                send[a:a + m] += np.float32(g * rev) * part
            if e.part == "lead":
                lead_bus[a:a + m] += np.float32(g) * part
        if ctx is not None:
            ctx.progress(0.85 * (b + 1) / n_bars, f"bar {b + 1} of {n_bars}")
    # a dotted-eighth ping-pong echo on the lead for the livelier moods
    if mood in ("happy", "epic", "calm") and lead_bus.any():
        el, er = _echo(lead_bus, int(round(0.75 * 60.0 / tempo * rate)), 0.3)
        left += 0.5 * el
        right += 0.5 * er
    mix = np.stack([left, right], axis=1)
    if send.any():
        mix += audiodsp.reverb(send, rate, decay_s=REVERB_BY_MOOD[mood], wet=0.45, dry=0.0, damping=0.5)
    if not master:
        return mix
    if ctx is not None:
        ctx.progress(0.95, "mastering")
    # loudness: about -17 dBFS RMS; the highest peaks (drum hits) are bent by a soft clip by
    # at most ~3 dB so that none goes past 0.9; fades so it starts and ends cleanly
    rms = float(np.sqrt(np.mean(np.square(mix, dtype=np.float64))))
    peak = float(np.abs(mix).max())
    if peak > 0:
        mix *= np.float32(min(TARGET_RMS / max(rms, 1e-9), 1.4 * CEILING / peak))
        mix = CEILING * audiodsp.soft_clip(mix / np.float32(CEILING), knee=0.7)
    fade_out = min(4.0, 0.2 * duration)
    mix = audiodsp.fade(mix, rate, 0.005, fade_out, curve="equal_power")
    np.clip(mix, -CEILING, CEILING, out=mix)
    return mix


@node("music.compose", title="Compose music", category="Music", determinism="seeded")
def compose(mood: Choice(*MOODS) = "calm", key: Choice(*KEYS) = "C",
            mode: Choice("auto", "major", "minor") = "auto", tempo: Int(min=40, max=220) = 96,
            duration: Number(min=1.0, max=600.0) = 20.0, seed: Seed = 0,
            instrumentation: Choice(*INSTRUMENTATIONS) = "full",
            sample_rate: Int(min=8000, max=96000) = 48000, ctx: Context = None) -> Audio:
    """Compose and play an original piece of music: chords, bass, melody, arpeggio and drums.

    Everything is synthesised here, in numpy, with no model and no samples: the same seed and
    params always give the same audio, and another seed gives another piece in the same style.
    The piece is in 4/4, one chord per bar, ends on the tonic and fades out over its last
    seconds (at most 4). Loudness is about -17 dBFS RMS, peaks 0.9 at most.

    Args:
        mood: chooses the progressions, rhythms, drum patterns, lead sound and reverb.
        key: the tonic.
        mode: major or minor; auto takes it from the mood (calm and happy major, others minor).
        tempo: beats (quarter notes) per minute.
        duration: length in seconds; the result has exactly this many seconds of frames.
        seed: draws the progressions, form, melody and patterns.
        instrumentation: full band, piano alone, strings, synths, drums only, or the band
            without drums.
        sample_rate: samples per second of the result.
    """
    for name, value, allowed in (("mood", mood, MOODS), ("key", key, KEYS), ("mode", mode, ("auto", *SCALES)),
                                 ("instrumentation", instrumentation, INSTRUMENTATIONS)):
        if value not in allowed:
            raise ValueError(f"{name} {value!r} is not one of {list(allowed)}")
    for name, value, lo, hi in (("tempo", tempo, 40, 220), ("duration", duration, 1.0, 600.0),
                                ("sample_rate", sample_rate, 8000, 96000)):
        if not lo <= value <= hi:
            raise ValueError(f"{name} {value!r} must be between {lo} and {hi}")
    if mode == "auto":
        mode = AUTO_MODE[mood]
    ensemble = ENSEMBLES[instrumentation]
    events, n_bars, bar_s = write_score(mood, key, mode, int(tempo), float(duration), int(seed), ensemble)
    samples = render(events, n_bars, bar_s, float(duration), int(sample_rate), int(seed), mood, ensemble,
                     int(tempo), ctx)
    if ctx is not None:
        ctx.progress(1.0, "done")
    return Audio(samples, int(sample_rate))
