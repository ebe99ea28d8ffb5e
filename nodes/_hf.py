"""Loading transformers models (MusicGen, Whisper, Marian ...) for the audio AI nodes: resolved by the
model manager, loaded once per process into the shared model cache keyed by (digest, device,
dtype), and progress + cancellation for ``generate`` through a streamer.

torch and transformers are imported inside the functions: the packs register without them.
"""
from __future__ import annotations

import gc
import importlib.util
import warnings
from pathlib import Path
from typing import Any, Callable

from nodegraph import Context
from nodegraph.models import (ModelError, ResolvedModel, UnsupportedModel, choose_device, download, dtype_for,
                              resolve, shared_cache)

INSTALL = "pip install -c requirements.lock -e '.[ai]'"


def require(*modules: str, what: str = "this node") -> None:
    """A clear error naming what to install when ``modules`` are missing."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelError(f"{what} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not "
                         f"installed: {INSTALL}")


def resolve_local(ref: str, kind: str, base_dir: Path) -> ResolvedModel:
    """A model reference resolved to local files (downloaded first when it names the hub and the hub may be used)."""
    m = resolve(ref, kind, base_dir)
    if m.format == "hub":
        m = download(m)
    return m


def quiet() -> None:
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def load(m: ResolvedModel, tag: str, loader: Callable[[str, str, Any], Any], device: str = "auto",
         dtype: str = "auto") -> tuple[Any, str, str]:
    """``(obj, device, dtype)``: ``loader(path, device, torch_dtype)`` runs once per process per
    (weights digest, tag, device, dtype); a failed load leaves nothing behind and names the folder."""
    require("torch", "transformers", what=f"the {tag} model")
    dev = choose_device(device)
    dt = dtype_for(dev, None if dtype == "auto" else dtype)
    if m.path is None:
        raise ModelError(f"model {m.name!r} has no local files")

    def run() -> Any:
        from nodegraph.models import torch_dtype

        quiet()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return loader(str(m.path), dev, torch_dtype(dt))
        except ModelError:
            raise
        except Exception as e:
            gc.collect()
            raise UnsupportedModel(f"{m.path}: could not load it as a {tag} model ({type(e).__name__}: "
                                   f"{str(e).splitlines()[0] if str(e) else ''})") from None

    obj = shared_cache().get_or_load((m.digest(), tag, dev, dt), run, size=m.size)
    return obj, dev, dt


class Progress:
    """A transformers streamer that reports generation progress and stops at cancellation:
    ``put`` is called once per generated step (the prompt first, which is skipped)."""

    def __init__(self, ctx: Context | None, total: int, message: str = "step", start: float = 0.0,
                 span: float = 1.0):
        self.ctx, self.total, self.message = ctx, max(1, int(total)), message
        self.start, self.span = start, span
        self.steps = -1

    def put(self, value: Any) -> None:
        self.steps += 1
        if self.ctx is not None and self.steps > 0:
            f = min(1.0, self.steps / self.total)
            self.ctx.progress(self.start + self.span * f, f"{self.message} {min(self.steps, self.total)}/{self.total}")
        elif self.ctx is not None:
            self.ctx.check_cancelled()

    def end(self) -> None:
        pass
