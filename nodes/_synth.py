"""Playing a piece for the music pack (``nodes/music.py``): a small synthesiser and the mix.

Every note comes from a small synthesiser (band-limited wavetables with an envelope, vibrato and
detuned voices; simple FM; plucked tones whose bright part dies first; kick = a pitched-down
sine, snare and hats = filtered noise), panned into stereo, with a feedback-delay-network reverb
and a ping-pong echo on the lead, faded out at the end and brought to a steady loudness. The
events come from ``nodes/_score.py``; the same events and seed give the same samples.
"""
from __future__ import annotations

import math

import numpy as np

from nodegraph import Context

from . import audiodsp
from ._score import Event

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


def _midi_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


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
