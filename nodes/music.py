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

This file declares the node; the writing is ``nodes/_score.py``, the playing ``nodes/_synth.py``.
"""
from __future__ import annotations

from nodegraph import Audio, Choice, Context, Int, Number, Seed, node

from ._score import AUTO_MODE, ENSEMBLES, INSTRUMENTATIONS, KEYS, MOODS, SCALES, write_score
from ._synth import render


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
