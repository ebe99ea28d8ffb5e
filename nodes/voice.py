"""Voice nodes: speech synthesis with espeak-ng (no model weights, about 100 languages)."""
from __future__ import annotations

import numpy as np

from nodegraph import Audio, Character, Context, Int, Speech, Text, Timing, node

from . import _espeak


@node("voice.speak", title="Speak", category="Voice", determinism="pure", cost="cpu",
      defaults_from={"variant": "character", "pitch": "character", "rate": "character"})
def speak(text: Text(multiline=True, placeholder="What to say"), character: Character | None = None,
          language: Text = "en", variant: Text = "", pitch: Int(min=0, max=99) | None = None,
          rate: Int(min=80, max=450) | None = None, ctx: Context = None) -> Speech:
    """Say a text with espeak-ng: mono speech at 22050 Hz with word and phoneme timings.

    The timings drive lipsync and subtitles: words are labelled as written in the text, phonemes
    in IPA without stress marks. The same inputs always give the same audio, bit for bit.

    Args:
        text: what to say.
        character: who says it. A character whose voice engine is "espeak" brings its variant
            (voice name), pitch and rate, so it sounds the same in every shot and every language;
            a variant, pitch or rate set on this node wins over the character's (the run log
            says which). For a voice of another engine this node uses its own settings (another
            node can convert the voice afterwards).
        language: language code, e.g. en, en-us, fr, es, es-419, de, pt-br, cmn (about 100).
        variant: voice variant, e.g. f1-f5 (female), m1-m8 (male), klatt, whisper; empty: the
            character's, else the language's default voice.
        pitch: 0-99; empty: the character's, else 50 (the voice's normal pitch).
        rate: speed in words per minute; empty: the character's, else 170.
    """
    if not text.strip():
        raise ValueError("text is empty: nothing to say")
    language, _, own_variant = language.partition("+")  # "en+f3" is accepted too
    language, variant = language.strip(), variant.strip() or own_variant.strip()
    if character is not None and character.voice.engine == "espeak":
        c_variant, c_pitch, c_rate = _character_voice(character)
        own = {"variant": variant or None, "pitch": pitch, "rate": rate}
        theirs = {"variant": c_variant, "pitch": c_pitch, "rate": c_rate}
        taken = [k for k, v in own.items() if v is None]
        kept = [k for k, v in own.items() if v is not None and v != theirs[k]]
        variant = variant or c_variant
        pitch = c_pitch if pitch is None else pitch
        rate = c_rate if rate is None else rate
        if ctx is not None:
            who = f"character {character.name!r}"
            parts = [f"{', '.join(f'{k} {theirs[k]!r}' for k in taken)} from {who}"] if taken else []
            parts += [f"{k} {own[k]!r} set here instead of {who}'s {theirs[k]!r}" for k in kept]
            if parts:
                ctx.log("; ".join(parts))
    pitch = 50 if pitch is None else pitch
    rate = 170 if rate is None else rate
    voice = _espeak.resolve_voice(language, variant)
    pcm, sample_rate, words, phonemes = _espeak.synthesize(text, voice, rate=rate, pitch=pitch)
    audio = Audio((pcm.astype(np.float32) / 32768.0)[:, None], sample_rate)
    return Speech(audio, text, language,
                  [Timing(a, b, w) for a, b, w in words], [Timing(a, b, p) for a, b, p in phonemes])


def _character_voice(character: Character) -> tuple[str, int, int]:
    """(variant, pitch, rate) of a character's espeak voice, checked.

    ``voice.name`` is a variant ("f3"), a voice written with its language ("en+f3": the language
    part is dropped, the node's language is used), or a bare language / nothing for the
    language's default voice (the Voice record's default name is "en").
    """
    v = character.voice
    who = f"character {character.name!r}"
    name = (v.name or "").strip()
    if "+" in name:
        name = name.partition("+")[2].strip()
    known = {x.lower() for x in _espeak.list_variants()}
    if name and name.lower() not in known:
        try:
            _espeak.resolve_voice(name)  # a language: the default voice, no variant
        except ValueError:
            raise ValueError(f"{who} has the espeak voice {v.name!r}, which is neither a voice "
                             f"variant (f1-f5, m1-m8, klatt, whisper, ...) nor a language") from None
        name = ""
    for what, value, (lo, hi) in (("pitch", v.pitch, _espeak.PITCH_RANGE),
                                  ("rate", v.rate, _espeak.RATE_RANGE)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
            raise ValueError(f"{who} has voice {what} {value!r}; espeak takes {lo}..{hi}")
    return name, int(v.pitch), int(v.rate)
