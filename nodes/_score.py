"""Writing a piece for the music pack (``nodes/music.py``): the harmony, form, bass, melody,
arpeggio and drum patterns of a mood, drawn from one seed, as a list of note events.

A chord progression is drawn from the ones that suit the mood (two of them: verse A and B),
sections of 8 bars follow a seeded form (AABA, ABAB ...), the bass follows the chord roots in a
mood's rhythm, the melody is built from a one-bar rhythmic motif, answered and sequenced over
the chords (chord tones on strong beats, steps between them, an arch over each 4-bar phrase, a
cadence at its end), an arpeggio breaks the chords up, and drums play a mood's pattern on a
16-step grid with fills before new sections. ``nodes/_synth.py`` plays the events.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

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
