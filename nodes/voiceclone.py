"""Voice cloning with coqui-tts on the user's own models: XTTS-v2 speaks a text in the voice of a
character's recordings, and OpenVoice turns any speech (the built-in espeak voice, a recording)
into that voice, keeping its timing.

Both take the voice from a Character's recordings (its ``voice_samples``) or from a reference
recording; each recording is mixed to mono, resampled to the model's rate (any rate is fine) and
trimmed of its silent ends, and together they must hold at least a second of voice.

XTTS writes one sentence at a time (long sentences are cut at word boundaries to the model's
limit for the language): progress per generated token within each sentence, cancellation
between tokens, and each sentence seeded on its own from the node's seed. XTTS gives no word
timings, so they are found by alignment: espeak-ng says each sentence too (in a thousandth of
the time), which gives words and phonemes with times, and its loudness contour is aligned to
the XTTS sentence's by dynamic time warping; the espeak timings are carried over along that
warp. Where espeak-ng does not know the language, words share the sentence's voiced span in
proportion to their length (in characters) (``nodes._voicealign``). The Speech therefore drives
Lipsync and Subtitles as the Speak node's does.

OpenVoice keeps the input's length sample for sample (at its own rate), so a converted Speech
keeps the words and phonemes of the Speech it came from. Long input is converted in parts of at
most 20 s cut at quiet moments: progress per part, cancellation between parts.

The models load once per process (through ``ctx.models``); torch and coqui-tts are
imported inside the functions, so the pack registers without them (``nodes._coqui`` says what to
install when they are missing).
"""
from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

import numpy as np

from nodegraph import Audio, Character, Choice, Context, Number, Path, Seed, Speech, Text, Timing, ValueError_, node

from . import _coqui, audiodsp
from ._subtitles import Subtitles
from ._voicealign import _shifted, align, espeak_guide, sentences, voice_activity

MIN_VOICE_S = 1.0         # a voice needs at least this much voiced sound across its recordings
PART_S = 20.0             # OpenVoice converts at most this much at a time...
CUT_SEARCH_S = 5.0        # ...cut at the quietest 50 ms of the part's last seconds

XttsRef = Path(kind="model:audio")
OpenVoiceRef = Path(kind="model:audio")
Device = Choice("auto", "cpu", "cuda", "mps")
SpeakText = Text(multiline=True, placeholder="What to say")


# -- the voice: reference recordings --------------------------------------------------------------------


def recordings(character: Character | None, reference: Audio | None, node_title: str) -> tuple[list[Audio], str]:
    """The voice's recordings (the reference, else the character's) and who they are, for messages."""
    if reference is not None:
        return [reference], "the reference recording"
    if character is None:
        raise ValueError_(f"{node_title} needs a voice: connect a Character with voice recordings (its "
                          f"voice_samples), or a reference recording")
    who = f"character {character.name!r}"
    refs = list(character.voice.references)
    if not refs:
        raise ValueError_(f"{who} has no voice recordings to clone: connect recordings of its voice to the "
                          f"Character node's voice_samples input (3-10 s of clear speech), or connect a "
                          f"reference recording to this node")
    return refs, who


def prepare_voice(refs: list[Audio], rate: int, who: str) -> tuple[list[np.ndarray], float]:
    """Each recording as mono float32 at ``rate`` with its silent ends cut, and the seconds of
    voice in all of them; a silent or too short voice is refused, naming whose it is."""
    out, total = [], 0.0
    for i, a in enumerate(refs, 1):
        mono = np.ascontiguousarray(a.samples.mean(axis=1, dtype=np.float32))
        if not np.isfinite(mono).all():
            raise ValueError_(f"{who}: recording {i} holds samples that are not finite numbers")
        if a.rate != rate:
            mono = audiodsp.resample(mono[:, None], a.rate, rate)[:, 0]
        voiced, start, end = voice_activity(mono, rate)
        which = f"recording {i} of {len(refs)}" if len(refs) > 1 else "the recording"
        if voiced == 0.0:
            raise ValueError_(f"{who}: {which} ({a.duration:.2f} s) is silent; a voice cannot be cloned from it")
        margin = int(0.05 * rate)
        out.append(np.ascontiguousarray(mono[max(0, start - margin):min(len(mono), end + margin)], np.float32))
        total += voiced
    if total < MIN_VOICE_S:
        raise ValueError_(f"{who}: the voice recordings hold only {total:.2f} s of voice "
                          f"({sum(a.duration for a in refs):.2f} s in all); cloning needs at least "
                          f"{MIN_VOICE_S:g} s of speech (3-10 s of clear speech works best)")
    return out, total


# -- XTTS: speaking --------------------------------------------------------------------------------------

def check_language(languages: tuple[str, ...], language: str, model_name: str) -> str:
    """The model's code for ``language`` ("en", "en-US" -> "en"; "zh" -> "zh-cn"), or a refusal listing them."""
    code = (language or "").strip().lower().replace("_", "-")
    if code in languages:
        return code
    base = code.split("-", 1)[0]
    for known in languages:
        if known.split("-", 1)[0] == base and base:
            return known
    raise ValueError_(f"the XTTS model {model_name!r} does not speak {language!r}; its languages: "
                      f"{', '.join(languages)}")


def _sentence_seed(seed: int, k: int) -> int:
    return (int(seed) + k * 0x9E3779B97F4A7C15) % (1 << 63)


def _token_counter(on_step: Any) -> Any:
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class Steps(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            on_step()
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([Steps()])


def conditioning(engine: _coqui.XttsEngine, voice: list[np.ndarray]) -> tuple[Any, Any]:
    """XTTS's GPT conditioning latents and speaker embedding for the recordings (at its
    conditioning rate), as ``Xtts.get_conditioning_latents`` computes them from files."""
    import torch

    model, rate, s = engine.model, engine.cond_rate, engine.settings
    embeddings, clips = [], []
    with torch.inference_mode():
        for x in voice:
            t = torch.from_numpy(np.ascontiguousarray(x[: int(rate * s["max_ref_len"])]))[None].to(model.device)
            if s["sound_norm_refs"]:
                t = t / t.abs().max() * 0.75
            embeddings.append(model.get_speaker_embedding(t, rate))
            clips.append(t)
        latents = model.get_gpt_cond_latents(torch.cat(clips, dim=-1), rate, length=int(s["gpt_cond_len"]),
                                             chunk_length=int(s["gpt_cond_chunk_len"]))
        speaker = torch.stack(embeddings).mean(dim=0)
    return latents, speaker


def speak(engine: _coqui.XttsEngine, text: str, language: str, voice: list[np.ndarray], temperature: float,
          speed: float, seed: int, ctx: Context | None) -> tuple[np.ndarray, list[Timing], list[Timing]]:
    """(mono float32 at ``engine.rate``, words, phonemes) of XTTS saying ``text``."""
    import torch

    parts = sentences(text, engine.char_limits.get(language.split("-")[0], 250))
    if not parts:
        raise ValueError_("the text has nothing to say (no letters or digits)")
    guides = [espeak_guide(p, language) for p in parts]
    total = float(sum(len(p) for p in parts))
    s = engine.settings
    state = {"k": 0, "steps": 0, "done": 0.0, "expect": 1.0}

    def on_step() -> None:
        state["steps"] += 1
        if ctx is not None:
            k = state["k"]
            within = min(0.95, state["steps"] / state["expect"])
            ctx.progress((state["done"] + len(parts[k]) * within) / total,
                         f"sentence {k + 1}/{len(parts)}: token {state['steps']}")

    counter = _token_counter(on_step)
    latents, speaker = conditioning(engine, voice)
    waves: list[np.ndarray] = []
    words: list[Timing] = []
    phonemes: list[Timing] = []
    offset, last_w, last_p = 0.0, 0.0, 0.0
    with _coqui.GENERATE:
        for k, part in enumerate(parts):
            if ctx is not None:
                ctx.check_cancelled()
            guide = guides[k]
            seconds = len(guide[0]) / guide[1] if guide is not None else 0.07 * len(part)
            state.update(k=k, steps=0, expect=float(np.clip(seconds * engine.tokens_per_second, 4, engine.max_tokens)))
            torch.manual_seed(_sentence_seed(seed, k))
            try:
                out = engine.model.inference(part, language, latents, speaker, temperature=float(temperature),
                                             length_penalty=float(s["length_penalty"]),
                                             repetition_penalty=float(s["repetition_penalty"]),
                                             top_k=int(s["top_k"]), top_p=float(s["top_p"]), speed=float(speed),
                                             enable_text_splitting=False, stopping_criteria=counter)
            except (ImportError, NotImplementedError) as e:   # the language's text needs a package
                raise ValueError_(f"XTTS cannot read {language!r} text here: {e}") from None
            wave = np.asarray(out["wav"], np.float32).reshape(-1)
            w, p = align(part, wave, engine.rate, guide)
            end = offset + len(wave) / engine.rate
            w, last_w = _shifted(w, offset, end, last_w)
            p, last_p = _shifted(p, offset, end, last_p)
            words += w
            phonemes += p
            waves.append(wave)
            offset = end
            state["done"] += len(part)
            if ctx is not None:
                ctx.progress(state["done"] / total, f"sentence {k + 1}/{len(parts)}")
    return np.concatenate(waves), words, phonemes


def _xtts_settings(path: FsPath) -> tuple[tuple[str, ...], int]:
    """(languages, conditioning sample rate) from an XTTS folder's config.json, before loading it."""
    cfg = _coqui._config(path)
    args = cfg.get("model_args") if isinstance(cfg.get("model_args"), dict) else {}
    return tuple(str(x) for x in cfg.get("languages") or []), int(args.get("input_sample_rate") or 22050)


@node("voice.clone_speak", title="Speak (cloned voice)", category="Voice", determinism="reads-files", cost="gpu")
def clone_speak(text: SpeakText, character: Character | None = None,
                reference: Audio | None = None, language: Text = "en", model: XttsRef = "xtts_v2",
                temperature: Number(min=0.05, max=2.0) = 0.75, speed: Number(min=0.5, max=2.0) = 1.0,
                seed: Seed = 0, device: Device = "auto", ctx: Context = None) -> Speech:
    """Say a text in a character's own voice with XTTS-v2 (Coqui's voice-cloning text to speech),
    learnt from a few seconds of its recordings: mono speech at 24 kHz with word and phoneme
    timings, for Lipsync and Subtitles like the Speak node's.

    XTTS gives no timings: they come from aligning espeak-ng's reading of each sentence with
    XTTS's (see the module doc). A sentence at a time: progress per token, cancel between tokens.
    The same inputs and seed give the same speech on the same machine.

    Args:
        text: what to say; split into sentences, each spoken on its own.
        character: whose voice: its recordings (the Character node's voice_samples; 3-10 s of
            clear speech works best, at any sample rate).
        reference: a recording of the voice to use instead of the character's.
        language: the text's language: en, es, fr, de, it, pt, pl, tr, ru, nl, cs, ar, zh-cn,
            hu, ko, ja, hi for XTTS-v2 (the model's config.json lists them).
        model: an XTTS-v2 folder (config.json, model.pth, vocab.json, as coqui/XTTS-v2): a path,
            a name under the model folders' audio or tts folder (default xtts_v2), or the
            Hugging Face repo id coqui/XTTS-v2 (from the local cache when offline).
        temperature: how freely it speaks (lower: steadier, flatter).
        speed: speaking speed (1 is the voice's own pace).
        seed: the random seed; another seed gives another reading.
        device: auto picks cuda, then mps, then cpu.
    """
    if not text.strip():
        raise ValueError_("text is empty: nothing to say")
    _coqui.require("Speak (cloned voice)")
    m = ctx.models.local(model, "audio")
    folder = _coqui.check_xtts_folder(m)
    languages, rate = _xtts_settings(folder)
    lang = check_language(languages, language, m.name)
    refs, who = recordings(character, reference, "Speak (cloned voice)")
    voice, seconds = prepare_voice(refs, rate, who)            # checked before the (slow) load
    engine, loaded = _coqui.load_xtts(ctx.models, m, device)
    if loaded:
        ctx.log(f"loaded {m.name} (XTTS-v2, {len(engine.languages)} languages) on {engine.model.device}")
    if engine.cond_rate != rate:
        voice, seconds = prepare_voice(refs, engine.cond_rate, who)
    ctx.log(f"voice of {who}: {len(voice)} recording(s), {seconds:.1f} s of voice")
    wave, words, phonemes = speak(engine, text, lang, voice, temperature, speed, seed, ctx)
    return Speech(Audio(wave[:, None], engine.rate), text, lang, words, phonemes)


class _CueProgress:
    """What ``speak`` needs of a Context, for cue ``k`` of ``n``: its progress is a slice of the node's."""

    def __init__(self, ctx: Context | None, k: int, n: int):
        self.ctx, self.k, self.n = ctx, k, n

    def progress(self, fraction: float, message: str = "", preview: Any = None) -> None:
        if self.ctx is not None:
            self.ctx.progress((self.k + fraction) / self.n, f"cue {self.k + 1}/{self.n}: {message}")

    def check_cancelled(self) -> None:
        if self.ctx is not None:
            self.ctx.check_cancelled()


def place_cues(spoken: list[tuple[float, float, np.ndarray, list[Timing], list[Timing]]], rate: int,
               length: float) -> tuple[np.ndarray, list[Timing], list[Timing]]:
    """One track from each cue's speech placed at its start ``(start, slot end, wave, words,
    phonemes)``; a line that runs long pushes the next one later rather than overlapping it. The
    track lasts ``length`` seconds, or until the last line ends if that is later."""
    placed, words, phonemes = [], [], []
    free, last_w, last_p = 0.0, 0.0, 0.0
    for start, _, wave, w, p in spoken:
        at = max(start, free)
        end = at + len(wave) / rate
        w, last_w = _shifted(w, at, end, last_w)
        p, last_p = _shifted(p, at, end, last_p)
        words += w
        phonemes += p
        placed.append((int(round(at * rate)), wave))
        free = end
    total = max(int(round(length * rate)), max((a + len(x) for a, x in placed), default=0))
    track = np.zeros(total, np.float32)
    for a, x in placed:
        track[a:a + len(x)] += x
    return track, words, phonemes


@node("voice.clone_dub", title="Dub subtitles (cloned voice)", category="Voice", determinism="reads-files",
      cost="gpu")
def clone_dub(subtitles: Subtitles, original: Audio | None = None, character: Character | None = None,
              reference: Audio | None = None, language: Text = "", model: XttsRef = "xtts_v2",
              temperature: Number(min=0.05, max=2.0) = 0.75, max_speed: Number(min=1.0, max=2.0) = 1.35,
              seed: Seed = 0, device: Device = "auto", ctx: Context = None) -> Speech:
    """Speak timed subtitles (say, a translation) with XTTS-v2 in a cloned voice, each line at its
    cue's time: the dubbed sound track of a film, with word and phoneme timings for Lipsync.

    A line longer than its slot (until the next cue) is said again faster, up to max_speed; if it
    still runs long, the next line starts after it instead of on top of it.

    Args:
        subtitles: the lines and their times (Transcribe, Translate or Load subtitles).
        original: the film's own sound: the dub lasts as long as it, and without a character or a
            reference its speaker's voice is the one cloned.
        character: whose voice to use instead (its recordings).
        reference: a recording of the voice to use instead.
        language: the lines' language (empty: the subtitles' own).
        model: an XTTS-v2 folder, as for Speak (cloned voice).
        temperature: how freely it speaks.
        max_speed: the fastest a line may be said to fit its slot (1: never faster).
        seed: the random seed (each line gets its own from it).
        device: auto picks cuda, then mps, then cpu.
    """
    cues = [c for c in subtitles.cues if c[2].strip()]
    if not cues:
        raise ValueError_("the subtitles have no lines to say")
    lang_in = language.strip() or subtitles.language
    if not lang_in:
        raise ValueError_("the subtitles do not say their language: set language")
    _coqui.require("Dub subtitles (cloned voice)")
    m = ctx.models.local(model, "audio")
    folder = _coqui.check_xtts_folder(m)
    languages, rate = _xtts_settings(folder)
    lang = check_language(languages, lang_in, m.name)
    if character is None and reference is None and original is not None:
        refs, who = [original], "the original sound"
    else:
        refs, who = recordings(character, reference, "Dub subtitles (cloned voice)")
    voice, seconds = prepare_voice(refs, rate, who)
    engine, loaded = _coqui.load_xtts(ctx.models, m, device)
    if loaded:
        ctx.log(f"loaded {m.name} (XTTS-v2) on {engine.model.device}")
    if engine.cond_rate != rate:
        voice, seconds = prepare_voice(refs, engine.cond_rate, who)
    spoken = []
    for k, (start, end, text) in enumerate(cues):
        slot = (cues[k + 1][0] if k + 1 < len(cues) else max(end, original.duration if original else end)) - start
        line = " ".join(text.split())
        part = _CueProgress(ctx, k, len(cues))
        wave, w, p = speak(engine, line, lang, voice, temperature, 1.0, _sentence_seed(seed, k), part)
        took = len(wave) / engine.rate
        if slot > 0 and took > slot * 1.02 and max_speed > 1.0:
            faster = min(float(max_speed), took / slot * 1.03)
            ctx.log(f"cue {k + 1}: {took:.2f} s for a {slot:.2f} s slot, said again at speed {faster:.2f}")
            wave, w, p = speak(engine, line, lang, voice, temperature, faster, _sentence_seed(seed, k), part)
        spoken.append((start, end, wave, w, p))
    track, words, phonemes = place_cues(spoken, engine.rate, original.duration if original is not None else 0.0)
    return Speech(Audio(track[:, None], engine.rate), " ".join(" ".join(c[2].split()) for c in cues), lang,
                  words, phonemes)


# -- OpenVoice: converting ------------------------------------------------------------------------------

def split_parts(x: np.ndarray, rate: int, longest: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` covering ``x`` in parts of at most ``PART_S`` seconds, cut at the
    quietest 50 ms near each part's end; none shorter than ``longest`` samples (the last joins
    the one before)."""
    n, size = len(x), int(PART_S * rate)
    out, start = [], 0
    while n - start > size:
        lo, hi = start + size - int(CUT_SEARCH_S * rate), start + size
        win = max(1, int(0.05 * rate))
        seg = np.square(x[lo:hi], dtype=np.float64)
        energy = np.convolve(seg, np.ones(win), mode="valid")
        cut = lo + int(np.argmin(energy)) + win // 2
        out.append((start, cut))
        start = cut
    if out and n - start < longest:
        out[-1] = (out[-1][0], n)
    else:
        out.append((start, n))
    return out


def convert_voice(engine: _coqui.OpenVoiceEngine, source: np.ndarray, voice: list[np.ndarray],
                  ctx: Context | None) -> np.ndarray:
    """``source`` (mono at ``engine.rate``) in the voice of the recordings, the same length."""
    import torch
    from TTS.utils.audio.torch_transforms import wav_to_spec

    model = engine.model
    dev = next(model.parameters()).device

    def spectrogram(x: np.ndarray) -> Any:
        y = torch.from_numpy(np.ascontiguousarray(x, np.float32))[None, None].to(dev)
        return wav_to_spec(y, n_fft=engine.fft, hop_length=engine.hop, win_length=engine.win, center=False)

    def embedding(x: np.ndarray) -> Any:
        return model.ref_enc(spectrogram(x).transpose(1, 2)).unsqueeze(-1)

    cuts = split_parts(source, engine.rate, engine.fft)
    out = np.zeros(len(source), np.float32)
    with _coqui.GENERATE, torch.inference_mode():
        target = torch.stack([embedding(x) for x in voice]).mean(dim=0)
        own = embedding(source)
        for k, (a, b) in enumerate(cuts):
            if ctx is not None:
                ctx.check_cancelled()
            torch.manual_seed(k)                       # the posterior is sampled: a fixed draw per part
            y = model.inference(spectrogram(source[a:b]), {"g_src": own, "g_tgt": target})["model_outputs"]
            y = y[0, 0].float().cpu().numpy()[: b - a]
            out[a:a + len(y)] = y
            if ctx is not None:
                ctx.progress(b / len(source), f"part {k + 1}/{len(cuts)}")
    return out


@node("voice.convert", title="Convert voice (OpenVoice)", category="Voice", determinism="reads-files", cost="gpu")
def convert(speech: Speech | None = None, audio: Audio | None = None, character: Character | None = None,
            reference: Audio | None = None, model: OpenVoiceRef = "openvoice_v2", device: Device = "auto",
            ctx: Context = None) -> Speech:
    """Turn speech into a character's voice with OpenVoice's tone colour converter: the built-in
    espeak voice, another character's or a recording, said again in the voice of the character's
    recordings. The timing is kept sample for sample, so a Speech keeps its words and phonemes
    (Lipsync and Subtitles work on the result as on the original).

    The result is mono at the model's rate (22050 Hz). Long speech is converted in parts of at
    most 20 s cut at quiet moments: progress per part, cancel between parts.

    Args:
        speech: the speech to convert (a Speak node's: its text and timings are kept).
        audio: or a plain recording to convert (any sample rate; stereo is mixed down).
        character: whose voice: its recordings (the Character node's voice_samples).
        reference: a recording of the voice to use instead of the character's.
        model: an OpenVoice converter folder (checkpoint.pth + config.json, as converter/ of
            myshell-ai/OpenVoiceV2): a path, a name under the model folders' audio or tts folder
            (default openvoice_v2), or myshell-ai/OpenVoiceV2/converter (from the local cache
            when offline).
        device: auto picks cuda, then mps, then cpu.
    """
    if (speech is None) == (audio is None):
        raise ValueError_("connect either speech or audio (the voice to convert), not " +
                          ("both" if speech is not None else "neither"))
    _coqui.require("Convert voice (OpenVoice)")
    m = ctx.models.local(model, "audio")
    folder = _coqui.check_openvoice_folder(m)
    refs, who = recordings(character, reference, "Convert voice (OpenVoice)")
    voice, seconds = prepare_voice(refs, int(_coqui._config(folder)["data"]["sampling_rate"]), who)
    engine, loaded = _coqui.load_openvoice(ctx.models, m, device)
    if loaded:
        ctx.log(f"loaded {m.name} (OpenVoice, {engine.rate} Hz) on {next(engine.model.parameters()).device}")
    ctx.log(f"voice of {who}: {len(voice)} recording(s), {seconds:.1f} s of voice")
    src = speech.audio if speech is not None else audio
    mono = np.ascontiguousarray(src.samples.mean(axis=1, dtype=np.float32))
    if src.rate != engine.rate:
        mono = audiodsp.resample(mono[:, None], src.rate, engine.rate)[:, 0]
    if len(mono) < 2 * engine.fft:
        raise ValueError_(f"the speech to convert is {src.duration:.3f} s long: too short for OpenVoice "
                          f"(at least {2 * engine.fft / engine.rate:.2f} s)")
    wave = convert_voice(engine, mono, voice, ctx)
    out = Audio(wave[:, None], engine.rate)
    if speech is None:
        return Speech(out, "", "")
    end = out.duration
    words, _ = _shifted(list(speech.words), 0.0, end, 0.0)
    phonemes, _ = _shifted(list(speech.phonemes), 0.0, end, 0.0)
    return Speech(out, speech.text, speech.language, words, phonemes)
