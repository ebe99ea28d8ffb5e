"""Errors of the model manager. Each message names the model, where it was looked for, and what to do."""
from __future__ import annotations

from ..errors import NodegraphError


class ModelError(NodegraphError):
    """Base of every model-manager error."""


class ModelNotFound(ModelError):
    """A reference that names no local file, folder, registered name, root entry or cached hub repo."""


class ModelOffline(ModelNotFound):
    """A Hugging Face repo id that is not in the local cache while the hub cannot be used."""


class UnsafeModelFile(ModelError):
    """A pickled checkpoint (.ckpt, or .pt/.pth/.bin where weights-only loading is not used): refused."""


class UnsupportedModel(ModelError):
    """A file or folder that is not a model nodegraph can load (unknown layout, unsupported architecture)."""


class SingleFileConfigMissing(ModelError):
    """A single-file checkpoint whose base-architecture config folder is not available locally."""


class DigestMismatch(ModelError):
    """A model whose sha256 is not the one recorded."""

    def __init__(self, what: str, expected: str, actual: str):
        self.what, self.expected, self.actual = what, expected, actual
        super().__init__(f"{what}: sha256 mismatch: expected {expected}, got {actual} (the file changed or is corrupt)")
