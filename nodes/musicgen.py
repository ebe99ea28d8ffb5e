"""Music (AI): MusicGen through transformers, on the user's own (or downloaded) models.

A text description (and, for melody models, a tune to follow) becomes music at the model's
sampling rate. Models write about 30 s at a time (their window); longer pieces are made window
by window, each one prompted with the last seconds of the music so far (audio-prompted
continuation: the tail is encoded by the model's own EnCodec into the codes the decoder starts
from), and joined with a short crossfade where the two renderings of that tail overlap.

Per-step progress counts the decoder steps of all windows together; cancelling stops at the
next step. The weights load once per process (through ``ctx.models``); torch and
transformers are imported inside the functions, so the pack registers without them.

Checked with transformers 5.23: ``MusicgenForConditionalGeneration.generate`` does not hand its
``streamer`` to the sampling loop (the streamer sees the prompt only), so the steps are counted
by a stopping criterion, which the loop calls after every step.
"""
from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import numpy as np

from nodegraph import (Audio, Choice, Context, Int, Models, Number, Path, Prompt, ResolvedModel, Seed, Text,
                       UnsupportedModel, ValueError_, node, read_json_object)

from . import _hf, audiodsp

MUSICGEN_TYPES = {"musicgen": "MusicgenForConditionalGeneration",
                  "musicgen_melody": "MusicgenMelodyForConditionalGeneration"}
CONTEXT_S = 10.0        # each continuation window starts from this much of the music so far...
CONTEXT_SHARE = 3       # ...but at most a third of the window
CROSSFADE_S = 0.5       # the join: at most this long, and at most half the overlap
DEFAULT_WINDOW = 1500   # decoder tokens per window when the model's generation config does not say (30 s)
MAX_DURATION = 600.0

# a path, a name under the model folders' audio folder, or a Hugging Face repo id
MusicgenRef = Path(kind="model:audio")
Description = Text(multiline=True, placeholder="genre, instruments, mood, tempo")
Device = Choice("auto", "cpu", "cuda", "mps")
Dtype = Choice("auto", "float32", "float16", "bfloat16")

# generation seeds torch's global RNG: two MusicGen nodes running at once in one process
# (two editor sessions) would draw from each other's stream
_GENERATE = threading.Lock()


# -- the model ---------------------------------------------------------------------------------------

@dataclass
class Engine:
    """A loaded MusicGen model and what generation needs to know about it."""

    model: Any
    text: Any               # the processor (or, for melody models without torchaudio, the tokenizer)
    melody: bool
    rate: int               # samples per second of the audio it writes
    channels: int
    hop: int                # samples per codec frame
    frame_rate: int         # codec frames per second
    delay: int              # decoder steps the codebook delay pattern adds to every window
    window: int             # decoder tokens per generate call (the model's training length)
    chroma: dict            # melody models: sampling_rate, n_fft, hop_length, num_chroma of the chroma features
    arch: str


def model_type(path: FsPath) -> str:
    """``musicgen`` or ``musicgen_melody`` from the folder's config.json, or a clear refusal."""
    cfg = read_json_object(path / "config.json")
    mt = str(cfg.get("model_type", ""))
    archs = [str(a) for a in cfg.get("architectures") or []]
    if "MusicgenMelodyForConditionalGeneration" in archs or mt == "musicgen_melody":
        return "musicgen_melody"
    if "MusicgenForConditionalGeneration" in archs or mt == "musicgen":
        return "musicgen"
    raise UnsupportedModel(f"{path}: a {mt or 'unknown'} model ({', '.join(archs) or 'no architectures'}), not "
                           f"MusicGen; give a MusicGen folder such as facebook/musicgen-small or facebook/musicgen-melody")


def _chroma_settings(path: str, processor: Any) -> dict:
    keys = ("sampling_rate", "n_fft", "hop_length", "num_chroma")
    fe = getattr(processor, "feature_extractor", None)
    if fe is not None and all(hasattr(fe, k) for k in keys):
        return {k: int(getattr(fe, k)) for k in keys}
    try:
        data = json.loads((FsPath(path) / "preprocessor_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    defaults = {"sampling_rate": 32000, "n_fft": 16384, "hop_length": 4096, "num_chroma": 12}
    return {k: int(data.get(k, v)) for k, v in defaults.items()}


def _loader(arch: str):
    def load(path: str, device: str, dtype: Any) -> Engine:
        import transformers

        cls = getattr(transformers, MUSICGEN_TYPES[arch])
        model = cls.from_pretrained(path, dtype=dtype, local_files_only=True).to(device).eval()
        try:
            text = transformers.AutoProcessor.from_pretrained(path, local_files_only=True)
        except ImportError:
            if arch != "musicgen_melody":
                raise
            # MusicgenMelodyProcessor needs torchaudio for its chroma extractor; the chroma is computed here
            text = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        ae, dec = model.config.audio_encoder, model.config.decoder
        hop = int(np.prod(ae.upsampling_ratios))
        channels = int(getattr(dec, "audio_channels", 1) or 1)
        gen_max = int(getattr(model.generation_config, "max_length", 0) or 0)
        window = gen_max if gen_max > 20 else DEFAULT_WINDOW          # 20: transformers' "not set"
        window = min(window, int(dec.max_position_embeddings))
        return Engine(model=model, text=text, melody=arch == "musicgen_melody", rate=int(ae.sampling_rate),
                      channels=channels, hop=hop, frame_rate=int(math.ceil(ae.sampling_rate / hop)),
                      delay=int(dec.num_codebooks) // channels - 1, window=window,
                      chroma=_chroma_settings(path, text) if arch == "musicgen_melody" else {}, arch=arch)
    return load


def load_engine(models: Models, m: ResolvedModel, device: str = "auto", dtype: str = "auto") -> tuple[Engine, bool]:
    """The model of ``m`` (loaded once per process) and whether this call loaded it."""
    if m.format != "transformers" or m.path is None:
        raise UnsupportedModel(f"{m.path or m.name}: MusicGen loads from a transformers folder (config.json + "
                               f"weights), such as a download of facebook/musicgen-small")
    arch = model_type(m.path)
    loads = models.cache.loads
    engine, _, _ = _hf.load(models, m, arch, _loader(arch), device, dtype)
    return engine, models.cache.loads > loads


# -- windows -----------------------------------------------------------------------------------------

def plan_windows(frames: int, window: int, delay: int, context_frames: int) -> list[tuple[int, int]]:
    """``[(prompt frames, new frames), ...]``: the first window has no prompt; every other one
    starts from the last ``context`` frames of the music so far. A window holds the start token,
    the prompt and ``new + delay`` generated steps."""
    first = window - 1 - delay
    if first < 1:
        raise UnsupportedModel(f"the model's window of {window} tokens leaves no room for audio "
                               f"({delay + 1} tokens go to the start token and the codebook delays)")
    context = max(0, min(context_frames, first // CONTEXT_SHARE))
    out = [(0, min(frames, first))]
    done = out[0][1]
    while done < frames:
        new = min(frames - done, first - context)
        out.append((context, new))
        done += new
    return out


def _step_counter(progress: _hf.Progress) -> Any:
    """A stopping criterion that never stops: it hands every generated step to ``progress``
    (which reports it and raises at cancellation)."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class Steps(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            progress.put(input_ids[:, -1:])
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([Steps()])


def prompt_codes(engine: Engine, tail: np.ndarray) -> Any:
    """The decoder prompt for audio ``tail`` (frames, channels): its EnCodec codes, laid out as
    ``generate`` does for ``input_values`` (stereo models: left and right codebooks interleaved)."""
    import torch

    model = engine.model
    x = torch.from_numpy(np.ascontiguousarray(tail.T, np.float32))[None].to(model.device, model.dtype)
    with torch.inference_mode():
        if engine.channels == 1:
            codes = model.audio_encoder.encode(x[:, :1], return_dict=True).audio_codes
        else:
            left = model.audio_encoder.encode(x[:, :1], return_dict=True).audio_codes
            right = model.audio_encoder.encode(x[:, 1:2], return_dict=True).audio_codes
            codes = left.new_ones((left.shape[0], left.shape[1], 2 * left.shape[2], left.shape[3]))
            codes[:, :, ::2], codes[:, :, 1::2] = left, right
    return codes[0].reshape(codes.shape[1] * codes.shape[2], codes.shape[3])


def melody_chroma(wave: np.ndarray, settings: dict) -> Any:
    """(1, frames, num_chroma) one-hot chroma of mono ``wave`` at ``settings['sampling_rate']``,
    as MusicgenMelodyFeatureExtractor computes it (power STFT, chroma filters, argmax)."""
    import torch
    from transformers.audio_utils import chroma_filter_bank

    n_fft, hop = settings["n_fft"], settings["hop_length"]
    x = torch.from_numpy(np.ascontiguousarray(wave, np.float32))[None]
    if x.shape[-1] < n_fft:
        pad = n_fft - x.shape[-1]
        x = torch.nn.functional.pad(x, (pad // 2, pad - pad // 2))
    window = torch.hann_window(n_fft)
    spec = torch.stft(x, n_fft, hop_length=hop, win_length=n_fft, window=window, center=True, pad_mode="reflect",
                      onesided=True, return_complex=True)
    power = spec.abs().pow(2) / window.pow(2).sum()
    filters = torch.from_numpy(chroma_filter_bank(sampling_rate=settings["sampling_rate"], num_frequency_bins=n_fft,
                                                  tuning=0, num_chroma=settings["num_chroma"])).float()
    raw = torch.einsum("cf,bft->bct", filters, power)
    norm = torch.nn.functional.normalize(raw, p=float("inf"), dim=-2, eps=1e-6).transpose(1, 2)
    one_hot = torch.zeros_like(norm)
    one_hot.scatter_(-1, norm.argmax(-1, keepdim=True), 1.0)
    return one_hot


def _melody_track(melody: Audio, rate: int, seconds: float) -> np.ndarray:
    """The melody as mono at ``rate``, repeated to cover ``seconds`` (as the model repeats a short one)."""
    mono = melody.samples.mean(axis=1, dtype=np.float32)
    if melody.rate != rate:
        mono = audiodsp.resample(mono[:, None], melody.rate, rate)[:, 0]
    if len(mono) == 0 or not np.any(mono):
        raise ValueError_("the melody is silent: connect a recording with a tune in it, or leave melody unconnected")
    need = int(math.ceil(seconds * rate)) + 1
    return np.tile(mono, -(-need // len(mono)))[:need]


def _crossfade(acc: np.ndarray, out: np.ndarray, overlap: int, fade: int) -> np.ndarray:
    """``acc`` followed by ``out``, whose first ``overlap`` samples render ``acc``'s last ones
    again: a linear crossfade of ``fade`` samples in the middle of the overlap (the music is the
    same on both sides, so the gains sum to one)."""
    start = (overlap - fade) // 2                        # away from both renderings' edges
    keep = len(acc) - overlap + start
    w = ((np.arange(fade, dtype=np.float32) + 0.5) / fade)[:, None]
    blend = acc[keep:keep + fade] * (1.0 - w) + out[start:start + fade] * w
    return np.concatenate([acc[:keep], blend, out[start + fade:]])


def generate_music(engine: Engine, text: str, duration: float, seed: int, guidance: float, temperature: float,
                   top_k: int, melody: Audio | None, ctx: Context | None) -> np.ndarray:
    """(frames, channels) float32 of exactly ``duration`` seconds at ``engine.rate``."""
    import torch

    total = int(round(duration * engine.rate))
    frames = -(-total // engine.hop)
    context = int(round(CONTEXT_S * engine.frame_rate))
    windows = plan_windows(frames, engine.window, engine.delay, context)
    steps = sum(new + engine.delay for _, new in windows)
    progress = _hf.Progress(ctx, steps, "step")
    counter = _step_counter(progress)
    model = engine.model
    inputs = engine.text(text=[text], padding=True, return_tensors="pt").to(model.device)
    track = None
    if melody is not None:
        track = _melody_track(melody, engine.chroma["sampling_rate"], frames / engine.frame_rate)
    if ctx is not None and len(windows) > 1:
        ctx.log(f"{len(windows)} windows of up to {(engine.window - 1 - engine.delay) / engine.frame_rate:.1f} s, "
                f"each continuing from the last {windows[1][0] / engine.frame_rate:.1f} s")
    acc = np.zeros((0, engine.channels), np.float32)
    progress.put(None)                                   # the prompt: a cancellation check, no step
    with _GENERATE:
        for k, (prompt, new) in enumerate(windows):
            if len(windows) > 1:
                progress.message = f"window {k + 1}/{len(windows)}: step"
            kw: dict[str, Any] = dict(do_sample=True, guidance_scale=float(guidance), temperature=float(temperature),
                                      top_k=int(top_k), max_new_tokens=new + engine.delay, stopping_criteria=counter)
            if prompt:
                kw["decoder_input_ids"] = prompt_codes(engine, acc[len(acc) - prompt * engine.hop:])
            if track is not None:
                rate = engine.chroma["sampling_rate"]
                start = (len(acc) - prompt * engine.hop) / engine.rate
                seg = track[int(round(start * rate)):int(round((start + (prompt + new) / engine.frame_rate) * rate))]
                kw["input_features"] = melody_chroma(seg, engine.chroma).to(model.device, model.dtype)
            torch.manual_seed(_window_seed(seed, k))
            audio = model.generate(**inputs, **kw)
            out = audio[0].float().cpu().numpy().T                 # (samples, channels): the prompt's, then new
            if len(out) != (prompt + new) * engine.hop:
                raise UnsupportedModel(f"the model wrote {len(out)} samples for {prompt + new} codec frames of "
                                       f"{engine.hop} samples: its audio encoder is not one MusicGen uses")
            if not prompt:
                acc = out
            else:
                overlap = prompt * engine.hop
                fade = max(1, min(int(CROSSFADE_S * engine.rate), overlap // 2))
                acc = _crossfade(acc, out, overlap, fade)
    return np.ascontiguousarray(acc[:total], np.float32)         # whole frames: trimmed to the duration


def _window_seed(seed: int, k: int) -> int:
    """The seed of window ``k``: the node's seed for the first one, another fixed one for each later one."""
    return (int(seed) + k * 0x9E3779B97F4A7C15) % (1 << 63)


# -- the node ------------------------------------------------------------------------------------------

@node("musicgen.generate", title="MusicGen", category="Music", determinism="reads-files", cost="gpu")
def generate(model: MusicgenRef = "facebook/musicgen-small",
             prompt: Description = "calm lo-fi beat with warm piano chords and soft drums",
             from_prompt: Prompt | None = None, melody: Audio | None = None,
             duration: Number(min=0.1, max=MAX_DURATION) = 10.0, seed: Seed = 0,
             guidance: Number(min=0.0, max=20.0) = 3.0, temperature: Number(min=0.05, max=4.0) = 1.0,
             top_k: Int(min=0, max=4096) = 250, device: Device = "auto", dtype: Dtype = "auto",
             ctx: Context = None) -> Audio:
    """Generate music from a description with MusicGen (Meta's text-to-music model) through
    transformers: mono at the model's sampling rate (32 kHz), stereo for the stereo models.

    The result has exactly ``duration`` seconds. Models write about 30 s at a time; longer
    music is written window by window, each continuing from the last 10 s of the one before
    and crossfaded into it. The same seed and settings give the same music on the same machine.
    Melody models (facebook/musicgen-melody) can follow the tune of a recording.

    Args:
        model: a MusicGen folder (path or a name under the model folders' audio folder), or a
            Hugging Face repo id such as facebook/musicgen-small, -medium, -large, -melody or
            -stereo-small (from the local cache when offline).
        prompt: what the music is like: genre, instruments, mood, tempo.
        from_prompt: a Prompt node's prompt instead (its text and style tags; MusicGen has no
            negative prompt); replaces prompt.
        melody: a tune to follow (melody models only): its chroma (which note sounds when)
            conditions the music; any sample rate, stereo is mixed down; a short one repeats.
        duration: length in seconds; beyond the model's window (about 30 s) it continues.
        seed: the random seed; another seed gives other music for the same description.
        guidance: how closely to follow the description (classifier-free guidance; 1 or less: off).
        temperature: randomness of the sampling (lower: safer and more repetitive).
        top_k: sample among this many most likely codes at each step (0: all of them).
        device: auto picks cuda, then mps, then cpu.
        dtype: auto is float16 on a GPU and float32 on the cpu.
    """
    _hf.require("torch", "transformers", what="MusicGen")
    if not 0.0 < float(duration) <= MAX_DURATION:
        raise ValueError_(f"duration {duration!r} must be more than 0 and at most {MAX_DURATION:g} seconds")
    text = from_prompt.text if from_prompt is not None else prompt
    m = ctx.models.local(model, "audio")
    if m.format == "transformers" and m.path is not None and melody is not None \
            and model_type(m.path) != "musicgen_melody":
        raise ValueError_(f"model {m.name!r} ({m.path}) is a MusicgenForConditionalGeneration, which cannot follow "
                          f"a melody: use a melody model such as facebook/musicgen-melody, or disconnect melody")
    engine, loaded = load_engine(ctx.models, m, device, dtype)
    if loaded:
        ctx.log(f"loaded {m.name} ({engine.arch}, {engine.rate} Hz, {'stereo' if engine.channels == 2 else 'mono'}) "
                f"on {engine.model.device}")
    samples = generate_music(engine, text, float(duration), int(seed), float(guidance), float(temperature),
                             int(top_k), melody, ctx)
    return Audio(samples, engine.rate)
