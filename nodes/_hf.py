"""Loading transformers models (MusicGen, Whisper, Marian ...) for the audio AI nodes: resolved and
loaded through the node's ``ctx.models`` (once per process, keyed by (digest, tag, device,
dtype)), and progress + cancellation for ``generate`` through a streamer.

torch and transformers are imported inside the functions: the packs register without them.
"""
from __future__ import annotations

import gc
import importlib.util
import json
import unicodedata
import warnings
from pathlib import Path
from typing import Any, Callable

from nodegraph import Context, ModelError, Models, ResolvedModel, UnsupportedModel

INSTALL = "pip install -c requirements.lock -e '.[ai]'"


def require(*modules: str, what: str = "this node") -> None:
    """A clear error naming what to install when ``modules`` are missing."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelError(f"{what} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not "
                         f"installed: {INSTALL}")


def quiet() -> None:
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def load(models: Models, m: ResolvedModel, tag: str, loader: Callable[[str, str, Any], Any], device: str = "auto",
         dtype: str = "auto") -> tuple[Any, str, str]:
    """``(obj, device, dtype)``: ``loader(path, device, torch_dtype)`` runs once per process per
    (weights digest, tag, device, dtype); a failed load leaves nothing behind and names the folder."""
    require("torch", "transformers", what=f"the {tag} model")
    dev = models.device(device)
    dt = models.dtype(dev, dtype)
    if m.path is None:
        raise ModelError(f"model {m.name!r} has no local files")

    def run() -> Any:
        quiet()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return loader(str(m.path), dev, models.torch_dtype(dt))
        except ModelError:
            raise
        except Exception as e:
            gc.collect()
            raise UnsupportedModel(f"{m.path}: could not load it as a {tag} model ({type(e).__name__}: "
                                   f"{str(e).splitlines()[0] if str(e) else ''})") from None

    obj = models.load((m.digest(), tag, dev, dt), run, size=m.size)
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


# -- helpers of the speech nodes (Whisper, translation) ---------------------------------------------------

def config_of(m: ResolvedModel) -> dict:
    """The model folder's config.json ({} when it has none or it cannot be read)."""
    try:
        return json.loads((Path(m.path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return {}


def transformers_model(models: Models, ref: str, what: str) -> ResolvedModel:
    """An ``audio`` model reference resolved to a local transformers folder (``what`` needs it)."""
    m = models.local(ref, "audio")
    if m.format != "transformers":
        raise UnsupportedModel(f"{m.path}: not a transformers model folder (config.json + weights), which the "
                               f"{what} needs")
    return m


def cancel_criteria(ctx: Context) -> Any:
    """Stopping criteria that end ``generate`` as soon as the run is cancelled."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Cancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch

            return torch.full((input_ids.shape[0],), ctx.cancelled, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_Cancelled()])


def printable(s: str) -> str:
    """Text without control characters and broken ones (U+FFFD); tabs become spaces."""
    return "".join(" " if ch == "\t" else ch for ch in s
                   if ch == "\t" or (unicodedata.category(ch) != "Cc" and ch != "\ufffd"))
