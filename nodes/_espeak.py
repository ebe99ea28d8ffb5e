"""A thread-safe ctypes wrapper around libespeak-ng from the ``espeakng-loader`` wheel.

    from nodes._espeak import synthesize
    pcm, rate, words, phonemes = synthesize("Bonjour, ça va très bien", "fr+f3", rate=170, pitch=50)

libespeak-ng keeps its state in process-global variables (one callback, one voice, one set of
parameters, and synthesis state that no API resets), so every call goes through one lock and
runs in a freshly loaded private copy of the library (see ``_Engine``): the same arguments give
bit-identical audio and timings whatever ran before. Synthesis is synchronous
(``AUDIO_OUTPUT_SYNCHRONOUS``): the library hands 16-bit mono PCM and its events to a callback
while ``espeak_Synth`` runs, so no audio device is involved.

Events become timings in seconds (``nodes._espeaktimes``).
"""
from __future__ import annotations

import contextlib
import ctypes as C
import functools
import os
import shutil
import sys
import tempfile
import threading
import weakref
from typing import Iterator, NamedTuple

import numpy as np

from ._espeaktimes import _EV_LIST_TERMINATED, _EV_PHONEME, _timings

__all__ = ["Synthesis", "synthesize", "list_voices", "list_variants", "resolve_voice", "sample_rate"]

# espeak_AUDIO_OUTPUT / options / event types / parameters (speak_lib.h)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_PHONEME_EVENTS, _PHONEME_IPA, _DONT_EXIT = 0x1, 0x2, 0x8000
_POS_CHARACTER, _CHARS_UTF8 = 1, 1
_RATE, _VOLUME, _PITCH, _RANGE, _PUNCTUATION, _CAPITALS, _WORDGAP = 1, 2, 3, 4, 5, 6, 7
_SEED = 1  # for the noise generator (breathy voices): any constant makes output repeatable

RATE_RANGE = (80, 450)   # words per minute
PITCH_RANGE = (0, 99)    # 50 is the voice's normal pitch


class _ID(C.Union):
    _fields_ = [("number", C.c_int), ("name", C.c_char_p), ("string", C.c_char * 8)]


class _Event(C.Structure):
    _fields_ = [("type", C.c_int), ("unique_identifier", C.c_uint), ("text_position", C.c_int),
                ("length", C.c_int), ("audio_position", C.c_int), ("sample", C.c_int),
                ("user_data", C.c_void_p), ("id", _ID)]


class _Voice(C.Structure):
    # ``languages`` is a list of (priority byte, name, NUL) ended by a 0 byte: read it by address
    _fields_ = [("name", C.c_char_p), ("languages", C.c_void_p), ("identifier", C.c_char_p),
                ("gender", C.c_ubyte), ("age", C.c_ubyte), ("variant", C.c_ubyte), ("xx1", C.c_ubyte),
                ("score", C.c_int), ("spare", C.c_void_p)]


_SYNTH_CB = C.CFUNCTYPE(C.c_int, C.POINTER(C.c_short), C.c_int, C.POINTER(_Event))


class Synthesis(NamedTuple):
    """What :func:`synthesize` returns (a tuple: ``pcm, rate, words, phonemes = ...``)."""

    pcm: np.ndarray                           # int16, shape (n,), mono
    sample_rate: int                          # Hz (22050 for every espeak-ng voice)
    words: list[tuple[float, float, str]]     # (start s, end s, word as written in the text)
    phonemes: list[tuple[float, float, str]]  # (start s, end s, IPA label without stress marks)


class _Engine:
    """The process's one way into espeak-ng. Use it only while holding ``lock``.

    libespeak-ng keeps state between syntheses in static variables that no API resets (the pitch
    "flutter" phase, the automatic gain, the echo buffer, the Klatt filters), so a second
    synthesis of the same text differs from the first, in samples and in event times. Each
    synthesis therefore loads a private copy of the library, uses it once and unloads it: every
    synthesis starts from the same freshly loaded state, which makes the output bit-identical
    (the library's noise generator, seeded from the clock at start-up, is seeded with a constant).
    Loading costs a few milliseconds. The copy also keeps this instance apart from any other
    user of the same library in the process.
    """

    def __init__(self) -> None:
        import espeakng_loader

        self.source = espeakng_loader.get_library_path()
        self.data_path = espeakng_loader.get_data_path()
        self.lock = threading.Lock()
        self._dir: str | None = None
        self._copy: str | None = None
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int, bytes]] = []
        self._error: BaseException | None = None
        self._callback = _SYNTH_CB(self._on_synth)   # must outlive every synthesis
        with self.lock:
            with self._loaded() as (lib, rate):
                self.rate = rate
                self.voices = self._list_voices(lib)
        self.languages = self._language_table()
        vdir = os.path.join(self.data_path, "voices", "!v")
        self.variants = sorted(os.listdir(vdir), key=str.lower) if os.path.isdir(vdir) else []

    # -- loading -----------------------------------------------------------------------------
    def _private_copy(self) -> str:
        """Path of this process's copy of the library (a new one if the last is still loaded)."""
        if self._copy is not None and os.path.exists(self._copy) and not _is_mapped(self._copy):
            return self._copy
        if self._dir is None or not os.path.isdir(self._dir):
            self._dir = tempfile.mkdtemp(prefix="nodegraph-espeak-")
            weakref.finalize(self, _remove_dir, self._dir, os.getpid())
        base, ext = os.path.splitext(os.path.basename(self.source))
        copy = os.path.join(self._dir, f"{base}-{len(os.listdir(self._dir))}{ext}")
        shutil.copyfile(self.source, copy)
        self._copy = copy
        return copy

    @contextlib.contextmanager
    def _loaded(self) -> Iterator[tuple[C.CDLL, int]]:
        """A freshly loaded, initialised library; terminated and unloaded afterwards."""
        try:
            lib = C.CDLL(self._private_copy(), mode=getattr(os, "RTLD_LOCAL", 0))
        except OSError:  # a temp folder mounted noexec: fall back to the wheel's own file
            lib = C.CDLL(self.source, mode=getattr(os, "RTLD_LOCAL", 0))
        try:
            _declare(lib)
            rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, self.data_path.encode(),
                                         _PHONEME_EVENTS | _PHONEME_IPA | _DONT_EXIT)
            if rate <= 0:
                raise RuntimeError(f"espeak-ng failed to start (data at {self.data_path}): error {rate}")
            lib.espeak_SetSynthCallback(self._callback)
            try:
                yield lib, int(rate)
            finally:
                lib.espeak_Terminate()
        finally:
            handle = lib._handle
            del lib
            _unload(handle)

    # -- voices ----------------------------------------------------------------------------
    @staticmethod
    def _list_voices(lib: C.CDLL) -> list[tuple[str, str, list[tuple[int, str]]]]:
        """(identifier, name, [(priority, language)]) of every language voice."""
        out = []
        arr = lib.espeak_ListVoices(None)
        i = 0
        while arr[i]:
            v = arr[i].contents
            langs, p = [], v.languages
            while p:
                prio = C.c_ubyte.from_address(p).value
                if prio == 0:
                    break
                s = C.string_at(p + 1)
                langs.append((prio, s.decode("utf-8", "replace")))
                p += 2 + len(s)
            out.append(((v.identifier or b"").decode("utf-8", "replace"),
                        (v.name or b"").decode("utf-8", "replace").strip(), langs))
            i += 1
        return out

    def _language_table(self) -> dict[str, tuple[int, str]]:
        """Lower-case language code, voice file name or voice name -> (priority, identifier)."""
        table: dict[str, tuple[int, str]] = {}

        def put(key: str, prio: int, ident: str) -> None:
            key = key.strip().lower().replace("_", "-")
            if key and (key not in table or prio < table[key][0]):
                table[key] = (prio, ident)

        for ident, name, langs in self.voices:
            for prio, lang in langs:
                put(lang, prio, ident)
            put(ident, 0, ident)
            put(ident.rsplit("/", 1)[-1], 1, ident)
            put(name, 1, ident)
        return table

    # -- synthesis -------------------------------------------------------------------------
    def _on_synth(self, wav, n, events) -> int:  # called by espeak_Synth, under self.lock
        try:
            if n > 0 and wav:
                self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            if events:
                i = 0
                while events[i].type != _EV_LIST_TERMINATED:
                    e = events[i]
                    name = bytes(e.id.string) if e.type == _EV_PHONEME else b""
                    self._events.append((e.type, e.sample, e.text_position, e.length, name))
                    i += 1
            return 0
        except BaseException as e:  # never let an exception cross the C boundary
            self._error = e
            return 1  # abort the synthesis

    def run(self, text: str, voice: str, rate: int, pitch: int) -> Synthesis:
        self._chunks, self._events, self._error = [], [], None
        try:
            with self._loaded() as (lib, sample_rate):
                if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                    raise ValueError(f"espeak-ng cannot load the voice {voice!r}")
                for param, value in ((_RATE, rate), (_PITCH, pitch), (_VOLUME, 100), (_RANGE, 50),
                                     (_PUNCTUATION, 0), (_CAPITALS, 0), (_WORDGAP, 0)):
                    lib.espeak_SetParameter(param, int(value), 0)
                lib.espeak_ng_SetRandSeed(_SEED)
                data = text.encode("utf-8") + b"\0"
                with _libc_rand_seeded():
                    err = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            chunks, events, error = self._chunks, self._events, self._error
        finally:
            self._chunks, self._events, self._error = [], [], None
        if error is not None:
            raise error
        if err != 0:
            raise RuntimeError(f"espeak-ng synthesis failed with error {err}")
        pcm = np.concatenate(chunks).astype(np.int16, copy=False) if chunks else np.zeros(0, np.int16)
        words, phonemes = _timings(text, events, len(pcm), sample_rate)
        return Synthesis(pcm, sample_rate, words, phonemes)


def _declare(lib: C.CDLL) -> None:
    lib.espeak_Initialize.argtypes = [C.c_int, C.c_int, C.c_char_p, C.c_int]
    lib.espeak_Initialize.restype = C.c_int
    lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CB]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [C.c_char_p]
    lib.espeak_SetVoiceByName.restype = C.c_int
    lib.espeak_SetParameter.argtypes = [C.c_int, C.c_int, C.c_int]
    lib.espeak_SetParameter.restype = C.c_int
    lib.espeak_ng_SetRandSeed.argtypes = [C.c_long]
    lib.espeak_ng_SetRandSeed.restype = None
    lib.espeak_ListVoices.argtypes = [C.c_void_p]
    lib.espeak_ListVoices.restype = C.POINTER(C.POINTER(_Voice))
    lib.espeak_Synth.argtypes = [C.c_void_p, C.c_size_t, C.c_uint, C.c_int, C.c_uint, C.c_uint,
                                 C.POINTER(C.c_uint), C.c_void_p]
    lib.espeak_Synth.restype = C.c_int
    lib.espeak_Terminate.argtypes = []
    lib.espeak_Terminate.restype = C.c_int


def _remove_dir(path: str, owner: int) -> None:
    if os.getpid() == owner:  # not from a forked child: the parent still uses it
        shutil.rmtree(path, ignore_errors=True)


def _unload(handle: int) -> None:
    import _ctypes

    if hasattr(_ctypes, "dlclose"):
        _ctypes.dlclose(handle)
    elif hasattr(_ctypes, "FreeLibrary"):  # Windows
        _ctypes.FreeLibrary(handle)


_rand_state = C.create_string_buffer(128)


@contextlib.contextmanager
def _libc_rand_seeded() -> Iterator[None]:
    """Give the C library's ``rand()`` a private, freshly seeded state for the duration.

    The speechPlayer voices ("klatt 6" variants such as caleb, Reed) draw their noise from
    ``rand()``; glibc's ``initstate``/``setstate`` swap in a state of our own and then put the
    process's back as it was, so nothing else in the process sees a change. Elsewhere: a no-op.
    """
    libc = _libc()
    if libc is None:
        yield
        return
    previous = libc.initstate(_SEED, _rand_state, len(_rand_state))
    try:
        yield
    finally:
        if previous:
            libc.setstate(previous)


@functools.lru_cache(maxsize=1)
def _libc() -> C.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = C.CDLL(None)
        libc.initstate.argtypes = [C.c_uint, C.c_char_p, C.c_size_t]
        libc.initstate.restype = C.c_void_p
        libc.setstate.argtypes = [C.c_void_p]
        libc.setstate.restype = C.c_void_p
        return libc
    except (OSError, AttributeError):
        return None


def _is_mapped(path: str) -> bool:
    """Is ``path`` still loaded in this process? (Linux; elsewhere assume it was unloaded.)"""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            return (path + "\n") in f.read()   # one search, not a Python loop (torch maps thousands of lines)
    except OSError:
        return False


_engine: _Engine | None = None
_start_lock = threading.Lock()


def _get() -> _Engine:
    global _engine
    if _engine is None:
        with _start_lock:
            if _engine is None:
                _engine = _Engine()
    return _engine


# -- public API --------------------------------------------------------------------------------
def sample_rate() -> int:
    """The rate of every espeak-ng voice, in Hz (22050)."""
    return _get().rate


def list_voices() -> list[tuple[str, str]]:
    """(language code, voice name) of every language espeak-ng speaks, sorted by code; the code
    is what ``resolve_voice`` and the Speak node's ``language`` take ("en", "fr", "pt-br")."""
    out = {}
    for ident, name, langs in _get().voices:
        code = min(langs)[1] if langs else ident.rsplit("/", 1)[-1].lower()
        out.setdefault(code, name)
    return sorted(out.items())


def list_variants() -> list[str]:
    """Names of the voice variants ("f1".."f5", "m1".."m8", "klatt", "whisper", ...)."""
    return list(_get().variants)


def resolve_voice(language: str, variant: str = "") -> str:
    """The espeak-ng voice name for a language and an optional variant, checked.

    ``language`` is a language code ("en", "en-us", "fr-fr", "es_MX"), a voice file name
    ("gmw/en-US") or a voice name ("French (France)"), any case; it may carry a variant itself
    ("en+f3"). Raises ValueError naming an unknown language or variant, with known ones listed.
    """
    eng = _get()
    lang = (language or "").strip()
    if "+" in lang:
        lang, _, own = lang.partition("+")
        lang = lang.strip()
        variant = variant.strip() or own.strip()
    variant = (variant or "").strip()
    if not lang:
        raise ValueError("no language given: use a language code such as 'en', 'fr' or 'es'")
    hit = eng.languages.get(lang.lower().replace("_", "-"))
    if hit is None:
        some = ", ".join(c for c, _ in list_voices() if c in _COMMON)
        raise ValueError(f"espeak-ng has no language {lang!r}; known languages include {some} "
                         f"({len(eng.voices)} voices in all)")
    voice = hit[1]
    if variant:
        match = next((v for v in eng.variants if v == variant), None) or \
            next((v for v in eng.variants if v.lower() == variant.lower()), None)
        if match is None:
            some = ", ".join(v for v in eng.variants if v in _COMMON_VARIANTS)
            raise ValueError(f"espeak-ng has no voice variant {variant!r}; known variants include "
                             f"{some} ({len(eng.variants)} in all)")
        voice += "+" + match
    return voice


def synthesize(text: str, voice: str, rate: int = 170, pitch: int = 50) -> Synthesis:
    """Speak ``text`` with an espeak-ng voice; returns ``(pcm, sample_rate, words, phonemes)``.

    ``voice`` is what :func:`resolve_voice` takes ("en", "fr+f3", "es-419+m3"); ``rate`` is in
    words per minute (80..450), ``pitch`` 0..99 (50 is the voice's normal pitch). ``pcm`` is int16
    mono; ``words`` and ``phonemes`` are (start s, end s, label) lists, ordered, inside the audio.
    Deterministic: the same arguments give bit-identical output. Safe to call from any thread.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = text.replace("\0", " ")
    if not text.strip():
        raise ValueError("text is empty: nothing to say")
    for what, value, (lo, hi) in (("rate", rate, RATE_RANGE), ("pitch", pitch, PITCH_RANGE)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
            raise ValueError(f"{what} must be a whole number in {lo}..{hi}, got {value!r}")
    name = resolve_voice(voice)
    eng = _get()
    with eng.lock:
        return eng.run(text, name, int(rate), int(pitch))


_COMMON = {"ar", "cmn", "de", "el", "en", "en-us", "es", "fr", "hi", "it", "ja", "ko", "nl", "pl",
           "pt", "pt-br", "ru", "sv", "tr", "uk", "vi"}
_COMMON_VARIANTS = {"f1", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8",
                    "klatt", "whisper", "croak"}
