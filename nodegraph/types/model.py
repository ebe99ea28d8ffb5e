"""Model handles and image batches: the values AI nodes pass along wires.

A :class:`Model` is a small description of where weights are and how to run them (device, dtype,
LoRAs, an IP-Adapter), never the loaded weights: those live in the process-wide model cache
(``nodegraph.models.shared_cache``) and are never written to the disk cache. A handle's
fingerprint is made of the weights' digests and the settings, not of paths, so moving a model
folder changes no cache key, and changing a file's content changes every key downstream.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from typing import Any

import numpy as np

from .. import hashing
from .base import Preview, ValueError_, ValueType, register_type
from .media import Image, thumbnail
from .records import RECORD_CLASSES, Record, RecordType, _tuple, register_record


@dataclass(frozen=True, eq=False)
class LoraRef(Record):
    """A LoRA file applied to a model with a strength."""

    type_id: ClassVar[str] = "lora_ref"
    name: str
    path: str
    sha256: str
    scale: float = 1.0


@dataclass(frozen=True, eq=False)
class AdapterRef(Record):
    """IP-Adapter weights (``plus``: the Resampler variant) and the image encoder they need."""

    type_id: ClassVar[str] = "adapter_ref"
    name: str
    path: str
    sha256: str
    encoder: str
    encoder_sha256: str
    plus: bool = False
    size: int = 0


@dataclass(frozen=True, eq=False)
class Model(Record):
    """A model handle. ``path`` is the local file or folder ('' for a Hugging Face repo not yet
    downloaded, named by ``repo_id``); ``format`` is ``diffusers``, ``single_file``, ``transformers``
    or ``hub``; ``config`` is the config folder of a single-file checkpoint; ``pipeline`` the
    family the node packs load it as (``StableDiffusionPipeline``...)."""

    type_id: ClassVar[str] = "model"
    kind: str
    name: str
    path: str
    format: str
    sha256: str
    pipeline: str = ""
    repo_id: str = ""
    config: str = ""
    config_sha256: str = ""
    device: str = "cpu"
    dtype: str = "float32"
    loras: tuple[LoraRef, ...] = ()
    ip_adapter: AdapterRef | None = None
    size: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "loras", _tuple(self.loras))
        if not self.sha256:
            raise ValueError_("a model handle needs the weights' digest")

    def digest(self) -> bytes:
        """Identity = weights, config, family, device, dtype, LoRAs and adapter (not paths or names)."""
        d = self.__dict__.get("_digest")
        if d is None:
            a = self.ip_adapter
            tree = ["model", self.kind, self.format, self.sha256, self.config_sha256, self.pipeline,
                    self.device, self.dtype, [[lo.sha256, float(lo.scale)] for lo in self.loras],
                    [a.sha256, a.encoder_sha256, a.plus] if a is not None else None]
            h = hashing.hasher(self.type_id)
            h.update(hashing.canonical_bytes(tree))
            d = h.digest()
            object.__setattr__(self, "_digest", d)
        return d

    @property
    def base_key(self) -> tuple[str, str, str, str]:
        """What the loaded base weights are cached by: (weights digest + config, device, dtype)."""
        return (self.sha256 + (":" + self.config_sha256 if self.config_sha256 else ""), self.pipeline,
                self.device, self.dtype)

    @property
    def load_source(self) -> str:
        return self.path or self.repo_id

    def summary(self) -> str:
        extras = [f"LoRA {lo.name} x{lo.scale:g}" for lo in self.loras]
        if self.ip_adapter is not None:
            extras.append(f"IP-Adapter{' Plus' if self.ip_adapter.plus else ''} {self.ip_adapter.name}")
        more = f" + {', '.join(extras)}" if extras else ""
        return f"{self.name} ({self.pipeline or self.format}, {self.device}, {self.dtype}){more}"


@dataclass(frozen=True, eq=False)
class Images(Record):
    """Several images made together (a batch, a grid's cells), each with a label."""

    type_id: ClassVar[str] = "images"
    images: tuple[Image, ...]
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", _tuple(self.images))
        labels = _tuple(self.labels) or tuple("" for _ in self.images)
        if len(labels) != len(self.images):
            raise ValueError_(f"{len(self.images)} images but {len(labels)} labels")
        object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return len(self.images)

    def summary(self) -> str:
        if not self.images:
            return "Images(empty)"
        first = self.images[0]
        return f"Images({len(self.images)} x {first.width}x{first.height})"


LoraRefT = register_record(LoraRef, "LoRA", (190, 150, 230))
AdapterRefT = register_record(AdapterRef, "IP-Adapter", (190, 150, 230))
ModelT = register_record(Model, "Model", (160, 110, 230))


class ImagesType(RecordType):
    """An Image plugs into an Images input as a batch of one; the preview is a strip of thumbnails."""

    def convert(self, value: Any, source: ValueType) -> Any:
        return Images((value,)) if isinstance(value, Image) else value

    def preview(self, value: Images) -> Preview:
        thumbs = [thumbnail(im.rgb(), 128) for im in value.images[:8]]
        if not thumbs:
            return Preview("record", value.summary())
        h = max(t.shape[0] for t in thumbs)
        strip = np.zeros((h, sum(t.shape[1] for t in thumbs) + 4 * (len(thumbs) - 1), 3), np.uint8)
        x = 0
        for t in thumbs:
            strip[:t.shape[0], x:x + t.shape[1]] = t[..., :3]
            x += t.shape[1] + 4
        return Preview("image", value.summary(), image=thumbnail(strip))


RECORD_CLASSES[Images.type_id] = Images
ImagesT = register_type(ImagesType(Images, "Images", (90, 180, 170), accepts=("image",)))
