"""Translation models for the speech pack's Translate node (``nodes/speech.py``): Marian (opus-mt)
and NLLB-style (NLLB, M2M100, mBART-50) models, how to ask one for a language pair, and text cut
into the units translated.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from nodegraph import ResolvedModel, UnsupportedModel, ValueError_

from ._subtitles import base_language

_LANG_TOKEN = re.compile(r"^(?:[a-z]{2,3}_[A-Z][a-z]{3}|__[a-z]{2,3}__|[a-z]{2}_[A-Z]{2})$")
_OPUS_NAME = re.compile(r"opus-mt-(?:tc-(?:big|base)-)?([A-Za-z]+(?:_[A-Za-z]+)?)-([A-Za-z]+(?:_[A-Za-z]+)?)$")


# -- translation -------------------------------------------------------------------------------------------

TOKENIZER_LOCK = threading.Lock()   # a multilingual tokenizer's source language is state


def load_seq2seq(path: str, device: str, dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForSeq2SeqLM.from_pretrained(path, dtype=dtype, local_files_only=True)
    return tokenizer, model.to(device).eval()


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and base_language(a) == base_language(b)


def _plain(code: str | None) -> bool:
    """A language we can name ("en", "deu", "pt_BR"), not a group (ROMANCE, mul, gem, zle ...)."""
    return bool(code) and bool(re.match(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z]{2,4})?$", code or "")) \
        and len(base_language(code or "")) == 2


@dataclass
class Plan:
    """How to ask a model for one language pair."""

    prefix: str = ""                  # Marian multi-target: ">>fr<< "
    src_lang: str | None = None       # multilingual tokenizers: the source language as they spell it
    forced_bos: int | None = None     # multilingual models: the target language's token
    target: str = ""                  # the output's language code


def marian_plan(tok: Any, m: ResolvedModel, source: str, target: str) -> Plan:
    src, tgt = getattr(tok, "source_lang", None), getattr(tok, "target_lang", None)
    named = _OPUS_NAME.search(m.repo_id or m.name or "") or _OPUS_NAME.search(FsPath(str(m.path)).name)
    if named:
        src = src or named.group(1)
        tgt = tgt or named.group(2)
    choices = [c[2:-2] for c in getattr(tok, "supported_language_codes", []) or []]
    pair = f"{src or '?'} -> {'/'.join(choices) if choices else (tgt or '?')}"
    if source and _plain(src) and not _same(source, src):
        raise ValueError_(f"the model {m.name} translates {pair}, not from {source!r}: use a model for that "
                          f"pair (e.g. Helsinki-NLP/opus-mt-{base_language(source)}-{base_language(target or tgt or 'en')})"
                          f" or an NLLB-style model")
    if choices:
        if not target:
            raise ValueError_(f"the model {m.name} translates into several languages ({', '.join(choices)}): "
                              f"set target")
        hit = next((c for c in choices if c == target), None) or next((c for c in choices if _same(c, target)), None)
        if hit is None:
            raise ValueError_(f"the model {m.name} translates {pair}; it has no target language {target!r}")
        return Plan(prefix=f">>{hit}<< ", target=target)
    if target and _plain(tgt) and not _same(target, tgt):
        raise ValueError_(f"the model {m.name} translates {pair}, not into {target!r}: use a model for that pair "
                          f"(e.g. Helsinki-NLP/opus-mt-{base_language(source or src or 'en')}-{base_language(target)})"
                          f" or an NLLB-style model")
    return Plan(target=target or (tgt if _plain(tgt) else "") or "")


def _language_tokens(tok: Any) -> list[str]:
    found: set[str] = set()
    for attr in ("additional_special_tokens", "extra_special_tokens", "all_special_tokens"):
        val = getattr(tok, attr, None)
        if isinstance(val, dict):
            val = list(val.values())
        if isinstance(val, (list, tuple)):
            found.update(v for v in val if isinstance(v, str))
    for attr in ("lang_code_to_token",):
        val = getattr(tok, attr, None)
        if isinstance(val, dict):
            found.update(val.values())
    return sorted(t for t in found if _LANG_TOKEN.match(t))


def multilingual_plan(tok: Any, m: ResolvedModel, source: str, target: str) -> Plan:
    codes = _language_tokens(tok)
    if not codes:
        raise UnsupportedModel(f"{m.path}: the tokenizer lists no language codes, so the target language cannot "
                               f"be chosen")

    def pick(code: str, what: str) -> str:
        hit = next((c for c in codes if c == code or c == f"__{code}__"), None) or \
            next((c for c in codes if _same(c, code)), None)
        if hit is None:
            some = ", ".join(codes[:12]) + (", ..." if len(codes) > 12 else "")
            raise ValueError_(f"the model {m.name} has no {what} language {code!r}; it knows {len(codes)} "
                              f"languages: {some}")
        return hit

    if not target:
        raise ValueError_(f"the model {m.name} translates between {len(codes)} languages: set target "
                          f"(e.g. {', '.join(codes[:3])})")
    if not source:
        raise ValueError_(f"the model {m.name} needs the source language: set source (e.g. en or {codes[0]}), "
                          f"or link subtitles whose language is known")
    src_tok, tgt_tok = pick(source, "source"), pick(target, "target")
    m2m = src_tok.startswith("__")
    return Plan(src_lang=src_tok.strip("_") if m2m else src_tok, target=target,
                 forced_bos=int(tok.convert_tokens_to_ids(tgt_tok)))


def units_of_text(text: str) -> list[list[str]]:
    """Each line of a text as its sentences (long lines translate better a sentence at a time)."""
    return [[s for s in re.split(r"(?<=[.!?。！？])\s+", line.strip()) if s] for line in text.split("\n")]
