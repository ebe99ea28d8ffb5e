"""Tiny random-weight speech models (Whisper, Marian, NLLB), built at test time.

Nothing is downloaded and nothing is committed: each builder makes its files from a fixed torch
seed (the caller's RNG state is left alone) with the installed transformers, following
research/feas-ml.md section 4. ``build_all`` writes about 3 MB in well under a second after the
imports. Random weights give garbage text: tests check structure (timings, counts, languages),
never words.

What is built (see :func:`build_all`):

* a multilingual Whisper folder (2+2 layers, d_model 32, 80 mel bins) with a byte-level BPE
  tokenizer, every Whisper language and task token, the 1501 timestamp tokens, and
  ``alignment_heads`` so word timestamps (cross-attention DTW) work;
* a Marian en->de folder (two tiny SentencePiece models trained on a few sentences);
* a multi-target Marian en->{fr,es} folder whose vocabulary holds ``>>fr<<`` / ``>>es<<``;
* an NLLB-style folder (M2M100 architecture, NllbTokenizer with five language codes) that needs
  ``forced_bos_token_id`` for its target language.

Load calls that work with these files (transformers 5.23)::

    AutoProcessor.from_pretrained(w); AutoModelForSpeechSeq2Seq.from_pretrained(w)
    AutoTokenizer.from_pretrained(m); AutoModelForSeq2SeqLM.from_pretrained(m)
"""
from __future__ import annotations

import contextlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

from tinymodels import bytes_to_unicode, seeded

SEED = 4321

_EN = ["the cat sits on the mat", "a dog runs in the park", "hello world", "good morning to you",
       "where is the station", "thank you very much", "the weather is nice today", "see you tomorrow"]
_DE = ["die katze sitzt auf der matte", "ein hund rennt im park", "hallo welt", "guten morgen",
       "wo ist der bahnhof", "vielen dank", "das wetter ist heute schön", "bis morgen"]
NLLB_LANGUAGES = ("eng_Latn", "fra_Latn", "deu_Latn", "spa_Latn", "jpn_Jpan")


def _seeded(offset: int) -> contextlib.AbstractContextManager:
    return seeded(SEED + offset)


# -- Whisper ---------------------------------------------------------------------------------------

def build_whisper(folder: Path) -> Path:
    """A multilingual tiny Whisper (processor + model + generation config) in ``folder``."""
    from transformers import (AddedToken, GenerationConfig, WhisperConfig, WhisperFeatureExtractor,
                              WhisperForConditionalGeneration, WhisperProcessor, WhisperTokenizer)
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    chars = list(bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars)}
    # merges are tuples in transformers 5 (trap T6); a few make common words one token
    merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("Ġ", "c"), ("a", "t"), ("Ġc", "at")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    eot = "<|endoftext|>"
    vocab[eot] = len(vocab)
    tok = WhisperTokenizer(vocab=vocab, merges=merges, unk_token=eot, bos_token=eot, eos_token=eot,
                           pad_token=eot)  # a pad token lets the pipeline batch (trap T6)
    specials = (["<|startoftranscript|>"] + [f"<|{code}|>" for code in LANGUAGES]
                + ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>",
                   "<|notimestamps|>"])
    tok.add_special_tokens({"additional_special_tokens": [AddedToken(s, special=True, normalized=False)
                                                          for s in specials]})
    tok.add_tokens([AddedToken("<|%.2f|>" % (i * 0.02), special=False, normalized=False) for i in range(1501)])

    def tid(s: str) -> int:
        return tok.convert_tokens_to_ids(s)

    # random weights emit any token: keep them to printable ASCII, merges, timestamps and the end, so
    # the text is garbage made of words (real Whisper suppresses the task and prompt tokens too)
    table = bytes_to_unicode()
    odd_bytes = [tid(table[b]) for b in range(256) if not 0x20 <= b < 0x7f]
    specials_ids = [tid(s) for s in specials]
    cfg = WhisperConfig(vocab_size=len(tok), num_mel_bins=80, d_model=32, encoder_layers=2, decoder_layers=2,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                        decoder_ffn_dim=64, max_source_positions=1500, max_target_positions=64,
                        pad_token_id=tid(eot), bos_token_id=tid(eot), eos_token_id=tid(eot),
                        decoder_start_token_id=tid("<|startoftranscript|>"))
    with _seeded(1):
        model = WhisperForConditionalGeneration(cfg)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=tid("<|startoftranscript|>"), eos_token_id=tid(eot), pad_token_id=tid(eot),
        bos_token_id=tid(eot), is_multilingual=True, no_timestamps_token_id=tid("<|notimestamps|>"),
        lang_to_id={f"<|{code}|>": tid(f"<|{code}|>") for code in LANGUAGES},
        task_to_id={"transcribe": tid("<|transcribe|>"), "translate": tid("<|translate|>")},
        suppress_tokens=sorted(odd_bytes + specials_ids), begin_suppress_tokens=[tid(eot)], max_initial_timestamp_index=50,
        alignment_heads=[[1, 0], [1, 1]], max_length=64)
    folder.mkdir(parents=True, exist_ok=True)
    WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tok).save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


# -- Marian ------------------------------------------------------------------------------------------

def _spm(corpus: list[str], prefix: Path) -> Path:
    import sentencepiece as spm

    text = prefix.with_suffix(".txt")
    text.write_text("\n".join(corpus * 4) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(input=str(text), model_prefix=str(prefix), vocab_size=40, hard_vocab_limit=False,
                                   model_type="unigram", character_coverage=1.0, bos_id=-1, eos_id=-1, unk_id=0,
                                   minloglevel=2)
    text.unlink()
    return prefix.with_suffix(".model")


def build_marian(folder: Path, source: str = "en", target: str = "de", targets: tuple[str, ...] = ()) -> Path:
    """A tiny MarianMT ``source`` -> ``target`` folder; ``targets`` makes it multi-target (the
    vocabulary then holds ``>>xx<<`` tokens and the input must start with one)."""
    import sentencepiece as spm
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    work = folder / "_spm"
    work.mkdir(exist_ok=True)
    src = _spm(_EN, work / "source")
    tgt = _spm(_DE, work / "target")
    vocab = {"</s>": 0, "<unk>": 1, "<pad>": 2}
    for code in targets:
        vocab[f">>{code}<<"] = len(vocab)
    for model_file in (src, tgt):
        sp = spm.SentencePieceProcessor(model_file=str(model_file))
        for i in range(sp.get_piece_size()):
            vocab.setdefault(sp.id_to_piece(i), len(vocab))
    (work / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    with warnings.catch_warnings():  # "Recommended: pip install sacremoses" (optional punctuation cleanup)
        warnings.simplefilter("ignore")
        tok = MarianTokenizer(source_spm=str(src), target_spm=str(tgt), vocab=str(work / "vocab.json"),
                              source_lang=source, target_lang=target if not targets else None)
    cfg = MarianConfig(vocab_size=len(tok), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                       decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
                       pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                       decoder_start_token_id=tok.pad_token_id)
    with _seeded(2):
        model = MarianMTModel(cfg)
    model.generation_config = GenerationConfig(decoder_start_token_id=tok.pad_token_id, pad_token_id=tok.pad_token_id,
                                               eos_token_id=tok.eos_token_id, bad_words_ids=[[tok.pad_token_id]],
                                               max_length=64, num_beams=1)
    tok.save_pretrained(folder)
    model.save_pretrained(folder)
    for f in work.iterdir():
        f.unlink()
    work.rmdir()
    return folder


# -- NLLB-style (M2M100 architecture) ----------------------------------------------------------------

def build_nllb(folder: Path) -> Path:
    """A tiny NLLB-style model: the target language is chosen with ``forced_bos_token_id``."""
    from transformers import GenerationConfig, M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for word in " ".join(_EN + _DE).split():
        vocab.setdefault("▁" + word, len(vocab))
    for ch in sorted(set("".join(_EN + _DE).replace(" ", ""))):
        vocab.setdefault(ch, len(vocab))
    tok = NllbTokenizer(vocab=vocab, merges=[], additional_special_tokens=list(NLLB_LANGUAGES),
                        src_lang="eng_Latn")
    cfg = M2M100Config(vocab_size=len(tok), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                       decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
                       pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id,
                       decoder_start_token_id=tok.eos_token_id, scale_embedding=True)
    with _seeded(3):
        model = M2M100ForConditionalGeneration(cfg)
    model.generation_config = GenerationConfig(decoder_start_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                                               eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id,
                                               max_length=64, num_beams=1)
    folder.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


@dataclass(frozen=True)
class TinySpeech:
    whisper: Path
    marian: Path          # en -> de
    marian_multi: Path    # en -> fr, es (>>xx<< prefix tokens)
    nllb: Path            # eng_Latn, fra_Latn, deu_Latn, spa_Latn, jpn_Jpan


def build_all(root: Path) -> TinySpeech:
    root.mkdir(parents=True, exist_ok=True)
    return TinySpeech(whisper=build_whisper(root / "tiny-whisper"),
                      marian=build_marian(root / "opus-mt-tiny-en-de"),
                      marian_multi=build_marian(root / "opus-mt-tiny-en-ROMANCE", targets=("fr", "es")),
                      nllb=build_nllb(root / "tiny-nllb"))
