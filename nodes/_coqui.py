"""coqui-tts for the voice cloning nodes: the install check, a compatibility layer for PyPI's
torchaudio and torchcodec on machines with the CPU torch, and weights-only loading of the user's
XTTS-v2 and OpenVoice folders through the node's ``ctx.models`` (``nodes._hf.load``).

**torchaudio / torchcodec.** coqui-tts (0.28) refuses to import unless both are installed, but PyPI
only has CUDA builds of them: with the CPU torch their libraries do not load (``libc10_cuda.so:
cannot open shared object file``), and ``import torchaudio`` raises ``OSError``. The ``voiceclone``
extra installs them anyway (they declare no torch requirement, so the CPU torch stays), and
:func:`guard_torchaudio` lets torchaudio import without its compiled libraries: it takes the path
torchaudio itself takes when a library file is absent (pure PyTorch: MelSpectrogram, resample and
the kaldi features all work, which is all coqui and transformers use). It is an import hook,
installed when this module is imported (the pack's registration), so every later ``import
torchaudio`` in the process is covered, transformers' included; it only steps in when loading a
library fails, so a torchaudio that works is left alone. torchcodec is never imported here (coqui
only checks that it is installed); ``torchaudio.load``, which would need it, reads with soundfile.

**Weights.** ``.pth`` files are pickles; they are read with ``torch.load(weights_only=True)`` and
nothing else, so a hostile file cannot run code. The XTTS-v2 release pickles its ``XttsConfig``
next to the weights; those settings classes (and no other) are allowed while reading it. coqui's
own reader would rewrite such a file in place; it is never handed the file.
"""
from __future__ import annotations

import dataclasses
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import pickle
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from nodegraph import ModelError, Models, ResolvedModel, UnsupportedModel, read_json_object

from . import _hf

INSTALL = "pip install -c requirements.lock -e '.[voiceclone]'"
# what the voiceclone extra installs: (distribution, import name)
PACKAGES = (("torch", "torch"), ("coqui-tts", "TTS"), ("torchaudio", "torchaudio"), ("torchcodec", "torchcodec"),
            ("six", "six"))
XTTS_FILES = ("config.json", "model.pth", "vocab.json")
OPENVOICE_FILES = ("checkpoint.pth", "config.json")

# XTTS and OpenVoice sample with torch's global random generator: one generation at a time
GENERATE = threading.Lock()


# -- torchaudio without its libraries -----------------------------------------------------------------

_UTILS = "torchaudio._extension.utils"
_FAILED: list[str] = []          # the libraries that did not load, with why (for diagnostics)


def _tolerant(load_lib: Any) -> Any:
    """torchaudio's ``_load_lib`` that answers "not there" (False) when a library fails to load,
    as torchaudio does for a library file that is absent, instead of raising."""
    if getattr(load_lib, "_nodegraph_tolerant", False):
        return load_lib

    def _load_lib(lib: str) -> bool:
        try:
            return load_lib(lib)
        except OSError as e:
            _FAILED.append(f"{lib}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
            return False

    _load_lib._nodegraph_tolerant = True  # type: ignore[attr-defined]
    return _load_lib


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner: Any):
        self.inner = inner

    def create_module(self, spec: Any) -> Any:
        return self.inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.inner.exec_module(module)
        module._load_lib = _tolerant(module._load_lib)

    def __getattr__(self, name: str) -> Any:       # get_source, get_filename, ... as the file loader
        return getattr(self.inner, name)


class _TorchaudioGuard(importlib.abc.MetaPathFinder):
    """Finds ``torchaudio._extension.utils`` as usual and makes its ``_load_lib`` tolerant."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != _UTILS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None and not isinstance(spec.loader, _PatchingLoader):
            spec.loader = _PatchingLoader(spec.loader)
        return spec


def guard_torchaudio() -> None:
    """Make ``import torchaudio`` work when its compiled libraries cannot load (see the module
    doc). Cheap (imports nothing) and idempotent."""
    if not any(isinstance(f, _TorchaudioGuard) for f in sys.meta_path):
        sys.meta_path.insert(0, _TorchaudioGuard())
    loaded = sys.modules.get(_UTILS)          # an earlier import that failed left this one behind
    if loaded is not None and hasattr(loaded, "_load_lib"):
        loaded._load_lib = _tolerant(loaded._load_lib)


guard_torchaudio()


def _read_with_soundfile(uri: Any, frame_offset: int = 0, num_frames: int = -1, normalize: bool = True,
                         channels_first: bool = True, *args: Any, **kwargs: Any) -> Any:
    """``torchaudio.load`` through soundfile (for when torchcodec cannot load)."""
    import soundfile as sf
    import torch

    data, rate = sf.read(uri, start=frame_offset, frames=num_frames, dtype="float32", always_2d=True)
    t = torch.from_numpy(data)
    return (t.T.contiguous() if channels_first else t), int(rate)


def _torchcodec_loads() -> bool:
    try:
        importlib.import_module("torchcodec.decoders")
        return True
    except (ImportError, OSError, RuntimeError):
        return False


# -- install check --------------------------------------------------------------------------------

def missing() -> list[str]:
    """The distributions of the voiceclone extra that are not installed."""
    out = []
    for dist, module in PACKAGES:
        try:
            importlib.metadata.distribution(dist)
        except importlib.metadata.PackageNotFoundError:
            out.append(dist)
            continue
        if importlib.util.find_spec(module) is None:
            out.append(dist)
    return out


def require(what: str = "voice cloning") -> None:
    """A clear error naming the install command when the voiceclone extra is missing."""
    gone = missing()
    if gone:
        raise ModelError(f"{what} needs {', '.join(gone)}, which {'is' if len(gone) == 1 else 'are'} not "
                         f"installed: {INSTALL}")


_imported = threading.Lock()


def import_tts() -> Any:
    """``import TTS`` (coqui-tts) with the compatibility layer in place; errors name the install."""
    require()
    with _imported:
        guard_torchaudio()
        try:
            import torchaudio
        except (ImportError, OSError) as e:
            raise ModelError(f"torchaudio cannot be imported ({type(e).__name__}: {str(e).splitlines()[0]}); "
                             f"reinstall it: {INSTALL}") from None
        if not getattr(torchaudio.load, "_nodegraph_soundfile", False) and not _torchcodec_loads():
            _read_with_soundfile._nodegraph_soundfile = True  # type: ignore[attr-defined]
            torchaudio.load = _read_with_soundfile
        try:
            import TTS
            importlib.import_module("TTS.tts.layers.xtts.tokenizer")   # pulls six, num2words, ...
        except ImportError as e:
            raise ModelError(f"coqui-tts cannot be imported ({e}); {INSTALL}") from None
    return TTS


# -- reading .pth files ----------------------------------------------------------------------------

@contextmanager
def _xtts_settings_allowed() -> Iterator[None]:
    """While reading an XTTS release file: its pickled ``XttsConfig`` may be rebuilt (those settings
    classes only, under the module path the release used for two of them)."""
    import torch
    from TTS.config.shared_configs import BaseDatasetConfig
    from TTS.tts.configs.xtts_config import XttsArgs, XttsAudioConfig, XttsConfig

    moved = (XttsAudioConfig, XttsArgs)
    home = {c: c.__module__ for c in moved}
    try:
        for c in moved:
            c.__module__ = "TTS.tts.models.xtts"
        with torch.serialization.safe_globals([XttsAudioConfig, XttsArgs, BaseDatasetConfig, XttsConfig]):
            yield
    finally:
        for c, m in home.items():
            c.__module__ = m


def read_weights(path: Path, xtts_settings: bool = False) -> dict:
    """The ``model`` state dict of a ``.pth`` checkpoint, read weights-only (never running code)."""
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if not xtts_settings:
            raise UnsupportedModel(_unsafe(path, e)) from None
        try:
            with _xtts_settings_allowed():
                ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e2:
            raise UnsupportedModel(_unsafe(path, e2)) from None
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UnsupportedModel(f"{path}: holds no model weights (expected a dict of tensors under 'model')")
    return state


def _unsafe(path: Path, e: Exception) -> str:
    first = str(e).strip().splitlines()
    why = next((ln.strip() for ln in first if "GLOBAL" in ln or "Unsupported" in ln), first[0] if first else "")
    return (f"{path}: refused: it holds Python objects other than weights, and .pth files are only read "
            f"weights-only (a pickle can run code when loaded) ({why[:200]})")


# -- XTTS-v2 -------------------------------------------------------------------------------------------

@dataclass
class XttsEngine:
    """A loaded XTTS-v2 model and what synthesis needs to know about it."""

    model: Any
    languages: tuple[str, ...]
    rate: int                   # output sample rate (24000)
    cond_rate: int              # rate of the conditioning audio (22050)
    tokens_per_second: float    # GPT audio tokens per second of output
    max_tokens: int             # most audio tokens one sentence can have
    char_limits: dict
    settings: dict              # sampling and conditioning settings from config.json


def _config(path: Path) -> dict:
    return read_json_object(path / "config.json")


def model_family(path: Path) -> str:
    """``xtts``, ``openvoice`` or ``other`` from a folder's config.json."""
    cfg = _config(path) if (path / "config.json").is_file() else {}
    if str(cfg.get("model", "")).lower() == "xtts":
        return "xtts"
    if isinstance(cfg.get("data"), dict) and "sampling_rate" in cfg["data"] and "filter_length" in cfg["data"]:
        return "openvoice"
    return "other"


def check_xtts_folder(m: ResolvedModel) -> Path:
    path = m.path
    if path is None or not path.is_dir():
        raise UnsupportedModel(f"{path or m.name}: XTTS-v2 is a folder (config.json, model.pth, vocab.json), "
                               f"such as a download of coqui/XTTS-v2")
    family = model_family(path) if (path / "config.json").is_file() else "other"
    if family == "openvoice":
        raise UnsupportedModel(f"{path}: an OpenVoice converter, not XTTS-v2: use it with Convert voice (OpenVoice)")
    lacking = [f for f in XTTS_FILES if not (path / f).is_file()]
    if lacking:
        raise UnsupportedModel(f"{path}: not an XTTS-v2 folder: {', '.join(lacking)} missing (it needs "
                               f"{', '.join(XTTS_FILES)}, and optionally speakers_xtts.pth, as in coqui/XTTS-v2)")
    if family != "xtts":
        raise UnsupportedModel(f"{path / 'config.json'}: not an XTTS config (its \"model\" is "
                               f"{_config(path).get('model')!r}, not \"xtts\")")
    return path


def _load_xtts(path: str, device: str, dtype: Any) -> XttsEngine:
    import_tts()
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import Xtts

    folder = Path(path)
    cfg = XttsConfig()
    cfg.load_json(str(folder / "config.json"))
    state = read_weights(folder / "model.pth", xtts_settings=True)
    model = Xtts(cfg)
    # coqui's reader (which would re-save a release file in place) is bypassed: it gets the weights read here
    model._load_checkpoint = lambda _path: state
    # the voices come from recordings: the release's built-in speakers (speakers_xtts.pth) are not read
    model.load_checkpoint(cfg, checkpoint_dir=str(folder), vocab_path=str(folder / "vocab.json"), eval=True,
                          speaker_file_path=str(folder / "speakers_xtts.pth.unused"))
    model = model.to(device)
    args = cfg.model_args
    settings = {k: cfg.get(k, d) for k, d in (("length_penalty", 1.0), ("repetition_penalty", 2.0), ("top_k", 50),
                                              ("top_p", 0.85), ("gpt_cond_len", 30), ("gpt_cond_chunk_len", 4),
                                              ("max_ref_len", 30), ("sound_norm_refs", False))}
    cond_rate = int(args.input_sample_rate)
    return XttsEngine(model=model, languages=tuple(str(x) for x in cfg.languages), rate=int(args.output_sample_rate),
                      cond_rate=cond_rate, tokens_per_second=cond_rate / float(args.gpt_code_stride_len),
                      max_tokens=int(model.gpt.max_gen_mel_tokens), char_limits=dict(model.tokenizer.char_limits),
                      settings=settings)


def load_xtts(models: Models, m: ResolvedModel, device: str = "auto") -> tuple[XttsEngine, bool]:
    """The XTTS-v2 model of ``m`` (loaded once per process) and whether this call loaded it."""
    require("Speak (cloned voice)")
    check_xtts_folder(m)
    loads = models.cache.loads
    engine, _, _ = _hf.load(models, m, "xtts", _load_xtts, device, "float32")
    return engine, models.cache.loads > loads


# -- OpenVoice -----------------------------------------------------------------------------------------

@dataclass
class OpenVoiceEngine:
    model: Any
    rate: int
    fft: int
    hop: int
    win: int


def check_openvoice_folder(m: ResolvedModel) -> Path:
    path = m.path
    if path is None or not path.is_dir():
        raise UnsupportedModel(f"{path or m.name}: OpenVoice is a converter folder (checkpoint.pth + config.json), "
                               f"such as converter/ of myshell-ai/OpenVoiceV2")
    lacking = [f for f in OPENVOICE_FILES if not (path / f).is_file()]
    if lacking:
        hint = " (an XTTS-v2 folder: use it with Speak (cloned voice))" if model_family(path) == "xtts" else ""
        raise UnsupportedModel(f"{path}: not an OpenVoice converter folder{hint}: {', '.join(lacking)} missing "
                               f"(it needs {', '.join(OPENVOICE_FILES)}, as converter/ of myshell-ai/OpenVoiceV2)")
    if model_family(path) != "openvoice":
        raise UnsupportedModel(f"{path / 'config.json'}: not an OpenVoice converter config (no \"data\" section "
                               f"with sampling_rate and filter_length)")
    return path


def _load_openvoice(path: str, device: str, dtype: Any) -> OpenVoiceEngine:
    import_tts()
    from TTS.vc.configs.openvoice_config import OpenVoiceArgs, OpenVoiceAudioConfig, OpenVoiceConfig
    from TTS.vc.models.openvoice import OpenVoice

    folder = Path(path)
    cfg = _config(folder)
    data, arch = cfg["data"], cfg.get("model") or {}
    known = {f.name for f in dataclasses.fields(OpenVoiceArgs)}
    args = OpenVoiceArgs(**{k: v for k, v in arch.items() if k in known})
    rate = int(data["sampling_rate"])
    fft, hop, win = int(data["filter_length"]), int(data["hop_length"]), int(data.get("win_length", data["filter_length"]))
    audio = OpenVoiceAudioConfig(input_sample_rate=rate, output_sample_rate=rate, fft_size=fft, hop_length=hop,
                                 win_length=win)
    model = OpenVoice(OpenVoiceConfig(model_args=args, audio=audio))
    model.load_state_dict(read_weights(folder / "checkpoint.pth"), strict=True)
    model = model.eval().to(device)
    return OpenVoiceEngine(model=model, rate=rate, fft=fft, hop=hop, win=win)


def load_openvoice(models: Models, m: ResolvedModel, device: str = "auto") -> tuple[OpenVoiceEngine, bool]:
    """The OpenVoice converter of ``m`` (loaded once per process) and whether this call loaded it."""
    require("Convert voice (OpenVoice)")
    check_openvoice_folder(m)
    loads = models.cache.loads
    engine, _, _ = _hf.load(models, m, "openvoice", _load_openvoice, device, "float32")
    return engine, models.cache.loads > loads


if __name__ == "__main__":     # python -m nodes._coqui: is voice cloning usable here?
    gone = missing()
    if gone:
        print(f"missing: {', '.join(gone)}: {INSTALL}")
        raise SystemExit(1)
    import_tts()
    import torchaudio

    if torchaudio._extension._IS_TORCHAUDIO_EXT_AVAILABLE:
        libs = "with its compiled libraries"
    else:
        libs = "pure PyTorch, its compiled libraries " + ("failed to load: " + "; ".join(_FAILED) if _FAILED else "absent")
    reader = "soundfile" if getattr(torchaudio.load, "_nodegraph_soundfile", False) else "torchcodec"
    print(f"voice cloning is usable: coqui-tts {importlib.metadata.version('coqui-tts')}, torchaudio "
          f"{torchaudio.__version__} ({libs}), audio files read with {reader}")
