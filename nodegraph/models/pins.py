"""Model pins: the sha256 a bundle's manifest records for each model reference of its graph, so a
model this machine keeps under another name or folder is still found, by its bytes.

An unpacked bundle leaves its ``manifest.json`` beside the graph. Its ``models`` list holds, per
model param, ``{"kind", "ref", "sha256", "size", ...}``. When a run resolves a reference the usual
way (path, registered name, model roots, Hugging Face cache) and finds nothing, it asks the pins:
a reference pinned to a sha256 is looked for by that sha256 (``byhash.find_by_sha256``). A model
found under its own name is used as it is (``nodegraph models verify GRAPH`` says whether its bytes
differ from the manifest's).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from .byhash import find_by_sha256
from .lookup import ResolvedModel

#: the file names an unpacked bundle's manifest may have beside its graph
MANIFEST_NAMES = ("manifest.json",)
MAX_MANIFEST = 16 * 1024 * 1024


class ModelPins:
    """(kind, reference) -> (sha256, size) read from a bundle manifest; finds pinned models by hash
    (each search once per process: the result, found or not, is remembered). ``records`` keeps
    the manifest's model records by (node, param), what ``nodegraph models verify GRAPH`` expects."""

    def __init__(self, pins: dict[tuple[str, str], tuple[str, int | None]] | None = None, source: str = "",
                 records: dict[tuple[str, str], dict] | None = None):
        self.pins = dict(pins or {})
        self.source = source
        self.records = dict(records or {})
        self._found: dict[tuple[str, str], ResolvedModel | None] = {}
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self.pins)

    def __len__(self) -> int:
        return len(self.pins)

    def sha256(self, ref: str, kind: str) -> str | None:
        pin = self.pins.get((kind, ref))
        return pin[0] if pin else None

    def find(self, ref: str, kind: str) -> ResolvedModel | None:
        """The local model with the sha256 pinned for ``ref`` (named ``ref``), or None."""
        pin = self.pins.get((kind, ref))
        if pin is None:
            return None
        with self._lock:
            if (kind, ref) not in self._found:
                try:
                    got = find_by_sha256(pin[0], kind, size=pin[1])
                except ValueError:
                    got = None
                if got is not None:
                    from dataclasses import replace

                    got = replace(got, name=ref, found_by="sha256", registered_sha256=pin[0])
                self._found[(kind, ref)] = got
            return self._found[(kind, ref)]

    @classmethod
    def from_data(cls, data: Any, source: str = "") -> "ModelPins":
        pins: dict[tuple[str, str], tuple[str, int | None]] = {}
        records: dict[tuple[str, str], dict] = {}
        models = data.get("models") if isinstance(data, dict) else None
        for m in models if isinstance(models, list) else []:
            if not isinstance(m, dict):
                continue
            if isinstance(m.get("node"), str) and isinstance(m.get("param"), str):
                records[(m["node"], m["param"])] = m
            kind, ref, sha, size = m.get("kind"), m.get("ref"), m.get("sha256"), m.get("size")
            if isinstance(kind, str) and isinstance(ref, str) and isinstance(sha, str) and len(sha) == 64:
                pins[(kind, ref)] = (sha.lower(), size if isinstance(size, int) and size >= 0 else None)
        return cls(pins, source, records)

    @classmethod
    def read(cls, path: str | os.PathLike) -> "ModelPins":
        """The pins of the manifest file ``path``, read as untrusted JSON (the graph file's rules);
        ``ValueError`` naming the file when it cannot be read or holds no ``models`` list."""
        from ..errors import GraphFileError
        from ..fileformat import parse_json
        from ..fsio import read_regular

        try:
            data = parse_json(read_regular(path, MAX_MANIFEST), str(path), MAX_MANIFEST, "a manifest")
        except (OSError, ValueError, GraphFileError) as e:  # fsio.ReadRefused is a ValueError
            raise ValueError(f"cannot read the manifest {e}") from None  # the error names the file
        if not isinstance(data, dict) or not isinstance(data.get("models"), list):
            raise ValueError(f'{path}: not a bundle manifest (no "models" list)')
        return cls.from_data(data, str(path))

    @classmethod
    def beside(cls, graph: str | os.PathLike | None) -> "ModelPins":
        """The pins of the bundle manifest beside ``graph`` (none when there is none, or it is
        unreadable: pins only ever help find a model, so a bad manifest costs nothing but that)."""
        if graph is None:
            return cls()
        folder = Path(graph).resolve().parent
        for name in MANIFEST_NAMES:
            p = folder / name
            if p.is_file():
                try:
                    return cls.read(p)
                except ValueError:
                    continue
        return cls()


__all__ = ["ModelPins", "MANIFEST_NAMES"]
