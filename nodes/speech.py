"""Speech AI: transcribe with Whisper (text, word and segment timings, subtitles), translate text
and timed subtitles with Marian or NLLB-style models, and write and read SRT / WebVTT files.

Timed text flows as a ``Subtitles`` value (cues of start, end and text, plus a language code),
registered by this pack (``nodes/_subtitles.py``). Transcribe also gives a ``Speech`` (the input
audio with Whisper's word timings, and phonemes spelled by espeak-ng inside each word) so
Lipsync and the Subtitles compositor use a recording the way they use the Speak node's output.
A Speech linked to a Subtitles input becomes cues grouped from its words.

Models come through the node's ``ctx.models`` (a folder, a name under the model folders'
``audio`` kind, or a Hugging Face repo id from the local cache) and load once per process
(``nodes._hf.load``). Whisper runs on windows of at most 30 s cut at the quietest moment near
each window's end, one generate call per window: progress per window (and per token inside it),
cancellation between tokens, and timings clamped inside the audio and kept in order whatever the
model predicts. torch and transformers are imported inside the functions: the pack registers
without them.

This file declares the nodes; the work is in ``_subtitles.py`` (the value, SRT/WebVTT),
``_whisper.py`` (windows, decoding, phonemes), ``_translate.py`` (language pairs) and ``_hf.py``.
"""
from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

from nodegraph import (Audio, Bool, Choice, Context, Int, Number, Outputs, Path, Speech, Text, Timing,
                       UnsupportedModel, ValueError_, node)

from . import _hf
from ._subtitles import (NO_SPACE_LANGUAGES, Subtitles, SubtitlesT, base_language, format_time, from_speech,
                         group_words, parse_srt, parse_vtt, read_subtitles, to_srt, to_vtt, wrap, written_words)
from ._translate import TOKENIZER_LOCK, Plan, load_seq2seq, marian_plan, multilingual_plan, units_of_text
from ._whisper import (WHISPER_RATE, decode_window, load_whisper, mono_16k, whisper_language, whisper_languages,
                       windows, word_phonemes)

WhisperRef = Path(kind="model:audio")
TranslatorRef = Path(kind="model:audio")
Device = Choice("auto", "cpu", "cuda", "mps")
Dtype = Choice("auto", "float32", "float16", "bfloat16")
LineWidth = Int(min=10, max=200)
SubtitleFile = Path(kind="subtitles", extensions=(".srt", ".vtt"), must_exist=True)
Task = Choice("transcribe", "translate")


@node("speech.subtitles_file", title="Save subtitles", category="Output", output=True, cost="io")
def subtitles_file(subtitles: Subtitles, filename: Text(output_file=(".srt", ".vtt")) = "subtitles.srt",
                   offset: Number(min=0.0, max=36000.0) = 0.0, ctx: Context = None) -> Path:
    """Write subtitles as an SRT or WebVTT file in the output folder (the extension picks the format).

    A Speech (from Speak or Transcribe) can be linked straight in: its words are grouped into
    cues of at most two lines of 42 characters.

    Args:
        subtitles: the timed text (Subtitles, or a Speech).
        filename: file name inside the output folder, ending in .srt or .vtt.
        offset: seconds added to every cue (where the speech starts in the final video).
    """
    ext = FsPath(filename).suffix.lower()
    if ext not in (".srt", ".vtt"):
        raise ValueError_(f"param 'filename': subtitle file name {filename!r} must end in .srt (SubRip) or .vtt (WebVTT)")
    body = to_srt(subtitles, offset) if ext == ".srt" else to_vtt(subtitles, offset)
    from nodegraph import write_bytes

    target = ctx.output_path(filename, "filename")
    write_bytes(target, body.encode("utf-8"))
    return str(target)


@node("speech.load_subtitles", title="Load subtitles", category="Speech", determinism="reads-files", cost="io")
def load_subtitles(path: SubtitleFile, language: Text = "") -> Subtitles:
    """Read an SRT or WebVTT subtitle file into timed text (cues in time order, tags dropped).

    Args:
        path: the .srt or .vtt file; relative paths are relative to the graph file.
        language: the cues' language code; empty: the VTT Language header, else a code before
            the extension (film.fr.srt), else unknown.
    """
    return read_subtitles(path, language.strip())


@node("speech.transcribe", title="Transcribe", category="Speech AI", determinism="reads-files", cost="gpu")
def transcribe(audio: Audio, model: WhisperRef = "openai/whisper-small", language: Text = "auto",
               task: Task = "transcribe", word_timestamps: Bool = True,
               phonemes: Bool = True, max_chars: LineWidth = 42, device: Device = "auto", dtype: Dtype = "auto",
               ctx: Context = None) -> Outputs(text=Text, speech=Speech, subtitles=Subtitles):
    """Speech to text with Whisper: the transcript, the audio with word timings, and subtitles.

    Any sample rate and channel count is taken (mixed to mono and resampled to 16 kHz for the
    model); the Speech output keeps the original audio. Long recordings are read in windows of
    at most 30 s, cut in quiet moments. Timings are in seconds, in order, inside the audio.

    Args:
        audio: the recording (or a Speech).
        model: a Whisper model: a folder, a name under the model folders (audio kind), or a
            Hugging Face repo id such as openai/whisper-small (from the local cache when offline).
        language: the spoken language as a code (en, fr, de ...) or a name, or auto to detect it
            from the first 30 s.
        task: transcribe (text in the spoken language) or translate (English text).
        word_timestamps: time each word from the model's attention (needs alignment heads in the
            model's generation config); off: words share their segment's time.
        phonemes: also give the Speech IPA phonemes inside each word (espeak-ng), so Lipsync
            shapes the mouth from them; off or for a language espeak lacks: words only.
        max_chars: characters per subtitle line (a cue has at most two lines).
        device: auto picks cuda, then mps, then cpu.
        dtype: auto is float16 on a GPU and float32 on the cpu.
    """
    x = mono_16k(audio)
    m = _hf.transformers_model(ctx.models, model, "Transcribe node")
    kind = _hf.config_of(m).get("model_type")
    if kind and kind != "whisper":
        raise UnsupportedModel(f"{m.path}: a {kind} model, not Whisper; Transcribe needs a Whisper model "
                               f"(such as openai/whisper-small)")
    loads = ctx.models.cache.loads
    (processor, asr), dev, _ = _hf.load(ctx.models, m, "whisper", load_whisper, device, dtype)
    if ctx.models.cache.loads > loads:
        ctx.log(f"loaded {m.name} on {dev}")
    gen = asr.generation_config
    known = whisper_languages(asr)
    lang = whisper_language(language, known, m.name)
    if task == "translate" and not known:
        raise ValueError_(f"the Whisper model {m.name} is English-only: it cannot translate; use task transcribe")
    tokenizer, features = processor.tokenizer, processor.feature_extractor
    eot = int(gen.eos_token_id if not isinstance(gen.eos_token_id, list) else gen.eos_token_id[0])
    first_ts = int(gen.no_timestamps_token_id) + 1
    aligned = bool(word_timestamps and getattr(gen, "alignment_heads", None))
    if word_timestamps and not aligned:
        ctx.log(f"{m.name} has no alignment heads in its generation config: words share their segment's time")
    greedy = (getattr(gen, "num_beams", 1) or 1) == 1
    span = windows(x)
    stop = _hf.cancel_criteria(ctx)
    segments: list[tuple[float, float, list]] = []
    for k, (a, b) in enumerate(span):
        ctx.check_cancelled()
        offset, duration = a / WHISPER_RATE, (b - a) / WHISPER_RATE
        inputs = features(x[a:b], sampling_rate=WHISPER_RATE, return_tensors="pt", return_attention_mask=True)
        kw: dict[str, Any] = {"return_timestamps": True, "force_unique_generate_call": True,
                              "stopping_criteria": stop}
        if known:
            kw["task"] = task
            if lang is not None:
                kw["language"] = lang
        if aligned:
            kw["return_token_timestamps"] = True
        if greedy:
            kw["streamer"] = _hf.Progress(ctx, asr.config.max_target_positions, f"chunk {k + 1}/{len(span)}: token",
                                          start=k / len(span), span=1 / len(span))
        out = asr.generate(inputs.input_features.to(dev, asr.dtype), attention_mask=inputs.attention_mask.to(dev),
                           **kw)
        ctx.check_cancelled()
        seq = (out["sequences"] if isinstance(out, dict) else out)[0].tolist()
        times = out["token_timestamps"][0].tolist() if aligned and isinstance(out, dict) else None
        if known and lang is None:  # detected on the first window; the rest follow it
            code = tokenizer.convert_ids_to_tokens(seq[1]) if len(seq) > 1 else ""
            lang = code.strip("<|>") if code.strip("<|>") in known else None
            if lang:
                ctx.log(f"detected language: {lang}")
        spaced = (lang or "en") not in NO_SPACE_LANGUAGES or task == "translate"
        for s0, s1, words in decode_window(tokenizer, seq, times, eot, first_ts, duration, spaced):
            segments.append((offset + s0, offset + s1, [(offset + w0, offset + w1, w) for w0, w1, w in words]))
        ctx.progress((k + 1) / len(span), f"chunk {k + 1}/{len(span)}")

    out_lang = "en" if task == "translate" or not known else (lang or "")
    joiner = "" if out_lang in NO_SPACE_LANGUAGES else " "
    total, last = audio.duration, 0.0
    words: list[Timing] = []
    cues: list[tuple[float, float, str]] = []
    texts: list[str] = []
    for _, _, seg_words in segments:   # in order, inside the audio, whatever the model predicted
        own = []
        for w0, w1, w in seg_words:
            s = min(max(w0, last), total)
            e = min(max(w1, s), total)
            own.append(Timing(s, e, w))
            last = e
        words.extend(own)
        texts.append(joiner.join(t.label for t in own))
        cues.extend(group_words(own, max_chars, joiner=joiner))   # a long segment becomes several cues
    transcript = joiner.join(texts)
    ph = word_phonemes(words, out_lang) if phonemes and words else []
    if ph is None:
        ctx.log(f"espeak-ng has no language {out_lang!r}: the speech carries word timings only")
    return {"text": transcript, "speech": Speech(audio, transcript, out_lang, words, ph or ()),
            "subtitles": Subtitles(tuple(cues), out_lang)}


@node("speech.translate", title="Translate", category="Speech AI", determinism="reads-files", cost="gpu")
def translate(subtitles: Subtitles | None = None, text: Text(multiline=True) = "",
              model: TranslatorRef = "Helsinki-NLP/opus-mt-en-de", source: Text = "auto", target: Text = "",
              batch: Int(min=1, max=256) = 8, device: Device = "auto", dtype: Dtype = "auto",
              ctx: Context = None) -> Outputs(text=Text, subtitles=Subtitles):
    """Translate subtitles cue by cue (each keeps its timing) or a text line by line, with a
    Marian (opus-mt) or NLLB-style (NLLB, M2M100, mBART-50) model.

    Args:
        subtitles: timed text to translate (Subtitles, or a Speech: its words grouped into cues).
        text: or a plain text (when no subtitles are linked); line breaks are kept.
        model: a translation model: a folder, a name under the model folders (audio kind), or a
            Hugging Face repo id such as Helsinki-NLP/opus-mt-en-de or facebook/nllb-200-distilled-600M.
        source: the language translated from; auto: the subtitles' language, else the model's.
            A Marian model fixes the pair; NLLB-style models need it (e.g. en or eng_Latn).
        target: the language to translate into; empty: a single-pair Marian model's own.
            Multi-target Marian and NLLB-style models need it (e.g. fr, fra_Latn).
        batch: cues or sentences per generate call.
        device: auto picks cuda, then mps, then cpu.
        dtype: auto is float16 on a GPU and float32 on the cpu.
    """
    if subtitles is not None and text.strip():
        raise ValueError_("link subtitles or type a text, not both")
    if subtitles is None and not text.strip():
        raise ValueError_("nothing to translate: link subtitles (or a Speech) or type a text")
    src = "" if source.strip().lower() in ("", "auto") else source.strip()
    if not src and subtitles is not None:
        src = subtitles.language
    tgt = target.strip()
    m = _hf.transformers_model(ctx.models, model, "Translate node")
    kind = _hf.config_of(m).get("model_type")
    if kind == "whisper":
        raise UnsupportedModel(f"{m.path}: a Whisper model; to translate speech into English use Transcribe with "
                               f"task translate, to translate text use a Marian or NLLB-style model")
    loads = ctx.models.cache.loads
    (tok, mt), dev, _ = _hf.load(ctx.models, m, "seq2seq", load_seq2seq, device, dtype)
    if ctx.models.cache.loads > loads:
        ctx.log(f"loaded {m.name} on {dev}")
    if kind == "marian" or type(tok).__name__.startswith("Marian"):
        plan = marian_plan(tok, m, src, tgt)
    elif hasattr(tok, "src_lang"):
        plan = multilingual_plan(tok, m, src, tgt)
    else:
        plan = Plan(target=tgt)
        ctx.log(f"{m.name} names no languages: its own pair is used (source and target are not checked)")

    if subtitles is not None:
        units = [" ".join(t.split()) for _, _, t in subtitles.cues]
    else:
        lines = units_of_text(text)
        units = [s for line in lines for s in line]
    todo = sorted({u for u in units if u.strip()}, key=lambda u: (len(u), u))  # similar lengths pad less
    batches = [todo[i:i + batch] for i in range(0, len(todo), batch)]
    done: dict[str, str] = {}
    stop = _hf.cancel_criteria(ctx)
    limit = int(getattr(mt.config, "max_position_embeddings", 0) or 512)
    for k, group in enumerate(batches):
        ctx.check_cancelled()
        with TOKENIZER_LOCK:
            if plan.src_lang is not None:
                tok.src_lang = plan.src_lang
            enc = tok([plan.prefix + u for u in group], return_tensors="pt", padding=True, truncation=True,
                      max_length=limit)
        kw: dict[str, Any] = {"stopping_criteria": stop,
                              "max_new_tokens": max(8, min(limit, 2 * enc["input_ids"].shape[1] + 16))}
        if plan.forced_bos is not None:
            kw["forced_bos_token_id"] = plan.forced_bos
        out = mt.generate(**{key: v.to(dev) for key, v in enc.items()}, **kw)
        ctx.check_cancelled()
        for u, t in zip(group, tok.batch_decode(out, skip_special_tokens=True)):
            done[u] = _hf.printable(t).strip()
        ctx.progress((k + 1) / len(batches), f"batch {k + 1}/{len(batches)}")

    lang = plan.target or ""
    if subtitles is not None:
        cues = []
        for (a, b, original), unit in zip(subtitles.cues, units):
            width = max((len(line) for line in original.split("\n")), default=42)
            moved = done.get(unit, "")
            cues.append((a, b, wrap(moved, max(width, 20)) if "\n" in original else moved))
        out_subs = Subtitles(tuple(cues), lang)
        return {"text": out_subs.text, "subtitles": out_subs}
    out_lines = [" ".join(done.get(s, "") for s in line) for line in units_of_text(text)]
    return {"text": "\n".join(out_lines), "subtitles": Subtitles((), lang)}


# the pack's timed-text API, used by other packs (voiceclone, compose) and scripts
__all__ = ["Subtitles", "SubtitlesT", "from_speech", "group_words", "wrap", "to_srt", "to_vtt", "parse_srt",
           "parse_vtt", "read_subtitles", "written_words", "format_time", "mono_16k", "windows", "decode_window",
           "word_phonemes", "base_language", "transcribe", "translate", "subtitles_file", "load_subtitles"]
