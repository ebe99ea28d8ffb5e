"""Audio AI benchmark on tiny random-weight models built at run time (the tests' fixture builders).

For each node (musicgen.generate, speech.transcribe, speech.translate, lipsync.wav2lip, and, when
coqui-tts imports, voice.clone_speak and voice.convert) it prints figures only (targets beside
them; no assertions on speed):

1. model load, first vs second use in one process: the first graph run (a fresh evaluator and
   result cache) loads the weights; a second fresh evaluator must find them in the process-wide
   model cache (``nodegraph.models.shared_cache``). The time spent in the cache's get_or_load
   inside each run is printed (timed by wrapping it on the instance for these two runs), with the
   node's own times; references beside them: the node module's own loader function called alone
   (no cache) and the weights' digest without the memo.
2. a graph run against the same work done directly, on the same loaded model object (taken from
   the shared cache through the node's own loader call, which is then a hit): a, the library
   calls the node makes (transformers ``generate`` / coqui ``inference`` / the Wav2Lip forward,
   with the same params and seeds, without the node's progress streamers and stopping criteria);
   b, ``Evaluator.run`` of the graph, the input nodes cached and the measured node recomputed
   every run (its cache policy is "always"). Target: b / a <= 1.05. Each block says what a
   includes; the rule is: the input preparation the model needs (mixing to mono, resampling,
   feature extraction, tokenising, voice trimming, face boxes and mel windows for Wav2Lip) is in a
   and b alike; what the node adds after the model (word timings, subtitles, alignment) is only
   in b, and is measured alone below each block so the gap can be read.
3. the real-time factor: a's seconds of compute per second of audio or video (each block says
   whether produced or consumed), on the tiny model on this machine.

Outputs of a and b are compared (same seed, same input: they should be identical). Imports,
building the tiny files and one warm-up call per setting are not timed. Nothing is downloaded
(HF_HUB_OFFLINE=1); the model digests memo goes to a temporary config folder. On a busy machine
read the medians and the spread columns, and min b/a (the fastest runs, least disturbed). A node whose pack
changed in a way the bench does not follow is skipped with a printed note; the others go on.

    python bench/bench_audio.py [--reps N] [--only musicgen,transcribe,...] [--threads 1]
                                [--device auto|cpu|cuda] [--music-s 3] [--w2l-s 2] [--w2l-fps 6]
                                [--quick] [--profile | --profile-all]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# said by espeak for Whisper (about 4 s); its sentences come from the tiny Marian's training text
SPEECH_TEXT = "The cat sits on the mat. A dog runs in the park. Thank you very much."
TRANSLATE_TEXT = ("The cat sits on the mat. A dog runs in the park.\nHello world. Good morning to you.\n"
                  "Where is the station? Thank you very much.\nThe weather is nice today. See you tomorrow.\n"
                  "The dog sits in the park. Thank you, see you today.")
VOICE_TEXT = "I am Ana, and this is how my voice sounds on a good day."      # the voice to clone (espeak f3)
CLONE_TEXT = "Hello there. How are you today? See you tomorrow."
MUSIC_PROMPT = "calm jazz piano with soft drums"
NODES = ("musicgen", "transcribe", "translate", "wav2lip", "clone", "convert")
TARGET = 1.05


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def ms(x: float) -> str:
    return f"{x * 1e3:.1f}"


# -- inputs ------------------------------------------------------------------------------------------

def write_wav(path: Path, x: np.ndarray, rate: int) -> Path:
    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def espeak_wav(path: Path, text: str, voice: str = "en") -> tuple[Path, float]:
    from nodes import _espeak

    pcm, rate, _, _ = _espeak.synthesize(text, _espeak.resolve_voice(voice))
    write_wav(path, pcm.astype(np.float32) / 32768.0, rate)
    return path, len(pcm) / rate


def espeak_seconds(text: str) -> float:
    from nodes import _espeak

    pcm, rate, _, _ = _espeak.synthesize(text, _espeak.resolve_voice("en"))
    return len(pcm) / rate


def face_video(path: Path, fps: int) -> Path:
    """tests/test_wav2lip.py's drawn face (OpenCV's Haar cascade finds it), drifting right one
    pixel a frame, 10 frames, as an H.264 file."""
    import av

    from test_wav2lip import face_frames

    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        frames = face_frames()
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        s.options = {"crf": "12"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


# -- graphs ------------------------------------------------------------------------------------------

def graph(nodes: dict, target: str):
    """``{id: (type, params, inputs)}`` -> Document; the target node recomputes every run."""
    from nodegraph.fileformat import from_data

    data: dict = {"format": "nodegraph", "version": 1, "nodes": {}}
    for nid, spec in nodes.items():
        data["nodes"][nid] = {"type": spec[0], "params": spec[1], **({"inputs": spec[2]} if len(spec) > 2 else {})}
    data["nodes"][target]["cache"] = "always"
    return from_data(data)


_evaluators = iter(range(10**6))


def evaluator(registry, tmp: Path):
    from nodegraph.cache import Cache
    from nodegraph.evaluate import Evaluator

    k = next(_evaluators)
    return Evaluator(registry, output_dir=tmp / "out", base_dir=tmp, cache=Cache(tmp / f"cache-{k}"))


def failed(res) -> str:
    bad = [r for r in res.nodes.values() if not r.ok]
    return "; ".join(f"{r.node} {r.status}: {r.error}" for r in bad) or "cancelled"


# -- cases ---------------------------------------------------------------------------------------------

@dataclass
class Prepared:
    direct: Callable[[], Any]               # the equivalent work done directly; returns its output
    same: Callable[[Any, Any], bool]        # (graph run's value, direct output) -> identical?
    media_s: Callable[[Any], float]         # seconds of audio/video, from the direct output
    extras: list[tuple[str, Callable[[], Any]]] = field(default_factory=list)   # node work not in a
    warmed: bool = False                    # prepare already called direct once (the warm-up)
    note: Callable[[float], str] | None = None   # more about a, given a's median


@dataclass
class Case:
    key: str
    node: str
    title: str
    doc: Any
    target: str
    port: str
    a_is: str                                # what a (the direct call) includes
    rtf_of: str                              # "audio produced" ...
    prepare: Callable[[Any], Prepared]       # from the first graph result (models loaded by then)
    loader: Callable[[], Any]                # the node module's loader function, alone (no cache)
    weights: Path                            # for the digest reference


def musicgen_case(tmp: Path, device: str, seconds: float) -> Case:
    import torch

    import tinymusicgen
    from nodegraph.context import Context
    from nodegraph import Models
    from nodes import _hf
    from nodes import musicgen as mgn

    folder = tinymusicgen.build_musicgen(tmp / "models" / "tiny-musicgen")
    params = {"model": str(folder), "prompt": MUSIC_PROMPT, "duration": seconds, "seed": 7, "guidance": 3.0,
              "temperature": 1.0, "top_k": 250, "device": device}
    doc = graph({"gen": ("musicgen.generate", params)}, "gen")

    def prepare(res) -> Prepared:
        m = Models(tmp).local(str(folder), "audio")
        engine, loaded = mgn.load_engine(Models(tmp), m, device, "auto")
        assert not loaded, "the engine was loaded again"
        model, hop, rate = engine.model, engine.hop, engine.rate
        total = int(round(seconds * rate))
        frames = -(-total // hop)
        wins = mgn.plan_windows(frames, engine.window, engine.delay, int(round(mgn.CONTEXT_S * engine.frame_rate)))

        def direct() -> np.ndarray:
            inputs = engine.text(text=[MUSIC_PROMPT], padding=True, return_tensors="pt").to(model.device)
            acc = None
            for k, (prompt, new) in enumerate(wins):
                kw: dict = dict(do_sample=True, guidance_scale=3.0, temperature=1.0, top_k=250,
                                max_new_tokens=new + engine.delay)
                if prompt:
                    kw["decoder_input_ids"] = mgn.prompt_codes(engine, acc[len(acc) - prompt * hop:])
                torch.manual_seed(mgn._window_seed(7, k))
                out = model.generate(**inputs, **kw)[0].float().cpu().numpy().T
                if not prompt:
                    acc = out
                else:
                    overlap = prompt * hop
                    acc = mgn._crossfade(acc, out, overlap, max(1, min(int(mgn.CROSSFADE_S * rate), overlap // 2)))
            return np.ascontiguousarray(acc[:total], np.float32)

        print(f"  tiny MusicGen: {rate} Hz mono, window {engine.window} tokens "
              f"({(engine.window - 1 - engine.delay) / engine.frame_rate:.2f} s); {seconds:g} s of music = "
              f"{len(wins)} generate calls ({sum(n + engine.delay for _, n in wins)} decoder steps)")
        steps = sum(n + engine.delay for _, n in wins)
        ctx = Context("gen", "musicgen.generate", output_dir=tmp / "out", base_dir=tmp)
        ids = torch.zeros((2 * model.decoder.num_codebooks, 8), dtype=torch.long)

        def step_counter():
            counter = mgn._step_counter(_hf.Progress(ctx, steps, "step"))
            for _ in range(steps):
                counter(ids, None)

        extras = [(f"the node's step counter (stopping criterion + progress, no listener) over {steps} steps",
                   step_counter)]
        return Prepared(direct, lambda v, d: np.array_equal(v.samples, d), lambda d: len(d) / rate, extras)

    def loader():
        from nodegraph.models import choose_device, dtype_for, torch_dtype

        dev = choose_device(device)
        return mgn._loader("musicgen")(str(folder), dev, torch_dtype(dtype_for(dev, None)))

    return Case("musicgen", "musicgen.generate", "MusicGen", doc, "gen", "audio",
                "the processor's tokenising + one model.generate per window (same kwargs and window seeds, "
                "no stopping criterion) + the audio encoder's prompt codes and the crossfades "
                "(nodes.musicgen's plan_windows / prompt_codes / _crossfade)",
                "audio produced", prepare, loader, folder)


def transcribe_case(tmp: Path, device: str, tiny) -> Case:
    from nodegraph import Models
    from nodes import _hf, _whisper, speech

    wav, _ = espeak_wav(tmp / "speech.wav", SPEECH_TEXT)
    params = {"model": str(tiny.whisper), "language": "en", "task": "transcribe", "word_timestamps": True,
              "phonemes": False, "device": device}
    doc = graph({"wav": ("audio.load", {"path": str(wav)}),
                 "asr": ("speech.transcribe", params, {"audio": "wav.audio"})}, "asr")

    def prepare(res) -> Prepared:
        m = Models(tmp).local(str(tiny.whisper), "audio")
        loads = Models().cache.loads
        (processor, asr), dev, _ = _hf.load(Models(), m, "whisper", _whisper.load_whisper, device, "auto")
        assert Models().cache.loads == loads, "Whisper was loaded again"
        audio = res.value("wav", "audio")
        tok, fe = processor.tokenizer, processor.feature_extractor
        last: dict = {}
        gen = asr.generation_config
        eot = int(gen.eos_token_id if not isinstance(gen.eos_token_id, list) else gen.eos_token_id[0])
        first_ts = int(gen.no_timestamps_token_id) + 1

        def direct() -> str:
            x = speech.mono_16k(audio)
            texts = []
            for a, b in speech.windows(x):
                inputs = fe(x[a:b], sampling_rate=speech.WHISPER_RATE, return_tensors="pt", return_attention_mask=True)
                out = asr.generate(inputs.input_features.to(dev, asr.dtype),
                                   attention_mask=inputs.attention_mask.to(dev), return_timestamps=True,
                                   force_unique_generate_call=True, task="transcribe", language="en",
                                   return_token_timestamps=True)
                seq = out["sequences"][0].tolist()
                last.update(seq=seq, times=out["token_timestamps"][0].tolist(), duration=(b - a) / speech.WHISPER_RATE)
                texts.append(tok.decode([t for t in seq if t < eot], skip_special_tokens=True))   # no timestamps
            return " ".join(texts)

        def words():
            segs = speech.decode_window(tok, last["seq"], last["times"], eot, first_ts, last["duration"])
            from nodegraph import Timing
            return [Timing(w0, w1, w) for _, _, ws in segs for w0, w1, w in ws]

        def same(v, d) -> bool:   # the node puts spaces between its words and segments: compare without
            return "".join(v.split()) == "".join(_hf.printable(d).split())

        direct()
        n_words = len(words())
        print(f"  tiny Whisper (2+2 layers, d_model 32), {audio.duration:.2f} s of espeak speech at {audio.rate} Hz "
              f"({len(last['seq'])} tokens generated, {n_words} words)")
        extras = [("decode_window (words and timings from the tokens)", words),
                  ("word_phonemes (phonemes=True; off in b)", lambda: speech.word_phonemes(words(), "en"))]
        return Prepared(direct, same, lambda d: audio.duration, extras, warmed=True)

    def loader():
        from nodegraph.models import choose_device, dtype_for, torch_dtype

        dev = choose_device(device)
        return _whisper.load_whisper(str(tiny.whisper), dev, torch_dtype(dtype_for(dev, None)))

    return Case("transcribe", "speech.transcribe", "Whisper", doc, "asr", "text",
                "resampling to 16 kHz mono (speech.mono_16k) + the feature extractor + asr.generate (same kwargs: "
                "timestamps, token timestamps, task, language; no streamer or stopping criterion) + "
                "tokenizer.decode of the text tokens; b has phonemes off (espeak per word, measured alone below)",
                "audio consumed", prepare, loader, tiny.whisper)


def translate_case(tmp: Path, device: str, tiny) -> Case:
    from nodegraph import Models
    from nodes import _hf, _translate

    params = {"text": TRANSLATE_TEXT, "model": str(tiny.marian), "source": "auto", "target": "", "batch": 8,
              "device": device}
    doc = graph({"tr": ("speech.translate", params)}, "tr")
    spoken = espeak_seconds(TRANSLATE_TEXT.replace("\n", " "))

    def prepare(res) -> Prepared:
        m = Models(tmp).local(str(tiny.marian), "audio")
        loads = Models().cache.loads
        (tok, mt), dev, _ = _hf.load(Models(), m, "seq2seq", _translate.load_seq2seq, device, "auto")
        assert Models().cache.loads == loads, "Marian was loaded again"
        lines = _translate.units_of_text(TRANSLATE_TEXT)
        todo = sorted({u for line in lines for u in line if u.strip()}, key=lambda u: (len(u), u))
        batches = [todo[i:i + 8] for i in range(0, len(todo), 8)]
        limit = int(getattr(mt.config, "max_position_embeddings", 0) or 512)

        def direct() -> dict:
            done = {}
            for group in batches:
                enc = tok(group, return_tensors="pt", padding=True, truncation=True, max_length=limit)
                out = mt.generate(**{k: v.to(dev) for k, v in enc.items()},
                                  max_new_tokens=max(8, min(limit, 2 * enc["input_ids"].shape[1] + 16)))
                for u, t in zip(group, tok.batch_decode(out, skip_special_tokens=True)):
                    done[u] = t
            return done

        def same(v, d) -> bool:
            want = "\n".join(" ".join(_hf.printable(d.get(s, "")).strip() for s in line) for line in lines)
            return v == want

        print(f"  tiny Marian en-de (2+2 layers, d_model 32): {len(todo)} sentences in {len(batches)} batches; "
              f"the text is {spoken:.2f} s when espeak says it")
        return Prepared(direct, same, lambda d: spoken)

    def loader():
        from nodegraph.models import choose_device, dtype_for, torch_dtype

        dev = choose_device(device)
        return _translate.load_seq2seq(str(tiny.marian), dev, torch_dtype(dtype_for(dev, None)))

    return Case("translate", "speech.translate", "Marian", doc, "tr", "text",
                "tokenising each batch of 8 sentences (sorted by length, as the node does) + mt.generate (same "
                "max_new_tokens, no stopping criterion) + batch_decode",
                "text as espeak speech", prepare, loader, tiny.marian)


def wav2lip_case(tmp: Path, device: str, seconds: float, fps: int) -> Case:
    from nodegraph import Models
    from nodegraph.models import choose_device
    from nodes import _wav2lip as w2l
    from nodes import wav2lip as node

    from tinywav2lip import calibrated_generator, save_release_checkpoint

    ckpt = save_release_checkpoint(calibrated_generator(), tmp / "models" / "wav2lip" / "wav2lip_gan.pth")
    video = face_video(tmp / "face.mp4", fps)
    from test_wav2lip import speechy

    sound = speechy(seconds, 22050)
    wav = write_wav(tmp / "line.wav", sound.samples[:, 0], sound.rate)
    doc = graph({"vid": ("video.load", {"path": str(video)}), "wav": ("audio.load", {"path": str(wav)}),
                 "lip": ("lipsync.wav2lip", {"model": str(ckpt), "device": device},
                         {"video": "vid.video", "audio": "wav.audio"})}, "lip")
    dev = choose_device(device)

    def prepare(res) -> Prepared:
        m = node.checkpoint_file(Models(tmp), str(ckpt))
        from nodegraph.models import shared_cache

        loads = shared_cache().loads
        net = node.load_model(Models(), m, dev, "float32", None)
        assert shared_cache().loads == loads, "Wav2Lip was loaded again"
        v, snd = res.value("vid", "video"), res.value("wav", "audio")
        fps_ = float(v.fps)
        n_out = w2l.frame_count(snd.duration, fps_)
        n_src = min(v.n_frames, n_out)
        src = [node.source_index(i, v.n_frames, "loop") for i in range(n_out)]
        batch = 64 if dev != "cpu" else 16
        fwd: list[float] = []

        def direct():
            det = w2l.FaceDetector()
            found, prev = [], None
            for s in range(n_src):
                b = det.follow(v.rgb_frame(s), prev)
                found.append(b)
                prev = b if b is not None else prev
            filled, _ = w2l.fill_gaps(found, max(2, int(round(fps_ * 0.5))))
            boxes = w2l.finish_boxes(filled, v.width, v.height, (0, 10, 0, 0), 5)
            wins = w2l.mel_windows(w2l.audio_mel(snd.samples, snd.rate), n_out, fps_)
            patches = np.zeros((n_out, w2l.IMG, w2l.IMG, 3), np.uint8)
            todo = [i for i in range(n_out) if boxes[src[i]] is not None]
            forward = 0.0
            for start in range(0, len(todo), batch):
                idx = todo[start:start + batch]
                faces = np.stack([w2l.crop_face(v.rgb_frame(src[i]), boxes[src[i]]) for i in idx])
                t = time.perf_counter()
                patches[idx] = w2l.generate(net, faces, wins[idx], dev, "float32")
                forward += time.perf_counter() - t
            fwd.append(forward)
            return patches, boxes

        def same(out, d) -> bool:
            patches, boxes = d
            return all(np.array_equal(out.frame(i), w2l.paste(v.rgb_frame(src[i]), patches[i], boxes[src[i]]))
                       for i in (0, n_out // 2, n_out - 1))

        def note(a: float) -> str:
            f = statistics.median(fwd[1:] or fwd)
            return (f"of a, the generator forward (w2l.generate, timed inside a) {ms(f)} ms ({f / a:.0%}); "
                    f"{ms(a / n_out)} ms a frame, so RTF {a / n_out * 25:.2f} at 25 fps")

        direct()
        print(f"  Wav2Lip generator (the published 36.3 M parameters, random weights; not tiny), float32 on {dev}: "
              f"{snd.duration:.2f} s of sound -> {n_out} frames at {fps_:g} fps of a {v.width}x{v.height} video "
              f"({v.n_frames} frames, looped), batches of {batch}")
        return Prepared(direct, same, lambda d: n_out / fps_, warmed=True, note=note)

    def loader():
        return w2l.load_generator(ckpt, dev, "float32")

    return Case("wav2lip", "lipsync.wav2lip", "Wav2Lip", doc, "lip", "video",
                "face boxes (Haar cascades on each source frame, decoded from the same lazy video), gap filling "
                "and smoothing, mel windows, 96x96 crops and the generator forward (nodes._wav2lip functions, "
                "as the node calls them); b's output frames are pasted only when pulled (not timed in either)",
                "video produced", prepare, loader, ckpt)


def clone_case(tmp: Path, device: str, ref_wav: Path) -> Case:
    import torch

    import tinycoqui
    from nodegraph import Models
    from nodes import _coqui, voiceclone

    folder = tinycoqui.build_xtts(tmp / "models" / "tts" / "xtts_v2")
    params = {"text": CLONE_TEXT, "language": "en", "model": str(folder), "temperature": 0.75, "speed": 1.0,
              "seed": 3, "device": device}
    doc = graph({"ref": ("audio.load", {"path": str(ref_wav)}),
                 "gen": ("voice.clone_speak", params, {"reference": "ref.audio"})}, "gen")

    def prepare(res) -> Prepared:
        m = Models(tmp).local(str(folder), "audio")
        engine, loaded = _coqui.load_xtts(Models(), m, device)
        assert not loaded, "XTTS was loaded again"
        ref = res.value("ref", "audio")
        model, s, rate = engine.model, engine.settings, engine.cond_rate
        parts = voiceclone.sentences(CLONE_TEXT, engine.char_limits.get("en", 250))
        waves_kept: list = []

        def direct() -> np.ndarray:
            voice, _ = voiceclone.prepare_voice([ref], rate, "ref")
            with torch.inference_mode():
                emb, clips = [], []
                for x in voice:
                    t = torch.from_numpy(np.ascontiguousarray(x[: int(rate * s["max_ref_len"])]))[None].to(model.device)
                    if s["sound_norm_refs"]:
                        t = t / t.abs().max() * 0.75
                    emb.append(model.get_speaker_embedding(t, rate))
                    clips.append(t)
                latents = model.get_gpt_cond_latents(torch.cat(clips, dim=-1), rate, length=int(s["gpt_cond_len"]),
                                                     chunk_length=int(s["gpt_cond_chunk_len"]))
                speaker = torch.stack(emb).mean(dim=0)
            waves = []
            for k, part in enumerate(parts):
                torch.manual_seed(voiceclone._sentence_seed(3, k))
                out = model.inference(part, "en", latents, speaker, temperature=0.75,
                                      length_penalty=float(s["length_penalty"]),
                                      repetition_penalty=float(s["repetition_penalty"]), top_k=int(s["top_k"]),
                                      top_p=float(s["top_p"]), speed=1.0, enable_text_splitting=False)
                waves.append(np.asarray(out["wav"], np.float32).reshape(-1))
            waves_kept[:] = waves
            return np.concatenate(waves)

        def alignment():
            for part, w in zip(parts, waves_kept):
                voiceclone.align(part, w, engine.rate, voiceclone.espeak_guide(part, "en"))

        d = direct()
        print(f"  tiny XTTS-v2 (2 GPT layers of 64 channels, tiny HiFi-GAN; at most "
              f"{engine.max_tokens} audio tokens a sentence): {len(parts)} sentences -> {len(d) / engine.rate:.2f} s "
              f"at {engine.rate} Hz; voice: {ref.duration:.2f} s of espeak f3")
        extras = [("timings: espeak_guide + align (DTW) for each sentence", alignment),
                  ("_coqui.require (package metadata look-ups; a run calls it twice)", _coqui.require)]
        return Prepared(direct, lambda v, d: np.array_equal(v.audio.samples[:, 0], d),
                        lambda d: len(d) / engine.rate, extras, warmed=True)

    def loader():
        from nodegraph.models import choose_device

        return _coqui._load_xtts(str(folder), choose_device(device), None)

    return Case("clone", "voice.clone_speak", "XTTS-v2", doc, "gen", "speech",
                "trimming/resampling the reference (voiceclone.prepare_voice) + GPT conditioning latents and "
                "speaker embedding (as voiceclone.conditioning) + model.inference per sentence (same settings and "
                "sentence seeds, no stopping criterion); b also times words and phonemes by espeak + DTW "
                "(measured alone below)",
                "audio produced", prepare, loader, folder)


def convert_case(tmp: Path, device: str, ref_wav: Path) -> Case:
    import torch

    import tinycoqui
    from nodegraph import Models
    from nodes import _coqui, audiodsp, voiceclone

    folder = tinycoqui.build_openvoice(tmp / "models" / "openvoice" / "converter")
    doc = graph({"ref": ("audio.load", {"path": str(ref_wav)}),
                 "say": ("voice.speak", {"text": SPEECH_TEXT, "language": "en"}),
                 "conv": ("voice.convert", {"model": str(folder), "device": device},
                          {"speech": "say.speech", "reference": "ref.audio"})}, "conv")

    def prepare(res) -> Prepared:
        from TTS.utils.audio.torch_transforms import wav_to_spec

        m = Models(tmp).local(str(folder), "audio")
        engine, loaded = _coqui.load_openvoice(Models(), m, device)
        assert not loaded, "OpenVoice was loaded again"
        ref, sp = res.value("ref", "audio"), res.value("say", "speech")
        model = engine.model
        cut = getattr(voiceclone, "split_parts", None) or voiceclone.parts   # renamed while this was written
        dev = next(model.parameters()).device

        def spec(x):
            y = torch.from_numpy(np.ascontiguousarray(x, np.float32))[None, None].to(dev)
            return wav_to_spec(y, n_fft=engine.fft, hop_length=engine.hop, win_length=engine.win, center=False)

        def direct() -> np.ndarray:
            voice, _ = voiceclone.prepare_voice([ref], engine.rate, "ref")
            src = sp.audio
            mono = np.ascontiguousarray(src.samples.mean(axis=1, dtype=np.float32))
            if src.rate != engine.rate:
                mono = audiodsp.resample(mono[:, None], src.rate, engine.rate)[:, 0]
            out = np.zeros(len(mono), np.float32)
            with torch.inference_mode():
                target = torch.stack([model.ref_enc(spec(x).transpose(1, 2)).unsqueeze(-1) for x in voice]).mean(dim=0)
                own = model.ref_enc(spec(mono).transpose(1, 2)).unsqueeze(-1)
                for k, (a, b) in enumerate(cut(mono, engine.rate, engine.fft)):
                    torch.manual_seed(k)
                    y = model.inference(spec(mono[a:b]), {"g_src": own, "g_tgt": target})["model_outputs"]
                    y = y[0, 0].float().cpu().numpy()[: b - a]
                    out[a:a + len(y)] = y
            return out

        print(f"  tiny OpenVoice converter (32 channels) at {engine.rate} Hz: {sp.audio.duration:.2f} s of espeak "
              f"speech into the voice of {ref.duration:.2f} s of espeak f3")
        extras = [("_coqui.require (package metadata look-ups; a run calls it twice)", _coqui.require)]
        return Prepared(direct, lambda v, d: np.array_equal(v.audio.samples[:, 0], d), lambda d: len(d) / engine.rate,
                        extras)

    def loader():
        from nodegraph.models import choose_device

        return _coqui._load_openvoice(str(folder), choose_device(device), None)

    return Case("convert", "voice.convert", "OpenVoice", doc, "conv", "speech",
                "trimming the reference (voiceclone.prepare_voice) + the reference encoder on both voices + "
                "model.inference per part (wav_to_spec, same seeds), as voiceclone.convert_voice calls them",
                "audio consumed", prepare, loader, folder)


# -- measuring -------------------------------------------------------------------------------------------

@dataclass
class Row:
    case: Case
    first: float = 0.0
    second: float = 0.0
    load: float = 0.0
    loader: float = 0.0
    a: float = 0.0
    b: float = 0.0
    ratio: float = 0.0
    min_ratio: float = 0.0
    rtf: float = 0.0
    same: bool = False


def bench_case(case: Case, registry, tmp: Path, reps: int | None) -> Row:
    from nodegraph.models import path_digest, shared_cache

    print(f"\n== {case.node} ({case.title})")
    row = Row(case)
    cache = shared_cache()
    # 1. loads: two fresh evaluators; the second one's run is also b's warm-up, and it runs b's reps.
    # The shared cache's get_or_load is timed in these two runs (an instance attribute, removed after).
    runs = []
    inner = cache.get_or_load
    spans: list[float] = []

    def timed(key, loader, size=None):
        t = time.perf_counter()
        try:
            return inner(key, loader, size=size)
        finally:
            spans.append(time.perf_counter() - t)

    cache.get_or_load = timed  # type: ignore[method-assign]
    try:
        for use in ("first", "second"):
            ev = evaluator(registry, tmp)
            loads, hits = cache.loads, cache.hits
            spans.clear()
            t = time.perf_counter()
            res = ev.run(case.doc, [case.target])
            wall = time.perf_counter() - t
            if not res.ok:
                sys.exit(f"{case.node}: graph run failed: {failed(res)}")
            runs.append((wall, res.nodes[case.target].seconds, cache.loads - loads, cache.hits - hits, sum(spans)))
            if use == "first":
                ev.close()
    finally:
        del cache.get_or_load
    prep = case.prepare(res)
    print(f"  a: {case.a_is}")
    print("  b: Evaluator.run of the graph, its inputs cached, the node recomputed (cache policy always)")
    (w1, n1, l1, h1, g1), (w2, n2, l2, h2, g2) = runs
    ok = l1 == 1 and l2 == 0 and h2 >= 1
    refs = []
    for _ in range(2):                    # twice when quick (a busy machine makes one call a poor figure)
        t = time.perf_counter()
        case.loader()
        refs.append(time.perf_counter() - t)
        if refs[0] > 0.5:
            break
    row.loader = min(refs)
    t = time.perf_counter()
    path_digest(case.weights, use_memo=False)
    digest = time.perf_counter() - t
    row.first, row.second, row.load = g1, g2, n1 - n2
    print(f"  load: first run {ms(w1)} ms (node {ms(n1)}; shared-cache get_or_load {ms(g1)} ms, loads +{l1}), "
          f"second run {ms(w2)} ms (node {ms(n2)}; get_or_load {g2 * 1e3:.3f} ms, loads +{l2}, hits +{h2})"
          f"{'' if ok else '  <-- NOT one load then a hit'}")
    print(f"        node time first - second {ms(n1 - n2)} ms; references alone: the loader {ms(row.loader)} ms, "
          f"the weights' digest (no memo) {ms(digest)} ms")

    # 2. graph vs direct
    def graph_run() -> tuple[float, float, Any]:
        t = time.perf_counter()
        r = ev.run(case.doc, [case.target])
        wall = time.perf_counter() - t
        if not r.ok:
            sys.exit(f"{case.node}: graph run failed: {failed(r)}")
        st = {n: x.status for n, x in r.nodes.items()}
        if st[case.target] != "computed" or any(s != "cached" for n, s in st.items() if n != case.target):
            sys.exit(f"{case.node}: unexpected statuses {st}: the node must compute, its inputs be cached")
        return wall, r.nodes[case.target].seconds, r.value(case.target, case.port)

    def direct_run() -> tuple[float, Any]:
        t = time.perf_counter()
        out = prep.direct()
        return time.perf_counter() - t, out

    warm = n2 if prep.warmed else direct_run()[0]                # b's warm-up was the second load run
    if reps is None:
        reps = 7 if warm < 0.5 else 5 if warm < 1.0 else 3
    a, b, own = [], [], []
    out_a = out_b = None
    for k in range(reps):                                         # interleaved, the order alternating
        for which in ((0, 1) if k % 2 == 0 else (1, 0)):
            if which == 0:
                dt, out_a = direct_run()
                a.append(dt)
            else:
                wall, node_s, out_b = graph_run()
                b.append(wall), own.append(node_s)
    ev.close()
    ma, mb, mo = (statistics.median(x) for x in (a, b, own))
    row.a, row.b, row.ratio, row.min_ratio = ma, mb, mb / ma, min(b) / min(a)
    media = prep.media_s(out_a)
    row.rtf = ma / media
    row.same = bool(prep.same(out_b, out_a))
    flag = "" if row.ratio <= TARGET else "  <-- above target"
    print(f"  {'reps':>5}{'a ms':>9}{'b ms':>9}{'b/a':>7}{'min b/a':>8}{'node-a':>8}{'run-node':>9}"
          f"{'a range':>8}{'b range':>8}   target b/a <= {TARGET}")
    print(f"  {reps:>5}{ms(ma):>9}{ms(mb):>9}{row.ratio:>7.3f}{row.min_ratio:>8.3f}{ms(mo - ma):>8}{ms(mb - mo):>9}"
          f"{(max(a) - min(a)) / ma:>8.1%}{(max(b) - min(b)) / mb:>8.1%}{flag}")
    print(f"  same output in a and b: {'yes' if row.same else 'NO'}; real-time factor (a s per s of "
          f"{case.rtf_of}, {media:.2f} s): {row.rtf:.3f}")
    if prep.note is not None:
        print(f"  {prep.note(ma)}")
    if prep.extras:
        parts = []
        for label, fn in prep.extras:
            fn()
            ts = []
            for _ in range(5):
                t = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t)
            parts.append(f"{label} {ms(statistics.median(ts))}")
        print("  node work not in a, measured alone (ms, median of 5): " + "; ".join(parts))
    return row


def profile(case: Case, registry, tmp: Path, runs: int) -> None:
    """cProfile of graph runs; the top costs in nodegraph/ and nodes/ code (torch etc. below them)."""
    import cProfile
    import pstats

    ev = evaluator(registry, tmp)
    ev.run(case.doc, [case.target])
    prof = cProfile.Profile()
    for _ in range(runs):
        prof.enable()
        ev.run(case.doc, [case.target])
        prof.disable()
    ev.close()
    st = pstats.Stats(prof)
    ours = (str(ROOT / "nodegraph"), str(ROOT / "nodes"))
    rows = []
    for (file, line, fn), (cc, nc, tt, ct, _) in st.stats.items():  # type: ignore[attr-defined]
        if file.startswith(ours):
            rows.append((ct, tt, nc, f"{Path(file).relative_to(ROOT)}:{line}({fn})"))
    print(f"\nprofile: {runs} graph runs of {case.node}: {st.total_tt * 1e3 / runs:.1f} ms per run under cProfile")
    print("  top by own time in nodegraph/ and nodes/ (ms per run)")
    for ct, tt, nc, name in sorted(rows, key=lambda r: -r[1])[:12]:
        print(f"    own {tt * 1e3 / runs:8.2f}  cum {ct * 1e3 / runs:8.2f}  calls {nc / runs:7.0f}  {name}")
    print("  top by cumulative time in nodegraph/ and nodes/ (ms per run; includes what they call)")
    for ct, tt, nc, name in sorted(rows, key=lambda r: -r[0])[:16]:
        print(f"    cum {ct * 1e3 / runs:8.2f}  own {tt * 1e3 / runs:8.2f}  calls {nc / runs:7.0f}  {name}")


# -- main -------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int,
                    help="timed reps per node (median; default 7 where a takes under 0.5 s, 5 under 1 s, else 3; "
                         "--quick 3)")
    ap.add_argument("--only", default=",".join(NODES), help=f"comma-separated, of {','.join(NODES)} (default all)")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                    help="the nodes' device param (auto: cuda, then mps, then cpu)")
    ap.add_argument("--music-s", type=float, default=3.0, help="seconds of music MusicGen writes (default 3)")
    ap.add_argument("--w2l-s", type=float, default=2.0, help="seconds of sound for Wav2Lip (default 2)")
    ap.add_argument("--w2l-fps", type=int, default=6,
                    help="frame rate of Wav2Lip's face video (default 6: 12 frames for 2 s; the CPU batch is 16)")
    ap.add_argument("--quick", action="store_true", help="3 reps")
    ap.add_argument("--profile", action="store_true", help="also cProfile graph runs of the nodes above target")
    ap.add_argument("--profile-all", action="store_true", help="also cProfile graph runs of every node")
    args = ap.parse_args(argv)
    args.reps = args.reps or (3 if args.quick else None)
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = [x for x in only if x not in NODES]
    if unknown:
        sys.exit(f"--only: unknown {', '.join(unknown)} (known: {', '.join(NODES)})")

    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    tmp_ctx = tempfile.TemporaryDirectory(prefix="nodegraph-bench-audio-")
    tmp = Path(tmp_ctx.name)
    os.environ["NODEGRAPH_CONFIG_DIR"] = str(tmp / "config")  # the digests memo starts empty, here
    os.environ.pop("NODEGRAPH_DEVICE", None)
    t_start = time.perf_counter()

    t = time.perf_counter()
    import warnings

    warnings.filterwarnings("ignore")
    import torch
    import transformers

    sys.path.insert(0, str(ROOT / "tests"))
    import tinyspeech

    from nodegraph.models import ModelError, choose_device
    from nodegraph.registry import default_registry
    from nodes import _hf

    _hf.quiet()
    coqui_note = ""
    if {"clone", "convert"} & set(only):
        try:
            from nodes import _coqui, voiceclone

            _coqui.import_tts()
            import TTS.tts.models.xtts  # noqa: F401  (lazy imports done before timing)
            import TTS.vc.models.openvoice  # noqa: F401
            import tinycoqui  # noqa: F401
        except Exception as e:  # noqa: BLE001  (ImportError, ModelError, OSError from torchaudio ...)
            coqui_note = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            only = [x for x in only if x not in ("clone", "convert")]
    t_import = time.perf_counter() - t
    torch.set_num_threads(args.threads)
    try:
        device = choose_device(args.device)
    except ModelError as e:
        sys.exit(f"--device {args.device}: {e}")

    print(f"nodegraph bench_audio: Python {platform.python_version()}, {os.cpu_count()} CPU(s), "
          f"{platform.machine()} {platform.system()}, load average {loadavg()}")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}"
          + (f", coqui-tts {__import__('importlib.metadata').metadata.version('coqui-tts')}"
             if {"clone", "convert"} & set(only) else "")
          + f"; torch threads {torch.get_num_threads()}; device {device} (--device {args.device}; "
          f"cuda {'available' if torch.cuda.is_available() else 'not available'})")
    if device.startswith("cuda"):
        print(f"  {torch.cuda.get_device_name(device)}")
    if coqui_note:
        print(f"  voice.clone_speak / voice.convert skipped: coqui-tts does not import here ({coqui_note})")

    registry = default_registry()
    if {"clone", "convert"} & set(only) and "voice.clone_speak" not in registry:
        registry.add_module(voiceclone)   # the pack may not be among the installed entry points yet

    t = time.perf_counter()
    tiny = tinyspeech.build_all(tmp / "models" / "speech") if {"transcribe", "translate"} & set(only) else None
    ref_wav = espeak_wav(tmp / "voice.wav", VOICE_TEXT, "en+f3")[0] if {"clone", "convert"} & set(only) else None
    makers: dict[str, Callable[[], Case]] = {
        "musicgen": lambda: musicgen_case(tmp, args.device, args.music_s),
        "transcribe": lambda: transcribe_case(tmp, args.device, tiny),
        "translate": lambda: translate_case(tmp, args.device, tiny),
        "wav2lip": lambda: wav2lip_case(tmp, args.device, args.w2l_s, args.w2l_fps),
        "clone": lambda: clone_case(tmp, args.device, ref_wav),
        "convert": lambda: convert_case(tmp, args.device, ref_wav),
    }
    cases = [makers[k]() for k in NODES if k in only]
    print(f"imports {t_import:.1f} s, building the tiny models and inputs {time.perf_counter() - t:.1f} s "
          f"(not timed below); {args.reps or '7 (5 where a takes 0.5-1 s, 3 above)'} reps per node after one warm-up "
          f"each, a and b interleaved")

    rows = []
    for c in cases:
        try:
            rows.append(bench_case(c, registry, tmp, args.reps))
        except Exception as e:  # noqa: BLE001  (a pack changed under the bench: say so, go on with the others)
            import traceback

            where = traceback.extract_tb(e.__traceback__)[-1]
            print(f"  {c.node} skipped: {type(e).__name__}: {e} ({Path(where.filename).name}:{where.lineno})")

    print("\nsummary (medians of the reps; RTF = a's seconds per second of audio/video)")
    print(f"  {'node':<20}{'RTF':>7}  {'of':<24}{'a ms':>8}{'b ms':>8}{'b/a':>7}{'min b/a':>8}{'same':>6}"
          f"{'load 1st':>10}{'2nd':>7}{'loader':>8}{'node 1st-2nd':>13}")
    for r in rows:
        flag = "" if r.ratio <= TARGET else "  <-- above target"
        print(f"  {r.case.node:<20}{r.rtf:>7.3f}  {r.case.rtf_of[:24]:<24}{ms(r.a):>8}{ms(r.b):>8}{r.ratio:>7.3f}"
              f"{r.min_ratio:>8.3f}{'yes' if r.same else 'NO':>6}{ms(r.first):>10}{r.second * 1e3:>7.3f}{ms(r.loader):>8}"
              f"{ms(r.load):>13}{flag}")
    print("  load 1st / 2nd (ms): the shared model cache's get_or_load inside the first graph run (a load from disk) "
          "and inside a second run with a fresh evaluator (a hit); loader: the node module's loader function alone; "
          "node 1st-2nd: the node's own time, first run minus second (the load plus first-call costs, and noise)")

    chosen = rows if args.profile_all else [r for r in rows if r.ratio > TARGET] if args.profile else []
    for r in chosen:
        profile(r.case, registry, tmp, max(3, args.reps or 5))
    worst = max(rows, key=lambda r: r.ratio) if rows else None
    print(f"\n{'worst b/a ' + format(worst.ratio, '.3f') + ' (' + worst.case.node + '); ' if worst else ''}"
          f"total {time.perf_counter() - t_start:.1f} s; load average at the end: {loadavg()}")
    tmp_ctx.cleanup()


if __name__ == "__main__":
    main()
